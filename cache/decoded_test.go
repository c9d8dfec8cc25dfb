package cache

import (
	"context"
	"testing"

	"github.com/herotasks/api/domain"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDecodedValueReused: the same bytes read again give the value decoded
// the first time, without decoding, and the bytes a reader stored give the
// value it loaded; bytes changed by an invalidation and a fill give the new
// value.
func TestDecodedValueReused(t *testing.T) {
	c, _ := testCache(t)
	ctx := context.Background()
	title := "first"
	loads := 0
	load := func(context.Context, []string) (map[string]*domain.Task, error) {
		loads++
		return map[string]*domain.Task{"x": {ID: "x", Title: title}}, nil
	}
	read := func() *domain.Task {
		t.Helper()
		m, err := fetch(ctx, c, KindTask, []string{"x"}, load)
		require.NoError(t, err)
		return m["x"]
	}
	loaded := read() // miss: loads and fills
	first := read()
	second := read()
	assert.Equal(t, 1, loads, "both later reads hit Redis")
	assert.Equal(t, "first", first.Title)
	assert.Same(t, loaded, first, "the bytes it stored: the value it loaded")
	assert.Same(t, first, second, "the same bytes: the value decoded before")

	title = "second"
	c.Invalidate(ctx, Item{Kind: KindTask, ID: "x"})
	read() // miss: loads the new row and fills
	third := read()
	assert.Equal(t, 2, loads)
	assert.Equal(t, "second", third.Title, "new bytes are read")
	assert.NotSame(t, first, third)
}

// TestSharedValueModifiedIsCaught: with the check on (as every server a test
// starts has it), a reader that modified a value the cache handed out is
// caught at the next read of the same bytes, instead of every later reader
// getting the changed value.
func TestSharedValueModifiedIsCaught(t *testing.T) {
	c, _ := testCache(t)
	ctx := context.Background()
	CheckSharedValues()
	load := func(context.Context, []string) (map[string]*domain.Task, error) {
		return map[string]*domain.Task{"x": {ID: "x", Title: "stored"}}, nil
	}
	read := func() *domain.Task {
		m, err := fetch(ctx, c, KindTask, []string{"x"}, load)
		require.NoError(t, err)
		return m["x"]
	}
	read()
	assert.NotPanics(t, func() { read() }, "an unmodified value is handed out again")
	read().Title = "changed by a caller"
	var caught any
	func() {
		defer func() { caught = recover() }()
		read()
	}()
	require.IsType(t, "", caught, "the next read of the same bytes panics")
	assert.Contains(t, caught, "the shared value of "+c.keys.For(KindTask, "x")+" was modified by a caller")
}
