package graph_test

import (
	"bufio"
	"strconv"
	"strings"
	"testing"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// renderedNodes reads the memo's hits and misses from /metrics.
func renderedNodes(t *testing.T, api *apitest.API) (hits, misses int) {
	hits, misses, _ = memoEvents(t, api)
	return hits, misses
}

// memoEvents reads the memo's hits, misses and skips from /metrics.
func memoEvents(t *testing.T, api *apitest.API) (hits, misses, skips int) {
	t.Helper()
	res := api.Do(t, "GET", "/metrics", "")
	require.Equal(t, 200, res.Status)
	sc := bufio.NewScanner(strings.NewReader(res.Body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		series, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		n, _ := strconv.ParseFloat(value, 64)
		switch series {
		case `herotasks_rendered_nodes_total{event="hit"}`:
			hits = int(n)
		case `herotasks_rendered_nodes_total{event="miss"}`:
			misses = int(n)
		case `herotasks_rendered_nodes_total{event="skip"}`:
			skips = int(n)
		}
	}
	return hits, misses, skips
}

// TestRenderedNodesFollowEveryValue: a page's cards are written from
// memory only while every value they were rendered from is the same. After
// each kind of write (the task's row, its tags, its assignee, a subtask's
// row, a subtask's tags, a subtask added or removed) the page equals an
// uncached server's, byte for byte, and once the values are read again the
// whole page comes from memory. Leaving any of those values out of what a
// card is checked against serves the card from before the write.
func TestRenderedNodesFollowEveryValue(t *testing.T) {
	apitest.RequireRedis(t)
	t.Parallel()
	api := apitest.New(t)
	oracle := apitest.Serve(t, api.DBURL, &apitest.Counter{}, "ENTITY_CACHE", "off")
	_, editor := api.User(t, domain.RoleEditor)
	userA, _ := api.User(t, domain.RoleViewer)
	userB, _ := api.User(t, domain.RoleViewer)

	var ids, subs []string
	for i := range 4 {
		id, _ := api.NewTask(t, editor, map[string]any{"title": "Card " + strconv.Itoa(i), "assigneeId": userA, "tags": []string{"ops"}})
		ids = append(ids, id)
		d := api.OK(t, editor, `mutation($id: ID!) { createSubtask(taskId: $id, input: {title: "step"}) { id } }`, map[string]any{"id": id})
		subs = append(subs, apitest.Str(d, "createSubtask", "id"))
	}
	const card = `id version title priority assignee { id name } tags { name color }
		subtasks(first: 5) { number title status tags { name } } dependencies { id title }`
	// The same cards as a page's nodes, as a page's edges, and as a root
	// task each (one request each: a root task runs serially alone).
	queries := []string{`{ tasks(first: 10) { nodes { ` + card + ` } edges { cursor node { ` + card + ` } } } }`}
	for _, id := range ids {
		queries = append(queries, `{ task(id: "`+id+`") { `+card+` } }`)
	}
	const perRead = 12 // four tasks, three times each
	same := func(step string) {
		t.Helper()
		for _, q := range queries {
			_, got := api.Request(t, editor, q, nil)
			_, want := oracle.Request(t, editor, q, nil)
			require.Equal(t, apitest.WithoutCost(t, want), apitest.WithoutCost(t, got), step)
		}
	}
	// A value is the same value from its second read from Redis on (the
	// first read fills from PostgreSQL, the next decodes what was stored).
	settle := func(step string) {
		t.Helper()
		same(step)
		same(step)
		hits, misses := renderedNodes(t, api)
		same(step)
		hits2, misses2 := renderedNodes(t, api)
		assert.Equal(t, perRead, hits2-hits, "%s: every card of an unchanged page comes from memory", step)
		assert.Equal(t, 0, misses2-misses, step)
	}
	settle("first reads")

	for _, w := range []struct {
		step, mutation string
		vars           map[string]any
	}{
		{"task row", `mutation($id: ID!) { updateTask(id: $id, input: {priority: CRITICAL}) { id } }`, map[string]any{"id": ids[0]}},
		{"task tags", `mutation($id: ID!) { addTaskTags(taskId: $id, tags: ["billing"]) { id } }`, map[string]any{"id": ids[1]}},
		{"assignee", `mutation($id: ID!, $u: ID!) { updateTask(id: $id, input: {assigneeId: $u}) { id } }`, map[string]any{"id": ids[2], "u": userB}},
		{"subtask row", `mutation($id: ID!) { updateSubtask(id: $id, input: {title: "renamed"}) { id } }`, map[string]any{"id": subs[3]}},
		{"subtask tags", `mutation($id: ID!) { addSubtaskTags(subtaskId: $id, tags: ["infra"]) { id } }`, map[string]any{"id": subs[0]}},
		{"subtask added", `mutation($id: ID!) { createSubtask(taskId: $id, input: {title: "another"}) { id } }`, map[string]any{"id": ids[1]}},
		{"subtask removed", `mutation($id: ID!) { deleteSubtask(id: $id) }`, map[string]any{"id": subs[2]}},
		{"dependency added", `mutation($id: ID!, $on: ID!) { addDependency(taskId: $id, dependsOnId: $on) { id } }`, map[string]any{"id": ids[3], "on": ids[0]}},
		{"dependency's row", `mutation($id: ID!) { updateTask(id: $id, input: {title: "Card zero"}) { id } }`, map[string]any{"id": ids[0]}},
	} {
		api.OK(t, editor, w.mutation, w.vars)
		_, misses := renderedNodes(t, api)
		same(w.step)
		_, misses2 := renderedNodes(t, api)
		assert.Positive(t, misses2-misses, "%s: the written card renders again", w.step)
		settle(w.step)
	}
}

// TestRenderedNodesKeepViewerFields: a card whose fields follow the viewer
// (a user's email) is rendered for each viewer, and a task's dependencies
// are compared as this viewer may see them: neither is ever written from
// what another viewer was shown.
func TestRenderedNodesKeepViewerFields(t *testing.T) {
	apitest.RequireRedis(t)
	t.Parallel()
	api := apitest.New(t)
	ownerID, owner := api.User(t, domain.RoleEditor)
	_, other := api.User(t, domain.RoleEditor)
	waiting, _ := api.NewTask(t, owner, map[string]any{"title": "Mine", "assigneeId": ownerID})
	private, _ := api.NewTask(t, owner, map[string]any{"title": "Secret", "visibility": "PRIVATE", "assigneeId": ownerID})
	api.OK(t, owner, `mutation($id: ID!, $on: ID!) { addDependency(taskId: $id, dependsOnId: $on) { id } }`,
		map[string]any{"id": waiting, "on": private})
	const page = `{ tasks(first: 5) { nodes { id title assignee { id email } } } }`
	const detail = `query($id: ID!) { task(id: $id) { id title dependencies { id title } } }`
	for range 3 {
		d := api.OK(t, owner, page, nil)
		assert.NotEmpty(t, apitest.Str(d, "tasks", "nodes", 0, "assignee", "email"), "the owner sees their own email")
		d = api.OK(t, other, page, nil)
		assert.Nil(t, apitest.Get(d, "tasks", "nodes", 0, "assignee", "email"), "another user does not")

		for range 2 {
			d = api.OK(t, owner, detail, map[string]any{"id": waiting})
			assert.Len(t, apitest.List(d, "task", "dependencies"), 1, "the owner sees their private dependency")
		}
		for range 2 {
			d = api.OK(t, other, detail, map[string]any{"id": waiting})
			assert.Empty(t, apitest.List(d, "task", "dependencies"), "another user does not")
		}
	}
	// A field written in a fragment is one field wherever the fragment is
	// spread, with each place's own sub-selections merged in: under b it
	// also reads the email, which a's cards must not stand in for
	// (TestOperationPlanFollowsMergedSelection).
	const spread = `query { a: tasks(first: 5) { ...C } b: tasks(first: 5) { ...C nodes { assignee { email } } } }
		fragment C on TaskConnection { nodes { id } }`
	for range 3 {
		d := api.OK(t, owner, spread, nil)
		assert.NotEmpty(t, apitest.Str(d, "b", "nodes", 0, "assignee", "email"), "b's cards carry what b selected")
		_, raw := api.Request(t, other, `{ tasks(first: 5) { nodes { id } } }`, nil)
		assert.NotContains(t, string(raw), "email", "never a card rendered for another selection")
	}
	hits, _ := renderedNodes(t, api)
	assert.Positive(t, hits, "the detail is kept, for what its viewer may see")
}

// TestRenderedNodesOnlyOfSharedValues: a page the entity cache does not
// answer (one after a cursor comes from its keyset statement, new values
// for this request alone) renders without the memo: kept, its tasks would
// never be seen again and would push out the cards that are.
func TestRenderedNodesOnlyOfSharedValues(t *testing.T) {
	apitest.RequireRedis(t)
	t.Parallel()
	api := apitest.New(t)
	_, editor := api.User(t, domain.RoleEditor)
	for i := range 4 {
		api.NewTask(t, editor, map[string]any{"title": "Page " + strconv.Itoa(i)})
	}
	d := api.OK(t, editor, `{ tasks(first: 2) { pageInfo { endCursor } } }`, nil)
	after := apitest.Str(d, "tasks", "pageInfo", "endCursor")
	const later = `query($after: String) { tasks(first: 2, after: $after) { nodes { id title } } }`
	hits, misses, skips := memoEvents(t, api)
	for range 3 {
		d = api.OK(t, editor, later, map[string]any{"after": after})
		require.Len(t, apitest.List(d, "tasks", "nodes"), 2)
	}
	hits2, misses2, skips2 := memoEvents(t, api)
	assert.Equal(t, 6, skips2-skips, "every task of the later page renders without the memo")
	assert.Equal(t, 0, hits2-hits)
	assert.Equal(t, 0, misses2-misses, "and none is kept")

	const first = `{ tasks(first: 2) { nodes { id title } } }`
	for range 3 {
		api.OK(t, editor, first, nil)
	}
	hits3, _, _ := memoEvents(t, api)
	assert.Positive(t, hits3-hits2, "the first page, from the cache, is kept")
}
