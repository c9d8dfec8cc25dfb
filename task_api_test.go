package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/herotasks/api/auth"
	"github.com/herotasks/api/config"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/repository"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTaskLifecycle walks every query and mutation of the schema once,
// through HTTP, checking what each returns.
func TestTaskLifecycle(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	editorID, editor := api.user(t, domain.RoleEditor)
	assigneeID, _ := api.user(t, domain.RoleViewer)

	d := api.ok(t, editor, createTask, map[string]any{"in": map[string]any{
		"title": "  Add rate limiting to the payments webhook ", "description": "Use a token bucket.",
		"type": "SECURITY", "priority": "HIGH", "dueDate": "2030-01-02T03:04:05Z", "assigneeId": assigneeID,
		"estimatedHours": 6.5, "tags": []string{"Payments", "backend", "payments"},
	}})
	task := get(d, "createTask")
	id := str(task, "id")
	assert.Equal(t, "HT-001", str(task, "number"))
	assert.Equal(t, "Add rate limiting to the payments webhook", str(task, "title"), "title is trimmed")
	assert.Equal(t, "DRAFT", str(task, "status"))
	assert.Equal(t, "AUDIT", str(task, "phase"))
	assert.Equal(t, 1, num(task, "version"))
	assert.Len(t, list(task, "tags"), 2, "tag names are lowercased and deduplicated")

	d = api.ok(t, editor, `query($id: ID!) { task(id: $id) { number type priority dueDate estimatedHours isOverdue
		assignee { id name email } createdBy { id email } tags { name color } history { kind toStatus toPhase actor { id } } } }`, map[string]any{"id": id})
	assert.Equal(t, "SECURITY", str(d, "task", "type"))
	assert.Equal(t, "2030-01-02T03:04:05Z", str(d, "task", "dueDate"))
	assert.InDelta(t, 6.5, get(d, "task", "estimatedHours"), 0.001)
	assert.Equal(t, assigneeID, str(d, "task", "assignee", "id"))
	assert.Nil(t, get(d, "task", "assignee", "email"), "another user's email is hidden")
	assert.Equal(t, editorID, str(d, "task", "createdBy", "id"))
	assert.NotEmpty(t, str(d, "task", "createdBy", "email"), "your own email is shown")
	assert.Equal(t, "backend", str(d, "task", "tags", 0, "name"), "tags sorted by name")
	assert.Equal(t, "CREATED", str(d, "task", "history", 0, "kind"))
	assert.Equal(t, editorID, str(d, "task", "history", 0, "actor", "id"))

	d = api.ok(t, "", `{ taskByNumber(number: "HT-1") { id } }`, nil)
	assert.Equal(t, id, str(d, "taskByNumber", "id"), "leading zeros are optional")

	// updateTask: set, clear with explicit null, leave absent fields alone.
	d = api.ok(t, editor, `mutation($id: ID!) { updateTask(id: $id, expectedVersion: 1,
		input: {title: "Rate-limit the payments webhook", dueDate: null, actualHours: 2}) { title dueDate actualHours estimatedHours version } }`, map[string]any{"id": id})
	assert.Equal(t, "Rate-limit the payments webhook", str(d, "updateTask", "title"))
	assert.Nil(t, get(d, "updateTask", "dueDate"), "explicit null clears")
	assert.InDelta(t, 6.5, get(d, "updateTask", "estimatedHours"), 0.001, "absent fields stay")
	assert.Equal(t, 2, num(d, "updateTask", "version"))

	// transitionTask through the workflow.
	d = api.ok(t, editor, `mutation($id: ID!) { transitionTask(id: $id, status: IN_PROGRESS, phase: DECIDE, reason: "picked up") {
		status phase startedAt completedAt version } }`, map[string]any{"id": id})
	assert.Equal(t, "IN_PROGRESS", str(d, "transitionTask", "status"))
	assert.Equal(t, "DECIDE", str(d, "transitionTask", "phase"))
	assert.NotEmpty(t, str(d, "transitionTask", "startedAt"))
	assert.Nil(t, get(d, "transitionTask", "completedAt"))

	// Subtasks with numbers, positions and tags.
	var subIDs []string
	for i, title := range []string{"Write the limiter", "Add metrics", "Load test"} {
		d = api.ok(t, editor, `mutation($id: ID!, $in: CreateSubtaskInput!) { createSubtask(taskId: $id, input: $in) { id number position task { id } tags { name } } }`,
			map[string]any{"id": id, "in": map[string]any{"title": title, "tags": []string{"backend"}}})
		assert.Equal(t, fmt.Sprintf("HT-001.%d", i+1), str(d, "createSubtask", "number"))
		assert.Equal(t, i, num(d, "createSubtask", "position"))
		assert.Equal(t, id, str(d, "createSubtask", "task", "id"))
		subIDs = append(subIDs, str(d, "createSubtask", "id"))
	}
	d = api.ok(t, editor, `mutation($id: ID!) { updateSubtask(id: $id, input: {position: 0, status: COMPLETED}) { position status completedAt } }`, map[string]any{"id": subIDs[2]})
	assert.Equal(t, 0, num(d, "updateSubtask", "position"))
	assert.NotEmpty(t, str(d, "updateSubtask", "completedAt"))
	d = api.ok(t, editor, `mutation($id: ID!) { a: addSubtaskTags(subtaskId: $id, tags: ["perf", "qa"]) { tags { name } }
		b: removeSubtaskTags(subtaskId: $id, tags: ["backend"]) { tags { name } } }`, map[string]any{"id": subIDs[2]})
	assert.Len(t, list(d, "a", "tags"), 3)
	assert.Equal(t, []any{map[string]any{"name": "perf"}, map[string]any{"name": "qa"}}, list(d, "b", "tags"), "the second mutation sees the first's write")
	d = api.ok(t, editor, `query($id: ID!) { task(id: $id) { subtasks { number position } first: subtasks(first: 1) { number } } }`, map[string]any{"id": id})
	assert.Equal(t, "HT-001.3", str(d, "task", "subtasks", 0, "number"), "moved to the front")
	assert.Equal(t, []int{0, 1, 2}, []int{num(d, "task", "subtasks", 0, "position"), num(d, "task", "subtasks", 1, "position"), num(d, "task", "subtasks", 2, "position")})
	assert.Len(t, list(d, "task", "first"), 1)
	d = api.ok(t, editor, `mutation($id: ID!) { deleteSubtask(id: $id) }`, map[string]any{"id": subIDs[0]})
	assert.Equal(t, true, get(d, "deleteSubtask"))
	d = api.ok(t, editor, `mutation($tid: ID!) { createSubtask(taskId: $tid, input: {title: "Document it"}) { number position } }`, map[string]any{"tid": id})
	assert.Equal(t, "HT-001.4", str(d, "createSubtask", "number"), "numbers are never reused")
	assert.Equal(t, 2, num(d, "createSubtask", "position"), "positions stay dense after a delete")
	d = api.ok(t, "", `query($id: ID!) { subtask(id: $id) { number task { number } } }`, map[string]any{"id": subIDs[1]})
	assert.Equal(t, "HT-001.2", str(d, "subtask", "number"))

	// Tags on the task.
	d = api.ok(t, editor, `mutation($id: ID!) { addTaskTags(taskId: $id, tags: ["urgent"]) { tags { name } } }`, map[string]any{"id": id})
	assert.Len(t, list(d, "addTaskTags", "tags"), 3)
	d = api.ok(t, editor, `mutation($id: ID!) { removeTaskTags(taskId: $id, tags: ["urgent", "unknown"]) { tags { name } } }`, map[string]any{"id": id})
	assert.Len(t, list(d, "removeTaskTags", "tags"), 2)
	d = api.ok(t, "", `{ tags(first: 10) { name tasks(first: 5) { totalCount nodes { number } } } }`, nil)
	names := []string{}
	for _, g := range list(d, "tags") {
		names = append(names, str(g, "name"))
	}
	assert.Equal(t, []string{"backend", "payments", "perf", "qa", "urgent"}, names)
	assert.Equal(t, 1, num(d, "tags", 0, "tasks", "totalCount"))
	assert.Equal(t, 0, num(d, "tags", 4, "tasks", "totalCount"), "urgent was removed")

	// Dependencies.
	otherID, _ := api.newTask(t, editor, map[string]any{"title": "Provision the Redis cluster"})
	d = api.ok(t, editor, `mutation($a: ID!, $b: ID!) { addDependency(taskId: $a, dependsOnId: $b) { dependencies { id } } }`, map[string]any{"a": id, "b": otherID})
	assert.Equal(t, otherID, str(d, "addDependency", "dependencies", 0, "id"))
	d = api.ok(t, "", `query($b: ID!) { task(id: $b) { dependents { id } } }`, map[string]any{"b": otherID})
	assert.Equal(t, id, str(d, "task", "dependents", 0, "id"))
	r := api.post(t, editor, `mutation($a: ID!, $b: ID!) { addDependency(taskId: $b, dependsOnId: $a) { id } }`, map[string]any{"a": id, "b": otherID})
	assert.Equal(t, "CONFLICT", r.code(), "a cycle is refused")
	d = api.ok(t, editor, `mutation($a: ID!, $b: ID!) { removeDependency(taskId: $a, dependsOnId: $b) { dependencies { id } } }`, map[string]any{"a": id, "b": otherID})
	assert.Empty(t, list(d, "removeDependency", "dependencies"))

	// Lists, search, statistics, me.
	d = api.ok(t, "", `{ tasks(first: 10, filter: {status: [IN_PROGRESS]}) { totalCount nodes { id } pageInfo { hasNextPage endCursor } edges { cursor } } }`, nil)
	assert.Equal(t, 1, num(d, "tasks", "totalCount"))
	assert.Equal(t, id, str(d, "tasks", "nodes", 0, "id"))
	assert.Equal(t, false, get(d, "tasks", "pageInfo", "hasNextPage"))
	assert.Equal(t, str(d, "tasks", "edges", 0, "cursor"), str(d, "tasks", "pageInfo", "endCursor"))
	d = api.ok(t, "", `{ searchTasks(query: "payment webhooks", first: 5) { totalCount nodes { id } } }`, nil)
	assert.Equal(t, id, str(d, "searchTasks", "nodes", 0, "id"), "stemmed full-text match")
	d = api.ok(t, "", `{ searchTasks(query: "Provison redis", first: 5) { nodes { id } } }`, nil)
	assert.Equal(t, otherID, str(d, "searchTasks", "nodes", 0, "id"), "a typo still finds the title")
	d = api.ok(t, "", `{ taskStatistics { total active completed overdue byStatus { status count } byPriority { priority count } byType { type count } averageCompletionHours } }`, nil)
	assert.Equal(t, 2, num(d, "taskStatistics", "total"))
	assert.Equal(t, 1, num(d, "taskStatistics", "active"))
	assert.Len(t, list(d, "taskStatistics", "byStatus"), 6)
	assert.Len(t, list(d, "taskStatistics", "byType"), 15)
	d = api.ok(t, editor, `{ me { id role email } }`, nil)
	assert.Equal(t, editorID, str(d, "me", "id"))
	assert.Equal(t, "EDITOR", str(d, "me", "role"))
	d = api.ok(t, "", `{ me { id } }`, nil)
	assert.Nil(t, get(d, "me"))

	// Complete, then delete.
	d = api.ok(t, editor, `mutation($id: ID!) { transitionTask(id: $id, status: COMPLETED) { status completedAt history(first: 10) { kind fromStatus toStatus reason } } }`, map[string]any{"id": id})
	assert.NotEmpty(t, str(d, "transitionTask", "completedAt"), "COMPLETED sets completedAt")
	hist := list(d, "transitionTask", "history")
	require.Len(t, hist, 4, "CREATED, PHASE_CHANGED, STATUS_CHANGED, STATUS_CHANGED")
	assert.Equal(t, "COMPLETED", str(hist, 0, "toStatus"), "newest first")
	d = api.ok(t, editor, `mutation($id: ID!) { deleteTask(id: $id) }`, map[string]any{"id": id})
	assert.Equal(t, true, get(d, "deleteTask"))
	d = api.ok(t, editor, `mutation($id: ID!) { deleteTask(id: $id) }`, map[string]any{"id": id})
	assert.Equal(t, false, get(d, "deleteTask"), "deleting twice reports false")
	d = api.ok(t, "", `query($id: ID!) { task(id: $id) { id } }`, map[string]any{"id": id})
	assert.Nil(t, get(d, "task"))
}

// TestErrorCodes reaches each error code the foundation can produce and
// checks that the client sees a stable code, a field name and no internals.
func TestErrorCodes(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	_, editor := api.user(t, domain.RoleEditor)
	_, viewer := api.user(t, domain.RoleViewer)
	id, _ := api.newTask(t, editor, map[string]any{"title": "Existing task"})
	random := uuid.NewString()

	cases := []struct {
		name, token, query string
		vars               map[string]any
		code, field        string
	}{
		{"empty title", editor, `mutation { createTask(input: {title: "   "}) { id } }`, nil, "BAD_USER_INPUT", "input.title"},
		{"long title", editor, `mutation($t: String!) { createTask(input: {title: $t}) { id } }`, map[string]any{"t": strings.Repeat("x", 501)}, "BAD_USER_INPUT", "input.title"},
		{"negative hours", editor, `mutation { createTask(input: {title: "x", estimatedHours: -1}) { id } }`, nil, "BAD_USER_INPUT", "input.estimatedHours"},
		{"bad tag", editor, `mutation { createTask(input: {title: "x", tags: ["no spaces allowed"]}) { id } }`, nil, "BAD_USER_INPUT", "input.tags"},
		{"unknown assignee", editor, `mutation($a: ID!) { createTask(input: {title: "x", assigneeId: $a}) { id } }`, map[string]any{"a": random}, "BAD_USER_INPUT", "input.assigneeId"},
		{"malformed id", "", `{ task(id: "42") { id } }`, nil, "BAD_USER_INPUT", "id"},
		{"bad number", "", `{ taskByNumber(number: "TASK-1") { id } }`, nil, "BAD_USER_INPUT", "number"},
		{"first too large", "", `{ tasks(first: 101) { totalCount } }`, nil, "SLICING_ARGUMENT_OUT_OF_RANGE", "first"},
		{"bad cursor", "", `{ tasks(first: 1, after: "bm9wZQ") { totalCount } }`, nil, "BAD_USER_INPUT", "after"},
		{"bad time", editor, `mutation { createTask(input: {title: "x", dueDate: "tomorrow"}) { id } }`, nil, "BAD_USER_INPUT", ""},
		{"bad transition", editor, `mutation($id: ID!) { transitionTask(id: $id, status: COMPLETED) { id } }`, map[string]any{"id": id}, "BAD_USER_INPUT", "status"},
		{"phase skip", editor, `mutation($id: ID!) { transitionTask(id: $id, phase: APPLY) { id } }`, map[string]any{"id": id}, "BAD_USER_INPUT", "phase"},
		{"anonymous mutation", "", `mutation { createTask(input: {title: "x"}) { id } }`, nil, "UNAUTHENTICATED", ""},
		{"viewer mutation", viewer, `mutation { createTask(input: {title: "x"}) { id } }`, nil, "FORBIDDEN", ""},
		{"unknown task", editor, `mutation($id: ID!) { updateTask(id: $id, input: {title: "y"}) { id } }`, map[string]any{"id": random}, "NOT_FOUND", ""},
		{"stale version", editor, `mutation($id: ID!) { updateTask(id: $id, input: {title: "y"}, expectedVersion: 7) { id } }`, map[string]any{"id": id}, "CONFLICT", ""},
		{"self dependency", editor, `mutation($id: ID!) { addDependency(taskId: $id, dependsOnId: $id) { id } }`, map[string]any{"id": id}, "CONFLICT", ""},
		{"parse error", "", `{ tasks(first: 1) { `, nil, "GRAPHQL_PARSE_FAILED", ""},
		{"unknown field", "", `{ tasks(first: 1) { nope } }`, nil, "GRAPHQL_VALIDATION_FAILED", ""},
		{"bad enum", "", `{ tasks(first: 1, filter: {status: [DONE]}) { totalCount } }`, nil, "GRAPHQL_VALIDATION_FAILED", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := api.post(t, c.token, c.query, c.vars)
			require.NotEmpty(t, r.Errors, "%s must fail", c.query)
			e := r.Errors[0]
			assert.Equal(t, c.code, e.Extensions["code"], "code of %s: %s", c.name, e.Message)
			if c.field != "" {
				assert.Equal(t, c.field, e.Extensions["field"], "field of %s", c.name)
			}
			for _, leak := range []string{"SQLSTATE", "pgx", "violates", "goroutine", ".go:"} {
				assert.NotContains(t, e.Message, leak, "no internals in %q", e.Message)
			}
		})
	}

	t.Run("invalid token is 401, never anonymous", func(t *testing.T) {
		r := api.post(t, "not-a-jwt", `{ me { id } }`, nil)
		assert.Equal(t, http.StatusUnauthorized, r.Status)
		assert.Equal(t, "UNAUTHENTICATED", r.code())
	})
	t.Run("request timeout", func(t *testing.T) {
		slow := newTestAPI(t, "REQUEST_TIMEOUT", "1ns")
		r := slow.post(t, "", `{ tasks(first: 1) { totalCount } }`, nil)
		assert.Equal(t, "TIMEOUT", r.code(), "%+v", r)
	})
}

// TestConcurrentCreateGetsDistinctNumbers: the sequence hands out numbers
// without races, past HT-999 too.
func TestConcurrentCreateGetsDistinctNumbers(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	_, editor := api.user(t, domain.RoleEditor)
	_, err := api.pool.Exec(context.Background(), "SELECT setval('task_number_seq', 990)")
	require.NoError(t, err)

	const n = 24
	numbers := make(chan string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, number := api.newTask(t, editor, map[string]any{"title": fmt.Sprintf("Concurrent task %d", i)})
			numbers <- number
		})
	}
	wg.Wait()
	close(numbers)
	seen := map[string]bool{}
	for num := range numbers {
		assert.False(t, seen[num], "number %s handed out twice", num)
		seen[num] = true
	}
	assert.Len(t, seen, n)
	assert.True(t, seen["HT-991"] && seen["HT-1014"], "numbering grows past HT-999: %v", seen)
}

// TestConcurrentUpdatesOneWinner: many writers with the same expectedVersion,
// exactly one succeeds and the rest get CONFLICT; no update is lost.
func TestConcurrentUpdatesOneWinner(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	_, editor := api.user(t, domain.RoleEditor)
	id, _ := api.newTask(t, editor, map[string]any{"title": "Contended task"})

	const n = 16
	codes := make(chan string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := api.post(t, editor, `mutation($id: ID!, $t: String!) { updateTask(id: $id, input: {title: $t}, expectedVersion: 1) { version } }`,
				map[string]any{"id": id, "t": fmt.Sprintf("writer %d", i)})
			codes <- r.code()
		})
	}
	wg.Wait()
	close(codes)
	wins, conflicts := 0, 0
	for c := range codes {
		switch c {
		case "":
			wins++
		case "CONFLICT":
			conflicts++
		default:
			t.Errorf("unexpected code %q", c)
		}
	}
	assert.Equal(t, 1, wins)
	assert.Equal(t, n-1, conflicts)
	d := api.ok(t, editor, `query($id: ID!) { task(id: $id) { version title } }`, map[string]any{"id": id})
	assert.Equal(t, 2, num(d, "task", "version"), "exactly one update applied")
	assert.True(t, strings.HasPrefix(str(d, "task", "title"), "writer "))
}

// TestPaginationWalkWhileInserting: a keyset walk sees every task that
// existed when it started exactly once, even while new tasks are inserted.
func TestPaginationWalkWhileInserting(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	_, editor := api.user(t, domain.RoleEditor)
	ctx := context.Background()
	_, err := api.pool.Exec(ctx, `INSERT INTO tasks (title, priority, due_date, created_at)
		SELECT 'Seeded task ' || i, (ARRAY['CRITICAL','HIGH','MEDIUM','LOW'])[1 + i % 4]::task_priority,
			CASE WHEN i % 3 = 0 THEN NULL ELSE now() + i * interval '1 hour' END, now() - i * interval '1 minute'
		FROM generate_series(1, 95) i`)
	require.NoError(t, err)
	var existing []string
	rows, err := api.pool.Query(ctx, "SELECT id::text FROM tasks")
	require.NoError(t, err)
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		existing = append(existing, id)
	}
	require.NoError(t, rows.Err())

	for _, order := range []string{"{field: CREATED_AT, direction: DESC}", "{field: CREATED_AT, direction: ASC}",
		"{field: UPDATED_AT, direction: DESC}", "{field: DUE_DATE, direction: ASC}", "{field: DUE_DATE, direction: DESC}",
		"{field: PRIORITY, direction: ASC}"} {
		t.Run(order, func(t *testing.T) {
			seen := map[string]int{}
			after := any(nil)
			for page := 0; ; page++ {
				require.Less(t, page, 100, "walk terminates")
				d := api.ok(t, "", `query($after: String) { tasks(first: 7, after: $after, orderBy: `+order+`) {
					nodes { id } pageInfo { hasNextPage endCursor } } }`, map[string]any{"after": after})
				for _, n := range list(d, "tasks", "nodes") {
					seen[str(n, "id")]++
				}
				// Insert while walking: new rows may or may not appear, old ones never repeat or vanish.
				api.newTask(t, editor, map[string]any{"title": fmt.Sprintf("Inserted during walk %d", page)})
				if get(d, "tasks", "pageInfo", "hasNextPage") != true {
					break
				}
				after = str(d, "tasks", "pageInfo", "endCursor")
			}
			for _, id := range existing {
				assert.Equal(t, 1, seen[id], "task %s seen exactly once", id)
			}
			for id, n := range seen {
				assert.Equal(t, 1, n, "task %s repeated", id)
			}
		})
	}
	r := api.post(t, "", `query($after: String) { tasks(first: 7, after: $after, orderBy: {field: PRIORITY, direction: ASC}) { totalCount } }`,
		map[string]any{"after": str(api.ok(t, "", `{ tasks(first: 1) { pageInfo { endCursor } } }`, nil), "tasks", "pageInfo", "endCursor")})
	assert.Equal(t, "BAD_USER_INPUT", r.code(), "a cursor from another ordering is refused")
}

// TestDatabaseDown: with PostgreSQL unreachable, requests fail fast with
// SERVICE_UNAVAILABLE and /readyz says 503, while /healthz stays up.
func TestDatabaseDown(t *testing.T) {
	t.Parallel()
	pool, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	cfg, err := config.Load(func(k string) string {
		return map[string]string{"DATABASE_URL": "postgres://unused", "JWT_SECRET": testSecret}[k]
	})
	require.NoError(t, err)
	d := newDeps(cfg, repository.New(pool), nil)
	d.authn = auth.New(cfg.JWTSecret, "", "")
	srv := httptest.NewServer(newServer(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), d))
	t.Cleanup(srv.Close)
	api := &testAPI{url: srv.URL}

	r := api.post(t, "", `{ tasks(first: 1) { totalCount } }`, nil)
	assert.Equal(t, "SERVICE_UNAVAILABLE", r.code(), "%+v", r)
	for path, want := range map[string]int{"/readyz": http.StatusServiceUnavailable, "/healthz": http.StatusOK} {
		res, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		res.Body.Close()
		assert.Equal(t, want, res.StatusCode, path)
	}
}

// TestBodyLimit: a body over HTTP_BODY_LIMIT is refused with a stable code,
// with 413, whether or not its length is declared.
func TestBodyLimit(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t, "HTTP_BODY_LIMIT", "2048")
	body := `{"query":"{ me { id } }","variables":{"pad":"` + strings.Repeat("a", 4096) + `"}}`

	res, err := http.Post(api.url+"/graphql", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	assert.Contains(t, string(raw), `"BAD_USER_INPUT"`)

	// No Content-Length: read up to the limit and no further.
	req, err := http.NewRequest(http.MethodPost, api.url+"/graphql", io.MultiReader(strings.NewReader(body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = -1
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	raw, _ = io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	assert.Contains(t, string(raw), `"BAD_USER_INPUT"`, "%s", raw)

	small := api.post(t, "", `{ me { id } }`, nil)
	assert.Empty(t, small.Errors, "a body under the limit is served")
}
