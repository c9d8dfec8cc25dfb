package graph

import (
	"bytes"
	"context"
	"math"
	"sync/atomic"

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
// selection also compiles it, once per operation, into a writer per field
// of each level, and a task is then written straight from its values (its
// row, tags, users, subtasks and their tags, visible dependencies): each
// scalar through the very marshaler gqlgen's generated code calls for it,
// with the same keys, order and separators, so the bytes are the same.
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

// The fields each object renders from its own value: the value and the
// marshaler of the generated _Type_field functions. These tables are also
// what the memo accepts below a task (memo.go).
var (
	taskScalars = map[string]scalar[domain.Task]{
		"__typename": typename[domain.Task]("Task"),
		"id": func(ec *executionContext, ctx context.Context, t *domain.Task) graphql.Marshaler {
			return ec.marshalNID2string(ctx, nil, t.ID)
		},
		"number": func(ec *executionContext, ctx context.Context, t *domain.Task) graphql.Marshaler {
			return ec.marshalNString2string(ctx, nil, t.Number())
		},
		"title": func(ec *executionContext, ctx context.Context, t *domain.Task) graphql.Marshaler {
			return ec.marshalNString2string(ctx, nil, t.Title)
		},
		"description": func(ec *executionContext, ctx context.Context, t *domain.Task) graphql.Marshaler {
			return ec.marshalNString2string(ctx, nil, t.Description)
		},
		"status": func(ec *executionContext, ctx context.Context, t *domain.Task) graphql.Marshaler {
			return ec.marshalNTaskStatus2githubᚗcomᚋherotasksᚋapiᚋdomainᚐTaskStatus(ctx, nil, t.Status)
		},
		"priority": func(ec *executionContext, ctx context.Context, t *domain.Task) graphql.Marshaler {
			return ec.marshalNTaskPriority2githubᚗcomᚋherotasksᚋapiᚋdomainᚐTaskPriority(ctx, nil, t.Priority)
		},
		"type": func(ec *executionContext, ctx context.Context, t *domain.Task) graphql.Marshaler {
			return ec.marshalNTaskType2githubᚗcomᚋherotasksᚋapiᚋdomainᚐTaskType(ctx, nil, t.Type)
		},
		"phase": func(ec *executionContext, ctx context.Context, t *domain.Task) graphql.Marshaler {
			return ec.marshalNWorkflowPhase2githubᚗcomᚋherotasksᚋapiᚋdomainᚐWorkflowPhase(ctx, nil, t.Phase)
		},
		"visibility": func(ec *executionContext, ctx context.Context, t *domain.Task) graphql.Marshaler {
			return ec.marshalNVisibility2githubᚗcomᚋherotasksᚋapiᚋdomainᚐVisibility(ctx, nil, t.Visibility)
		},
		"dueDate": func(ec *executionContext, ctx context.Context, t *domain.Task) graphql.Marshaler {
			return ec.marshalOTime2ᚖtimeᚐTime(ctx, nil, t.DueDate)
		},
		"startedAt": func(ec *executionContext, ctx context.Context, t *domain.Task) graphql.Marshaler {
			return ec.marshalOTime2ᚖtimeᚐTime(ctx, nil, t.StartedAt)
		},
		"completedAt": func(ec *executionContext, ctx context.Context, t *domain.Task) graphql.Marshaler {
			return ec.marshalOTime2ᚖtimeᚐTime(ctx, nil, t.CompletedAt)
		},
		"createdAt": func(ec *executionContext, ctx context.Context, t *domain.Task) graphql.Marshaler {
			return ec.marshalNTime2timeᚐTime(ctx, nil, t.CreatedAt)
		},
		"updatedAt": func(ec *executionContext, ctx context.Context, t *domain.Task) graphql.Marshaler {
			return ec.marshalNTime2timeᚐTime(ctx, nil, t.UpdatedAt)
		},
		"estimatedHours": func(ec *executionContext, ctx context.Context, t *domain.Task) graphql.Marshaler {
			return hours(ec, ctx, t.EstimatedHours)
		},
		"actualHours": func(ec *executionContext, ctx context.Context, t *domain.Task) graphql.Marshaler {
			return hours(ec, ctx, t.ActualHours)
		},
		"version": func(ec *executionContext, ctx context.Context, t *domain.Task) graphql.Marshaler {
			return ec.marshalNInt2int(ctx, nil, t.Version)
		},
	}
	subtaskScalars = map[string]scalar[domain.Subtask]{
		"__typename": typename[domain.Subtask]("Subtask"),
		"id": func(ec *executionContext, ctx context.Context, s *domain.Subtask) graphql.Marshaler {
			return ec.marshalNID2string(ctx, nil, s.ID)
		},
		"number": func(ec *executionContext, ctx context.Context, s *domain.Subtask) graphql.Marshaler {
			return ec.marshalNString2string(ctx, nil, s.Number())
		},
		"title": func(ec *executionContext, ctx context.Context, s *domain.Subtask) graphql.Marshaler {
			return ec.marshalNString2string(ctx, nil, s.Title)
		},
		"description": func(ec *executionContext, ctx context.Context, s *domain.Subtask) graphql.Marshaler {
			return ec.marshalNString2string(ctx, nil, s.Description)
		},
		"status": func(ec *executionContext, ctx context.Context, s *domain.Subtask) graphql.Marshaler {
			return ec.marshalNTaskStatus2githubᚗcomᚋherotasksᚋapiᚋdomainᚐTaskStatus(ctx, nil, s.Status)
		},
		"priority": func(ec *executionContext, ctx context.Context, s *domain.Subtask) graphql.Marshaler {
			return ec.marshalNTaskPriority2githubᚗcomᚋherotasksᚋapiᚋdomainᚐTaskPriority(ctx, nil, s.Priority)
		},
		"position": func(ec *executionContext, ctx context.Context, s *domain.Subtask) graphql.Marshaler {
			return ec.marshalNInt2int(ctx, nil, s.Position)
		},
		"version": func(ec *executionContext, ctx context.Context, s *domain.Subtask) graphql.Marshaler {
			return ec.marshalNInt2int(ctx, nil, s.Version)
		},
		"completedAt": func(ec *executionContext, ctx context.Context, s *domain.Subtask) graphql.Marshaler {
			return ec.marshalOTime2ᚖtimeᚐTime(ctx, nil, s.CompletedAt)
		},
		"createdAt": func(ec *executionContext, ctx context.Context, s *domain.Subtask) graphql.Marshaler {
			return ec.marshalNTime2timeᚐTime(ctx, nil, s.CreatedAt)
		},
		"updatedAt": func(ec *executionContext, ctx context.Context, s *domain.Subtask) graphql.Marshaler {
			return ec.marshalNTime2timeᚐTime(ctx, nil, s.UpdatedAt)
		},
	}
	userScalars = map[string]scalar[domain.User]{
		"__typename": typename[domain.User]("User"),
		"id": func(ec *executionContext, ctx context.Context, u *domain.User) graphql.Marshaler {
			return ec.marshalNID2string(ctx, nil, u.ID)
		},
		"name": func(ec *executionContext, ctx context.Context, u *domain.User) graphql.Marshaler {
			return ec.marshalNString2string(ctx, nil, u.Name)
		},
		"role": func(ec *executionContext, ctx context.Context, u *domain.User) graphql.Marshaler {
			return ec.marshalNRole2githubᚗcomᚋherotasksᚋapiᚋdomainᚐRole(ctx, nil, u.Role)
		},
		"createdAt": func(ec *executionContext, ctx context.Context, u *domain.User) graphql.Marshaler {
			return ec.marshalNTime2timeᚐTime(ctx, nil, u.CreatedAt)
		},
	}
	tagScalars = map[string]scalar[domain.Tag]{
		"__typename": typename[domain.Tag]("Tag"),
		"id": func(ec *executionContext, ctx context.Context, g *domain.Tag) graphql.Marshaler {
			return ec.marshalNID2string(ctx, nil, g.ID)
		},
		"name": func(ec *executionContext, ctx context.Context, g *domain.Tag) graphql.Marshaler {
			return ec.marshalNString2string(ctx, nil, g.Name)
		},
		"color": func(ec *executionContext, ctx context.Context, g *domain.Tag) graphql.Marshaler {
			return ec.marshalNString2string(ctx, nil, g.Color)
		},
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
	write func(ec *executionContext, ctx context.Context, w *bytes.Buffer, v *nodeValues) bool
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
