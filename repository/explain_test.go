package repository_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/herotasks/api/seed"
	"github.com/herotasks/api/verify"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// largeTable is the size from which a table may never be read with a
// sequential scan by an API query (users, tags and empty partitions are
// smaller).
const largeTable = 1000

// TestHotQueriesUseIndexes runs the API's read paths against a seeded
// database, records the exact SQL they send, and EXPLAINs each statement:
// none may scan a large table sequentially.
func TestHotQueriesUseIndexes(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 20,000 tasks")
	}
	t.Parallel()
	api := apitest.New(t)
	ctx := context.Background()
	_, err := seed.Run(ctx, api.Pool(), seed.Options{Tasks: 20000, Seed: 7})
	require.NoError(t, err)
	_, admin := api.User(t, domain.RoleAdmin)
	_, viewer := api.User(t, domain.RoleViewer)

	var assignee, creator, tag, taskID, subtaskID string
	var number int64
	require.NoError(t, api.Pool().QueryRow(ctx, `SELECT assignee_id::text, created_by::text, id::text, number FROM tasks
		WHERE assignee_id IS NOT NULL AND created_by IS NOT NULL AND EXISTS (SELECT 1 FROM task_dependencies d WHERE d.task_id = tasks.id)
		ORDER BY number LIMIT 1`).Scan(&assignee, &creator, &taskID, &number))
	require.NoError(t, api.Pool().QueryRow(ctx, "SELECT name FROM tags ORDER BY name LIMIT 1").Scan(&tag))
	require.NoError(t, api.Pool().QueryRow(ctx, "SELECT id::text FROM subtasks WHERE task_id = $1 LIMIT 1", taskID).Scan(&subtaskID))

	rec := &verify.Recorder{}
	// Without the entity cache: with it, the list index answers first pages
	// from Redis after reading each partition whole once (cache/lists.go),
	// and the statements of interest are the lists' own.
	recAPI := apitest.Serve(t, api.DBURL, rec, "ENTITY_CACHE", "off")

	nested := `nodes { id number assignee { name } createdBy { name } tags { name } subtasks(first: 3) { number tags { name } }
		dependencies { number } dependents { number } history(first: 5) { kind actor { name } } } pageInfo { endCursor }`
	// Each read path, with the index its first statement (or, for counts, its
	// last) must use, for an admin, whose statements carry no visibility
	// clause. "a|b" accepts either: the planner's choice between two indexes
	// that both serve the query depends on the data.
	queries := []struct{ query, index string }{
		{`{ tasks(first: 20) { ` + nested + ` } }`, "tasks_created_keyset_idx"},
		{`{ tasks(first: 20, orderBy: {field: UPDATED_AT, direction: DESC}) { nodes { id } pageInfo { endCursor } } }`, "tasks_updated_keyset_idx"},
		{`{ tasks(first: 20, orderBy: {field: DUE_DATE, direction: ASC}) { nodes { id } pageInfo { endCursor } } }`, "tasks_due_keyset_idx"},
		{`{ tasks(first: 20, orderBy: {field: PRIORITY, direction: ASC}) { nodes { id } pageInfo { endCursor } } }`, "tasks_priority_keyset_idx"},
		{`{ tasks(first: 20, orderBy: {field: CREATED_AT, direction: ASC}) { nodes { id } pageInfo { endCursor } } }`, "tasks_created_keyset_idx"},
		{`{ tasks(first: 20, filter: {status: [BLOCKED]}) { nodes { id } pageInfo { endCursor } } }`, "tasks_status_created_idx"},
		{`{ tasks(first: 20, filter: {priority: [CRITICAL]}) { nodes { id } pageInfo { endCursor } } }`, "tasks_priority_keyset_idx"},
		{`{ tasks(first: 20, filter: {type: [SECURITY]}) { nodes { id } } }`, "tasks_type_created_idx"},
		{fmt.Sprintf(`{ tasks(first: 20, filter: {assigneeId: %q, status: [IN_PROGRESS]}, orderBy: {field: DUE_DATE, direction: ASC}) { nodes { id } pageInfo { endCursor } } }`, assignee), "tasks_assignee_status_due_idx"},
		{fmt.Sprintf(`{ tasks(first: 20, filter: {createdById: %q}) { nodes { id } } }`, creator), "tasks_created_by_idx"},
		{fmt.Sprintf(`{ tasks(first: 20, filter: {tag: %q}) { nodes { id } } }`, tag), "task_tags_tag_task_idx"},
		{`{ tasks(first: 20, filter: {overdue: true}, orderBy: {field: DUE_DATE, direction: ASC}) { nodes { id } pageInfo { endCursor } } }`, "tasks_open_due_idx|tasks_due_keyset_idx"},
		{`{ tasks(first: 1, filter: {overdue: true}) { totalCount } }`, "count:tasks_open_due_idx"},
		{`{ tasks(first: 20, filter: {dueBefore: "2020-01-01T00:00:00Z"}) { nodes { id } } }`, "tasks_due_keyset_idx"},
		{`{ tasks(first: 20, filter: {visibility: PRIVATE}) { nodes { id } } }`, ""},
		{`{ tasks(first: 20, filter: {active: true}) { nodes { id } pageInfo { endCursor } } }`, "tasks_active_created_idx"},
		{fmt.Sprintf(`{ tasks(first: 20, filter: {visibility: PRIVATE, createdById: %q}) { nodes { id } } }`, creator), "tasks_private_created_by_idx"},
		{fmt.Sprintf(`{ taskByNumber(number: "HT-%d") { id } }`, number), "tasks_number_key"},
		{fmt.Sprintf(`{ task(id: %q) { id subtasks { id } } subtask(id: %q) { number task { id } } }`, taskID, subtaskID), ""},
		// A search first walks the newest tasks, then (when they hold too few
		// matches) asks the GIN index, then (when nothing matched) corrects
		// the words through the vocabulary and asks the GIN index again.
		{`{ searchTasks(query: "cache invalidation", first: 20) { nodes { id } } }`, "tasks_created_keyset_idx"},
		{`{ searchTasks(query: "invalidation cache", first: 20) { nodes { id } } }`, "last:tasks_search_idx"},
		{`{ searchTasks(query: "invalidaton", first: 20) { nodes { id } } }`, "last:tasks_search_idx"},
		{`{ tags(first: 5) { name tasks(first: 10) { nodes { id } } } me { id } }`, "tags_name_key"},
	}
	for _, tok := range []string{admin, viewer, ""} {
		for _, q := range queries {
			first := len(rec.Statements())
			d := recAPI.OK(t, tok, q.query, nil)
			if tok == admin && q.index != "" {
				stmts := rec.Statements()
				s, want := stmts[first], q.index
				if w, ok := strings.CutPrefix(want, "count:"); ok {
					s, want = stmts[len(stmts)-1], w
				}
				if w, ok := strings.CutPrefix(want, "last:"); ok {
					s, want = stmts[len(stmts)-1], w
				}
				used, _, err := verify.Explain(ctx, api.Pool(), s, false)
				require.NoError(t, err, s.SQL)
				assert.True(t, slices.ContainsFunc(strings.Split(want, "|"), func(ix string) bool { return slices.Contains(used, ix) }),
					"%s uses %v, want %s:\n%s", q.query, used, want, s.SQL)
			}
			// The second page exercises the keyset condition.
			if c := apitest.Str(d, "tasks", "pageInfo", "endCursor"); c != "" {
				recAPI.OK(t, tok, strings.Replace(q.query, "tasks(first: 20", fmt.Sprintf("tasks(first: 20, after: %q", c), 1), nil)
			}
		}
	}

	// Without the entity cache, a query for one task reads the task with
	// its tags, assignee and creator in one statement (TaskBundle).
	bundleAPI := apitest.Serve(t, api.DBURL, rec, "ENTITY_CACHE", "off")
	for _, q := range []struct{ query, index string }{
		{fmt.Sprintf(`{ task(id: %q) { id tags { name } assignee { name } createdBy { name } } }`, taskID), "tasks_pkey"},
		{fmt.Sprintf(`{ taskByNumber(number: "HT-%d") { id tags { name } assignee { name } } }`, number), "tasks_number_key"},
	} {
		first := len(rec.Statements())
		d := bundleAPI.OK(t, admin, q.query, nil)
		require.NotEmpty(t, d)
		stmts := rec.Statements()[first:]
		require.Len(t, stmts, 1, q.query)
		used, _, err := verify.Explain(ctx, api.Pool(), stmts[0], false)
		require.NoError(t, err, stmts[0].SQL)
		assert.Contains(t, used, q.index, stmts[0].SQL)
		assert.Contains(t, used, "task_tags_pkey", stmts[0].SQL)
	}

	// The detail read: the task's subtasks with their tags, its tags,
	// dependencies and dependents in that same statement, each level on
	// the index of its batch read.
	first := len(rec.Statements())
	d := bundleAPI.OK(t, admin, fmt.Sprintf(`{ task(id: %q) { id tags { name } subtasks(first: 5) { number tags { name } }
		dependencies { number } dependents { number } } }`, taskID), nil)
	require.NotEmpty(t, apitest.List(d, "task", "dependencies"))
	stmts := rec.Statements()[first:]
	require.Len(t, stmts, 1, "the detail read")
	used, _, err := verify.Explain(ctx, api.Pool(), stmts[0], false)
	require.NoError(t, err, stmts[0].SQL)
	for _, ix := range []string{"tasks_pkey", "task_tags_pkey", "subtasks_task_position_idx", "subtask_tags_pkey",
		"task_dependencies_pkey", "task_dependencies_depends_on_idx"} {
		assert.Contains(t, used, ix, stmts[0].SQL)
	}

	require.NotEmpty(t, rec.Statements())
	checked := 0
	for _, s := range rec.Statements() {
		if !strings.HasPrefix(strings.TrimSpace(s.SQL), "SELECT") && !strings.HasPrefix(strings.TrimSpace(s.SQL), "WITH") {
			continue
		}
		_, raw, err := verify.Explain(ctx, api.Pool(), s, false)
		require.NoError(t, err, s.SQL)
		var plan []map[string]any
		require.NoError(t, json.Unmarshal(raw, &plan))
		for _, rel := range seqScans(plan[0]["Plan"]) {
			var rows float64
			require.NoError(t, api.Pool().QueryRow(ctx, "SELECT reltuples FROM pg_class WHERE relname = $1", rel).Scan(&rows))
			assert.Less(t, rows, float64(largeTable), "sequential scan on %s (%.0f rows) in:\n%s\nargs %v\nplan %s", rel, rows, s.SQL, s.Args, raw)
		}
		checked++
	}
	t.Logf("EXPLAINed %d statements", checked)
}

// seqScans lists the relations a plan scans sequentially.
func seqScans(node any) []string {
	m, ok := node.(map[string]any)
	if !ok {
		return nil
	}
	var out []string
	if m["Node Type"] == "Seq Scan" {
		rel, _ := m["Relation Name"].(string)
		out = append(out, rel)
	}
	if plans, ok := m["Plans"].([]any); ok {
		for _, p := range plans {
			out = append(out, seqScans(p)...)
		}
	}
	return out
}
