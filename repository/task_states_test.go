package repository_test

import (
	"context"
	"testing"

	"github.com/herotasks/api/domain"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestListTaskStates: the narrow read a list index is filled from returns
// ListTasks's first page, task for task, with every field that orders a
// task and places it in lists (and, for a private list, who it belongs
// to), in every indexed order and for the filters the index's partitions
// use, and the same answer on whether more follow.
func TestListTaskStates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, repo := seeded(t, 80, 3)
	var someone string
	require.NoError(t, pool.QueryRow(ctx, `SELECT assignee_id::text FROM tasks WHERE assignee_id IS NOT NULL
		GROUP BY assignee_id ORDER BY count(*) DESC LIMIT 1`).Scan(&someone))
	var owner string
	require.NoError(t, pool.QueryRow(ctx, `SELECT created_by::text FROM tasks WHERE visibility = 'PRIVATE' AND created_by IS NOT NULL
		GROUP BY created_by ORDER BY count(*) DESC LIMIT 1`).Scan(&owner))
	active, private := true, domain.VisibilityPrivate
	filters := map[string]struct {
		v domain.Viewer
		f domain.TaskFilter
	}{
		"public":          {domain.Viewer{}, domain.TaskFilter{}},
		"all, one status": {domain.Viewer{Role: domain.RoleAdmin}, domain.TaskFilter{Status: []domain.TaskStatus{domain.StatusReady}}},
		"assignee active": {domain.Viewer{}, domain.TaskFilter{AssigneeID: &someone, Active: &active}},
		"private of one":  {domain.Viewer{UserID: owner, Role: domain.RoleViewer}, domain.TaskFilter{Visibility: &private}},
	}
	state := func(x *domain.Task) domain.Task {
		return domain.Task{ID: x.ID, Status: x.Status, Priority: x.Priority, Visibility: x.Visibility, DueDate: x.DueDate,
			AssigneeID: x.AssigneeID, CreatedByID: x.CreatedByID, Version: x.Version, CreatedAt: x.CreatedAt, UpdatedAt: x.UpdatedAt}
	}
	for name, c := range filters {
		for _, field := range []domain.TaskOrderField{domain.OrderCreatedAt, domain.OrderUpdatedAt, domain.OrderDueDate, domain.OrderPriority} {
			for _, first := range []int{5, 1000} {
				q := domain.TaskQuery{Viewer: c.v, Filter: c.f, First: first, Order: domain.TaskOrder{Field: field, Direction: domain.Desc}}
				page, err := repo.ListTasks(ctx, q, "")
				require.NoError(t, err)
				states, more, err := repo.ListTaskStates(ctx, q)
				require.NoError(t, err)
				want := make([]domain.Task, len(page.Edges))
				for i, e := range page.Edges {
					want[i] = state(e.Node)
				}
				got := make([]domain.Task, len(states))
				for i, x := range states {
					got[i] = *x
				}
				assert.Equal(t, want, got, "%s, %s, first %d", name, field, first)
				assert.Equal(t, page.HasNextPage, more, "%s, %s, first %d", name, field, first)
				assert.NotEmpty(t, got, "%s: the seed has such tasks", name)
			}
		}
	}
}
