package verify_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/herotasks/api/app"
	"github.com/herotasks/api/internal/testdb"
	"github.com/herotasks/api/internal/testpg"
	"github.com/herotasks/api/internal/testredis"
	"github.com/herotasks/api/migrations"
	"github.com/herotasks/api/seed"
	"github.com/herotasks/api/verify"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type env struct {
	pool *pgxpool.Pool
	rdb  *redis.Client
	srv  *testredis.Server
	opts verify.Options
}

func setup(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	pool, err := app.OpenPool(ctx, testdb.New(t), false, nil)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	srv := testredis.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { rdb.Close() })
	require.NoError(t, rdb.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err())
	return &env{pool: pool, rdb: rdb, srv: srv, opts: verify.Options{Pool: pool, Redis: rdb, MonthsAhead: 3,
		Store: app.Reader, PendingSeedDDL: seed.Pending}}
}

func byName(checks []verify.Check) map[string]verify.Check {
	m := map[string]verify.Check{}
	for _, c := range checks {
		m[c.Name] = c
	}
	return m
}

func TestVerifyHealthy(t *testing.T) {
	t.Parallel()
	e := setup(t)
	checks := verify.Run(context.Background(), e.opts)
	for _, c := range checks {
		assert.True(t, c.OK, "%s: %s", c.Name, c.Detail)
	}
	assert.False(t, verify.Failed(checks))
	var out strings.Builder
	require.NoError(t, verify.Print(&out, checks, false))
	assert.Contains(t, out.String(), "query plans")
}

// TestVerifyCatchesBreakage breaks each claim on purpose and watches verify
// report exactly that check as failed.
func TestVerifyCatchesBreakage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name   string
		fail   []string
		breakI func(t *testing.T, e *env)
	}{
		{"dropped index", []string{"indexes", "query plans"}, func(t *testing.T, e *env) {
			_, err := e.pool.Exec(ctx, "DROP INDEX tasks_status_created_idx")
			require.NoError(t, err)
		}},
		{"invalid index", []string{"indexes", "query plans"}, func(t *testing.T, e *env) {
			_, err := e.pool.Exec(ctx, "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'tasks_search_idx'::regclass")
			require.NoError(t, err)
		}},
		{"unfinished bulk seed", []string{"indexes"}, func(t *testing.T, e *env) {
			// What a bulk seed killed before its rebuild leaves: a dropped
			// foreign key (which no query plan shows) and its record.
			_, err := e.pool.Exec(ctx, `INSERT INTO seed_deferred_ddl (kind, table_name, name, definition)
				SELECT 'fkey', 'subtasks', conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'subtasks_task_id_fkey';
				ALTER TABLE subtasks DROP CONSTRAINT subtasks_task_id_fkey`)
			require.NoError(t, err)
		}},
		{"pending migration", []string{"migrations", "pg_stat_statements", "indexes", "query plans"}, func(t *testing.T, e *env) {
			p, db, err := migrations.Provider(e.pool)
			require.NoError(t, err)
			defer db.Close()
			_, err = p.DownTo(ctx, 2) // 00003 and later: pg_stat_statements and the search vocabulary go too
			require.NoError(t, err)
		}},
		{"missing partition", []string{"partitions"}, func(t *testing.T, e *env) {
			next := time.Now().UTC().AddDate(0, 2, 0)
			name := fmt.Sprintf("task_events_%s", time.Date(next.Year(), next.Month(), 1, 0, 0, 0, 0, time.UTC).Format("2006_01"))
			_, err := e.pool.Exec(ctx, "DROP TABLE "+name)
			require.NoError(t, err)
		}},
		{"no timeouts", []string{"timeouts"}, func(t *testing.T, e *env) {
			pool, err := pgxpool.New(ctx, e.pool.Config().ConnString())
			require.NoError(t, err)
			t.Cleanup(pool.Close)
			e.opts.Pool = pool
		}},
		{"redis down", []string{"redis"}, func(t *testing.T, e *env) { e.srv.Stop(t) }},
		{"redis never evicts", []string{"redis"}, func(t *testing.T, e *env) {
			require.NoError(t, e.rdb.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err())
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			c.breakI(t, e)
			checks := byName(verify.Run(ctx, e.opts))
			for name, ch := range checks {
				want := !slices.Contains(c.fail, name)
				assert.Equal(t, want, ch.OK, "%s after %s: %s", name, c.name, ch.Detail)
			}
		})
	}
}

// TestVerifyReplica checks a real streaming replica, then stops it and
// watches the pool and replica checks fail; a primary given as the
// replica fails too.
func TestVerifyReplica(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	primary := testpg.Start(t)
	url := primary.CreateDatabase(t, "herotasks")
	replica := primary.Replica(t)
	open := func(u string) *pgxpool.Pool {
		p, err := app.OpenPool(ctx, u, true, nil)
		require.NoError(t, err)
		t.Cleanup(p.Close)
		return p
	}
	pools := map[string]*pgxpool.Pool{"write": open(url), "replica": open(replica.URL("herotasks"))}
	run := func() map[string]verify.Check {
		return byName(verify.Run(ctx, verify.Options{Pool: pools["write"], Pools: pools, MonthsAhead: 3, Store: app.Reader}))
	}
	checks := run()
	assert.True(t, checks["pools"].OK, checks["pools"].Detail)
	assert.True(t, checks["replica"].OK, checks["replica"].Detail)
	assert.Contains(t, checks["replica"].Detail, "streaming")

	replica.Stop(t)
	checks = run()
	assert.False(t, checks["pools"].OK, "a configured replica that is down fails the pools check")
	assert.Contains(t, checks["pools"].Detail, "replica unreachable")
	assert.False(t, checks["replica"].OK)

	pools["replica"] = open(url) // the primary posing as a replica
	checks = run()
	assert.False(t, checks["replica"].OK)
	assert.Contains(t, checks["replica"].Detail, "not in recovery")
}
