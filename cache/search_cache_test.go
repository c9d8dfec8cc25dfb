package cache_test

import (
	"fmt"
	"testing"

	"github.com/herotasks/api/cache"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// searchQuery selects every field a write below can change.
const searchQuery = `query($q: String!) { searchTasks(query: $q, first: 10) { totalCount pageInfo { hasNextPage endCursor }
	nodes { id title description priority status phase version visibility dueDate assignee { id } tags { name } subtasks { title } } } }`

// searchStat is the cache's search counters (pages and counts).
func searchStat(api *apitest.API) cache.Stat { return api.Cache.Stats().Snapshot()[cache.KindSearch] }

// TestSearchPageKeptAcrossUnrelatedWrites: writes that change neither a
// task's searched text (title, description) nor its visibility nor which
// tasks exist leave cached search pages in place, and the pages still show
// each task as it is now (a page holds ids; the tasks come from the entity
// cache, whose keys those writes drop).
func TestSearchPageKeptAcrossUnrelatedWrites(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t)
	oracle := apitest.Serve(t, api.DBURL, nil, "ENTITY_CACHE", "off")
	adminID, admin := api.User(t, domain.RoleAdmin)
	a, _ := api.NewTask(t, admin, map[string]any{"title": "Zanzibar payments import"})
	api.NewTask(t, admin, map[string]any{"title": "Export for the harbour", "description": "Zanzibar customers asked for it."})
	api.NewTask(t, admin, map[string]any{"title": "Something else entirely"})
	vars := map[string]any{"q": "zanzibar"}
	for _, tok := range []string{admin, ""} {
		d := api.OK(t, tok, searchQuery, vars)
		require.Equal(t, 2, apitest.Num(d, "searchTasks", "totalCount"))
	}

	steps := []struct{ name, mutation string }{
		{"priority", `mutation($id: ID!) { updateTask(id: $id, input: {priority: CRITICAL}) { id } }`},
		{"due date, assignee, type, hours", `mutation($id: ID!) { updateTask(id: $id, input: {dueDate: "2031-01-01T00:00:00Z", assigneeId: "` +
			adminID + `", type: BUG_FIX, estimatedHours: 3}) { id } }`},
		{"transition", `mutation($id: ID!) { transitionTask(id: $id, status: READY, phase: DECIDE) { id } }`},
		{"tags", `mutation($id: ID!) { addTaskTags(taskId: $id, tags: ["zanzibar"]) { id } }`},
		{"subtask", `mutation($id: ID!) { createSubtask(taskId: $id, input: {title: "Zanzibar subtask"}) { id } }`},
	}
	for _, s := range steps {
		api.OK(t, admin, s.mutation, map[string]any{"id": a})
		for _, tok := range []string{admin, ""} {
			before := searchStat(api)
			got := api.OK(t, tok, searchQuery, vars)
			after := searchStat(api)
			assert.Equal(t, before.Misses, after.Misses, "after %s (token %t): the cached page and count are still used", s.name, tok != "")
			assert.Equal(t, before.Hits+2, after.Hits, "after %s (token %t): page and count from the cache", s.name, tok != "")
			assert.Equal(t, oracle.OK(t, tok, searchQuery, vars), got, "after %s (token %t): the page shows the task as it is now", s.name, tok != "")
		}
	}
	d := api.OK(t, admin, searchQuery, vars)
	assert.Equal(t, "CRITICAL", apitest.Str(d, "searchTasks", "nodes", 0, "priority"), "the write reached the cached page")
}

// TestSearchPageRetiredBySearchedChanges: a write that changes what a
// search finds, its order or who may see it retires the cached pages, on
// this instance and on another sharing Redis: each answer after the write
// is the database's.
func TestSearchPageRetiredBySearchedChanges(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t)
	other := apitest.Serve(t, api.DBURL, nil) // a second instance on the same Redis prefix
	oracle := apitest.Serve(t, api.DBURL, nil, "ENTITY_CACHE", "off")
	_, admin := api.User(t, domain.RoleAdmin)
	a, _ := api.NewTask(t, admin, map[string]any{"title": "Zanzibar alpha"})
	b, _ := api.NewTask(t, admin, map[string]any{"title": "Plain beta"})
	c, _ := api.NewTask(t, admin, map[string]any{"title": "Zanzibar gamma", "visibility": "PRIVATE"})
	d, _ := api.NewTask(t, admin, map[string]any{"title": "Zanzibar delta zanzibar", "description": "Zanzibar, zanzibar."})
	vars := map[string]any{"q": "zanzibar"}
	servers := []*apitest.API{api, other}
	read := func() {
		for _, srv := range servers {
			for _, tok := range []string{admin, ""} {
				srv.OK(t, tok, searchQuery, vars)
			}
		}
	}
	read() // cached on both instances for both scopes

	steps := []struct{ name, mutation, id string }{
		{"title leaves", `mutation($id: ID!) { updateTask(id: $id, input: {title: "Renamed alpha"}) { id } }`, a},
		{"description enters", `mutation($id: ID!) { updateTask(id: $id, input: {description: "About zanzibar"}) { id } }`, b},
		{"title reorders", `mutation($id: ID!) { updateTask(id: $id, input: {title: "Delta"}) { id } }`, d},
		{"private to public", `mutation($id: ID!) { updateTask(id: $id, input: {visibility: PUBLIC}) { id } }`, c},
		{"created", `mutation { createTask(input: {title: "Zanzibar epsilon"}) { id } }`, ""},
		{"deleted", `mutation($id: ID!) { deleteTask(id: $id) }`, b},
	}
	for i, s := range steps {
		var v map[string]any
		if s.id != "" {
			v = map[string]any{"id": s.id}
		}
		servers[i%2].OK(t, admin, s.mutation, v)
		for _, srv := range servers {
			for _, tok := range []string{admin, ""} {
				want := oracle.OK(t, tok, searchQuery, vars)
				assert.Equal(t, want, srv.OK(t, tok, searchQuery, vars), "after %s (token %t): a fresh answer", s.name, tok != "")
				assert.Equal(t, want, srv.OK(t, tok, searchQuery, vars), "after %s (token %t): and cached again", s.name, tok != "")
			}
		}
	}
	got := api.OK(t, "", searchQuery, vars)
	var titles []string
	for _, n := range apitest.List(got, "searchTasks", "nodes") {
		titles = append(titles, apitest.Str(n, "title"))
	}
	assert.ElementsMatch(t, []string{"Delta", "Zanzibar gamma", "Zanzibar epsilon"}, titles, fmt.Sprint(got))
}

// TestTextWritesReadNoTextsAgain: a creation, a title edit and a deletion
// send as many statements with the search cache as without it, since the
// write's own statements return the texts it needs (domain.WrittenTexts),
// and the cache still retires what they change.
func TestTextWritesReadNoTextsAgain(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t)
	plain := apitest.New(t, "ENTITY_CACHE", "off") // a database of its own: its writes reach no cache
	_, admin := api.User(t, domain.RoleAdmin)
	_, plainAdmin := plain.User(t, domain.RoleAdmin)
	// both sends query to each server and returns how many statements each sent.
	both := func(query string, vars, plainVars map[string]any) (cached, uncached int64) {
		t.Helper()
		b, p := api.SQL.Load(), plain.SQL.Load()
		api.OK(t, admin, query, vars)
		plain.OK(t, plainAdmin, query, plainVars)
		return api.SQL.Load() - b, plain.SQL.Load() - p
	}
	create := `mutation($t: String!) { createTask(input: {title: $t, description: "Zanzibar notes"}) { id } }`
	rename := `mutation($id: ID!, $t: String!) { updateTask(id: $id, input: {title: $t}) { id } }`
	remove := `mutation($id: ID!) { deleteTask(id: $id) }`
	vars := map[string]any{"q": "zanzibar"}
	same := func() {
		t.Helper()
		assert.Equal(t, plain.OK(t, plainAdmin, `query($q: String!) { searchTasks(query: $q, first: 10) { totalCount nodes { title } } }`, vars),
			api.OK(t, admin, `query($q: String!) { searchTasks(query: $q, first: 10) { totalCount nodes { title } } }`, vars))
	}
	same()
	ids := func(a *apitest.API, tok string) []string {
		d := a.OK(t, tok, `query($q: String!) { searchTasks(query: $q, first: 10) { nodes { id } } }`, vars)
		var out []string
		nodes, _ := apitest.Get(d, "searchTasks", "nodes").([]any)
		for i := range nodes {
			out = append(out, apitest.Str(d, "searchTasks", "nodes", i, "id"))
		}
		return out
	}
	for i := range 3 {
		v := map[string]any{"t": fmt.Sprint("Harbour import ", i)}
		cached, uncached := both(create, v, v)
		assert.Equal(t, uncached, cached, "a creation's statements")
		same()
	}
	mine, theirs := ids(api, admin), ids(plain, plainAdmin)
	require.Len(t, mine, 3)
	cached, uncached := both(rename, map[string]any{"id": mine[1], "t": "Zanzibar harbour"}, map[string]any{"id": theirs[1], "t": "Zanzibar harbour"})
	assert.Equal(t, uncached, cached, "a title edit's statements")
	same()
	cached, uncached = both(remove, map[string]any{"id": mine[0]}, map[string]any{"id": theirs[0]})
	assert.Equal(t, uncached, cached, "a deletion's statements")
	same()
}
