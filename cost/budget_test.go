package cost_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/herotasks/api/cost"
	"github.com/herotasks/api/internal/testredis"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func redisClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond,
		WriteTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newBudget(rdb redis.UniversalClient, capacity, rate int64) *cost.Budget {
	return cost.NewBudget(rdb, cost.BudgetOptions{Capacity: capacity, RestoreRate: rate, Prefix: "test:budget", Timeout: 200 * time.Millisecond})
}

func TestBudgetTakeRefuseSettle(t *testing.T) {
	t.Parallel()
	srv := testredis.Start(t)
	rdb := redisClient(t, srv.Addr())
	b := newBudget(rdb, 100, 10)
	ctx := context.Background()

	got := b.Take(ctx, "user:a", 60)
	require.True(t, got.Allowed, "60 of a full 100")
	assert.False(t, got.Local)
	assert.Equal(t, int64(100), got.MaximumAvailable)
	assert.Equal(t, int64(10), got.RestoreRate)
	assert.InDelta(t, 40, got.CurrentlyAvailable, 1)

	refused := b.Take(ctx, "user:a", 60)
	assert.False(t, refused.Allowed, "60 of 40")
	// 20 points short at 10 a second: two seconds, less what refilled meanwhile
	assert.InDelta(t, 2*time.Second, refused.RetryAfter, float64(200*time.Millisecond))
	assert.InDelta(t, 40, refused.CurrentlyAvailable, 2, "a refusal takes nothing")

	assert.True(t, b.Take(ctx, "user:b", 100).Allowed, "another subject has its own bucket")

	settled, err := b.Settle(ctx, "user:a", 60, 10, got)
	require.NoError(t, err)
	assert.InDelta(t, 90, settled.CurrentlyAvailable, 2, "50 refunded")
	settled, err = b.Settle(ctx, "user:a", 0, 95, got)
	require.NoError(t, err)
	assert.Negative(t, settled.CurrentlyAvailable, "costing more than requested is charged, even below zero")

	ttl, err := rdb.PTTL(ctx, "test:budget:user:a").Result()
	require.NoError(t, err)
	assert.Greater(t, ttl, 10*time.Second, "the key outlives a full refill (10 s)")
	assert.LessOrEqual(t, ttl, 11*time.Second)

	look := b.Take(ctx, "user:c", 0)
	assert.True(t, look.Allowed)
	assert.Equal(t, int64(100), look.CurrentlyAvailable, "0 only looks")
}

func TestBudgetRefillsOnRedisClock(t *testing.T) {
	t.Parallel()
	srv := testredis.Start(t)
	b := newBudget(redisClient(t, srv.Addr()), 1000, 1000)
	ctx := context.Background()
	require.True(t, b.Take(ctx, "x", 1000).Allowed)
	time.Sleep(300 * time.Millisecond)
	got := b.Take(ctx, "x", 0)
	assert.InDelta(t, 300, got.CurrentlyAvailable, 150, "1000 a second for 0.3 s")
}

// TestBudgetSharedAcrossInstances: two instances (two clients, one Redis,
// one prefix) draw on one bucket, also when they take concurrently.
func TestBudgetSharedAcrossInstances(t *testing.T) {
	t.Parallel()
	srv := testredis.Start(t)
	one := newBudget(redisClient(t, srv.Addr()), 1000, 1)
	two := newBudget(redisClient(t, srv.Addr()), 1000, 1)
	ctx := context.Background()
	require.True(t, one.Take(ctx, "user:u", 700).Allowed)
	got := two.Take(ctx, "user:u", 400)
	assert.False(t, got.Allowed, "the other instance sees the 700 spent")
	assert.InDelta(t, 300, got.CurrentlyAvailable, 2)

	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := one
			if i%2 == 1 {
				b = two
			}
			if b.Take(ctx, "user:v", 100).Allowed {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 10, allowed, "1000 points pay for exactly ten 100-point requests, whichever instance takes them")
}

// TestBudgetFallsBackToLocal: with Redis gone, each instance keeps its own
// bucket (the budget still holds, per instance); settlements of takes that
// Redis answered are lost, not moved; once Redis is back it is used again.
func TestBudgetFallsBackToLocal(t *testing.T) {
	t.Parallel()
	srv := testredis.Start(t)
	b := newBudget(redisClient(t, srv.Addr()), 100, 1)
	ctx := context.Background()
	fromRedis := b.Take(ctx, "user:a", 50)
	require.True(t, fromRedis.Allowed)
	require.False(t, fromRedis.Local)

	srv.Stop(t)
	got := b.Take(ctx, "user:a", 60)
	assert.True(t, got.Allowed && got.Local, "a fresh local bucket: %+v", got)
	assert.Equal(t, int64(40), got.CurrentlyAvailable)
	got = b.Take(ctx, "user:a", 60)
	assert.False(t, got.Allowed, "the local bucket enforces the budget too")
	assert.True(t, got.Local)
	assert.Positive(t, got.RetryAfter)
	_, err := b.Settle(ctx, "user:a", 50, 0, fromRedis)
	assert.Error(t, err, "a refund owed by Redis is not paid from the local bucket")
	local := b.Take(ctx, "user:a", 0)
	assert.Equal(t, int64(40), local.CurrentlyAvailable)

	srv.Restart(t)
	require.Eventually(t, func() bool {
		got := b.Take(ctx, "user:a", 1)
		return got.Allowed && !got.Local
	}, 10*time.Second, 50*time.Millisecond, "back on Redis once it answers")
}

// TestBudgetOnRedisCluster: every call touches one key, so a cluster serves
// any subject (no CROSSSLOT).
func TestBudgetOnRedisCluster(t *testing.T) {
	t.Parallel()
	cl := testredis.StartCluster(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs(), MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	b := newBudget(rdb, 100, 1)
	ctx := context.Background()
	for i := range 30 {
		subject := fmt.Sprintf("user:%d", i)
		got := b.Take(ctx, subject, 70)
		require.True(t, got.Allowed && !got.Local, "%s on the cluster: %+v", subject, got)
		assert.False(t, b.Take(ctx, subject, 70).Allowed)
		settled, err := b.Settle(ctx, subject, 70, 20, got)
		require.NoError(t, err)
		assert.InDelta(t, 80, settled.CurrentlyAvailable, 1)
	}
}

func TestNilBudgetAllowsEverything(t *testing.T) {
	t.Parallel()
	var b *cost.Budget
	assert.True(t, b.Take(context.Background(), "x", cost.MaxCost).Allowed)
	_, err := b.Settle(context.Background(), "x", 1, 2, cost.Throttle{})
	assert.NoError(t, err)
}

func TestBudgetWithoutRedis(t *testing.T) {
	t.Parallel()
	b := newBudget(nil, 10, 1)
	got := b.Take(context.Background(), "x", 10)
	assert.True(t, got.Allowed && got.Local)
	assert.False(t, b.Take(context.Background(), "x", 5).Allowed)
	got, err := b.Settle(context.Background(), "x", 10, 4, got)
	require.NoError(t, err)
	assert.Equal(t, int64(6), got.CurrentlyAvailable)
}
