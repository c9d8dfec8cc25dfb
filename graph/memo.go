package graph

import (
	"bytes"
	"context"
	"io"
	"slices"
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
// field). NodeMemo keeps the JSON of each task it rendered, keyed by the
// shape of the selection and the task's id, together with the values it
// was rendered from: the task, its tags, its users, its subtasks and their
// tags, the dependencies the viewer may see, each the very value the
// request's loaders hold.
//
// The entity cache hands out one shared, never modified value per cached
// row (cache.fetch's decoded values), so a task whose values are the same
// pointers as last time would render to the same bytes, and is written
// from memory. A write gives its task a new value (its row is written
// through and decoded anew), so it no longer matches and renders again.
// Whether a value is current is the entity cache's concern alone: the memo
// never answers from anything the loaders did not hand this request, so
// it keeps every guarantee of the cache it sits behind. And what a viewer
// may see is in the values compared: the dependencies are compared as the
// resolver filters them for this viewer.
//
// Only what is a function of those values is kept: the selection may
// read a task's own fields (not isOverdue, which follows the clock), its
// assignee and creator (not email, which follows the viewer), its tags,
// its subtasks with their tags, and its dependencies' and dependents' own
// fields. Any other selection renders as gqlgen generated it. It applies
// to the tasks of a page (nodes, edges' node) and a root task by id of
// serial operations (every level loaded ahead, graph/serial.go).

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
	shared func(*domain.Task) bool
	cache  *lru.Cache[memoKey, *memoEntry]
	hits   atomic.Int64
	misses atomic.Int64
	skips  atomic.Int64
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
// shared tells a task value the entity cache hands to every reader of the
// same bytes (cache.Cache.Shared) from one read for this request alone (a
// page the cache does not answer): only the former is kept, since the
// latter would never be seen again.
func NewNodeMemo(es graphql.ExecutableSchema, shared func(*domain.Task) bool) *NodeMemo {
	c, _ := lru.New[memoKey, *memoEntry](memoEntries)
	return &NodeMemo{schema: es.(*executableSchema), shared: shared, cache: c}
}

// Stats reports the tasks written from memory, those rendered and kept,
// and those rendered without the memo (values read for one request).
func (m *NodeMemo) Stats() (hits, misses, skips int64) {
	return m.hits.Load(), m.misses.Load(), m.skips.Load()
}

// Middleware is the field middleware (handler.AroundFields) that renders
// tasks through the memo: a page's (TaskConnection.nodes), an edge's
// (TaskEdge.node) and a root task by id (Query.task) of a serial
// operation. Every other field passes through.
func (m *NodeMemo) Middleware(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return next(ctx)
	}
	var marshal func(ec *executionContext, ctx context.Context, sel ast.SelectionSet, t *domain.Task) graphql.Marshaler
	switch {
	case fc.Object == "TaskConnection" && fc.Field.Name == "nodes":
	case fc.Object == "TaskEdge" && fc.Field.Name == "node":
		marshal = (*executionContext).marshalNTask2ᚖgithubᚗcomᚋherotasksᚋapiᚋdomainᚐTask
	case fc.Object == "Query" && fc.Field.Name == "task":
		// Not taskByNumber: it reads its task from PostgreSQL, a new
		// value each time, which would never match.
		marshal = (*executionContext).marshalOTask2ᚖgithubᚗcomᚋherotasksᚋapiᚋdomainᚐTask
	default:
		return next(ctx)
	}
	if !isSerial(ctx) {
		return next(ctx)
	}
	res, err := next(ctx)
	if err != nil {
		return res, err
	}
	oc := graphql.GetOperationContext(ctx)
	sel := fc.Field.Selections
	switch v := res.(type) {
	case []*domain.Task:
		if p, ok := operationPlan(ctx, oc, fc.Field.Field, sel); ok && marshal == nil {
			return m.list(ctx, newExecutionContext(oc, m.schema, nil), sel, p, v), nil
		}
	case *domain.Task:
		if p, ok := operationPlan(ctx, oc, fc.Field.Field, sel); ok && marshal != nil && v != nil {
			ec := newExecutionContext(oc, m.schema, nil)
			return m.one(ctx, loaders.For(ctx), p, v, nil, func(ctx context.Context) graphql.Marshaler {
				return marshal(ec, ctx, sel, v)
			}), nil
		}
	}
	return res, nil
}

// list is marshalNTask2ᚕ… (a page's generated marshaler) with each task
// through the memo.
func (m *NodeMemo) list(ctx context.Context, ec *executionContext, sel ast.SelectionSet, p *memoPlan, tasks []*domain.Task) graphql.Marshaler {
	l := loaders.For(ctx)
	ret := make(graphql.Array, len(tasks))
	var scratch []any
	for i, t := range tasks {
		render := func(ctx context.Context) graphql.Marshaler { return renderTask(ctx, ec, sel, tasks, i) }
		if t == nil {
			ret[i] = render(ctx)
			continue
		}
		ret[i] = m.one(ctx, l, p, t, &scratch, render)
	}
	for _, e := range ret {
		if e == graphql.Null {
			return graphql.Null
		}
	}
	return ret
}

// one answers a task from the memo when the values it renders from are
// the ones it was rendered from, else renders it and keeps the result
// (unless its rendering reported an error). scratch, when not nil, is
// space to reuse.
func (m *NodeMemo) one(ctx context.Context, l *loaders.Loaders, p *memoPlan, t *domain.Task, scratch *[]any,
	render func(ctx context.Context) graphql.Marshaler) graphql.Marshaler {
	if !m.shared(t) {
		m.skips.Add(1)
		return render(ctx)
	}
	var buf []any
	if scratch != nil {
		buf = (*scratch)[:0]
	}
	deps, ok := p.deps(ctx, l, t, buf)
	if ok && scratch != nil {
		*scratch = deps
	}
	key := memoKey{p.sig, t.ID}
	if ok {
		if e, hit := m.cache.Get(key); hit && slices.Equal(e.deps, deps) {
			m.hits.Add(1)
			return e.out
		}
	}
	m.misses.Add(1)
	errs := len(graphql.GetErrors(ctx))
	v := render(ctx)
	if v == graphql.Null || !ok {
		return v // nothing to keep: no copy
	}
	var b bytes.Buffer
	v.MarshalGQL(&b)
	out := rawJSON(b.Bytes())
	if b.Len() <= memoMaxBytes && len(graphql.GetErrors(ctx)) == errs {
		m.cache.Add(key, &memoEntry{deps: append([]any(nil), deps...), out: out})
	}
	return out
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

// memoPlan is what a task's rendering under one selection reads: sig names
// the selection (every field's alias and name, and the subtasks' limit, in
// order), so two selections that render alike share it.
type memoPlan struct {
	sig                      string
	tags                     bool
	assignee, createdBy      bool
	dependencies, dependents bool
	subtasks                 []subtaskPlan
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
	if p.dependencies {
		tasks, err := l.DependenciesByTaskID().Load(ctx, t.ID)
		if err != nil {
			return nil, false
		}
		buf = appendList(buf, visible(ctx, tasks)) // as the resolver filters them
	}
	if p.dependents {
		tasks, err := l.DependentsByTaskID().Load(ctx, t.ID)
		if err != nil {
			return nil, false
		}
		buf = appendList(buf, visible(ctx, tasks))
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

// memoLeaves are a task's fields below which the memo keeps only their
// objects' own fields: the dependencies' and dependents' too, since the
// lookahead loads no level below them (and what they show follows the
// viewer: the resolver drops the tasks it may not see, and deps compares
// them as it does).
var memoLeaves = map[string]struct {
	flag         func(*memoPlan) *bool
	implementors []string
	allowed      map[string]bool
}{
	"tags":         {func(p *memoPlan) *bool { return &p.tags }, tagImplementors, memoTagFields},
	"assignee":     {func(p *memoPlan) *bool { return &p.assignee }, userImplementors, memoUserFields},
	"createdBy":    {func(p *memoPlan) *bool { return &p.createdBy }, userImplementors, memoUserFields},
	"dependencies": {func(p *memoPlan) *bool { return &p.dependencies }, taskImplementors, memoTaskFields},
	"dependents":   {func(p *memoPlan) *bool { return &p.dependents }, taskImplementors, memoTaskFields},
}

func fieldSet(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// operationPlan is planNodes for field f of the running serial operation,
// made once per operation (serialState).
func operationPlan(ctx context.Context, oc *graphql.OperationContext, f *ast.Field, sel ast.SelectionSet) (*memoPlan, bool) {
	st, _ := ctx.Value(serialKey{}).(*serialState)
	if st == nil || f == nil {
		return planNodes(oc, sel)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, pl := range st.plans[f] {
		if slices.Equal(pl.sel, sel) {
			return pl.plan, pl.ok
		}
	}
	p, ok := planNodes(oc, sel)
	if st.plans == nil {
		st.plans = map[*ast.Field][]plannedNodes{}
	}
	st.plans[f] = append(st.plans[f], plannedNodes{sel, p, ok})
	return p, ok
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
		case memoLeaves[f.Name].flag != nil:
			leaf := memoLeaves[f.Name]
			*leaf.flag(p) = true
			if !w.leaf(f.Selections, leaf.implementors, leaf.allowed) {
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

// fields collects sel as gqlgen does; false on @defer, and on a field with
// arguments other than the subtasks' limit (which the shape names): the
// shape names fields by alias and name only.
func (w memoWalk) fields(sel ast.SelectionSet, implementors []string) ([]graphql.CollectedField, bool) {
	fs := graphql.CollectFields(w.oc, sel, implementors)
	for _, f := range fs {
		if len(f.Deferrables) > 0 || (len(f.Arguments) > 0 && f.Name != "subtasks") {
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
