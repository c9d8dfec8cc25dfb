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
			return m.one(ctx, ec, loaders.For(ctx), p, v, nil, nil, func(ctx context.Context) graphql.Marshaler {
				return marshal(ec, ctx, sel, v)
			}), nil
		}
	}
	return res, nil
}

// list is marshalNTask2ᚕ… (a page's generated marshaler) with each task
// through the memo, and those it renders written into one buffer.
func (m *NodeMemo) list(ctx context.Context, ec *executionContext, sel ast.SelectionSet, p *memoPlan, tasks []*domain.Task) graphql.Marshaler {
	l := loaders.For(ctx)
	ret := make(graphql.Array, len(tasks))
	var scratch []any
	var w bytes.Buffer
	for i, t := range tasks {
		render := func(ctx context.Context) graphql.Marshaler { return renderTask(ctx, ec, sel, tasks, i) }
		if t == nil {
			ret[i] = render(ctx)
			continue
		}
		ret[i] = m.one(ctx, ec, l, p, t, &scratch, &w, render)
	}
	for _, e := range ret {
		if e == graphql.Null {
			return graphql.Null
		}
	}
	return ret
}

// one answers a task from the memo when the values it renders from are
// the ones it was rendered from, else writes it from its values (direct.go)
// or, failing that, renders it as generated, and keeps the result (unless
// its rendering reported an error). Only tasks that are the entity cache's
// shared values are looked up and kept. scratch, when not nil, is space to
// reuse; w, when not nil, the buffer to write into.
func (m *NodeMemo) one(ctx context.Context, ec *executionContext, l *loaders.Loaders, p *memoPlan, t *domain.Task,
	scratch *[]any, w *bytes.Buffer, render func(ctx context.Context) graphql.Marshaler) graphql.Marshaler {
	shared := m.shared(t)
	v, ok := p.load(ctx, l, t)
	var deps []any
	key := memoKey{p.sig, t.ID}
	if shared && ok {
		if scratch != nil {
			deps = p.deps(&v, (*scratch)[:0])
			*scratch = deps
		} else {
			deps = p.deps(&v, nil)
		}
		if e, hit := m.cache.Get(key); hit && slices.Equal(e.deps, deps) {
			m.hits.Add(1)
			return e.out
		}
	}
	if shared {
		m.misses.Add(1)
	} else {
		m.skips.Add(1)
	}
	keep := func(out rawJSON) {
		if shared && ok && len(out) <= memoMaxBytes {
			m.cache.Add(key, &memoEntry{deps: append([]any(nil), deps...), out: out})
		}
	}
	if ok {
		if w == nil {
			w = new(bytes.Buffer)
		}
		if out, done := p.render(ec, ctx, w, &v); done {
			if shared {
				keep(bytes.Clone(out)) // not the page's buffer: it would keep the page alive
			}
			return out
		}
	}
	errs := len(graphql.GetErrors(ctx))
	r := render(ctx)
	if r == graphql.Null || !shared || !ok {
		return r // nothing to keep: no copy
	}
	var b bytes.Buffer
	r.MarshalGQL(&b)
	out := rawJSON(b.Bytes())
	if len(graphql.GetErrors(ctx)) == errs {
		keep(out)
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
	fields                   []taskField // the compiled selection (direct.go)
	tags                     bool
	assignee, createdBy      bool
	dependencies, dependents bool
	subtasks                 []subtaskPlan
}

type subtaskPlan struct {
	limit int
	tags  bool
}

// Fields whose value follows from their object's row alone (direct.go's
// tables).
var (
	memoTaskFields    = keys(taskScalars)
	memoSubtaskFields = keys(subtaskScalars)
	memoUserFields    = keys(userScalars)
	memoTagFields     = keys(tagScalars)
)

// memoLeaves are a task's fields below which the memo keeps only their
// objects' own fields: the dependencies' and dependents' too, since the
// lookahead loads no level below them (and what they show follows the
// viewer: the resolver drops the tasks it may not see, and deps compares
// them as it does). compile makes the field's writer from its object's
// collected fields.
var memoLeaves = map[string]struct {
	flag         func(*memoPlan) *bool
	implementors []string
	allowed      map[string]bool
	compile      func(fs []graphql.CollectedField) fieldWriter
}{
	"tags": {func(p *memoPlan) *bool { return &p.tags }, tagImplementors, memoTagFields,
		listLeaf(tagScalars, func(v *nodeValues) []*domain.Tag { return v.tags })},
	"assignee": {func(p *memoPlan) *bool { return &p.assignee }, userImplementors, memoUserFields,
		userLeaf(func(v *nodeValues) *domain.User { return v.assignee })},
	"createdBy": {func(p *memoPlan) *bool { return &p.createdBy }, userImplementors, memoUserFields,
		userLeaf(func(v *nodeValues) *domain.User { return v.createdBy })},
	"dependencies": {func(p *memoPlan) *bool { return &p.dependencies }, taskImplementors, memoTaskFields,
		listLeaf(taskScalars, func(v *nodeValues) []*domain.Task { return v.dependencies })},
	"dependents": {func(p *memoPlan) *bool { return &p.dependents }, taskImplementors, memoTaskFields,
		listLeaf(taskScalars, func(v *nodeValues) []*domain.Task { return v.dependents })},
}

// fieldWriter writes one field of a task from its values; false when it
// cannot (direct.go).
type fieldWriter func(ec *executionContext, ctx context.Context, w *bytes.Buffer, v *nodeValues) bool

// listLeaf compiles a list of objects written from their own fields.
func listLeaf[T any](table map[string]scalar[T], get func(*nodeValues) []*T) func([]graphql.CollectedField) fieldWriter {
	return func(fs []graphql.CollectedField) fieldWriter {
		fields := compileObject(fs, table)
		return func(ec *executionContext, ctx context.Context, w *bytes.Buffer, v *nodeValues) bool {
			return writeList(ec, ctx, w, fields, get(v))
		}
	}
}

// userLeaf compiles a nullable user.
func userLeaf(get func(*nodeValues) *domain.User) func([]graphql.CollectedField) fieldWriter {
	return func(fs []graphql.CollectedField) fieldWriter {
		fields := compileObject(fs, userScalars)
		return func(ec *executionContext, ctx context.Context, w *bytes.Buffer, v *nodeValues) bool {
			return writeUser(ec, ctx, w, fields, get(v))
		}
	}
}

// compileObject is an object's collected fields with their scalars. Like
// gqlgen's marshalFieldSet it writes an alias once.
func compileObject[T any](fs []graphql.CollectedField, table map[string]scalar[T]) []objectField[T] {
	out := make([]objectField[T], 0, len(fs))
	seen := make(map[string]bool, len(fs))
	for _, f := range fs {
		if !seen[f.Alias] {
			seen[f.Alias] = true
			out = append(out, objectField[T]{key: jsonKey(f.Alias), value: table[f.Name]})
		}
	}
	return out
}

func keys[V any](m map[string]V) map[string]bool {
	set := make(map[string]bool, len(m))
	for n := range m {
		set[n] = true
	}
	return set
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

// planNodes walks a task selection and compiles it (direct.go); false
// when it reads anything the memo may not keep (see the package comment
// above).
func planNodes(oc *graphql.OperationContext, sel ast.SelectionSet) (*memoPlan, bool) {
	p := &memoPlan{}
	var b strings.Builder
	w := memoWalk{oc: oc, b: &b}
	fs, ok := w.fields(sel, taskImplementors)
	if !ok {
		return nil, false
	}
	seen := make(map[string]bool, len(fs))
	for _, f := range fs {
		w.name(f)
		field := taskField{key: jsonKey(f.Alias)}
		switch {
		case memoTaskFields[f.Name]:
			value := taskScalars[f.Name]
			field.write = func(ec *executionContext, ctx context.Context, w *bytes.Buffer, v *nodeValues) bool {
				m := value(ec, ctx, v.task)
				if m == nil {
					return false
				}
				m.MarshalGQL(w)
				return true
			}
		case memoLeaves[f.Name].flag != nil:
			leaf := memoLeaves[f.Name]
			*leaf.flag(p) = true
			leafFields, ok := w.leaf(f.Selections, leaf.implementors, leaf.allowed)
			if !ok {
				return nil, false
			}
			field.write = leaf.compile(leafFields)
		case f.Name == "subtasks":
			limit, valid := subtaskLimit(f, oc.Variables)
			if !valid {
				return nil, false
			}
			b.WriteString("(" + strconv.Itoa(limit) + ")")
			sp, subFields, ok := w.subtasks(f.Selections)
			if !ok {
				return nil, false
			}
			sp.limit = limit
			k := len(p.subtasks)
			p.subtasks = append(p.subtasks, sp)
			field.write = func(ec *executionContext, ctx context.Context, w *bytes.Buffer, v *nodeValues) bool {
				return writeSubtasks(ec, ctx, w, subFields, v.subtasks[k])
			}
		default:
			return nil, false
		}
		b.WriteByte(';')
		if !seen[f.Alias] { // gqlgen writes an alias once
			seen[f.Alias] = true
			p.fields = append(p.fields, field)
		}
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

func (w memoWalk) leaf(sel ast.SelectionSet, implementors []string, allowed map[string]bool) ([]graphql.CollectedField, bool) {
	fs, ok := w.fields(sel, implementors)
	if !ok {
		return nil, false
	}
	w.b.WriteByte('{')
	for _, f := range fs {
		if !allowed[f.Name] {
			return nil, false
		}
		w.name(f)
		w.b.WriteByte(';')
	}
	w.b.WriteByte('}')
	return fs, true
}

func (w memoWalk) subtasks(sel ast.SelectionSet) (subtaskPlan, []subtaskField, bool) {
	var sp subtaskPlan
	fs, ok := w.fields(sel, subtaskImplementors)
	if !ok {
		return sp, nil, false
	}
	fields := make([]subtaskField, 0, len(fs))
	seen := make(map[string]bool, len(fs))
	w.b.WriteByte('{')
	for _, f := range fs {
		w.name(f)
		field := subtaskField{key: jsonKey(f.Alias)}
		switch {
		case memoSubtaskFields[f.Name]:
			field.value = subtaskScalars[f.Name]
		case f.Name == "tags":
			sp.tags = true
			tagFields, ok := w.leaf(f.Selections, tagImplementors, memoTagFields)
			if !ok {
				return sp, nil, false
			}
			field.tags = compileObject(tagFields, tagScalars)
		default:
			return sp, nil, false
		}
		w.b.WriteByte(';')
		if !seen[f.Alias] {
			seen[f.Alias] = true
			fields = append(fields, field)
		}
	}
	w.b.WriteByte('}')
	return sp, fields, true
}
