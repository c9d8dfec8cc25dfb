package graph_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
)

// TestShapesFollowTheirVariables: requests of one document share what was
// planned for it only while the variables its shape reads are the same: a
// field included, then skipped, then included again, and a subtask limit
// that changes, each answer as asked. A shape that left out a directive's
// or the limit's variable would answer the second request with the first
// one's fields or subtasks.
func TestShapesFollowTheirVariables(t *testing.T) {
	t.Parallel()
	api := apitest.New(t, "ENTITY_CACHE", "off")
	_, editor := api.User(t, domain.RoleEditor)
	id, _ := api.NewTask(t, editor, map[string]any{"title": "shaped", "tags": []string{"ops"}})
	for _, title := range []string{"one", "two", "three"} {
		api.OK(t, editor, `mutation($id: ID!, $t: String!) { createSubtask(taskId: $id, input: {title: $t}) { id } }`,
			map[string]any{"id": id, "t": title})
	}
	const q = `query($id: ID!, $tags: Boolean!, $n: Int) { task(id: $id) { id tags @include(if: $tags) { name } subtasks(first: $n) { title } } }`
	for _, c := range []struct {
		tags bool
		n    int
		want string
	}{
		{true, 1, `{"task":{"id":"` + id + `","tags":[{"name":"ops"}],"subtasks":[{"title":"one"}]}}`},
		{false, 1, `{"task":{"id":"` + id + `","subtasks":[{"title":"one"}]}}`},
		{false, 3, `{"task":{"id":"` + id + `","subtasks":[{"title":"one"},{"title":"two"},{"title":"three"}]}}`},
		{true, 2, `{"task":{"id":"` + id + `","tags":[{"name":"ops"}],"subtasks":[{"title":"one"},{"title":"two"}]}}`},
	} {
		d := api.OK(t, editor, q, map[string]any{"id": id, "tags": c.tags, "n": c.n})
		assert.JSONEq(t, c.want, apitest.JSON(t, d), "tags %v, first %d", c.tags, c.n)
	}
}
