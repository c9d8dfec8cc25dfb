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
		}
	}
	return hits, misses
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
	const page = `{ tasks(first: 10) { nodes { id version title priority assignee { id name } tags { name color }
		subtasks(first: 5) { number title status tags { name } } } } }`
	same := func(step string) {
		t.Helper()
		_, got := api.Request(t, editor, page, nil)
		_, want := oracle.Request(t, editor, page, nil)
		require.Equal(t, apitest.WithoutCost(t, want), apitest.WithoutCost(t, got), step)
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
		assert.Equal(t, 4, hits2-hits, "%s: every card of an unchanged page comes from memory", step)
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
// (a user's email) is rendered for each viewer, never written from what
// another viewer was shown.
func TestRenderedNodesKeepViewerFields(t *testing.T) {
	apitest.RequireRedis(t)
	t.Parallel()
	api := apitest.New(t)
	ownerID, owner := api.User(t, domain.RoleEditor)
	_, other := api.User(t, domain.RoleEditor)
	api.NewTask(t, owner, map[string]any{"title": "Mine", "assigneeId": ownerID})
	const page = `{ tasks(first: 5) { nodes { id title assignee { id email } } } }`
	for range 2 {
		d := api.OK(t, owner, page, nil)
		assert.NotEmpty(t, apitest.Str(d, "tasks", "nodes", 0, "assignee", "email"), "the owner sees their own email")
		d = api.OK(t, other, page, nil)
		assert.Nil(t, apitest.Get(d, "tasks", "nodes", 0, "assignee", "email"), "another user does not")
	}
}
