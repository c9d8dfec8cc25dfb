package cache

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// roundTrips counts what a client sends: single commands and pipelines.
type roundTrips struct{ single, pipelines atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.single.Add(1)
		return next(ctx, cmd)
	}
}
func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.pipelines.Add(1)
		return next(ctx, cmds)
	}
}

// TestWriteEffectsOneRoundTrip: a write's row written through, its move in
// the list index and the keys it retires reach Redis in one pipeline, and
// each is applied; after Redis has forgotten the scripts (a restart, SCRIPT
// FLUSH) they are loaded again and still applied, without distrusting the
// cache.
func TestWriteEffectsOneRoundTrip(t *testing.T) {
	c, rdb := testCache(t)
	trips := &roundTrips{}
	c.wrdb.(*redis.Client).AddHook(trips) // the writes' client
	ctx := context.Background()
	require.NoError(t, rdb.Set(ctx, c.keys.For(KindTaskHistory, "t1"), "old", time.Minute).Err())

	at := time.Now()
	write := func(version int) {
		e := c.effects()
		row := &domain.Task{ID: "t1", Version: version, Title: "v", Status: domain.StatusReady,
			Visibility: domain.VisibilityPublic, CreatedAt: at, UpdatedAt: at.Add(time.Duration(version) * time.Second)}
		e.storeTask("t1", row)
		e.listWritten("t1", version, row, nil)
		e.invalidate(Item{KindTaskHistory, "t1"}, Item{KindStatistics, "all"})
		trips.single.Store(0)
		trips.pipelines.Store(0)
		e.apply(ctx, false)
	}
	stored := func() int {
		m, err := fetch(ctx, c, KindTask, []string{"t1"}, func(context.Context, []string) (map[string]*domain.Task, error) {
			t.Fatal("read PostgreSQL: the row written through was not served")
			return nil, nil
		})
		require.NoError(t, err)
		return m["t1"].Version
	}
	record := func() string {
		v, err := rdb.HGet(ctx, c.listBase()+"0:rec", "t1").Result()
		require.NoError(t, err)
		return v
	}

	write(2) // dials the writes' connection and loads the scripts
	assert.Equal(t, 2, stored())
	write(3)
	assert.Equal(t, int64(1), trips.pipelines.Load(), "one pipeline")
	assert.Equal(t, int64(0), trips.single.Load(), "and nothing beside it")
	assert.Equal(t, 3, stored())
	assert.Regexp(t, `^3;`, record())
	assert.Equal(t, int64(0), rdb.Exists(ctx, c.keys.For(KindTaskHistory, "t1")).Val(), "retired")

	require.NoError(t, rdb.ScriptFlush(ctx).Err())
	write(4)
	assert.Equal(t, 4, stored(), "the row script was loaded again and ran")
	assert.Regexp(t, `^4;`, record(), "so was the list script")
	assert.True(t, c.trusted.Load(), "a forgotten script is not a failed write")
}
