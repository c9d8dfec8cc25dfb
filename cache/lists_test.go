package cache_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/herotasks/api/cache"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// listShapes are the lists the index answers, by name, with a query whose
// $me is the viewer's id; each asks for the fields every write can change,
// the count and the cursors (two ask for every edge's).
var listShapes = map[string]string{
	"all by creation":    `{ tasks(first: 7) { totalCount pageInfo { hasNextPage endCursor } nodes { id version status visibility } } }`,
	"all oldest first":   `{ tasks(first: 7, orderBy: {field: CREATED_AT, direction: ASC}) { totalCount pageInfo { hasNextPage endCursor } nodes { id version } } }`,
	"board READY":        `{ tasks(first: 5, filter: {status: [READY]}, orderBy: {field: UPDATED_AT, direction: DESC}) { totalCount pageInfo { hasNextPage startCursor endCursor } edges { cursor } nodes { id version status } } }`,
	"board IN_PROGRESS":  `{ tasks(first: 5, filter: {status: [IN_PROGRESS]}, orderBy: {field: UPDATED_AT, direction: DESC}) { totalCount pageInfo { hasNextPage endCursor } nodes { id version status } } }`,
	"board DRAFT by due": `{ tasks(first: 5, filter: {status: [DRAFT]}, orderBy: {field: DUE_DATE, direction: DESC}) { totalCount pageInfo { hasNextPage endCursor } nodes { id version dueDate } } }`,
	"my active by due":   `query($me: ID!) { tasks(first: 5, filter: {assigneeId: $me, active: true}, orderBy: {field: DUE_DATE, direction: ASC}) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id } } nodes { id version status dueDate } } }`,
	"my tasks":           `query($me: ID!) { tasks(first: 5, filter: {assigneeId: $me}, orderBy: {field: UPDATED_AT, direction: ASC}) { totalCount pageInfo { hasNextPage endCursor } nodes { id version } } }`,
}

// TestListIndexMatchesDatabase runs random writes (creations, edits that
// move tasks between boards, assignees and audiences, deletions) through
// a server with the entity cache and list index and, after each, compares
// every indexed list, its count and its next page, for every kind of
// viewer, with a server without caches on the same database. A write that
// left a set behind, or a merge, count or cursor that differs from
// PostgreSQL's, shows up as a difference.
func TestListIndexMatchesDatabase(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t)
	oracle := apitest.Serve(t, api.DBURL, nil, "ENTITY_CACHE", "off")
	_, admin := api.User(t, domain.RoleAdmin)
	type user struct{ id, token string }
	var users []user
	for range 2 {
		id, tok := api.User(t, domain.RoleEditor)
		users = append(users, user{id, tok})
	}
	rng := rand.New(rand.NewPCG(7, 15))
	var ids []string
	create := func() {
		u := users[rng.IntN(len(users))]
		in := map[string]any{"title": fmt.Sprintf("indexed %d", len(ids)), "visibility": []string{"PUBLIC", "PRIVATE"}[rng.IntN(2)],
			"assigneeId": users[rng.IntN(len(users))].id}
		if rng.IntN(3) > 0 {
			in["dueDate"] = time.Now().Add(time.Duration(rng.IntN(500)) * time.Hour).UTC().Format(time.RFC3339)
		}
		id, _ := api.NewTask(t, u.token, in)
		ids = append(ids, id)
	}
	for range 14 {
		create()
	}
	viewers := []user{{"", admin}, {"", ""}, users[0], users[1]}
	check := func(step string) {
		t.Helper()
		for _, v := range viewers {
			me := v.id
			if me == "" {
				me = users[0].id
			}
			for name, q := range listShapes {
				vars := map[string]any{"me": me}
				for range 2 { // the first read may fill the sets; the second is answered from them
					want := oracle.OK(t, v.token, q, vars)
					got := api.OK(t, v.token, q, vars)
					require.Equal(t, want, got, "%s: %s for viewer %q", step, name, v.id)
				}
				// The next page, from the index's cursor, is PostgreSQL's next page.
				d := api.OK(t, v.token, q, vars)
				if end, _ := apitest.Get(d, "tasks", "pageInfo", "endCursor").(string); end != "" {
					next := map[string]any{"me": me, "after": end}
					nq := nextPage(q)
					require.Equal(t, oracle.OK(t, v.token, nq, next), api.OK(t, v.token, nq, next), "%s: %s page 2", step, name)
				}
			}
		}
	}
	check("seeded")
	statuses := []string{"READY", "IN_PROGRESS", "BLOCKED"}
	for step := range 30 {
		id := ids[rng.IntN(len(ids))]
		var what string
		switch x := rng.IntN(10); {
		case x < 3:
			what = "transition"
			api.Post(t, admin, `mutation($id: ID!, $s: TaskStatus!) { transitionTask(id: $id, status: $s) { id } }`,
				map[string]any{"id": id, "s": statuses[rng.IntN(len(statuses))]})
		case x < 4:
			what = "reassign"
			api.OK(t, admin, `mutation($id: ID!, $a: ID) { updateTask(id: $id, input: {assigneeId: $a}) { id } }`,
				map[string]any{"id": id, "a": users[rng.IntN(len(users))].id})
		case x < 5:
			what = "visibility"
			api.OK(t, admin, `mutation($id: ID!, $v: Visibility!) { updateTask(id: $id, input: {visibility: $v}) { id } }`,
				map[string]any{"id": id, "v": []string{"PUBLIC", "PRIVATE"}[rng.IntN(2)]})
		case x < 6:
			what = "due date"
			api.OK(t, admin, `mutation($id: ID!, $d: Time) { updateTask(id: $id, input: {dueDate: $d}) { id } }`,
				map[string]any{"id": id, "d": time.Now().Add(time.Duration(rng.IntN(500)) * time.Hour).UTC().Format(time.RFC3339)})
		case x < 8:
			what = "priority"
			api.OK(t, admin, `mutation($id: ID!, $p: TaskPriority!) { updateTask(id: $id, input: {priority: $p}) { id } }`,
				map[string]any{"id": id, "p": []string{"LOW", "HIGH", "CRITICAL"}[rng.IntN(3)]})
		case x < 9:
			what = "create"
			create()
		default:
			what = "delete"
			api.OK(t, admin, `mutation($id: ID!) { deleteTask(id: $id) }`, map[string]any{"id": id})
			for i, x := range ids {
				if x == id {
					ids = append(ids[:i], ids[i+1:]...)
					break
				}
			}
		}
		check(fmt.Sprintf("step %d (%s)", step, what))
	}
	assert.Positive(t, listStat(api, "hits"), "the index answered")
	assert.Positive(t, listStat(api, "invalidations"), "the writes moved the sets")
}

// nextPage turns a listShapes query into the same list after $after.
func nextPage(q string) string {
	out := q
	if out[0] == '{' {
		out = "query($after: String) " + out
	} else {
		out = "query($me: ID!, $after: String" + out[len("query($me: ID!"):]
	}
	for _, first := range []string{"first: 7", "first: 5"} {
		out = replaceOnce(out, first, first+", after: $after")
	}
	return out
}

func replaceOnce(s, old, new string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	return s
}

// listStat is one counter of the list index.
func listStat(api *apitest.API, field string) int64 {
	for _, k := range api.Cache.Stats().Snapshot() {
		if k.Kind == "task_list" {
			return map[string]int64{"hits": k.Hits, "misses": k.Misses, "fills": k.Fills, "invalidations": k.Invalidations}[field]
		}
	}
	return 0
}

// TestListFillReplaysConcurrentWrite: a write that commits while a
// partition is being read for its set, moving a task into the partition,
// is logged and replayed by the fill (its snapshot misses the task).
// Installing the snapshot alone would keep the board without the task
// until the set expired.
func TestListFillReplaysConcurrentWrite(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t)
	_, admin := api.User(t, domain.RoleAdmin)
	mover, _ := api.NewTask(t, admin, map[string]any{"title": "mover"})
	api.NewTask(t, admin, map[string]any{"title": "stays"})
	const board = `{ tasks(first: 10, filter: {status: [READY]}, orderBy: {field: UPDATED_AT, direction: DESC}) { totalCount nodes { id } } }`
	var once sync.Once
	api.Cache.SetAfterListLoad(func(part string) {
		if part == "all|st:READY" {
			once.Do(func() {
				api.OK(t, admin, `mutation($id: ID!) { transitionTask(id: $id, status: READY) { id } }`, map[string]any{"id": mover})
			})
		}
	})
	api.OK(t, admin, board, nil) // its fill read the board before the move
	assert.Equal(t, int64(1), listStat(api, "fills"))
	for range 2 {
		d := api.OK(t, admin, board, nil)
		assert.Equal(t, 1, apitest.Num(d, "tasks", "totalCount"), "the board after the move")
		assert.Equal(t, mover, apitest.Str(d, "tasks", "nodes", 0, "id"))
	}
	assert.Positive(t, listStat(api, "hits"))
}

// TestListFillInChunksReplaysWrites: a fill stages its rows a chunk per
// call. Writes that commit between chunks (moving a staged task out of the
// board, a task not staged yet out of it, another task in, and editing a
// staged task) must show in the set the last call installs.
func TestListFillInChunksReplaysWrites(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t)
	oracle := apitest.Serve(t, api.DBURL, nil, "ENTITY_CACHE", "off")
	_, admin := api.User(t, domain.RoleAdmin)
	var ready []string
	for i := range 5 {
		id, _ := api.NewTask(t, admin, map[string]any{"title": fmt.Sprintf("chunked %d", i)})
		api.OK(t, admin, `mutation($id: ID!) { transitionTask(id: $id, status: READY) { id } }`, map[string]any{"id": id})
		ready = append(ready, id)
	}
	outside, _ := api.NewTask(t, admin, map[string]any{"title": "joins later"})
	api.Cache.SetListFillChunk(2)
	const board = `{ tasks(first: 10, filter: {status: [READY]}, orderBy: {field: UPDATED_AT, direction: DESC}) { totalCount nodes { id version title } } }`
	chunks := 0
	api.Cache.SetAfterListChunk(func(part string) {
		if part != "all|st:READY" {
			return
		}
		chunks++
		if chunks == 2 {
			move := `mutation($id: ID!, $s: TaskStatus!) { transitionTask(id: $id, status: $s) { id } }`
			api.OK(t, admin, move, map[string]any{"id": ready[4], "s": "IN_PROGRESS"}) // staged, now leaves
			api.OK(t, admin, move, map[string]any{"id": ready[0], "s": "BLOCKED"})     // read, staged after it left
			api.OK(t, admin, move, map[string]any{"id": outside, "s": "READY"})        // enters
			api.OK(t, admin, `mutation($id: ID!) { updateTask(id: $id, input: {title: "edited mid-fill"}) { id } }`,
				map[string]any{"id": ready[3]}) // staged, moves to the top
		}
	})
	got := api.OK(t, admin, board, nil)
	assert.Equal(t, 3, chunks, "five rows in chunks of two")
	assert.Equal(t, int64(1), listStat(api, "fills"))
	assert.Equal(t, oracle.OK(t, admin, board, nil), got)
	for range 2 {
		assert.Equal(t, oracle.OK(t, admin, board, nil), api.OK(t, admin, board, nil), "answered from the installed set")
	}
	assert.Equal(t, 4, apitest.Num(got, "tasks", "totalCount"))
	assert.Equal(t, ready[3], apitest.Str(got, "tasks", "nodes", 0, "id"))
}

// TestListDimensionsCoverTheFilter fails when TaskFilter gains a field, so
// that listDimension (which must refuse filters it cannot answer) is looked
// at again.
func TestListDimensionsCoverTheFilter(t *testing.T) {
	assert.Equal(t, 13, reflect.TypeFor[domain.TaskFilter]().NumField(),
		"a new filter field: teach cache.listDimension to refuse it (or index it)")
	_ = cache.KindList
}

// TestWritesLeaveTheirRowsCached: after a task's edit and a tag change,
// the next read of the task, its tags and a board showing it sends no
// statement, and shows the change.
func TestWritesLeaveTheirRowsCached(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t)
	_, admin := api.User(t, domain.RoleAdmin)
	id, _ := api.NewTask(t, admin, map[string]any{"title": "tagged", "tags": []string{"one"}})
	other, _ := api.NewTask(t, admin, map[string]any{"title": "other", "tags": []string{"two"}})
	const read = `query($id: ID!) { task(id: $id) { title version tags { name } } }`
	const board = `{ tasks(first: 5, filter: {status: [DRAFT]}, orderBy: {field: UPDATED_AT, direction: DESC}) { totalCount nodes { id title tags { name } } } }`
	vars := map[string]any{"id": id}
	api.OK(t, admin, read, vars)
	api.OK(t, admin, read, map[string]any{"id": other}) // tag "two" is cached, as a used tag is
	api.OK(t, admin, board, nil)
	api.OK(t, admin, `mutation($id: ID!) { updateTask(id: $id, input: {title: "renamed"}) { id } }`, vars)
	api.OK(t, admin, `mutation($id: ID!) { addTaskTags(taskId: $id, tags: ["two"]) { id } }`, vars)

	before, reads := api.SQL.Load(), listStat(api, "hits")
	d := api.OK(t, admin, read, vars)
	b := api.OK(t, admin, board, nil)
	assert.Zero(t, api.SQL.Load()-before, "the writes left the row, the tag list and the board cached")
	assert.Equal(t, reads+1, listStat(api, "hits"), "one read of the index for the page and its count")
	assert.Equal(t, "renamed", apitest.Str(d, "task", "title"))
	assert.Len(t, apitest.List(d, "task", "tags"), 2)
	assert.Equal(t, "renamed", apitest.Str(b, "tasks", "nodes", 0, "title"))
	assert.Len(t, apitest.List(b, "tasks", "nodes", 0, "tags"), 2)
}

// TestListPartitionOverTheCapReadsPostgreSQL: a partition larger than the
// index keeps is not installed; its lists are answered from PostgreSQL,
// right, and the next read does not read the partition again (the marker).
func TestListPartitionOverTheCapReadsPostgreSQL(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t, "CACHE_LEASE_TTL", "100ms")
	oracle := apitest.Serve(t, api.DBURL, nil, "ENTITY_CACHE", "off")
	api.Cache.SetListMaxPartition(3)
	_, admin := api.User(t, domain.RoleAdmin)
	for i := range 4 {
		api.NewTask(t, admin, map[string]any{"title": fmt.Sprintf("over %d", i)})
	}
	const small = `{ tasks(first: 2, filter: {status: [READY]}) { totalCount nodes { id } } }`
	const big = `{ tasks(first: 2) { totalCount pageInfo { hasNextPage endCursor } nodes { id title } } }`
	api.OK(t, admin, small, nil) // an empty board fits: installed
	require.Equal(t, int64(1), listStat(api, "fills"))
	for range 2 {
		assert.Equal(t, oracle.OK(t, admin, big, nil), api.OK(t, admin, big, nil))
	}
	assert.Equal(t, int64(1), listStat(api, "fills"), "the partition of 4 was not installed")
	time.Sleep(200 * time.Millisecond) // the fill's lease has expired; the marker has not
	before := api.SQL.Load()
	api.OK(t, admin, big, nil)
	assert.Equal(t, int64(2), api.SQL.Load()-before, "the page and its count, not the partition again")
}
