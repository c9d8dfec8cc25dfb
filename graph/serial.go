package graph

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// Serial execution.
//
// gqlgen's executor starts a goroutine for every element of a list of
// objects and for every resolver field of an object beyond the first, so
// that resolvers waiting on a dataloader together end up in one batch. A
// nested page starts hundreds of them; their creation, the growth of their
// stacks and the wake-ups dominate the server's CPU for it
// (docs/performance.md).
//
// When the lookahead (resolver.go, prefetch) has already loaded every
// level an operation reads, no resolver waits on a loader: each answers
// from memory, and the goroutines buy nothing. Such an operation (Serial)
// runs with its context marked (Serialize, shape.go), and the calls gqlgen
// generates for lists, resolver fields and @defer groups (rewritten by the
// serialpatch command into marshalSlice, resolveConcurrently and
// newDeferredGroup) then resolve one after the other on the request's
// goroutine. Everything else, and any operation not marked, runs exactly
// as gqlgen generated it.
//
// gqlgen offers no supported switch for this: exec.worker_limit
// (gqlgen.yml) is fixed at generation for every operation and bounds only
// the goroutines of lists, and FieldSet.Dispatch starts one per resolver
// field whatever the configuration.
//
// The serial paths below copy what gqlgen's functions do for one element
// or one field (the field context of a list element, the answer to a
// panic, the count of invalid results). The declarations after them stop
// the build when a signature changes, and TestSerialHelpersMatchGqlgen
// compares the copies with gqlgen's own functions, so that they cannot
// drift apart unnoticed.

type serialKey struct{}

// serialState is what a serial operation keeps: the memo's plan of each
// task selection it rendered (graph/memo.go), so a page read as edges
// plans its selection once, not once per edge. A plan follows from the
// document and the variables the shape reads, so the operations of one
// shape share the state (shape.go). A field is not enough to
// name a selection: one written in a fragment is one *ast.Field wherever
// the fragment is spread, and gqlgen merges into it the sub-selections of
// each place, which differ; so a plan is kept with the merged selection it
// was made for, and used again only for the same one.
type serialState struct {
	mu    sync.Mutex // the operations of one shape share it (shape.go)
	plans map[*ast.Field][]plannedNodes
}

type plannedNodes struct {
	sel  ast.SelectionSet
	plan *memoPlan
	ok   bool
}

func isSerial(ctx context.Context) bool { return ctx.Value(serialKey{}) != nil }

// marshalSlice is graphql.MarshalSliceConcurrently, one element after the
// other when the operation is serial: the same field context per element
// (its index in the path), and the same answer to a panic (the error on
// the element's path, the element null).
func marshalSlice(ctx context.Context, length int, workerLimit int64, omitPanicHandler bool,
	marshal func(ctx context.Context, i int) graphql.Marshaler) graphql.Array {
	if length <= 1 || !isSerial(ctx) {
		return graphql.MarshalSliceConcurrently(ctx, length, workerLimit, omitPanicHandler, marshal)
	}
	ret := make(graphql.Array, length)
	for i := range length {
		childCtx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i})
		func() {
			if !omitPanicHandler {
				defer func() {
					if r := recover(); r != nil {
						graphql.AddError(childCtx, graphql.Recover(childCtx, r))
						ret[i] = graphql.Null
					}
				}()
			}
			ret[i] = marshal(childCtx, i)
		}()
	}
	return ret
}

// resolveConcurrently is out.ResolveConcurrently, resolving the field at
// once when the operation is serial (which never holds a deferred field),
// with the same panic guard and the same count of invalid results.
func resolveConcurrently(ctx context.Context, out *graphql.FieldSet, oc *graphql.OperationContext, deferred *graphql.DeferredGroup,
	i int, recoverFromPanic, nonNull bool, resolve func(ctx context.Context) graphql.Marshaler) {
	if !isSerial(ctx) {
		out.ResolveConcurrently(oc, deferred, i, recoverFromPanic, nonNull, resolve)
		return
	}
	v := func() (res graphql.Marshaler) {
		if recoverFromPanic {
			defer func() {
				if r := recover(); r != nil {
					oc.Error(ctx, oc.Recover(ctx, r))
					res = graphql.Null
				}
			}()
		}
		return resolve(ctx)
	}()
	out.Values[i] = v
	invalid := graphql.RequiredNull
	if nonNull {
		invalid = graphql.Null
	}
	if v == invalid {
		atomic.AddUint32(&out.Invalids, 1)
	}
}

// newDeferredGroup is graphql.NewDeferredGroup without the object's path,
// which gqlgen computes for every object although only @defer needs it: a
// serial operation defers nothing.
func newDeferredGroup(ctx context.Context) graphql.DeferredGroup {
	if !isSerial(ctx) {
		return graphql.NewDeferredGroup(ctx)
	}
	return graphql.DeferredGroup{Context: ctx}
}

// Drift guards: each helper has exactly the signature of the gqlgen
// function serialpatch replaces with it (resolveConcurrently taking ctx and
// ResolveConcurrently's receiver first), checked against gqlgen's own.
// When a gqlgen upgrade changes one, this stops the build here rather
// than in generated code, and serialpatch fails on the calls' new shape.
type (
	marshalSliceFunc = func(ctx context.Context, length int, workerLimit int64, omitPanicHandler bool,
		marshal func(ctx context.Context, i int) graphql.Marshaler) graphql.Array
	resolveFieldMethod = func(out *graphql.FieldSet, oc *graphql.OperationContext, deferred *graphql.DeferredGroup,
		i int, recoverFromPanic, nonNull bool, resolve func(ctx context.Context) graphql.Marshaler)
	resolveFieldFunc = func(ctx context.Context, out *graphql.FieldSet, oc *graphql.OperationContext, deferred *graphql.DeferredGroup,
		i int, recoverFromPanic, nonNull bool, resolve func(ctx context.Context) graphql.Marshaler)
	deferredGroupFunc = func(ctx context.Context) graphql.DeferredGroup
)

var (
	_ marshalSliceFunc   = graphql.MarshalSliceConcurrently
	_ marshalSliceFunc   = marshalSlice
	_ resolveFieldMethod = (*graphql.FieldSet).ResolveConcurrently
	_ resolveFieldFunc   = resolveConcurrently
	_ deferredGroupFunc  = graphql.NewDeferredGroup
	_ deferredGroupFunc  = newDeferredGroup
)

// loaderFields are the resolver fields that read through a batching
// loader: resolved serially without being loaded ahead, each would wait
// out the batching window on its own. The other resolver fields
// (syncFields) answer without waiting. TestSerialFieldsClassified keeps
// the two lists complete.
var loaderFields = map[string]bool{
	"Task.assignee": true, "Task.createdBy": true, "Task.subtasks": true, "Task.tags": true,
	"Task.dependencies": true, "Task.dependents": true, "Task.history": true,
	"Subtask.task": true, "Subtask.tags": true, "Tag.tasks": true,
	"TaskEvent.actor": true, "TaskChange.actor": true, "ApiToken.user": true, "ApiToken.createdBy": true,
}

// syncFields are the resolver fields below the roots Serial accepts that
// answer without a loader: the connection's lists from its page, its count
// (one statement of its own), a user's email (a permission check).
var syncFields = map[string]bool{
	"TaskConnection.nodes": true, "TaskConnection.edges": true, "TaskConnection.totalCount": true,
	"User.email": true,
}

// Serial reports whether an operation may run serially: a query whose
// root fields are task pages (tasks, searchTasks) or a single task (task,
// taskByNumber, alone: the rule of singleTaskRoot), without @defer, that
// reads below each task only what the lookahead loads for it: tags,
// assignee, creator, dependencies and dependents (their own fields, not
// their levels), subtasks with a valid first: and their tags.
func Serial(oc *graphql.OperationContext) bool {
	if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return false
	}
	w := serialWalk{oc: oc}
	singles := 0
	for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, queryImplementors) {
		if len(f.Deferrables) > 0 {
			return false
		}
		switch f.Name {
		case "__typename":
		case "tasks", "searchTasks":
			if !w.connection(f.Selections) {
				return false
			}
		case "task", "taskByNumber":
			singles++
			if !w.task(f.Selections, true) {
				return false
			}
		default:
			return false
		}
	}
	return singles <= 1
}

type serialWalk struct{ oc *graphql.OperationContext }

// fields collects sel as gqlgen does for an object of these implementors,
// and reports false on @defer.
func (w serialWalk) fields(sel ast.SelectionSet, types ...string) ([]graphql.CollectedField, bool) {
	fs := graphql.CollectFields(w.oc, sel, types)
	for _, f := range fs {
		if len(f.Deferrables) > 0 {
			return nil, false
		}
	}
	return fs, true
}

func (w serialWalk) connection(sel ast.SelectionSet) bool {
	fs, ok := w.fields(sel, taskConnectionImplementors...)
	if !ok {
		return false
	}
	for _, f := range fs {
		switch f.Name {
		case "nodes":
			if !w.task(f.Selections, true) {
				return false
			}
		case "edges":
			edges, ok := w.fields(f.Selections, taskEdgeImplementors...)
			if !ok {
				return false
			}
			for _, e := range edges {
				if e.Name == "node" && !w.task(e.Selections, true) {
					return false
				}
			}
		}
	}
	return true
}

// task walks a task's selection; loaded says whether the lookahead loads
// its levels (a page's tasks, a single root task) or not (a dependency's).
func (w serialWalk) task(sel ast.SelectionSet, loaded bool) bool {
	fs, ok := w.fields(sel, taskImplementors...)
	if !ok {
		return false
	}
	for _, f := range fs {
		switch f.Name {
		case "tags", "assignee", "createdBy":
			if !loaded || !w.leaf(f) {
				return false
			}
		case "dependencies", "dependents":
			if !loaded || !w.task(f.Selections, false) {
				return false
			}
		case "subtasks":
			if _, valid := subtaskLimit(f, w.oc.Variables); !loaded || !valid || !w.subtask(f.Selections) {
				return false
			}
		default:
			if loaderFields["Task."+f.Name] {
				return false
			}
		}
	}
	return true
}

// subtask walks the selection of a loaded task's subtasks, whose tags the
// lookahead loads too.
func (w serialWalk) subtask(sel ast.SelectionSet) bool {
	fs, ok := w.fields(sel, subtaskImplementors...)
	if !ok {
		return false
	}
	for _, f := range fs {
		switch {
		case f.Name == "tags":
			if !w.leaf(f) {
				return false
			}
		case loaderFields["Subtask."+f.Name]:
			return false
		}
	}
	return true
}

// leaf walks a tag's or a user's selection: none of their loader fields.
func (w serialWalk) leaf(f graphql.CollectedField) bool {
	typ, implementors := "Tag", tagImplementors
	if f.Name != "tags" {
		typ, implementors = "User", userImplementors
	}
	fs, ok := w.fields(f.Selections, implementors...)
	if !ok {
		return false
	}
	for _, g := range fs {
		if loaderFields[typ+"."+g.Name] {
			return false
		}
	}
	return true
}
