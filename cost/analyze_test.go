package cost_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/herotasks/api/apierror"
	"github.com/herotasks/api/cost"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator"
)

var loadReal = sync.OnceValues(func() (*ast.Schema, error) {
	b, err := os.ReadFile("../schema.graphqls")
	if err != nil {
		return nil, err
	}
	s, gerr := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphqls", Input: string(b)})
	if gerr != nil {
		return nil, gerr
	}
	return s, nil
})

// realAnalyzer costs operations against the server's schema.graphqls.
func realAnalyzer(t testing.TB, o cost.Options) *cost.Analyzer {
	t.Helper()
	s, err := loadReal()
	require.NoError(t, err)
	a, err := cost.New(s, o)
	require.NoError(t, err)
	return a
}

// testSDL has what the real schema lacks so far: an interface, a union,
// @cost on types, two slicing arguments on one field, and a list that can
// make costs saturate.
const testSDL = `
directive @cost(weight: Int!) on FIELD_DEFINITION | OBJECT | SCALAR | ENUM
directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION

scalar Money @cost(weight: 3)
interface Node { id: ID! }
type Book implements Node {
  id: ID!
  title: String!
  authors: [Author!]! @listSize(assumedSize: 3)
}
type Author implements Node @cost(weight: 2) {
  id: ID!
  name: String!
  books(first: Int, last: Int): [Book!]! @listSize(slicingArguments: ["first", "last"])
}
union SearchResult = Book | Author
type Chain { value: Int next: [Chain!]! @listSize(assumedSize: 1000) }
type Query {
  node(id: ID!): Node
  search(q: String!, first: Int!): [SearchResult!]! @listSize(slicingArguments: ["first"])
  price: Money
  expensive: Int @cost(weight: 50)
  chain: Chain
  untyped: [Book!]!
}
`

func testAnalyzer(t testing.TB) *cost.Analyzer {
	t.Helper()
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "test.graphqls", Input: testSDL})
	require.NoError(t, err)
	a, err := cost.New(s, cost.Options{})
	require.NoError(t, err)
	return a
}

// parse validates query and coerces vars as gqlgen does before the analyzer runs.
func parse(t testing.TB, s *ast.Schema, query string, vars map[string]any) (*ast.QueryDocument, *ast.OperationDefinition, map[string]any) {
	t.Helper()
	doc, errs := gqlparser.LoadQuery(s, query)
	require.Empty(t, errs, "query %s is valid", query)
	op := doc.Operations[0]
	coerced, err := validator.VariableValues(s, op, vars)
	require.NoError(t, err, "variables %v of %s", vars, query)
	return doc, op, coerced
}

func analyze(t testing.TB, a *cost.Analyzer, query string, vars map[string]any) *cost.Result {
	t.Helper()
	doc, op, coerced := parse(t, a.Schema(), query, vars)
	return a.Analyze(doc, op, coerced)
}

func codes(r *cost.Result) []string {
	var out []string
	for _, e := range r.Errors {
		out = append(out, e.Extensions["code"].(string))
	}
	return out
}

// board is the README's board query: what a frontend asks most.
const board = `query Board($n: Int!, $sub: Int) {
  tasks(first: $n, filter: {status: [READY, IN_PROGRESS, BLOCKED]}, orderBy: {field: PRIORITY, direction: ASC}) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      number title status priority phase dueDate isOverdue
      assignee { name }
      tags { name color }
      subtasks(first: $sub) { number title status tags { name } }
    }
  }
}`

type costCase struct {
	name  string
	query string
	vars  map[string]any
	cost  int64
	codes []string // expected error codes, in order
}

// Weights of schema.graphqls, for the arithmetic below: objects 1, scalars
// and enums 0, root mutation fields 10, searchTasks 10, totalCount 5,
// taskStatistics 20. Sizes: tasks/searchTasks/Tag.tasks size edges and nodes
// by first (Tag.tasks default 20); tags(first); Task.subtasks first else 7;
// Task.tags 5; dependencies/dependents 5; history first (default 20);
// Subtask.tags 4; byStatus 6, byPriority 4, byType 15; kinds 12.
var realCases = []costCase{
	{"typename only", `{ __typename }`, nil, 0, nil},
	{"one object", `{ me { id name } }`, nil, 1, nil}, // 1 × (1 + 0)
	{"object with scalars", `{ task(id: "x") { id title status } }`, nil, 1, nil},
	// tasks 1 × (1 + nodes 10 × (1 + 0)) = 11
	{"connection nodes", `{ tasks(first: 10) { nodes { id } } }`, nil, 11, nil},
	// tasks 1 × (1 + totalCount 5) = 6
	{"totalCount weighs 5", `{ tasks(first: 10) { totalCount } }`, nil, 6, nil},
	// edges 10 × (1 + node 1) = 20; pageInfo 1; tasks 1 + 20 + 1 = 22
	{"connection edges and pageInfo", `{ tasks(first: 10) { edges { cursor node { id } } pageInfo { hasNextPage } } }`, nil, 22, nil},
	// node: 1 + assignee 1 + tags 5 × 1 + subtasks 5 × (1 + tags 4 × 1) = 32;
	// nodes 20 × 32 = 640; tasks 1 + totalCount 5 + pageInfo 1 + 640 = 647
	{"board with first 20 and sub 5", board, map[string]any{"n": 20, "sub": 5}, 647, nil},
	// subtasks without first: assumedSize 7 → 7 × (1 + 4) = 35; node 1+1+5+35 = 42; 20 × 42 + 7 = 847
	{"board with sub null", board, map[string]any{"n": 20, "sub": nil}, 847, nil},
	// the same through JSON numbers, as gqlgen decodes variables
	{"board with JSON numbers", board, jsonVars(`{"n": 20, "sub": 5}`), 647, nil},
	// subtasks 7 × 1 = 7; node 1 + 7 = 8; nodes 2 × 8 = 16; tasks 17
	{"list without first takes assumedSize", `{ tasks(first: 2) { nodes { subtasks { id } } } }`, nil, 17, nil},
	// 1 + 50 × 1
	{"variable", `query($n: Int!) { tasks(first: $n) { nodes { id } } }`, map[string]any{"n": 50}, 51, nil},
	// $n defaults to 30: 1 + 30
	{"variable default", `query($n: Int = 30) { tasks(first: $n) { nodes { id } } }`, nil, 31, nil},
	// Tag.tasks(first: null) is its default 20: tasks 1 + 20 = 21; tag 1 + 21 = 22; tags 2 × 22 = 44
	{"null variable takes the argument default", `query($n: Int) { tags(first: 2) { tasks(first: $n) { nodes { id } } } }`, map[string]any{"n": nil}, 44, nil},
	{"absent argument takes its default", `{ tags(first: 2) { tasks { nodes { id } } } }`, nil, 44, nil},
	// history default 20 × (1 + actor 1) = 40; task 1 + 40 = 41
	{"history default size", `{ task(id: "x") { history { kind actor { name } } } }`, nil, 41, nil},
	// history 3 × 2 = 6; task 7
	{"history first 3", `{ task(id: "x") { history(first: 3) { kind actor { name } } } }`, nil, 7, nil},
	// F spread twice counts once: node 1 + tags 5 = 6; 10 × 6 + 1 = 61
	{"fragment spread twice", `{ tasks(first: 10) { nodes { ...F ...F } } } fragment F on Task { tags { name } }`, nil, 61, nil},
	// tags directly and in F merge into one: 61
	{"fragment merged with a field", `{ tasks(first: 10) { nodes { tags { name } ...F } } } fragment F on Task { tags { color } }`, nil, 61, nil},
	// a: 1 + 2 × 6 = 13; b: 1 + 3 × 6 = 19; 32
	{"one fragment under two aliases", `{ a: tasks(first: 2) { nodes { ...F } } b: tasks(first: 3) { nodes { ...F } } } fragment F on Task { tags { name } }`, nil, 32, nil},
	// aliases count separately: node 1 + 5 + 5 = 11; 10 × 11 + 1 = 111
	{"aliases count separately", `{ tasks(first: 10) { nodes { a: tags { name } b: tags { name } } } }`, nil, 111, nil},
	// node 1 + assignee 1 = 2; 10 × 2 + 1 = 21
	{"inline fragment with type condition", `{ tasks(first: 10) { nodes { ... on Task { assignee { name } } } } }`, nil, 21, nil},
	// nested fragments: F spreads G; node 1 + tags 5 + assignee 1 = 7; 5 × 7 + 1 = 36
	{"nested fragments", `{ tasks(first: 5) { nodes { ...F } } } fragment F on Task { assignee { name } ...G } fragment G on Task { tags { name } }`, nil, 36, nil},
	{"include false", `query($with: Boolean!) { tasks(first: 10) { nodes { id tags @include(if: $with) { name } } } }`, map[string]any{"with": false}, 11, nil},
	{"include true", `query($with: Boolean!) { tasks(first: 10) { nodes { id tags @include(if: $with) { name } } } }`, map[string]any{"with": true}, 61, nil},
	{"skip on a fragment spread", `{ tasks(first: 10) { nodes { id ...F @skip(if: true) } } } fragment F on Task { tags { name } }`, nil, 11, nil},
	{"skip on an inline fragment", `{ tasks(first: 10) { nodes { id ... @skip(if: true) { tags { name } } } } }`, nil, 11, nil},
	// the skipped occurrence adds nothing; the other is me: 1
	{"skipped and kept occurrences merge", `{ me { id } me @skip(if: true) { name } }`, nil, 1, nil},
	{"introspection is flat", `{ __schema { types { name fields { name type { name ofType { name } } } } } }`, nil, 10, nil},
	// __type 10 + me 1
	{"introspection beside data", `{ __type(name: "Task") { name } me { id } }`, nil, 11, nil},
	{"mutation scalar", `mutation { deleteTask(id: "x") }`, nil, 10, nil},
	// createTask 1 × (10 + tags 5 × 1) = 15
	{"mutation with children", `mutation { createTask(input: {title: "x"}) { id tags { name } } }`, nil, 15, nil},
	{"two mutations", `mutation { a: deleteTask(id: "x") b: deleteTask(id: "y") }`, nil, 20, nil},
	// inner Tag.tasks 1 + 5 = 6; Task.tags 5 × (1 + 6) = 35; node 36; nodes 5 × 36 = 180;
	// outer Tag.tasks 181; tag 182; tags 5 × 182 = 910
	{"Tag.tasks cycle", `{ tags(first: 5) { tasks(first: 5) { nodes { tags { tasks(first: 5) { nodes { id } } } } } } }`, nil, 910, nil},
	// searchTasks 1 × (10 + nodes 10 × 1 + totalCount 5) = 25
	{"searchTasks weighs 10", `{ searchTasks(query: "x", first: 10) { nodes { id } totalCount } }`, nil, 25, nil},
	// 20 + byStatus 6 + byPriority 4 + byType 15 = 45
	{"taskStatistics", `{ taskStatistics { total byStatus { status count } byPriority { count } byType { count } } }`, nil, 45, nil},
	// 1 + kinds 12 × 1
	{"cacheStatistics", `{ cacheStatistics { enabled kinds { kind hits } } }`, nil, 14, nil},
	// dependents 5 × 1 = 5; dependencies 5 × (1 + 5) = 30; task 31
	{"dependencies of dependencies", `{ task(id: "x") { dependencies { dependents { id } } } }`, nil, 31, nil},
	// subtasks 3; task 1 + 3 = 4; subtask 1 + 4 = 5
	{"subtask back to its task", `{ subtask(id: "x") { task { subtasks(first: 3) { id } } } }`, nil, 5, nil},
	// tags(first: N) { tasks(first: M) { nodes { id } } } costs N × (1 + 1 + M)
	{"just under the limit", `{ tags(first: 100) { tasks(first: 97) { nodes { id } } } }`, nil, 9900, nil},
	{"at the limit", `{ tags(first: 100) { tasks(first: 98) { nodes { id } } } }`, nil, 10000, nil},
	{"over the limit", `{ tags(first: 100) { tasks(first: 99) { nodes { id } } } }`, nil, 10100, []string{apierror.CostLimitExceeded}},
	// first 101 still counts at 101: 1 + 101
	{"first above 100", `{ tasks(first: 101) { nodes { id } } }`, nil, 102, []string{apierror.SlicingArgumentOutOfRange}},
	{"negative first counts as 0", `{ tags(first: -1) { id } }`, nil, 0, []string{apierror.SlicingArgumentOutOfRange}},
	// tasks(first: null) has no default: required; the size falls back to 10: 1 + 10
	{"null first without a default", `query($n: Int = 5) { tasks(first: $n) { nodes { id } } }`, map[string]any{"n": nil}, 11, []string{apierror.SlicingArgumentRequired}},
	// a: 1 + 101 = 102; b: 0
	{"every violation at once", `{ a: tasks(first: 101) { nodes { id } } b: tags(first: -3) { id } }`, nil, 102, []string{apierror.SlicingArgumentOutOfRange, apierror.SlicingArgumentOutOfRange}},
	// depth 10 (id): tags 1, tasks 2, nodes 3, tags 4, tasks 5, nodes 6, tags 7, tasks 8, nodes 9, id 10.
	// tasks(1) 1 + 1 = 2; tags 5 × 3 = 15; nodes 16; tasks 17; tags 5 × 18 = 90; nodes 91; tasks 92; tags(1) 93
	{"depth 10", `{ tags(first: 1) { tasks(first: 1) { nodes { tags { tasks(first: 1) { nodes { tags { tasks(first: 1) { nodes { id } } } } } } } } } }`, nil, 93, nil},
	// one level more (tags { id } at 10 and 11): innermost tags 5; nodes 6; tasks 7; tags 5 × 8 = 40;
	// nodes 41; tasks 42; tags 5 × 43 = 215; nodes 216; tasks 217; tags(1) 218
	{"depth 11", `{ tags(first: 1) { tasks(first: 1) { nodes { tags { tasks(first: 1) { nodes { tags { tasks(first: 1) { nodes { tags { id } } } } } } } } } } }`, nil, 218, []string{apierror.DepthLimitExceeded}},
	{"30 aliases", aliases(30), nil, 30, nil},
	{"31 aliases", aliases(31), nil, 31, []string{apierror.AliasLimitExceeded}},
	// cost, depth and slicing together, limits first
	{"several limits at once", `{ tags(first: 100) { tasks(first: 101) { nodes { tags { tasks(first: 1) { nodes { tags { tasks(first: 1) { nodes { tags { id } } } } } } } } } } }`, nil,
		// innermost tags{id} 5; nodes 6; tasks(1) 7; tags 40; nodes 41; tasks(1) 42; tags 215;
		// nodes 101 × 216 = 21816; tasks(101) 21817; tags(100) 100 × 21818 = 2181800
		2181800, []string{apierror.CostLimitExceeded, apierror.DepthLimitExceeded, apierror.SlicingArgumentOutOfRange}},
}

func aliases(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, " a%d: me { id }", i)
	}
	b.WriteString(" }")
	return b.String()
}

func jsonVars(s string) map[string]any {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		panic(err)
	}
	return m
}

func TestAnalyzeRealSchema(t *testing.T) {
	t.Parallel()
	a := realAnalyzer(t, cost.Options{})
	require.GreaterOrEqual(t, len(realCases), 30)
	for _, c := range realCases {
		t.Run(c.name, func(t *testing.T) {
			r := analyze(t, a, c.query, c.vars)
			assert.Equal(t, c.cost, r.Cost, "Analyze(%s, %v).Cost", c.query, c.vars)
			assert.Equal(t, c.codes, codes(r), "Analyze(%s, %v).Errors = %v", c.query, c.vars, r.Errors)
			assert.GreaterOrEqual(t, r.Cost, int64(0))
		})
	}
}

var abstractCases = []costCase{
	// node's own weight: Node is an interface, 1; no children
	{"interface field", `{ node(id: "1") { id } }`, nil, 1, nil},
	// Book: authors 3 × (Author's @cost 2) = 6; Author: books(first: 10) 10 × 1 = 10; max 10; node 1 + 10
	{"interface takes the costliest type", `{ node(id: "1") { ... on Book { authors { name } } ... on Author { books(first: 10) { title } } } }`, nil, 11, nil},
	// Book: 6; Author: nothing; node 1 + 6
	{"type condition of one type", `{ node(id: "1") { ... on Book { authors { name } } } }`, nil, 7, nil},
	// Book: authors 3 × 2 = 6; Author: 0; max 6; search 5 × (1 + 6) = 35
	{"union", `{ search(q: "x", first: 5) { ... on Book { title authors { id } } ... on Author { name } } }`, nil, 35, nil},
	// an interface fragment spread in a union: 2 × 1
	{"interface fragment in a union", `{ search(q: "x", first: 2) { ...N } } fragment N on Node { id }`, nil, 2, nil},
	// A applies to Authors only: Author books 9 × 1 = 9, Book 0; max 9; search 2 × (1 + 9) = 20
	{"named fragment on one member", `{ search(q: "x", first: 2) { ...A } } fragment A on Author { books(first: 9) { id } }`, nil, 20, nil},
	// two slicing arguments where one is required: the larger counts, books 4 × 1; node 1 + 4
	{"two slicing arguments given", `{ node(id: "1") { ... on Author { books(first: 2, last: 4) { id } } } }`, nil, 5, []string{apierror.SlicingArgumentRequired}},
	// none given: the default size 10; node 1 + 10
	{"no slicing argument given", `{ node(id: "1") { ... on Author { books { id } } } }`, nil, 11, []string{apierror.SlicingArgumentRequired}},
	{"scalar type with @cost", `{ price }`, nil, 3, nil},
	{"field with @cost", `{ expensive }`, nil, 50, nil},
	{"list without @listSize", `{ untyped { id } }`, nil, 10, nil}, // 10 × 1
	// next 1000 deep six times overflows 2^53: saturates
	{"saturates", `{ chain { next { next { next { next { next { next { value } } } } } } } }`, nil, cost.MaxCost, []string{apierror.CostLimitExceeded}},
}

func TestAnalyzeAbstractTypes(t *testing.T) {
	t.Parallel()
	a := testAnalyzer(t)
	for _, c := range abstractCases {
		t.Run(c.name, func(t *testing.T) {
			r := analyze(t, a, c.query, c.vars)
			assert.Equal(t, c.cost, r.Cost, "Analyze(%s).Cost", c.query)
			assert.Equal(t, c.codes, codes(r), "Analyze(%s).Errors = %v", c.query, r.Errors)
		})
	}
}

func TestAnalyzeDepthAndAliases(t *testing.T) {
	t.Parallel()
	a := realAnalyzer(t, cost.Options{})
	r := analyze(t, a, `{ a: me { id } b: me { name } me { id } }`, nil)
	assert.Equal(t, 2, r.Aliases, "a and b; me is no alias")
	assert.Equal(t, 2, r.Depth)
	r = analyze(t, a, `{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }`, nil)
	assert.Equal(t, 1, r.Depth, "introspection is flat in depth too: the Playground's query passes")
	r = analyze(t, a, `{ ...Q ...Q } fragment Q on Query { x: me { id } }`, nil)
	assert.Equal(t, 1, r.Aliases, "a fragment spread twice counts its aliases once")
}

func TestAnalyzeHeaviestPaths(t *testing.T) {
	t.Parallel()
	a := realAnalyzer(t, cost.Options{})
	r := analyze(t, a, board, map[string]any{"n": 20, "sub": 5})
	assert.Equal(t, []cost.Path{
		{Path: "tasks", Cost: 647},
		{Path: "tasks.nodes", Cost: 640},
		{Path: "tasks.nodes.subtasks", Cost: 500},      // 20 tasks × 5 × (1 + 4)
		{Path: "tasks.nodes.subtasks.tags", Cost: 400}, // 20 × 5 × 4
		{Path: "tasks.nodes.tags", Cost: 100},          // 20 × 5
	}, r.Heaviest)
}

func TestAnalyzeErrorsCarryCodesAndPlaces(t *testing.T) {
	t.Parallel()
	a := realAnalyzer(t, cost.Options{Limit: 100})
	r := analyze(t, a, "{\n  tasks(first: 150) { nodes { id } }\n}", nil)
	require.Equal(t, []string{apierror.CostLimitExceeded, apierror.SlicingArgumentOutOfRange}, codes(r))
	assert.Equal(t, map[string]any{"code": apierror.CostLimitExceeded, "cost": int64(151), "limit": int64(100)}, r.Errors[0].Extensions)
	assert.Equal(t, "first", r.Errors[1].Extensions["field"])
	require.Len(t, r.Errors[1].Locations, 1)
	assert.Equal(t, 2, r.Errors[1].Locations[0].Line, "the error points at the field")
	assert.Contains(t, r.Errors[1].Message, "Query.tasks(first:) must be between 0 and 100, got 150")
}

func TestNewRejectsBadDirectives(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, field, want string }{
		{"unknown slicing argument", `xs(first: Int): [X!]! @listSize(slicingArguments: ["size"])`, "slicing argument"},
		{"unknown sized field", `page(first: Int): Page! @listSize(slicingArguments: ["first"], sizedFields: ["items"])`, "sized field"},
		{"negative weight", `x: X @cost(weight: -1)`, "non-negative"},
		{"negative assumed size", `xs: [X!]! @listSize(assumedSize: -2)`, "assumedSize"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sdl := strings.Replace(testSDL, "type Query {", "type X { id: ID }\ntype Page { nodes: [X!]! }\ntype Query {\n  "+c.field, 1)
			s, err := gqlparser.LoadSchema(&ast.Source{Name: "bad.graphqls", Input: sdl})
			require.NoError(t, err)
			_, nerr := cost.New(s, cost.Options{})
			require.Error(t, nerr)
			assert.Contains(t, nerr.Error(), c.want)
		})
	}
}

// TestSchemaSizesEveryList: every list field of schema.graphqls says how
// long it is (a connection's edges and nodes are sized by the field that
// returns the connection), and each statistics list assumes as many entries
// as its enum has values.
func TestSchemaSizesEveryList(t *testing.T) {
	t.Parallel()
	s, err := loadReal()
	require.NoError(t, err)
	sized := map[string]bool{} // "Type.field" sized by a parent's sizedFields
	for _, def := range s.Types {
		for _, f := range def.Fields {
			if d := f.Directives.ForName("listSize"); d != nil {
				if arg := d.Arguments.ForName("sizedFields"); arg != nil {
					for _, c := range arg.Value.Children {
						sized[f.Type.Name()+"."+c.Value.Raw] = true
					}
				}
			}
		}
	}
	for _, def := range s.Types {
		if def.BuiltIn || strings.HasPrefix(def.Name, "__") || def.Kind != ast.Object {
			continue
		}
		for _, f := range def.Fields {
			if f.Type.Elem == nil || strings.HasPrefix(f.Name, "__") {
				continue
			}
			name := def.Name + "." + f.Name
			assert.True(t, f.Directives.ForName("listSize") != nil || sized[name], "%s is a list without @listSize", name)
		}
	}
	for field, enum := range map[string]string{"byStatus": "TaskStatus", "byPriority": "TaskPriority", "byType": "TaskType"} {
		d := s.Types["TaskStatistics"].Fields.ForName(field).Directives.ForName("listSize")
		require.NotNil(t, d, field)
		assert.Equal(t, fmt.Sprint(len(s.Types[enum].EnumValues)), d.Arguments.ForName("assumedSize").Value.Raw,
			"TaskStatistics.%s lists every %s", field, enum)
	}
}
