package graph

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/loaders"
)

// Rendered nodes.
//
// A page of tasks is mostly the same tasks from one request to the next:
// a write changes one card of a board, not twenty. Yet gqlgen renders every
// field of every card again, and on a warm entity cache that rendering is
// most of a list's cost (a context, a field context and a marshaler per
// field). NodeMemo keeps the JSON of each task a list rendered, keyed by
// the shape of the selection and the task's id, together with the values
// it was rendered from: the task, its tags, its users, its subtasks and
// their tags, each the very value the request's loaders hold.
//
// The entity cache hands out one shared, never modified value per cached
// row (cache.fetch's decoded values), so a card whose values are the same
// pointers as last time would render to the same bytes, and is written
// from memory. A write gives its task a new value (its row is written
// through and decoded anew), so its cards no longer match and render
// again. Whether a value is current is the entity cache's concern alone:
// the memo never answers from anything the loaders did not hand this
// request, so it keeps every guarantee of the cache it sits behind.
//
// Only what is a function of those values is kept: the selection may
// read a task's own fields (not isOverdue, which follows the clock), its
// assignee and creator (not email, which follows the viewer), its tags,
// and its subtasks with their tags (not dependencies, filtered by the
// viewer). Any other selection renders as gqlgen generated it. It applies
// to TaskConnection.nodes of serial operations (every level loaded ahead).

// memoEntries bounds how many rendered tasks an instance keeps, and
// memoMaxBytes the size of one: a task with hundreds of subtasks renders
// anew each time rather than crowd out the cards.
const (
	memoEntries  = 8192
	memoMaxBytes = 8 << 10
)

// NodeMemo remembers rendered tasks (see above).
type NodeMemo struct {
	schema *executableSchema
	cache  *lru.Cache[memoKey, *memoEntry]
	hits   atomic.Int64
	misses atomic.Int64
}

type memoKey struct{ sig, id string }

type memoEntry struct {
	deps []any // the values it was rendered from, in the plan's order
	out  graphql.Marshaler
}

// rawJSON writes bytes rendered before.
type rawJSON []byte

func (r rawJSON) MarshalGQL(w io.Writer) { _, _ = w.Write(r) }

// NewNodeMemo returns a memo for the executable schema of this package.
func NewNodeMemo(es graphql.ExecutableSchema) *NodeMemo {
	c, _ := lru.New[memoKey, *memoEntry](memoEntries)
	return &NodeMemo{schema: es.(*executableSchema), cache: c}
}

// Stats reports the tasks written from memory and those rendered.
func (m *NodeMemo) Stats() (hits, misses int64) { return m.hits.Load(), m.misses.Load() }

// Middleware is the field middleware (handler.AroundFields) that renders
// TaskConnection.nodes through the memo; every other field passes through.
func (m *NodeMemo) Middleware(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Object != "TaskConnection" || fc.Field.Name != "nodes" || !isSerial(ctx) {
		return next(ctx)
	}
	res, err := next(ctx)
	tasks, ok := res.([]*domain.Task)
	if err != nil || !ok {
		return res, err
	}
	oc := graphql.GetOperationContext(ctx)
	p, ok := planNodes(oc, fc.Field.Selections)
	if !ok {
		return res, nil
	}
	ec := newExecutionContext(oc, m.schema, nil)
	return m.render(ctx, ec, fc.Field.Selections, p, tasks), nil
}

// render is marshalNTask2ᚕ… (the list's generated marshaler) with each
// element taken from the memo when its values are the ones it was
// rendered from.
func (m *NodeMemo) render(ctx context.Context, ec *executionContext, sel ast.SelectionSet, p *memoPlan, tasks []*domain.Task) graphql.Marshaler {
	l := loaders.For(ctx)
	ret := make(graphql.Array, len(tasks))
	var scratch []any
	for i, t := range tasks {
		var deps []any
		if t != nil {
			var ok bool
			if deps, ok = p.deps(ctx, l, t, scratch[:0]); ok {
				scratch = deps
				if e, hit := m.cache.Get(memoKey{p.sig, t.ID}); hit && sameDeps(e.deps, deps) {
					m.hits.Add(1)
					ret[i] = e.out
					continue
				}
			} else {
				deps = nil
			}
		}
		m.misses.Add(1)
		errs := len(graphql.GetErrors(ctx))
		v := renderTask(ctx, ec, sel, tasks, i)
		if v == graphql.Null {
			ret[i] = v
			continue
		}
		var buf bytes.Buffer
		v.MarshalGQL(&buf)
		out := rawJSON(buf.Bytes())
		ret[i] = out
		if deps != nil && buf.Len() <= memoMaxBytes && len(graphql.GetErrors(ctx)) == errs {
			m.cache.Add(memoKey{p.sig, t.ID}, &memoEntry{deps: append([]any(nil), deps...), out: out})
		}
	}
	for _, e := range ret {
		if e == graphql.Null {
			return graphql.Null
		}
	}
	return ret
}

// renderTask renders element i as the generated list marshaler does: its
// own field context (index and value), a panic in it made its error.
func renderTask(ctx context.Context, ec *executionContext, sel ast.SelectionSet, tasks []*domain.Task, i int) (ret graphql.Marshaler) {
	ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i, Result: &tasks[i]})
	defer func() {
		if r := recover(); r != nil {
			graphql.AddError(ctx, graphql.Recover(ctx, r))
			ret = graphql.Null
		}
	}()
	return ec.marshalNTask2ᚖgithubᚗcomᚋherotasksᚋapiᚋdomainᚐTask(ctx, sel, tasks[i])
}

func sameDeps(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// memoPlan is what a task's rendering under one selection reads: sig names
// the selection (every field's alias and name, and the subtasks' limit, in
// order), so two selections that render alike share it.
type memoPlan struct {
	sig                 string
	tags                bool
	assignee, createdBy bool
	subtasks            []subtaskPlan
}

type subtaskPlan struct {
	limit int
	tags  bool
}

// deps appends the values a task renders from to buf; false when one of
// them could not be loaded (the task then renders as usual, reporting it).
func (p *memoPlan) deps(ctx context.Context, l *loaders.Loaders, t *domain.Task, buf []any) ([]any, bool) {
	buf = append(buf, t)
	if p.tags {
		tags, err := l.TagsByTaskID().Load(ctx, t.ID)
		if err != nil {
			return nil, false
		}
		buf = appendList(buf, tags)
	}
	for _, u := range [2]struct {
		on bool
		id *string
	}{{p.assignee, t.AssigneeID}, {p.createdBy, t.CreatedByID}} {
		if u.on && u.id != nil {
			user, err := loaders.Get(ctx, l.UserByID(), *u.id)
			if err != nil {
				return nil, false
			}
			buf = append(buf, user)
		}
	}
	for _, sp := range p.subtasks {
		subs, err := l.SubtasksByTaskID().Load(ctx, loaders.LimitKey{ID: t.ID, Limit: sp.limit})
		if err != nil {
			return nil, false
		}
		buf = appendList(buf, subs)
		if sp.tags {
			for _, s := range subs {
				tags, err := l.TagsBySubtaskID().Load(ctx, s.ID)
				if err != nil {
					return nil, false
				}
				buf = appendList(buf, tags)
			}
		}
	}
	return buf, true
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

// Fields whose value follows from their object's row alone.
var (
	memoTaskFields = fieldSet("__typename", "id", "number", "title", "description", "status", "priority", "type",
		"phase", "visibility", "dueDate", "startedAt", "completedAt", "createdAt", "updatedAt", "estimatedHours",
		"actualHours", "version")
	memoSubtaskFields = fieldSet("__typename", "id", "number", "title", "description", "status", "priority",
		"position", "version", "completedAt", "createdAt", "updatedAt")
	memoUserFields = fieldSet("__typename", "id", "name", "role", "createdAt")
	memoTagFields  = fieldSet("__typename", "id", "name", "color")
)

func fieldSet(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// planNodes walks a task selection; false when it reads anything the memo
// may not keep (see the package comment above).
func planNodes(oc *graphql.OperationContext, sel ast.SelectionSet) (*memoPlan, bool) {
	p := &memoPlan{}
	var b strings.Builder
	w := memoWalk{oc: oc, b: &b}
	fs, ok := w.fields(sel, taskImplementors)
	if !ok {
		return nil, false
	}
	for _, f := range fs {
		w.name(f)
		switch {
		case memoTaskFields[f.Name]:
		case f.Name == "tags":
			p.tags = true
			if !w.leaf(f.Selections, tagImplementors, memoTagFields) {
				return nil, false
			}
		case f.Name == "assignee" || f.Name == "createdBy":
			if f.Name == "assignee" {
				p.assignee = true
			} else {
				p.createdBy = true
			}
			if !w.leaf(f.Selections, userImplementors, memoUserFields) {
				return nil, false
			}
		case f.Name == "subtasks":
			limit, valid := subtaskLimit(f, oc.Variables)
			if !valid {
				return nil, false
			}
			b.WriteString("(" + strconv.Itoa(limit) + ")")
			sp, ok := w.subtasks(f.Selections)
			if !ok {
				return nil, false
			}
			sp.limit = limit
			p.subtasks = append(p.subtasks, sp)
		default:
			return nil, false
		}
		b.WriteByte(';')
	}
	p.sig = b.String()
	return p, true
}

type memoWalk struct {
	oc *graphql.OperationContext
	b  *strings.Builder
}

func (w memoWalk) fields(sel ast.SelectionSet, implementors []string) ([]graphql.CollectedField, bool) {
	fs := graphql.CollectFields(w.oc, sel, implementors)
	for _, f := range fs {
		if len(f.Deferrables) > 0 {
			return nil, false
		}
	}
	return fs, true
}

func (w memoWalk) name(f graphql.CollectedField) {
	w.b.WriteString(f.Alias)
	w.b.WriteByte(':')
	w.b.WriteString(f.Name)
}

func (w memoWalk) leaf(sel ast.SelectionSet, implementors []string, allowed map[string]bool) bool {
	fs, ok := w.fields(sel, implementors)
	if !ok {
		return false
	}
	w.b.WriteByte('{')
	for _, f := range fs {
		if !allowed[f.Name] {
			return false
		}
		w.name(f)
		w.b.WriteByte(';')
	}
	w.b.WriteByte('}')
	return true
}

func (w memoWalk) subtasks(sel ast.SelectionSet) (subtaskPlan, bool) {
	var sp subtaskPlan
	fs, ok := w.fields(sel, subtaskImplementors)
	if !ok {
		return sp, false
	}
	w.b.WriteByte('{')
	for _, f := range fs {
		w.name(f)
		switch {
		case memoSubtaskFields[f.Name]:
		case f.Name == "tags":
			sp.tags = true
			if !w.leaf(f.Selections, tagImplementors, memoTagFields) {
				return sp, false
			}
		default:
			return sp, false
		}
		w.b.WriteByte(';')
	}
	w.b.WriteByte('}')
	return sp, true
}
