package main

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/herotasks/api/domain"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The queries a Relay client sends: a paginated list fragment with the
// connection fields Relay's store needs, and the refetch query Relay
// generates for a @refetchable fragment on a Node.
const relayListQuery = `query TaskListPaginationQuery($count: Int!, $cursor: String) {
  ...TaskList_query @arguments(count: $count, cursor: $cursor)
}
fragment TaskList_query on Query @argumentDefinitions(count: {type: "Int!"}, cursor: {type: "String"}) {
  tasks(first: $count, after: $cursor) {
    edges { cursor node { __typename id ...TaskRow_task } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
fragment TaskRow_task on Task { id number title }`

const relayRefetchQuery = `query TaskRowRefetchQuery($id: ID!) {
  node(id: $id) { __typename id ...TaskRow_task }
}
fragment TaskRow_task on Task { id number title }`

// TestRelayConnection walks tasks the way Relay's usePaginationFragment does
// and checks the cursor connection specification: edges with cursors,
// pageInfo's four fields, and that endCursor continues exactly after the
// page.
func TestRelayConnection(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	_, editor := api.user(t, domain.RoleEditor)
	var want []string
	for _, title := range []string{"one", "two", "three", "four", "five"} {
		id, _ := api.newTask(t, editor, map[string]any{"title": title})
		want = append([]string{id}, want...) // newest first
	}
	// Relay-specific directives are the client's; strip them like the
	// Relay compiler does before sending.
	q := stripRelay(relayListQuery)

	var got []string
	var cursor any
	for page := 0; ; page++ {
		d := api.ok(t, editor, q, map[string]any{"count": 2, "cursor": cursor})
		conn := get(d, "tasks")
		edges := list(conn, "edges")
		info := get(conn, "pageInfo")
		for _, e := range edges {
			assert.Equal(t, "Task", str(e, "node", "__typename"))
			assert.NotEmpty(t, str(e, "cursor"))
			got = append(got, str(e, "node", "id"))
		}
		require.NotEmpty(t, edges, "page %d", page)
		assert.Equal(t, str(edges[0], "cursor"), str(info, "startCursor"), "page %d: startCursor is the first edge's", page)
		assert.Equal(t, str(edges[len(edges)-1], "cursor"), str(info, "endCursor"), "page %d: endCursor is the last edge's", page)
		assert.Equal(t, page > 0, get(info, "hasPreviousPage"), "page %d: hasPreviousPage", page)
		if get(info, "hasNextPage") != true {
			break
		}
		cursor = str(info, "endCursor")
	}
	assert.Equal(t, want, got, "every task once, in order")

	d := api.ok(t, editor, q, map[string]any{"count": 0})
	assert.Empty(t, list(d, "tasks", "edges"))
	assert.Nil(t, get(d, "tasks", "pageInfo", "startCursor"), "an empty page has no cursors")
	assert.Nil(t, get(d, "tasks", "pageInfo", "endCursor"))

	d = api.ok(t, editor, relayRefetchQuery, map[string]any{"id": want[0]})
	assert.Equal(t, "Task", str(d, "node", "__typename"))
	assert.Equal(t, "five", str(d, "node", "title"), "node(id) refetches with the id the list gave")
}

// stripRelay removes the client-only directives Relay's compiler removes
// before sending (the fragment then uses the operation's variables).
func stripRelay(q string) string {
	q = strings.ReplaceAll(q, ` @arguments(count: $count, cursor: $cursor)`, "")
	return strings.ReplaceAll(q, ` @argumentDefinitions(count: {type: "Int!"}, cursor: {type: "String"})`, "")
}

// TestNode resolves every Node type by id, hides what the viewer may not
// see exactly like a missing id, and batches nodes() by type.
func TestNode(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t, "ENTITY_CACHE", "off") // count statements, not cache hits
	editorID, editor := api.user(t, domain.RoleEditor)
	_, viewer := api.user(t, domain.RoleViewer)
	pub, _ := api.newTask(t, editor, map[string]any{"title": "Public", "tags": []string{"relay"}})
	priv, _ := api.newTask(t, editor, map[string]any{"title": "Private", "visibility": "PRIVATE"})
	sub := str(api.ok(t, editor, `mutation($id: ID!) { createSubtask(taskId: $id, input: {title: "Step"}) { id } }`,
		map[string]any{"id": pub}), "createSubtask", "id")
	privSub := str(api.ok(t, editor, `mutation($id: ID!) { createSubtask(taskId: $id, input: {title: "Hidden step"}) { id } }`,
		map[string]any{"id": priv}), "createSubtask", "id")
	tag := str(api.ok(t, editor, `query($id: ID!) { task(id: $id) { tags { id } } }`, map[string]any{"id": pub}), "task", "tags", 0, "id")

	const nodeQuery = `query($id: ID!) { node(id: $id) { __typename id
		... on Task { title } ... on Subtask { title task { id } } ... on Tag { name } ... on User { name } } }`
	cases := []struct {
		name, token, id, typename string
	}{
		{"task", viewer, pub, "Task"},
		{"subtask", viewer, sub, "Subtask"},
		{"tag", "", tag, "Tag"},
		{"user", viewer, editorID, "User"},
		{"private task, owner", editor, priv, "Task"},
		{"private task, other user", viewer, priv, ""},
		{"private task, anonymous", "", priv, ""},
		{"subtask of a private task, other user", viewer, privSub, ""},
		{"subtask of a private task, owner", editor, privSub, "Subtask"},
		{"no such id", viewer, uuid.NewString(), ""},
	}
	for _, c := range cases {
		r := api.post(t, c.token, nodeQuery, map[string]any{"id": c.id})
		require.Empty(t, r.Errors, c.name)
		if c.typename == "" {
			assert.Nil(t, get(r.Data, "node"), "%s: null, like an id that does not exist", c.name)
			continue
		}
		assert.Equal(t, c.typename, str(r.Data, "node", "__typename"), c.name)
		assert.Equal(t, c.id, str(r.Data, "node", "id"), c.name)
	}
	r := api.post(t, viewer, nodeQuery, map[string]any{"id": "not-an-id"})
	assert.Equal(t, "BAD_USER_INPUT", r.code())

	// nodes: in order, nulls in place, one statement per type however many ids.
	const nodesQuery = `query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }`
	ids := []string{tag, priv, pub, uuid.NewString(), sub, editorID, privSub}
	d := api.ok(t, viewer, nodesQuery, map[string]any{"ids": ids})
	got := list(d, "nodes")
	require.Len(t, got, len(ids))
	for i, want := range []string{"Tag", "", "Task", "", "Subtask", "User", ""} {
		if want == "" {
			assert.Nil(t, got[i], "nodes[%d] (%s) is null", i, ids[i])
		} else {
			assert.Equal(t, want, str(got[i], "__typename"), "nodes[%d]", i)
			assert.Equal(t, ids[i], str(got[i], "id"), "nodes[%d]", i)
		}
	}

	var many []string
	for range 30 {
		id, _ := api.newTask(t, editor, map[string]any{"title": "many"})
		many = append(many, id)
	}
	before := api.sql.n.Load()
	api.ok(t, viewer, nodesQuery, map[string]any{"ids": many[:2]})
	few := api.sql.n.Load() - before
	before = api.sql.n.Load()
	d = api.ok(t, viewer, nodesQuery, map[string]any{"ids": many})
	assert.Equal(t, few, api.sql.n.Load()-before, "nodes of 30 ids costs what nodes of 2 costs")
	assert.Equal(t, int64(1), few, "task ids: one statement")
	assert.Len(t, list(d, "nodes"), 30)
	others := []string{sub, tag, editorID, uuid.NewString()}
	before = api.sql.n.Load()
	d = api.ok(t, viewer, nodesQuery, map[string]any{"ids": append(others, many...)})
	assert.Equal(t, int64(5), api.sql.n.Load()-before, "tasks, then subtasks, tags and users for the rest, then the subtasks' tasks")
	assert.Equal(t, "Subtask", str(d, "nodes", 0, "__typename"))

	r = api.post(t, viewer, nodesQuery, map[string]any{"ids": append(many, make([]string, 71)...)})
	assert.Equal(t, "BAD_USER_INPUT", r.code(), "more than 100 ids")
}
