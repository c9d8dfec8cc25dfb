package cache_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herotasks/api/cache"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWarmCacheNoSQL: cold, the root page's partition is read whole into
// the list index, then one statement per level; warm, no statement at all;
// the answers are identical.
func TestWarmCacheNoSQL(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t, "LOADER_WAIT", "50ms")
	_, editor := api.User(t, domain.RoleEditor)
	api.SeedSmall(t, editor, 12)
	_, err := api.Pool().Exec(context.Background(), "UPDATE tasks SET assignee_id = created_by")
	require.NoError(t, err)
	api.CacheFlush(t)

	before := api.SQL.Load()
	cold := api.OK(t, "", apitest.NestedQuery, nil)
	// the partition, the page's tasks, users, subtasks, subtask tags,
	// dependencies, dependents, history; not the tags: the mutations that
	// linked them answered with them, and an instance keeps the tags it
	// has read (they never change)
	assert.Equal(t, int64(8), api.SQL.Load()-before, "cold: one statement per level")

	before = api.SQL.Load()
	warm := api.OK(t, "", apitest.NestedQuery, nil)
	// The relation lists were cached cold; their items (tags, subtasks, dependency
	// tasks) are filled through the entity cache on this second read.
	second := api.SQL.Load() - before
	assert.LessOrEqual(t, second, int64(9))
	assert.Equal(t, cold, warm)

	before = api.SQL.Load()
	warm = api.OK(t, "", apitest.NestedQuery, nil)
	assert.Zero(t, api.SQL.Load()-before, "warm: no statement")
	assert.Equal(t, cold, warm)
}

// TestCacheMatchesDatabaseAfterEveryMutation runs every mutation through a
// cached server and, after each, compares what it answers with what a
// server without the cache answers on the same database: any key a mutation
// forgot to invalidate shows up as a difference.
func TestCacheMatchesDatabaseAfterEveryMutation(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t)
	oracle := apitest.Serve(t, api.DBURL, nil, "ENTITY_CACHE", "off")
	adminID, admin := api.User(t, domain.RoleAdmin)
	ids := api.SeedSmall(t, admin, 4)
	a, b := ids[1], ids[2]
	subs := func(task string) []string {
		var out []string
		for _, n := range apitest.List(api.OK(t, admin, `query($id: ID!) { task(id: $id) { subtasks { id } } }`, map[string]any{"id": task}), "task", "subtasks") {
			out = append(out, apitest.Str(n, "id"))
		}
		return out
	}
	sub := subs(a)
	check := func(step string) {
		t.Helper()
		for range 2 { // the second read is served from what the first filled
			assert.Equal(t, oracle.OK(t, admin, apitest.NestedQuery, nil), api.OK(t, admin, apitest.NestedQuery, nil), "after %s", step)
			const stats = `{ taskStatistics { total active completed overdue byStatus { status count } byPriority { count } byType { count } } }`
			const search = `{ searchTasks(query: "cached task renamed", first: 10) { totalCount nodes { id title status version visibility } } }`
			for _, tok := range []string{admin, ""} {
				assert.Equal(t, oracle.OK(t, tok, stats, nil), api.OK(t, tok, stats, nil), "statistics after %s", step)
				assert.Equal(t, oracle.OK(t, tok, search, nil), api.OK(t, tok, search, nil), "search after %s", step)
			}
			for _, id := range ids {
				q := `query($id: ID!) { task(id: $id) { title status phase version visibility dueDate assignee { id }
					subtasks { id number position status title tags { name } } tags { name } dependencies { id } dependents { id } history { kind } } }`
				assert.Equal(t, oracle.OK(t, admin, q, map[string]any{"id": id}), api.OK(t, admin, q, map[string]any{"id": id}), "task after %s", step)
			}
		}
	}
	check("seeding")
	steps := []struct{ name, query string }{
		{"updateTask", fmt.Sprintf(`mutation { updateTask(id: %q, input: {title: "Renamed", assigneeId: %q, dueDate: "2031-01-01T00:00:00Z"}) { id } }`, a, adminID)},
		{"transitionTask", fmt.Sprintf(`mutation { transitionTask(id: %q, status: IN_PROGRESS, phase: DECIDE) { id } }`, a)},
		{"createSubtask at front", fmt.Sprintf(`mutation { createSubtask(taskId: %q, input: {title: "First", position: 0}) { id } }`, a)},
		{"updateSubtask move", fmt.Sprintf(`mutation { updateSubtask(id: %q, input: {position: 3, status: COMPLETED}) { id } }`, sub[0])},
		{"updateSubtask title", fmt.Sprintf(`mutation { updateSubtask(id: %q, input: {title: "Retitled"}) { id } }`, sub[1])},
		{"addSubtaskTags", fmt.Sprintf(`mutation { addSubtaskTags(subtaskId: %q, tags: ["new-tag"]) { id } }`, sub[1])},
		{"removeSubtaskTags", fmt.Sprintf(`mutation { removeSubtaskTags(subtaskId: %q, tags: ["s"]) { id } }`, sub[1])},
		{"deleteSubtask", fmt.Sprintf(`mutation { deleteSubtask(id: %q) }`, sub[2])},
		{"addTaskTags", fmt.Sprintf(`mutation { addTaskTags(taskId: %q, tags: ["zzz", "aaa"]) { id } }`, a)},
		{"removeTaskTags", fmt.Sprintf(`mutation { removeTaskTags(taskId: %q, tags: ["cache"]) { id } }`, a)},
		{"addDependency", fmt.Sprintf(`mutation { addDependency(taskId: %q, dependsOnId: %q) { id } }`, b, a)},
		{"removeDependency", fmt.Sprintf(`mutation { removeDependency(taskId: %q, dependsOnId: %q) { id } }`, a, ids[0])},
		{"visibility", fmt.Sprintf(`mutation { updateTask(id: %q, input: {visibility: PRIVATE}) { id } }`, b)},
		{"createTask", `mutation { createTask(input: {title: "Brand new", tags: ["cache"]}) { id } }`},
		{"deleteTask", fmt.Sprintf(`mutation { deleteTask(id: %q) }`, a)},
	}
	for _, s := range steps {
		api.OK(t, admin, s.query, nil)
		check(s.name)
	}
}

// TestLeaseStopsStaleFill forces the classic race: a reader misses and reads
// the old row, a writer commits and invalidates, then the reader tries to
// store the old row. The lease makes that store fail.
func TestLeaseStopsStaleFill(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t)
	_, editor := api.User(t, domain.RoleEditor)
	id, _ := api.NewTask(t, editor, map[string]any{"title": "Before"})
	api.CacheFlush(t)

	loaded := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	api.Cache.SetAfterLoad(func(kind cache.Kind, ids []string) {
		if kind == cache.KindTask && len(ids) == 1 && ids[0] == id {
			once.Do(func() { close(loaded); <-release })
		}
	})
	readerDone := make(chan map[string]any)
	go func() {
		readerDone <- api.OK(t, "", `query($id: ID!) { task(id: $id) { title } }`, map[string]any{"id": id})
	}()
	<-loaded // the reader holds the old row and its lease
	api.OK(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {title: "After"}) { id } }`, map[string]any{"id": id})
	close(release) // now it tries to fill
	assert.Equal(t, "Before", apitest.Str(<-readerDone, "task", "title"), "the reader answers what it read, before the write was acknowledged")

	for range 3 {
		d := api.OK(t, "", `query($id: ID!) { task(id: $id) { title } }`, map[string]any{"id": id})
		assert.Equal(t, "After", apitest.Str(d, "task", "title"), "the stale row never reached the cache")
	}
}

// TestCoherenceTwoInstances: two servers share PostgreSQL and Redis; writers
// bump a task through one or the other, readers read a task or a page
// through either, and no read that starts after a write was acknowledged
// sees an older version.
func TestCoherenceTwoInstances(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t)
	other := apitest.Serve(t, api.DBURL, nil) // same database, same key prefix: a second instance
	_, editor := api.User(t, domain.RoleEditor)
	var tasks []string
	for i := range 4 {
		id, _ := api.NewTask(t, editor, map[string]any{"title": fmt.Sprintf("Contended %d", i)})
		tasks = append(tasks, id)
	}
	servers := []*apitest.API{api, other}
	acked := make([]atomic.Int64, len(tasks)) // last acknowledged version per task
	for i := range acked {
		acked[i].Store(1)
	}
	deadline := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	var reads, writes, stale atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			for n := 0; time.Now().Before(deadline); n++ {
				i := (w + n) % len(tasks)
				d := servers[n%2].Post(t, editor, `mutation($id: ID!, $t: String!) { updateTask(id: $id, input: {title: $t}) { version } }`,
					map[string]any{"id": tasks[i], "t": fmt.Sprintf("w%d n%d", w, n)})
				if v := apitest.Num(d.Data, "updateTask", "version"); v > 0 {
					for { // versions only move forward
						cur := acked[i].Load()
						if int64(v) <= cur || acked[i].CompareAndSwap(cur, int64(v)) {
							break
						}
					}
					writes.Add(1)
				}
			}
		})
	}
	index := map[string]int{}
	for i, id := range tasks {
		index[id] = i
	}
	for r := range 6 {
		wg.Go(func() {
			for n := 0; time.Now().Before(deadline); n++ {
				i := (r + n) % len(tasks)
				if n%2 == 1 {
					// The page: each of its tasks, rendered or written from
					// memory (graph/memo.go), against its own floor.
					var floors [4]int64
					for j := range floors {
						floors[j] = acked[j].Load()
					}
					d := servers[(r+n)%2].OK(t, "", `{ tasks(first: 10) { nodes { id version } } }`, nil)
					for _, node := range apitest.List(d, "tasks", "nodes") {
						j := index[apitest.Str(node, "id")]
						if got := int64(apitest.Num(node, "version")); got < floors[j] {
							stale.Add(1)
							t.Errorf("task %d on a page: read version %d after version %d was acknowledged", j, got, floors[j])
						}
					}
					reads.Add(1)
					continue
				}
				floor := acked[i].Load()
				d := servers[(r+n)%2].OK(t, "", `query($id: ID!) { task(id: $id) { version } }`, map[string]any{"id": tasks[i]})
				if got := int64(apitest.Num(d, "task", "version")); got < floor {
					stale.Add(1)
					t.Errorf("task %d: read version %d after version %d was acknowledged", i, got, floor)
				}
				reads.Add(1)
			}
		})
	}
	wg.Wait()
	t.Logf("%d writes, %d reads, %d stale", writes.Load(), reads.Load(), stale.Load())
	assert.Greater(t, writes.Load(), int64(20))
	assert.Greater(t, reads.Load(), int64(50))
	hits := int64(0)
	for _, k := range api.Cache.Stats().Snapshot() {
		hits += k.Hits
	}
	assert.Positive(t, hits, "the readers did use the cache")
}

// TestTagSetsCoherentTwoInstances: cached rows carry their tag ids, so a
// tag write must write its task's row through past every earlier copy,
// edits of the same task included (their rows carry the ids too), and a
// subtask tag write must drop the subtask's row. Writers on two instances
// add a new tag to a task or to its subtask, or edit the task's title, in
// turns; readers read a page and a task by id with their tags and their
// subtask's through either, and no read that starts after a tag was
// acknowledged lacks it.
func TestTagSetsCoherentTwoInstances(t *testing.T) {
	apitest.RequireRedis(t)
	// The readers ask more than an anonymous budget allows: it is not what
	// this test is about.
	api := apitest.New(t, "COST_BUDGET_CAPACITY", "0")
	other := apitest.Serve(t, api.DBURL, nil, "COST_BUDGET_CAPACITY", "0")
	_, editor := api.User(t, domain.RoleEditor)
	var tasks, subtasks []string
	for i := range 3 {
		id, _ := api.NewTask(t, editor, map[string]any{"title": fmt.Sprintf("Tagged %d", i), "tags": []string{"start"}})
		tasks = append(tasks, id)
		d := api.OK(t, editor, `mutation($id: ID!) { createSubtask(taskId: $id, input: {title: "step", tags: ["start"]}) { id } }`, map[string]any{"id": id})
		subtasks = append(subtasks, apitest.Str(d, "createSubtask", "id"))
	}
	servers := []*apitest.API{api, other}
	var mu sync.Mutex
	// Tags acknowledged per task ([i]) and per its subtask ([len(tasks)+i]).
	acked := make([]map[string]bool, 2*len(tasks))
	for i := range acked {
		acked[i] = map[string]bool{"start": true}
	}
	floor := func(i int) []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for g := range acked[i] {
			out = append(out, g)
		}
		return out
	}
	index := map[string]int{}
	for i, id := range tasks {
		index[id] = i
	}
	deadline := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	var reads, tagWrites, edits atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			for n := 0; time.Now().Before(deadline); n++ {
				i := (w + n) % len(tasks)
				srv := servers[(w+n)%2]
				tag := fmt.Sprintf("w%d-n%d", w, n)
				switch n % 3 {
				case 2:
					srv.Post(t, editor, `mutation($id: ID!, $t: String!) { updateTask(id: $id, input: {title: $t}) { version } }`,
						map[string]any{"id": tasks[i], "t": fmt.Sprintf("w%d n%d", w, n)})
					edits.Add(1)
				case 1:
					d := srv.Post(t, editor, `mutation($id: ID!, $g: [String!]!) { addSubtaskTags(subtaskId: $id, tags: $g) { id } }`,
						map[string]any{"id": subtasks[i], "g": []string{tag}})
					if apitest.Str(d.Data, "addSubtaskTags", "id") != "" {
						mu.Lock()
						acked[len(tasks)+i][tag] = true
						mu.Unlock()
						tagWrites.Add(1)
					}
				default:
					d := srv.Post(t, editor, `mutation($id: ID!, $g: [String!]!) { addTaskTags(taskId: $id, tags: $g) { id } }`,
						map[string]any{"id": tasks[i], "g": []string{tag}})
					if apitest.Str(d.Data, "addTaskTags", "id") != "" {
						mu.Lock()
						acked[i][tag] = true
						mu.Unlock()
						tagWrites.Add(1)
					}
				}
			}
		})
	}
	check := func(i int, want, wantSub []string, node any, where string) {
		for _, c := range []struct {
			of   string
			tags []any
			want []string
		}{{"task", apitest.List(node, "tags"), want}, {"subtask", apitest.List(node, "subtasks", 0, "tags"), wantSub}} {
			have := map[string]bool{}
			for _, g := range c.tags {
				have[apitest.Str(g, "name")] = true
			}
			for _, g := range c.want {
				if !have[g] {
					t.Errorf("task %d %s: %s tag %s missing after it was acknowledged", i, where, c.of, g)
				}
			}
		}
	}
	for r := range 6 {
		wg.Go(func() {
			for n := 0; time.Now().Before(deadline); n++ {
				i := (r + n) % len(tasks)
				srv := servers[(r+n)%2]
				if n%2 == 1 {
					want := make([][]string, 2*len(tasks))
					for j := range want {
						want[j] = floor(j)
					}
					d := srv.OK(t, "", `{ tasks(first: 10) { nodes { id tags { name } subtasks { tags { name } } } } }`, nil)
					for _, node := range apitest.List(d, "tasks", "nodes") {
						if j, ok := index[apitest.Str(node, "id")]; ok {
							check(j, want[j], want[len(tasks)+j], node, "on a page")
						}
					}
				} else {
					want, wantSub := floor(i), floor(len(tasks)+i)
					d := srv.OK(t, "", `query($id: ID!) { task(id: $id) { id tags { name } subtasks { tags { name } } } }`, map[string]any{"id": tasks[i]})
					check(i, want, wantSub, apitest.Get(d, "task"), "by id")
				}
				reads.Add(1)
			}
		})
	}
	wg.Wait()
	t.Logf("%d tag writes, %d edits, %d reads", tagWrites.Load(), edits.Load(), reads.Load())
	assert.Greater(t, tagWrites.Load(), int64(10))
	assert.Greater(t, reads.Load(), int64(50))
}

// TestSubtaskListsCoherentTwoInstances: cached rows carry their subtask
// ids, so a write that adds, moves or removes a subtask must write its
// parent's row through past every earlier copy, title edits of the parent
// included. Writers on two instances create subtasks at the front (moving
// the others), delete them and edit the parent; readers read a page and the
// task by id with its subtasks through either. No read that starts after a
// creation was acknowledged lacks it (unless its deletion had started), none
// after a deletion was acknowledged shows it. (The order of a list and its
// subtasks' positions are read apart and may be a write apart, as before
// rows carried their ids.)
func TestSubtaskListsCoherentTwoInstances(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t, "COST_BUDGET_CAPACITY", "0")
	other := apitest.Serve(t, api.DBURL, nil, "COST_BUDGET_CAPACITY", "0")
	_, editor := api.User(t, domain.RoleEditor)
	var tasks []string
	for i := range 2 {
		id, _ := api.NewTask(t, editor, map[string]any{"title": fmt.Sprintf("Parent %d", i)})
		tasks = append(tasks, id)
	}
	servers := []*apitest.API{api, other}
	const (
		created = iota + 1
		deleting
		deleted
	)
	var mu sync.Mutex
	state := make([]map[string]int, len(tasks)) // subtask title → its state, per task
	for i := range state {
		state[i] = map[string]int{}
	}
	set := func(i int, title string, st int) { mu.Lock(); state[i][title] = st; mu.Unlock() }
	snapshot := func(i int) (present, absent []string) {
		mu.Lock()
		defer mu.Unlock()
		for title, st := range state[i] {
			switch st {
			case created:
				present = append(present, title)
			case deleted:
				absent = append(absent, title)
			}
		}
		return present, absent
	}
	index := map[string]int{}
	for i, id := range tasks {
		index[id] = i
	}
	deadline := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	var reads, writes atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			var mine []struct {
				task     int
				id, name string
			}
			for n := 0; time.Now().Before(deadline); n++ {
				i := (w + n) % len(tasks)
				srv := servers[(w+n)%2]
				switch {
				case n%6 == 5:
					srv.Post(t, editor, `mutation($id: ID!, $t: String!) { updateTask(id: $id, input: {title: $t}) { version } }`,
						map[string]any{"id": tasks[i], "t": fmt.Sprintf("w%d n%d", w, n)})
				case n%2 == 1 && len(mine) > 0:
					s := mine[0]
					mine = mine[1:]
					set(s.task, s.name, deleting)
					d := srv.Post(t, editor, `mutation($id: ID!) { deleteSubtask(id: $id) }`, map[string]any{"id": s.id})
					if apitest.Get(d.Data, "deleteSubtask") == true {
						set(s.task, s.name, deleted)
					}
				default:
					name := fmt.Sprintf("w%d-n%d", w, n)
					d := srv.Post(t, editor, `mutation($id: ID!, $t: String!) { createSubtask(taskId: $id, input: {title: $t, position: 0}) { id } }`,
						map[string]any{"id": tasks[i], "t": name})
					if id := apitest.Str(d.Data, "createSubtask", "id"); id != "" {
						set(i, name, created)
						mine = append(mine, struct {
							task     int
							id, name string
						}{i, id, name})
					}
				}
				writes.Add(1)
			}
		})
	}
	// present are the subtasks created before the read started; those whose
	// deletion started before it ended may be gone.
	check := func(i int, present, absent []string, node any, where string) {
		have := map[string]bool{}
		for _, st := range apitest.List(node, "subtasks") {
			have[apitest.Str(st, "title")] = true
		}
		mu.Lock()
		still := map[string]bool{}
		for _, name := range present {
			still[name] = state[i][name] == created
		}
		mu.Unlock()
		for _, name := range present {
			if !have[name] && still[name] {
				t.Errorf("task %d %s: subtask %s missing after its creation was acknowledged", i, where, name)
			}
		}
		for _, name := range absent {
			if have[name] {
				t.Errorf("task %d %s: subtask %s shown after its deletion was acknowledged", i, where, name)
			}
		}
	}
	for r := range 6 {
		wg.Go(func() {
			for n := 0; time.Now().Before(deadline); n++ {
				i := (r + n) % len(tasks)
				srv := servers[(r+n)%2]
				if n%2 == 1 {
					present, absent := make([][]string, len(tasks)), make([][]string, len(tasks))
					for j := range tasks {
						present[j], absent[j] = snapshot(j)
					}
					d := srv.OK(t, "", `{ tasks(first: 10) { nodes { id subtasks(first: 100) { title } } } }`, nil)
					for _, node := range apitest.List(d, "tasks", "nodes") {
						if j, ok := index[apitest.Str(node, "id")]; ok {
							check(j, present[j], absent[j], node, "on a page")
						}
					}
				} else {
					present, absent := snapshot(i)
					d := srv.OK(t, "", `query($id: ID!) { task(id: $id) { id subtasks(first: 100) { title } } }`, map[string]any{"id": tasks[i]})
					check(i, present, absent, apitest.Get(d, "task"), "by id")
				}
				reads.Add(1)
			}
		})
	}
	wg.Wait()
	t.Logf("%d writes, %d reads", writes.Load(), reads.Load())
	assert.Greater(t, writes.Load(), int64(20))
	assert.Greater(t, reads.Load(), int64(50))
}

// TestTagsReadFromTheirRows: the cached rows carry their tag and subtask
// ids (a subtask's, its tag ids), so a page and a task by id show their
// tags, subtasks and subtasks' tags without reading a tag or subtask list,
// warm or cold, and a tag or subtask write leaves the next read none to
// read either.
func TestTagsReadFromTheirRows(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t)
	_, editor := api.User(t, domain.RoleEditor)
	var ids []string
	for i := range 3 {
		id, _ := api.NewTask(t, editor, map[string]any{"title": fmt.Sprintf("Carried %d", i), "tags": []string{"carried", fmt.Sprintf("c%d", i)}})
		ids = append(ids, id)
	}
	tagLists := func() (n int64) {
		for _, k := range api.Cache.Stats().Snapshot() {
			if k.Kind == cache.KindTaskTags.String() || k.Kind == cache.KindTaskSubtasks.String() || k.Kind == cache.KindSubtaskTags.String() {
				n += k.Hits + k.Misses
			}
		}
		return n
	}
	page := `query { tasks(first: 10) { nodes { id tags { name } subtasks(first: 5) { title tags { name } } } } }`
	one := `query($id: ID!) { task(id: $id) { id tags { name } subtasks { title tags { name } } } }`
	d := api.OK(t, editor, `mutation($id: ID!) { createSubtask(taskId: $id, input: {title: "first", tags: ["sub"]}) { id } }`, map[string]any{"id": ids[0]})
	first := apitest.Str(d, "createSubtask", "id")
	api.CacheFlush(t)
	before := tagLists()
	for range 2 { // cold, then warm
		d = api.OK(t, editor, page, nil)
		require.Len(t, apitest.List(d, "tasks", "nodes"), 3)
		assert.Equal(t, "first", apitest.Str(d, "tasks", "nodes", 2, "subtasks", 0, "title"))
		assert.Equal(t, "sub", apitest.Str(d, "tasks", "nodes", 2, "subtasks", 0, "tags", 0, "name"))
		assert.Equal(t, "c2", apitest.Str(d, "tasks", "nodes", 0, "tags", 0, "name"), "by name")
		assert.Equal(t, "carried", apitest.Str(d, "tasks", "nodes", 0, "tags", 1, "name"))
		d = api.OK(t, editor, one, map[string]any{"id": ids[0]})
		assert.Equal(t, "first", apitest.Str(d, "task", "subtasks", 0, "title"))
		assert.Equal(t, "sub", apitest.Str(d, "task", "subtasks", 0, "tags", 0, "name"))
	}
	api.OK(t, editor, `mutation($id: ID!) { addSubtaskTags(subtaskId: $id, tags: ["again"]) { id } }`, map[string]any{"id": first})
	d = api.OK(t, editor, one, map[string]any{"id": ids[0]})
	assert.Equal(t, []any{map[string]any{"name": "again"}, map[string]any{"name": "sub"}}, apitest.List(d, "task", "subtasks", 0, "tags"))
	api.OK(t, editor, `mutation($id: ID!) { createSubtask(taskId: $id, input: {title: "second", position: 0}) { id } }`, map[string]any{"id": ids[0]})
	d = api.OK(t, editor, one, map[string]any{"id": ids[0]})
	assert.Equal(t, []any{map[string]any{"title": "second", "tags": []any{}},
		map[string]any{"title": "first", "tags": []any{map[string]any{"name": "again"}, map[string]any{"name": "sub"}}}},
		apitest.List(d, "task", "subtasks"))
	// A tag write answers with the tags its own statement read.
	d = api.OK(t, editor, `mutation($id: ID!) { addTaskTags(taskId: $id, tags: ["added"]) { id tags { name } } }`, map[string]any{"id": ids[1]})
	added := []any{map[string]any{"name": "added"}, map[string]any{"name": "c1"}, map[string]any{"name": "carried"}}
	assert.Equal(t, added, apitest.List(d, "addTaskTags", "tags"))
	d = api.OK(t, editor, one, map[string]any{"id": ids[1]})
	assert.Equal(t, added, apitest.List(d, "task", "tags"))
	d = api.OK(t, editor, `mutation($id: ID!) { removeTaskTags(taskId: $id, tags: ["carried"]) { id tags { name } } }`, map[string]any{"id": ids[2]})
	assert.Equal(t, []any{map[string]any{"name": "c2"}}, apitest.List(d, "removeTaskTags", "tags"))
	assert.Equal(t, before, tagLists(), "no tag or subtask list was read")
}

// TestUsersKeptInProcess: the API never changes a user, so an instance
// keeps the users it has read: after Redis has lost every key, a page's
// assignees and creators come from memory, with no user read from Redis or
// PostgreSQL, and are the same users.
func TestUsersKeptInProcess(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t)
	_, editor := api.User(t, domain.RoleEditor)
	api.SeedSmall(t, editor, 3)
	_, err := api.Pool().Exec(context.Background(), "UPDATE tasks SET assignee_id = created_by")
	require.NoError(t, err)
	api.CacheFlush(t) // the rows the seed cached predate the UPDATE
	userReads := func() (n int64) {
		for _, k := range api.Cache.Stats().Snapshot() {
			if k.Kind == cache.KindUser.String() {
				n += k.Misses
			}
		}
		return n
	}
	page := `{ tasks(first: 5) { nodes { id assignee { id name } createdBy { id email } } } }`
	first := api.OK(t, editor, page, nil)
	require.NotEmpty(t, apitest.Str(first, "tasks", "nodes", 0, "assignee", "name"))
	api.CacheFlush(t)
	before, sql := userReads(), api.SQL.Load()
	assert.Equal(t, first, api.OK(t, editor, page, nil))
	assert.Equal(t, before, userReads(), "no user read from Redis")
	// the list's two partitions (the public tasks, the editor's private
	// ones) and the page's tasks, read again; not the users
	assert.Equal(t, int64(3), api.SQL.Load()-sql)
}

// mgets counts the MGETs a client sends, as it sends them, and those that
// read subtasks along with tasks.
// mgets counts MGETs, and those that read tasks and subtasks along.
type mgets struct{ n, along atomic.Int64 }

func (m *mgets) hook() apitest.RedisHook { return apitest.RedisHook{Each: m.count} }

func (m *mgets) count(cmd redis.Cmder) {
	if cmd.Name() != "mget" {
		return
	}
	m.n.Add(1)
	var tasks, subtasks bool
	for _, a := range cmd.Args()[1:] {
		k, _ := a.(string)
		tasks = tasks || strings.Contains(k, ":task:") && !strings.Contains(k, ":task:ht")
		subtasks = subtasks || strings.Contains(k, ":subtask:")
	}
	if tasks && subtasks {
		m.along.Add(1)
	}
}

// TestDetailReadAhead: a task read by id with its subtasks and dependencies
// reads its levels in the task's own MGET once this instance has seen them
// (the dependency list's key follows from the id; the subtasks and the
// dependencies are those it decoded last time), and answers what an
// uncached server answers, also right after a subtask and a dependency
// were added and a dependency removed, when those guesses are wrong.
func TestDetailReadAhead(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t)
	oracle := apitest.Serve(t, api.DBURL, nil, "ENTITY_CACHE", "off", "RESPONSE_CACHE", "off")
	_, editor := api.User(t, domain.RoleEditor)
	ids := api.SeedSmall(t, editor, 3) // each task after the first depends on the first
	task, dep, other := ids[1], ids[0], ids[2]
	const detail = `query($id: ID!) { task(id: $id) { id title version subtasks { id title tags { name } } dependencies { id title version } } }`
	vars := map[string]any{"id": task}
	counter := &mgets{}
	api.Cache.Redis().AddHook(counter.hook())
	read := countedRead(t, api, oracle, editor, detail, vars, &counter.n)
	read("cold")
	require.NotEmpty(t, apitest.List(api.OK(t, editor, detail, vars), "task", "subtasks"), "the seed gives tasks subtasks")
	assert.Equal(t, int64(1), read("warm"), "warm: the task, its subtasks, its dependency list and its dependencies in one MGET")

	api.OK(t, editor, `mutation($id: ID!) { createSubtask(taskId: $id, input: {title: "added later"}) { id } }`, map[string]any{"id": task})
	api.OK(t, editor, `mutation($t: ID!, $d: ID!) { addDependency(taskId: $t, dependsOnId: $d) { id } }`, map[string]any{"t": task, "d": other})
	read("after a subtask and a dependency were added")
	api.OK(t, editor, `mutation($t: ID!, $d: ID!) { removeDependency(taskId: $t, dependsOnId: $d) { id } }`, map[string]any{"t": task, "d": dep})
	read("after a dependency was removed")
	assert.Equal(t, int64(1), read("warm again"))
}

// TestPageSubtasksReadAhead: a page whose query selects its tasks'
// subtasks reads them in its rows' MGET (the subtasks each task had when
// the instance last decoded it), and answers what an uncached server
// answers after a subtask was added. With the response cache recording
// the read, the subtasks wait for their tasks' tokens, so nothing is read
// ahead of them.
func TestPageSubtasksReadAhead(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t)
	oracle := apitest.Serve(t, api.DBURL, nil, "ENTITY_CACHE", "off", "RESPONSE_CACHE", "off")
	_, editor := api.User(t, domain.RoleEditor)
	ids := api.SeedSmall(t, editor, 3)
	const page = `{ tasks(first: 10) { nodes { id version subtasks(first: 5) { id title tags { name } } } } }`
	counter := &mgets{}
	api.Cache.Redis().AddHook(counter.hook())
	read := func(a *apitest.API, step string) int64 {
		t.Helper()
		before := counter.n.Load()
		assert.Equal(t, oracle.OK(t, editor, page, nil), a.OK(t, editor, page, nil), step)
		return counter.n.Load() - before
	}
	read(api, "cold")
	assert.Equal(t, int64(1), read(api, "warm"), "warm: the rows and their subtasks in one MGET")
	api.OK(t, editor, `mutation($id: ID!) { createSubtask(taskId: $id, input: {title: "added later", position: 0}) { id } }`, map[string]any{"id": ids[1]})
	read(api, "after a subtask was added")
	assert.Equal(t, int64(1), read(api, "warm again"))

	assert.Positive(t, counter.along.Load())

	recorded := apitest.Serve(t, api.DBURL, nil, "RESPONSE_CACHE", "on")
	counter = &mgets{}
	recorded.Cache.Redis().AddHook(counter.hook())
	for i := range 4 { // each its own query: recorded, not answered from an entry
		q := strings.Replace(page, "first: 10", fmt.Sprintf("first: %d", 10+i), 1)
		assert.Equal(t, oracle.OK(t, editor, q, nil), recorded.OK(t, editor, q, nil))
	}
	assert.Zero(t, counter.along.Load(), "recorded: the subtasks are read after their tasks' tokens, not ahead")
}

// TestCacheStatisticsAdminOnly exposes the counters to admins.
func TestCacheStatisticsAdminOnly(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t)
	_, admin := api.User(t, domain.RoleAdmin)
	_, viewer := api.User(t, domain.RoleViewer)
	id, _ := api.NewTask(t, admin, map[string]any{"title": "Counted"})
	api.CacheFlush(t) // the creation wrote the task through
	for range 2 {
		api.OK(t, "", `query($id: ID!) { task(id: $id) { title } }`, map[string]any{"id": id})
	}
	assert.Equal(t, "FORBIDDEN", api.Post(t, viewer, `{ cacheStatistics { enabled } }`, nil).Code())
	d := api.OK(t, admin, `{ cacheStatistics { enabled breaker epochBumps kinds { kind type hits misses fills errors invalidations } } }`, nil)
	assert.Equal(t, true, apitest.Get(d, "cacheStatistics", "enabled"))
	assert.Equal(t, "closed", apitest.Str(d, "cacheStatistics", "breaker"))
	task := apitest.Get(d, "cacheStatistics", "kinds", 0)
	assert.Equal(t, "task", apitest.Str(task, "kind"))
	assert.Equal(t, 1, apitest.Num(task, "misses"))
	assert.Equal(t, 1, apitest.Num(task, "fills"))
	assert.GreaterOrEqual(t, apitest.Num(task, "hits"), 1)
}

// countedRead returns a read of query by token that must answer what
// oracle answers, and reports how much n grew meanwhile.
func countedRead(t *testing.T, api, oracle *apitest.API, token, query string, vars map[string]any, n *atomic.Int64) func(step string) int64 {
	return func(step string) int64 {
		t.Helper()
		before := n.Load()
		assert.Equal(t, oracle.OK(t, token, query, vars), api.OK(t, token, query, vars), step)
		return n.Load() - before
	}
}

// scripts counts the scripts sent to Redis.
type scripts struct{ n atomic.Int64 }

func (s *scripts) hook() apitest.RedisHook { return apitest.RedisHook{Each: s.count} }

func (s *scripts) count(cmd redis.Cmder) {
	if n := cmd.Name(); n == "evalsha" || n == "eval" {
		s.n.Add(1)
	}
}

// TestListReadWithoutScript: a board the list index holds is read with
// plain commands under the epoch the instance last saw (no script), and
// answers what an uncached server answers, also after writes move tasks
// in it and after the epoch moved, when the instance reads it again with
// the script first.
func TestListReadWithoutScript(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t, "RESPONSE_CACHE", "off", "COST_BUDGET_CAPACITY", "0") // the budget is a script too
	oracle := apitest.Serve(t, api.DBURL, nil, "ENTITY_CACHE", "off", "RESPONSE_CACHE", "off")
	_, editor := api.User(t, domain.RoleEditor)
	ids := api.SeedSmall(t, editor, 4)
	const board = `{ tasks(first: 2, filter: {status: [DRAFT]}, orderBy: {field: UPDATED_AT, direction: DESC}) { totalCount pageInfo { hasNextPage } nodes { id version priority } } }`
	counter := &scripts{}
	api.Cache.Redis().AddHook(counter.hook())
	read := countedRead(t, api, oracle, editor, board, nil, &counter.n)
	read("cold")
	assert.Zero(t, read("warm"), "warm: ZCARD and ZRANGE, no script")
	api.OK(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {priority: CRITICAL}) { id } }`, map[string]any{"id": ids[len(ids)-1]})
	assert.Zero(t, read("after a write moved a task to the top"))
	require.NoError(t, api.Redis.Incr(context.Background(), api.CachePrefix()+":epoch").Err())
	assert.Positive(t, read("after the epoch moved"), "the script reads the new epoch's sets (and fills them)")
	assert.Zero(t, read("warm again"))
}
