package loaders_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/herotasks/api/seed"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNestedQueryOneStatementPerLevel counts the SQL statements of a nested
// query: one per level, whatever the number of rows.
//
// The batching window is widened for the test: under -race on two busy cores
// starting a resolver goroutine per row can take longer than the default
// window, which would split a batch (a latency trade-off, measured in make
// bench, not a correctness one).
func TestNestedQueryOneStatementPerLevel(t *testing.T) {
	api := apitest.New(t, "LOADER_WAIT", "50ms", "ENTITY_CACHE", "off")
	ctx := context.Background()
	_, editor := api.User(t, domain.RoleEditor)
	for i := range 12 {
		id, _ := api.NewTask(t, editor, map[string]any{"title": fmt.Sprintf("Task %d", i), "tags": []string{"a", fmt.Sprintf("t%d", i)}})
		for j := range 3 {
			api.OK(t, editor, `mutation($id: ID!, $in: CreateSubtaskInput!) { createSubtask(taskId: $id, input: $in) { id } }`,
				map[string]any{"id": id, "in": map[string]any{"title": fmt.Sprintf("Step %d", j), "tags": []string{"s"}}})
		}
	}
	_, err := api.Pool().Exec(ctx, "UPDATE tasks SET assignee_id = created_by")
	require.NoError(t, err)

	for _, c := range []struct {
		name  string
		query string
		stmts int64
	}{
		{"flat list", `{ tasks(first: 50) { nodes { id title } } }`, 1},
		{"three levels", `{ tasks(first: 50) { nodes { assignee { name } tags { name } subtasks { tags { name } } } } }`, 5},
		{"fragments and aliases merge", `{ tasks(first: 50) { nodes { ...F a: tags { name } subtasks(first: 2) { number } } } }
			fragment F on Task { tags { color } assignee { id } createdBy { name } subtasks(first: 2) { title } }`, 4},
		{"tags", `{ tags(first: 10) { name } }`, 1},
		{"nested Tag.tasks", `{ tags(first: 20) { name tasks(first: 3) { totalCount nodes { title tags { name } subtasks { number } } } } }`, 5},
		{"Tag.tasks with aliases", `{ tags(first: 20) { a: tasks(first: 3) { nodes { id } } b: tasks(first: 3) { nodes { title } } c: tasks(first: 1) { totalCount } } }`, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := api.SQL.Load()
			d := api.OK(t, "", c.query, nil)
			assert.Equal(t, c.stmts, api.SQL.Load()-before, "statements for %s", c.query)
			if nodes := apitest.List(d, "tasks", "nodes"); nodes != nil {
				assert.Len(t, nodes, 12)
			}
		})
	}

	// Concurrent requests: each still costs one statement per level.
	const clients = 8
	before := api.SQL.Load()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			api.OK(t, "", `{ tasks(first: 50) { nodes { assignee { name } tags { name } subtasks { tags { name } } } } }`, nil)
		})
	}
	wg.Wait()
	assert.Equal(t, int64(5*clients), api.SQL.Load()-before, "concurrent requests batch per request")
}

// TestLookaheadNeedsNoWindow runs the page queries with the batching window
// at 1ns, where keys that arrive from one goroutine per row each start a
// batch of their own. The levels under a tasks page are loaded ahead by the
// page's resolver (graph/resolver.go: prefetch), one batch call per level,
// so the statement count still equals the number of levels, for one client
// and for eight at once.
func TestLookaheadNeedsNoWindow(t *testing.T) {
	api := apitest.New(t, "LOADER_WAIT", "1ns", "ENTITY_CACHE", "off")
	_, editor := api.User(t, domain.RoleEditor)
	var ids []string
	for i := range 12 {
		id, _ := api.NewTask(t, editor, map[string]any{"title": fmt.Sprintf("Task %d", i), "tags": []string{"a", fmt.Sprintf("t%d", i)}})
		ids = append(ids, id)
		for j := range 3 {
			api.OK(t, editor, `mutation($id: ID!, $in: CreateSubtaskInput!) { createSubtask(taskId: $id, input: $in) { id } }`,
				map[string]any{"id": id, "in": map[string]any{"title": fmt.Sprintf("Step %d", j), "tags": []string{"s", fmt.Sprintf("s%d", j)}}})
		}
	}
	for i := 1; i < len(ids); i++ {
		api.OK(t, editor, `mutation($a: ID!, $b: ID!) { addDependency(taskId: $a, dependsOnId: $b) { id } }`, map[string]any{"a": ids[i], "b": ids[i-1]})
	}
	_, err := api.Pool().Exec(context.Background(), "UPDATE tasks SET assignee_id = created_by")
	require.NoError(t, err)

	cases := []struct {
		name  string
		query string
		vars  map[string]any
		stmts int64
	}{
		{"five levels", `{ tasks(first: 50) { nodes { assignee { name } tags { name } subtasks { number tags { name } } } } }`, nil, 5},
		{"edges and fragments", `query { tasks(first: 50) { edges { node { ...F } } } } fragment F on Task { createdBy { name } dependencies { title } dependents { title } subtasks { tags { name } } }`, nil, 6},
		{"subtasks first from a variable", `query($n: Int) { tasks(first: 50) { nodes { subtasks(first: $n) { tags { name } } } } }`, map[string]any{"n": 2}, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := api.SQL.Load()
			d := api.OK(t, "", c.query, c.vars)
			assert.Equal(t, c.stmts, api.SQL.Load()-before, "statements for %s", c.query)
			if nodes := apitest.List(d, "tasks", "nodes"); nodes != nil {
				require.Len(t, nodes, 12)
				subs := nodes[0].(map[string]any)["subtasks"].([]any)
				assert.NotEmpty(t, subs)
				assert.NotEmpty(t, subs[0].(map[string]any)["tags"], "subtask tags are answered from the preloaded level")
			}
		})
	}
	t.Run("eight clients", func(t *testing.T) {
		const clients = 8
		before := api.SQL.Load()
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() { api.OK(t, "", cases[0].query, nil) })
		}
		wg.Wait()
		assert.Equal(t, int64(5*clients), api.SQL.Load()-before)
	})
}

// TestSearchLooksAhead: a search page's children are loaded ahead like a
// tasks page's (one statement per level with a 1ns window).
func TestSearchLooksAhead(t *testing.T) {
	api := apitest.New(t, "LOADER_WAIT", "1ns", "ENTITY_CACHE", "off")
	_, editor := api.User(t, domain.RoleEditor)
	for i := range 8 {
		id, _ := api.NewTask(t, editor, map[string]any{"title": fmt.Sprintf("Migrate billing %d", i), "tags": []string{"billing", fmt.Sprintf("b%d", i)}})
		api.OK(t, editor, `mutation($id: ID!, $in: CreateSubtaskInput!) { createSubtask(taskId: $id, input: $in) { id } }`,
			map[string]any{"id": id, "in": map[string]any{"title": "Step", "tags": []string{"s"}}})
	}
	before := api.SQL.Load()
	d := api.OK(t, "", `{ searchTasks(query: "billing", first: 20) { nodes { title tags { name } subtasks { tags { name } } } } }`, nil)
	require.Len(t, apitest.List(d, "searchTasks", "nodes"), 8)
	assert.Equal(t, int64(4), api.SQL.Load()-before, "search, task tags, subtasks, subtask tags")
}

// TestLoaderMaxBatch crosses LOADER_MAX_BATCH: a level with more keys than
// the bound is split into ceil(keys/bound) statements, and the answer is
// the same as with one statement per level.
func TestLoaderMaxBatch(t *testing.T) {
	small := apitest.New(t, "LOADER_MAX_BATCH", "5", "ENTITY_CACHE", "off")
	_, editor := small.User(t, domain.RoleEditor)
	for i := range 12 {
		id, _ := small.NewTask(t, editor, map[string]any{"title": fmt.Sprintf("Task %d", i), "tags": []string{"a", fmt.Sprintf("t%d", i)}})
		for j := range 3 {
			small.OK(t, editor, `mutation($id: ID!, $in: CreateSubtaskInput!) { createSubtask(taskId: $id, input: $in) { id } }`,
				map[string]any{"id": id, "in": map[string]any{"title": fmt.Sprintf("Step %d", j), "tags": []string{"s", fmt.Sprintf("s%d-%d", i, j)}}})
		}
	}
	const q = `{ tasks(first: 50) { nodes { title tags { name } subtasks { title tags { name } } } } }`
	before := small.SQL.Load()
	got := small.OK(t, "", q, nil)
	// root 1; task tags 12 keys → 3; subtasks 12 → 3; subtask tags 36 → 8.
	assert.Equal(t, int64(1+3+3+8), small.SQL.Load()-before)

	// The same rows through a server with the default bound: one statement
	// per level, the same answer.
	big := apitest.Serve(t, small.DBURL, &apitest.Counter{}, "ENTITY_CACHE", "off")
	before = big.SQL.Load()
	assert.Equal(t, got, big.OK(t, "", q, nil))
	assert.Equal(t, int64(4), big.SQL.Load()-before)
}

// TestTaskByIDLooksAhead: one task's levels are loaded ahead too. The
// window is set to a minute and the request deadline to 20 s, so any level
// left to the window would end the request with TIMEOUT; with the
// lookahead none waits. Two task fields in one operation still share one
// statement per level through the window.
func TestTaskByIDLooksAhead(t *testing.T) {
	setup := apitest.New(t, "ENTITY_CACHE", "off")
	_, editor := setup.User(t, domain.RoleEditor)
	id, _ := setup.NewTask(t, editor, map[string]any{"title": "One", "tags": []string{"a", "b"}})
	for j := range 3 {
		setup.OK(t, editor, `mutation($id: ID!, $in: CreateSubtaskInput!) { createSubtask(taskId: $id, input: $in) { id } }`,
			map[string]any{"id": id, "in": map[string]any{"title": fmt.Sprintf("Step %d", j), "tags": []string{"s"}}})
	}
	_, err := setup.Pool().Exec(context.Background(), "UPDATE tasks SET assignee_id = created_by")
	require.NoError(t, err)
	api := apitest.Serve(t, setup.DBURL, &apitest.Counter{}, "LOADER_WAIT", "1m", "REQUEST_TIMEOUT", "20s", "ENTITY_CACHE", "off")
	before := api.SQL.Load()
	d := api.OK(t, "", `query($id: ID!) { task(id: $id) { number assignee { name } tags { name } subtasks { tags { name } } } }`, map[string]any{"id": id})
	assert.Equal(t, int64(1), api.SQL.Load()-before, "the task with its assignee, tags, subtasks and their tags")
	task := d["task"].(map[string]any)
	assert.Len(t, task["tags"], 2)
	assert.Len(t, task["subtasks"], 3)
	before = api.SQL.Load()
	d = api.OK(t, "", `query($n: String!) { taskByNumber(number: $n) { assignee { name } tags { name } } }`, map[string]any{"n": task["number"]})
	assert.Len(t, d["taskByNumber"].(map[string]any)["tags"], 2)
	assert.Equal(t, int64(1), api.SQL.Load()-before, "by number: one statement")
	// An unknown id: null, without waiting either.
	d = api.OK(t, "", `{ task(id: "00000000-0000-4000-8000-000000000000") { tags { name } } }`, nil)
	assert.Nil(t, d["task"])

	// Two task fields: no lookahead, the window batches them (a wide one
	// here, so the count does not depend on the scheduler).
	wide := apitest.Serve(t, setup.DBURL, &apitest.Counter{}, "LOADER_WAIT", "50ms", "ENTITY_CACHE", "off")
	before = wide.SQL.Load()
	wide.OK(t, "", `query($id: ID!) { a: task(id: $id) { tags { name } } b: task(id: $id) { title tags { color } } }`, map[string]any{"id": id})
	assert.Equal(t, int64(2), wide.SQL.Load()-before, "the task, its tags")
}

// TestTaskBundleAnswers: a query for one task reads the task, its tags,
// assignee, creator, subtasks with their tags, dependencies and dependents
// in one statement, and answers exactly what the loaders answer one level
// at a time (two root fields take that path), for the owner, another user
// and an anonymous caller. A private task stays hidden from those who may
// not see it, as a root and as a dependency or dependent; with the entity
// cache on the same query is served from Redis, and with the response cache
// on it answers the same.
func TestTaskBundleAnswers(t *testing.T) {
	const fields = `id number title assignee { id name email } createdBy { name } tags { id name color }
		subtasks { id number title status position tags { id name color } }
		dependencies { id number title status } dependents { id number title }`
	// A first: on the subtasks is a limit in the same statement.
	const firstFields = `number subtasks(first: 2) { number tags { name } } dependents { title }`
	setup := apitest.New(t, "ENTITY_CACHE", "off")
	_, editor := setup.User(t, domain.RoleEditor)
	_, other := setup.User(t, domain.RoleEditor)
	tagged, _ := setup.NewTask(t, editor, map[string]any{"title": "Tagged", "tags": []string{"zeta", "alpha", "mid"}})
	bare, _ := setup.NewTask(t, editor, map[string]any{"title": "Bare"})
	hidden, _ := setup.NewTask(t, editor, map[string]any{"title": "Hidden", "visibility": "PRIVATE", "tags": []string{"x"}})
	waiting, _ := setup.NewTask(t, editor, map[string]any{"title": "Waiting"})
	secret, _ := setup.NewTask(t, editor, map[string]any{"title": "Secret", "visibility": "PRIVATE"})
	_, err := setup.Pool().Exec(context.Background(), "UPDATE tasks SET assignee_id = created_by WHERE id = $1", tagged)
	require.NoError(t, err)
	for j, tags := range [][]string{{"s2", "s1"}, nil, {"s3"}} {
		setup.OK(t, editor, `mutation($id: ID!, $in: CreateSubtaskInput!) { createSubtask(taskId: $id, input: $in) { id } }`,
			map[string]any{"id": tagged, "in": map[string]any{"title": fmt.Sprintf("Step %d", j), "position": 0, "tags": tags}})
	}
	for _, e := range [][2]string{{tagged, bare}, {tagged, hidden}, {hidden, bare}, {waiting, tagged}, {secret, tagged}} {
		setup.OK(t, editor, `mutation($a: ID!, $b: ID!) { addDependency(taskId: $a, dependsOnId: $b) { id } }`,
			map[string]any{"a": e[0], "b": e[1]})
	}

	for _, caches := range [][2]string{{"off", "off"}, {"on", "off"}, {"off", "on"}} {
		api := apitest.Serve(t, setup.DBURL, &apitest.Counter{}, "ENTITY_CACHE", caches[0], "RESPONSE_CACHE", caches[1])
		for _, tok := range []string{editor, other, ""} {
			for _, c := range [][2]string{{tagged, fields}, {bare, fields}, {tagged, firstFields}} {
				id, fields := c[0], c[1]
				before := api.SQL.Load()
				one := api.OK(t, tok, `query($id: ID!) { task(id: $id) { `+fields+` } }`, map[string]any{"id": id})
				if caches == [2]string{"off", "off"} {
					assert.Equal(t, int64(1), api.SQL.Load()-before, "one statement for the task and its levels")
				}
				two := api.OK(t, tok, `query($id: ID!) { a: task(id: $id) { `+fields+` } b: task(id: $id) { id } }`, map[string]any{"id": id})
				assert.Equal(t, two["a"], one["task"], "the same answer as the loaders'")
				byNumber := api.OK(t, tok, `query($n: String!) { taskByNumber(number: $n) { `+fields+` } }`, map[string]any{"n": apitest.Str(one, "task", "number")})
				assert.Equal(t, one["task"], byNumber["taskByNumber"])
				if caches[0] == "on" {
					before = api.SQL.Load()
					again := api.OK(t, tok, `query($id: ID!) { task(id: $id) { `+fields+` } }`, map[string]any{"id": id})
					assert.Equal(t, one, again)
					assert.Zero(t, api.SQL.Load()-before, "a warm entity cache answers it")
				}
			}
			// A private task is a dependency of tagged, another one of its
			// dependents: only their owner sees them there.
			d := api.OK(t, tok, `query($id: ID!) { task(id: $id) { `+fields+` } }`, map[string]any{"id": tagged})
			deps, dependents := []string{"Bare"}, []string{"Waiting"}
			if tok == editor {
				deps, dependents = []string{"Bare", "Hidden"}, []string{"Waiting", "Secret"}
			}
			var gotDeps, gotDependents []string
			for i := range apitest.List(d, "task", "dependencies") {
				gotDeps = append(gotDeps, apitest.Str(d, "task", "dependencies", i, "title"))
			}
			for i := range apitest.List(d, "task", "dependents") {
				gotDependents = append(gotDependents, apitest.Str(d, "task", "dependents", i, "title"))
			}
			assert.ElementsMatch(t, deps, gotDeps, caches)
			assert.ElementsMatch(t, dependents, gotDependents, caches)
			// Subtasks in position order (each was inserted first), with
			// their tags by name; first: 1 keeps the first of them.
			require.Len(t, apitest.List(d, "task", "subtasks"), 3)
			assert.Equal(t, "Step 2", apitest.Str(d, "task", "subtasks", 0, "title"))
			assert.Equal(t, "Step 0", apitest.Str(d, "task", "subtasks", 2, "title"))
			assert.Equal(t, "s1", apitest.Str(d, "task", "subtasks", 2, "tags", 0, "name"))
			assert.Equal(t, "s2", apitest.Str(d, "task", "subtasks", 2, "tags", 1, "name"))
			assert.Equal(t, []any{}, apitest.Get(d, "task", "subtasks", 1, "tags"))
			first := api.OK(t, tok, `query($id: ID!) { task(id: $id) { `+firstFields+` } }`, map[string]any{"id": tagged})
			require.Len(t, apitest.List(first, "task", "subtasks"), 2)
			assert.Equal(t, apitest.Get(d, "task", "subtasks", 1, "number"), apitest.Get(first, "task", "subtasks", 1, "number"))
			assert.Equal(t, []any{"alpha", "mid", "zeta"}, []any{apitest.Str(d, "task", "tags", 0, "name"), apitest.Str(d, "task", "tags", 1, "name"), apitest.Str(d, "task", "tags", 2, "name")})
			assert.Equal(t, apitest.Str(d, "task", "createdBy", "name"), apitest.Str(d, "task", "assignee", "name"))
			d = api.OK(t, tok, `query($id: ID!) { task(id: $id) { `+fields+` } }`, map[string]any{"id": bare})
			assert.Nil(t, apitest.Get(d, "task", "assignee"))
			assert.Equal(t, []any{}, apitest.Get(d, "task", "tags"))
			assert.Equal(t, []any{}, apitest.Get(d, "task", "subtasks"))
			assert.Equal(t, []any{}, apitest.Get(d, "task", "dependencies"))
		}
		// The private task: its owner sees it, another user and an
		// anonymous caller get null, by id and by number alike.
		d := api.OK(t, editor, `query($id: ID!) { task(id: $id) { number tags { name } dependencies { title } } }`, map[string]any{"id": hidden})
		require.Len(t, apitest.List(d, "task", "tags"), 1)
		require.Len(t, apitest.List(d, "task", "dependencies"), 1)
		number := apitest.Str(d, "task", "number")
		for _, tok := range []string{other, ""} {
			d = api.OK(t, tok, `query($id: ID!) { task(id: $id) { title tags { name } dependencies { title } } }`, map[string]any{"id": hidden})
			assert.Nil(t, d["task"], caches)
			d = api.OK(t, tok, `query($n: String!) { taskByNumber(number: $n) { title assignee { name } subtasks { title } } }`, map[string]any{"n": number})
			assert.Nil(t, d["taskByNumber"], caches)
		}
	}
}

// TestTaskDetailStatements counts the statements of the detail read (a
// task with its subtasks and their tags, its tags and dependencies) with
// both caches off: one, however many rows each level holds, and the
// answer is complete.
func TestTaskDetailStatements(t *testing.T) {
	setup := apitest.New(t, "ENTITY_CACHE", "off")
	_, err := seed.Run(context.Background(), setup.Pool(), seed.Options{Tasks: 60, Seed: 5})
	require.NoError(t, err)
	var ids []string
	require.NoError(t, setup.Pool().QueryRow(context.Background(), `SELECT array_agg(id::text) FROM (SELECT id FROM tasks t
		WHERE visibility = 'PUBLIC' AND EXISTS (SELECT 1 FROM task_dependencies d WHERE d.task_id = t.id)
		AND EXISTS (SELECT 1 FROM subtasks s JOIN subtask_tags st ON st.subtask_id = s.id WHERE s.task_id = t.id)
		ORDER BY number LIMIT 5) x`).Scan(&ids))
	require.NotEmpty(t, ids)
	api := apitest.Serve(t, setup.DBURL, &apitest.Counter{}, "ENTITY_CACHE", "off", "RESPONSE_CACHE", "off",
		"LOADER_WAIT", "1m", "REQUEST_TIMEOUT", "20s")
	const detail = `query Detail($id: ID!) { task(id: $id) { id number title status priority version assignee { name }
		tags { name } subtasks { id number title status tags { name } } dependencies { id number title status } } }`
	for _, id := range ids {
		before := api.SQL.Load()
		d := api.OK(t, "", detail, map[string]any{"id": id})
		assert.LessOrEqual(t, api.SQL.Load()-before, int64(2), "the detail read: at most two statements")
		assert.Equal(t, int64(1), api.SQL.Load()-before, "the detail read is one statement")
		assert.NotEmpty(t, apitest.List(d, "task", "subtasks"))
		assert.NotEmpty(t, apitest.List(d, "task", "dependencies"))
	}
}

// TestSerialAnswersMatch: operations that run serially (graph/serial.go:
// every level loaded ahead, no goroutine per field and element) answer
// exactly what gqlgen's concurrent executor answers for them, for every
// kind of caller. The serial server batches with a one-minute window and a
// 20 s deadline, so a level left to the window would end its request with
// TIMEOUT; the reference runs the same selections in an operation that
// cannot run serially (a `me` field beside them) on a server with the
// default window.
func TestSerialAnswersMatch(t *testing.T) {
	setup := apitest.New(t, "ENTITY_CACHE", "off")
	_, err := seed.Run(context.Background(), setup.Pool(), seed.Options{Tasks: 80, Seed: 11})
	require.NoError(t, err)
	_, admin := setup.User(t, domain.RoleAdmin)
	_, viewer := setup.User(t, domain.RoleViewer)
	var id, number string
	require.NoError(t, setup.Pool().QueryRow(context.Background(), `SELECT id::text, 'HT-' || lpad(number::text, 3, '0') FROM tasks
		WHERE visibility = 'PUBLIC' AND EXISTS (SELECT 1 FROM task_dependencies d WHERE d.task_id = tasks.id) ORDER BY number LIMIT 1`).Scan(&id, &number))
	serialAPI := apitest.Serve(t, setup.DBURL, &apitest.Counter{}, "ENTITY_CACHE", "off", "LOADER_WAIT", "1m", "REQUEST_TIMEOUT", "20s")
	reference := apitest.Serve(t, setup.DBURL, &apitest.Counter{}, "ENTITY_CACHE", "off")

	const task = `id number title status priority dueDate version assignee { id name email } createdBy { name }
		tags { id name color } subtasks { number title position tags { name } } dependencies { number title } dependents { id title }`
	cases := []struct {
		name, root, query string
		vars              map[string]any
	}{
		{"page", "tasks", `tasks(first: 50) { nodes { ` + task + ` } pageInfo { hasNextPage endCursor } totalCount }`, nil},
		{"edges, fragments, aliases", "tasks", `tasks(first: 30, orderBy: {field: PRIORITY, direction: ASC}) { edges { cursor node { ...F
			... on Node { id } t: title } } } __typename`, nil},
		{"subtasks first from a variable", "tasks", `tasks(first: 40) { nodes { subtasks(first: $n) { title tags { name } } } }`, map[string]any{"n": 2}},
		{"search", "searchTasks", `searchTasks(query: "cache", first: 20) { nodes { ` + task + ` } }`, nil},
		{"one task", "task", `task(id: $id) { ` + task + ` }`, map[string]any{"id": id}},
		{"by number", "taskByNumber", `taskByNumber(number: $number) { ` + task + ` }`, map[string]any{"number": number}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var decl []string
			for k := range c.vars {
				typ := map[string]string{"n": "Int", "id": "ID!", "number": "String!"}[k]
				decl = append(decl, "$"+k+": "+typ)
			}
			head := "query"
			if len(decl) > 0 {
				head += "(" + strings.Join(decl, ", ") + ")"
			}
			frag := ` fragment F on Task { title tags { name } subtasks { tags { id } } assignee { name } }`
			if !strings.Contains(c.query, "...F") {
				frag = ""
			}
			for _, tok := range []string{admin, viewer, ""} {
				got := serialAPI.OK(t, tok, head+" { "+c.query+" }"+frag, c.vars)
				want := reference.OK(t, tok, head+" { "+c.query+" me { id } }"+frag, c.vars)
				require.NotNil(t, got[c.root])
				assert.Equal(t, want[c.root], got[c.root])
			}
		})
	}
	assert.Equal(t, float64(3*len(cases)), serialOperations(t, serialAPI), "every operation of the serial server ran serially")
	assert.Zero(t, serialOperations(t, reference), "no reference operation did")
}

// serialOperations reads herotasks_graphql_serial_operations_total from a
// server's /metrics.
func serialOperations(t *testing.T, api *apitest.API) float64 {
	t.Helper()
	res, err := http.Get(api.URL + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "herotasks_graphql_serial_operations_total "); ok {
			n, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatal("no herotasks_graphql_serial_operations_total in /metrics")
	return 0
}
