package graph

import (
	"bytes"
	"context"
	"math"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/loaders"
)

// Direct rendering.
//
// gqlgen writes every field through graphql.ResolveField: a field context,
// a derived context, closures and a boxed result per field, and a map per
// object (marshalFieldSet's check for a repeated alias). A nested page is
// about 2,000 fields, and that machinery and the garbage it leaves were
// most of the server's CPU for it.
//
// The memo's plan (memo.go) already names the task selections whose every
// field follows from values the request's loaders hold. Planning such a
// selection also compiles it, once per shape of operation (shape.go), into
// a writer per field of each level, and a task is then written straight
// from its values (its row, tags, users, subtasks and their tags, visible
// dependencies): each scalar through the very marshaler gqlgen's generated
// code calls for it, with the same keys, order and separators, so the
// bytes are the same.
// A value gqlgen would answer with an error instead (a NaN number, a nil
// element of a non-null list) makes the writer give up, and the task
// renders as generated, reporting it. TestDirectRenderingMatchesGqlgen
// compares the two on every field the plan accepts.

// directOff turns direct rendering off, and directRenders counts the tasks
// it wrote: the test that compares it with gqlgen's rendering uses both.
var (
	directOff     atomic.Bool
	directRenders atomic.Int64
)

// scalar writes one field of an object of type T, or returns nil when
// gqlgen would not render it as a plain value.
type scalar[T any] func(ec *executionContext, ctx context.Context, v *T) graphql.Marshaler

func typename[T any](name string) scalar[T] {
	return func(*executionContext, context.Context, *T) graphql.Marshaler { return graphql.MarshalString(name) }
}

// hours is marshalOFloat2ᚖfloat64, which reports NaN and infinities as an
// error at the field's path: those render as generated.
func hours(ec *executionContext, ctx context.Context, v *float64) graphql.Marshaler {
	if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
		return nil
	}
	return ec.marshalOFloat2ᚖfloat64(ctx, nil, v)
}

// Scalars of an object read from its own value, through the generated
// marshaler of their GraphQL type.
func idField[T any](get func(*T) string) scalar[T] {
	return func(ec *executionContext, ctx context.Context, v *T) graphql.Marshaler {
		return ec.marshalNID2string(ctx, nil, get(v))
	}
}

func stringField[T any](get func(*T) string) scalar[T] {
	return func(ec *executionContext, ctx context.Context, v *T) graphql.Marshaler {
		return ec.marshalNString2string(ctx, nil, get(v))
	}
}

func intField[T any](get func(*T) int) scalar[T] {
	return func(ec *executionContext, ctx context.Context, v *T) graphql.Marshaler {
		return ec.marshalNInt2int(ctx, nil, get(v))
	}
}

func timeField[T any](get func(*T) time.Time) scalar[T] {
	return func(ec *executionContext, ctx context.Context, v *T) graphql.Marshaler {
		return ec.marshalNTime2timeᚐTime(ctx, nil, get(v))
	}
}

func optionalTimeField[T any](get func(*T) *time.Time) scalar[T] {
	return func(ec *executionContext, ctx context.Context, v *T) graphql.Marshaler {
		return ec.marshalOTime2ᚖtimeᚐTime(ctx, nil, get(v))
	}
}

func hoursField[T any](get func(*T) *float64) scalar[T] {
	return func(ec *executionContext, ctx context.Context, v *T) graphql.Marshaler {
		return hours(ec, ctx, get(v))
	}
}

// enumField is an enum, which marshals itself.
func enumField[T any, E graphql.Marshaler](get func(*T) E) scalar[T] {
	return func(_ *executionContext, _ context.Context, v *T) graphql.Marshaler { return get(v) }
}

// The fields each object renders from its own value: the value and the
// marshaler of the generated _Type_field functions. These tables are also
// what the memo accepts below a task (memo.go).
var (
	taskScalars = map[string]scalar[domain.Task]{
		"__typename":     typename[domain.Task]("Task"),
		"id":             idField(func(t *domain.Task) string { return t.ID }),
		"number":         stringField((*domain.Task).Number),
		"title":          stringField(func(t *domain.Task) string { return t.Title }),
		"description":    stringField(func(t *domain.Task) string { return t.Description }),
		"status":         enumField(func(t *domain.Task) domain.TaskStatus { return t.Status }),
		"priority":       enumField(func(t *domain.Task) domain.TaskPriority { return t.Priority }),
		"type":           enumField(func(t *domain.Task) domain.TaskType { return t.Type }),
		"phase":          enumField(func(t *domain.Task) domain.WorkflowPhase { return t.Phase }),
		"visibility":     enumField(func(t *domain.Task) domain.Visibility { return t.Visibility }),
		"dueDate":        optionalTimeField(func(t *domain.Task) *time.Time { return t.DueDate }),
		"startedAt":      optionalTimeField(func(t *domain.Task) *time.Time { return t.StartedAt }),
		"completedAt":    optionalTimeField(func(t *domain.Task) *time.Time { return t.CompletedAt }),
		"createdAt":      timeField(func(t *domain.Task) time.Time { return t.CreatedAt }),
		"updatedAt":      timeField(func(t *domain.Task) time.Time { return t.UpdatedAt }),
		"estimatedHours": hoursField(func(t *domain.Task) *float64 { return t.EstimatedHours }),
		"actualHours":    hoursField(func(t *domain.Task) *float64 { return t.ActualHours }),
		"version":        intField(func(t *domain.Task) int { return t.Version }),
	}
	subtaskScalars = map[string]scalar[domain.Subtask]{
		"__typename":  typename[domain.Subtask]("Subtask"),
		"id":          idField(func(s *domain.Subtask) string { return s.ID }),
		"number":      stringField((*domain.Subtask).Number),
		"title":       stringField(func(s *domain.Subtask) string { return s.Title }),
		"description": stringField(func(s *domain.Subtask) string { return s.Description }),
		"status":      enumField(func(s *domain.Subtask) domain.TaskStatus { return s.Status }),
		"priority":    enumField(func(s *domain.Subtask) domain.TaskPriority { return s.Priority }),
		"position":    intField(func(s *domain.Subtask) int { return s.Position }),
		"version":     intField(func(s *domain.Subtask) int { return s.Version }),
		"completedAt": optionalTimeField(func(s *domain.Subtask) *time.Time { return s.CompletedAt }),
		"createdAt":   timeField(func(s *domain.Subtask) time.Time { return s.CreatedAt }),
		"updatedAt":   timeField(func(s *domain.Subtask) time.Time { return s.UpdatedAt }),
	}
	userScalars = map[string]scalar[domain.User]{
		"__typename": typename[domain.User]("User"),
		"id":         idField(func(u *domain.User) string { return u.ID }),
		"name":       stringField(func(u *domain.User) string { return u.Name }),
		"role":       enumField(func(u *domain.User) domain.Role { return u.Role }),
		"createdAt":  timeField(func(u *domain.User) time.Time { return u.CreatedAt }),
	}
	tagScalars = map[string]scalar[domain.Tag]{
		"__typename": typename[domain.Tag]("Tag"),
		"id":         idField(func(g *domain.Tag) string { return g.ID }),
		"name":       stringField(func(g *domain.Tag) string { return g.Name }),
		"color":      stringField(func(g *domain.Tag) string { return g.Color }),
	}
)

// nodeValues are what a task renders from under one plan, as the
// resolvers would return them to this request.
type nodeValues struct {
	task                     *domain.Task
	tags                     []*domain.Tag
	assignee, createdBy      *domain.User
	dependencies, dependents []*domain.Task
	subtasks                 []subtaskValues // one per memoPlan.subtasks
}

type subtaskValues struct {
	subs []*domain.Subtask
	tags [][]*domain.Tag // each subtask's, when the plan reads them
}

// load reads a task's values from the request's loaders (every level is
// loaded ahead in a serial operation: these are lookups); false when one
// of them could not be loaded (the task then renders as usual, reporting
// it).
func (p *memoPlan) load(ctx context.Context, l *loaders.Loaders, t *domain.Task) (nodeValues, bool) {
	v := nodeValues{task: t}
	var err error
	if p.tags {
		if v.tags, err = l.TagsByTaskID().Load(ctx, t.ID); err != nil {
			return v, false
		}
	}
	if p.assignee && t.AssigneeID != nil {
		if v.assignee, err = loaders.Get(ctx, l.UserByID(), *t.AssigneeID); err != nil {
			return v, false
		}
	}
	if p.createdBy && t.CreatedByID != nil {
		if v.createdBy, err = loaders.Get(ctx, l.UserByID(), *t.CreatedByID); err != nil {
			return v, false
		}
	}
	if p.dependencies {
		tasks, err := l.DependenciesByTaskID().Load(ctx, t.ID)
		if err != nil {
			return v, false
		}
		v.dependencies = visible(ctx, tasks) // as the resolver filters them
	}
	if p.dependents {
		tasks, err := l.DependentsByTaskID().Load(ctx, t.ID)
		if err != nil {
			return v, false
		}
		v.dependents = visible(ctx, tasks)
	}
	if len(p.subtasks) > 0 {
		v.subtasks = make([]subtaskValues, len(p.subtasks))
	}
	for i, sp := range p.subtasks {
		subs, err := l.SubtasksByTaskID().Load(ctx, loaders.LimitKey{ID: t.ID, Limit: sp.limit})
		if err != nil {
			return v, false
		}
		v.subtasks[i].subs = subs
		if sp.tags {
			v.subtasks[i].tags = make([][]*domain.Tag, len(subs))
			for j, s := range subs {
				if s == nil {
					return v, false
				}
				if v.subtasks[i].tags[j], err = l.TagsBySubtaskID().Load(ctx, s.ID); err != nil {
					return v, false
				}
			}
		}
	}
	return v, true
}

// deps appends the values to buf in the plan's order: what the memo
// compares a kept rendering's values with.
func (p *memoPlan) deps(v *nodeValues, buf []any) []any {
	buf = append(buf, v.task)
	if p.tags {
		buf = appendList(buf, v.tags)
	}
	if p.assignee {
		buf = append(buf, v.assignee)
	}
	if p.createdBy {
		buf = append(buf, v.createdBy)
	}
	if p.dependencies {
		buf = appendList(buf, v.dependencies)
	}
	if p.dependents {
		buf = appendList(buf, v.dependents)
	}
	for i, sp := range p.subtasks {
		buf = appendList(buf, v.subtasks[i].subs)
		if sp.tags {
			for _, tags := range v.subtasks[i].tags {
				buf = appendList(buf, tags)
			}
		}
	}
	return buf
}

// appendList appends a list's length, then its elements: lengths keep two
// lists of different splits (a subtask's tags moving to the next) apart.
func appendList[T any](buf []any, list []*T) []any {
	buf = append(buf, len(list))
	for _, v := range list {
		buf = append(buf, v)
	}
	return buf
}

// objectField is one compiled field of an object written from its own
// value: its key (the alias as JSON and a colon) and its scalar.
type objectField[T any] struct {
	key   string
	value scalar[T]
}

// taskField is one compiled field of a task: its key and what writes its
// value from the task's values.
type taskField struct {
	key   string
	write fieldWriter
}

// subtaskField is one compiled field of a subtask: a scalar, or its tags.
type subtaskField struct {
	key   string
	value scalar[domain.Subtask]
	tags  []objectField[domain.Tag]
}

// jsonKey is a field's key as gqlgen writes it: an alias is a GraphQL
// name (letters, digits and underscores), which JSON quotes as it is.
func jsonKey(alias string) string {
	return `"` + alias + `":`
}

func writeObject[T any](ec *executionContext, ctx context.Context, w *bytes.Buffer, fields []objectField[T], v *T) bool {
	if v == nil {
		return false
	}
	w.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(f.key)
		m := f.value(ec, ctx, v)
		if m == nil {
			return false
		}
		m.MarshalGQL(w)
	}
	w.WriteByte('}')
	return true
}

// writeList writes a non-null list of non-null objects; a nil element,
// which gqlgen answers with an error, gives up.
func writeList[T any](ec *executionContext, ctx context.Context, w *bytes.Buffer, fields []objectField[T], list []*T) bool {
	w.WriteByte('[')
	for i, v := range list {
		if i > 0 {
			w.WriteByte(',')
		}
		if !writeObject(ec, ctx, w, fields, v) {
			return false
		}
	}
	w.WriteByte(']')
	return true
}

// writeUser writes a nullable user.
func writeUser(ec *executionContext, ctx context.Context, w *bytes.Buffer, fields []objectField[domain.User], u *domain.User) bool {
	if u == nil {
		w.WriteString("null")
		return true
	}
	return writeObject(ec, ctx, w, fields, u)
}

func writeSubtasks(ec *executionContext, ctx context.Context, w *bytes.Buffer, fields []subtaskField, sv subtaskValues) bool {
	w.WriteByte('[')
	for i, s := range sv.subs {
		if s == nil {
			return false
		}
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteByte('{')
		for j, f := range fields {
			if j > 0 {
				w.WriteByte(',')
			}
			w.WriteString(f.key)
			if f.value == nil {
				if !writeList(ec, ctx, w, f.tags, sv.tags[i]) {
					return false
				}
				continue
			}
			m := f.value(ec, ctx, s)
			if m == nil {
				return false
			}
			m.MarshalGQL(w)
		}
		w.WriteByte('}')
	}
	w.WriteByte(']')
	return true
}

// render writes a task from its values into w and returns the bytes it
// wrote; false (w as it was) when a value must render as generated. A
// panic in a marshaler gives up too: the generated path then meets it and
// answers it at the field's path.
func (p *memoPlan) render(ec *executionContext, ctx context.Context, w *bytes.Buffer, v *nodeValues) (out rawJSON, ok bool) {
	if directOff.Load() {
		return nil, false
	}
	start := w.Len()
	defer func() {
		if r := recover(); r != nil || !ok {
			w.Truncate(start)
			out, ok = nil, false
		}
	}()
	w.WriteByte('{')
	for i, f := range p.fields {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(f.key)
		if !f.write(ec, ctx, w, v) {
			return nil, false
		}
	}
	w.WriteByte('}')
	directRenders.Add(1)
	b := w.Bytes()
	return rawJSON(b[start:len(b):len(b)]), true
}
