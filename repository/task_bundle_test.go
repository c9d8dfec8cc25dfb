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
// reads (TasksByIDs, TagsByTaskIDs, UsersByIDs, SubtasksByTaskIDs with and
// without a limit, TagsBySubtaskIDs, DependenciesByTaskIDs,
// DependentsByTaskIDs) in their order, including tasks without tags,
// assignee, creator, subtasks or dependencies, private dependencies, and an
// empty bundle for a task that does not exist.
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
	// One task gets two dependents whose order by id (the index the level
	// walks) is not their order by number, so a level that lost its sort
	// shows.
	tag, err := pool.Exec(ctx, `WITH target AS (
			SELECT id FROM tasks WHERE id NOT IN (SELECT task_id FROM task_dependencies)
				AND id NOT IN (SELECT depends_on_id FROM task_dependencies) ORDER BY number DESC LIMIT 1),
		pair AS (
			SELECT a.id AS a, b.id AS b FROM tasks a JOIN tasks b ON a.id < b.id AND a.number > b.number
			WHERE a.id NOT IN (SELECT id FROM target) AND b.id NOT IN (SELECT id FROM target)
			ORDER BY a.number, b.number LIMIT 1)
		INSERT INTO task_dependencies (task_id, depends_on_id)
		SELECT x, (SELECT id FROM target) FROM pair, LATERAL (VALUES (pair.a), (pair.b)) v(x)`)
	require.NoError(t, err)
	require.EqualValues(t, 2, tag.RowsAffected())
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
	subLinks := func(limit *int) map[string][]*domain.Subtask {
		rows, err := repo.SubtasksByTaskIDs(ctx, ids, limit)
		require.NoError(t, err)
		m := map[string][]*domain.Subtask{}
		for _, r := range rows {
			m[r.TaskID] = append(m[r.TaskID], r)
		}
		return m
	}
	two, zero := 2, 0
	limits := []*int{nil, &two, &zero}
	subsOf := []map[string][]*domain.Subtask{subLinks(nil), subLinks(&two), subLinks(&zero)}
	grouped := func(ls []domain.Link[*domain.Task]) map[string][]*domain.Task {
		m := map[string][]*domain.Task{}
		for _, l := range ls {
			m[l.OwnerID] = append(m[l.OwnerID], l.Item)
		}
		return m
	}
	depLinks, err := repo.DependenciesByTaskIDs(ctx, ids)
	require.NoError(t, err)
	dentLinks, err := repo.DependentsByTaskIDs(ctx, ids)
	require.NoError(t, err)
	depsOf, dentsOf := grouped(depLinks), grouped(dentLinks)
	orEmpty := func(ts []*domain.Task) []*domain.Task {
		if ts == nil {
			return []*domain.Task{}
		}
		return ts
	}
	var untagged, unassigned, tagged, withDeps, withDependents, withSubTags, hiddenDeps int
	for i, want := range tasks {
		wantTags := tagsOf[want.ID]
		if wantTags == nil {
			wantTags, untagged = []*domain.Tag{}, untagged+1
		} else {
			tagged++
		}
		if want.AssigneeID == nil {
			unassigned++
		}
		if depsOf[want.ID] != nil {
			withDeps++
		}
		if dentsOf[want.ID] != nil {
			withDependents++
		}
		for _, d := range depsOf[want.ID] {
			if d.Visibility != domain.VisibilityPublic {
				hiddenDeps++
			}
		}
		// Each task's subtask tags, read as the loaders read them.
		var subIDs []string
		for _, st := range subsOf[0][want.ID] {
			subIDs = append(subIDs, st.ID)
		}
		subTagsOf := map[string][]*domain.Tag{}
		for _, id := range subIDs {
			subTagsOf[id] = []*domain.Tag{}
		}
		if len(subIDs) > 0 {
			ls, err := repo.TagsBySubtaskIDs(ctx, subIDs)
			require.NoError(t, err)
			for _, l := range ls {
				subTagsOf[l.OwnerID] = append(subTagsOf[l.OwnerID], l.Item)
			}
			if len(ls) > 0 {
				withSubTags++
			}
		}
		for mask := range 1 << 7 {
			w := domain.TaskWith{Tags: mask&1 != 0, Assignee: mask&2 != 0, Creator: mask&4 != 0, Subtasks: mask&8 != 0,
				SubtaskTags: mask&16 != 0, Dependencies: mask&32 != 0, Dependents: mask&64 != 0}
			li := (i + mask) % len(limits)
			w.SubtaskLimit = limits[li]
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
				if w.Subtasks {
					wantSubs := subsOf[li][want.ID]
					if wantSubs == nil {
						wantSubs = []*domain.Subtask{}
					}
					assert.Equal(t, wantSubs, b.Subtasks, "%+v %+v", ref, w)
					if w.SubtaskTags {
						wantSubTags := map[string][]*domain.Tag{}
						for _, st := range wantSubs {
							wantSubTags[st.ID] = subTagsOf[st.ID]
						}
						assert.Equal(t, wantSubTags, b.SubtaskTags, "%+v %+v", ref, w)
					} else {
						assert.Nil(t, b.SubtaskTags)
					}
				} else {
					assert.Nil(t, b.Subtasks)
					assert.Nil(t, b.SubtaskTags, "subtask tags come only with their subtasks")
				}
				if w.Dependencies {
					assert.Equal(t, orEmpty(depsOf[want.ID]), b.Dependencies, "%+v", ref)
				} else {
					assert.Nil(t, b.Dependencies)
				}
				if w.Dependents {
					assert.Equal(t, orEmpty(dentsOf[want.ID]), b.Dependents, "%+v", ref)
				} else {
					assert.Nil(t, b.Dependents)
				}
			}
		}
	}
	assert.Equal(t, 5, untagged)
	assert.Greater(t, tagged, 20)
	assert.GreaterOrEqual(t, unassigned, 5)
	assert.Greater(t, withDeps, 3)
	assert.Greater(t, withDependents, 3)
	assert.Greater(t, withSubTags, 10)
	assert.Positive(t, hiddenDeps, "some dependencies are private tasks: the bundle returns them like the batch read, the caller hides them")

	for _, ref := range []domain.TaskRef{{ID: "00000000-0000-4000-8000-000000000000"}, {Seq: 999999}} {
		b, err := repo.TaskBundle(ctx, ref, domain.TaskWith{Tags: true, Assignee: true, Creator: true, Subtasks: true,
			SubtaskTags: true, Dependencies: true, Dependents: true})
		require.NoError(t, err)
		assert.Equal(t, &domain.TaskBundle{}, b)
	}
}
