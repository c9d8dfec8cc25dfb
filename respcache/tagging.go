package respcache

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/herotasks/api/domain"
)

// Tags of the data a response can depend on (see the package comment).
const (
	tagTasks = "tasks" // every list, count and search: replaced only by a write of unknown effect
	tagTags  = "tags"  // the list of tags
)

func taskTag(id string) string    { return "t:" + id }
func rowTag(id string) string     { return "r:" + id } // the row's own fields, which tag, subtask and link writes leave
func subtaskTag(id string) string { return "s:" + id }
func seqTag(seq int64) string     { return "n:" + strconv.FormatInt(seq, 10) }

func prefixed(prefix string, ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = prefix + id
	}
	return out
}

// Audiences. A task is seen by admins ("all"), and by everyone when public
// ("pub"), else by its creator and its assignee ("u:<id>"). A list depends
// only on the tasks of its viewer's audiences, so a write of a private task
// leaves every other user's lists alone (domain.Audiences,
// domain.ViewerAudiences).

func viewerAudiences(v domain.Viewer, only *domain.Visibility) []string {
	switch {
	case only != nil && *only == domain.VisibilityPublic:
		return []string{"pub"}
	case only != nil && *only == domain.VisibilityPrivate && !v.IsAdmin() && !v.Anonymous():
		return []string{"u:" + v.UserID}
	}
	return domain.ViewerAudiences(v)
}

// Partitions. Within an audience a list is tagged by the narrowest
// equality of its filter: its assignee ("as:<id>", "as:-" unassigned), its
// creator ("cb:<id>"), its statuses ("st:<s>" each), any tag membership
// ("tg"), or none (the whole audience). Beside a partition's own tag,
// which a task entering or leaving it replaces, each partition has a tag
// per field the rest of a filter may test ("|f:priority"...) and per sort
// key ("|o:DUE_DATE"...): a list records its partitions, the fields its
// filter tests beyond them and its order's key, and a write of a task that
// stays in a partition replaces only the tags of the fields and keys it
// changed. So a list whose filter the task neither left nor entered, and
// whose order it did not move, keeps its entry: a priority edit leaves "my
// active tasks by due date" in place. The rows on a list's page are read
// again under their row tags ("r:"), which every write of the row's fields
// replaces; what hangs off them (tags, subtasks, users) by their own tags.

func listTag(audience, dim string) string {
	if dim == "" {
		return "l:" + audience
	}
	return "l:" + audience + ":" + dim
}

func orDash(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

// partitionsOf returns the list tags a task state is in.
func partitionsOf(t *domain.Task) []string {
	dims := []string{"", "tg", "as:" + orDash(t.AssigneeID), "cb:" + orDash(t.CreatedByID), "st:" + string(t.Status)}
	var out []string
	for _, a := range domain.Audiences(t) {
		for _, d := range dims {
			out = append(out, listTag(a, d))
		}
	}
	return out
}

// The fields a filter may test beyond its partition, each with a tag per
// partition (fieldTag).
const (
	fieldStatus     = "status"
	fieldActive     = "active" // whether the status is an active one
	fieldPriority   = "priority"
	fieldType       = "type"
	fieldPhase      = "phase"
	fieldDue        = "due"
	fieldAssignee   = "assignee"
	fieldCreatedBy  = "createdBy"
	fieldVisibility = "visibility"
)

func fieldTag(partition, field string) string                   { return partition + "|f:" + field }
func orderTag(partition string, f domain.TaskOrderField) string { return partition + "|o:" + string(f) }

// listTags returns the tags a list over filter f for v depends on, in the
// order o (nil: a count, which no order moves); ok is false when its
// answer moves with the clock.
func listTags(v domain.Viewer, f domain.TaskFilter, tagID string, o *domain.TaskOrder) (tags []string, ok bool) {
	if f.Overdue != nil {
		return nil, false // due_date < now(): changes without a write
	}
	var dims []string
	var fields []string // what the filter tests that its partitions do not hold
	// An active-only filter has a tag of its own: a move between two
	// active statuses leaves "my active tasks" as they were.
	status, active := len(f.Status) > 0, f.Active != nil && len(f.Status) == 0
	assignee := f.AssigneeID != nil || f.Unassigned != nil
	switch {
	case f.Tag != nil || tagID != "":
		// first: a tag write changes no row, and replaces only "tg"
		dims = []string{"tg"}
	case f.AssigneeID != nil:
		dims, assignee = []string{"as:" + *f.AssigneeID}, false
	case f.Unassigned != nil && *f.Unassigned:
		dims, assignee = []string{"as:-"}, false
	case f.CreatedByID != nil:
		dims = []string{"cb:" + *f.CreatedByID}
	default:
		if sts, narrowed := statuses(f); narrowed {
			for _, s := range sts {
				dims = append(dims, "st:"+string(s))
			}
		} else {
			dims = []string{""}
		}
		status, active = false, false // the status partitions hold it
	}
	for _, c := range []struct {
		tests bool
		field string
	}{{status, fieldStatus}, {active, fieldActive}, {len(f.Priority) > 0, fieldPriority}, {len(f.Type) > 0, fieldType},
		{len(f.Phase) > 0, fieldPhase}, {f.DueBefore != nil || f.DueAfter != nil, fieldDue}, {assignee, fieldAssignee},
		{f.CreatedByID != nil && !strings.HasPrefix(dims[0], "cb:"), fieldCreatedBy}, {f.Visibility != nil, fieldVisibility}} {
		if c.tests {
			fields = append(fields, c.field)
		}
	}
	tags = partitionTags(v, f.Visibility, dims...)
	for _, p := range tags[1:] {
		for _, field := range fields {
			tags = append(tags, fieldTag(p, field))
		}
		if o != nil {
			field := o.Field
			if !field.Valid() {
				field = domain.DefaultTaskOrder.Field
			}
			tags = append(tags, orderTag(p, field))
		}
	}
	return tags, true
}

// partitionTags returns "tasks" and the list tags of dims in each of v's
// audiences (narrowed by a visibility filter, when given).
func partitionTags(v domain.Viewer, only *domain.Visibility, dims ...string) []string {
	tags := []string{tagTasks}
	for _, a := range viewerAudiences(v, only) {
		for _, d := range dims {
			tags = append(tags, listTag(a, d))
		}
	}
	return tags
}

// statuses returns the statuses a filter admits, and whether that is fewer
// than all.
func statuses(f domain.TaskFilter) ([]domain.TaskStatus, bool) {
	all := domain.TaskStatuses
	var out []domain.TaskStatus
	for _, s := range all {
		if len(f.Status) > 0 && !slices.Contains(f.Status, s) {
			continue
		}
		if f.Active != nil && s.Active() != *f.Active {
			continue
		}
		out = append(out, s)
	}
	return out, len(out) < len(all)
}

// searchTag covers which tasks a search of an audience matches and in
// what order: their text, and who may see them.
func searchTag(audience string) string { return "q:" + audience }

func searchTags(v domain.Viewer) []string {
	tags := []string{tagTasks}
	for _, a := range viewerAudiences(v, nil) {
		tags = append(tags, searchTag(a))
	}
	return tags
}

// Tagging decorates a store: each read first records the tags it depends on
// (for an operation whose response may be stored), each write replaces the
// tokens of the tags it changed, after the inner store returns (after the
// commit and the entity cache's invalidation) and before the mutation's
// response is sent. Every read and write of domain.Store is listed here, so
// a new method fails to compile until its tags are decided.
func Tagging(s domain.Store, c *Cache) domain.Store { return &tagging{s: s, c: c} }

type tagging struct {
	s domain.Store
	c *Cache
}

func observe(ctx context.Context, tags ...string) { recorderFrom(ctx).observe(ctx, tags...) }

// observeIDs observes prefix+id for each id; an operation that is not
// recorded (admission sent it around the cache) builds no tags.
func observeIDs(ctx context.Context, prefix string, ids []string) {
	if r := recorderFrom(ctx); r != nil {
		r.observe(ctx, prefixed(prefix, ids)...)
	}
}

// uncacheable keeps the operation's response out of the cache.
func uncacheable(ctx context.Context) {
	if r := recorderFrom(ctx); r != nil {
		r.mu.Lock()
		r.failed = true
		r.mu.Unlock()
	}
}

// Reads.

func (t *tagging) TasksByIDs(ctx context.Context, ids []string) ([]*domain.Task, error) {
	observeIDs(ctx, "t:", ids)
	return t.s.TasksByIDs(ctx, ids)
}

// refresh re-reads tasks whose ids a read only learned from its answer,
// after taking their tags: the rows then hold every write whose
// invalidation came before the tags were taken, and a later one replaces
// a tag the response was stored with. A task gone since is dropped (nil).
func (t *tagging) refresh(ctx context.Context, tasks []*domain.Task) ([]*domain.Task, error) {
	return t.refreshUnder(ctx, tasks, "t:")
}

// refreshUnder is refresh under the tags prefix+id: "t:" covers a row and
// what hangs off it (tags, subtasks, links), "r:" the row's own fields.
func (t *tagging) refreshUnder(ctx context.Context, tasks []*domain.Task, prefix string) ([]*domain.Task, error) {
	if recorderFrom(ctx) == nil || len(tasks) == 0 {
		return tasks, nil
	}
	ids := make([]string, 0, len(tasks))
	for _, x := range tasks {
		if x != nil && !slices.Contains(ids, x.ID) {
			ids = append(ids, x.ID)
		}
	}
	// Tokens the lookup read came before the operation began, so before
	// these rows were read: the rows are already as new as the tokens.
	again := !recorderFrom(ctx).pretakenAll(prefix, ids)
	observeIDs(ctx, prefix, ids)
	if !again {
		return tasks, nil
	}
	fresh, err := t.s.TasksByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*domain.Task, len(fresh))
	for _, x := range fresh {
		if x != nil {
			byID[x.ID] = x
		}
	}
	out := make([]*domain.Task, len(tasks))
	for i, x := range tasks {
		if x != nil {
			out[i] = byID[x.ID]
		}
	}
	return out, nil
}

func (t *tagging) UsersByIDs(ctx context.Context, ids []string) ([]*domain.User, error) {
	observeIDs(ctx, "u:", ids)
	return t.s.UsersByIDs(ctx, ids)
}

func (t *tagging) SubtasksByTaskIDs(ctx context.Context, taskIDs []string, limit *int) ([]*domain.Subtask, error) {
	observeIDs(ctx, "t:", taskIDs)
	return t.s.SubtasksByTaskIDs(ctx, taskIDs, limit)
}

// SubtasksOfTasks depends on each task's subtask list, which a subtask
// write replaces under the task's tag, as SubtasksByTaskIDs does; the rows
// are re-read after their tags are taken, as in TagsOfTasks.
func (t *tagging) SubtasksOfTasks(ctx context.Context, tasks []*domain.Task, limit *int) ([]*domain.Subtask, error) {
	fresh, err := t.refreshRows(ctx, tasks) // the rows may carry subtask ids (see TagsOfTasks)
	if err != nil {
		return nil, err
	}
	return t.s.SubtasksOfTasks(ctx, fresh, limit)
}

func (t *tagging) SubtasksByIDs(ctx context.Context, ids []string) ([]*domain.Subtask, error) {
	observeIDs(ctx, "s:", ids)
	return t.s.SubtasksByIDs(ctx, ids)
}

func (t *tagging) TagsByIDs(ctx context.Context, ids []string) ([]*domain.Tag, error) {
	observeIDs(ctx, "g:", ids)
	return t.s.TagsByIDs(ctx, ids)
}

func (t *tagging) TagsByTaskIDs(ctx context.Context, taskIDs []string) ([]domain.Link[*domain.Tag], error) {
	observeIDs(ctx, "t:", taskIDs)
	return t.s.TagsByTaskIDs(ctx, taskIDs)
}

func (t *tagging) TasksWithChildren(ctx context.Context, ids []string) ([]*domain.Task, error) {
	observeIDs(ctx, "t:", ids)
	return t.s.TasksWithChildren(ctx, ids)
}

// TagsOfTasks depends on each task's tag set, which a tag write replaces
// under the task's tag, as TagsByTaskIDs does. The rows may carry their tag
// ids, and they may have been read before their tags were taken (a list's
// rows are covered by its partitions, which a tag write leaves alone): a
// recorded read re-reads them after taking their tags (refresh), so a tag
// written in between is either in the rows or replaces a tag the response
// is stored with.
func (t *tagging) TagsOfTasks(ctx context.Context, tasks []*domain.Task) ([]domain.Link[*domain.Tag], error) {
	fresh, err := t.refreshRows(ctx, tasks)
	if err != nil {
		return nil, err
	}
	return t.s.TagsOfTasks(ctx, fresh)
}

// refreshRows re-reads rows after taking their tasks' tags when the read
// is recorded (see TagsOfTasks), leaving out a task gone since.
func (t *tagging) refreshRows(ctx context.Context, tasks []*domain.Task) ([]*domain.Task, error) {
	if recorderFrom(ctx) == nil {
		return tasks, nil
	}
	fresh, err := t.refresh(ctx, tasks)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(fresh, func(x *domain.Task) bool { return x == nil }), nil
}

// TagsOfSubtasks depends on each subtask's tag set, replaced under the
// subtask's tag as for TagsBySubtaskIDs.
func (t *tagging) TagsOfSubtasks(ctx context.Context, subtasks []*domain.Subtask) ([]domain.Link[*domain.Tag], error) {
	if recorderFrom(ctx) == nil {
		return t.s.TagsOfSubtasks(ctx, subtasks)
	}
	// The rows carry their tag ids and were read before these tags were
	// taken: read again after (see TagsOfTasks).
	ids := make([]string, 0, len(subtasks))
	for _, st := range subtasks {
		if !slices.Contains(ids, st.ID) {
			ids = append(ids, st.ID)
		}
	}
	fresh, err := t.SubtasksByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	return t.s.TagsOfSubtasks(ctx, fresh)
}

func (t *tagging) TagsBySubtaskIDs(ctx context.Context, subtaskIDs []string) ([]domain.Link[*domain.Tag], error) {
	observeIDs(ctx, "s:", subtaskIDs)
	return t.s.TagsBySubtaskIDs(ctx, subtaskIDs)
}

// The dependency lists are the task's ("t:<id>": every link write replaces
// both tasks' tags); the other tasks' rows, whose ids only the read says,
// are read again under their own tags.

func (t *tagging) DependenciesByTaskIDs(ctx context.Context, taskIDs []string) ([]domain.Link[*domain.Task], error) {
	observeIDs(ctx, "t:", taskIDs)
	return t.refreshLinks(ctx)(t.s.DependenciesByTaskIDs(ctx, taskIDs))
}

func (t *tagging) DependentsByTaskIDs(ctx context.Context, taskIDs []string) ([]domain.Link[*domain.Task], error) {
	observeIDs(ctx, "t:", taskIDs)
	return t.refreshLinks(ctx)(t.s.DependentsByTaskIDs(ctx, taskIDs))
}

func (t *tagging) refreshLinks(ctx context.Context) func([]domain.Link[*domain.Task], error) ([]domain.Link[*domain.Task], error) {
	return func(links []domain.Link[*domain.Task], err error) ([]domain.Link[*domain.Task], error) {
		if err != nil {
			return links, err
		}
		tasks := make([]*domain.Task, len(links))
		for i, l := range links {
			tasks[i] = l.Item
		}
		fresh, err := t.refresh(ctx, tasks)
		if err != nil {
			return nil, err
		}
		out := links[:0:0]
		for i, l := range links {
			if fresh[i] != nil {
				l.Item = fresh[i]
				out = append(out, l)
			}
		}
		return out, nil
	}
}

func (t *tagging) EventsByTaskIDs(ctx context.Context, taskIDs []string, limit int) ([]*domain.TaskEvent, error) {
	observeIDs(ctx, "t:", taskIDs)
	return t.s.EventsByTaskIDs(ctx, taskIDs, limit)
}

func (t *tagging) TaskHistory(ctx context.Context, taskID, before string, limit int) ([]*domain.TaskEvent, error) {
	observe(ctx, taskTag(taskID))
	return t.s.TaskHistory(ctx, taskID, before, limit)
}

// The log is read by subscriptions, never by a cached operation.
func (t *tagging) TaskEventsAfter(ctx context.Context, after string, limit int) ([]*domain.TaskEvent, error) {
	return t.s.TaskEventsAfter(ctx, after, limit)
}

func (t *tagging) TaskEventsHead(ctx context.Context) (string, error) { return t.s.TaskEventsHead(ctx) }

func (t *tagging) TaskEventsSnapshot(ctx context.Context) (domain.LogSnapshot, error) {
	return t.s.TaskEventsSnapshot(ctx)
}

func (t *tagging) TasksByTagIDs(ctx context.Context, v domain.Viewer, tagIDs []string, first int) (map[string]*domain.TaskPage, error) {
	observe(ctx, partitionTags(v, nil, "tg")...)
	return t.s.TasksByTagIDs(ctx, v, tagIDs, first)
}

func (t *tagging) CountTasksByTagIDs(ctx context.Context, v domain.Viewer, tagIDs []string) (map[string]int, error) {
	observe(ctx, partitionTags(v, nil, "tg")...)
	return t.s.CountTasksByTagIDs(ctx, v, tagIDs)
}

// A number names the same task for good ("n:<seq>" changes only when it
// is created), so a read by number takes the task's own tag once it knows
// the id, and reads the task again under it.
func (t *tagging) TaskBySeq(ctx context.Context, seq int64) (*domain.Task, error) {
	observe(ctx, seqTag(seq))
	x, err := t.s.TaskBySeq(ctx, seq)
	if err != nil || x == nil || recorderFrom(ctx) == nil {
		return x, err
	}
	fresh, err := t.refresh(ctx, []*domain.Task{x})
	if err != nil {
		return nil, err
	}
	if fresh[0] == nil {
		return nil, domain.ErrNotFound
	}
	return fresh[0], nil
}

// TaskBundle reads what TasksByIDs (or TaskBySeq), TagsByTaskIDs,
// UsersByIDs and the deep levels' batch reads would: the task's tag (its
// number's, by number) before it, which covers its tags, subtasks and
// their tags (every write of those replaces the task's tag); the users'
// after it, since only the read says who they are (no write changes a
// user, so no token of "u:" can change in between). By number, the bundle
// is read again by id under the task's tag. The dependencies and
// dependents are other tasks' rows: read again under their own tags.
func (t *tagging) TaskBundle(ctx context.Context, ref domain.TaskRef, with domain.TaskWith) (*domain.TaskBundle, error) {
	if ref.ID != "" {
		observe(ctx, taskTag(ref.ID))
	} else {
		observe(ctx, seqTag(ref.Seq))
	}
	b, err := t.s.TaskBundle(ctx, ref, with)
	if err != nil || b.Task == nil || recorderFrom(ctx) == nil {
		return b, err
	}
	if ref.ID == "" {
		observe(ctx, taskTag(b.Task.ID))
		if b, err = t.s.TaskBundle(ctx, domain.TaskRef{ID: b.Task.ID}, with); err != nil || b.Task == nil {
			return b, err
		}
	}
	var users []string
	for _, u := range []*domain.User{b.Assignee, b.Creator} {
		if u != nil {
			users = append(users, "u:"+u.ID)
		}
	}
	if len(users) > 0 {
		observe(ctx, users...)
	}
	for _, level := range []*[]*domain.Task{&b.Dependencies, &b.Dependents} {
		if len(*level) == 0 {
			continue
		}
		fresh, err := t.refresh(ctx, *level)
		if err != nil {
			return nil, err
		}
		*level = slices.DeleteFunc(fresh, func(x *domain.Task) bool { return x == nil })
	}
	return b, nil
}

func (t *tagging) observeList(ctx context.Context, v domain.Viewer, f domain.TaskFilter, tagID string, o *domain.TaskOrder) {
	if recorderFrom(ctx) == nil {
		return
	}
	tags, ok := listTags(v, f, tagID, o)
	if !ok {
		uncacheable(ctx)
		return
	}
	observe(ctx, tags...)
}

// A list page depends on which tasks are in its partitions, the fields
// its filter tests and its order's key (listTags), and on its rows, which
// are read again under their row tags: a write that changes none of those
// keeps the page.
func (t *tagging) ListTasks(ctx context.Context, q domain.TaskQuery, tagID string) (*domain.TaskPage, error) {
	t.observeList(ctx, q.Viewer, q.Filter, tagID, &q.Order)
	p, err := t.s.ListTasks(ctx, q, tagID)
	if err != nil || p == nil || recorderFrom(ctx) == nil {
		return p, err
	}
	tasks := make([]*domain.Task, len(p.Edges))
	for i, e := range p.Edges {
		tasks[i] = e.Node
	}
	fresh, err := t.refreshUnder(ctx, tasks, "r:")
	if err != nil {
		return nil, err
	}
	out := *p
	out.Edges = make([]domain.TaskEdge, 0, len(p.Edges))
	for i, e := range p.Edges {
		if fresh[i] != nil && fresh[i].VisibleTo(q.Viewer) {
			e.Node = fresh[i]
			out.Edges = append(out.Edges, e)
		}
	}
	return &out, nil
}

func (t *tagging) ListTaskStates(ctx context.Context, q domain.TaskQuery) ([]*domain.Task, bool, error) {
	t.observeList(ctx, q.Viewer, q.Filter, "", &q.Order)
	return t.s.ListTaskStates(ctx, q)
}

// SubtaskIDsByTaskID depends on the task's subtasks, which every subtask
// write changes under the task's tag.
func (t *tagging) SubtaskIDsByTaskID(ctx context.Context, taskID string) ([]string, error) {
	observe(ctx, taskTag(taskID))
	return t.s.SubtaskIDsByTaskID(ctx, taskID)
}

func (t *tagging) CountTasks(ctx context.Context, v domain.Viewer, f domain.TaskFilter, tagID string) (int, error) {
	t.observeList(ctx, v, f, tagID, nil)
	return t.s.CountTasks(ctx, v, f, tagID)
}

// A search page depends on which tasks match and their order ("q:"), and
// on its rows, which are read again under their tasks' tags: a write that
// changes no text and no audience keeps the page.
func (t *tagging) SearchTasks(ctx context.Context, v domain.Viewer, text string, first int, after string) (*domain.TaskPage, error) {
	observe(ctx, searchTags(v)...)
	p, err := t.s.SearchTasks(ctx, v, text, first, after)
	if err != nil || p == nil || recorderFrom(ctx) == nil {
		return p, err
	}
	tasks := make([]*domain.Task, len(p.Edges))
	for i, e := range p.Edges {
		tasks[i] = e.Node
	}
	fresh, err := t.refresh(ctx, tasks)
	if err != nil {
		return nil, err
	}
	out := *p
	out.Edges = make([]domain.TaskEdge, 0, len(p.Edges))
	for i, e := range p.Edges {
		if fresh[i] != nil && fresh[i].VisibleTo(v) {
			e.Node = fresh[i]
			out.Edges = append(out.Edges, e)
		}
	}
	return &out, nil
}

func (t *tagging) CountSearch(ctx context.Context, v domain.Viewer, text string) (int, error) {
	observe(ctx, searchTags(v)...)
	return t.s.CountSearch(ctx, v, text)
}

func (t *tagging) ListTags(ctx context.Context, first int, afterName string) ([]*domain.Tag, error) {
	observe(ctx, tagTags)
	return t.s.ListTags(ctx, first, afterName)
}

func (t *tagging) TaskStatistics(ctx context.Context, v domain.Viewer) (*domain.TaskStatistics, error) {
	uncacheable(ctx) // its overdue count moves with the clock (never cached: extension.go)
	return t.s.TaskStatistics(ctx, v)
}

func (t *tagging) TopStatements(ctx context.Context, byTotal bool, n int) ([]domain.StatementStats, error) {
	return t.s.TopStatements(ctx, byTotal, n) // Query.topStatements is never cached
}

// Writes. Each replaces the tags of what it changed after the inner store
// returns. A write refused (not found, conflict, invalid input...)
// committed nothing; one that failed on the way (the database unreachable,
// out of time, anything unexpected) may have committed with an effect
// unknown: it also replaces "tasks", which every list, count and search
// holds, besides the tags of the rows it locked.

// taskWritten replaces the tags of a task write: the task's own, and the
// partitions and (when the search matches may change) the search tags of
// each state it had and has.
func (t *tagging) taskWritten(ctx context.Context, id string, priors *domain.Priors, after *domain.Task, err error, searchable bool) {
	tags := []string{taskTag(id), rowTag(id)}
	states := []*domain.Task{}
	for _, p := range priors.Tasks() {
		if p.ID == id {
			states = append(states, &p)
			break
		}
	}
	if after != nil {
		states = append(states, after)
	}
	if len(states) == 2 {
		tags = append(tags, moved(states[0], states[1])...)
	} else {
		for _, s := range states {
			tags = append(tags, partitionsOf(s)...)
		}
	}
	if len(states) == 2 && !slices.Equal(domain.Audiences(states[0]), domain.Audiences(states[1])) {
		searchable = true // who may find it changed
	}
	if searchable {
		for _, s := range states {
			for _, a := range domain.Audiences(s) {
				tags = append(tags, searchTag(a))
			}
		}
	}
	if domain.UnknownEffect(err) || (err == nil && len(states) == 0) {
		tags = append(tags, tagTasks)
	}
	t.c.Invalidate(ctx, dedup(tags)...)
}

// moved returns the list tags a write from state a to state b replaces: a
// partition the task entered or left, whole; in one it stayed in, the tag
// of each field the write changed and of each sort key it moved.
func moved(a, b *domain.Task) []string {
	var fields []string
	for _, c := range []struct {
		changed bool
		field   string
	}{{a.Status != b.Status, fieldStatus}, {a.Status.Active() != b.Status.Active(), fieldActive},
		{a.Priority != b.Priority, fieldPriority}, {a.Type != b.Type, fieldType},
		{a.Phase != b.Phase, fieldPhase}, {!sameTime(a.DueDate, b.DueDate), fieldDue},
		{!sameString(a.AssigneeID, b.AssigneeID), fieldAssignee}, {!sameString(a.CreatedByID, b.CreatedByID), fieldCreatedBy},
		{a.Visibility != b.Visibility, fieldVisibility}} {
		if c.changed {
			fields = append(fields, c.field)
		}
	}
	var keys []domain.TaskOrderField
	for _, f := range domain.TaskOrderFields {
		if orderKeyMoved(f, a, b) {
			keys = append(keys, f)
		}
	}
	before, after := partitionsOf(a), partitionsOf(b)
	var tags []string
	for _, p := range append(before, after...) {
		if !slices.Contains(before, p) || !slices.Contains(after, p) {
			tags = append(tags, p)
			continue
		}
		for _, f := range fields {
			tags = append(tags, fieldTag(p, f))
		}
		for _, k := range keys {
			tags = append(tags, orderTag(p, k))
		}
	}
	return tags
}

// orderKeyMoved reports whether a list sorted by f may place the task
// elsewhere after the write (the id, the last key of every order, never
// changes). An order field this does not know moves it.
func orderKeyMoved(f domain.TaskOrderField, a, b *domain.Task) bool {
	switch f {
	case domain.OrderCreatedAt:
		return !a.CreatedAt.Equal(b.CreatedAt)
	case domain.OrderUpdatedAt:
		return !a.UpdatedAt.Equal(b.UpdatedAt) || !a.CreatedAt.Equal(b.CreatedAt)
	case domain.OrderDueDate:
		return !sameTime(a.DueDate, b.DueDate) || !a.CreatedAt.Equal(b.CreatedAt)
	case domain.OrderPriority:
		return a.Priority != b.Priority || !a.CreatedAt.Equal(b.CreatedAt)
	}
	return true
}

func sameTime(a, b *time.Time) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }

func sameString(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func dedup(tags []string) []string {
	slices.Sort(tags)
	return slices.Compact(tags)
}

func (t *tagging) CreateTask(ctx context.Context, in domain.NewTask) (*domain.Task, error) {
	ctx, flush := t.c.batched(ctx)
	defer flush()
	x, err := t.s.CreateTask(ctx, in)
	tags := []string{tagTags}
	if x != nil {
		tags = append(tags, seqTag(x.Seq))
		tags = append(tags, partitionsOf(x)...)
		for _, a := range domain.Audiences(x) {
			tags = append(tags, searchTag(a))
		}
	}
	if x == nil && domain.UnknownEffect(err) {
		tags = append(tags, tagTasks)
	}
	t.c.Invalidate(ctx, dedup(tags)...)
	return x, err
}

func (t *tagging) UpdateTask(ctx context.Context, id string, p domain.TaskPatch, guard domain.Guard) (*domain.Task, error) {
	ctx, flush := t.c.batched(ctx)
	defer flush()
	ctx, priors := domain.WithPriors(ctx)
	x, err := t.s.UpdateTask(ctx, id, p, guard)
	t.taskWritten(ctx, id, priors, x, err, p.Title != nil || p.Description != nil)
	return x, err
}

func (t *tagging) TransitionTask(ctx context.Context, id string, req domain.TransitionRequest, guard domain.Guard) (*domain.Task, error) {
	ctx, flush := t.c.batched(ctx)
	defer flush()
	ctx, priors := domain.WithPriors(ctx)
	x, err := t.s.TransitionTask(ctx, id, req, guard)
	t.taskWritten(ctx, id, priors, x, err, false)
	return x, err
}

func (t *tagging) DeleteTask(ctx context.Context, id string, guard domain.Guard) (*domain.DeletedTask, error) {
	d, err := t.s.DeleteTask(ctx, id, guard)
	tags := []string{taskTag(id), rowTag(id)}
	if d != nil && d.Task != nil {
		tags = append(tags, partitionsOf(d.Task)...)
		for _, a := range domain.Audiences(d.Task) {
			tags = append(tags, searchTag(a))
		}
		tags = append(tags, prefixed("s:", d.SubtaskIDs)...)
		tags = append(tags, prefixed("t:", d.DependsOnIDs)...)
		tags = append(tags, prefixed("t:", d.DependentIDs)...)
	}
	if domain.UnknownEffect(err) || (err == nil && (d == nil || d.Task == nil)) {
		tags = append(tags, tagTasks)
	}
	t.c.Invalidate(ctx, dedup(tags)...)
	return d, err
}

// subtaskWritten replaces a subtask's tags and its task's (the one the
// write locked, when it failed). A subtask write changes no task row, so
// no list partition.
func (t *tagging) subtaskWritten(ctx context.Context, id string, priors *domain.Priors, st *domain.Subtask, err error, extra ...string) {
	tags := append([]string{subtaskTag(id)}, extra...)
	if st != nil {
		tags = append(tags, taskTag(st.TaskID))
	}
	for _, p := range priors.Tasks() {
		tags = append(tags, taskTag(p.ID))
	}
	if domain.UnknownEffect(err) {
		tags = append(tags, tagTasks)
	}
	t.c.Invalidate(ctx, dedup(tags)...)
}

func (t *tagging) CreateSubtask(ctx context.Context, taskID string, in domain.NewSubtask, guard domain.Guard) (*domain.Subtask, error) {
	defer t.c.Invalidate(ctx, taskTag(taskID))
	return t.s.CreateSubtask(ctx, taskID, in, guard)
}

func (t *tagging) UpdateSubtask(ctx context.Context, id string, p domain.SubtaskPatch, expectedVersion *int, guard domain.Guard) (*domain.Subtask, error) {
	ctx, priors := domain.WithPriors(ctx)
	st, err := t.s.UpdateSubtask(ctx, id, p, expectedVersion, guard)
	t.subtaskWritten(ctx, id, priors, st, err)
	return st, err
}

func (t *tagging) DeleteSubtask(ctx context.Context, id string, guard domain.Guard) (*domain.Subtask, error) {
	ctx, priors := domain.WithPriors(ctx)
	st, err := t.s.DeleteSubtask(ctx, id, guard)
	t.subtaskWritten(ctx, id, priors, st, err)
	return st, err
}

// tagsWritten replaces the tags of a change to a task's tag set: the
// task's own, the tag list, and the tag-filtered lists ("tg") of its
// audiences; no other list's membership or rows changed.
func (t *tagging) tagsWritten(ctx context.Context, id string, x *domain.Task, err error) {
	tags := []string{taskTag(id), tagTags}
	if x != nil {
		for _, a := range domain.Audiences(x) {
			tags = append(tags, listTag(a, "tg"))
		}
	}
	if domain.UnknownEffect(err) {
		tags = append(tags, tagTasks)
	}
	t.c.Invalidate(ctx, tags...)
}

func (t *tagging) AddTaskTags(ctx context.Context, taskID string, names []string, guard domain.Guard) (*domain.Task, error) {
	ctx, flush := t.c.batched(ctx)
	defer flush()
	x, err := t.s.AddTaskTags(ctx, taskID, names, guard)
	t.tagsWritten(ctx, taskID, x, err)
	return x, err
}

func (t *tagging) RemoveTaskTags(ctx context.Context, taskID string, names []string, guard domain.Guard) (*domain.Task, error) {
	ctx, flush := t.c.batched(ctx)
	defer flush()
	x, err := t.s.RemoveTaskTags(ctx, taskID, names, guard)
	t.tagsWritten(ctx, taskID, x, err)
	return x, err
}

func (t *tagging) AddSubtaskTags(ctx context.Context, subtaskID string, names []string, guard domain.Guard) (*domain.Subtask, error) {
	ctx, priors := domain.WithPriors(ctx)
	st, err := t.s.AddSubtaskTags(ctx, subtaskID, names, guard)
	t.subtaskWritten(ctx, subtaskID, priors, st, err, tagTags)
	return st, err
}

func (t *tagging) RemoveSubtaskTags(ctx context.Context, subtaskID string, names []string, guard domain.Guard) (*domain.Subtask, error) {
	ctx, priors := domain.WithPriors(ctx)
	st, err := t.s.RemoveSubtaskTags(ctx, subtaskID, names, guard)
	t.subtaskWritten(ctx, subtaskID, priors, st, err, tagTags)
	return st, err
}

// A link changes no task row: only the two tasks' dependency lists.

func (t *tagging) AddDependency(ctx context.Context, taskID, dependsOnID string, guard domain.Guard) (*domain.Task, error) {
	defer t.c.Invalidate(ctx, taskTag(taskID), taskTag(dependsOnID))
	return t.s.AddDependency(ctx, taskID, dependsOnID, guard)
}

func (t *tagging) RemoveDependency(ctx context.Context, taskID, dependsOnID string, guard domain.Guard) (*domain.Task, error) {
	defer t.c.Invalidate(ctx, taskTag(taskID), taskTag(dependsOnID))
	return t.s.RemoveDependency(ctx, taskID, dependsOnID, guard)
}

// API tokens: their list has a tag of its own.

const tagAPITokens = "apitokens"

func (t *tagging) APITokens(ctx context.Context, first int) ([]*domain.APIToken, error) {
	observe(ctx, tagAPITokens)
	return t.s.APITokens(ctx, first)
}

func (t *tagging) CreateAPIToken(ctx context.Context, in domain.NewAPIToken) (*domain.APIToken, error) {
	defer t.c.Invalidate(ctx, tagAPITokens)
	return t.s.CreateAPIToken(ctx, in)
}

func (t *tagging) RevokeAPIToken(ctx context.Context, id string) (bool, error) {
	defer t.c.Invalidate(ctx, tagAPITokens)
	return t.s.RevokeAPIToken(ctx, id)
}
