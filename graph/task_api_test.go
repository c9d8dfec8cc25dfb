package graph_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTaskLifecycle walks every query and mutation of the schema once,
// through HTTP, checking what each returns.
func TestTaskLifecycle(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	editorID, editor := api.User(t, domain.RoleEditor)
	assigneeID, _ := api.User(t, domain.RoleViewer)

	d := api.OK(t, editor, apitest.CreateTask, map[string]any{"in": map[string]any{
		"title": "  Add rate limiting to the payments webhook ", "description": "Use a token bucket.",
		"type": "SECURITY", "priority": "HIGH", "dueDate": "2030-01-02T03:04:05Z", "assigneeId": assigneeID,
		"estimatedHours": 6.5, "tags": []string{"Payments", "backend", "payments"},
	}})
	task := apitest.Get(d, "createTask")
	id := apitest.Str(task, "id")
	assert.Equal(t, "HT-001", apitest.Str(task, "number"))
	assert.Equal(t, "Add rate limiting to the payments webhook", apitest.Str(task, "title"), "title is trimmed")
	assert.Equal(t, "DRAFT", apitest.Str(task, "status"))
	assert.Equal(t, "AUDIT", apitest.Str(task, "phase"))
	assert.Equal(t, 1, apitest.Num(task, "version"))
	assert.Len(t, apitest.List(task, "tags"), 2, "tag names are lowercased and deduplicated")

	d = api.OK(t, editor, `query($id: ID!) { task(id: $id) { number type priority dueDate estimatedHours isOverdue
		assignee { id name email } createdBy { id email } tags { name color } history { kind toStatus toPhase actor { id } } } }`, map[string]any{"id": id})
	assert.Equal(t, "SECURITY", apitest.Str(d, "task", "type"))
	assert.Equal(t, "2030-01-02T03:04:05Z", apitest.Str(d, "task", "dueDate"))
	assert.InDelta(t, 6.5, apitest.Get(d, "task", "estimatedHours"), 0.001)
	assert.Equal(t, assigneeID, apitest.Str(d, "task", "assignee", "id"))
	assert.Nil(t, apitest.Get(d, "task", "assignee", "email"), "another user's email is hidden")
	assert.Equal(t, editorID, apitest.Str(d, "task", "createdBy", "id"))
	assert.NotEmpty(t, apitest.Str(d, "task", "createdBy", "email"), "your own email is shown")
	assert.Equal(t, "backend", apitest.Str(d, "task", "tags", 0, "name"), "tags sorted by name")
	assert.Equal(t, "CREATED", apitest.Str(d, "task", "history", 0, "kind"))
	assert.Equal(t, editorID, apitest.Str(d, "task", "history", 0, "actor", "id"))

	d = api.OK(t, "", `{ taskByNumber(number: "HT-1") { id } }`, nil)
	assert.Equal(t, id, apitest.Str(d, "taskByNumber", "id"), "leading zeros are optional")

	// updateTask: set, clear with explicit null, leave absent fields alone.
	d = api.OK(t, editor, `mutation($id: ID!) { updateTask(id: $id, expectedVersion: 1,
		input: {title: "Rate-limit the payments webhook", dueDate: null, actualHours: 2}) { title dueDate actualHours estimatedHours version } }`, map[string]any{"id": id})
	assert.Equal(t, "Rate-limit the payments webhook", apitest.Str(d, "updateTask", "title"))
	assert.Nil(t, apitest.Get(d, "updateTask", "dueDate"), "explicit null clears")
	assert.InDelta(t, 6.5, apitest.Get(d, "updateTask", "estimatedHours"), 0.001, "absent fields stay")
	assert.Equal(t, 2, apitest.Num(d, "updateTask", "version"))

	// transitionTask through the workflow.
	d = api.OK(t, editor, `mutation($id: ID!) { transitionTask(id: $id, status: IN_PROGRESS, phase: DECIDE, reason: "picked up") {
		status phase startedAt completedAt version } }`, map[string]any{"id": id})
	assert.Equal(t, "IN_PROGRESS", apitest.Str(d, "transitionTask", "status"))
	assert.Equal(t, "DECIDE", apitest.Str(d, "transitionTask", "phase"))
	assert.NotEmpty(t, apitest.Str(d, "transitionTask", "startedAt"))
	assert.Nil(t, apitest.Get(d, "transitionTask", "completedAt"))

	// Subtasks with numbers, positions and tags.
	var subIDs []string
	for i, title := range []string{"Write the limiter", "Add metrics", "Load test"} {
		d = api.OK(t, editor, `mutation($id: ID!, $in: CreateSubtaskInput!) { createSubtask(taskId: $id, input: $in) { id number position task { id } tags { name } } }`,
			map[string]any{"id": id, "in": map[string]any{"title": title, "tags": []string{"backend"}}})
		assert.Equal(t, fmt.Sprintf("HT-001.%d", i+1), apitest.Str(d, "createSubtask", "number"))
		assert.Equal(t, i, apitest.Num(d, "createSubtask", "position"))
		assert.Equal(t, id, apitest.Str(d, "createSubtask", "task", "id"))
		subIDs = append(subIDs, apitest.Str(d, "createSubtask", "id"))
	}
	d = api.OK(t, editor, `mutation($id: ID!) { updateSubtask(id: $id, input: {position: 0, status: COMPLETED}) { position status completedAt } }`, map[string]any{"id": subIDs[2]})
	assert.Equal(t, 0, apitest.Num(d, "updateSubtask", "position"))
	assert.NotEmpty(t, apitest.Str(d, "updateSubtask", "completedAt"))
	d = api.OK(t, editor, `mutation($id: ID!) { a: addSubtaskTags(subtaskId: $id, tags: ["perf", "qa"]) { tags { name } }
		b: removeSubtaskTags(subtaskId: $id, tags: ["backend"]) { tags { name } } }`, map[string]any{"id": subIDs[2]})
	assert.Len(t, apitest.List(d, "a", "tags"), 3)
	assert.Equal(t, []any{map[string]any{"name": "perf"}, map[string]any{"name": "qa"}}, apitest.List(d, "b", "tags"), "the second mutation sees the first's write")
	d = api.OK(t, editor, `query($id: ID!) { task(id: $id) { subtasks { number position } first: subtasks(first: 1) { number } } }`, map[string]any{"id": id})
	assert.Equal(t, "HT-001.3", apitest.Str(d, "task", "subtasks", 0, "number"), "moved to the front")
	assert.Equal(t, []int{0, 1, 2}, []int{apitest.Num(d, "task", "subtasks", 0, "position"), apitest.Num(d, "task", "subtasks", 1, "position"), apitest.Num(d, "task", "subtasks", 2, "position")})
	assert.Len(t, apitest.List(d, "task", "first"), 1)
	d = api.OK(t, editor, `mutation($id: ID!) { deleteSubtask(id: $id) }`, map[string]any{"id": subIDs[0]})
	assert.Equal(t, true, apitest.Get(d, "deleteSubtask"))
	d = api.OK(t, editor, `mutation($tid: ID!) { createSubtask(taskId: $tid, input: {title: "Document it"}) { number position } }`, map[string]any{"tid": id})
	assert.Equal(t, "HT-001.4", apitest.Str(d, "createSubtask", "number"), "numbers are never reused")
	assert.Equal(t, 2, apitest.Num(d, "createSubtask", "position"), "positions stay dense after a delete")
	d = api.OK(t, "", `query($id: ID!) { subtask(id: $id) { number task { number } } }`, map[string]any{"id": subIDs[1]})
	assert.Equal(t, "HT-001.2", apitest.Str(d, "subtask", "number"))

	// Tags on the task.
	d = api.OK(t, editor, `mutation($id: ID!) { addTaskTags(taskId: $id, tags: ["urgent"]) { tags { name } } }`, map[string]any{"id": id})
	assert.Len(t, apitest.List(d, "addTaskTags", "tags"), 3)
	d = api.OK(t, editor, `mutation($id: ID!) { removeTaskTags(taskId: $id, tags: ["urgent", "unknown"]) { tags { name } } }`, map[string]any{"id": id})
	assert.Len(t, apitest.List(d, "removeTaskTags", "tags"), 2)
	d = api.OK(t, "", `{ tags(first: 10) { name tasks(first: 5) { totalCount nodes { number } } } }`, nil)
	names := []string{}
	for _, g := range apitest.List(d, "tags") {
		names = append(names, apitest.Str(g, "name"))
	}
	assert.Equal(t, []string{"backend", "payments", "perf", "qa", "urgent"}, names)
	assert.Equal(t, 1, apitest.Num(d, "tags", 0, "tasks", "totalCount"))
	assert.Equal(t, 0, apitest.Num(d, "tags", 4, "tasks", "totalCount"), "urgent was removed")

	// Dependencies.
	otherID, _ := api.NewTask(t, editor, map[string]any{"title": "Provision the Redis cluster"})
	d = api.OK(t, editor, `mutation($a: ID!, $b: ID!) { addDependency(taskId: $a, dependsOnId: $b) { dependencies { id } } }`, map[string]any{"a": id, "b": otherID})
	assert.Equal(t, otherID, apitest.Str(d, "addDependency", "dependencies", 0, "id"))
	d = api.OK(t, "", `query($b: ID!) { task(id: $b) { dependents { id } } }`, map[string]any{"b": otherID})
	assert.Equal(t, id, apitest.Str(d, "task", "dependents", 0, "id"))
	r := api.Post(t, editor, `mutation($a: ID!, $b: ID!) { addDependency(taskId: $b, dependsOnId: $a) { id } }`, map[string]any{"a": id, "b": otherID})
	assert.Equal(t, "CONFLICT", r.Code(), "a cycle is refused")
	d = api.OK(t, editor, `mutation($a: ID!, $b: ID!) { removeDependency(taskId: $a, dependsOnId: $b) { dependencies { id } } }`, map[string]any{"a": id, "b": otherID})
	assert.Empty(t, apitest.List(d, "removeDependency", "dependencies"))

	// Lists, search, statistics, me.
	d = api.OK(t, "", `{ tasks(first: 10, filter: {status: [IN_PROGRESS]}) { totalCount nodes { id } pageInfo { hasNextPage endCursor } edges { cursor } } }`, nil)
	assert.Equal(t, 1, apitest.Num(d, "tasks", "totalCount"))
	assert.Equal(t, id, apitest.Str(d, "tasks", "nodes", 0, "id"))
	assert.Equal(t, false, apitest.Get(d, "tasks", "pageInfo", "hasNextPage"))
	assert.Equal(t, apitest.Str(d, "tasks", "edges", 0, "cursor"), apitest.Str(d, "tasks", "pageInfo", "endCursor"))
	d = api.OK(t, "", `{ searchTasks(query: "payment webhooks", first: 5) { totalCount nodes { id } } }`, nil)
	assert.Equal(t, id, apitest.Str(d, "searchTasks", "nodes", 0, "id"), "stemmed full-text match")
	d = api.OK(t, "", `{ searchTasks(query: "Provison redis", first: 5) { nodes { id } } }`, nil)
	assert.Equal(t, otherID, apitest.Str(d, "searchTasks", "nodes", 0, "id"), "a typo still finds the title")
	d = api.OK(t, "", `{ taskStatistics { total active completed overdue byStatus { status count } byPriority { priority count } byType { type count } averageCompletionHours } }`, nil)
	assert.Equal(t, 2, apitest.Num(d, "taskStatistics", "total"))
	assert.Equal(t, 1, apitest.Num(d, "taskStatistics", "active"))
	assert.Len(t, apitest.List(d, "taskStatistics", "byStatus"), 6)
	assert.Len(t, apitest.List(d, "taskStatistics", "byType"), 15)
	d = api.OK(t, editor, `{ me { id role email } }`, nil)
	assert.Equal(t, editorID, apitest.Str(d, "me", "id"))
	assert.Equal(t, "EDITOR", apitest.Str(d, "me", "role"))
	d = api.OK(t, "", `{ me { id } }`, nil)
	assert.Nil(t, apitest.Get(d, "me"))

	// Complete, then delete.
	d = api.OK(t, editor, `mutation($id: ID!) { transitionTask(id: $id, status: COMPLETED) { status completedAt history(first: 100) { kind fromStatus toStatus reason } } }`, map[string]any{"id": id})
	assert.NotEmpty(t, apitest.Str(d, "transitionTask", "completedAt"), "COMPLETED sets completedAt")
	hist := apitest.List(d, "transitionTask", "history")
	assert.Equal(t, "COMPLETED", apitest.Str(hist, 0, "toStatus"), "newest first")
	assert.Equal(t, "CREATED", apitest.Str(hist, len(hist)-1, "kind"), "oldest last")
	kinds := map[string]int{}
	for i := range hist {
		kinds[apitest.Str(hist, i, "kind")]++
	}
	assert.Equal(t, 2, kinds["STATUS_CHANGED"], "every change is in the history: %v", kinds)
	for _, k := range []string{"PHASE_CHANGED", "FIELD_CHANGED", "TAG_ADDED", "TAG_REMOVED", "SUBTASK_ADDED", "SUBTASK_REMOVED",
		"SUBTASK_TAG_ADDED", "SUBTASK_TAG_REMOVED", "DEPENDENCY_ADDED", "DEPENDENCY_REMOVED"} {
		assert.Positive(t, kinds[k], "%s is in the history: %v", k, kinds)
	}
	d = api.OK(t, editor, `mutation($id: ID!) { deleteTask(id: $id) }`, map[string]any{"id": id})
	assert.Equal(t, true, apitest.Get(d, "deleteTask"))
	d = api.OK(t, editor, `mutation($id: ID!) { deleteTask(id: $id) }`, map[string]any{"id": id})
	assert.Equal(t, false, apitest.Get(d, "deleteTask"), "deleting twice reports false")
	d = api.OK(t, "", `query($id: ID!) { task(id: $id) { id } }`, map[string]any{"id": id})
	assert.Nil(t, apitest.Get(d, "task"))
}

// TestErrorCodes reaches each error code the foundation can produce and
// checks that the client sees a stable code, a field name and no internals.
func TestErrorCodes(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	_, editor := api.User(t, domain.RoleEditor)
	_, viewer := api.User(t, domain.RoleViewer)
	id, _ := api.NewTask(t, editor, map[string]any{"title": "Existing task"})
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
			r := api.Post(t, c.token, c.query, c.vars)
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
		r := api.Post(t, "not-a-jwt", `{ me { id } }`, nil)
		assert.Equal(t, http.StatusUnauthorized, r.Status)
		assert.Equal(t, "UNAUTHENTICATED", r.Code())
	})
	t.Run("request timeout", func(t *testing.T) {
		slow := apitest.New(t, "REQUEST_TIMEOUT", "1ns")
		r := slow.Post(t, "", `{ tasks(first: 1) { totalCount } }`, nil)
		assert.Equal(t, "TIMEOUT", r.Code(), "%+v", r)
	})
}

// TestConcurrentCreateGetsDistinctNumbers: the sequence hands out numbers
// without races, past HT-999 too.
func TestConcurrentCreateGetsDistinctNumbers(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	_, editor := api.User(t, domain.RoleEditor)
	_, err := api.Pool().Exec(context.Background(), "SELECT setval('task_number_seq', 990)")
	require.NoError(t, err)

	const n = 24
	numbers := make(chan string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, number := api.NewTask(t, editor, map[string]any{"title": fmt.Sprintf("Concurrent task %d", i)})
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
	api := apitest.New(t)
	_, editor := api.User(t, domain.RoleEditor)
	id, _ := api.NewTask(t, editor, map[string]any{"title": "Contended task"})

	const n = 16
	codes := make(chan string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := api.Post(t, editor, `mutation($id: ID!, $t: String!) { updateTask(id: $id, input: {title: $t}, expectedVersion: 1) { version } }`,
				map[string]any{"id": id, "t": fmt.Sprintf("writer %d", i)})
			codes <- r.Code()
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
	d := api.OK(t, editor, `query($id: ID!) { task(id: $id) { version title } }`, map[string]any{"id": id})
	assert.Equal(t, 2, apitest.Num(d, "task", "version"), "exactly one update applied")
	assert.True(t, strings.HasPrefix(apitest.Str(d, "task", "title"), "writer "))
}

// TestPaginationWalkWhileInserting: a keyset walk sees every task that
// existed when it started exactly once, even while new tasks are inserted.
func TestPaginationWalkWhileInserting(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	_, editor := api.User(t, domain.RoleEditor)
	ctx := context.Background()
	_, err := api.Pool().Exec(ctx, `INSERT INTO tasks (title, priority, due_date, created_at)
		SELECT 'Seeded task ' || i, (ARRAY['CRITICAL','HIGH','MEDIUM','LOW'])[1 + i % 4]::task_priority,
			CASE WHEN i % 3 = 0 THEN NULL ELSE now() + i * interval '1 hour' END, now() - i * interval '1 minute'
		FROM generate_series(1, 95) i`)
	require.NoError(t, err)
	var existing []string
	rows, err := api.Pool().Query(ctx, "SELECT id::text FROM tasks")
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
				d := api.OK(t, "", `query($after: String) { tasks(first: 7, after: $after, orderBy: `+order+`) {
					nodes { id } pageInfo { hasNextPage endCursor } } }`, map[string]any{"after": after})
				for _, n := range apitest.List(d, "tasks", "nodes") {
					seen[apitest.Str(n, "id")]++
				}
				// Insert while walking: new rows may or may not appear, old ones never repeat or vanish.
				api.NewTask(t, editor, map[string]any{"title": fmt.Sprintf("Inserted during walk %d", page)})
				if apitest.Get(d, "tasks", "pageInfo", "hasNextPage") != true {
					break
				}
				after = apitest.Str(d, "tasks", "pageInfo", "endCursor")
			}
			for _, id := range existing {
				assert.Equal(t, 1, seen[id], "task %s seen exactly once", id)
			}
			for id, n := range seen {
				assert.Equal(t, 1, n, "task %s repeated", id)
			}
		})
	}
	r := api.Post(t, "", `query($after: String) { tasks(first: 7, after: $after, orderBy: {field: PRIORITY, direction: ASC}) { totalCount } }`,
		map[string]any{"after": apitest.Str(api.OK(t, "", `{ tasks(first: 1) { pageInfo { endCursor } } }`, nil), "tasks", "pageInfo", "endCursor")})
	assert.Equal(t, "BAD_USER_INPUT", r.Code(), "a cursor from another ordering is refused")
}

// TestTagTasksWalk: a tag's first page (batched over the tags of the query)
// ends at a cursor that the next page (read for one tag) continues from:
// every tagged task once, newest first, and the page's edges carry the
// cursors pageInfo reports.
func TestTagTasksWalk(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	_, editor := api.User(t, domain.RoleEditor)
	var want []any
	for i := range 7 {
		id, _ := api.NewTask(t, editor, map[string]any{"title": fmt.Sprintf("Tagged %d", i), "tags": []string{"walk"}})
		want = append([]any{id}, want...) // newest first
	}
	api.NewTask(t, editor, map[string]any{"title": "Untagged"})
	var got []any
	after := any(nil)
	for page := 0; ; page++ {
		require.Less(t, page, 10, "walk terminates")
		d := api.OK(t, "", `query($after: String) { tags(first: 5) { name tasks(first: 3, after: $after) {
			edges { cursor node { id } } pageInfo { startCursor endCursor hasNextPage } } } }`, map[string]any{"after": after})
		require.Equal(t, "walk", apitest.Str(d, "tags", 0, "name"))
		edges := apitest.List(d, "tags", 0, "tasks", "edges")
		for _, e := range edges {
			got = append(got, apitest.Get(e, "node", "id"))
		}
		require.NotEmpty(t, edges)
		assert.Equal(t, apitest.Get(edges[0], "cursor"), apitest.Get(d, "tags", 0, "tasks", "pageInfo", "startCursor"))
		end := apitest.Str(d, "tags", 0, "tasks", "pageInfo", "endCursor")
		assert.Equal(t, end, apitest.Get(edges[len(edges)-1], "cursor"))
		if apitest.Get(d, "tags", 0, "tasks", "pageInfo", "hasNextPage") != true {
			break
		}
		after = end
	}
	assert.Equal(t, want, got)
}

// TestDatabaseDown: with PostgreSQL stopped, requests fail fast with
// SERVICE_UNAVAILABLE and /readyz says 503, while /healthz stays up.
func TestDatabaseDown(t *testing.T) {
	t.Parallel()
	pg, dbURL := apitest.MigratedServer(t)
	api := apitest.Serve(t, dbURL, nil, "ENTITY_CACHE", "off")
	pg.Stop(t)
	srv := struct{ URL string }{api.URL}

	r := api.Post(t, "", `{ tasks(first: 1) { totalCount } }`, nil)
	assert.Equal(t, "SERVICE_UNAVAILABLE", r.Code(), "%+v", r)
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
	api := apitest.New(t, "HTTP_BODY_LIMIT", "2048")
	body := `{"query":"{ me { id } }","variables":{"pad":"` + strings.Repeat("a", 4096) + `"}}`

	res, err := http.Post(api.URL+"/graphql", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	assert.Contains(t, string(raw), `"BAD_USER_INPUT"`)

	// No Content-Length: read up to the limit and no further.
	req, err := http.NewRequest(http.MethodPost, api.URL+"/graphql", io.MultiReader(strings.NewReader(body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = -1
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	raw, _ = io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	assert.Contains(t, string(raw), `"BAD_USER_INPUT"`, "%s", raw)

	small := api.Post(t, "", `{ me { id } }`, nil)
	assert.Empty(t, small.Errors, "a body under the limit is served")
}

// TestHistory: every change to a task and its subtasks is in its history,
// with what changed, the old and new value, who and when, newest first,
// paged by cursor; the history of a deleted task ends with DELETED.
func TestHistory(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	editorID, editor := api.User(t, domain.RoleEditor)
	id, _ := api.NewTask(t, editor, map[string]any{"title": "Tracked", "priority": "LOW"})
	api.OK(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {title: "Tracked well", priority: HIGH}) { id } }`, map[string]any{"id": id})
	d := api.OK(t, editor, `mutation($id: ID!) { createSubtask(taskId: $id, input: {title: "Step"}) { id } }`, map[string]any{"id": id})
	sub := apitest.Str(d, "createSubtask", "id")
	api.OK(t, editor, `mutation($id: ID!) { updateSubtask(id: $id, input: {status: COMPLETED}) { id } }`, map[string]any{"id": sub})
	api.OK(t, editor, `mutation($id: ID!) { addTaskTags(taskId: $id, tags: ["audit", "billing"]) { id } }`, map[string]any{"id": id})
	// A write that changes nothing records nothing.
	api.OK(t, editor, `mutation($id: ID!) { addTaskTags(taskId: $id, tags: ["audit"]) { id } }`, map[string]any{"id": id})

	const q = `query($id: ID!, $after: String) { task(id: $id) { history(first: 3, after: $after) {
		kind field oldValue newValue subtaskId actor { id } createdAt cursor } } }`
	var all []any
	var after any
	for range 10 {
		page := apitest.List(api.OK(t, editor, q, map[string]any{"id": id, "after": after}), "task", "history")
		all = append(all, page...)
		if len(page) < 3 {
			break
		}
		after = apitest.Str(page, len(page)-1, "cursor")
	}
	type row struct{ Kind, Field, Old, New string }
	var got []row
	for i := range all {
		got = append(got, row{apitest.Str(all, i, "kind"), apitest.Str(all, i, "field"), apitest.Str(all, i, "oldValue"), apitest.Str(all, i, "newValue")})
		assert.Equal(t, editorID, apitest.Str(all, i, "actor", "id"), "who: %v", got[i])
		assert.NotEmpty(t, apitest.Str(all, i, "createdAt"))
	}
	assert.Equal(t, []row{
		{"TAG_ADDED", "", "", "billing"}, {"TAG_ADDED", "", "", "audit"},
		{"SUBTASK_CHANGED", "status", "DRAFT", "COMPLETED"},
		{"SUBTASK_ADDED", "", "", "Step"},
		{"FIELD_CHANGED", "priority", "LOW", "HIGH"}, {"FIELD_CHANGED", "title", "Tracked", "Tracked well"},
		{"CREATED", "", "", ""},
	}, got, "newest first, paged three at a time")
	assert.Equal(t, sub, apitest.Str(all, 2, "subtaskId"))

	r := api.Post(t, editor, q, map[string]any{"id": id, "after": "nope"})
	assert.Equal(t, "BAD_USER_INPUT", r.Code(), "a malformed cursor")

	api.OK(t, editor, `mutation($id: ID!) { deleteTask(id: $id) }`, map[string]any{"id": id})
	// The log passes an event once no older write is still open on the
	// server (other tests write beside this one).
	var last *domain.TaskEvent
	require.Eventually(t, func() bool {
		evs, err := api.Repo.TaskEventsAfter(context.Background(), "", 1000)
		require.NoError(t, err)
		if len(evs) > 0 {
			last = evs[len(evs)-1]
		}
		return last != nil && last.Kind == domain.EventDeleted
	}, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, domain.EventDeleted, last.Kind, "the history outlives the task")
	assert.Equal(t, id, last.TaskID)
	require.NotNil(t, last.Was)
	assert.Equal(t, domain.VisibilityPublic, last.Was.Visibility)
}
