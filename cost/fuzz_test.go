package cost_test

import (
	"testing"

	"github.com/herotasks/api/cost"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/validator"
)

// FuzzAnalyze: for any valid operation and any value of $n, Analyze never
// panics, never returns a negative cost or one above MaxCost, and is
// monotone in $n (wherever the operation passes $n to a slicing argument,
// a larger value never costs less). `go test` runs the seed corpus;
// `go test -fuzz FuzzAnalyze ./cost/` explores.
func FuzzAnalyze(f *testing.F) {
	for _, c := range realCases {
		f.Add(c.query, int64(10), uint16(5))
	}
	for _, q := range []string{
		board,
		`query($n: Int!) { tags(first: $n) { tasks(first: $n) { nodes { tags { tasks(first: $n) { totalCount } } } } } }`,
		`query($n: Int) { tasks(first: 5) { nodes { subtasks(first: $n) { tags { name } } history(first: $n) { kind } } } }`,
		`query($n: Int!) { searchTasks(query: "q", first: $n) { edges { node { dependencies { id } } } } }`,
		`query($n: Int!, $sub: Int) { a: tasks(first: $n) { ...F } b: tasks(first: 1) { ...F } } fragment F on TaskConnection { nodes { subtasks(first: $sub) { id } } }`,
	} {
		f.Add(q, int64(0), uint16(1))
		f.Add(q, int64(99), uint16(3))
		f.Add(q, int64(-4), uint16(200))
	}
	a := realAnalyzer(f, cost.Options{})
	schema := a.Schema()
	f.Fuzz(func(t *testing.T, query string, n int64, step uint16) {
		n = n % 1_000_000
		doc, errs := gqlparser.LoadQuery(schema, query)
		if len(errs) > 0 || len(doc.Operations) == 0 {
			return
		}
		op := doc.Operations[0]
		costAt := func(n int64) int64 {
			vars, err := validator.VariableValues(schema, op, map[string]any{"n": n, "sub": n})
			if err != nil {
				return -1
			}
			r := a.Analyze(doc, op, vars)
			if r.Cost < 0 || r.Cost > cost.MaxCost || r.Depth < 0 || r.Aliases < 0 {
				t.Fatalf("Analyze(%q, n=%d) = cost %d, depth %d, aliases %d", query, n, r.Cost, r.Depth, r.Aliases)
			}
			for _, e := range r.Errors {
				if e.Extensions["code"] == nil {
					t.Fatalf("Analyze(%q) error without a code: %v", query, e)
				}
			}
			_ = a.Actual(doc, op, vars, []byte(query)) // any bytes: must not panic
			return r.Cost
		}
		lo, hi := costAt(n), costAt(n+int64(step))
		if lo >= 0 && hi >= 0 && hi < lo {
			t.Fatalf("not monotone in $n: Analyze(%q) = %d at n=%d, %d at n=%d", query, lo, n, hi, n+int64(step))
		}
	})
}

// FuzzActual: any bytes as response data cost something between 0 and
// MaxCost, without a panic.
func FuzzActual(f *testing.F) {
	f.Add([]byte(`{"tasks":{"nodes":[{"id":"1","tags":[{"name":"a"}]}],"totalCount":2}}`))
	f.Add([]byte(`{"tasks":{"nodes":[{"id":"\"","tags":[[[[`))
	f.Add([]byte(`{"tasks":null}`))
	f.Add([]byte(`[1,2,{"a":}]`))
	a := realAnalyzer(f, cost.Options{})
	doc, op, vars := parse(f, a.Schema(), `{ tasks(first: 5) { nodes { id tags { name } subtasks { tags { name } } } totalCount } }`, nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		if c := a.Actual(doc, op, vars, data); c < 0 || c > cost.MaxCost {
			t.Fatalf("Actual(%q) = %d", data, c)
		}
	})
}
