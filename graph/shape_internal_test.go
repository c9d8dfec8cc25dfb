package graph

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2"
)

// TestShapeVariables: the variables a shape reads are those of directives
// (on fields, inline fragments, spreads and fragments, at any depth) and of
// the subtasks' arguments, not those of other arguments.
func TestShapeVariables(t *testing.T) {
	schema := NewExecutableSchema(Config{}).Schema()
	doc, errs := gqlparser.LoadQuery(schema, `query($id: ID!, $a: Boolean!, $b: Boolean!, $c: Boolean!, $d: Boolean!, $n: Int, $q: String!, $first: Int!) {
		task(id: $id) { id title @include(if: $a) ... on Task @skip(if: $b) { number } ...F @include(if: $c) subtasks(first: $n) { id } }
		searchTasks(query: $q, first: $first) { nodes { id } }
	}
	fragment F on Task { tags { name @skip(if: $d) } }`)
	require.Empty(t, errs)
	assert.Equal(t, []string{"a", "b", "c", "d", "n"}, shapeVariables(doc, doc.Operations[0]))

	doc, errs = gqlparser.LoadQuery(schema, `query($id: ID!) { task(id: $id) { id } }`)
	require.Empty(t, errs)
	assert.Empty(t, shapeVariables(doc, doc.Operations[0]))
}
