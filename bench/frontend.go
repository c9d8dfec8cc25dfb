package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	json "github.com/goccy/go-json"
	"github.com/jackc/pgx/v5"
)

// The mix-frontend scenario: the traffic of a fleet of frontend apps, many
// signed-in users at once, each reading boards, their own list, task
// details, search results and the nested first page, and writing (creates,
// status moves, edits, tag changes) mostly on the tasks everyone is
// looking at. Every read is checked for staleness and for another user's
// private task.

// FrontendMarker is the description of every task the scenario creates:
// herobench deletes them by it after a run, so the benchmark database keeps
// its seeded size.
const FrontendMarker = "Created by the mix-frontend benchmark (bench/frontend.go); deleted after the run."

// The frontend's operations. Every task selection carries id and version
// (the staleness check) and the lists' cards carry their tags (the tag
// coherence check).
const (
	BoardQuery          = `query StatusBoard($status: TaskStatus!) { tasks(first: 20, filter: {status: [$status]}, orderBy: {field: UPDATED_AT, direction: DESC}) { totalCount pageInfo { hasNextPage endCursor } nodes { id version number title status priority phase dueDate assignee { id name } tags { name color } } } }`
	MyTasksQuery        = `query MyActiveTasks($me: ID!) { tasks(first: 20, filter: {assigneeId: $me, active: true}, orderBy: {field: DUE_DATE, direction: ASC}) { totalCount nodes { id version number title status priority dueDate tags { name color } } } }`
	FrontendDetailQuery = `query TaskDetail($id: ID!) { task(id: $id) { id version number title description status priority phase dueDate createdAt updatedAt assignee { id name } createdBy { id name } tags { name color } subtasks { id number title status tags { name } } dependencies { id version number title status } } }`
	FrontendSearchQuery = `query SearchTasks($q: String!) { searchTasks(query: $q, first: 20) { nodes { id version number title status } } }`

	createMutation     = `mutation CreateTask($input: CreateTaskInput!) { createTask(input: $input) { id version } }`
	transitionMutation = `mutation MoveTask($id: ID!, $status: TaskStatus!) { transitionTask(id: $id, status: $status, reason: "moved on the board") { id version } }`
	priorityMutation   = `mutation SetPriority($id: ID!, $priority: TaskPriority!) { updateTask(id: $id, input: {priority: $priority}) { id version } }`
	titleMutation      = `mutation Rename($id: ID!, $title: String!) { updateTask(id: $id, input: {title: $title}) { id version } }`
	addTagsMutation    = `mutation AddTags($id: ID!, $tags: [String!]!) { addTaskTags(taskId: $id, tags: $tags) { id version tags { name } } }`
	removeTagsMutation = `mutation RemoveTags($id: ID!, $tags: [String!]!) { removeTaskTags(taskId: $id, tags: $tags) { id version tags { name } } }`
)

// FrontendNestedQuery is the nested first page (NestedQuery) with each
// task's version, so its tasks are checked like every other read.
var FrontendNestedQuery = strings.Replace(NestedQuery, "nodes { id title", "nodes { id version title", 1)

// FrontendUser is one signed-in user of the fleet.
type FrontendUser struct {
	ID, Token string
	Private   []string // private tasks it may see (it created them or is their assignee)
}

// FrontendData is what the scenario draws from the seeded database.
type FrontendData struct {
	Users []FrontendUser
	// Hot are the public active tasks everyone looks at (the newest
	// created), with their titles as the edits' base; Tail the other
	// public tasks, TailActive the active ones among them.
	Hot        []string
	HotTitles  map[string]string
	Tail       []string
	TailActive []string
	// Owners maps every private task to the users who may see it.
	Owners map[string][]string
	Terms  []string // common words of the titles
	Tags   []string // existing tags that the tag writes add and remove
}

// FrontendOptions size the data LoadFrontend takes.
type FrontendOptions struct {
	Users    int // signed-in users, at most (default 24)
	MinUsers int // fewer editors owning private tasks is an error (default 20)
	Hot      int // hot tasks (default 200)
}

var revSuffix = regexp.MustCompile(`( \(rev \d+\))+$`)

// LoadFrontend reads the users, tasks and words of the scenario from the
// benchmark database; sign makes a user's bearer token. The users are
// editors who own private tasks (the seed gives them some: seed.UserCount).
func LoadFrontend(ctx context.Context, pg *pgx.Conn, o FrontendOptions, sign func(userID, role string) (string, error)) (*FrontendData, error) {
	if o.Users <= 0 {
		o.Users = 24
	}
	if o.MinUsers <= 0 {
		o.MinUsers = 20
	}
	if o.Hot <= 0 {
		o.Hot = 200
	}
	d := &FrontendData{HotTitles: map[string]string{}, Owners: map[string][]string{}}

	rows, _ := pg.Query(ctx, `SELECT id::text, created_by::text, assignee_id::text FROM tasks WHERE visibility = 'PRIVATE' AND description <> $1`, FrontendMarker)
	type private struct {
		ID                  string
		CreatedBy, Assignee *string
	}
	privs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[private])
	if err != nil {
		return nil, fmt.Errorf("private tasks: %w", err)
	}
	byUser := map[string][]string{}
	for _, p := range privs {
		var owners []string
		for _, u := range []*string{p.CreatedBy, p.Assignee} {
			if u != nil && !slices.Contains(owners, *u) {
				owners = append(owners, *u)
				byUser[*u] = append(byUser[*u], p.ID)
			}
		}
		d.Owners[p.ID] = owners
	}
	rows, _ = pg.Query(ctx, `SELECT id::text FROM users WHERE role = 'EDITOR' ORDER BY created_at, id`)
	editors, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	for _, id := range editors {
		if len(byUser[id]) == 0 || len(d.Users) == o.Users {
			continue
		}
		tok, err := sign(id, "EDITOR")
		if err != nil {
			return nil, err
		}
		d.Users = append(d.Users, FrontendUser{ID: id, Token: tok, Private: byUser[id]})
	}
	if len(d.Users) < o.MinUsers {
		return nil, fmt.Errorf("only %d editors own private tasks, %d needed (the seed makes seed.UserCount(tasks) users: 40 for 10,000 tasks, 20 below 5,000)",
			len(d.Users), o.MinUsers)
	}

	// Hot: the newest active public tasks, a stable set (the scenario's
	// transitions keep them active). Their titles lose the suffixes of
	// earlier runs' renames.
	rows, _ = pg.Query(ctx, `SELECT id::text, title, status IN ('READY', 'IN_PROGRESS', 'BLOCKED') FROM tasks
		WHERE visibility = 'PUBLIC' AND description <> $1 ORDER BY (status IN ('READY', 'IN_PROGRESS', 'BLOCKED')) DESC, created_at DESC, id`, FrontendMarker)
	type public struct {
		ID, Title string
		Active    bool
	}
	pubs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[public])
	if err != nil {
		return nil, fmt.Errorf("public tasks: %w", err)
	}
	for i, p := range pubs {
		switch {
		case i < o.Hot && p.Active:
			d.Hot = append(d.Hot, p.ID)
			d.HotTitles[p.ID] = revSuffix.ReplaceAllString(p.Title, "")
		case p.Active:
			d.Tail = append(d.Tail, p.ID)
			d.TailActive = append(d.TailActive, p.ID)
		default:
			d.Tail = append(d.Tail, p.ID)
		}
	}
	if len(d.Hot) < min(o.Hot, 10) || len(d.TailActive) == 0 {
		return nil, fmt.Errorf("%d hot and %d other active public tasks: too few", len(d.Hot), len(d.TailActive))
	}

	// Words in at least 2% of the titles: the common words people type.
	rows, _ = pg.Query(ctx, `SELECT w FROM tasks, regexp_split_to_table(lower(title), '\W+') AS w
		WHERE length(w) >= 4 GROUP BY w HAVING count(*) >= (SELECT count(*) / 50 FROM tasks) ORDER BY count(*) DESC, w LIMIT 40`)
	if d.Terms, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return nil, fmt.Errorf("search words: %w", err)
	}
	if len(d.Terms) < 5 {
		return nil, fmt.Errorf("only %d common words in the titles", len(d.Terms))
	}
	rows, _ = pg.Query(ctx, `SELECT t.name FROM tags t JOIN task_tags x ON x.tag_id = t.id GROUP BY t.name ORDER BY count(*) DESC, t.name LIMIT 6`)
	if d.Tags, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return nil, fmt.Errorf("tags: %w", err)
	}
	if len(d.Tags) == 0 {
		return nil, errors.New("no tags in use")
	}
	return d, nil
}

// Category is a kind of frontend request with its weight (out of the
// weights' sum).
type Category struct {
	Name   string
	Weight int
	Write  bool
}

// FrontendCategories are the scenario's request kinds: 85% reads, 15%
// writes.
var FrontendCategories = []Category{
	{"board", 240, false},       // a status board: one status, newest change first
	{"my-active", 160, false},   // my active tasks by due date
	{"detail", 250, false},      // task(id:): 80% hot, 12% tail, 6% my private tasks, 2% someone else's
	{"search", 80, false},       // searchTasks, common words
	{"nested", 120, false},      // the nested first page
	{"create", 15, true},        // a task of my own, private one time in three
	{"transition", 45, true},    // a status move among READY, IN_PROGRESS and BLOCKED
	{"edit-priority", 35, true}, // updateTask priority (one in ten on my private tasks)
	{"edit-title", 15, true},    // updateTask title
	{"tag-add", 20, true},       // addTaskTags
	{"tag-remove", 20, true},    // removeTaskTags
}

// CategoryResult is what one category saw while measured.
type CategoryResult struct {
	Name     string  `json:"name"`
	Requests int64   `json:"requests"`
	Share    float64 `json:"share"` // of all requests
	P50      float64 `json:"p50Ms"`
	P99      float64 `json:"p99Ms"`
	// Answers flagged by the response cache (extensions.responseCache).
	ResponseHits   int64 `json:"responseCacheHits"`
	ResponseMisses int64 `json:"responseCacheMisses"`
}

// Frontend is the mix-frontend scenario on one FrontendData.
type Frontend struct {
	d     *FrontendData
	cats  []Category
	total int

	tasks   map[string]*taskState // every task it reads or writes by id (not those it creates)
	created sync.Map              // id → owner of the private tasks it created
	seq     atomic.Int64          // orders write acknowledgements and read sends

	mu    sync.Mutex
	stats map[string]*catStats

	reads, writes, stale, staleTags, leaks atomic.Int64
	firstStale, firstLeak                  atomic.Pointer[string]
	n                                      atomic.Int64 // names and titles of writes
}

// taskState is what the writes of a task acknowledged.
type taskState struct {
	mu   sync.Mutex
	acks []ack // version acknowledged at seq

	// Tag writes on a task run one at a time (tagMu). Each takes a seq when
	// it is sent (tagStart) and when its answer is in (tagAck), and leaves
	// the toggled tags the task then carried (tagMask, bit i for Tags[i];
	// -1 unknown).
	tagMu            sync.Mutex
	tagStart, tagAck atomic.Int64
	tagMask          atomic.Int64
}

type ack struct{ seq, version int64 }

type catStats struct {
	lat          []time.Duration
	hits, misses int64
	measuring    bool
}

// NewFrontend returns the scenario over d, with FrontendCategories or the
// categories given (a short test weighs the writes up so that a few dozen
// requests surely hold some).
func NewFrontend(d *FrontendData, cats ...Category) *Frontend {
	if len(cats) == 0 {
		cats = FrontendCategories
	}
	f := &Frontend{d: d, cats: cats, tasks: map[string]*taskState{}, stats: map[string]*catStats{}}
	for _, c := range f.cats {
		f.total += c.Weight
		f.stats[c.Name] = &catStats{}
	}
	for _, ids := range [][]string{d.Hot, d.Tail, slices.Collect(mapKeys(d.Owners))} {
		for _, id := range ids {
			st := &taskState{}
			st.tagMask.Store(-1)
			f.tasks[id] = st
		}
	}
	return f
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Scenario returns it as a scenario of the load generator.
func (f *Frontend) Scenario(name string) Scenario {
	return Scenario{Name: name, Step: f.step, Check: f.check, Coherence: f}
}

func (f *Frontend) reset() {
	f.reads.Store(0)
	f.writes.Store(0)
	f.stale.Store(0)
	f.staleTags.Store(0)
	f.leaks.Store(0)
	f.firstStale.Store(nil)
	f.firstLeak.Store(nil)
	f.mu.Lock()
	for _, s := range f.stats {
		*s = catStats{measuring: true}
	}
	f.mu.Unlock()
}

func (f *Frontend) result() MixResult {
	r := MixResult{Reads: f.reads.Load(), Writes: f.writes.Load(), StaleReads: f.stale.Load(), StaleTagReads: f.staleTags.Load(),
		Leaks: f.leaks.Load(), Users: len(f.d.Users), HotTasks: len(f.d.Hot)}
	if s := f.firstStale.Load(); s != nil {
		r.FirstStale = *s
	}
	if s := f.firstLeak.Load(); s != nil {
		r.FirstLeak = *s
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var all int64
	for _, s := range f.stats {
		all += int64(len(s.lat))
	}
	for _, c := range f.cats {
		s := f.stats[c.Name]
		slices.Sort(s.lat)
		cr := CategoryResult{Name: c.Name, Requests: int64(len(s.lat)), P50: ms(Percentile(s.lat, 0.5)), P99: ms(Percentile(s.lat, 0.99)),
			ResponseHits: s.hits, ResponseMisses: s.misses}
		if all > 0 {
			cr.Share = float64(cr.Requests) / float64(all)
		}
		r.Categories = append(r.Categories, cr)
	}
	return r
}

func (f *Frontend) check([]byte) (string, error) {
	return fmt.Sprintf("%d users, %d hot tasks, %d categories", len(f.d.Users), len(f.d.Hot), len(f.cats)), nil
}

func (f *Frontend) pick(rng *rand.Rand) Category {
	x := rng.IntN(f.total)
	for _, c := range f.cats {
		if x < c.Weight {
			return c
		}
		x -= c.Weight
	}
	return f.cats[len(f.cats)-1]
}

// target is a write's task: the hot set mostly, the long tail sometimes.
func (f *Frontend) target(rng *rand.Rand, tail []string) string {
	if rng.IntN(100) < 85 {
		return f.d.Hot[rng.IntN(len(f.d.Hot))]
	}
	return tail[rng.IntN(len(tail))]
}

var activeStatuses = []string{"READY", "IN_PROGRESS", "BLOCKED"}

func (f *Frontend) step(ctx context.Context, c *Client, rng *rand.Rand) ([]byte, error) {
	u := &f.d.Users[rng.IntN(len(f.d.Users))]
	uc := &Client{URL: c.URL, Token: u.Token, HTTP: c.HTTP}
	cat := f.pick(rng)
	t0 := time.Now()
	var (
		body []byte
		err  error
		rc   string
	)
	if cat.Write {
		body, err = f.write(ctx, uc, u, cat.Name, rng)
	} else {
		body, rc, err = f.read(ctx, uc, u, cat.Name, rng)
	}
	if err != nil {
		return body, fmt.Errorf("%s: %w", cat.Name, err)
	}
	el := time.Since(t0)
	f.mu.Lock()
	if s := f.stats[cat.Name]; s.measuring {
		s.lat = append(s.lat, el)
		switch rc {
		case "hit":
			s.hits++
		case "miss":
			s.misses++
		}
	}
	f.mu.Unlock()
	return body, nil
}

func (f *Frontend) read(ctx context.Context, c *Client, u *FrontendUser, cat string, rng *rand.Rand) ([]byte, string, error) {
	var req Request
	field := "tasks"
	mustFind := "" // a task the answer must hold
	switch cat {
	case "board":
		// Active boards most, the others sometimes.
		st := activeStatuses[rng.IntN(len(activeStatuses))]
		if rng.IntN(5) == 0 {
			st = statuses[rng.IntN(len(statuses))]
		}
		req = Request{Query: BoardQuery, Variables: map[string]any{"status": st}}
	case "my-active":
		req = Request{Query: MyTasksQuery, Variables: map[string]any{"me": u.ID}}
	case "search":
		q := f.d.Terms[rng.IntN(len(f.d.Terms))]
		if rng.IntN(3) == 0 {
			q += " " + f.d.Terms[rng.IntN(len(f.d.Terms))]
		}
		req, field = Request{Query: FrontendSearchQuery, Variables: map[string]any{"q": q}}, "searchTasks"
	case "nested":
		req = Request{Query: FrontendNestedQuery}
	case "detail":
		var id string
		switch x := rng.IntN(100); {
		case x < 80:
			id = f.d.Hot[rng.IntN(len(f.d.Hot))]
			mustFind = id
		case x < 92:
			id = f.d.Tail[rng.IntN(len(f.d.Tail))]
			mustFind = id
		case x < 98:
			id = u.Private[rng.IntN(len(u.Private))]
			mustFind = id
		default: // someone else's private task: the answer must be null
			v := &f.d.Users[rng.IntN(len(f.d.Users))]
			id = v.Private[rng.IntN(len(v.Private))]
			if slices.Contains(f.d.Owners[id], u.ID) {
				mustFind = id
			}
		}
		req, field = Request{Query: FrontendDetailQuery, Variables: map[string]any{"id": id}}, "task"
	}
	sent := f.seq.Load() // acknowledged before this read is sent
	body, err := c.Do(ctx, req)
	if err != nil {
		return body, "", err
	}
	nodes, rc, err := decodeAnswer(body, field)
	if err != nil {
		return body, "", err
	}
	if mustFind != "" && (len(nodes) == 0 || nodes[0].ID != mustFind) {
		return body, "", fmt.Errorf("task %s that user %s may see is missing: %s", mustFind, u.ID, Snippet(body))
	}
	f.checkNodes(u, cat, nodes, sent)
	f.reads.Add(1)
	return body, rc, nil
}

// decodeAnswer returns the tasks of a read's answer that the checks look
// at (a task and its dependencies, or a page's nodes: field is "task",
// "tasks" or "searchTasks") and the response cache's verdict. One typed
// decode with go-json: the answers are read by the same two cores that run
// the server, so the checker costs as little as it can.
func decodeAnswer(body []byte, field string) ([]taskNode, string, error) {
	var r struct {
		Data struct {
			Task        *taskNode
			Tasks       *taskPage
			SearchTasks *taskPage
		}
		Extensions struct {
			ResponseCache string `json:"responseCache"`
		}
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, "", fmt.Errorf("answer: %w", err)
	}
	var nodes []taskNode
	switch page := r.Data.Tasks; field {
	case "task":
		if t := r.Data.Task; t != nil {
			nodes = append(append(nodes, *t), t.Dependencies...)
		}
	case "searchTasks":
		page = r.Data.SearchTasks
		fallthrough
	default:
		if page == nil || page.Nodes == nil {
			return nil, "", fmt.Errorf("%s: no nodes in %s", field, Snippet(body))
		}
		nodes = page.Nodes
	}
	return nodes, r.Extensions.ResponseCache, nil
}

type taskPage struct{ Nodes []taskNode }

type taskNode struct {
	ID           string
	Version      int64
	Tags         *[]name
	Dependencies []taskNode
}

// checkNodes compares each task of a read with what writes had
// acknowledged before it was sent, and with what u may see.
// Tags are compared when the task's last tag write was acknowledged before
// the read was sent and no other began until the answer was in: then the
// answer must show exactly the toggled tags that write left.
func (f *Frontend) checkNodes(u *FrontendUser, cat string, nodes []taskNode, sent int64) {
	for _, n := range nodes {
		if owners, ok := f.d.Owners[n.ID]; ok && !slices.Contains(owners, u.ID) {
			f.leak(fmt.Sprintf("%s: user %s read private task %s of %v", cat, u.ID, n.ID, owners))
		}
		if owner, ok := f.created.Load(n.ID); ok && owner.(string) != u.ID {
			f.leak(fmt.Sprintf("%s: user %s read private task %s created by %s", cat, u.ID, n.ID, owner))
		}
		st := f.tasks[n.ID]
		if st == nil {
			continue // created by the run: never written after its creation
		}
		if floor := st.floor(sent); n.Version < floor {
			f.stale.Add(1)
			s := fmt.Sprintf("%s: task %s: read version %d after version %d was acknowledged", cat, n.ID, n.Version, floor)
			f.firstStale.CompareAndSwap(nil, &s)
		}
		if n.Tags == nil {
			continue
		}
		start, acked := st.tagStart.Load(), st.tagAck.Load()
		m := st.tagMask.Load()
		if m < 0 || start > sent || acked > sent || acked < start || st.tagStart.Load() != start {
			continue // unknown, or a tag write overlapped the read
		}
		if got := f.mask(*n.Tags); got != m {
			f.staleTags.Add(1)
			s := fmt.Sprintf("%s: task %s: read tags %v (of %v) after a write left %s", cat, n.ID, *n.Tags, f.d.Tags, f.maskNames(m))
			f.firstStale.CompareAndSwap(nil, &s)
		}
	}
}

func (f *Frontend) maskNames(m int64) []string {
	var out []string
	for i, t := range f.d.Tags {
		if m&(1<<i) != 0 {
			out = append(out, t)
		}
	}
	return out
}

func (f *Frontend) leak(s string) {
	f.leaks.Add(1)
	f.firstLeak.CompareAndSwap(nil, &s)
}

// floor is the highest version acknowledged at or before seq.
func (st *taskState) floor(seq int64) int64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	var v int64
	for _, a := range st.acks {
		if a.seq <= seq && a.version > v {
			v = a.version
		}
	}
	return v
}

// acked records a write's acknowledged version.
func (f *Frontend) acked(id string, version int64) {
	st := f.tasks[id]
	if st == nil {
		return
	}
	st.mu.Lock()
	st.acks = append(st.acks, ack{f.seq.Add(1), version})
	st.mu.Unlock()
}

type writeAnswer struct {
	Data map[string]*struct {
		ID      string
		Version int64
		Tags    []name
	}
}

func (f *Frontend) write(ctx context.Context, c *Client, u *FrontendUser, cat string, rng *rand.Rand) ([]byte, error) {
	var (
		req   Request
		field string
		id    string
		st    *taskState
	)
	n := f.n.Add(1)
	switch cat {
	case "create":
		vis := "PUBLIC"
		if rng.IntN(3) == 0 {
			vis = "PRIVATE"
		}
		base := f.d.HotTitles[f.d.Hot[rng.IntN(len(f.d.Hot))]]
		input := map[string]any{"title": "Follow up: " + base, "description": FrontendMarker, "visibility": vis,
			"priority": priorities[rng.IntN(len(priorities))], "assigneeId": u.ID, "tags": []string{f.d.Tags[rng.IntN(len(f.d.Tags))]},
			"dueDate": time.Now().Add(time.Duration(1+rng.IntN(30)) * 24 * time.Hour).UTC().Format(time.RFC3339)}
		req, field = Request{Query: createMutation, Variables: map[string]any{"input": input}}, "createTask"
	case "transition":
		id = f.target(rng, f.d.TailActive)
		req, field = Request{Query: transitionMutation, Variables: map[string]any{"id": id, "status": activeStatuses[rng.IntN(len(activeStatuses))]}}, "transitionTask"
	case "edit-priority":
		id = f.target(rng, f.d.Tail)
		if rng.IntN(10) == 0 {
			id = u.Private[rng.IntN(len(u.Private))]
		}
		req, field = Request{Query: priorityMutation, Variables: map[string]any{"id": id, "priority": priorities[rng.IntN(len(priorities))]}}, "updateTask"
	case "edit-title":
		id = f.d.Hot[rng.IntN(len(f.d.Hot))]
		title := f.d.HotTitles[id] + " (rev " + strconv.FormatInt(n, 10) + ")"
		req, field = Request{Query: titleMutation, Variables: map[string]any{"id": id, "title": title}}, "updateTask"
	case "tag-add", "tag-remove":
		id = f.target(rng, f.d.Tail)
		q, fld := addTagsMutation, "addTaskTags"
		if cat == "tag-remove" {
			q, fld = removeTagsMutation, "removeTaskTags"
		}
		req, field = Request{Query: q, Variables: map[string]any{"id": id, "tags": []string{f.d.Tags[rng.IntN(len(f.d.Tags))]}}}, fld
		// One tag write per task at a time; until its answer says what
		// the task carries, the tags are unknown.
		st = f.tasks[id]
		st.tagMu.Lock()
		defer st.tagMu.Unlock()
		st.tagMask.Store(-1)
		st.tagStart.Store(f.seq.Add(1))
		defer func() { st.tagAck.Store(f.seq.Add(1)) }()
	}
	body, err := c.Do(ctx, req)
	if err != nil {
		return body, err
	}
	var r writeAnswer
	if err := json.Unmarshal(body, &r); err != nil || r.Data[field] == nil || (id != "" && r.Data[field].ID != id) {
		return body, fmt.Errorf("write answer: %v %s", err, Snippet(body))
	}
	w := r.Data[field]
	if cat == "create" {
		if req.Variables["input"].(map[string]any)["visibility"] == "PRIVATE" {
			f.created.Store(w.ID, u.ID)
		}
	} else {
		f.acked(id, w.Version)
	}
	if st != nil {
		st.tagMask.Store(f.mask(w.Tags))
	}
	f.writes.Add(1)
	return body, nil
}

// mask is the set of Tags among tags, bit i for Tags[i].
func (f *Frontend) mask(tags []name) int64 {
	var m int64
	for _, t := range tags {
		if i := slices.Index(f.d.Tags, t.Name); i >= 0 {
			m |= 1 << i
		}
	}
	return m
}
