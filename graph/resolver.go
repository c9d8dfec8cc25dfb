// Package graph is the GraphQL layer: the gqlgen executable schema and thin
// resolvers that check input and permission, then call a loader or the
// repository.
package graph

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/herotasks/api/cache"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/graph/model"
	"github.com/herotasks/api/loaders"
	"github.com/herotasks/api/persisted"
	"github.com/herotasks/api/pubsub"
)

// Resolver holds the dependencies of every resolver, filled once in server.go.
type Resolver struct {
	Store  domain.Store
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
	t, err := loaders.Get(ctx, loaders.For(ctx).TaskByID(), id)
	if err != nil || t == nil || !canSee(ctx, t) {
		return nil, err
	}
	return t, nil
}

// taskConnection pages through tasks (all, or those tagged tagID) with a
// lazily counted total.
func (r *Resolver) taskConnection(ctx context.Context, q domain.TaskQuery, tagID string) (*model.TaskConnection, error) {
	oc, fields := pageFields(ctx)
	var with domain.TaskWith
	if oc != nil && withSubtasks(&with, oc, fields["subtasks"]) {
		ctx = domain.WithPageLevels(ctx, with) // read along with the page (cache/ahead.go)
	}
	page, err := r.Store.ListTasks(ctx, q, tagID)
	if err != nil {
		return nil, err
	}
	if tasks := page.Nodes(); oc != nil && len(tasks) > 0 {
		prefetchFields(ctx, oc, tasks, fields)
	}
	return &model.TaskConnection{Page: page, After: q.After != "", Count: func(ctx context.Context) (int, error) {
		if page.Total != nil {
			return *page.Total, nil
		}
		return r.Store.CountTasks(ctx, q.Viewer, q.Filter, tagID)
	}}, nil
}

// prefetch loads the page's next levels that the query selects (tags,
// assignee and creator, dependencies, dependents, subtasks and their tags)
// now, from the goroutine that holds every key: one batch call per level,
// the independent levels at the same time, and primes the request's
// loaders with the results. The resolvers that ask later are answered from
// memory. Leaving these levels to the batching window instead split them
// into several statements under load, because the keys then arrive from
// one goroutine per task, spread over however long the scheduler takes to
// run them all, and it cost the window's wait on every level. Anything not
// prefetched (or whose prefetch failed) still goes through the loaders
// lazily.
func prefetch(ctx context.Context, tasks []*domain.Task) {
	if len(tasks) == 0 {
		return
	}
	if oc, fields := pageFields(ctx); oc != nil {
		prefetchFields(ctx, oc, tasks, fields)
	}
}

// pageFields returns the fields a connection's query selects on its tasks
// (nodes or edges' node) by name, and the operation; nil outside one.
func pageFields(ctx context.Context) (*graphql.OperationContext, map[string][]graphql.CollectedField) {
	if !graphql.HasOperationContext(ctx) || graphql.GetFieldContext(ctx) == nil {
		return nil, nil
	}
	oc := graphql.GetOperationContext(ctx)
	fields := map[string][]graphql.CollectedField{}
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
			fields[f.Name] = append(fields[f.Name], f)
		}
	}
	return oc, fields
}

// singleTask answers a query whose one root field is a task (task,
// taskByNumber): there is nothing to batch it with, so it reads the task
// and, in the same statement, the levels of it that the query selects among
// tags, assignee, creator, subtasks (one first: for all their selections)
// with their tags, dependencies and dependents (Store.TaskBundle), then
// looks ahead as prefetch does for anything left (several distinct
// subtasks(first:)). What it read primes the request's loaders, which
// answer the resolvers below from memory. A task the viewer may not see is
// null, like a random id.
func (r *Resolver) singleTask(ctx context.Context, ref domain.TaskRef) (*domain.Task, error) {
	fields := taskFields(ctx)
	l := loaders.For(ctx)
	oc := graphql.GetOperationContext(ctx)
	with := domain.TaskWith{Tags: fields["tags"] != nil, Assignee: fields["assignee"] != nil, Creator: fields["createdBy"] != nil}
	if l.LookAhead() {
		with.Dependencies, with.Dependents = fields["dependencies"] != nil, fields["dependents"] != nil
		withSubtasks(&with, oc, fields["subtasks"])
	}
	b, err := r.Store.TaskBundle(ctx, ref, with)
	if err != nil {
		return nil, err
	}
	t := b.Task
	if t == nil {
		if ref.ID != "" {
			l.TaskByID().Put(ref.ID, nil)
		}
		return nil, nil
	}
	l.TaskByID().Put(t.ID, t)
	if with.Tags {
		l.TagsByTaskID().Put(t.ID, b.Tags)
		delete(fields, "tags")
	}
	if with.Assignee {
		if b.Assignee != nil {
			l.UserByID().Put(b.Assignee.ID, b.Assignee)
		}
		delete(fields, "assignee")
	}
	if with.Creator {
		if b.Creator != nil {
			l.UserByID().Put(b.Creator.ID, b.Creator)
		}
		delete(fields, "createdBy")
	}
	if with.Subtasks {
		limit := -1
		if with.SubtaskLimit != nil {
			limit = *with.SubtaskLimit
		}
		l.SubtasksByTaskID().Put(loaders.LimitKey{ID: t.ID, Limit: limit}, b.Subtasks)
		for id, tags := range b.SubtaskTags {
			l.TagsBySubtaskID().Put(id, tags)
		}
		delete(fields, "subtasks")
	}
	// The dependencies and dependents are primed whole, hidden tasks
	// included, as their batch reads return them: the resolvers hide what
	// the viewer may not see.
	if with.Dependencies {
		l.DependenciesByTaskID().Put(t.ID, b.Dependencies)
		delete(fields, "dependencies")
	}
	if with.Dependents {
		l.DependentsByTaskID().Put(t.ID, b.Dependents)
		delete(fields, "dependents")
	}
	if !canSee(ctx, t) {
		return nil, nil
	}
	prefetchFields(ctx, oc, []*domain.Task{t}, fields)
	return t, nil
}

// taskFields are the fields selected under the task the current field
// returns, by name.
func taskFields(ctx context.Context) map[string][]graphql.CollectedField {
	fields := map[string][]graphql.CollectedField{}
	for _, f := range graphql.CollectFieldsCtx(ctx, []string{"Task"}) {
		fields[f.Name] = append(fields[f.Name], f)
	}
	return fields
}

// oneSubtaskLimit reports the LimitKey.Limit shared by every subtasks
// selection of a task (normally one), and whether any of them selects the
// subtasks' tags; false when there is none, or several distinct or invalid
// first: arguments (prefetchFields and the resolver handle those).
func oneSubtaskLimit(oc *graphql.OperationContext, sels []graphql.CollectedField) (limit int, tags, ok bool) {
	for i, f := range sels {
		n, valid := subtaskLimit(f, oc.Variables)
		if !valid || (i > 0 && n != limit) {
			return 0, false, false
		}
		limit = n
		tags = tags || selectsName(graphql.CollectFields(oc, f.Selections, []string{"Subtask"}), "tags")
	}
	return limit, tags, len(sels) > 0
}

// withSubtasks sets w's subtasks level to what sels, a task's subtasks
// selections, ask for (oneSubtaskLimit); false, leaving w as it was, when
// they ask for none the store can read as one level.
func withSubtasks(w *domain.TaskWith, oc *graphql.OperationContext, sels []graphql.CollectedField) bool {
	limit, tags, ok := oneSubtaskLimit(oc, sels)
	if !ok {
		return false
	}
	w.Subtasks, w.SubtaskTags = true, tags
	if limit >= 0 {
		w.SubtaskLimit = &limit
	}
	return true
}

// singleTaskRoot reports whether the operation is a query with exactly one
// root field that returns a task by id or number. Only then is there
// nothing for the window to batch the task, or its levels, with: several
// such fields (aliases, or task and taskByNumber) are left to the window,
// which batches them across the fields into one statement per level.
func singleTaskRoot(ctx context.Context) bool {
	if !graphql.HasOperationContext(ctx) || graphql.GetFieldContext(ctx) == nil {
		return false
	}
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return false
	}
	roots := 0
	for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Query"}) {
		if f.Name == "task" || f.Name == "taskByNumber" {
			roots++
		}
	}
	return roots == 1
}

// prefetchFields loads ahead what fields (a task's selected fields by
// name) need of tasks.
func prefetchFields(ctx context.Context, oc *graphql.OperationContext, tasks []*domain.Task, fields map[string][]graphql.CollectedField) {
	ids := make([]string, len(tasks))
	for i, t := range tasks {
		ids[i] = t.ID
	}
	l := loaders.For(ctx)
	var wg sync.WaitGroup
	if fields["tags"] != nil {
		wg.Go(func() { _ = l.PreloadTaskTags(ctx, tasks) })
	}
	if fields["dependencies"] != nil {
		wg.Go(func() { _, _ = l.DependenciesByTaskID().Preload(ctx, ids) })
	}
	if fields["dependents"] != nil {
		wg.Go(func() { _, _ = l.DependentsByTaskID().Preload(ctx, ids) })
	}
	var users []string
	for _, t := range tasks {
		if fields["assignee"] != nil && t.AssigneeID != nil {
			users = append(users, *t.AssigneeID)
		}
		if fields["createdBy"] != nil && t.CreatedByID != nil {
			users = append(users, *t.CreatedByID)
		}
	}
	if len(users) > 0 {
		wg.Go(func() { _, _ = l.UserByID().Preload(ctx, users) })
	}
	// Subtasks, one list per distinct first: argument (normally one), then
	// their tags when any of those selections asks for them.
	limits := map[int]bool{}
	for _, f := range fields["subtasks"] {
		limit, ok := subtaskLimit(f, oc.Variables)
		if !ok {
			continue
		}
		limits[limit] = limits[limit] || selectsName(graphql.CollectFields(oc, f.Selections, []string{"Subtask"}), "tags")
	}
	for limit, withTags := range limits {
		wg.Go(func() {
			lists, err := l.PreloadSubtasks(ctx, tasks, limit)
			if err != nil || !withTags {
				return
			}
			var subs []*domain.Subtask
			for _, t := range tasks {
				subs = append(subs, lists[loaders.LimitKey{ID: t.ID, Limit: limit}]...)
			}
			_ = l.PreloadSubtaskTags(ctx, subs)
		})
	}
	wg.Wait()
}

// written hands a mutation's task to the fields selected under it: the
// request's loaders start afresh, since the write changed what they may
// hold, and the task's next levels are loaded ahead from the row as a
// query's are (prefetchFields). The row a write returns carries the tag and
// subtask ids its statement read, so its tags come from memory rather than
// from the tag list the write retired, and no field waits for a loader's
// batching window with the one key it will ever get.
func written(ctx context.Context) func(*domain.Task, error) (*domain.Task, error) {
	return func(t *domain.Task, err error) (*domain.Task, error) {
		loaders.Reset(ctx)
		if err != nil || t == nil || !graphql.HasOperationContext(ctx) || graphql.GetFieldContext(ctx) == nil {
			return t, err
		}
		prefetchFields(ctx, graphql.GetOperationContext(ctx), []*domain.Task{t}, taskFields(ctx))
		return t, nil
	}
}

// subtaskLimit is the LimitKey.Limit of a subtasks selection: -1 without
// first:, the number when it is valid; false when it is not (the resolver
// reports that).
func subtaskLimit(f graphql.CollectedField, vars map[string]any) (int, bool) {
	v, ok := f.ArgumentMap(vars)["first"]
	if !ok || v == nil {
		return -1, true
	}
	var n int64
	switch x := v.(type) {
	case int:
		n = int64(x)
	case int64:
		n = x
	case json.Number:
		var err error
		if n, err = x.Int64(); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if n < 0 || n > domain.MaxPage {
		return 0, false
	}
	return int(n), true
}

func selectsName(fields []graphql.CollectedField, name string) bool {
	for _, f := range fields {
		if f.Name == name {
			return true
		}
	}
	return false
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
