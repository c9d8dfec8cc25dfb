// Package graph is the GraphQL layer: the gqlgen executable schema and thin
// resolvers that check input and permission, then call a loader or the
// repository.
package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"log/slog"

	"github.com/herotasks/api/cache"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/graph/model"
	"github.com/herotasks/api/loaders"
	"github.com/herotasks/api/persisted"
	"github.com/herotasks/api/pubsub"
	"github.com/herotasks/api/repository"
)

// Store is what the resolvers need from storage: the repository, or the
// cache decorating it.
type Store interface {
	loaders.Store
	TaskBySeq(ctx context.Context, seq int64) (*domain.Task, error)
	ListTasks(ctx context.Context, q domain.TaskQuery, tagID string) (*domain.TaskPage, error)
	CountTasks(ctx context.Context, v domain.Viewer, f domain.TaskFilter, tagID string) (int, error)
	SearchTasks(ctx context.Context, v domain.Viewer, text string, first int, after string) (*domain.TaskPage, error)
	CountSearch(ctx context.Context, v domain.Viewer, text string) (int, error)
	ListTags(ctx context.Context, first int, afterName string) ([]*domain.Tag, error)
	TaskStatistics(ctx context.Context, v domain.Viewer) (*domain.TaskStatistics, error)
	TopStatements(ctx context.Context, byTotal bool, n int) ([]repository.StatementStats, error)

	CreateTask(ctx context.Context, in domain.NewTask) (*domain.Task, error)
	UpdateTask(ctx context.Context, id string, p domain.TaskPatch, guard repository.Guard) (*domain.Task, error)
	TransitionTask(ctx context.Context, id string, req domain.TransitionRequest, guard repository.Guard) (*domain.Task, error)
	DeleteTask(ctx context.Context, id string, guard repository.Guard) (*repository.DeletedTask, error)
	CreateSubtask(ctx context.Context, taskID string, in domain.NewSubtask, guard repository.Guard) (*domain.Subtask, error)
	UpdateSubtask(ctx context.Context, id string, p domain.SubtaskPatch, expectedVersion *int, guard repository.Guard) (*domain.Subtask, error)
	DeleteSubtask(ctx context.Context, id string, guard repository.Guard) (*domain.Subtask, error)
	AddTaskTags(ctx context.Context, taskID string, names []string, guard repository.Guard) (*domain.Task, error)
	RemoveTaskTags(ctx context.Context, taskID string, names []string, guard repository.Guard) (*domain.Task, error)
	AddSubtaskTags(ctx context.Context, subtaskID string, names []string, guard repository.Guard) (*domain.Subtask, error)
	RemoveSubtaskTags(ctx context.Context, subtaskID string, names []string, guard repository.Guard) (*domain.Subtask, error)
	AddDependency(ctx context.Context, taskID, dependsOnID string, guard repository.Guard) (*domain.Task, error)
	RemoveDependency(ctx context.Context, taskID, dependsOnID string, guard repository.Guard) (*domain.Task, error)

	CreateAPIToken(ctx context.Context, in domain.NewAPIToken) (*domain.APIToken, error)
	RevokeAPIToken(ctx context.Context, id string) (bool, error)
	APITokens(ctx context.Context, first int) ([]*domain.APIToken, error)
}

// Resolver holds the dependencies of every resolver, filled once in server.go.
type Resolver struct {
	Store  Store
	Cache  *cache.Cache // nil when the entity cache is off
	Logger *slog.Logger
	// Trusted holds the documents that run by hash (registerPersistedQuery).
	Trusted *persisted.Registry
	// Events delivers committed task changes to subscriptions (nil: none).
	Events *pubsub.Broker
}

// visibleTask loads a task through the request's loader and hides it (nil,
// like a random id) from a viewer who may not see it.
func (r *Resolver) visibleTask(ctx context.Context, id string) (*domain.Task, error) {
	t, err := loaders.Get(ctx, loaders.For(ctx).TaskByID, id)
	if err != nil || t == nil || !t.VisibleTo(viewer(ctx)) {
		return nil, err
	}
	return t, nil
}

// taskConnection pages through tasks (all, or those tagged tagID) with a
// lazily counted total.
func (r *Resolver) taskConnection(ctx context.Context, q domain.TaskQuery, tagID string) (*model.TaskConnection, error) {
	page, err := r.Store.ListTasks(ctx, q, tagID)
	if err != nil {
		return nil, err
	}
	prefetch(ctx, page.Nodes())
	return &model.TaskConnection{Page: page, After: q.After != "", Count: func(ctx context.Context) (int, error) {
		return r.Store.CountTasks(ctx, q.Viewer, q.Filter, tagID)
	}}, nil
}

// prefetch queues, from this one goroutine, the keys of the page's next
// level that the query selects (tags, assignee, creator, subtasks without
// arguments), so they reach their loaders together rather than from one
// goroutine per task spread over time, which under load split a level
// into several statements. Loaders memoize, so the resolvers that ask
// later get the same results.
func prefetch(ctx context.Context, tasks []*domain.Task) {
	if len(tasks) == 0 || !graphql.HasOperationContext(ctx) || graphql.GetFieldContext(ctx) == nil {
		return
	}
	oc := graphql.GetOperationContext(ctx)
	fields := map[string]graphql.CollectedField{}
	for _, conn := range graphql.CollectFieldsCtx(ctx, nil) {
		sel := conn.Selections
		if conn.Name == "edges" {
			for _, e := range graphql.CollectFields(oc, sel, []string{"TaskEdge"}) {
				if e.Name == "node" {
					sel = e.Selections
				}
			}
		} else if conn.Name != "nodes" {
			continue
		}
		for _, f := range graphql.CollectFields(oc, sel, []string{"Task"}) {
			fields[f.Name] = f
		}
	}
	l := loaders.For(ctx)
	for _, t := range tasks {
		if _, ok := fields["tags"]; ok {
			l.TagsByTaskID.LoadThunk(ctx, t.ID)
		}
		if _, ok := fields["assignee"]; ok && t.AssigneeID != nil {
			l.UserByID.LoadThunk(ctx, *t.AssigneeID)
		}
		if _, ok := fields["createdBy"]; ok && t.CreatedByID != nil {
			l.UserByID.LoadThunk(ctx, *t.CreatedByID)
		}
		if f, ok := fields["subtasks"]; ok && len(f.Arguments) == 0 {
			l.SubtasksByTaskID.LoadThunk(ctx, loaders.LimitKey{ID: t.ID, Limit: -1})
		}
	}
}

// tagMutation checks the common arguments of the tag mutations.
func (r *Resolver) tagMutation(ctx context.Context, idField, id string, tags []string) (domain.Viewer, []string, error) {
	v, err := writer(ctx)
	if err != nil {
		return v, nil, err
	}
	if err := checkID(idField, id); err != nil {
		return v, nil, err
	}
	names, err := tagNames(tags)
	return v, names, err
}

// dependencyMutation checks the common arguments of the dependency mutations.
func (r *Resolver) dependencyMutation(ctx context.Context, taskID, dependsOnID string) (domain.Viewer, error) {
	v, err := writer(ctx)
	if err != nil {
		return v, err
	}
	if err := checkID("taskId", taskID); err != nil {
		return v, err
	}
	return v, checkID("dependsOnId", dependsOnID)
}

// statistics lists every enum value, zeros included.
func statistics(s *domain.TaskStatistics) *model.TaskStatistics {
	out := &model.TaskStatistics{Total: s.Total, Active: s.Active, Completed: s.Completed, Overdue: s.Overdue,
		AverageCompletionHours: s.AverageCompletionHours}
	for _, st := range domain.TaskStatuses {
		out.ByStatus = append(out.ByStatus, &model.StatusCount{Status: st, Count: s.ByStatus[st]})
	}
	for _, p := range domain.TaskPriorities {
		out.ByPriority = append(out.ByPriority, &model.PriorityCount{Priority: p, Count: s.ByPriority[p]})
	}
	for _, t := range domain.TaskTypes {
		out.ByType = append(out.ByType, &model.TypeCount{Type: t, Count: s.ByType[t]})
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
