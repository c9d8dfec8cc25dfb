package repository_test

import (
	"context"
	"testing"

	"github.com/herotasks/api/domain"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTaskBundle: for every combination of levels, by id and by number,
// the one-statement read returns exactly the rows of the per-kind batch
// reads (TasksByIDs, TagsByTaskIDs, UsersByIDs), including tasks without
// tags, assignee or creator, and an empty bundle for a task that does not
// exist.
func TestTaskBundle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, repo := seeded(t, 60, 3)
	// Some tasks lose their tags, assignee and creator, so both sides of
	// each LEFT JOIN are covered.
	_, err := pool.Exec(ctx, `WITH bare AS (SELECT id FROM tasks ORDER BY number LIMIT 5)
		, untag AS (DELETE FROM task_tags WHERE task_id IN (SELECT id FROM bare))
		UPDATE tasks SET assignee_id = NULL, created_by = NULL WHERE id IN (SELECT id FROM bare)`)
	require.NoError(t, err)
	var ids []string
	require.NoError(t, pool.QueryRow(ctx, `SELECT array_agg(id::text ORDER BY number) FROM tasks`).Scan(&ids))

	tasks, err := repo.TasksByIDs(ctx, ids)
	require.NoError(t, err)
	links, err := repo.TagsByTaskIDs(ctx, ids)
	require.NoError(t, err)
	tagsOf := map[string][]*domain.Tag{}
	for _, l := range links {
		tagsOf[l.OwnerID] = append(tagsOf[l.OwnerID], l.Item)
	}
	user := func(id *string) *domain.User {
		if id == nil {
			return nil
		}
		us, err := repo.UsersByIDs(ctx, []string{*id})
		require.NoError(t, err)
		require.Len(t, us, 1)
		return us[0]
	}
	var untagged, unassigned, tagged int
	for _, want := range tasks {
		wantTags := tagsOf[want.ID]
		if wantTags == nil {
			wantTags, untagged = []*domain.Tag{}, untagged+1
		} else {
			tagged++
		}
		if want.AssigneeID == nil {
			unassigned++
		}
		for mask := range 8 {
			w := domain.TaskWith{Tags: mask&1 != 0, Assignee: mask&2 != 0, Creator: mask&4 != 0}
			for _, ref := range []domain.TaskRef{{ID: want.ID}, {Seq: want.Seq}} {
				b, err := repo.TaskBundle(ctx, ref, w)
				require.NoError(t, err)
				assert.Equal(t, want, b.Task, "%+v %+v", ref, w)
				if w.Tags {
					assert.Equal(t, wantTags, b.Tags, "%+v", ref)
				} else {
					assert.Nil(t, b.Tags)
				}
				if w.Assignee {
					assert.Equal(t, user(want.AssigneeID), b.Assignee)
				} else {
					assert.Nil(t, b.Assignee)
				}
				if w.Creator {
					assert.Equal(t, user(want.CreatedByID), b.Creator)
				} else {
					assert.Nil(t, b.Creator)
				}
			}
		}
	}
	assert.Equal(t, 5, untagged)
	assert.Greater(t, tagged, 20)
	assert.GreaterOrEqual(t, unassigned, 5)

	for _, ref := range []domain.TaskRef{{ID: "00000000-0000-4000-8000-000000000000"}, {Seq: 999999}} {
		b, err := repo.TaskBundle(ctx, ref, domain.TaskWith{Tags: true, Assignee: true, Creator: true})
		require.NoError(t, err)
		assert.Equal(t, &domain.TaskBundle{}, b)
	}
}
