package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
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
// root task, and over 40 random shapes of all of these; and a value gqlgen
// answers with an error (a NaN number) is left to gqlgen, error included. A scalar written from the wrong value,
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
		require.Greater(t, graph.DirectRenders(), before, "the tasks are written directly: %s\n%s %s", query, direct, directErrs)
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
	// Shapes no one wrote by hand: random fields, aliases, repeats,
	// fragments, directives and limits at every level.
	rng := rand.New(rand.NewPCG(11, 5))
	for i := range 40 {
		q := randomCardQuery(rng, main)
		t.Run(fmt.Sprintf("random/%d", i), func(t *testing.T) { compare(t, viewer, q, nil) })
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

// randomCardQuery is a page, an edge or a root task over a random card:
// some of each level's fields (each maybe aliased, repeated, inside an
// inline or a named fragment, or behind @include or @skip), and subtasks
// with a random limit or none.
func randomCardQuery(rng *rand.Rand, id string) string {
	alias := 0
	var frags []string
	pick := func(fields []string, extra func() []string) string {
		var parts []string
		for _, f := range fields {
			if rng.IntN(2) == 0 {
				continue
			}
			if rng.IntN(4) == 0 {
				alias++
				f = fmt.Sprintf("a%d: %s", alias, f)
			}
			parts = append(parts, f)
			if rng.IntN(8) == 0 {
				parts = append(parts, f) // the same field twice
			}
		}
		if extra != nil {
			parts = append(parts, extra()...)
		}
		if len(parts) == 0 {
			parts = []string{"__typename"}
		}
		for i, f := range parts {
			var d string
			switch rng.IntN(10) {
			case 0:
				d = " @include(if: " + []string{"true", "false"}[rng.IntN(2)] + ")"
			case 1:
				d = " @skip(if: " + []string{"true", "false"}[rng.IntN(2)] + ")"
			}
			if head, body, ok := strings.Cut(f, " {"); ok {
				parts[i] = head + d + " {" + body // before the selection
			} else {
				parts[i] = f + d
			}
		}
		return strings.Join(parts, " ")
	}
	words := func(s string) []string { return strings.Fields(s) }
	user := func() string { return "{ " + pick(words("__typename id name role createdAt"), nil) + " }" }
	tag := func() string { return "{ " + pick(words("__typename id name color"), nil) + " }" }
	subtasks := func() string {
		limit := ""
		if n := rng.IntN(6); n < 5 {
			limit = fmt.Sprintf("(first: %d)", n)
		}
		return "subtasks" + limit + " { " + pick(words("__typename id number title description status priority position version completedAt createdAt updatedAt"),
			func() []string {
				if rng.IntN(2) == 0 {
					return []string{"tags " + tag()}
				}
				return nil
			}) + " }"
	}
	task := words("__typename id number title description status priority type phase visibility dueDate startedAt completedAt createdAt updatedAt estimatedHours actualHours version")
	card := pick(task, func() []string {
		var out []string
		subtaskFields := 0
		for _, leaf := range []func() string{
			func() string { return "assignee " + user() },
			func() string { return "createdBy " + user() },
			func() string { return "tags " + tag() },
			subtasks,
			subtasks,
			func() string { return "dependencies { " + pick(task, nil) + " }" },
			func() string { return "dependents { " + pick(task, nil) + " }" },
		} {
			if rng.IntN(2) == 0 {
				f := leaf()
				if strings.HasPrefix(f, "subtasks") {
					subtaskFields++
				}
				// Two subtasks fields of different limits need an alias.
				if rng.IntN(3) == 0 || (strings.HasPrefix(f, "subtasks") && subtaskFields > 1) {
					alias++
					f = fmt.Sprintf("l%d: %s", alias, f)
				}
				out = append(out, f)
			}
		}
		switch rng.IntN(3) {
		case 0:
			out = append(out, "... on Task { "+pick(task[:6], nil)+" }")
		case 1:
			name := fmt.Sprintf("F%d", len(frags))
			frags = append(frags, "fragment "+name+" on Task { "+pick(task[:8], nil)+" }")
			out = append(out, "..."+name)
		}
		return out
	})
	var q string
	switch rng.IntN(3) {
	case 0:
		q = "{ tasks(first: 10) { nodes { " + card + " } } }"
	case 1:
		q = "{ tasks(first: 10) { edges { node { " + card + " } } } }"
	default:
		q = `{ task(id: "` + id + `") { ` + card + " } }"
	}
	return q + " " + strings.Join(frags, " ")
}
