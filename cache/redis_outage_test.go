package cache_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/herotasks/api/cache"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/herotasks/api/internal/testredis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func cacheErrors(t *testing.T, api *apitest.API) int64 {
	t.Helper()
	var n int64
	for _, k := range api.Cache.Stats().Snapshot() {
		n += k.Errors
	}
	return n
}

// TestRedisDownFailsOpen: with Redis stopped mid-test every request still
// succeeds from PostgreSQL, the breaker opens so later requests stop trying,
// and after a restart the cache is used again.
func TestRedisDownFailsOpen(t *testing.T) {
	t.Parallel()
	srv := testredis.Start(t)
	api := apitest.New(t, "REDIS_URL", srv.URL(), "CACHE_TIMEOUT", "200ms")
	_, editor := api.User(t, domain.RoleEditor)
	ids := api.SeedSmall(t, editor, 5)
	want := api.OK(t, "", apitest.NestedQuery, nil)
	api.OK(t, "", apitest.NestedQuery, nil) // warm

	srv.Stop(t)
	for range 10 {
		assert.Equal(t, want, api.OK(t, "", apitest.NestedQuery, nil), "served from PostgreSQL while Redis is down")
	}
	assert.Positive(t, cacheErrors(t, api), "the failures were counted")
	assert.Equal(t, "open", api.Cache.Breaker(), "the breaker stops calling a dead Redis")
	api.OK(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {title: "Written while Redis was down"}) { id } }`, map[string]any{"id": ids[0]})

	srv.Restart(t)
	require.Eventually(t, func() bool {
		d := api.OK(t, "", `query($id: ID!) { task(id: $id) { title } }`, map[string]any{"id": ids[0]})
		return apitest.Str(d, "task", "title") == "Written while Redis was down" && api.Cache.Breaker() == "closed"
	}, 10*time.Second, 50*time.Millisecond, "back on the cache after Redis returns")
	before := api.SQL.Load()
	api.OK(t, "", apitest.NestedQuery, nil)
	api.OK(t, "", apitest.NestedQuery, nil)
	api.OK(t, "", apitest.NestedQuery, nil)
	assert.Less(t, api.SQL.Load()-before, int64(3*8), "the cache serves again")
}

// TestServerStartsWithRedisDown: Redis unreachable from the start is no
// reason to fail.
func TestServerStartsWithRedisDown(t *testing.T) {
	t.Parallel()
	srv := testredis.Start(t)
	srv.Stop(t)
	api := apitest.New(t, "REDIS_URL", srv.URL())
	_, editor := api.User(t, domain.RoleEditor)
	id, _ := api.NewTask(t, editor, map[string]any{"title": "No Redis"})
	d := api.OK(t, "", `query($id: ID!) { task(id: $id) { title } }`, map[string]any{"id": id})
	assert.Equal(t, "No Redis", apitest.Str(d, "task", "title"))
}

// TestFailedInvalidationRetiresCache: Redis stalls (keeping its data) while a
// mutation commits, so the mutation's delete cannot reach it. The stale
// entry is still in Redis when it recovers, yet neither this instance nor a
// second one that never saw the stall may serve it: the epoch bump retires
// it.
func TestFailedInvalidationRetiresCache(t *testing.T) {
	t.Parallel()
	srv := testredis.Start(t)
	api := apitest.New(t, "REDIS_URL", srv.URL(), "CACHE_TIMEOUT", "50ms")
	other := apitest.Serve(t, api.DBURL, nil, "REDIS_URL", srv.URL(), "CACHE_TIMEOUT", "50ms")
	_, editor := api.User(t, domain.RoleEditor)
	id, _ := api.NewTask(t, editor, map[string]any{"title": "Old title"})
	q := `query($id: ID!) { task(id: $id) { title } }`
	for _, s := range []*apitest.API{api, other, api} {
		assert.Equal(t, "Old title", apitest.Str(s.OK(t, "", q, map[string]any{"id": id}), "task", "title"))
	}

	key := api.Cache.Keys().For(cache.KindTask, id)
	var stale string
	require.Eventually(t, func() bool { // a busy machine may time a fill out; read until it is cached
		api.OK(t, "", q, map[string]any{"id": id})
		var err error
		stale, err = api.Redis.Get(context.Background(), key).Result()
		return err == nil && stale[0] == 'V'
	}, 10*time.Second, 10*time.Millisecond, "the entry is cached")

	srv.Pause(t, 700*time.Millisecond)
	api.OK(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {title: "New title"}) { id } }`, map[string]any{"id": id})
	time.Sleep(800 * time.Millisecond)
	// A stalled server may still execute the delete once it wakes; a lost
	// one would not. Put the old entry back to stand for the delete that
	// never arrived.
	require.NoError(t, api.Redis.Set(context.Background(), key, stale, time.Minute).Err())

	require.Eventually(t, func() bool {
		return api.Cache.Stats().EpochBumps() > 0
	}, 5*time.Second, 20*time.Millisecond, "the instance that missed an invalidation bumps the epoch")
	for _, s := range []*apitest.API{other, api, other} {
		assert.Equal(t, "New title", apitest.Str(s.OK(t, "", q, map[string]any{"id": id}), "task", "title"), "no instance serves the entry the failed delete left")
	}
}

// TestRedisCluster runs the cache on a real three-node Redis Cluster: cold
// and warm reads match an uncached server, mutations invalidate, and no
// command fails (a multi-key command across slots would, with CROSSSLOT).
func TestRedisCluster(t *testing.T) {
	t.Parallel()
	cl := testredis.StartCluster(t)
	api := apitest.New(t, "REDIS_URL", "", "REDIS_ADDRS", strings.Join(cl.Addrs(), ","))
	oracle := apitest.Serve(t, api.DBURL, nil, "ENTITY_CACHE", "off")
	_, editor := api.User(t, domain.RoleEditor)
	ids := api.SeedSmall(t, editor, 8)
	for i := range 3 {
		assert.Equal(t, oracle.OK(t, "", apitest.NestedQuery, nil), api.OK(t, "", apitest.NestedQuery, nil), "read %d", i)
	}
	before := api.SQL.Load()
	api.OK(t, "", apitest.NestedQuery, nil)
	assert.Equal(t, int64(1), api.SQL.Load()-before, "warm on the cluster: only the root page")

	for i, id := range ids[:3] {
		api.OK(t, editor, fmt.Sprintf(`mutation { updateTask(id: %q, input: {title: "Cluster %d"}) { id } addTaskTags(taskId: %q, tags: ["c%d"]) { id } }`, id, i, id, i), nil)
	}
	api.OK(t, editor, fmt.Sprintf(`mutation { deleteTask(id: %q) }`, ids[4]), nil)
	for i := range 2 {
		assert.Equal(t, oracle.OK(t, "", apitest.NestedQuery, nil), api.OK(t, "", apitest.NestedQuery, nil), "after mutations, read %d", i)
	}
	assert.Zero(t, cacheErrors(t, api), "no Redis command failed on the cluster")
	var hits int64
	for _, k := range api.Cache.Stats().Snapshot() {
		hits += k.Hits
	}
	assert.Positive(t, hits)
}
