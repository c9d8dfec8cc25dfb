package repository_test

import (
	"context"
	"testing"

	"github.com/herotasks/api/domain"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestListTaskKeys: for every ordering and direction, a filter, a viewer
// who sees only part of the tasks, and backward paging, the page of ids
// is exactly ListTasks' page: the same ids in the same order, the same
// cursors (each usable by either), the same next/previous flags.
func TestListTaskKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, repo := seeded(t, 120, 5)
	var someone string
	require.NoError(t, pool.QueryRow(ctx, `SELECT created_by::text FROM tasks WHERE visibility = 'PRIVATE' LIMIT 1`).Scan(&someone))
	viewers := []domain.Viewer{{UserID: "00000000-0000-4000-8000-000000000001", Role: domain.RoleAdmin}, {}, {UserID: someone, Role: domain.RoleEditor}}
	filters := []domain.TaskFilter{{}, {Status: []domain.TaskStatus{domain.StatusInProgress, domain.StatusBlocked}}}

	same := func(q domain.TaskQuery) (*domain.TaskKeyPage, int) {
		t.Helper()
		full, err := repo.ListTasks(ctx, q, "")
		require.NoError(t, err)
		keys, err := repo.ListTaskKeys(ctx, q, "")
		require.NoError(t, err)
		require.Len(t, keys.IDs, len(full.Edges))
		for i, e := range full.Edges {
			assert.Equal(t, e.Node.ID, keys.IDs[i])
			assert.Equal(t, e.Cursor, keys.Cursors[i])
		}
		assert.Equal(t, full.HasNextPage, keys.HasNextPage)
		assert.Equal(t, full.HasPreviousPage, keys.HasPreviousPage)
		return keys, len(full.Edges)
	}
	pages := 0
	for _, field := range []domain.TaskOrderField{domain.OrderCreatedAt, domain.OrderUpdatedAt, domain.OrderDueDate, domain.OrderPriority} {
		for _, dir := range []domain.OrderDirection{domain.Asc, domain.Desc} {
			for _, v := range viewers {
				for _, f := range filters {
					q := domain.TaskQuery{Viewer: v, Filter: f, Order: domain.TaskOrder{Field: field, Direction: dir}, First: 25}
					seen := 0
					for {
						keys, n := same(q)
						pages++
						seen += n
						if !keys.HasNextPage {
							break
						}
						q.After = keys.Cursors[len(keys.Cursors)-1]
					}
					require.Positive(t, seen)
					// Backward from the end, then from a cursor.
					b := domain.TaskQuery{Viewer: v, Filter: f, Order: q.Order, Backward: true, Last: 7}
					keys, _ := same(b)
					if len(keys.Cursors) > 0 {
						b.Before = keys.Cursors[0]
						same(b)
					}
				}
			}
		}
	}
	assert.Greater(t, pages, 64)
}
