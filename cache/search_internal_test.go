package cache

import (
	"context"
	"testing"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSearchAdditionAfterALaterWrite: a creation's addition that reaches
// Redis after a later write of the task stored its row (and would have
// taken the addition out) is not made; one that comes first is.
func TestSearchAdditionAfterALaterWrite(t *testing.T) {
	c, rdb := testCache(t)
	c.opts.SearchTTL = time.Minute
	s := &store{c: c}
	ctx := context.Background()
	task := &domain.Task{ID: "6f1c1f9e-0000-4000-8000-000000000001", Version: 1, CreatedAt: time.Now()}
	text := domain.SearchText{Scores: map[string]float64{"quokka": 1}}
	key := c.searchDeltaKey("pub", "quokka")

	require.NoError(t, rdb.Set(ctx, c.keys.For(KindTask, task.ID)+":version", 2, time.Minute).Err())
	require.NoError(t, s.searchAdditions(ctx, task, text, []string{"pub"}, nil))
	n, err := rdb.Exists(ctx, key).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "version 2 was stored first: the addition of version 1 is not made")

	require.NoError(t, rdb.Del(ctx, c.keys.For(KindTask, task.ID)+":version").Err())
	require.NoError(t, s.searchAdditions(ctx, task, text, []string{"pub"}, nil))
	members, err := rdb.ZRange(ctx, key, 0, -1).Result()
	require.NoError(t, err)
	assert.Equal(t, []string{"0|" + task.ID + "|1"}, members, "made in epoch 0, with its score")
	require.NoError(t, s.searchAdditions(ctx, task, domain.SearchText{}, nil, []string{key}))
	members, err = rdb.ZRange(ctx, key, 0, -1).Result()
	require.NoError(t, err)
	assert.Empty(t, members, "taken out")
}
