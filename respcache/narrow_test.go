package respcache_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ids lists the ids of a connection's nodes.
func ids(d map[string]any, field string) []string {
	var out []string
	for _, n := range apitest.List(d, field, "nodes") {
		out = append(out, apitest.Str(n, "id"))
	}
	return out
}

// TestListInvalidationIsNarrow: a write retires the lists the task was or
// is in, by status, assignee and audience, and no other; each assertion
// of a "miss" fails when its rule is made too narrow, each "hit" when it
// is too wide.
func TestListInvalidationIsNarrow(t *testing.T) {
	t.Parallel()
	a := respAPI(t)
	aliceID, alice := a.User(t, domain.RoleEditor)
	_, bob := a.User(t, domain.RoleEditor)
	draft, _ := a.NewTask(t, alice, map[string]any{"title": "in draft"})
	ready, _ := a.NewTask(t, alice, map[string]any{"title": "ready one"})
	a.OK(t, alice, `mutation($id: ID!) { transitionTask(id: $id, status: READY) { id } }`, map[string]any{"id": ready})
	bobsSecret, _ := a.NewTask(t, bob, map[string]any{"title": "bob's", "visibility": "PRIVATE"})

	board := `query Board($s: TaskStatus!) { tasks(first: 50, filter: {status: [$s]}, orderBy: {field: UPDATED_AT, direction: DESC}) { totalCount nodes { id title priority status } } }`
	mine := `query Mine($me: ID!) { tasks(first: 50, filter: {assigneeId: $me}) { nodes { id } } }`
	vars := func(s string) map[string]any { return map[string]any{"s": s} }
	me := map[string]any{"me": aliceID}
	warm := func(q string, v map[string]any) {
		t.Helper()
		cacheState(t, a, alice, q, v)
		state, _, _ := cacheState(t, a, alice, q, v)
		require.Equal(t, "hit", state, "%s %v", q, v)
	}
	expect := func(q string, v map[string]any, want string) map[string]any {
		t.Helper()
		state, d, _ := cacheState(t, a, alice, q, v)
		assert.Equal(t, want, state, "%s %v", q, v)
		return d
	}

	// An edit inside one status retires that board only.
	warm(board, vars("DRAFT"))
	warm(board, vars("READY"))
	warm(mine, me)
	a.OK(t, alice, `mutation($id: ID!) { updateTask(id: $id, input: {priority: CRITICAL}) { id } }`, map[string]any{"id": draft})
	d := expect(board, vars("DRAFT"), "miss")
	assert.Equal(t, "CRITICAL", apitest.Str(d, "tasks", "nodes", 0, "priority"))
	expect(board, vars("READY"), "hit")
	expect(mine, me, "hit") // nobody's assignment changed

	// Another user's private task: no list of alice's changes.
	warm(board, vars("DRAFT"))
	a.OK(t, bob, `mutation($id: ID!) { updateTask(id: $id, input: {title: "bob's too"}) { id } }`, map[string]any{"id": bobsSecret})
	expect(board, vars("DRAFT"), "hit")

	// A move retires the board it leaves and the board it enters.
	warm(board, vars("DRAFT"))
	warm(board, vars("READY"))
	warm(board, vars("IN_PROGRESS"))
	a.OK(t, alice, `mutation($id: ID!) { transitionTask(id: $id, status: READY) { id } }`, map[string]any{"id": draft})
	d = expect(board, vars("DRAFT"), "miss")
	assert.NotContains(t, ids(d, "tasks"), draft, "it left")
	d = expect(board, vars("READY"), "miss")
	assert.ElementsMatch(t, []string{draft, ready}, ids(d, "tasks"), "it entered")
	expect(board, vars("IN_PROGRESS"), "hit")

	// An assignment retires the assignee's list.
	warm(mine, me)
	a.OK(t, alice, `mutation($id: ID!, $me: ID!) { updateTask(id: $id, input: {assigneeId: $me}) { id } }`, map[string]any{"id": ready, "me": aliceID})
	d = expect(mine, me, "miss")
	assert.Equal(t, []string{ready}, ids(d, "tasks"))
	// And un-assigning retires it again: the task left.
	warm(mine, me)
	a.OK(t, alice, `mutation($id: ID!) { updateTask(id: $id, input: {assigneeId: null}) { id } }`, map[string]any{"id": ready})
	d = expect(mine, me, "miss")
	assert.Empty(t, ids(d, "tasks"))

	// A task turned private leaves bob's lists, though bob wrote nothing.
	q := `query Public { tasks(first: 50, filter: {status: [READY]}) { nodes { id } } }`
	cacheState(t, a, bob, q, nil)
	state, d, _ := cacheState(t, a, bob, q, nil)
	require.Equal(t, "hit", state)
	require.Contains(t, ids(d, "tasks"), ready)
	a.OK(t, alice, `mutation($id: ID!) { updateTask(id: $id, input: {visibility: PRIVATE}) { id } }`, map[string]any{"id": ready})
	state, d, _ = cacheState(t, a, bob, q, nil)
	assert.Equal(t, "miss", state)
	assert.NotContains(t, ids(d, "tasks"), ready)

	// Tag lists: a tag change retires them; the status boards keep theirs.
	byTag := `query ByTag { tasks(first: 50, filter: {tag: "urgent"}) { nodes { id } } }`
	warm(byTag, nil)
	warm(board, vars("READY"))
	a.OK(t, alice, `mutation($id: ID!) { addTaskTags(taskId: $id, tags: ["urgent"]) { id } }`, map[string]any{"id": draft})
	d = expect(byTag, nil, "miss")
	assert.Equal(t, []string{draft}, ids(d, "tasks"))
	expect(board, vars("READY"), "hit")

	// A tag filter beside another equality: the tag write still reaches it.
	mineTagged := `query MineTagged($me: ID!) { tasks(first: 50, filter: {assigneeId: $me, tag: "later"}) { nodes { id } } }`
	warm(mineTagged, me)
	a.OK(t, alice, `mutation($id: ID!, $me: ID!) { updateTask(id: $id, input: {assigneeId: $me}) { id } }`, map[string]any{"id": draft, "me": aliceID})
	warm(mineTagged, me)
	a.OK(t, alice, `mutation($id: ID!) { addTaskTags(taskId: $id, tags: ["later"]) { id } }`, map[string]any{"id": draft})
	d = expect(mineTagged, me, "miss")
	assert.Equal(t, []string{draft}, ids(d, "tasks"))
}

// TestListKeptAcrossWritesThatCannotMoveIt: a list page survives a write
// of a task in its partition that changes no field its filter tests, no
// key of its order and no row on the page ("my active tasks by due date"
// under a priority edit); a write that changes any of those retires it.
// Each "miss" fails when its rule is removed (field, order, row), each
// "hit" when the invalidation is as wide as a partition.
func TestListKeptAcrossWritesThatCannotMoveIt(t *testing.T) {
	t.Parallel()
	a := respAPI(t)
	aliceID, alice := a.User(t, domain.RoleEditor)
	day := func(n int) string {
		return time.Now().Add(time.Duration(n) * 24 * time.Hour).UTC().Format(time.RFC3339)
	}
	task := func(title string, due int) string {
		id, _ := a.NewTask(t, alice, map[string]any{"title": title, "assigneeId": aliceID, "dueDate": day(due)})
		a.OK(t, alice, `mutation($id: ID!) { transitionTask(id: $id, status: READY) { id } }`, map[string]any{"id": id})
		return id
	}
	first, second, third := task("due first", 1), task("due second", 2), task("due third", 3)
	me := map[string]any{"me": aliceID}
	myActive := `query MyActive($me: ID!) { tasks(first: 1, filter: {assigneeId: $me, active: true}, orderBy: {field: DUE_DATE, direction: ASC}) { totalCount nodes { id priority } } }`
	highCount := `query High($me: ID!) { tasks(first: 0, filter: {assigneeId: $me, priority: [HIGH]}) { totalCount } }`
	newest := `query Newest { tasks(first: 1) { nodes { id } } }`
	warm := func(q string, v map[string]any) {
		t.Helper()
		cacheState(t, a, alice, q, v)
		state, _, _ := cacheState(t, a, alice, q, v)
		require.Equal(t, "hit", state, "%s", q)
	}
	expect := func(q string, v map[string]any, want string) map[string]any {
		t.Helper()
		state, d, _ := cacheState(t, a, alice, q, v)
		assert.Equal(t, want, state, "%s", q)
		return d
	}
	edit := func(id, input string) {
		t.Helper()
		a.OK(t, alice, `mutation($id: ID!) { updateTask(id: $id, input: `+input+`) { id } }`, map[string]any{"id": id})
	}

	// A priority edit off the page: no filtered field, no order key, no row.
	warm(myActive, me)
	warm(newest, nil)
	warm(highCount, me)
	edit(third, `{priority: HIGH}`)
	expect(myActive, me, "hit")
	d := expect(highCount, me, "miss") // a filtered field
	assert.EqualValues(t, 1, apitest.Get(d, "tasks", "totalCount"))
	expect(newest, nil, "miss") // the newest task is the one edited: its row

	// A tag on the page's task: its row's fields are as they were.
	warm(myActive, me)
	warm(newest, nil)
	a.OK(t, alice, `mutation($id: ID!) { addTaskTags(taskId: $id, tags: ["kept"]) { id } }`, map[string]any{"id": first})
	expect(myActive, me, "hit")

	// An edit of the task on the page: its row; the newest list, which
	// does not show it, keeps its entry.
	edit(first, `{priority: CRITICAL}`)
	d = expect(myActive, me, "miss")
	assert.Equal(t, "CRITICAL", apitest.Str(d, "tasks", "nodes", 0, "priority"))
	expect(newest, nil, "hit")

	// A due date that moves a task ahead: the order's key.
	warm(myActive, me)
	edit(third, `{dueDate: "`+day(0)+`"}`)
	d = expect(myActive, me, "miss")
	assert.Equal(t, []string{third}, ids(d, "tasks"))

	// A move between two active statuses, off the page: still active.
	warm(myActive, me)
	a.OK(t, alice, `mutation($id: ID!) { transitionTask(id: $id, status: IN_PROGRESS) { id } }`, map[string]any{"id": second})
	expect(myActive, me, "hit")

	// A move out of the active statuses, off the page: the filtered status.
	warm(myActive, me)
	a.OK(t, alice, `mutation($id: ID!) { transitionTask(id: $id, status: COMPLETED) { id } }`, map[string]any{"id": second})
	d = expect(myActive, me, "miss")
	assert.EqualValues(t, 2, apitest.Get(d, "tasks", "totalCount"))

	// A new task enters the newest list.
	warm(newest, nil)
	created, _ := a.NewTask(t, alice, map[string]any{"title": "newest"})
	d = expect(newest, nil, "miss")
	assert.Equal(t, []string{created}, ids(d, "tasks"))
}

// TestDetailSurvivesUnrelatedWrites: a task's detail (dependencies
// included) and a read by number keep their entries across writes to
// other tasks, and lose them to writes of what they show.
func TestDetailSurvivesUnrelatedWrites(t *testing.T) {
	t.Parallel()
	a := respAPI(t)
	_, editor := a.User(t, domain.RoleEditor)
	x, xNum := a.NewTask(t, editor, map[string]any{"title": "x"})
	y, _ := a.NewTask(t, editor, map[string]any{"title": "y"})
	z, _ := a.NewTask(t, editor, map[string]any{"title": "z"})
	a.OK(t, editor, `mutation($a: ID!, $b: ID!) { addDependency(taskId: $a, dependsOnId: $b) { id } }`, map[string]any{"a": x, "b": y})
	detail := `query Detail($id: ID!) { task(id: $id) { title dependencies { title priority } dependents { title } subtasks { title } } }`
	byNumber := `query ByNumber($n: String!) { taskByNumber(number: $n) { title dependencies { title } } }`
	dv, nv := map[string]any{"id": x}, map[string]any{"n": xNum}
	reads := []struct {
		q string
		v map[string]any
	}{{detail, dv}, {byNumber, nv}}
	warm := func() {
		t.Helper()
		for _, c := range reads {
			cacheState(t, a, editor, c.q, c.v)
			state, _, _ := cacheState(t, a, editor, c.q, c.v)
			require.Equal(t, "hit", state)
		}
	}
	expect := func(want string) {
		t.Helper()
		for _, c := range reads {
			state, _, _ := cacheState(t, a, editor, c.q, c.v)
			assert.Equal(t, want, state, c.q)
		}
	}
	warm()
	a.OK(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {priority: LOW}) { id } }`, map[string]any{"id": z})
	a.NewTask(t, editor, map[string]any{"title": "w"})
	expect("hit")

	// The dependency's own change reaches the task that shows it.
	a.OK(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {priority: CRITICAL}) { id } }`, map[string]any{"id": y})
	state, d, _ := cacheState(t, a, editor, detail, dv)
	assert.Equal(t, "miss", state)
	assert.Equal(t, "CRITICAL", apitest.Str(d, "task", "dependencies", 0, "priority"))
	state, _, _ = cacheState(t, a, editor, byNumber, nv)
	assert.Equal(t, "miss", state)

	warm()
	a.OK(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {title: "x2"}) { id } }`, map[string]any{"id": x})
	expect("miss")

	// A number that names no task yet: its entry goes when the task comes.
	next := domain.FormatTaskNumber(int64(999999))
	q := `query Missing($n: String!) { taskByNumber(number: $n) { title } }`
	cacheState(t, a, editor, q, map[string]any{"n": next})
	state, d, _ = cacheState(t, a, editor, q, map[string]any{"n": next})
	require.Equal(t, "hit", state)
	assert.Nil(t, d["taskByNumber"])
}

// TestSearchKeptAcrossWritesThatCannotChangeIt: a search page survives a
// write that changes no text and no audience of any task, and is retired
// by a title that enters it and by an edit of a task it shows.
func TestSearchKeptAcrossWritesThatCannotChangeIt(t *testing.T) {
	t.Parallel()
	a := respAPI(t)
	_, editor := a.User(t, domain.RoleEditor)
	hit, _ := a.NewTask(t, editor, map[string]any{"title": "migrate the billing database"})
	other, _ := a.NewTask(t, editor, map[string]any{"title": "paint the office"})
	q := `query Find { searchTasks(query: "billing", first: 10) { nodes { id title priority } } }`
	warm := func() {
		t.Helper()
		cacheState(t, a, editor, q, nil)
		state, _, _ := cacheState(t, a, editor, q, nil)
		require.Equal(t, "hit", state)
	}
	warm()
	a.OK(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {priority: LOW}) { id } }`, map[string]any{"id": other})
	a.OK(t, editor, `mutation($id: ID!) { transitionTask(id: $id, status: READY) { id } }`, map[string]any{"id": other})
	state, _, _ := cacheState(t, a, editor, q, nil)
	assert.Equal(t, "hit", state, "no text changed")

	a.OK(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {priority: CRITICAL}) { id } }`, map[string]any{"id": hit})
	state, d, _ := cacheState(t, a, editor, q, nil)
	assert.Equal(t, "miss", state, "a row it shows changed")
	assert.Equal(t, "CRITICAL", apitest.Str(d, "searchTasks", "nodes", 0, "priority"))

	warm()
	a.OK(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {title: "billing office paint"}) { id } }`, map[string]any{"id": other})
	state, d, _ = cacheState(t, a, editor, q, nil)
	assert.Equal(t, "miss", state, "a task now matches")
	assert.ElementsMatch(t, []string{hit, other}, ids(d, "searchTasks"))
}

// TestSharedAcrossViewers: an answer that never depended on who asked is
// stored once for everyone; one that did stays with its scope, and
// nothing private reaches another caller.
func TestSharedAcrossViewers(t *testing.T) {
	t.Parallel()
	a := respAPI(t)
	aliceID, alice := a.User(t, domain.RoleEditor)
	_, bob := a.User(t, domain.RoleEditor)
	_, admin := a.User(t, domain.RoleAdmin)
	pub, _ := a.NewTask(t, alice, map[string]any{"title": "public", "assigneeId": aliceID, "tags": []string{"t"}})
	secret, _ := a.NewTask(t, alice, map[string]any{"title": "secret", "visibility": "PRIVATE"})
	detail := `query Detail($id: ID!) { task(id: $id) { id title tags { name } assignee { name } } }`

	// A public task's detail: computed for alice, served to bob, to an
	// anonymous caller and to an admin without a statement.
	state, want, _ := cacheState(t, a, alice, detail, map[string]any{"id": pub})
	require.Equal(t, "miss", state)
	for _, who := range []string{bob, "", admin} {
		state, got, n := cacheState(t, a, who, detail, map[string]any{"id": pub})
		assert.Equal(t, "hit", state)
		assert.Zero(t, n)
		assert.Equal(t, want, got)
	}

	// A private task's detail stays with its scope.
	state, d, _ := cacheState(t, a, alice, detail, map[string]any{"id": secret})
	require.Equal(t, "miss", state)
	require.Equal(t, "secret", apitest.Str(d, "task", "title"))
	for _, who := range []string{bob, ""} {
		state, d, _ := cacheState(t, a, who, detail, map[string]any{"id": secret})
		assert.Equal(t, "miss", state)
		assert.Nil(t, d["task"], "a private task never reaches another caller")
	}
	state, _, _ = cacheState(t, a, alice, detail, map[string]any{"id": secret})
	assert.Equal(t, "hit", state, "its owner's entry")

	// A shared entry goes when the task turns private.
	a.OK(t, alice, `mutation($id: ID!) { updateTask(id: $id, input: {visibility: PRIVATE}) { id } }`, map[string]any{"id": pub})
	state, d, _ = cacheState(t, a, bob, detail, map[string]any{"id": pub})
	assert.Equal(t, "miss", state)
	assert.Nil(t, d["task"])

	// Fields shown by who asks: the assignee's email (to herself and
	// admins), me, and lists of what each may see.
	a.OK(t, alice, `mutation($id: ID!) { updateTask(id: $id, input: {visibility: PUBLIC}) { id } }`, map[string]any{"id": pub})
	email := `query Email($id: ID!) { task(id: $id) { assignee { email } } }`
	_, d, _ = cacheState(t, a, alice, email, map[string]any{"id": pub})
	require.NotEmpty(t, apitest.Str(d, "task", "assignee", "email"))
	state, d, _ = cacheState(t, a, bob, email, map[string]any{"id": pub})
	assert.Equal(t, "miss", state)
	assert.Nil(t, apitest.Get(d, "task", "assignee", "email"), "bob never sees alice's email")
	me := `query Me { me { id } }`
	_, d, _ = cacheState(t, a, alice, me, nil)
	require.Equal(t, aliceID, apitest.Str(d, "me", "id"))
	state, d, _ = cacheState(t, a, bob, me, nil)
	assert.Equal(t, "miss", state)
	assert.NotEqual(t, aliceID, apitest.Str(d, "me", "id"))
	list := `query All { tasks(first: 10) { nodes { title } } }`
	_, d, _ = cacheState(t, a, alice, list, nil)
	require.Len(t, apitest.List(d, "tasks", "nodes"), 2)
	state, d, _ = cacheState(t, a, bob, list, nil)
	assert.Equal(t, "miss", state)
	assert.Len(t, apitest.List(d, "tasks", "nodes"), 1)

	// Admins only: an admin's answer is never another caller's.
	tokens := `query Tokens { apiTokens { id } }`
	cacheState(t, a, admin, tokens, nil)
	_, raw := a.Request(t, bob, tokens, nil)
	var out struct {
		Errors []apitest.Error `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(raw, &out))
	require.NotEmpty(t, out.Errors, "%s", raw)
	assert.Equal(t, "FORBIDDEN", out.Errors[0].Extensions["code"])
}

// TestBoardsCoherentAcrossInstances: two servers; one writer per task
// moves it between two boards and edits it, on alternate instances;
// readers on both read both boards. Every task a board shows has at least
// the version last acknowledged before the read was sent, and a task
// acknowledged on a board is on it unless a later write of it had begun
// before the read's answer came. Narrowing the invalidation of a move
// (only the board entered, or only the board left) fails it.
func TestBoardsCoherentAcrossInstances(t *testing.T) {
	t.Parallel()
	a := respAPI(t)
	b := apitest.Serve(t, a.DBURL, &apitest.Counter{}, "RESPONSE_CACHE", "on")
	_, editor := a.User(t, domain.RoleEditor)
	type state struct {
		mu             sync.Mutex
		started, acked int
		version        int
		status         string
	}
	const tasks = 4
	ids := make([]string, tasks)
	st := make([]*state, tasks)
	for i := range ids {
		ids[i], _ = a.NewTask(t, editor, map[string]any{"title": fmt.Sprintf("t%d", i)})
		st[i] = &state{version: 1, status: "DRAFT"}
	}
	byID := map[string]int{}
	for i, id := range ids {
		byID[id] = i
	}
	servers := []*apitest.API{a, b}
	deadline := time.Now().Add(4 * time.Second)
	var wg sync.WaitGroup
	var reads, hits, writes atomic.Int64
	var mu sync.Mutex
	var problems []string
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	for k := range tasks {
		wg.Go(func() {
			s := st[k]
			for i := 0; time.Now().Before(deadline); i++ {
				srv := servers[(i+k)%2]
				s.mu.Lock()
				s.started++
				next := map[string]string{"DRAFT": "READY", "READY": "DRAFT"}[s.status]
				s.mu.Unlock()
				var r apitest.Response
				if i%3 == 2 {
					r = srv.Post(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {description: "d"}) { version status } }`, map[string]any{"id": ids[k]})
				} else {
					r = srv.Post(t, editor, `mutation($id: ID!, $s: TaskStatus!) { transitionTask(id: $id, status: $s) { version status } }`, map[string]any{"id": ids[k], "s": next})
				}
				root := "transitionTask"
				if i%3 == 2 {
					root = "updateTask"
				}
				if len(r.Errors) > 0 {
					report("write: %v", r.Errors)
					return
				}
				s.mu.Lock()
				s.acked++
				s.version = apitest.Num(r.Data, root, "version")
				s.status = apitest.Str(r.Data, root, "status")
				s.mu.Unlock()
				writes.Add(1)
			}
		})
	}
	board := `query Board($s: TaskStatus!) { tasks(first: 50, filter: {status: [$s]}) { nodes { id version status } } }`
	for r := range 4 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				srv := servers[(i+r)%2]
				status := []string{"DRAFT", "READY"}[(i/2+r)%2]
				type snap struct {
					acked, version int
					status         string
				}
				before := make([]snap, tasks)
				for k, s := range st {
					s.mu.Lock()
					before[k] = snap{s.acked, s.version, s.status}
					s.mu.Unlock()
				}
				state, d, _ := cacheState(t, srv, editor, board, map[string]any{"s": status})
				startedAfter := make([]int, tasks)
				for k, s := range st {
					s.mu.Lock()
					startedAfter[k] = s.started
					s.mu.Unlock()
				}
				reads.Add(1)
				if state == "hit" {
					hits.Add(1)
				}
				seen := map[int]bool{}
				for _, n := range apitest.List(d, "tasks", "nodes") {
					k := byID[apitest.Str(n, "id")]
					seen[k] = true
					if v := apitest.Num(n, "version"); v < before[k].version {
						report("board %s (%s): task %d at version %d after %d was acknowledged", status, state, k, v, before[k].version)
					}
				}
				for k := range tasks {
					if before[k].status == status && !seen[k] && startedAfter[k] == before[k].acked {
						report("board %s (%s): task %d missing, acknowledged there at version %d with no write since", status, state, k, before[k].version)
					}
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d writes, %d reads, %d hits", writes.Load(), reads.Load(), hits.Load())
	assert.Empty(t, problems)
	assert.Positive(t, writes.Load())
	assert.Positive(t, hits.Load(), "the cache served some reads")
}

// TestBoardTagsCoherentAcrossInstances: a board's cards show each task's
// tags, which the cached rows carry, and a tag write moves no task between
// boards, so the board's partitions do not cover it: the response must
// depend on each task's tags, taken before the tag ids it shows were read.
// Writers add a new tag to a task, on alternate instances; readers read the
// board on both, and no answer lacks a tag acknowledged before it was
// asked for. It fails when a recorded read answers from rows it read before
// taking their tasks' tags.
func TestBoardTagsCoherentAcrossInstances(t *testing.T) {
	t.Parallel()
	a := respAPI(t, "COST_BUDGET_CAPACITY", "0")
	b := apitest.Serve(t, a.DBURL, &apitest.Counter{}, "RESPONSE_CACHE", "on", "COST_BUDGET_CAPACITY", "0")
	_, editor := a.User(t, domain.RoleEditor)
	const tasks = 3
	ids := make([]string, tasks)
	byID := map[string]int{}
	for i := range ids {
		ids[i], _ = a.NewTask(t, editor, map[string]any{"title": fmt.Sprintf("t%d", i), "tags": []string{"start"}})
		byID[ids[i]] = i
	}
	var mu sync.Mutex
	acked := make([][]string, tasks)
	servers := []*apitest.API{a, b}
	deadline := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	var reads, hits, writes atomic.Int64
	for k := range tasks {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				tag := fmt.Sprintf("k%d-%d", k, i)
				r := servers[(i+k)%2].Post(t, editor, `mutation($id: ID!, $g: [String!]!) { addTaskTags(taskId: $id, tags: $g) { id } }`,
					map[string]any{"id": ids[k], "g": []string{tag}})
				if apitest.Str(r.Data, "addTaskTags", "id") != "" {
					mu.Lock()
					acked[k] = append(acked[k], tag)
					mu.Unlock()
					writes.Add(1)
				}
				time.Sleep(5 * time.Millisecond) // let the board be cached between writes
			}
		})
	}
	board := `query Board { tasks(first: 50, filter: {status: [DRAFT]}) { nodes { id tags { name } } } }`
	for r := range 4 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				want := make([][]string, tasks)
				mu.Lock()
				for k := range want {
					want[k] = slices.Clone(acked[k])
				}
				mu.Unlock()
				state, d, _ := cacheState(t, servers[(i+r)%2], editor, board, nil)
				reads.Add(1)
				if state == "hit" {
					hits.Add(1)
				}
				for _, n := range apitest.List(d, "tasks", "nodes") {
					k, ok := byID[apitest.Str(n, "id")]
					if !ok {
						continue
					}
					have := map[string]bool{}
					for _, g := range apitest.List(n, "tags") {
						have[apitest.Str(g, "name")] = true
					}
					for _, g := range want[k] {
						if !have[g] {
							t.Errorf("board (%s): task %d lacks tag %s acknowledged before the read", state, k, g)
							break
						}
					}
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d tag writes, %d reads, %d hits", writes.Load(), reads.Load(), hits.Load())
	assert.Positive(t, hits.Load(), "the board was cached between writes")
}

// pipes records the pipelines sent to Redis, as the names and first keys
// of their commands.
type pipes struct {
	mu  sync.Mutex
	all [][]string
}

func (p *pipes) hook() apitest.RedisHook {
	return apitest.RedisHook{Pipe: func(cmds []redis.Cmder) {
		var one []string
		for _, c := range cmds {
			a := c.Args()
			key := ""
			switch {
			case c.Name() == "evalsha" && len(a) > 3:
				key, _ = a[3].(string)
			case len(a) > 1:
				key, _ = a[1].(string)
			}
			one = append(one, c.Name()+" "+key)
		}
		p.mu.Lock()
		p.all = append(p.all, one)
		p.mu.Unlock()
	}}
}

// TestWriteOneRoundTripAfterCommit: a task write sends the entity cache's
// effects (its row written through, the list index moved) and the response
// cache's new tokens in one pipeline, not one per cache.
func TestWriteOneRoundTripAfterCommit(t *testing.T) {
	t.Parallel()
	a := respAPI(t, "COST_BUDGET_CAPACITY", "0")
	_, alice := a.User(t, domain.RoleEditor)
	id, _ := a.NewTask(t, alice, map[string]any{"title": "written once"})
	rec := &pipes{}
	a.Cache.WriteRedis().AddHook(rec.hook())
	a.Responses.WriteRedis().AddHook(rec.hook())
	a.OK(t, alice, `mutation($id: ID!) { updateTask(id: $id, input: {priority: HIGH}) { id } }`, map[string]any{"id": id})
	var tokens, rows int
	for _, p := range rec.all {
		joined := strings.Join(p, "\n")
		if strings.Contains(joined, ":rtag:") {
			tokens++
			assert.Contains(t, joined, ":task:"+id, "the tokens go with the row written through: %v", p)
		}
		if strings.Contains(joined, "evalsha") && strings.Contains(joined, ":task:"+id) {
			rows++
		}
	}
	assert.Equal(t, 1, tokens, "one pipeline of tokens: %v", rec.all)
	assert.Equal(t, 1, rows, "one pipeline writes the row through: %v", rec.all)
}

// tokenReads counts the reads of tokens (GETs and MGETs of ":rtag:" keys).
type tokenReads struct{ n, rows atomic.Int64 }

func (r *tokenReads) hook() apitest.RedisHook { return apitest.RedisHook{Each: r.count} }

func (r *tokenReads) count(cmd redis.Cmder) {
	if n := cmd.Name(); n != "mget" && n != "get" {
		return
	}
	for _, a := range cmd.Args()[1:] {
		if k, _ := a.(string); strings.Contains(k, ":rtag:") {
			r.n.Add(1)
			return
		} else if strings.Contains(k, ":task:") {
			r.rows.Add(1)
			return
		}
	}
}

// TestMissReusesLookupTokens: a read whose entry a write retired runs again
// under the tokens its lookup just read for the entry's tags (they were
// read before the run), so it reads no token again: only the lookup's
// token reads, where each level of the run used to read its own.
func TestMissReusesLookupTokens(t *testing.T) {
	t.Parallel()
	a := respAPI(t, "COST_BUDGET_CAPACITY", "0")
	aliceID, alice := a.User(t, domain.RoleEditor)
	id, _ := a.NewTask(t, alice, map[string]any{"title": "on the page", "assigneeId": aliceID})
	mine := `query Mine($me: ID!) { tasks(first: 5, filter: {assigneeId: $me}) { totalCount nodes { id priority tags { name } } } }`
	me := map[string]any{"me": aliceID}
	cacheState(t, a, alice, mine, me)
	state, _, _ := cacheState(t, a, alice, mine, me)
	require.Equal(t, "hit", state)
	a.OK(t, alice, `mutation($id: ID!) { updateTask(id: $id, input: {priority: HIGH}) { id } }`, map[string]any{"id": id})
	reads := &tokenReads{}
	a.Cache.Redis().AddHook(reads.hook())
	state, d, _ := cacheState(t, a, alice, mine, me)
	assert.Equal(t, "miss", state)
	assert.Equal(t, "HIGH", apitest.Str(d, "tasks", "nodes", 0, "priority"))
	// The lookup's two (the entry held in process, then Redis's, both
	// retired); without the lookup's tokens the run read three more.
	assert.Equal(t, int64(2), reads.n.Load(), "the lookup's token reads only")
	// The page's rows are read once: their tokens came before the run, so
	// the rows the list read are as new as them, with nothing to read again.
	assert.Equal(t, int64(1), reads.rows.Load(), "one read of the rows")
	state, d, _ = cacheState(t, a, alice, mine, me)
	assert.Equal(t, "hit", state, "stored under the tokens the lookup read")
	assert.Equal(t, "HIGH", apitest.Str(d, "tasks", "nodes", 0, "priority"))
}
