package graph_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
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
	api := apitest.New(t)
	_, editor := api.User(t, domain.RoleEditor)
	var want []string
	for _, title := range []string{"one", "two", "three", "four", "five"} {
		id, _ := api.NewTask(t, editor, map[string]any{"title": title})
		want = append([]string{id}, want...) // newest first
	}
	// Relay-specific directives are the client's; strip them like the
	// Relay compiler does before sending.
	q := stripRelay(relayListQuery)

	var got []string
	var cursor any
	for page := 0; ; page++ {
		d := api.OK(t, editor, q, map[string]any{"count": 2, "cursor": cursor})
		conn := apitest.Get(d, "tasks")
		edges := apitest.List(conn, "edges")
		info := apitest.Get(conn, "pageInfo")
		for _, e := range edges {
			assert.Equal(t, "Task", apitest.Str(e, "node", "__typename"))
			assert.NotEmpty(t, apitest.Str(e, "cursor"))
			got = append(got, apitest.Str(e, "node", "id"))
		}
		require.NotEmpty(t, edges, "page %d", page)
		assert.Equal(t, apitest.Str(edges[0], "cursor"), apitest.Str(info, "startCursor"), "page %d: startCursor is the first edge's", page)
		assert.Equal(t, apitest.Str(edges[len(edges)-1], "cursor"), apitest.Str(info, "endCursor"), "page %d: endCursor is the last edge's", page)
		assert.Equal(t, page > 0, apitest.Get(info, "hasPreviousPage"), "page %d: hasPreviousPage", page)
		if apitest.Get(info, "hasNextPage") != true {
			break
		}
		cursor = apitest.Str(info, "endCursor")
	}
	assert.Equal(t, want, got, "every task once, in order")

	d := api.OK(t, editor, q, map[string]any{"count": 0})
	assert.Empty(t, apitest.List(d, "tasks", "edges"))
	assert.Nil(t, apitest.Get(d, "tasks", "pageInfo", "startCursor"), "an empty page has no cursors")
	assert.Nil(t, apitest.Get(d, "tasks", "pageInfo", "endCursor"))

	d = api.OK(t, editor, relayRefetchQuery, map[string]any{"id": want[0]})
	assert.Equal(t, "Task", apitest.Str(d, "node", "__typename"))
	assert.Equal(t, "five", apitest.Str(d, "node", "title"), "node(id) refetches with the id the list gave")
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
	api := apitest.New(t, "ENTITY_CACHE", "off") // count statements, not cache hits
	editorID, editor := api.User(t, domain.RoleEditor)
	_, viewer := api.User(t, domain.RoleViewer)
	pub, _ := api.NewTask(t, editor, map[string]any{"title": "Public", "tags": []string{"relay"}})
	priv, _ := api.NewTask(t, editor, map[string]any{"title": "Private", "visibility": "PRIVATE"})
	sub := apitest.Str(api.OK(t, editor, `mutation($id: ID!) { createSubtask(taskId: $id, input: {title: "Step"}) { id } }`,
		map[string]any{"id": pub}), "createSubtask", "id")
	privSub := apitest.Str(api.OK(t, editor, `mutation($id: ID!) { createSubtask(taskId: $id, input: {title: "Hidden step"}) { id } }`,
		map[string]any{"id": priv}), "createSubtask", "id")
	tag := apitest.Str(api.OK(t, editor, `query($id: ID!) { task(id: $id) { tags { id } } }`, map[string]any{"id": pub}), "task", "tags", 0, "id")

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
		r := api.Post(t, c.token, nodeQuery, map[string]any{"id": c.id})
		require.Empty(t, r.Errors, c.name)
		if c.typename == "" {
			assert.Nil(t, apitest.Get(r.Data, "node"), "%s: null, like an id that does not exist", c.name)
			continue
		}
		assert.Equal(t, c.typename, apitest.Str(r.Data, "node", "__typename"), c.name)
		assert.Equal(t, c.id, apitest.Str(r.Data, "node", "id"), c.name)
	}
	r := api.Post(t, viewer, nodeQuery, map[string]any{"id": "not-an-id"})
	assert.Equal(t, "BAD_USER_INPUT", r.Code())

	// nodes: in order, nulls in place, one statement per type however many ids.
	const nodesQuery = `query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }`
	ids := []string{tag, priv, pub, uuid.NewString(), sub, editorID, privSub}
	d := api.OK(t, viewer, nodesQuery, map[string]any{"ids": ids})
	got := apitest.List(d, "nodes")
	require.Len(t, got, len(ids))
	for i, want := range []string{"Tag", "", "Task", "", "Subtask", "User", ""} {
		if want == "" {
			assert.Nil(t, got[i], "nodes[%d] (%s) is null", i, ids[i])
		} else {
			assert.Equal(t, want, apitest.Str(got[i], "__typename"), "nodes[%d]", i)
			assert.Equal(t, ids[i], apitest.Str(got[i], "id"), "nodes[%d]", i)
		}
	}

	var many []string
	for range 30 {
		id, _ := api.NewTask(t, editor, map[string]any{"title": "many"})
		many = append(many, id)
	}
	before := api.SQL.Load()
	api.OK(t, viewer, nodesQuery, map[string]any{"ids": many[:2]})
	few := api.SQL.Load() - before
	before = api.SQL.Load()
	d = api.OK(t, viewer, nodesQuery, map[string]any{"ids": many})
	assert.Equal(t, few, api.SQL.Load()-before, "nodes of 30 ids costs what nodes of 2 costs")
	assert.Equal(t, int64(1), few, "task ids: one statement")
	assert.Len(t, apitest.List(d, "nodes"), 30)
	others := []string{sub, tag, editorID, uuid.NewString()}
	before = api.SQL.Load()
	d = api.OK(t, viewer, nodesQuery, map[string]any{"ids": append(others, many...)})
	assert.Equal(t, int64(5), api.SQL.Load()-before, "tasks, then subtasks, tags and users for the rest, then the subtasks' tasks")
	assert.Equal(t, "Subtask", apitest.Str(d, "nodes", 0, "__typename"))

	r = api.Post(t, viewer, nodesQuery, map[string]any{"ids": append(many, make([]string, 71)...)})
	assert.Equal(t, "BAD_USER_INPUT", r.Code(), "more than 100 ids")
}

// TestBackwardPaging: last/before walks every ordering back from the end
// and meets exactly the forward walk, and a forward page's startCursor as
// `before` gives the items just before it.
func TestBackwardPaging(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	_, editor := api.User(t, domain.RoleEditor)
	for i, p := range []string{"LOW", "HIGH", "HIGH", "CRITICAL", "MEDIUM", "LOW", "HIGH"} {
		in := map[string]any{"title": "task " + p, "priority": p}
		if i%3 != 0 {
			in["dueDate"] = []string{"2031-01-01T00:00:00Z", "2030-06-01T00:00:00Z", "2030-06-01T00:00:00Z"}[i%3]
		}
		api.NewTask(t, editor, in)
	}
	const q = `query($first: Int, $after: String, $last: Int, $before: String, $order: TaskOrder) {
		tasks(first: $first, after: $after, last: $last, before: $before, orderBy: $order) {
			edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`
	ids := func(d map[string]any) []string {
		var out []string
		for _, e := range apitest.List(d, "tasks", "edges") {
			out = append(out, apitest.Str(e, "node", "id"))
		}
		return out
	}
	for _, field := range []string{"CREATED_AT", "UPDATED_AT", "DUE_DATE", "PRIORITY"} {
		for _, dir := range []string{"ASC", "DESC"} {
			order := map[string]any{"field": field, "direction": dir}
			var forward []string
			var after any
			for {
				d := api.OK(t, editor, q, map[string]any{"first": 3, "after": after, "order": order})
				forward = append(forward, ids(d)...)
				if apitest.Get(d, "tasks", "pageInfo", "hasNextPage") != true {
					break
				}
				after = apitest.Str(d, "tasks", "pageInfo", "endCursor")
			}
			require.Len(t, forward, 7, "%s %s forward", field, dir)

			var backward []string
			var before any
			for page := 0; ; page++ {
				d := api.OK(t, editor, q, map[string]any{"last": 3, "before": before, "order": order})
				backward = append(ids(d), backward...)
				info := apitest.Get(d, "tasks", "pageInfo")
				assert.Equal(t, page > 0, apitest.Get(info, "hasNextPage"), "%s %s page %d from the end: hasNextPage", field, dir, page)
				if apitest.Get(info, "hasPreviousPage") != true {
					break
				}
				before = apitest.Str(info, "startCursor")
			}
			assert.Equal(t, forward, backward, "%s %s: the backward walk meets the forward one", field, dir)

			d := api.OK(t, editor, q, map[string]any{"first": 3, "order": order, "after": nil})
			d = api.OK(t, editor, q, map[string]any{"first": 2, "order": order, "after": apitest.Str(d, "tasks", "pageInfo", "startCursor")})
			mid := apitest.Str(d, "tasks", "pageInfo", "endCursor")
			d = api.OK(t, editor, q, map[string]any{"last": 2, "order": order, "before": mid})
			assert.Equal(t, forward[:2], ids(d), "%s %s: before a cursor", field, dir)
		}
	}

	for _, c := range []struct {
		name string
		vars map[string]any
		code string
	}{
		{"both first and last", map[string]any{"first": 1, "last": 1}, "SLICING_ARGUMENT_REQUIRED"},
		{"neither", map[string]any{}, "SLICING_ARGUMENT_REQUIRED"},
		{"last with after", map[string]any{"last": 1, "after": "x"}, "BAD_USER_INPUT"},
		{"forged before", map[string]any{"last": 1, "before": "bm90IGEgY3Vyc29y"}, "BAD_USER_INPUT"},
		{"last out of range", map[string]any{"last": 101}, "SLICING_ARGUMENT_OUT_OF_RANGE"},
	} {
		r := api.Post(t, editor, q, c.vars)
		assert.Equal(t, c.code, r.Code(), c.name)
	}
}
