package cache

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDecodedValueReused: the same bytes read again give the value decoded
// the first time, without decoding; bytes changed by an invalidation and a
// fill give the new value.
func TestDecodedValueReused(t *testing.T) {
	url := os.Getenv("REDIS_URL")
	if url == "" {
		t.Skip("needs REDIS_URL (make test sets it)")
	}
	opt, err := redis.ParseURL(url)
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx := context.Background()
	c := New(rdb, Options{Prefix: "test:decoded:" + t.Name(), EntityTTL: time.Minute, NegativeTTL: time.Minute, LeaseTTL: 5 * time.Second, Timeout: 2 * time.Second})
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
	c.Invalidate(ctx, Item{Kind: KindTask, ID: "x"}) // a run a minute ago left its value
	read()                                           // miss: loads and fills
	first := read()
	second := read()
	assert.Equal(t, 1, loads, "both later reads hit Redis")
	assert.Equal(t, "first", first.Title)
	assert.Same(t, first, second, "the same bytes: the value decoded before")

	title = "second"
	c.Invalidate(ctx, Item{Kind: KindTask, ID: "x"})
	read() // miss: loads the new row and fills
	third := read()
	assert.Equal(t, 2, loads)
	assert.Equal(t, "second", third.Title, "new bytes are decoded")
	assert.NotSame(t, first, third)
}
