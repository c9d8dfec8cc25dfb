package graph_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/herotasks/api/persisted"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// example is one operation of examples/ with the variables beside it.
type example struct {
	name  string // file name without .graphql
	query string
	vars  map[string]any
}

func loadExample(t *testing.T, name string) example {
	t.Helper()
	q, err := os.ReadFile(filepath.Join(apitest.Root(t), "examples", name+".graphql"))
	require.NoError(t, err)
	e := example{name: name, query: string(q), vars: map[string]any{}}
	if b, err := os.ReadFile(filepath.Join(apitest.Root(t), "examples", name+".variables.json")); err == nil {
		require.NoError(t, json.Unmarshal(b, &e.vars), "%s.variables.json", name)
	}
	return e
}

// with returns the example's variables with some replaced (ids made by the test).
func (e example) with(kv ...any) map[string]any {
	vars := map[string]any{}
	for k, v := range e.vars {
		vars[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		vars[kv[i].(string)] = kv[i+1]
	}
	return vars
}

// TestExamples runs every operation in examples/ against a server, in the
// order a frontend would (create, transition, list, open, search, watch),
// with the variables files beside them, and checks each returns data and
// no errors. A new example without a case here fails the test.
func TestExamples(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(apitest.Root(t), "examples", "*.graphql"))
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".graphql"))
	}
	covered := []string{"create-task", "transition-task", "list-tasks", "task-detail", "search-tasks", "subscribe-task"}
	slices.Sort(covered)
	require.Equal(t, covered, names, "every example has a case in TestExamples, and every case an example")

	// One named operation per file: the trusted-documents manifest is built from them.
	m, err := persisted.Build(os.DirFS(filepath.Join(apitest.Root(t), "examples")))
	require.NoError(t, err)
	require.Len(t, m.Operations, len(names))

	api := apitest.New(t)
	_, editor := api.User(t, domain.RoleEditor)
	run := func(e example, vars map[string]any) map[string]any {
		t.Helper()
		r := api.Post(t, editor, e.query, vars)
		require.Empty(t, r.Errors, "examples/%s.graphql with %v", e.name, vars)
		require.NotEmpty(t, r.Data, "examples/%s.graphql returns data", e.name)
		return r.Data
	}

	create := loadExample(t, "create-task")
	d := run(create, create.vars)
	id, number := apitest.Str(d, "createTask", "id"), apitest.Str(d, "createTask", "number")
	require.NotEmpty(t, id)
	assert.Equal(t, "Add rate limiting to the payments webhook", apitest.Str(d, "createTask", "title"))
	assert.Len(t, apitest.List(d, "createTask", "tags"), 2)

	// Watch the task before it changes: the subscription must see the transition.
	sub := loadExample(t, "subscribe-task")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ws, err := apitest.DialWS(ctx, api.URL, editor)
	require.NoError(t, err)
	defer ws.Close()
	ws.Subscribe(t, "example", sub.query, sub.with("id", id))
	time.Sleep(300 * time.Millisecond) // the subscribe message has been read

	tr := loadExample(t, "transition-task")
	d = run(tr, tr.with("id", id, "expectedVersion", apitest.Num(d, "createTask", "version")))
	assert.Equal(t, "IN_PROGRESS", apitest.Str(d, "transitionTask", "status"))
	assert.Equal(t, "DECIDE", apitest.Str(d, "transitionTask", "phase"))
	assert.NotEmpty(t, apitest.Str(d, "transitionTask", "startedAt"))
	assert.Equal(t, "picked up", apitest.Str(d, "transitionTask", "history", 0, "reason"))

	ev := ws.Event(t, "example")
	assert.Equal(t, "TRANSITIONED", apitest.Str(ev, "taskChanged", "kind"), "examples/subscribe-task.graphql")
	assert.Equal(t, id, apitest.Str(ev, "taskChanged", "taskId"))
	assert.Equal(t, "IN_PROGRESS", apitest.Str(ev, "taskChanged", "task", "status"))

	ls := loadExample(t, "list-tasks")
	d = run(ls, ls.vars)
	assert.Equal(t, 1, apitest.Num(d, "tasks", "totalCount"), "the in-progress HIGH task matches the board's filter")
	assert.Equal(t, number, apitest.Str(d, "tasks", "edges", 0, "node", "number"))
	assert.NotEmpty(t, apitest.Str(d, "tasks", "edges", 0, "cursor"))

	detail := loadExample(t, "task-detail")
	assert.Equal(t, "HT-001", detail.vars["number"], "the variables file names the first seeded task")
	d = run(detail, detail.with("number", number))
	assert.Equal(t, id, apitest.Str(d, "taskByNumber", "id"))
	assert.Equal(t, "Bursts from the provider exhaust the worker pool.", apitest.Str(d, "taskByNumber", "description"))
	assert.Len(t, apitest.List(d, "taskByNumber", "history"), 3, "created, then a status and a phase change")

	search := loadExample(t, "search-tasks")
	d = run(search, search.vars)
	assert.Equal(t, number, apitest.Str(d, "searchTasks", "nodes", 0, "number"), "search finds the task by words of its title")
}
