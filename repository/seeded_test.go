package repository_test

import (
	"context"
	"testing"

	"github.com/herotasks/api/internal/testdb"
	"github.com/herotasks/api/repository"
	"github.com/herotasks/api/seed"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// seeded opens a pool on a fresh database holding the seed's tasks (seed
// number n) and returns it with a Repo over it.
func seeded(t *testing.T, tasks int, n int64) (*pgxpool.Pool, *repository.Repo) {
	t.Helper()
	ctx := context.Background()
	pool, err := repository.Open(ctx, testdb.New(t), repository.PoolOptions{})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = seed.Run(ctx, pool, seed.Options{Tasks: tasks, Seed: n})
	require.NoError(t, err)
	return pool, repository.New(pool)
}
