package graph

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"
	"unicode"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2"
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
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv == nil || len(fn.Recv.List) != 1 {
			continue
		}
		star, ok := fn.Recv.List[0].Type.(*ast.StarExpr)
		if !ok {
			continue
		}
		recv := star.X.(*ast.Ident).Name
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
