package seed

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/herotasks/api/domain"
)

const (
	day  = 24 * time.Hour
	year = 365 * day
)

// gen generates the data of one run. Everything comes from one ChaCha8
// stream, consumed in a fixed order, so a (seed, first task number, now)
// triple always yields the same rows.
type gen struct {
	src *rand.ChaCha8
	r   *rand.Rand
	now time.Time // the run's reference "now"

	users     []userRow
	writers   []int     // indexes of users who may write (editors, admins)
	writerCum []float64 // skewed workload over writers

	tags   []tagRef
	tagIdx map[string]int
	tagCum []float64 // Zipf-like popularity over tags

	numbers []int64     // reserved task numbers, ascending
	created []time.Time // task creation times, ascending with numbers
	taskIDs []uuid.UUID // ids of the current batch's tasks so far
}

type userRow struct {
	id        uuid.UUID
	email     string
	name      string
	role      domain.Role
	createdAt time.Time
}

type tagRef struct {
	id        uuid.UUID
	name      string
	createdAt time.Time
}

// batch is the rows of a run of consecutive tasks, ready for COPY. Every
// reference in it is to a row of the same batch or to a user or tag, so a
// batch can be written in any transaction that sees the users and tags.
type batch struct {
	tasks, subtasks, taskTags, subtaskTags, deps, events [][]any
	lo, n                                                int // the batch's first task (index in the run) and size
}

func newGen(seed, firstNumber int64, now time.Time) *gen {
	var key [32]byte
	copy(key[:], "herotasks seed v1")
	binary.LittleEndian.PutUint64(key[16:], uint64(seed))
	binary.LittleEndian.PutUint64(key[24:], uint64(firstNumber))
	src := rand.NewChaCha8(key)
	return &gen{src: src, r: rand.New(src), now: now}
}

func (g *gen) uuid() uuid.UUID {
	u, err := uuid.NewRandomFromReader(g.src)
	if err != nil { // ChaCha8.Read never fails
		panic(err)
	}
	return u
}

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

func pick[T any](g *gen, s []T) T { return s[g.r.IntN(len(s))] }

// weighted is a value with a relative weight.
type weighted[T any] struct {
	v T
	w float64
}

func pickW[T any](g *gen, choices []weighted[T]) T {
	var total float64
	for _, c := range choices {
		total += c.w
	}
	x := g.r.Float64() * total
	for _, c := range choices {
		if x < c.w {
			return c.v
		}
		x -= c.w
	}
	return choices[len(choices)-1].v
}

// cumulative returns running sums of 1/(i+1)^s: a Zipf-like popularity.
func cumulative(n int, s float64) []float64 {
	cum := make([]float64, n)
	var sum float64
	for i := range cum {
		sum += 1 / math.Pow(float64(i+1), s)
		cum[i] = sum
	}
	return cum
}

func (g *gen) pickCum(cum []float64) int {
	x := g.r.Float64() * cum[len(cum)-1]
	i, _ := slices.BinarySearch(cum, x)
	return min(i, len(cum)-1)
}

// between returns a time uniformly in [lo, hi], whole seconds.
func (g *gen) between(lo, hi time.Time) time.Time {
	if !hi.After(lo) {
		return lo
	}
	return lo.Add(time.Duration(g.r.Int64N(int64(hi.Sub(lo)/time.Second)+1)) * time.Second)
}

// ---- users ----

// makeUsers creates n users: an admin, then editors and viewers. Emails
// already present (lowercased keys of taken) get a numeric suffix.
func (g *gen) makeUsers(n int, taken map[string]bool) {
	email := func(local string) string {
		for k := 1; ; k++ {
			e := local + "@herotasks.local"
			if k > 1 {
				e = fmt.Sprintf("%s%d@herotasks.local", local, k)
			}
			if !taken[e] {
				taken[e] = true
				return e
			}
		}
	}
	base := g.now.Truncate(day).Add(-400 * day)
	for i := range n {
		u := userRow{id: g.uuid(), createdAt: g.between(base, base.Add(30*day))}
		switch {
		case i == 0:
			u.name, u.role, u.email = "Hero Admin", domain.RoleAdmin, email("admin")
		default:
			first, last := pick(g, firstNames), pick(g, lastNames)
			u.name = first + " " + last
			u.email = email(asciiLower(first) + "." + asciiLower(last))
			switch {
			case i <= 4: // a few of each for sure
				u.role = domain.RoleEditor
			case i <= 6:
				u.role = domain.RoleViewer
			case g.chance(0.6):
				u.role = domain.RoleEditor
			default:
				u.role = domain.RoleViewer
			}
		}
		if u.role != domain.RoleViewer {
			g.writers = append(g.writers, i)
		}
		g.users = append(g.users, u)
	}
	g.writerCum = cumulative(len(g.writers), 0.6)
}

// asciiLower folds a name into an email local part.
func asciiLower(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r)
		case r == 'ü':
			b.WriteByte('u')
		}
	}
	return b.String()
}

func (g *gen) writer() uuid.UUID    { return g.users[g.writers[g.pickCum(g.writerCum)]].id }
func (g *gen) anyWriter() uuid.UUID { return g.users[pick(g, g.writers)].id }
func uuidOrNil(u uuid.UUID) any     { return nilIf(u == uuid.Nil, [16]byte(u)) }

// nilIf is nil (SQL NULL) when null holds, else v.
func nilIf[T any](null bool, v T) any {
	if null {
		return nil
	}
	return v
}

// ---- tags ----

// makeTags returns the tag rows to insert (ids are only used for new tags).
func (g *gen) makeTags() []tagRef {
	base := g.now.Truncate(day).Add(-380 * day)
	out := make([]tagRef, len(tagNames))
	for i, name := range tagNames {
		out[i] = tagRef{id: g.uuid(), name: name, createdAt: base.Add(time.Duration(i) * 37 * time.Minute)}
	}
	return out
}

// useTags sets the tags tasks draw from (ids as stored), in popularity order.
func (g *gen) useTags(tags []tagRef) {
	g.tags = tags
	g.tagIdx = make(map[string]int, len(tags))
	for i, t := range tags {
		g.tagIdx[t.name] = i
	}
	g.tagCum = cumulative(len(tags), 0.9)
}

// ---- task timeline ----

// makeCreated spreads n creation times over the year before now, denser
// towards now (the team grows), in working hours, mostly on weekdays.
func (g *gen) makeCreated(n int) {
	today := g.now.Truncate(day)
	first := today.Add(-year)
	span := int64(year/day) - 1 // days in [first, today-1d]
	g.created = make([]time.Time, n)
	for i := range g.created {
		d := first.Add(time.Duration(int64(math.Sqrt(g.r.Float64())*float64(span))) * day)
		if wd := d.Weekday(); (wd == time.Saturday || wd == time.Sunday) && g.chance(0.85) {
			// Most weekend work moves to a weekday of the same week.
			monday := d.Add(-time.Duration((wd+6)%7) * day)
			if w := monday.Add(time.Duration(g.r.IntN(5)) * day); !w.Before(first) {
				d = w
			}
		}
		hour := pickW(g, hourWeights)
		g.created[i] = d.Add(time.Duration(hour)*time.Hour + time.Duration(g.r.IntN(3600))*time.Second)
	}
	slices.SortFunc(g.created, func(a, b time.Time) int { return a.Compare(b) })
}

var hourWeights = []weighted[int]{
	{7, 2}, {8, 6}, {9, 10}, {10, 12}, {11, 11}, {12, 6}, {13, 9}, {14, 11}, {15, 10}, {16, 8}, {17, 5}, {18, 3}, {19, 1},
}

var typeWeights = []weighted[domain.TaskType]{
	{"FEATURE", 28}, {"BUG_FIX", 22}, {"REFACTOR", 8}, {"DOCUMENTATION", 5}, {"TEST", 7}, {"SECURITY", 4},
	{"PERFORMANCE", 5}, {"INTEGRATION", 4}, {"MIGRATION", 3}, {"MAINTENANCE", 5}, {"RESEARCH", 2},
	{"PLANNING", 1.5}, {"REVIEW", 2}, {"DEPLOYMENT", 2}, {"MONITORING", 2.5},
}

var (
	priorityNormal = []weighted[domain.TaskPriority]{{"CRITICAL", 4}, {"HIGH", 18}, {"MEDIUM", 52}, {"LOW", 26}}
	priorityUrgent = []weighted[domain.TaskPriority]{{"CRITICAL", 12}, {"HIGH", 33}, {"MEDIUM", 43}, {"LOW", 12}}
	openStatuses   = []weighted[domain.TaskStatus]{{"DRAFT", 20}, {"READY", 27}, {"IN_PROGRESS", 38}, {"BLOCKED", 15}}
	estimates      = []weighted[float64]{{0.5, 3}, {1, 8}, {2, 14}, {3, 10}, {4, 14}, {6, 8}, {8, 14}, {12, 6}, {16, 8}, {24, 5}, {40, 3}, {80, 1}}
	tagCounts      = []weighted[int]{{1, 20}, {2, 30}, {3, 25}, {4, 15}, {5, 10}}
	subtaskTagN    = []weighted[int]{{0, 30}, {1, 30}, {2, 20}, {3, 12}, {4, 8}}
)

// finalPhase is where a task in status s has got to.
func (g *gen) finalPhase(s domain.TaskStatus) domain.WorkflowPhase {
	var w []weighted[domain.WorkflowPhase]
	switch s {
	case domain.StatusDraft:
		w = []weighted[domain.WorkflowPhase]{{"AUDIT", 80}, {"DECIDE", 20}}
	case domain.StatusReady:
		w = []weighted[domain.WorkflowPhase]{{"AUDIT", 30}, {"DECIDE", 50}, {"APPLY", 20}}
	case domain.StatusInProgress:
		w = []weighted[domain.WorkflowPhase]{{"DECIDE", 15}, {"APPLY", 60}, {"VERIFY", 25}}
	case domain.StatusBlocked:
		w = []weighted[domain.WorkflowPhase]{{"DECIDE", 30}, {"APPLY", 60}, {"VERIFY", 10}}
	case domain.StatusCompleted:
		w = []weighted[domain.WorkflowPhase]{{"APPLY", 10}, {"VERIFY", 90}}
	default: // CANCELLED
		w = []weighted[domain.WorkflowPhase]{{"AUDIT", 40}, {"DECIDE", 40}, {"APPLY", 20}}
	}
	return pickW(g, w)
}

// step is one history entry after CREATED: a status or a phase change.
type step struct {
	status domain.TaskStatus    // "" for a phase change
	phase  domain.WorkflowPhase // "" for a status change
	reason string
}

// statusPath returns the initial status and the status moves that take a
// task to final, every move allowed by domain.CanMove.
func (g *gen) statusPath(final domain.TaskStatus) (domain.TaskStatus, []step) {
	initial := domain.StatusDraft
	if final != domain.StatusDraft && g.chance(0.4) {
		initial = domain.StatusReady
	}
	var path []step
	cur := initial
	to := func(s domain.TaskStatus, reason string) {
		path = append(path, step{status: s, reason: reason})
		cur = s
	}
	work := func() { // get the task under way, with the odd hold-up
		if cur == domain.StatusDraft && g.chance(0.75) {
			to(domain.StatusReady, "")
		}
		to(domain.StatusInProgress, "")
		if g.chance(0.2) {
			to(domain.StatusBlocked, pick(g, blockedReasons))
			to(domain.StatusInProgress, "")
		}
	}
	switch final {
	case domain.StatusReady:
		if cur == domain.StatusDraft {
			to(domain.StatusReady, "")
		}
	case domain.StatusInProgress:
		work()
	case domain.StatusBlocked:
		if cur == domain.StatusReady && g.chance(0.3) {
			to(domain.StatusBlocked, pick(g, blockedReasons))
			break
		}
		work()
		to(domain.StatusBlocked, pick(g, blockedReasons))
	case domain.StatusCompleted:
		work()
		to(domain.StatusCompleted, "")
		if g.chance(0.04) {
			to(domain.StatusInProgress, pick(g, reopenReasons))
			to(domain.StatusCompleted, "")
		}
	case domain.StatusCancelled:
		if cur == domain.StatusDraft && g.chance(0.5) {
			to(domain.StatusReady, "")
		}
		if g.chance(0.3) {
			to(domain.StatusInProgress, "")
		}
		to(domain.StatusCancelled, pick(g, cancelReasons))
	}
	return initial, path
}

// history merges the status moves with the phase steps from AUDIT to
// phase. Phases only move while the task is open, so when the task ends
// closed every phase step comes before its first closing move.
func (g *gen) history(statuses []step, phase domain.WorkflowPhase) []step {
	var phases []step
	for _, p := range domain.WorkflowPhases[1 : slices.Index(domain.WorkflowPhases, phase)+1] {
		phases = append(phases, step{phase: p})
	}
	tail := len(statuses)
	for i, s := range statuses {
		if !s.status.Open() {
			tail = i
			break
		}
	}
	head := statuses[:tail]
	out := make([]step, 0, len(statuses)+len(phases))
	for len(head) > 0 || len(phases) > 0 {
		if len(phases) > 0 && (len(head) == 0 || g.r.IntN(len(head)+len(phases)) < len(phases)) {
			out, phases = append(out, phases[0]), phases[1:]
		} else {
			out, head = append(out, head[0]), head[1:]
		}
	}
	return append(out, statuses[tail:]...)
}

// times returns n strictly increasing whole-second times in (lo, hi].
func (g *gen) times(n int, lo, hi time.Time) []time.Time {
	secs := max(int64(hi.Sub(lo)/time.Second), int64(n))
	out := make([]time.Time, n)
	offs := make([]int64, n)
	for i := range offs {
		offs[i] = 1 + g.r.Int64N(secs)
	}
	slices.Sort(offs)
	for i := range offs {
		if i > 0 && offs[i] <= offs[i-1] {
			offs[i] = offs[i-1] + 1
		}
		out[i] = lo.Add(time.Duration(offs[i]) * time.Second)
	}
	return out
}

func roundQuarter(h float64) float64 { return max(0.25, math.Round(h*4)/4) }

// ---- tasks ----

// makeBatch generates tasks [lo, hi) of the run.
func (g *gen) makeBatch(lo, hi int) *batch {
	b := &batch{lo: lo, n: hi - lo}
	g.taskIDs = g.taskIDs[:0]
	n := hi - lo
	b.tasks = make([][]any, 0, n)
	b.subtasks = make([][]any, 0, 5*n)
	b.taskTags = make([][]any, 0, 3*n)
	b.subtaskTags = make([][]any, 0, 7*n)
	b.events = make([][]any, 0, 5*n)
	for i := lo; i < hi; i++ {
		g.task(i, b)
	}
	return b
}

func (g *gen) task(i int, b *batch) {
	id := g.uuid()
	tid := [16]byte(id)
	g.taskIDs = append(g.taskIDs, id)
	created := g.created[i]
	now := g.now

	typ := pickW(g, typeWeights)
	comp := pick(g, components)
	feature := pick(g, features)
	title := g.title(typ, comp, feature)
	desc := g.description(i, typ, comp, feature)
	prio := pickW(g, priorityNormal)
	if typ == "BUG_FIX" || typ == "SECURITY" {
		prio = pickW(g, priorityUrgent)
	}
	vis := domain.VisibilityPublic
	if g.chance(0.05) {
		vis = domain.VisibilityPrivate
	}

	// Old tasks are mostly closed, recent ones mostly open.
	age := float64(now.Sub(created)) / float64(year)
	var status domain.TaskStatus
	switch {
	case !g.chance(max(0.08, 0.85-1.6*age)):
		status = domain.StatusCompleted
		if g.chance(0.12) {
			status = domain.StatusCancelled
		}
	default:
		status = pickW(g, openStatuses)
	}
	phase := g.finalPhase(status)
	initial, moves := g.statusPath(status)
	steps := g.history(moves, phase)

	// Closed tasks close after a log-normal time (median 3 days); open ones
	// have seen activity up to some point before now.
	avail := now.Add(-time.Minute).Sub(created)
	var end time.Time
	if status.Open() {
		end = created.Add(time.Duration((0.3 + 0.7*g.r.Float64()) * float64(avail)))
	} else {
		d := time.Duration(math.Exp(math.Log(72)+1.1*g.r.NormFloat64()) * float64(time.Hour))
		end = created.Add(min(max(d, 2*time.Hour), avail))
	}
	at := g.times(len(steps), created, end)

	createdBy := g.anyWriter()
	var assignee uuid.UUID
	if g.chance(0.8) {
		assignee = g.writer()
	}
	actor := func() uuid.UUID {
		if assignee != uuid.Nil && g.chance(0.7) {
			return assignee
		}
		return g.anyWriter()
	}

	// History: CREATED, then the steps.
	b.events = append(b.events, []any{tid, [16]byte(createdBy), "CREATED", nil, string(initial), nil, "AUDIT", nil, created, nil, nil, nil, nil})
	var startedAt, completedAt time.Time
	curStatus, curPhase := initial, domain.PhaseAudit
	for k, s := range steps {
		reason := nilIf(s.reason == "", s.reason)
		if s.status != "" {
			b.events = append(b.events, []any{tid, [16]byte(actor()), "STATUS_CHANGED", string(curStatus), string(s.status), nil, nil, reason, at[k], nil, nil, nil, nil})
			curStatus = s.status
			if s.status == domain.StatusInProgress && startedAt.IsZero() {
				startedAt = at[k]
			}
			if s.status == domain.StatusCompleted {
				completedAt = at[k]
			}
		} else {
			b.events = append(b.events, []any{tid, [16]byte(actor()), "PHASE_CHANGED", nil, nil, string(curPhase), string(s.phase), reason, at[k], nil, nil, nil, nil})
			curPhase = s.phase
		}
	}
	updated := created
	if len(at) > 0 {
		updated = at[len(at)-1]
	}
	version := 1 + len(steps)
	edits := 0
	if g.chance(0.3) { // later edits: title, due date, estimate...
		edits = 1 + g.r.IntN(3)
		version += edits
		hi := updated.Add(2 * day)
		if limit := now.Add(-time.Minute); hi.After(limit) {
			hi = limit
		}
		updated = g.between(updated, hi)
	}

	// Due dates: days to weeks after creation; most open tasks have been
	// rescheduled to the coming weeks, the rest are overdue.
	var due any
	if g.chance(0.85) {
		from, days := created.Truncate(day), 2+int(58*math.Pow(g.r.Float64(), 2))
		if status.Open() && g.chance(0.7) {
			from, days = now.Truncate(day), g.r.IntN(45)
		}
		due = from.Add(time.Duration(days)*day + 17*time.Hour)
	}
	var est, act any
	estimate := 0.0
	if g.chance(0.9) {
		estimate = pickW(g, estimates)
		est = estimate
	}
	if estimate == 0 {
		estimate = pickW(g, estimates)
	}
	switch status {
	case domain.StatusCompleted:
		if g.chance(0.9) {
			act = roundQuarter(estimate * math.Exp(0.35*g.r.NormFloat64()+0.1))
		}
	case domain.StatusInProgress, domain.StatusBlocked, domain.StatusCancelled:
		if g.chance(0.4) {
			act = roundQuarter(estimate * g.r.Float64())
		}
	}

	// The later edits in the history: the due date, then the estimate,
	// then the priority, set at the last update.
	for k, f := range []string{"dueDate", "estimatedHours", "priority"}[:edits] {
		var v any
		switch f {
		case "dueDate":
			if t, ok := due.(time.Time); ok {
				v = t.UTC().Format(time.RFC3339Nano)
			}
		case "estimatedHours":
			if e, ok := est.(float64); ok {
				v = strconv.FormatFloat(e, 'f', -1, 64)
			}
		default:
			v = string(prio)
		}
		b.events = append(b.events, []any{tid, [16]byte(actor()), "FIELD_CHANGED", nil, nil, nil, nil, nil,
			updated.Add(-time.Duration(edits-k) * time.Second), f, nil, v, nil})
	}

	// Subtasks: 3 to 7, their statuses following the task's.
	nsub := 3 + g.r.IntN(5)
	b.tasks = append(b.tasks, []any{
		tid, g.numbers[i], title, desc, string(status), string(prio), string(typ), string(phase), string(vis),
		due, nilIf(startedAt.IsZero(), startedAt), nilIf(completedAt.IsZero(), completedAt), est, act,
		uuidOrNil(assignee), [16]byte(createdBy), version, nsub, created, updated,
	})

	taskTags := g.taskTags(typ, comp)
	for _, t := range taskTags {
		b.taskTags = append(b.taskTags, []any{tid, [16]byte(g.tags[t].id), created})
	}

	limit := now.Add(-time.Minute)
	if !completedAt.IsZero() {
		limit = completedAt
	} else if status == domain.StatusCancelled {
		limit = end
	}
	g.subtasks(b, id, status, prio, created, limit, nsub, taskTags)

	// Dependencies on recent earlier tasks of the same batch: never a
	// cycle, and always in the transaction that writes the batch.
	if i > b.lo && g.chance(0.3) {
		k := 1
		if g.chance(0.3) {
			k = 2
		}
		lo := max(b.lo, i-300)
		var deps []int
		for len(deps) < min(k, i-lo) {
			j := lo + g.r.IntN(i-lo)
			if !slices.Contains(deps, j) {
				deps = append(deps, j)
			}
		}
		for _, j := range deps {
			b.deps = append(b.deps, []any{tid, [16]byte(g.taskIDs[j-b.lo]), created})
		}
	}
}

// taskTags picks 1 to 5 distinct tags: often the component's area and the
// type's tag, the rest by popularity.
func (g *gen) taskTags(typ domain.TaskType, comp component) []int {
	n := pickW(g, tagCounts)
	out := make([]int, 0, n)
	add := func(name string) {
		if t, ok := g.tagIdx[name]; ok && len(out) < n && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if g.chance(0.7) {
		add(comp.tag)
	}
	if g.chance(0.4) {
		add(typeTags[string(typ)])
	}
	for len(out) < n {
		if t := g.pickCum(g.tagCum); !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func (g *gen) subtasks(b *batch, taskID uuid.UUID, status domain.TaskStatus, prio domain.TaskPriority,
	created, limit time.Time, n int, taskTags []int) {
	// Titles: n distinct steps, in the order work happens.
	idx := g.r.Perm(len(subtaskSteps))[:n]
	slices.Sort(idx)

	// Statuses by position.
	st := make([]domain.TaskStatus, n)
	done := g.r.IntN(n) // subtasks finished before the current one
	for p := range st {
		switch status {
		case domain.StatusCompleted:
			st[p] = domain.StatusCompleted
			if g.chance(0.04) {
				st[p] = domain.StatusCancelled
			}
		case domain.StatusCancelled:
			switch {
			case p < done:
				st[p] = domain.StatusCompleted
			case g.chance(0.6):
				st[p] = domain.StatusCancelled
			default:
				st[p] = domain.StatusDraft
			}
		case domain.StatusInProgress, domain.StatusBlocked:
			switch {
			case p < done:
				st[p] = domain.StatusCompleted
			case p == done && status == domain.StatusBlocked:
				st[p] = domain.StatusBlocked
			case p == done:
				st[p] = domain.StatusInProgress
			case g.chance(0.6):
				st[p] = domain.StatusReady
			default:
				st[p] = domain.StatusDraft
			}
		case domain.StatusReady:
			st[p] = domain.StatusReady
			if g.chance(0.3) {
				st[p] = domain.StatusDraft
			}
		default:
			st[p] = domain.StatusDraft
		}
	}

	// Mostly created with the task; completions spread up to limit.
	screated := g.between(created, created.Add(min(2*day, limit.Sub(created)/2)))
	finish := g.times(n, screated, limit)

	// Positions follow numbers, except where someone reordered two.
	pos := make([]int, n)
	for p := range pos {
		pos[p] = p
	}
	if g.chance(0.1) {
		p := g.r.IntN(n - 1)
		pos[p], pos[p+1] = pos[p+1], pos[p]
	}

	for k := range n {
		id := g.uuid()
		p := pos[k]
		s := st[p]
		sprio := prio
		if g.chance(0.4) {
			sprio = pickW(g, priorityNormal)
		}
		desc := ""
		if g.chance(0.5) {
			desc = pick(g, subtaskNotes)
		}
		var completed any
		updated := screated
		version := 1
		if s != domain.StatusDraft {
			version++
		}
		if s == domain.StatusCompleted {
			completed, updated = finish[p], finish[p]
		} else if s != domain.StatusDraft {
			updated = g.between(screated, finish[p])
		}
		b.subtasks = append(b.subtasks, []any{[16]byte(id), [16]byte(taskID), k + 1, subtaskSteps[idx[k]], desc,
			string(s), string(sprio), p, version, completed, screated, updated})
		// Its history, on its task: added, and each change of status.
		b.events = append(b.events, []any{[16]byte(taskID), nil, "SUBTASK_ADDED", nil, nil, nil, nil, nil, screated,
			nil, nil, subtaskSteps[idx[k]], [16]byte(id)})
		if s != domain.StatusDraft {
			b.events = append(b.events, []any{[16]byte(taskID), nil, "SUBTASK_CHANGED", nil, nil, nil, nil, nil, updated,
				"status", string(domain.StatusDraft), string(s), [16]byte(id)})
		}

		// 0 to 4 tags, half of them inherited from the task.
		m := pickW(g, subtaskTagN)
		var tags []int
		for len(tags) < m {
			t := g.pickCum(g.tagCum)
			if g.chance(0.5) {
				t = pick(g, taskTags)
			}
			if !slices.Contains(tags, t) {
				tags = append(tags, t)
			}
		}
		for _, t := range tags {
			b.subtaskTags = append(b.subtaskTags, []any{[16]byte(id), [16]byte(g.tags[t].id), screated})
		}
	}
}

// ---- text ----

func capitalize(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

func (g *gen) title(typ domain.TaskType, c component, feature string) string {
	C := c.name
	var t string
	switch typ {
	case "FEATURE":
		switch g.r.IntN(3) {
		case 0:
			t = fmt.Sprintf("Add %s to the %s", feature, C)
		case 1:
			t = fmt.Sprintf("Support %s in the %s", feature, C)
		default:
			t = fmt.Sprintf("%s: %s", capitalize(C), feature)
		}
	case "BUG_FIX":
		switch g.r.IntN(3) {
		case 0:
			t = fmt.Sprintf("Fix %s in %s %s", pick(g, bugs), C, pick(g, bugPlaces))
		case 1:
			t = fmt.Sprintf("%s returns 500 when %s", capitalize(C), pick(g, bugConditions))
		default:
			t = fmt.Sprintf("Fix %s in the %s", pick(g, bugs), C)
		}
	case "REFACTOR":
		switch g.r.IntN(3) {
		case 0:
			t = fmt.Sprintf("Refactor the %s to use %s", C, pick(g, patterns))
		case 1:
			t = fmt.Sprintf("Extract %s from the %s", pick(g, extractables), C)
		default:
			t = fmt.Sprintf("Remove dead code from the %s", C)
		}
	case "DOCUMENTATION":
		if g.chance(0.7) {
			t = fmt.Sprintf("Document %s %s", C, pick(g, docThings))
		} else {
			t = fmt.Sprintf("Write an ADR for the %s redesign", C)
		}
	case "TEST":
		t = pick(g, []string{"Add integration tests for the %s", "Fix flaky test in the %s",
			"Increase test coverage of the %s", "Add a load test for the %s", "Add contract tests for the %s"})
		t = fmt.Sprintf(t, C)
	case "SECURITY":
		switch g.r.IntN(4) {
		case 0:
			t = fmt.Sprintf("Rotate %s used by the %s", pick(g, secrets), C)
		case 1:
			t = fmt.Sprintf("Patch %s in the %s", pick(g, cves), C)
		case 2:
			t = fmt.Sprintf("Audit the %s for injection flaws", C)
		default:
			t = fmt.Sprintf("Enforce least-privilege access for the %s", C)
		}
	case "PERFORMANCE":
		t = pick(g, []string{"Reduce p99 latency of the %s", "Cache hot reads in the %s", "Add a missing index for %s queries",
			"Batch database writes in the %s", "Cut memory usage of the %s by 30%%", "Profile the CPU hot path in the %s"})
		t = fmt.Sprintf(t, C)
	case "INTEGRATION":
		if g.chance(0.6) {
			t = fmt.Sprintf("Integrate the %s with %s", C, pick(g, vendors))
		} else {
			t = fmt.Sprintf("Sync %s events to %s", C, pick(g, vendors))
		}
	case "MIGRATION":
		m := pick(g, migrations)
		t = fmt.Sprintf("Migrate the %s from %s to %s", C, m[0], m[1])
	case "MAINTENANCE":
		switch g.r.IntN(3) {
		case 0:
			t = fmt.Sprintf("Upgrade %s in the %s", pick(g, upgrades), C)
		case 1:
			t = fmt.Sprintf("Clean up stale feature flags in the %s", C)
		default:
			t = fmt.Sprintf("Remove deprecated endpoints from the %s", C)
		}
	case "RESEARCH":
		t = fmt.Sprintf("Evaluate %s for the %s", pick(g, techs), C)
	case "PLANNING":
		t = pick(g, []string{"Plan the Q%d roadmap for the %s", "Estimate the %[2]s rewrite (Q%[1]d)", "Define SLOs for the %[2]s in Q%[1]d"})
		t = fmt.Sprintf(t, 1+g.r.IntN(4), C)
	case "REVIEW":
		t = pick(g, []string{"Review the %s design doc", "Security review of the %s", "Post-incident review: %s outage", "Review the error budget of the %s"})
		t = fmt.Sprintf(t, C)
	case "DEPLOYMENT":
		if g.chance(0.6) {
			t = fmt.Sprintf("Roll out %s v%d.%d to %s", C, 1+g.r.IntN(4), g.r.IntN(10), pick(g, envs))
		} else {
			t = fmt.Sprintf("Canary deploy the %s to %s", C, pick(g, envs))
		}
	default: // MONITORING
		switch g.r.IntN(3) {
		case 0:
			t = fmt.Sprintf("Add alerting on %s %s", C, pick(g, metricsNames))
		case 1:
			t = fmt.Sprintf("Create a Grafana dashboard for the %s", C)
		default:
			t = fmt.Sprintf("Add tracing to the %s", C)
		}
	}
	return capitalize(t)
}

// description is 1 to 3 sentences with a little Markdown.
func (g *gen) description(i int, typ domain.TaskType, c component, feature string) string {
	var context string
	switch {
	case typ == "BUG_FIX" && g.chance(0.3):
		context = fmt.Sprintf("Sentry shows **%d** occurrences of this error in the last week.", 3+g.r.IntN(2000))
	case typ == "BUG_FIX":
		context = fmt.Sprintf("Customers report that the `%s` %s.", c.name, pick(g, symptoms))
	case typ == "FEATURE" && g.chance(0.5):
		context = fmt.Sprintf("Users have asked for %s in the %s; this unblocks the **%s** initiative.",
			feature, c.name, pick(g, initiatives))
	default:
		context = fmt.Sprintf("The `%s` currently %s.", c.name, pick(g, limitations))
	}
	parts := []string{context}
	n := pickW(g, []weighted[int]{{1, 30}, {2, 45}, {3, 25}})
	if n >= 2 {
		switch g.r.IntN(3) {
		case 0:
			parts = append(parts, fmt.Sprintf("Proposed approach: %s.", pick(g, approaches)))
		case 1:
			parts = append(parts, fmt.Sprintf("See [the runbook](https://wiki.herotasks.local/runbooks/%s) for the current procedure.", c.tag))
		default:
			if i > 0 {
				parts = append(parts, fmt.Sprintf("Related to %s.", domain.FormatTaskNumber(g.numbers[g.r.IntN(i)])))
			} else {
				parts = append(parts, fmt.Sprintf("Proposed approach: %s.", pick(g, approaches)))
			}
		}
	}
	if n >= 3 {
		if g.chance(0.6) {
			parts = append(parts, fmt.Sprintf("**Done when:** %s.", pick(g, doneWhen)))
		} else {
			a := g.r.Perm(len(checklist))
			parts = append(parts, fmt.Sprintf("\n\n- [ ] %s\n- [ ] %s", checklist[a[0]], checklist[a[1]]))
		}
	}
	return strings.Replace(strings.Join(parts, " "), " \n\n", "\n\n", 1)
}
