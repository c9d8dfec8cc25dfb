package bench_test

import (
	"bytes"
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/herotasks/api/bench"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/herotasks/api/internal/testdb"
	"github.com/herotasks/api/internal/testredis"
	"github.com/herotasks/api/seed"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBenchRunner runs the machinery of `make bench` (package bench: the
// closed-loop clients, the answer checks, the probes and the coherence
// check of the read/write mix) for under a second per scenario against
// real servers, so it cannot rot between benchmark runs. It measures
// nothing: the numbers come from `make bench`.
func TestBenchRunner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := testdb.New(t)
	rs := testredis.Start(t)
	// As herobench runs its servers: without the cost budget, which four
	// clients would spend (and whose buckets outlive a run in the shared
	// Redis, so a second run within a minute was refused).
	off := apitest.Serve(t, dbURL, &apitest.Counter{}, "ENTITY_CACHE", "off", "COST_BUDGET_CAPACITY", "0")
	both := apitest.Serve(t, dbURL, &apitest.Counter{}, "REDIS_URL", rs.URL(), "ENTITY_CACHE", "on", "RESPONSE_CACHE", "on",
		"CACHE_PREFIX", "ht:benchtest", "COST_BUDGET_CAPACITY", "0")
	_, err := seed.Run(ctx, off.Pool(), seed.Options{Tasks: 250, Seed: 1, Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	_, token := off.User(t, domain.RoleAdmin)

	pg, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(func() { pg.Close(context.Background()) })
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	t.Cleanup(func() { rdb.Close() })
	rows, _ := pg.Query(ctx, "SELECT id::text FROM tasks WHERE visibility = 'PUBLIC' ORDER BY id LIMIT 20")
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Len(t, ids, 20)

	opts := bench.Options{Clients: 4, Warmup: 200 * time.Millisecond, Duration: 700 * time.Millisecond, CheckEvery: 2,
		Probes: &bench.Probes{ServerPID: os.Getpid(), PG: pg, Redis: rdb}}
	measure := func(t *testing.T, url string, s bench.Scenario) bench.Result {
		t.Helper()
		c := bench.NewClient(url+"/graphql", token, opts.Clients)
		t.Cleanup(c.HTTP.CloseIdleConnections)
		o := opts
		probes := *opts.Probes
		probes.MetricsURL = url + "/metrics"
		o.Probes = &probes
		res, err := bench.Run(ctx, c, s, o)
		require.NoError(t, err)
		assert.Positive(t, res.Requests, "%s: requests", s.Name)
		assert.Zero(t, res.Errors, "%s: failed requests: %s", s.Name, res.FirstError)
		assert.Positive(t, res.RPS)
		assert.LessOrEqual(t, res.P50, res.P99)
		for name, v := range map[string]*float64{"SQL": res.SQLPerReq, "PG CPU": res.PGCPUPerReq, "server CPU": res.ServerCPUPerReq,
			"Redis": res.RedisPerReq, "RSS": res.ServerRSSMB} {
			assert.NotNil(t, v, "%s: %s per request not measured", s.Name, name)
		}
		return res
	}

	t.Run("nested", func(t *testing.T) {
		res := measure(t, off.URL, bench.Nested("nested"))
		assert.Contains(t, res.Shape, "50 tasks")
		if res.SQLPerReq != nil {
			assert.GreaterOrEqual(t, *res.SQLPerReq, 1.0, "pg_stat_statements counted the statements")
		}
	})
	t.Run("detail", func(t *testing.T) {
		res := measure(t, off.URL, bench.Detail("detail", bench.DetailQuery, bench.DetailShape, ids))
		assert.Contains(t, res.Shape, "subtasks")
	})
	t.Run("deep pages", func(t *testing.T) {
		s, err := bench.DeepPages(ctx, bench.NewClient(off.URL+"/graphql", token, 1), "deep", 200)
		require.NoError(t, err)
		assert.Equal(t, "20 nodes", measure(t, off.URL, s).Shape)
	})
	t.Run("mix-frontend", func(t *testing.T) {
		d, err := bench.LoadFrontend(ctx, pg, bench.FrontendOptions{MinUsers: 3, Hot: 30}, func(id, role string) (string, error) {
			return off.Auth.Sign(id, domain.Role(role), time.Hour)
		})
		require.NoError(t, err)
		// Writes weighed up to about half the requests: under -race on a
		// busy machine the run may hold only a few dozen.
		cats := slices.Clone(bench.FrontendCategories)
		for i := range cats {
			if cats[i].Write {
				cats[i].Weight *= 6
			}
		}
		res := measure(t, both.URL, bench.NewFrontend(d, cats...).Scenario("mix-frontend"))
		require.NotNil(t, res.Mix)
		assert.Positive(t, res.Mix.Reads)
		assert.Positive(t, res.Mix.Writes)
		assert.Empty(t, res.Mix.Failed())
		assert.Len(t, res.Mix.Categories, len(bench.FrontendCategories))
		c := res.Caches()
		require.NotNil(t, c.NoSQLReads, "the server counted its queries: %v", res.ServerMetrics)
		assert.InDelta(t, 0.5, *c.NoSQLReads, 0.5, "a share")
		require.NotNil(t, c.ResponseHits)
		require.NotNil(t, c.EntityHits)
		var buf bytes.Buffer
		require.NoError(t, bench.FrontendTable(&buf, []bench.Result{res}))
		assert.Contains(t, buf.String(), "tag-remove")
		// The tasks it created carry the marker herobench deletes them by.
		var created int
		require.NoError(t, pg.QueryRow(ctx, "SELECT count(*) FROM tasks WHERE description = $1", bench.FrontendMarker).Scan(&created))
		t.Logf("%d users, %d reads, %d writes, %d created\n%s", res.Mix.Users, res.Mix.Reads, res.Mix.Writes, created, buf.String())
	})
	t.Run("mix", func(t *testing.T) {
		res := measure(t, both.URL, bench.HeroTasksMix(ids).Scenario("mix"))
		require.NotNil(t, res.Mix)
		assert.Positive(t, res.Mix.Reads)
		assert.Positive(t, res.Mix.Writes)
		assert.Zero(t, res.Mix.StaleReads, res.Mix.FirstStale)
		if res.RedisPerReq != nil {
			assert.Positive(t, *res.RedisPerReq, "INFO commandstats counted the caches' commands")
		}
	})
}
