package graph

import (
	"context"
	"fmt"
	goast "go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestSerial: which operations run serially. Only those whose every level
// below a task page or a single task is loaded ahead; anything that would
// leave a resolver waiting on a batching window runs concurrently.
func TestSerial(t *testing.T) {
	schema := NewExecutableSchema(Config{}).Schema()
	serial := func(query string, vars map[string]any) bool {
		t.Helper()
		doc, errs := gqlparser.LoadQuery(schema, query)
		require.Empty(t, errs, query)
		return Serial(&graphql.OperationContext{RawQuery: query, Doc: doc, Operation: doc.Operations[0], Variables: vars})
	}
	const nested = `nodes { id title assignee { name email } createdBy { id } tags { name color } subtasks { number title tags { name } } dependencies { number title } dependents { id } }`
	yes := []string{
		`{ tasks(first: 50) { ` + nested + ` } }`,
		`{ tasks(first: 5) { edges { cursor node { id tags { name } } } pageInfo { hasNextPage endCursor } totalCount } }`,
		`{ searchTasks(query: "cache", first: 5) { nodes { id assignee { name } } } }`,
		`{ a: tasks(first: 2) { nodes { id } } b: tasks(first: 3) { nodes { tags { name } } } __typename }`,
		`query($id: ID!) { task(id: $id) { id tags { name } assignee { name } subtasks(first: 2) { title tags { id } } } }`,
		`{ taskByNumber(number: "HT-1") { id createdBy { name } } }`,
		`{ tasks(first: 5) { nodes { ...T ... on Node { id } } } } fragment T on Task { title tags { name } }`,
		`query($skip: Boolean!) { tasks(first: 5) { nodes { id history(first: 1) @skip(if: $skip) { kind } } } }`,
	}
	for _, q := range yes {
		assert.True(t, serial(q, map[string]any{"skip": true}), q)
	}
	no := []string{
		`mutation { deleteTask(id: "00000000-0000-4000-8000-000000000000") }`,
		`{ tasks(first: 5) { nodes { history(first: 5) { kind } } } }`,
		`{ tasks(first: 5) { nodes { dependencies { tags { name } } } } }`,
		`{ tasks(first: 5) { nodes { dependents { assignee { name } } } } }`,
		`{ tasks(first: 5) { nodes { subtasks { task { id } } } } }`,
		`{ tasks(first: 5) { nodes { tags { tasks(first: 2) { nodes { id } } } } } }`,
		`{ tasks(first: 5) { nodes { subtasks(first: -1) { id } } } }`,
		`{ a: task(id: "00000000-0000-4000-8000-000000000000") { tags { name } } b: task(id: "00000000-0000-4000-8000-000000000001") { id } }`,
		`{ tasks(first: 5) { nodes { id } } me { id } }`,
		`{ tags(first: 5) { name } }`,
		`{ node(id: "x") { id } }`,
		`{ tasks(first: 5) { nodes { id ... @defer { tags { name } } } } }`,
		`query($skip: Boolean!) { tasks(first: 5) { nodes { id history(first: 1) @skip(if: $skip) { kind } } } }`,
	}
	for _, q := range no {
		assert.False(t, serial(q, map[string]any{"skip": false}), q)
	}
}

// TestSerialFieldsClassified: every resolver field of the schema (a method
// of schema.resolvers.go outside Query, Mutation and Subscription) is
// listed either as a loader field or as a field that answers without one,
// so that a new resolver cannot run serially unnoticed.
func TestSerialFieldsClassified(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "schema.resolvers.go", nil, 0)
	require.NoError(t, err)
	n := 0
	for _, d := range f.Decls {
		fn, ok := d.(*goast.FuncDecl)
		if !ok || fn.Recv == nil || len(fn.Recv.List) != 1 {
			continue
		}
		star, ok := fn.Recv.List[0].Type.(*goast.StarExpr)
		if !ok {
			continue
		}
		recv := star.X.(*goast.Ident).Name
		typ, ok := strings.CutSuffix(recv, "Resolver")
		if !ok || typ == "query" || typ == "mutation" || typ == "subscription" || typ == "" {
			continue
		}
		name := fn.Name.Name
		field := string(unicode.ToLower(rune(name[0]))) + name[1:]
		key := strings.ToUpper(typ[:1]) + typ[1:] + "." + field
		assert.True(t, loaderFields[key] != syncFields[key], "%s: list it in loaderFields or syncFields (graph/serial.go)", key)
		n++
	}
	assert.Greater(t, n, 15)
}

// TestSerialHelpersMatchGqlgen: the helpers serialpatch puts in place of
// gqlgen's calls give gqlgen's answers, errors and invalid counts, marked
// serial or not; marked, they resolve at once on the caller's goroutine,
// and not marked, they leave the work to gqlgen: concurrent, so that
// resolvers waiting on a loader share its batch. This is what keeps the
// copies of gqlgen's internals in graph/serial.go from drifting.
func TestSerialHelpersMatchGqlgen(t *testing.T) {
	recoverFunc := func(ctx context.Context, err any) error { return fmt.Errorf("panic: %v", err) }
	// request is a fresh response and an object's field context, as the
	// generated code sees them.
	request := func() context.Context {
		ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, recoverFunc)
		return graphql.WithFieldContext(ctx, &graphql.FieldContext{
			Object: "Query",
			Field:  graphql.CollectedField{Field: &ast.Field{Name: "tags", Alias: "tags"}},
		})
	}
	errs := func(ctx context.Context) []string {
		var out []string
		for _, e := range graphql.GetErrors(ctx) {
			out = append(out, e.Path.String()+": "+e.Message)
		}
		slices.Sort(out)
		return out
	}
	json := func(m graphql.Marshaler) string {
		if m == nil {
			return "<unset>"
		}
		var b strings.Builder
		m.MarshalGQL(&b)
		return b.String()
	}

	t.Run("marshalSlice", func(t *testing.T) {
		type result struct {
			JSON   string
			Paths  []string
			Errors []string
		}
		run := func(serial bool, length, panicAt int) result {
			ctx := request()
			if serial {
				ctx = WithSerial(ctx)
			}
			paths := make([]string, length)
			ret := marshalSlice(ctx, length, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
				fc := graphql.GetFieldContext(ctx)
				paths[i] = fmt.Sprintf("%s index=%d", graphql.GetPath(ctx), *fc.Index)
				if i == panicAt {
					panic("element " + strconv.Itoa(i))
				}
				return graphql.MarshalInt(i)
			})
			return result{json(ret), paths, errs(ctx)}
		}
		gqlgen := func(length, panicAt int) result {
			ctx := request()
			paths := make([]string, length)
			ret := graphql.MarshalSliceConcurrently(ctx, length, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
				fc := graphql.GetFieldContext(ctx)
				paths[i] = fmt.Sprintf("%s index=%d", graphql.GetPath(ctx), *fc.Index)
				if i == panicAt {
					panic("element " + strconv.Itoa(i))
				}
				return graphql.MarshalInt(i)
			})
			return result{json(ret), paths, errs(ctx)}
		}
		for _, c := range []struct{ length, panicAt int }{{0, -1}, {1, -1}, {1, 0}, {3, -1}, {3, 1}, {4, 3}} {
			want := gqlgen(c.length, c.panicAt)
			assert.Equal(t, want, run(true, c.length, c.panicAt), "serial, %+v", c)
			assert.Equal(t, want, run(false, c.length, c.panicAt), "not serial, %+v", c)
		}
		assert.Equal(t, `[0,null,2]`, gqlgen(3, 1).JSON)
		assert.Equal(t, []string{"tags[1]: panic: element 1"}, gqlgen(3, 1).Errors)

		// Without the panic handler, a serial element's panic reaches the caller.
		assert.PanicsWithValue(t, "element 1", func() {
			marshalSlice(WithSerial(request()), 3, 0, true, func(ctx context.Context, i int) graphql.Marshaler {
				if i == 1 {
					panic("element 1")
				}
				return graphql.MarshalInt(i)
			})
		})
	})

	t.Run("resolveConcurrently", func(t *testing.T) {
		type outcome struct {
			name    string
			value   graphql.Marshaler // nil: the resolver panics
			nonNull bool
		}
		outcomes := []outcome{
			{"value", graphql.MarshalString("a"), true},
			{"null, non-null", graphql.Null, true},
			{"null, nullable", graphql.Null, false},
			{"required null, nullable", graphql.RequiredNull, false},
			{"panic, non-null", nil, true},
			{"panic, nullable", nil, false},
		}
		type result struct {
			Values   []string
			Invalids uint32
			Errors   []string
		}
		// run resolves os as the fields of one object: with gqlgen's
		// ResolveConcurrently, or with the helper on a context marked
		// serial or not.
		run := func(os []outcome, helper, serial bool) result {
			ctx := request()
			if serial {
				ctx = WithSerial(ctx)
			}
			oc := &graphql.OperationContext{RecoverFunc: recoverFunc}
			fields := make([]graphql.CollectedField, len(os))
			for i, o := range os {
				fields[i] = graphql.CollectedField{Field: &ast.Field{Name: o.name, Alias: o.name}}
			}
			out := graphql.NewFieldSet(fields)
			deferred := graphql.NewDeferredGroup(ctx)
			for i, o := range os {
				resolve := func(ctx context.Context) graphql.Marshaler {
					if o.value == nil {
						panic(o.name)
					}
					return o.value
				}
				if helper {
					resolveConcurrently(ctx, out, oc, &deferred, i, true, o.nonNull, resolve)
				} else {
					out.ResolveConcurrently(oc, &deferred, i, true, o.nonNull, resolve)
				}
				if serial {
					assert.NotNil(t, out.Values[i], "%s: resolved at once", o.name)
				} else {
					assert.Nil(t, out.Values[i], "%s: left to Dispatch", o.name)
				}
			}
			out.Dispatch(ctx)
			r := result{Invalids: out.Invalids, Errors: errs(ctx)}
			for _, v := range out.Values {
				r.Values = append(r.Values, json(v))
			}
			return r
		}
		for _, o := range outcomes {
			want := run([]outcome{o}, false, false)
			assert.Equal(t, want, run([]outcome{o}, true, true), "serial, %s", o.name)
			assert.Equal(t, want, run([]outcome{o}, true, false), "not serial, %s", o.name)
		}
		want := run(outcomes, false, false)
		assert.Equal(t, want, run(outcomes, true, true), "serial, all")
		assert.Equal(t, want, run(outcomes, true, false), "not serial, all")
		assert.Equal(t, result{
			Values:   []string{`"a"`, "null", "null", "null", "null", "null"},
			Invalids: 3,
			Errors:   []string{"tags: panic: panic, non-null", "tags: panic: panic, nullable"},
		}, want)
	})

	t.Run("a deferred field, not serial", func(t *testing.T) {
		ctx := request()
		oc := &graphql.OperationContext{RecoverFunc: recoverFunc}
		out := graphql.NewFieldSet([]graphql.CollectedField{{
			Field:       &ast.Field{Name: "tags", Alias: "tags"},
			Deferrables: []*graphql.Deferrable{{Label: "later"}},
		}})
		deferred := newDeferredGroup(ctx)
		resolveConcurrently(ctx, out, oc, &deferred, 0, true, true, func(context.Context) graphql.Marshaler {
			return graphql.MarshalString("a")
		})
		out.Dispatch(ctx)
		assert.Equal(t, graphql.Null, out.Values[0], "the initial payload holds null")
		assert.Contains(t, deferred.Defers, "later", "the field waits in the @defer group")
	})

	t.Run("newDeferredGroup", func(t *testing.T) {
		ctx := request()
		assert.Equal(t, graphql.NewDeferredGroup(ctx), newDeferredGroup(ctx))
		serial := WithSerial(ctx)
		g := newDeferredGroup(serial)
		assert.Equal(t, serial, g.Context)
		assert.Empty(t, g.Defers)
	})

	t.Run("concurrent unless marked", func(t *testing.T) {
		// n resolvers that each wait until all n run: they finish only if
		// they run at once, as loaders batching them need. peak is how
		// many ran at once.
		const n = 3
		barrier := func(ctx context.Context) (wait func(), peak func() int32) {
			var now, most atomic.Int32
			var all sync.WaitGroup
			all.Add(n)
			wait = func() {
				p := now.Add(1)
				for m := most.Load(); p > m && !most.CompareAndSwap(m, p); m = most.Load() {
				}
				all.Done()
				if !isSerial(ctx) {
					done := make(chan struct{})
					go func() { all.Wait(); close(done) }()
					select {
					case <-done:
					case <-time.After(10 * time.Second):
						t.Error("the resolvers did not run at once")
					}
				}
				now.Add(-1)
			}
			return wait, most.Load
		}
		list := func(ctx context.Context) int32 {
			wait, peak := barrier(ctx)
			marshalSlice(ctx, n, 0, false, func(context.Context, int) graphql.Marshaler {
				wait()
				return graphql.Null
			})
			return peak()
		}
		fields := func(ctx context.Context) int32 {
			wait, peak := barrier(ctx)
			oc := &graphql.OperationContext{RecoverFunc: recoverFunc}
			out := graphql.NewFieldSet(make([]graphql.CollectedField, n))
			deferred := newDeferredGroup(ctx)
			for i := range n {
				resolveConcurrently(ctx, out, oc, &deferred, i, true, false, func(context.Context) graphql.Marshaler {
					wait()
					return graphql.Null
				})
			}
			out.Dispatch(ctx)
			return peak()
		}
		assert.EqualValues(t, n, list(request()), "a list, not serial")
		assert.EqualValues(t, 1, list(WithSerial(request())), "a list, serial")
		assert.EqualValues(t, n, fields(request()), "resolver fields, not serial")
		assert.EqualValues(t, 1, fields(WithSerial(request())), "resolver fields, serial")
	})
}
