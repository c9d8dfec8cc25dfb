package graph_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/graph"
	"github.com/herotasks/api/internal/apitest"
)

// Every field direct rendering writes, at every level.
const (
	directTaskScalars = `__typename id number title description status priority type phase visibility dueDate
		startedAt completedAt createdAt updatedAt estimatedHours actualHours version`
	directUser    = `{ __typename id name role createdAt }`
	directTag     = `{ __typename id name color }`
	directSubtask = `{ __typename id number title description status priority position version completedAt
		createdAt updatedAt tags ` + directTag + ` }`
	directCard = directTaskScalars + ` assignee ` + directUser + ` createdBy ` + directUser + ` tags ` + directTag +
		` subtasks ` + directSubtask + ` dependencies { ` + directTaskScalars + ` } dependents { ` + directTaskScalars + ` }`
)

// TestDirectRenderingMatchesGqlgen: a task written straight from its
// values (graph/direct.go) is the same bytes gqlgen renders, for every
// field it writes, for values that need escaping, null, empty lists, time
// fractions and decimals, under aliases, repeated fields, fragments,
// directives and subtask limits, as a page's nodes, an edge's node and a
// root task; and a value gqlgen answers with an error (a NaN number) is
// left to gqlgen, error included. A scalar written from the wrong value,
// with another marshaler or under another key fails it.
//
// Not parallel: it turns direct rendering off for the whole process while
// it reads gqlgen's rendering.
func TestDirectRenderingMatchesGqlgen(t *testing.T) {
	// The entity cache off: every task renders, none is answered from the
	// memo (which would answer the second reading with the first's bytes).
	api := apitest.New(t, "ENTITY_CACHE", "off")
	editorID, editor := api.User(t, domain.RoleEditor)
	viewerID, viewer := api.User(t, domain.RoleViewer)

	main, _ := api.NewTask(t, editor, map[string]any{
		"title":       "Quote \" backslash \\ <b>&amp; é 😀 \u2028 \u0001 end",
		"description": "line\nnext\t\"quoted\"\r\n/slash",
		"type":        "BUG_FIX", "priority": "HIGH", "dueDate": "2027-01-02T03:04:05.123456Z",
		"assigneeId": viewerID, "estimatedHours": 2.5, "tags": []string{"ops", "ui.v2", "zeta"},
	})
	plain, _ := api.NewTask(t, editor, map[string]any{"title": "plain"})
	hidden, _ := api.NewTask(t, editor, map[string]any{"title": "hidden", "visibility": "PRIVATE"})
	api.OK(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {actualHours: 0.25}) { id } }`, map[string]any{"id": main})
	api.OK(t, editor, `mutation($id: ID!) { transitionTask(id: $id, status: IN_PROGRESS) { id } }`, map[string]any{"id": main})
	for _, in := range []map[string]any{
		{"title": "first \"step\"", "description": "d\u00e9", "priority": "LOW", "tags": []string{"ops", "sub"}},
		{"title": "second"},
		{"title": "third", "tags": []string{"zeta"}},
	} {
		d := api.OK(t, editor, `mutation($id: ID!, $in: CreateSubtaskInput!) { createSubtask(taskId: $id, input: $in) { id } }`,
			map[string]any{"id": main, "in": in})
		if in["title"] == "second" {
			api.OK(t, editor, `mutation($id: ID!) { updateSubtask(id: $id, input: {status: COMPLETED}) { id } }`,
				map[string]any{"id": apitest.Str(d, "createSubtask", "id")})
		}
	}
	for _, dep := range [][2]string{{main, plain}, {main, hidden}, {plain, hidden}} {
		api.OK(t, editor, `mutation($a: ID!, $b: ID!) { addDependency(taskId: $a, dependsOnId: $b) { id } }`,
			map[string]any{"a": dep[0], "b": dep[1]})
	}
	_ = editorID

	queries := []struct {
		name, query string
		vars        map[string]any
	}{
		{"nodes", `{ tasks(first: 10) { nodes { ` + directCard + ` } } }`, nil},
		{"edges", `{ tasks(first: 10) { edges { cursor node { ` + directCard + ` } } } }`, nil},
		{"root", `query($id: ID!) { task(id: $id) { ` + directCard + ` } }`, map[string]any{"id": main}},
		{"shapes", `query($yes: Boolean!, $n: Int) { tasks(first: 10) { nodes {
			t: title title again: title ...F ... on Task { id priority }
			few: subtasks(first: 1) { n: number title }
			subtasks(first: $n) { tags { label: name } number @skip(if: $yes) position @include(if: $yes) }
			none: subtasks(first: 0) { id }
			owner: assignee { name @include(if: $yes) role @skip(if: $yes) }
			tags { name id @skip(if: $yes) } labels: tags { color }
			blockedBy: dependencies { number title } } } }
			fragment F on Task { version tags { name } assignee { id } }`, map[string]any{"yes": true, "n": 2}},
	}
	render := func(token, query string, vars map[string]any) (data, errs string) {
		t.Helper()
		res, body := api.Request(t, token, query, vars)
		require.Equal(t, 200, res.StatusCode, "%s", body)
		var out struct {
			Data   json.RawMessage
			Errors []map[string]any
		}
		require.NoError(t, json.Unmarshal(body, &out), "%s", body)
		for _, e := range out.Errors {
			delete(e["extensions"].(map[string]any), "requestId") // one per request
		}
		return string(out.Data), apitest.JSON(t, out.Errors)
	}
	compare := func(t *testing.T, token, query string, vars map[string]any) {
		t.Helper()
		before := graph.DirectRenders()
		direct, directErrs := render(token, query, vars)
		require.Greater(t, graph.DirectRenders(), before, "the tasks are written directly")
		graph.SetDirectRendering(false)
		defer graph.SetDirectRendering(true)
		before = graph.DirectRenders()
		generated, generatedErrs := render(token, query, vars)
		require.Equal(t, before, graph.DirectRenders(), "gqlgen renders every task")
		assert.Equal(t, generated, direct)
		assert.Equal(t, generatedErrs, directErrs)
	}
	for _, who := range []struct{ name, token string }{{"editor", editor}, {"viewer", viewer}} {
		for _, q := range queries {
			t.Run(who.name+"/"+q.name, func(t *testing.T) { compare(t, who.token, q.query, q.vars) })
		}
	}

	// gqlgen answers a NaN number with an error at its path: that task is
	// left to it, the others of the page are still written directly.
	conn, err := pgx.Connect(context.Background(), api.DBURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(context.Background(), `UPDATE tasks SET estimated_hours = 'NaN' WHERE id = $1`, plain)
	require.NoError(t, err)
	t.Run("nan", func(t *testing.T) {
		compare(t, editor, `{ tasks(first: 10) { nodes { id title estimatedHours } } }`, nil)
		_, errs := render(editor, `{ tasks(first: 10) { nodes { id title estimatedHours } } }`, nil)
		assert.Contains(t, errs, "estimatedHours", "gqlgen reported the NaN")
	})
}
