package respcache_test

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// respAPI serves with the whole-response cache on.
func respAPI(t *testing.T, env ...string) *apitest.API {
	t.Helper()
	if os.Getenv("REDIS_URL") == "" {
		t.Skip("needs REDIS_URL (make test sets it)")
	}
	return apitest.New(t, append([]string{"RESPONSE_CACHE", "on"}, env...)...)
}

// cacheState is extensions.responseCache of a response: hit, miss or "".
func cacheState(t *testing.T, a *apitest.API, token, query string, vars map[string]any) (string, map[string]any, int64) {
	t.Helper()
	before := a.SQL.Load()
	_, raw := a.Request(t, token, query, vars)
	var out struct {
		Data       map[string]any  `json:"data"`
		Errors     []apitest.Error `json:"errors"`
		Extensions map[string]any  `json:"extensions"`
	}
	require.NoError(t, json.Unmarshal(raw, &out))
	require.Empty(t, out.Errors, "%s", raw)
	state, _ := out.Extensions["responseCache"].(string)
	cost, _ := out.Extensions["cost"].(map[string]any)
	require.NotNil(t, cost, "a hit is costed like any response")
	require.Contains(t, cost, "actualQueryCost")
	return state, out.Data, a.SQL.Load() - before
}

const boardQuery = `query Board { tasks(first: 10) { totalCount nodes { id title version tags { name } subtasks { title } assignee { name } } } }`

func TestResponseCacheHitsWithoutSQL(t *testing.T) {
	t.Parallel()
	a := respAPI(t)
	_, editor := a.User(t, domain.RoleEditor)
	a.NewTask(t, editor, map[string]any{"title": "cached", "tags": []string{"rc"}})

	state, first, n := cacheState(t, a, editor, boardQuery, nil)
	assert.Equal(t, "miss", state)
	assert.Positive(t, n)
	state, second, n := cacheState(t, a, editor, boardQuery, nil)
	assert.Equal(t, "hit", state)
	assert.Zero(t, n, "a hit runs no statement")
	assert.Equal(t, first, second)

	// Spacing, comments and argument order do not change the key.
	state, _, _ = cacheState(t, a, editor, "# the board\nquery Board {\n  tasks(first: 10) { totalCount nodes { id title version tags { name } subtasks { title } assignee { name } } }\n}", nil)
	assert.Equal(t, "hit", state)
	// Variables do.
	q := `query Page($n: Int!) { tasks(first: $n) { nodes { id } } }`
	state, _, _ = cacheState(t, a, editor, q, map[string]any{"n": 1})
	assert.Equal(t, "miss", state)
	state, _, _ = cacheState(t, a, editor, q, map[string]any{"n": 2})
	assert.Equal(t, "miss", state)
	state, _, _ = cacheState(t, a, editor, q, map[string]any{"n": 1})
	assert.Equal(t, "hit", state)
}

// TestResponseCacheScopes: a response is never served to another caller
// scope: another user's private task stays invisible.
func TestResponseCacheScopes(t *testing.T) {
	t.Parallel()
	a := respAPI(t)
	_, owner := a.User(t, domain.RoleEditor)
	_, other := a.User(t, domain.RoleEditor)
	a.NewTask(t, owner, map[string]any{"title": "secret", "visibility": "PRIVATE"})
	q := `query Mine { tasks(first: 10) { nodes { title } } }`
	state, d, _ := cacheState(t, a, owner, q, nil)
	require.Equal(t, "miss", state)
	require.Len(t, apitest.List(d, "tasks", "nodes"), 1)
	state, d, _ = cacheState(t, a, other, q, nil)
	assert.Equal(t, "miss", state, "another user's scope has its own entry")
	assert.Empty(t, apitest.List(d, "tasks", "nodes"))
	state, d, _ = cacheState(t, a, "", q, nil)
	assert.Equal(t, "miss", state)
	assert.Empty(t, apitest.List(d, "tasks", "nodes"))
}

// TestResponseCacheInvalidation: each kind of write retires exactly the
// responses that read what it changed.
func TestResponseCacheInvalidation(t *testing.T) {
	t.Parallel()
	a := respAPI(t)
	_, editor := a.User(t, domain.RoleEditor)
	x, _ := a.NewTask(t, editor, map[string]any{"title": "x"})
	y, _ := a.NewTask(t, editor, map[string]any{"title": "y"})
	detail := `query Detail($id: ID!) { task(id: $id) { title tags { name } subtasks { title tags { name } } } }`
	deps := `query Deps($id: ID!) { task(id: $id) { title dependencies { title } } }`
	warm := func(q, id string) {
		t.Helper()
		cacheState(t, a, editor, q, map[string]any{"id": id})
		state, _, _ := cacheState(t, a, editor, q, map[string]any{"id": id})
		require.Equal(t, "hit", state)
	}
	expect := func(q, id, want string, check func(d map[string]any)) {
		t.Helper()
		state, d, _ := cacheState(t, a, editor, q, map[string]any{"id": id})
		assert.Equal(t, want, state)
		if check != nil {
			check(d)
		}
	}
	warm(detail, x)
	warm(detail, y)
	a.OK(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {title: "x2"}) { id } }`, map[string]any{"id": x})
	expect(detail, x, "miss", func(d map[string]any) { assert.Equal(t, "x2", apitest.Str(d, "task", "title")) })
	expect(detail, y, "hit", nil) // another task's write leaves it alone

	warm(detail, x)
	st := apitest.Str(a.OK(t, editor, `mutation($id: ID!) { createSubtask(taskId: $id, input: {title: "sub"}) { id } }`, map[string]any{"id": x}), "createSubtask", "id")
	expect(detail, x, "miss", func(d map[string]any) { assert.Equal(t, "sub", apitest.Str(d, "task", "subtasks", 0, "title")) })
	warm(detail, x)
	warm(detail, y)
	a.OK(t, editor, `mutation($id: ID!) { addSubtaskTags(subtaskId: $id, tags: ["deep"]) { id } }`, map[string]any{"id": st})
	expect(detail, x, "miss", func(d map[string]any) {
		assert.Equal(t, "deep", apitest.Str(d, "task", "subtasks", 0, "tags", 0, "name"))
	})
	expect(detail, y, "hit", nil)
	warm(detail, x)
	a.OK(t, editor, `mutation($id: ID!) { addTaskTags(taskId: $id, tags: ["top"]) { id } }`, map[string]any{"id": x})
	expect(detail, x, "miss", func(d map[string]any) { assert.Equal(t, "top", apitest.Str(d, "task", "tags", 0, "name")) })

	warm(deps, x)
	a.OK(t, editor, `mutation($a: ID!, $b: ID!) { addDependency(taskId: $a, dependsOnId: $b) { id } }`, map[string]any{"a": x, "b": y})
	expect(deps, x, "miss", func(d map[string]any) { assert.Equal(t, "y", apitest.Str(d, "task", "dependencies", 0, "title")) })
	warm(deps, x)
	a.OK(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {title: "y2"}) { id } }`, map[string]any{"id": y})
	expect(deps, x, "miss", func(d map[string]any) {
		assert.Equal(t, "y2", apitest.Str(d, "task", "dependencies", 0, "title"), "a dependency's own change reaches the task that shows it")
	})
	warm(deps, x)
	a.OK(t, editor, `mutation($id: ID!) { deleteTask(id: $id) }`, map[string]any{"id": y})
	expect(deps, x, "miss", func(d map[string]any) { assert.Empty(t, apitest.List(d, "task", "dependencies")) })

	// Lists: any task write retires them.
	q := `query List { tasks(first: 5) { totalCount } }`
	cacheState(t, a, editor, q, nil)
	state, _, _ := cacheState(t, a, editor, q, nil)
	require.Equal(t, "hit", state)
	a.NewTask(t, editor, map[string]any{"title": "z"})
	state, d, _ := cacheState(t, a, editor, q, nil)
	assert.Equal(t, "miss", state)
	assert.Equal(t, 2, apitest.Num(d, "tasks", "totalCount"))
}

// TestResponseCacheSkips: mutations, uncacheable fields and operations not
// listed in RESPONSE_CACHE_OPERATIONS always run.
func TestResponseCacheSkips(t *testing.T) {
	t.Parallel()
	// Without the entity cache, whatever runs sends SQL.
	a := respAPI(t, "RESPONSE_CACHE_OPERATIONS", "Board,Overdue", "ENTITY_CACHE", "off")
	_, editor := a.User(t, domain.RoleEditor)
	a.NewTask(t, editor, map[string]any{"title": "t"})
	for _, q := range []string{
		`query Overdue { tasks(first: 5) { nodes { isOverdue } } }`, // moves with the clock
		`query Other { tasks(first: 5) { nodes { id } } }`,          // not listed
	} {
		for range 2 {
			state, _, n := cacheState(t, a, editor, q, nil)
			assert.Empty(t, state, q)
			assert.Positive(t, n, q)
		}
	}
	cacheState(t, a, editor, boardQuery, nil)
	state, _, _ := cacheState(t, a, editor, boardQuery, nil)
	assert.Equal(t, "hit", state, "a listed operation is cached")
}

// TestResponseCacheRace forces the bad interleaving: a reader executes and
// holds the old state, a writer commits and answers, then the reader
// stores. The stored response must never be served.
func TestResponseCacheRace(t *testing.T) {
	t.Parallel()
	a := respAPI(t)
	_, editor := a.User(t, domain.RoleEditor)
	id, _ := a.NewTask(t, editor, map[string]any{"title": "old"})
	q := `query One($id: ID!) { task(id: $id) { title } }`
	var once sync.Once
	a.Responses.SetBeforeStore(func() {
		once.Do(func() {
			a.OK(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {title: "new"}) { id } }`, map[string]any{"id": id})
		})
	})
	_, d, _ := cacheState(t, a, editor, q, map[string]any{"id": id})
	require.Equal(t, "old", apitest.Str(d, "task", "title"), "the reader executed before the write")
	a.Responses.SetBeforeStore(func() {})
	state, d, _ := cacheState(t, a, editor, q, map[string]any{"id": id})
	assert.Equal(t, "new", apitest.Str(d, "task", "title"), "the reader's late store is never served")
	assert.Equal(t, "miss", state)
}

// TestResponseCacheCoherentAcrossInstances: two servers, writers on both,
// readers on both; every read returns a version at least that of the last
// write acknowledged before the read was sent.
func TestResponseCacheCoherentAcrossInstances(t *testing.T) {
	t.Parallel()
	a := respAPI(t)
	b := apitest.Serve(t, a.DBURL, &apitest.Counter{}, "RESPONSE_CACHE", "on")
	_, editor := a.User(t, domain.RoleEditor)
	const tasks = 3
	ids := make([]string, tasks)
	var acked [tasks]atomic.Int64
	for i := range ids {
		ids[i], _ = a.NewTask(t, editor, map[string]any{"title": "v1"})
		acked[i].Store(1)
	}
	servers := []*apitest.API{a, b}
	deadline := time.Now().Add(4 * time.Second)
	var wg sync.WaitGroup
	var reads, writes, hits, stale atomic.Int64
	var mu sync.Mutex
	var problems []string
	for w := range 2 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				k := (i + w) % tasks
				srv := servers[(i+w)%2]
				r := srv.Post(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {description: "x"}) { version } }`, map[string]any{"id": ids[k]})
				if len(r.Errors) == 0 {
					v := int64(apitest.Num(r.Data, "updateTask", "version"))
					for { // versions only move forward
						cur := acked[k].Load()
						if v <= cur || acked[k].CompareAndSwap(cur, v) {
							break
						}
					}
					writes.Add(1)
				}
			}
		})
	}
	for r := range 4 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				k := (i + r) % tasks
				srv := servers[(i+r)%2]
				floor := acked[k].Load()
				q := fmt.Sprintf(`query R%d($id: ID!) { task(id: $id) { version } }`, k)
				state, d, _ := cacheState(t, srv, editor, q, map[string]any{"id": ids[k]})
				reads.Add(1)
				if state == "hit" {
					hits.Add(1)
				}
				if got := int64(apitest.Num(d, "task", "version")); got < floor {
					stale.Add(1)
					mu.Lock()
					problems = append(problems, fmt.Sprintf("task %d: read version %d after version %d was acknowledged (%s)", k, got, floor, state))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d writes, %d reads, %d hits, %d stale", writes.Load(), reads.Load(), hits.Load(), stale.Load())
	assert.Empty(t, problems)
	assert.Positive(t, writes.Load())
	assert.Positive(t, hits.Load(), "the cache served some reads")
}

// TestAdmissionBypassesWhatDoesNotPay: an operation whose answer every
// write changes, read once per write, stops using the cache after its
// sample (no lookup, no store: no responseCache extension) and is still
// answered right; an operation read between writes keeps its hits.
func TestAdmissionBypassesWhatDoesNotPay(t *testing.T) {
	t.Parallel()
	a := respAPI(t, "RESPONSE_CACHE_MIN_HIT_PERCENT", "50")
	_, editor := a.User(t, domain.RoleEditor)
	id, _ := a.NewTask(t, editor, map[string]any{"title": "v0"})
	const churned = `query Churned($id: ID!) { task(id: $id) { title version } }`
	const steady = `query Steady { me { id } }`
	vars := map[string]any{"id": id}
	for i := range 220 {
		a.OK(t, editor, `mutation($id: ID!, $t: String!) { updateTask(id: $id, input: {title: $t}) { id } }`,
			map[string]any{"id": id, "t": fmt.Sprintf("v%d", i+1)})
		state, d, _ := cacheState(t, a, editor, churned, vars)
		assert.Equal(t, fmt.Sprintf("v%d", i+1), apitest.Str(d, "task", "title"))
		if i >= 200 {
			assert.Empty(t, state, "read %d: around the cache", i)
		} else {
			assert.Equal(t, "miss", state)
		}
		cacheState(t, a, editor, steady, nil)
	}
	state, _, _ := cacheState(t, a, editor, steady, nil)
	assert.Equal(t, "hit", state, "a shape that pays keeps the cache")
	assert.Positive(t, a.Responses.Stats().Bypasses.Load())
}
