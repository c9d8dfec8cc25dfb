package cost_test

import (
	"testing"

	"github.com/herotasks/api/cost"
	"github.com/stretchr/testify/assert"
)

func actual(t testing.TB, a *cost.Analyzer, query string, vars map[string]any, data string) int64 {
	t.Helper()
	doc, op, coerced := parse(t, a.Schema(), query, vars)
	return a.Actual(doc, op, coerced, []byte(data))
}

func TestActual(t *testing.T) {
	t.Parallel()
	real := realAnalyzer(t, cost.Options{})
	abstract := testAnalyzer(t)
	for _, c := range []struct {
		name  string
		a     *cost.Analyzer
		query string
		data  string
		want  int64
	}{
		// nodes: first 1 + tags 2 × 1 = 3, second 1 + 0 = 1; totalCount 5; tasks 1: 10
		{"lists at their length", real, `{ tasks(first: 10) { nodes { id tags { name } } totalCount } }`,
			`{"tasks":{"nodes":[{"id":"1","tags":[{"name":"a"},{"name":"b"}]},{"id":"2","tags":[]}],"totalCount":2}}`, 10},
		{"null object costs its weight", real, `{ task(id: "x") { id assignee { name } } }`, `{"task":null}`, 1},
		{"null data", real, `{ task(id: "x") { id } }`, `null`, 0},
		// a: 1 + 1 × 1; b: 1 + 0
		{"aliases", real, `{ a: tasks(first: 5) { nodes { id } } b: tasks(first: 5) { nodes { id } } }`,
			`{"a":{"nodes":[{"id":"1"}]},"b":{"nodes":[]}}`, 3},
		// edges 2 × (1 + node 1) + pageInfo 1 + tasks 1
		{"edges", real, `{ tasks(first: 5) { edges { cursor node { id } } pageInfo { hasNextPage } } }`,
			`{"tasks":{"edges":[{"cursor":"c1","node":{"id":"1"}},{"cursor":"c\"2","node":{"id":"2"}}],"pageInfo":{"hasNextPage":false}}}`, 6},
		{"fragments and whitespace", real, `{ tasks(first: 5) { nodes { ...F ...F } } } fragment F on Task { assignee { name } }`,
			"{ \"tasks\" : { \"nodes\" : [ { \"assignee\" : { \"name\" : \"x\" } } , { \"assignee\" : null } ] } }", 5}, // 1 + (1 + 1) + (1 + 1)
		{"mutation", real, `mutation { deleteTask(id: "x") }`, `{"deleteTask":true}`, 10},
		{"introspection", real, `{ __schema { types { name } } me { id } }`, `{"__schema":{"types":[{"name":"A"},{"name":"B"}]},"me":{"id":"u"}}`, 11},
		{"statistics", real, `{ taskStatistics { byStatus { count } } }`,
			`{"taskStatistics":{"byStatus":[{"count":1},{"count":2},{"count":3}]}}`, 23}, // 20 + 3 × 1
		// typename says Author: books 2 × 1; node 1 + 2
		{"abstract by __typename", abstract, `{ node(id: "1") { __typename ... on Book { authors { id } } ... on Author { books(first: 5) { id } } } }`,
			`{"node":{"__typename":"Author","books":[{"id":"b1"},{"id":"b2"}]}}`, 3},
		// no typename: costliest reading; as Book: authors 1 × 2 = 2; node 1 + 2
		{"abstract without __typename", abstract, `{ node(id: "1") { ... on Book { authors { id } } ... on Author { name } } }`,
			`{"node":{"authors":[{"id":"a1"}]}}`, 3},
		// search: Book 1 + 0, Author 1 + books 1 × 1 = 2: 3
		{"union list", abstract, `{ search(q: "x", first: 5) { __typename ... on Author { books(first: 1) { id } } } }`,
			`{"search":[{"__typename":"Book"},{"__typename":"Author","books":[{"id":"x"}]}]}`, 3},
		{"malformed JSON", real, `{ tasks(first: 5) { nodes { id } } }`, `{"tasks":{"nodes":[{"id":`, 2}, // tasks 1 + the node begun 1
		{"garbage", real, `{ tasks(first: 5) { nodes { id } } }`, `]]]}}}:::,,,"`, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, actual(t, c.a, c.query, nil, c.data), "Actual(%s, %s)", c.query, c.data)
		})
	}
}
