package graph

import (
	"context"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2"
)

// TestPlanNodes: which card selections the memo keeps, and that the name
// it keeps them under tells apart every two selections that render
// differently (aliases, limits, fields, their order) while fragments,
// skipped fields and variables that come to the same fields share it.
func TestPlanNodes(t *testing.T) {
	schema := NewExecutableSchema(Config{}).Schema()
	plan := func(query string, vars map[string]any) (*memoPlan, bool) {
		t.Helper()
		doc, errs := gqlparser.LoadQuery(schema, query)
		require.Empty(t, errs, query)
		oc := &graphql.OperationContext{RawQuery: query, Doc: doc, Operation: doc.Operations[0], Variables: vars}
		tasks := graphql.CollectFields(oc, doc.Operations[0].SelectionSet, queryImplementors)
		conn := graphql.CollectFields(oc, tasks[0].Selections, taskConnectionImplementors)
		return planNodes(oc, conn[0].Selections)
	}
	sig := func(query string, vars map[string]any) string {
		t.Helper()
		p, ok := plan(query, vars)
		require.True(t, ok, query)
		return p.sig
	}

	p, ok := plan(`{ tasks { nodes { id version title assignee { name } tags { name color } subtasks(first: 3) { number title tags { name } } } } }`, nil)
	require.True(t, ok)
	assert.True(t, p.tags)
	assert.True(t, p.assignee)
	assert.False(t, p.createdBy)
	assert.Equal(t, []subtaskPlan{{limit: 3, tags: true}}, p.subtasks)
	assert.False(t, p.dependencies)

	p, ok = plan(`{ tasks { nodes { id dependencies { id number title status } } } }`, nil)
	require.True(t, ok)
	assert.True(t, p.dependencies)
	assert.False(t, p.dependents)

	// Anything that follows the viewer, the clock or another loader is
	// rendered by the executor every time.
	for _, q := range []string{
		`{ tasks { nodes { id isOverdue } } }`,
		`{ tasks { nodes { assignee { email } } } }`,
		`{ tasks { nodes { createdBy { id email } } } }`,
		`{ tasks { nodes { dependencies { id isOverdue } } } }`,
		`{ tasks { nodes { dependents { assignee { name } } } } }`,
		`{ tasks { nodes { dependencies { tags { name } } } } }`,
		`{ tasks { nodes { history { kind } } } }`,
		`{ tasks { nodes { subtasks { task { id } } } } }`,
		`{ tasks { nodes { tags { tasks { totalCount } } } } }`,
		`{ tasks { nodes { subtasks(first: -1) { id } } } }`,
		`{ tasks { nodes { subtasks { tags { tasks { totalCount } } } } } }`,
	} {
		_, ok := plan(q, nil)
		assert.False(t, ok, q)
	}

	// Selections that render differently never share a name.
	distinct := []string{
		`{ tasks { nodes { id title } } }`,
		`{ tasks { nodes { title id } } }`,
		`{ tasks { nodes { id name: title } } }`,
		`{ tasks { nodes { id title: number } } }`,
		`{ tasks { nodes { id title tags { name } } } }`,
		`{ tasks { nodes { id title tags { color } } } }`,
		`{ tasks { nodes { id title subtasks { title } } } }`,
		`{ tasks { nodes { id title subtasks(first: 2) { title } } } }`,
		`{ tasks { nodes { id title subtasks(first: 2) { title tags { name } } } } }`,
		`{ tasks { nodes { id title assignee { name } } } }`,
		`{ tasks { nodes { id title createdBy { name } } } }`,
		`{ tasks { nodes { id title dependencies { id } } } }`,
		`{ tasks { nodes { id title dependents { id } } } }`,
	}
	seen := map[string]string{}
	for _, q := range distinct {
		s := sig(q, nil)
		if prev, dup := seen[s]; dup {
			t.Errorf("%s and %s share %q", prev, q, s)
		}
		seen[s] = q
	}

	// The same fields however they are written share one.
	same := sig(`{ tasks { nodes { id title subtasks(first: 2) { title } } } }`, nil)
	assert.Equal(t, same, sig(`{ tasks { nodes { ...C } } } fragment C on Task { id title subtasks(first: 2) { title } }`, nil))
	assert.Equal(t, same, sig(`query($n: Int) { tasks { nodes { id title subtasks(first: $n) { title } } } }`, map[string]any{"n": 2}))
	assert.Equal(t, same, sig(`query($s: Boolean!) { tasks { nodes { id title version @skip(if: $s) subtasks(first: 2) { title } } } }`, map[string]any{"s": true}))
	assert.NotEqual(t, same, sig(`query($s: Boolean!) { tasks { nodes { id title version @skip(if: $s) subtasks(first: 2) { title } } } }`, map[string]any{"s": false}))
}

// TestOperationPlan: a serial operation plans a task selection once (a page
// read as edges meets it once per edge); another operation, whose
// variables may differ, plans it again.
func TestOperationPlan(t *testing.T) {
	schema := NewExecutableSchema(Config{}).Schema()
	query := `query($n: Int) { tasks { edges { node { id subtasks(first: $n) { title } } } } }`
	doc, errs := gqlparser.LoadQuery(schema, query)
	require.Empty(t, errs)
	node := func(vars map[string]any) (*graphql.OperationContext, graphql.CollectedField) {
		oc := &graphql.OperationContext{RawQuery: query, Doc: doc, Operation: doc.Operations[0], Variables: vars}
		tasks := graphql.CollectFields(oc, doc.Operations[0].SelectionSet, queryImplementors)
		edges := graphql.CollectFields(oc, tasks[0].Selections, taskConnectionImplementors)
		nodes := graphql.CollectFields(oc, edges[0].Selections, taskEdgeImplementors)
		return oc, nodes[0]
	}

	oc, f := node(map[string]any{"n": 2})
	op := WithSerial(context.Background())
	first, ok := operationPlan(op, oc, f.Field, f.Selections)
	require.True(t, ok)
	again, _ := operationPlan(op, oc, f.Field, f.Selections)
	assert.Same(t, first, again, "planned once per operation")
	assert.Equal(t, []subtaskPlan{{limit: 2}}, first.subtasks)

	oc, f = node(map[string]any{"n": 5})
	next, ok := operationPlan(WithSerial(context.Background()), oc, f.Field, f.Selections)
	require.True(t, ok)
	assert.NotSame(t, first, next)
	assert.Equal(t, []subtaskPlan{{limit: 5}}, next.subtasks)
	assert.NotEqual(t, first.sig, next.sig)
}

// TestOperationPlanFollowsMergedSelection: a field written in a fragment is
// one *ast.Field wherever the fragment is spread, but gqlgen merges into it
// each place's own sub-selections. A plan made under one parent must not
// serve another whose merged selection differs (here b also reads the
// assignee's email, which the memo may never keep).
func TestOperationPlanFollowsMergedSelection(t *testing.T) {
	schema := NewExecutableSchema(Config{}).Schema()
	query := `query { a: tasks { ...C } b: tasks(first: 5) { ...C nodes { assignee { email } } } }
		fragment C on TaskConnection { nodes { id } }`
	doc, errs := gqlparser.LoadQuery(schema, query)
	require.Empty(t, errs)
	oc := &graphql.OperationContext{RawQuery: query, Doc: doc, Operation: doc.Operations[0]}
	roots := graphql.CollectFields(oc, doc.Operations[0].SelectionSet, queryImplementors)
	require.Len(t, roots, 2)
	nodesA := graphql.CollectFields(oc, roots[0].Selections, taskConnectionImplementors)[0]
	nodesB := graphql.CollectFields(oc, roots[1].Selections, taskConnectionImplementors)[0]
	require.Same(t, nodesA.Field, nodesB.Field, "one field, from the fragment")

	op := WithSerial(context.Background())
	a, ok := operationPlan(op, oc, nodesA.Field, nodesA.Selections)
	require.True(t, ok)
	assert.Equal(t, "id:id;", a.sig)
	_, ok = operationPlan(op, oc, nodesB.Field, nodesB.Selections)
	assert.False(t, ok, "b's merged selection reads an email: not kept, whatever a's plan was")
	again, _ := operationPlan(op, oc, nodesA.Field, nodesA.Selections)
	assert.Same(t, a, again)
}
