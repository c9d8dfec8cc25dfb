package repository_test

import (
	"context"
	"testing"

	"github.com/herotasks/api/internal/testdb"
	"github.com/herotasks/api/repository"
	"github.com/herotasks/api/seed"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// seeded opens a pool on a fresh database holding the seed's tasks (seed
// number n) and returns it with a Repo over it.
func seeded(t *testing.T, tasks int, n int64) (*pgxpool.Pool, *repository.Repo) {
	t.Helper()
	return seededTraced(t, tasks, n, nil)
}

// seededTraced is seeded with tracer watching the pool's statements.
func seededTraced(t *testing.T, tasks int, n int64, tracer pgx.QueryTracer) (*pgxpool.Pool, *repository.Repo) {
	t.Helper()
	pool := fresh(t, tracer)
	_, err := seed.Run(context.Background(), pool, seed.Options{Tasks: tasks, Seed: n})
	require.NoError(t, err)
	return pool, repository.New(pool)
}

// fresh opens a pool on a fresh, empty database, with tracer (when not
// nil) watching its statements.
func fresh(t *testing.T, tracer pgx.QueryTracer) *pgxpool.Pool {
	t.Helper()
	pool, err := repository.Open(context.Background(), testdb.New(t), repository.PoolOptions{Tracer: tracer})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}
