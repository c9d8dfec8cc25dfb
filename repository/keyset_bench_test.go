package repository_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/testdb"
	"github.com/herotasks/api/repository"
	"github.com/herotasks/api/seed"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// BenchmarkKeysetDepth pages through 12,000 seeded tasks (or the tasks of
// HT_BENCH_DATABASE_URL) in every order the
// schema offers, and with a status filter, and times the first page against
// the page 10,000 rows in (reached by 100 cursor steps of 100): keyset
// pagination seeks on the index, so both should cost the same.
func BenchmarkKeysetDepth(b *testing.B) {
	ctx := context.Background()
	pool := openSeeded(b, 12000)
	repo := repository.New(pool)
	admin := domain.Viewer{UserID: "00000000-0000-0000-0000-000000000001", Role: domain.RoleAdmin}
	type ordering struct {
		name   string
		order  domain.TaskOrder
		filter domain.TaskFilter
		rows   int // rows that match, at least
	}
	var cases []ordering
	for _, f := range []domain.TaskOrderField{domain.OrderCreatedAt, domain.OrderUpdatedAt, domain.OrderDueDate, domain.OrderPriority} {
		for _, d := range []domain.OrderDirection{domain.Desc, domain.Asc} {
			cases = append(cases, ordering{name: fmt.Sprintf("%s_%s", f, d), order: domain.TaskOrder{Field: f, Direction: d}, rows: 10100})
		}
	}
	closed := domain.TaskFilter{Status: []domain.TaskStatus{domain.StatusCompleted, domain.StatusCancelled}}
	n, err := repo.CountTasks(ctx, admin, closed, "")
	require.NoError(b, err)
	cases = append(cases, ordering{name: "status=COMPLETED,CANCELLED_CREATED_AT_DESC", order: domain.DefaultTaskOrder,
		filter: closed, rows: n})
	for _, c := range cases {
		depth := min(10000, c.rows-100)
		// The cursor depth rows in, by cursor steps.
		after := ""
		for walked := 0; walked < depth; walked += 100 {
			page, err := repo.ListTasks(ctx, domain.TaskQuery{Viewer: admin, Filter: c.filter, Order: c.order, First: 100, After: after}, "")
			require.NoError(b, err)
			require.Len(b, page.Edges, 100, "%s: seeded rows run out at %d", c.name, walked)
			after = page.Edges[len(page.Edges)-1].Cursor()
		}
		for _, p := range []struct{ name, after string }{{"first", ""}, {fmt.Sprintf("after%d", depth), after}} {
			b.Run(c.name+"/"+p.name, func(b *testing.B) {
				q := domain.TaskQuery{Viewer: admin, Filter: c.filter, Order: c.order, First: 20, After: p.after}
				for b.Loop() {
					page, err := repo.ListTasks(ctx, q, "")
					if err != nil || len(page.Edges) != 20 {
						b.Fatalf("page: %v (%d rows)", err, len(page.Edges))
					}
				}
			})
		}
	}
}

// openSeeded returns a pool on a fresh database seeded with n tasks or,
// when HT_BENCH_DATABASE_URL is set, on that database (seeded beforehand,
// for example with a million tasks: see README, Numbers), which the
// benchmarks only read; it must hold at least n tasks.
func openSeeded(b *testing.B, n int) *pgxpool.Pool {
	b.Helper()
	ctx := context.Background()
	url := os.Getenv("HT_BENCH_DATABASE_URL")
	if url == "" {
		url = testdb.New(b)
	}
	pool, err := repository.Open(ctx, url, repository.PoolOptions{})
	require.NoError(b, err)
	b.Cleanup(pool.Close)
	if os.Getenv("HT_BENCH_DATABASE_URL") != "" {
		var have int
		require.NoError(b, pool.QueryRow(ctx, "SELECT count(*) FROM tasks").Scan(&have))
		if have < n {
			b.Skipf("HT_BENCH_DATABASE_URL holds %d tasks, fewer than the %d this benchmark needs", have, n)
		}
		return pool
	}
	_, err = seed.Run(ctx, pool, seed.Options{Tasks: n, Seed: 1})
	require.NoError(b, err)
	return pool
}
