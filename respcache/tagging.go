package respcache

import (
	"context"

	"github.com/herotasks/api/domain"
)

// Tags of the data a response can depend on (see the package comment).
const (
	tagTasks = "tasks" // any list, count, search or statistic over tasks
	tagTags  = "tags"  // the list of tags
)

func taskTag(id string) string    { return "t:" + id }
func subtaskTag(id string) string { return "s:" + id }

func prefixed(prefix string, ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = prefix + id
	}
	return out
}

// Tagging decorates a store: each read first records the tags it depends on
// (for an operation whose response may be stored), each write replaces the
// tokens of the tags it changed, after the inner store returns (after the
// commit and the entity cache's invalidation) and before the mutation's
// response is sent. Every read and write of domain.Store is listed here, so
// a new method fails to compile until its tags are decided.
func Tagging(s domain.Store, c *Cache) domain.Store { return &tagging{s: s, c: c} }

type tagging struct {
	s domain.Store
	c *Cache
}

func observe(ctx context.Context, tags ...string) { recorderFrom(ctx).observe(ctx, tags...) }

// Reads.

func (t *tagging) TasksByIDs(ctx context.Context, ids []string) ([]*domain.Task, error) {
	observe(ctx, prefixed("t:", ids)...)
	return t.s.TasksByIDs(ctx, ids)
}

func (t *tagging) UsersByIDs(ctx context.Context, ids []string) ([]*domain.User, error) {
	observe(ctx, prefixed("u:", ids)...)
	return t.s.UsersByIDs(ctx, ids)
}

func (t *tagging) SubtasksByTaskIDs(ctx context.Context, taskIDs []string, limit *int) ([]*domain.Subtask, error) {
	observe(ctx, prefixed("t:", taskIDs)...)
	return t.s.SubtasksByTaskIDs(ctx, taskIDs, limit)
}

func (t *tagging) SubtasksByIDs(ctx context.Context, ids []string) ([]*domain.Subtask, error) {
	observe(ctx, prefixed("s:", ids)...)
	return t.s.SubtasksByIDs(ctx, ids)
}

func (t *tagging) TagsByIDs(ctx context.Context, ids []string) ([]*domain.Tag, error) {
	observe(ctx, prefixed("g:", ids)...)
	return t.s.TagsByIDs(ctx, ids)
}

func (t *tagging) TagsByTaskIDs(ctx context.Context, taskIDs []string) ([]domain.Link[*domain.Tag], error) {
	observe(ctx, prefixed("t:", taskIDs)...)
	return t.s.TagsByTaskIDs(ctx, taskIDs)
}

func (t *tagging) TagsBySubtaskIDs(ctx context.Context, subtaskIDs []string) ([]domain.Link[*domain.Tag], error) {
	observe(ctx, prefixed("s:", subtaskIDs)...)
	return t.s.TagsBySubtaskIDs(ctx, subtaskIDs)
}

// The dependency lists carry the other tasks' rows, whose ids are not known
// before the read: "tasks", which every task write replaces, covers them.

func (t *tagging) DependenciesByTaskIDs(ctx context.Context, taskIDs []string) ([]domain.Link[*domain.Task], error) {
	observe(ctx, append(prefixed("t:", taskIDs), tagTasks)...)
	return t.s.DependenciesByTaskIDs(ctx, taskIDs)
}

func (t *tagging) DependentsByTaskIDs(ctx context.Context, taskIDs []string) ([]domain.Link[*domain.Task], error) {
	observe(ctx, append(prefixed("t:", taskIDs), tagTasks)...)
	return t.s.DependentsByTaskIDs(ctx, taskIDs)
}

func (t *tagging) EventsByTaskIDs(ctx context.Context, taskIDs []string, limit int) ([]*domain.TaskEvent, error) {
	observe(ctx, prefixed("t:", taskIDs)...)
	return t.s.EventsByTaskIDs(ctx, taskIDs, limit)
}

func (t *tagging) TaskHistory(ctx context.Context, taskID, before string, limit int) ([]*domain.TaskEvent, error) {
	observe(ctx, taskTag(taskID))
	return t.s.TaskHistory(ctx, taskID, before, limit)
}

// The log is read by subscriptions, never by a cached operation.
func (t *tagging) TaskEventsAfter(ctx context.Context, after string, limit int) ([]*domain.TaskEvent, error) {
	return t.s.TaskEventsAfter(ctx, after, limit)
}

func (t *tagging) TaskEventsHead(ctx context.Context) (string, error) { return t.s.TaskEventsHead(ctx) }

func (t *tagging) TaskEventsSnapshot(ctx context.Context) (domain.LogSnapshot, error) {
	return t.s.TaskEventsSnapshot(ctx)
}

func (t *tagging) TasksByTagIDs(ctx context.Context, v domain.Viewer, tagIDs []string, first int) (map[string]*domain.TaskPage, error) {
	observe(ctx, tagTasks)
	return t.s.TasksByTagIDs(ctx, v, tagIDs, first)
}

func (t *tagging) CountTasksByTagIDs(ctx context.Context, v domain.Viewer, tagIDs []string) (map[string]int, error) {
	observe(ctx, tagTasks)
	return t.s.CountTasksByTagIDs(ctx, v, tagIDs)
}

func (t *tagging) TaskBySeq(ctx context.Context, seq int64) (*domain.Task, error) {
	observe(ctx, tagTasks) // the id is not known before the read; every task write changes "tasks"
	return t.s.TaskBySeq(ctx, seq)
}

// TaskBundle reads what TasksByIDs (or TaskBySeq), TagsByTaskIDs and
// UsersByIDs would: the task's tag ("tasks" by number, whose id is not
// known before the read) before it, the users' after it, since only the
// read says who they are. No write changes a user, so no token of "u:"
// can change in between.
func (t *tagging) TaskBundle(ctx context.Context, ref domain.TaskRef, with domain.TaskWith) (*domain.TaskBundle, error) {
	if ref.ID != "" {
		observe(ctx, taskTag(ref.ID))
	} else {
		observe(ctx, tagTasks)
	}
	b, err := t.s.TaskBundle(ctx, ref, with)
	if err != nil || b.Task == nil {
		return b, err
	}
	var users []string
	if ref.ID == "" {
		users = append(users, taskTag(b.Task.ID))
	}
	for _, u := range []*domain.User{b.Assignee, b.Creator} {
		if u != nil {
			users = append(users, "u:"+u.ID)
		}
	}
	if len(users) > 0 {
		observe(ctx, users...)
	}
	return b, nil
}

func (t *tagging) ListTasks(ctx context.Context, q domain.TaskQuery, tagID string) (*domain.TaskPage, error) {
	observe(ctx, tagTasks)
	return t.s.ListTasks(ctx, q, tagID)
}

func (t *tagging) ListTaskKeys(ctx context.Context, q domain.TaskQuery, tagID string) (*domain.TaskKeyPage, error) {
	observe(ctx, tagTasks)
	return t.s.ListTaskKeys(ctx, q, tagID)
}

// SubtaskIDsByTaskID depends on the task's subtasks, which every subtask
// write changes under the task's tag.
func (t *tagging) SubtaskIDsByTaskID(ctx context.Context, taskID string) ([]string, error) {
	observe(ctx, taskTag(taskID))
	return t.s.SubtaskIDsByTaskID(ctx, taskID)
}

func (t *tagging) CountTasks(ctx context.Context, v domain.Viewer, f domain.TaskFilter, tagID string) (int, error) {
	observe(ctx, tagTasks)
	return t.s.CountTasks(ctx, v, f, tagID)
}

func (t *tagging) SearchTasks(ctx context.Context, v domain.Viewer, text string, first int, after string) (*domain.TaskPage, error) {
	observe(ctx, tagTasks)
	return t.s.SearchTasks(ctx, v, text, first, after)
}

func (t *tagging) CountSearch(ctx context.Context, v domain.Viewer, text string) (int, error) {
	observe(ctx, tagTasks)
	return t.s.CountSearch(ctx, v, text)
}

func (t *tagging) ListTags(ctx context.Context, first int, afterName string) ([]*domain.Tag, error) {
	observe(ctx, tagTags)
	return t.s.ListTags(ctx, first, afterName)
}

func (t *tagging) TaskStatistics(ctx context.Context, v domain.Viewer) (*domain.TaskStatistics, error) {
	observe(ctx, tagTasks)
	return t.s.TaskStatistics(ctx, v)
}

func (t *tagging) TopStatements(ctx context.Context, byTotal bool, n int) ([]domain.StatementStats, error) {
	return t.s.TopStatements(ctx, byTotal, n) // Query.topStatements is never cached
}

// Writes: the tags are replaced whether or not the write reports an error
// (an error after the commit must not leave a stale response behind).

func (t *tagging) CreateTask(ctx context.Context, in domain.NewTask) (*domain.Task, error) {
	defer t.c.Invalidate(ctx, tagTasks, tagTags)
	return t.s.CreateTask(ctx, in)
}

func (t *tagging) UpdateTask(ctx context.Context, id string, p domain.TaskPatch, guard domain.Guard) (*domain.Task, error) {
	defer t.c.Invalidate(ctx, taskTag(id), tagTasks)
	return t.s.UpdateTask(ctx, id, p, guard)
}

func (t *tagging) TransitionTask(ctx context.Context, id string, req domain.TransitionRequest, guard domain.Guard) (*domain.Task, error) {
	defer t.c.Invalidate(ctx, taskTag(id), tagTasks)
	return t.s.TransitionTask(ctx, id, req, guard)
}

func (t *tagging) DeleteTask(ctx context.Context, id string, guard domain.Guard) (*domain.DeletedTask, error) {
	d, err := t.s.DeleteTask(ctx, id, guard)
	tags := []string{taskTag(id), tagTasks}
	if d != nil {
		tags = append(tags, prefixed("s:", d.SubtaskIDs)...)
		tags = append(tags, prefixed("t:", d.DependsOnIDs)...)
		tags = append(tags, prefixed("t:", d.DependentIDs)...)
	}
	t.c.Invalidate(ctx, tags...)
	return d, err
}

// subtaskWritten replaces a subtask's tags and its task's.
func (t *tagging) subtaskWritten(ctx context.Context, id string, st *domain.Subtask, extra ...string) {
	tags := append([]string{subtaskTag(id)}, extra...)
	if st != nil {
		tags = append(tags, taskTag(st.TaskID))
	} else {
		tags = append(tags, tagTasks) // parent unknown after a failure: be broad
	}
	t.c.Invalidate(ctx, tags...)
}

func (t *tagging) CreateSubtask(ctx context.Context, taskID string, in domain.NewSubtask, guard domain.Guard) (*domain.Subtask, error) {
	defer t.c.Invalidate(ctx, taskTag(taskID))
	return t.s.CreateSubtask(ctx, taskID, in, guard)
}

func (t *tagging) UpdateSubtask(ctx context.Context, id string, p domain.SubtaskPatch, expectedVersion *int, guard domain.Guard) (*domain.Subtask, error) {
	st, err := t.s.UpdateSubtask(ctx, id, p, expectedVersion, guard)
	t.subtaskWritten(ctx, id, st)
	return st, err
}

func (t *tagging) DeleteSubtask(ctx context.Context, id string, guard domain.Guard) (*domain.Subtask, error) {
	st, err := t.s.DeleteSubtask(ctx, id, guard)
	t.subtaskWritten(ctx, id, st)
	return st, err
}

func (t *tagging) AddTaskTags(ctx context.Context, taskID string, names []string, guard domain.Guard) (*domain.Task, error) {
	defer t.c.Invalidate(ctx, taskTag(taskID), tagTasks, tagTags)
	return t.s.AddTaskTags(ctx, taskID, names, guard)
}

func (t *tagging) RemoveTaskTags(ctx context.Context, taskID string, names []string, guard domain.Guard) (*domain.Task, error) {
	defer t.c.Invalidate(ctx, taskTag(taskID), tagTasks, tagTags)
	return t.s.RemoveTaskTags(ctx, taskID, names, guard)
}

func (t *tagging) AddSubtaskTags(ctx context.Context, subtaskID string, names []string, guard domain.Guard) (*domain.Subtask, error) {
	st, err := t.s.AddSubtaskTags(ctx, subtaskID, names, guard)
	t.subtaskWritten(ctx, subtaskID, st, tagTags)
	return st, err
}

func (t *tagging) RemoveSubtaskTags(ctx context.Context, subtaskID string, names []string, guard domain.Guard) (*domain.Subtask, error) {
	st, err := t.s.RemoveSubtaskTags(ctx, subtaskID, names, guard)
	t.subtaskWritten(ctx, subtaskID, st, tagTags)
	return st, err
}

func (t *tagging) AddDependency(ctx context.Context, taskID, dependsOnID string, guard domain.Guard) (*domain.Task, error) {
	defer t.c.Invalidate(ctx, taskTag(taskID), taskTag(dependsOnID))
	return t.s.AddDependency(ctx, taskID, dependsOnID, guard)
}

func (t *tagging) RemoveDependency(ctx context.Context, taskID, dependsOnID string, guard domain.Guard) (*domain.Task, error) {
	defer t.c.Invalidate(ctx, taskTag(taskID), taskTag(dependsOnID))
	return t.s.RemoveDependency(ctx, taskID, dependsOnID, guard)
}

// API tokens: their list has a tag of its own.

const tagAPITokens = "apitokens"

func (t *tagging) APITokens(ctx context.Context, first int) ([]*domain.APIToken, error) {
	observe(ctx, tagAPITokens)
	return t.s.APITokens(ctx, first)
}

func (t *tagging) CreateAPIToken(ctx context.Context, in domain.NewAPIToken) (*domain.APIToken, error) {
	defer t.c.Invalidate(ctx, tagAPITokens)
	return t.s.CreateAPIToken(ctx, in)
}

func (t *tagging) RevokeAPIToken(ctx context.Context, id string) (bool, error) {
	defer t.c.Invalidate(ctx, tagAPITokens)
	return t.s.RevokeAPIToken(ctx, id)
}
