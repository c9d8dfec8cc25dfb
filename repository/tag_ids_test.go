package repository_test

import (
	"context"
	"slices"
	"testing"

	"github.com/herotasks/api/domain"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRowsCarryTheirTagIDs: the rows a cache fills from and writes through
// carry the task's tag ids as of the row; a change of the tag set counts in
// tags_version (so the row's stamp grows) without touching the task's
// version or updated_at, which order lists; a call that changes nothing
// counts nothing.
func TestRowsCarryTheirTagIDs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, repo := seeded(t, 5, 1)
	tagIDs := func(names ...string) []string {
		var ids []string
		require.NoError(t, pool.QueryRow(ctx, "SELECT coalesce(array_agg(id::text ORDER BY id), '{}') FROM tags WHERE name = ANY($1)", names).Scan(&ids))
		return ids
	}
	sorted := func(ids []string) []string { return slices.Sorted(slices.Values(ids)) }

	created, err := repo.CreateTask(ctx, domain.NewTask{Title: "carried", Type: domain.TypeFeature, Priority: domain.PriorityLow,
		Visibility: domain.VisibilityPublic, Tags: []string{"carry-a", "carry-b"}})
	require.NoError(t, err)
	require.True(t, created.ChildrenRead)
	assert.Equal(t, tagIDs("carry-a", "carry-b"), sorted(created.TagIDs))

	rows, err := repo.TasksWithChildren(ctx, []string{created.ID})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.True(t, rows[0].ChildrenRead)
	assert.Equal(t, tagIDs("carry-a", "carry-b"), sorted(rows[0].TagIDs))
	plain, err := repo.TasksByIDs(ctx, []string{created.ID})
	require.NoError(t, err)
	assert.False(t, plain[0].ChildrenRead, "TasksByIDs does not read tag ids")

	added, err := repo.AddTaskTags(ctx, created.ID, []string{"carry-c"}, nil)
	require.NoError(t, err)
	require.True(t, added.ChildrenRead)
	assert.Equal(t, tagIDs("carry-a", "carry-b", "carry-c"), sorted(added.TagIDs))
	assert.Equal(t, created.Version, added.Version, "a tag is not an edit of the task's fields")
	assert.Equal(t, created.TagsVersion+1, added.TagsVersion)
	assert.True(t, added.UpdatedAt.Equal(created.UpdatedAt), "updated_at orders lists: a tag write must not move it")
	assert.Greater(t, added.RowStamp(), created.RowStamp())

	again, err := repo.AddTaskTags(ctx, created.ID, []string{"carry-c"}, nil)
	require.NoError(t, err)
	assert.Equal(t, added.TagsVersion, again.TagsVersion, "nothing linked, nothing counted")
	assert.False(t, again.ChildrenRead, "an unchanged set is not written through")

	removed, err := repo.RemoveTaskTags(ctx, created.ID, []string{"carry-a"}, nil)
	require.NoError(t, err)
	assert.Equal(t, tagIDs("carry-b", "carry-c"), sorted(removed.TagIDs))
	assert.Equal(t, added.TagsVersion+1, removed.TagsVersion)
	assert.True(t, removed.UpdatedAt.Equal(created.UpdatedAt))

	edited, err := repo.UpdateTask(ctx, created.ID, domain.TaskPatch{Title: ptr("carried on")}, nil)
	require.NoError(t, err)
	require.True(t, edited.ChildrenRead)
	assert.Equal(t, tagIDs("carry-b", "carry-c"), sorted(edited.TagIDs))
	assert.Equal(t, removed.TagsVersion, edited.TagsVersion)
	assert.Equal(t, removed.Version+1, edited.Version)
	assert.Greater(t, edited.RowStamp(), removed.RowStamp())

	moved, err := repo.TransitionTask(ctx, created.ID, domain.TransitionRequest{Status: ptr(domain.StatusReady)}, nil)
	require.NoError(t, err)
	require.True(t, moved.ChildrenRead)
	assert.Equal(t, tagIDs("carry-b", "carry-c"), sorted(moved.TagIDs))

	bare, err := repo.CreateTask(ctx, domain.NewTask{Title: "bare", Type: domain.TypeFeature, Priority: domain.PriorityLow,
		Visibility: domain.VisibilityPublic})
	require.NoError(t, err)
	assert.True(t, bare.ChildrenRead)
	assert.Equal(t, []string{}, bare.TagIDs)
}

func ptr[T any](v T) *T { return &v }

// TestRowsCarryTheirSubtaskIDs: a write that adds, removes or moves a
// subtask counts it in the parent's subtasks_version and returns the
// parent's row with its subtask ids in position order (Subtask.Parent),
// leaving its version and updated_at alone; one that changes a subtask's
// fields returns no row.
func TestRowsCarryTheirSubtaskIDs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, repo := seeded(t, 5, 1)
	task, err := repo.CreateTask(ctx, domain.NewTask{Title: "parent", Type: domain.TypeFeature, Priority: domain.PriorityLow,
		Visibility: domain.VisibilityPublic})
	require.NoError(t, err)
	assert.Equal(t, []string{}, task.SubtaskIDs)

	a, err := repo.CreateSubtask(ctx, task.ID, domain.NewSubtask{Title: "a", Priority: domain.PriorityLow}, nil)
	require.NoError(t, err)
	require.NotNil(t, a.Parent)
	assert.Equal(t, []string{a.ID}, a.Parent.SubtaskIDs)
	assert.Equal(t, task.SubtasksVersion+1, a.Parent.SubtasksVersion)
	assert.Equal(t, task.Version, a.Parent.Version)
	assert.True(t, a.Parent.UpdatedAt.Equal(task.UpdatedAt), "updated_at orders lists: a subtask must not move it")
	assert.Greater(t, a.Parent.RowStamp(), task.RowStamp())

	b, err := repo.CreateSubtask(ctx, task.ID, domain.NewSubtask{Title: "b", Priority: domain.PriorityLow, Position: ptr(0)}, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{b.ID, a.ID}, b.Parent.SubtaskIDs, "in position order")

	renamed, err := repo.UpdateSubtask(ctx, a.ID, domain.SubtaskPatch{Title: ptr("a2")}, nil, nil)
	require.NoError(t, err)
	assert.Nil(t, renamed.Parent, "the list did not change")

	moved, err := repo.UpdateSubtask(ctx, a.ID, domain.SubtaskPatch{Position: ptr(0)}, nil, nil)
	require.NoError(t, err)
	require.NotNil(t, moved.Parent)
	assert.Equal(t, []string{a.ID, b.ID}, moved.Parent.SubtaskIDs)
	assert.Equal(t, b.Parent.SubtasksVersion+1, moved.Parent.SubtasksVersion)

	rows, err := repo.TasksWithChildren(ctx, []string{task.ID})
	require.NoError(t, err)
	assert.Equal(t, []string{a.ID, b.ID}, rows[0].SubtaskIDs)
	assert.Equal(t, moved.Parent.RowStamp(), rows[0].RowStamp())

	gone, err := repo.DeleteSubtask(ctx, a.ID, nil)
	require.NoError(t, err)
	require.NotNil(t, gone.Parent)
	assert.Equal(t, []string{b.ID}, gone.Parent.SubtaskIDs)
	assert.True(t, gone.Parent.UpdatedAt.Equal(task.UpdatedAt))
}
