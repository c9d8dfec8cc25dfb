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

func testCache(t *testing.T) (*Cache, *redis.Client) {
	t.Helper()
	url := os.Getenv("REDIS_URL")
	if url == "" {
		t.Skip("needs REDIS_URL (make test sets it)")
	}
	opt, err := redis.ParseURL(url)
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	prefix := "test:" + t.Name() + ":" + time.Now().Format("150405.000000")
	return New(rdb, Options{Prefix: prefix, EntityTTL: time.Minute, RelationTTL: time.Minute, NegativeTTL: time.Minute,
		LeaseTTL: 5 * time.Second, Timeout: 2 * time.Second}), rdb
}

// storeTask writes one row through, as a write's effects do.
func (c *Cache) storeTask(ctx context.Context, id string, t *domain.Task) {
	e := c.effects()
	e.storeTask(id, t)
	e.apply(ctx, false)
}

// listWritten moves one task in the index, as a write's effects do.
func (c *Cache) listWritten(ctx context.Context, id string, version int, now, found *domain.Task) {
	e := c.effects()
	e.listWritten(id, version, now, found)
	e.apply(ctx, false)
}

// TestListWritesAppliedOutOfOrder: writes' scripts can reach Redis in
// another order than their commits. An older state arriving after a newer
// one changes nothing, and a newer state arriving before an older one
// removes the task from what the sets hold (the record), not only from
// what its write found.
func TestListWritesAppliedOutOfOrder(t *testing.T) {
	c, rdb := testCache(t)
	ctx := context.Background()
	base := c.listBase() + "0:"
	boards := []domain.TaskStatus{domain.StatusReady, domain.StatusInProgress, domain.StatusBlocked}
	for _, st := range boards {
		// empty boards, filled as a reader holding the lease would
		key := "pub|st:" + string(st) + "|u"
		require.NoError(t, rdb.Set(ctx, base+"lease:"+key, "L", time.Minute).Err())
		n, err := listFillScript.Run(ctx, rdb, []string{c.keys.Epoch()}, c.listBase(), "0", "pub|st:"+string(st), "u", "L",
			60_000, c.listRecordTTL(), "+inf").Int()
		require.NoError(t, err)
		require.Equal(t, 1, n)
	}
	members := func(st domain.TaskStatus) []string {
		m, err := rdb.ZRange(ctx, base+"pub|st:"+string(st)+"|u", 0, -1).Result()
		require.NoError(t, err)
		return m
	}
	at := time.Now()
	state := func(v int, st domain.TaskStatus) *domain.Task {
		return &domain.Task{ID: "t1", Version: v, Status: st, Visibility: domain.VisibilityPublic, CreatedAt: at,
			UpdatedAt: at.Add(time.Duration(v) * time.Second)}
	}
	v1, v2, v3, v4 := state(1, domain.StatusReady), state(2, domain.StatusInProgress), state(3, domain.StatusBlocked), state(4, domain.StatusInProgress)

	c.listWritten(ctx, "t1", 1, v1, nil)
	assert.Equal(t, []string{"t1", "~"}, members(domain.StatusReady))

	// v3 arrives before v2: the record says READY (v1), the write found v2's IN_PROGRESS.
	c.listWritten(ctx, "t1", 3, v3, v2)
	assert.Equal(t, []string{"~"}, members(domain.StatusReady), "removed from where the sets had it")
	assert.Equal(t, []string{"t1", "~"}, members(domain.StatusBlocked))

	c.listWritten(ctx, "t1", 2, v2, v1) // late: older than what was applied
	assert.Equal(t, []string{"~"}, members(domain.StatusInProgress), "an older state changes nothing")
	assert.Equal(t, []string{"t1", "~"}, members(domain.StatusBlocked))

	c.listWritten(ctx, "t1", 4, v4, v3)
	assert.Equal(t, []string{"t1", "~"}, members(domain.StatusInProgress))
	assert.Equal(t, []string{"~"}, members(domain.StatusBlocked))

	c.listWritten(ctx, "t1", 5, nil, v4) // deleted
	for _, st := range boards {
		assert.Equal(t, []string{"~"}, members(st))
	}
	c.listWritten(ctx, "t1", 4, v4, v3) // a late update after the deletion
	assert.Equal(t, []string{"~"}, members(domain.StatusInProgress), "a deleted task stays out")
}

// TestStoreTaskKeepsNewestRow: rows written through out of commit order
// leave the newest; a deletion is final; a reader's lease taken before a
// write cannot store the row it read.
func TestStoreTaskKeepsNewestRow(t *testing.T) {
	c, _ := testCache(t)
	ctx := context.Background()
	read := func(load func(context.Context, []string) (map[string]*domain.Task, error)) *domain.Task {
		t.Helper()
		m, err := fetch(ctx, c, KindTask, []string{"t1"}, load)
		require.NoError(t, err)
		return m["t1"]
	}
	noSQL := func(context.Context, []string) (map[string]*domain.Task, error) {
		t.Fatal("read PostgreSQL: the row written through was not served")
		return nil, nil
	}
	c.storeTask(ctx, "t1", &domain.Task{ID: "t1", Version: 3, Title: "three"})
	c.storeTask(ctx, "t1", &domain.Task{ID: "t1", Version: 2, Title: "two"}) // late
	assert.Equal(t, "three", read(noSQL).Title)

	// A reader that read version 3 from PostgreSQL while version 4 committed.
	c.Invalidate(ctx, Item{KindTask, "t1"})
	got := read(func(context.Context, []string) (map[string]*domain.Task, error) {
		c.storeTask(ctx, "t1", &domain.Task{ID: "t1", Version: 4, Title: "four"})
		return map[string]*domain.Task{"t1": {ID: "t1", Version: 3, Title: "three"}}, nil
	})
	assert.Equal(t, "three", got.Title, "the reader answers what it read")
	assert.Equal(t, "four", read(noSQL).Title, "but did not store it over the write")

	c.storeTask(ctx, "t1", nil)
	c.storeTask(ctx, "t1", &domain.Task{ID: "t1", Version: 5, Title: "five"}) // late, after the deletion
	assert.Nil(t, read(noSQL), "deleted")
}

// TestWriteOutlastsAStall: Redis stalls for 150 ms (a script keeps it
// busy, as a loaded machine can) while a write invalidates, writes through
// and moves its task; the reads' 50 ms timeout would have failed them and
// retired every entry, the writes' longer one waits the stall out.
func TestWriteOutlastsAStall(t *testing.T) {
	_, rdb := testCache(t)
	ctx := context.Background()
	// The server's client: socket timeouts of CACHE_TIMEOUT's default (app/redis.go).
	o := *rdb.Options()
	o.ReadTimeout, o.WriteTimeout, o.MaxRetries, o.ContextTimeoutEnabled = 50*time.Millisecond, 50*time.Millisecond, -1, true
	tight := redis.NewClient(&o)
	t.Cleanup(func() { tight.Close() })
	c := New(tight, Options{Prefix: "test:" + t.Name(), EntityTTL: time.Minute, RelationTTL: time.Minute,
		NegativeTTL: time.Minute, LeaseTTL: 5 * time.Second, Timeout: 50 * time.Millisecond})
	stalled := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		stall := redis.NewScript(`local t0 = redis.call('TIME')
local function ms(t) return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end
while ms(redis.call('TIME')) - ms(t0) < 150 do end
return 1`)
		close(stalled)
		done <- stall.Run(ctx, redis.NewClient(rdb.Options()), nil).Err()
	}()
	<-stalled
	time.Sleep(10 * time.Millisecond)
	c.Invalidate(ctx, Item{KindTask, "t1"})
	c.storeTask(ctx, "t1", &domain.Task{ID: "t1", Version: 2})
	c.listWritten(ctx, "t1", 2, &domain.Task{ID: "t1", Version: 2, Visibility: domain.VisibilityPublic}, nil)
	require.NoError(t, <-done)
	assert.True(t, c.trusted.Load(), "no write failed, nothing was retired")
}
