package cache

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/maypok86/otter/v2"
	"golang.org/x/sync/errgroup"
)

// store decorates a domain.Store (the repository) with the cache: batch
// reads go through Redis, writes invalidate exactly what they made stale
// once they have committed. Everything else passes through.
type store struct {
	domain.Store
	c *Cache
}

// Wrap returns next read and invalidated through c.
func Wrap(next domain.Store, c *Cache) domain.Store { return &store{Store: next, c: c} }

// byID indexes rows by their id.
func byID[V any](rows []V, id func(V) string) map[string]V {
	m := make(map[string]V, len(rows))
	for _, r := range rows {
		m[id(r)] = r
	}
	return m
}

func taskID(t *domain.Task) string       { return t.ID }
func subtaskID(s *domain.Subtask) string { return s.ID }
func tagID(g *domain.Tag) string         { return g.ID }
func userID(u *domain.User) string       { return u.ID }

func values[V any](m map[string]V, ids []string) []V {
	out := make([]V, 0, len(ids))
	for _, id := range ids {
		if v, ok := m[id]; ok {
			out = append(out, v)
		}
	}
	return out
}

// TasksByIDs reads tasks through the cache.
func (s *store) TasksByIDs(ctx context.Context, ids []string) ([]*domain.Task, error) {
	m, err := s.tasks(ctx, ids)
	return values(m, ids), err
}

// TasksWithChildren reads tasks through the cache, whose rows all carry
// their children's ids where they were filled or written since the ids
// were added.
func (s *store) TasksWithChildren(ctx context.Context, ids []string) ([]*domain.Task, error) {
	return s.TasksByIDs(ctx, ids)
}

// tasks reads rows through the cache. A row is filled with its tag and
// subtask ids (read in its statement), so the cards and details that show
// a task's tags and subtasks need no list of their own (TagsOfTasks,
// SubtasksOfTasks).
func (s *store) tasks(ctx context.Context, ids []string) (map[string]*domain.Task, error) {
	return fetch(ctx, s.c, KindTask, ids, func(ctx context.Context, ids []string) (map[string]*domain.Task, error) {
		rows, err := s.Store.TasksWithChildren(ctx, ids)
		return byID(rows, taskID), err
	})
}

// SubtasksByIDs reads subtasks through the cache.
func (s *store) SubtasksByIDs(ctx context.Context, ids []string) ([]*domain.Subtask, error) {
	m, err := s.subtasks(ctx, ids)
	return values(m, ids), err
}

func (s *store) subtasks(ctx context.Context, ids []string) (map[string]*domain.Subtask, error) {
	return fetch(ctx, s.c, KindSubtask, ids, func(ctx context.Context, ids []string) (map[string]*domain.Subtask, error) {
		rows, err := s.Store.SubtasksByIDs(ctx, ids)
		return byID(rows, subtaskID), err
	})
}

// TagsByIDs reads tags through the cache.
func (s *store) TagsByIDs(ctx context.Context, ids []string) ([]*domain.Tag, error) {
	m, err := s.tags(ctx, ids)
	return values(m, ids), err
}

// tags reads tags from this instance's memory first: a tag never changes
// once created (domain.Tag), so a tag read once is the tag for good and
// needs no round trip to Redis to be trusted.
func (s *store) tags(ctx context.Context, ids []string) (map[string]*domain.Tag, error) {
	return remembered(ctx, s.c, s.c.knownTags, KindTag, ids, func(ctx context.Context, ids []string) (map[string]*domain.Tag, error) {
		rows, err := s.Store.TagsByIDs(ctx, ids)
		return byID(rows, tagID), err
	})
}

// knownUserTTL bounds how long an instance keeps a user it has read. The
// API never changes a user, so this only bounds how long a change made
// outside it (an operator's UPDATE) may go unseen, beside the entity
// cache's own TTL.
const knownUserTTL = time.Minute

// UsersByIDs reads users from this instance's memory first, as tags are:
// the API creates users and never changes them (domain.User), so a user
// read once needs no round trip to be trusted, and a board's assignees
// cost no Redis wait of their own.
func (s *store) UsersByIDs(ctx context.Context, ids []string) ([]*domain.User, error) {
	m, err := remembered(ctx, s.c, s.c.knownUsers, KindUser, ids, func(ctx context.Context, ids []string) (map[string]*domain.User, error) {
		rows, err := s.Store.UsersByIDs(ctx, ids)
		return byID(rows, userID), err
	})
	return values(m, ids), err
}

// remembered reads ids of a kind the API never changes from known, this
// instance's memory, and the others through the cache (fetch), which it
// then remembers.
func remembered[V any](ctx context.Context, c *Cache, known *otter.Cache[string, V], kind Kind, ids []string,
	load func(context.Context, []string) (map[string]V, error)) (map[string]V, error) {
	out := make(map[string]V, len(ids))
	var rest []string
	for _, id := range ids {
		if v, ok := known.GetIfPresent(id); ok {
			out[id] = v
		} else {
			rest = append(rest, id)
		}
	}
	c.stats.kinds[kind].hits.Add(int64(len(out)))
	if len(rest) == 0 {
		return out, nil
	}
	m, err := fetch(ctx, c, kind, rest, load)
	for id, v := range m {
		known.Set(id, v)
		out[id] = v
	}
	return out, err
}

// TaskBundle reads a task and the levels with asks for through the cache:
// the task (by number from PostgreSQL, as TaskBySeq), then its tags, users,
// subtasks (then their tags), dependencies and dependents at the same time,
// each kind in one Redis round trip on a hit (a relation's list and its
// entities in two). The repository's one-statement read would bypass the
// cache.
func (s *store) TaskBundle(ctx context.Context, ref domain.TaskRef, with domain.TaskWith) (*domain.TaskBundle, error) {
	var t *domain.Task
	if ref.ID != "" {
		if s.c.usable(ctx) {
			ctx = withReadAhead(ctx, s.c.bundleAhead(ref.ID, with))
		}
		m, err := s.tasks(ctx, []string{ref.ID})
		if err != nil {
			return nil, err
		}
		t = m[ref.ID]
	} else {
		var err error
		if t, err = s.Store.TaskBySeq(ctx, ref.Seq); errors.Is(err, domain.ErrNotFound) {
			t = nil
		} else if err != nil {
			return nil, err
		}
	}
	b := &domain.TaskBundle{Task: t}
	if t == nil {
		return b, nil
	}
	var users []string
	if with.Assignee && t.AssigneeID != nil {
		users = append(users, *t.AssigneeID)
	}
	if with.Creator && t.CreatedByID != nil {
		users = append(users, *t.CreatedByID)
	}
	var g errgroup.Group
	if with.Tags {
		g.Go(func() error {
			ls, err := s.TagsOfTasks(ctx, []*domain.Task{t})
			b.Tags = make([]*domain.Tag, len(ls))
			for i, l := range ls {
				b.Tags[i] = l.Item
			}
			return err
		})
	}
	if with.Deep() {
		g.Go(func() error { return domain.ReadDeepLevels(ctx, s, b, with) })
	}
	if len(users) > 0 {
		g.Go(func() error {
			us, err := s.UsersByIDs(ctx, users)
			for _, u := range us {
				if with.Assignee && t.AssigneeID != nil && u.ID == *t.AssigneeID {
					b.Assignee = u
				}
				if with.Creator && t.CreatedByID != nil && u.ID == *t.CreatedByID {
					b.Creator = u
				}
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return b, nil
}

// relation reads owner → item lists: the id lists from Redis, the missing
// lists from one SQL statement that returns whole rows (used as they are,
// so a cold level costs one statement), and the items of cached lists
// through the entity cache. Only ids are stored under the list key, so an
// item's change never drops the lists that hold it.
func relation[E any](ctx context.Context, c *Cache, kind Kind, owners []string,
	load func(context.Context, []string) ([]domain.Link[E], error), id func(E) string,
	entities func(context.Context, []string) (map[string]E, error)) (map[string][]E, error) {
	fresh := map[string]E{}
	lists, err := fetch(ctx, c, kind, owners, func(ctx context.Context, owners []string) (map[string][]string, error) {
		rows, err := load(ctx, owners)
		if err != nil {
			return nil, err
		}
		m := make(map[string][]string, len(owners))
		for _, o := range owners {
			m[o] = []string{}
		}
		for _, r := range rows {
			m[r.OwnerID] = append(m[r.OwnerID], id(r.Item))
			fresh[id(r.Item)] = r.Item
		}
		return m, nil
	})
	if err != nil {
		return nil, err
	}
	var need []string
	seen := map[string]bool{}
	for _, ids := range lists {
		for _, i := range ids {
			if _, ok := fresh[i]; !ok && !seen[i] {
				seen[i] = true // a tag on many subtasks is fetched once
				need = append(need, i)
			}
		}
	}
	ents, err := entities(ctx, need)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]E, len(owners))
	for _, o := range owners {
		for _, i := range lists[o] {
			if e, ok := fresh[i]; ok {
				out[o] = append(out[o], e)
			} else if e, ok := ents[i]; ok {
				out[o] = append(out[o], e)
			}
		}
	}
	return out, nil
}

func links[E any](owners []string, m map[string][]E) []domain.Link[E] {
	var out []domain.Link[E]
	for _, o := range owners {
		for _, e := range m[o] {
			out = append(out, domain.Link[E]{OwnerID: o, Item: e})
		}
	}
	return out
}

// SubtasksByTaskIDs reads each task's subtasks in position order, at most
// limit per task (all when nil).
func (s *store) SubtasksByTaskIDs(ctx context.Context, taskIDs []string, limit *int) ([]*domain.Subtask, error) {
	m, err := relation(ctx, s.c, KindTaskSubtasks, taskIDs, func(ctx context.Context, ids []string) ([]domain.Link[*domain.Subtask], error) {
		rows, err := s.Store.SubtasksByTaskIDs(ctx, ids, nil)
		out := make([]domain.Link[*domain.Subtask], len(rows))
		for i, r := range rows {
			out[i] = domain.Link[*domain.Subtask]{OwnerID: r.TaskID, Item: r}
		}
		return out, err
	}, subtaskID, s.subtasks)
	if err != nil {
		return nil, err
	}
	var out []*domain.Subtask
	for _, t := range taskIDs {
		subs := m[t]
		if limit != nil && len(subs) > *limit {
			subs = subs[:*limit]
		}
		out = append(out, subs...)
	}
	return out, nil
}

// TagsByTaskIDs reads each task's tags.
func (s *store) TagsByTaskIDs(ctx context.Context, taskIDs []string) ([]domain.Link[*domain.Tag], error) {
	m, err := relation(ctx, s.c, KindTaskTags, taskIDs, s.Store.TagsByTaskIDs, tagID, s.tags)
	return links(taskIDs, m), err
}

// SubtasksOfTasks reads each task's subtasks: from the subtask ids its row
// carries where it does (the subtasks themselves through the cache), the
// others' lists through the cache. As with TagsOfTasks, the row is at least
// as new as every write answered before it was read (a write that adds,
// removes or moves a subtask writes its row through), and its ids are its
// subtasks as of that row. A subtask gone since the row was read (its
// deletion still to answer) is left out.
func (s *store) SubtasksOfTasks(ctx context.Context, tasks []*domain.Task, limit *int) ([]*domain.Subtask, error) {
	var rest, need []string
	for _, t := range tasks {
		if !t.ChildrenRead {
			rest = append(rest, t.ID)
			continue
		}
		need = append(need, firstIDs(t.SubtaskIDs, limit)...)
	}
	var out []*domain.Subtask
	if len(rest) > 0 {
		var err error
		if out, err = s.SubtasksByTaskIDs(ctx, rest, limit); err != nil {
			return nil, err
		}
	}
	if len(need) == 0 {
		return out, nil
	}
	subs, err := s.subtasks(ctx, need)
	if err != nil {
		return nil, err
	}
	for _, t := range tasks {
		if !t.ChildrenRead {
			continue
		}
		for _, id := range firstIDs(t.SubtaskIDs, limit) {
			if st, ok := subs[id]; ok {
				out = append(out, st)
			}
		}
	}
	return out, nil
}

// firstIDs is ids cut to limit (all when nil).
func firstIDs(ids []string, limit *int) []string {
	if limit != nil && len(ids) > max(*limit, 0) {
		return ids[:max(*limit, 0)]
	}
	return ids
}

// TagsOfTasks reads each task's tags: from the tag ids its row carries
// where it does (tags are in this instance's memory once read: they never
// change), the others' lists through the cache. The row is at least as new
// as every write answered before it was read (a tag write writes its row
// through), and its ids are its tags as of that row, read in its statement.
func (s *store) TagsOfTasks(ctx context.Context, tasks []*domain.Task) ([]domain.Link[*domain.Tag], error) {
	return tagsOf(ctx, s, tasks, func(t *domain.Task) (string, []string, bool) { return t.ID, t.TagIDs, t.ChildrenRead }, s.TagsByTaskIDs)
}

// TagsOfSubtasks reads each subtask's tags as TagsOfTasks does: from the
// tag ids its row carries where it does (a subtask tag write drops the
// subtask's row, so a row is as fresh as the entity cache's), the others'
// lists through the cache.
func (s *store) TagsOfSubtasks(ctx context.Context, subtasks []*domain.Subtask) ([]domain.Link[*domain.Tag], error) {
	return tagsOf(ctx, s, subtasks, func(st *domain.Subtask) (string, []string, bool) { return st.ID, st.TagIDs, st.TagIDsRead }, s.TagsBySubtaskIDs)
}

// tagsOf answers owners' tags from the tag ids their rows carry (known),
// by name, and the others' through lists.
func tagsOf[O any](ctx context.Context, s *store, owners []O, known func(O) (string, []string, bool),
	lists func(context.Context, []string) ([]domain.Link[*domain.Tag], error)) ([]domain.Link[*domain.Tag], error) {
	var rest, need []string
	seen := map[string]bool{}
	for _, o := range owners {
		id, tagIDs, ok := known(o)
		if !ok {
			rest = append(rest, id)
			continue
		}
		for _, g := range tagIDs {
			if !seen[g] {
				seen[g] = true
				need = append(need, g)
			}
		}
	}
	var out []domain.Link[*domain.Tag]
	if len(rest) > 0 {
		var err error
		if out, err = lists(ctx, rest); err != nil {
			return nil, err
		}
	}
	if len(need) == 0 {
		return out, nil
	}
	tags, err := s.tags(ctx, need)
	if err != nil {
		return nil, err
	}
	for _, o := range owners {
		id, tagIDs, ok := known(o)
		if !ok {
			continue
		}
		start := len(out)
		for _, g := range tagIDs {
			if tag, ok := tags[g]; ok {
				out = append(out, domain.Link[*domain.Tag]{OwnerID: id, Item: tag})
			}
		}
		mine := out[start:]
		slices.SortFunc(mine, func(a, b domain.Link[*domain.Tag]) int { return strings.Compare(a.Item.Name, b.Item.Name) })
	}
	return out, nil
}

// TagsBySubtaskIDs reads each subtask's tags.
func (s *store) TagsBySubtaskIDs(ctx context.Context, subtaskIDs []string) ([]domain.Link[*domain.Tag], error) {
	m, err := relation(ctx, s.c, KindSubtaskTags, subtaskIDs, s.Store.TagsBySubtaskIDs, tagID, s.tags)
	return links(subtaskIDs, m), err
}

// DependenciesByTaskIDs reads the tasks each task waits for.
func (s *store) DependenciesByTaskIDs(ctx context.Context, taskIDs []string) ([]domain.Link[*domain.Task], error) {
	m, err := relation(ctx, s.c, KindTaskDeps, taskIDs, s.Store.DependenciesByTaskIDs, taskID, s.tasks)
	return links(taskIDs, m), err
}

// DependentsByTaskIDs reads the tasks waiting for each task.
func (s *store) DependentsByTaskIDs(ctx context.Context, taskIDs []string) ([]domain.Link[*domain.Task], error) {
	m, err := relation(ctx, s.c, KindTaskDependents, taskIDs, s.Store.DependentsByTaskIDs, taskID, s.tasks)
	return links(taskIDs, m), err
}

// historyDepth is how many of a task's latest events are cached: the most
// that history(first:) may ask for.
const historyDepth = 100

// EventsByTaskIDs reads each task's latest events. Events never change, so
// the list itself holds them.
func (s *store) EventsByTaskIDs(ctx context.Context, taskIDs []string, limit int) ([]*domain.TaskEvent, error) {
	if limit > historyDepth {
		return s.Store.EventsByTaskIDs(ctx, taskIDs, limit)
	}
	m, err := fetch(ctx, s.c, KindTaskHistory, taskIDs, func(ctx context.Context, ids []string) (map[string][]*domain.TaskEvent, error) {
		rows, err := s.Store.EventsByTaskIDs(ctx, ids, historyDepth)
		m := make(map[string][]*domain.TaskEvent, len(ids))
		for _, id := range ids {
			m[id] = []*domain.TaskEvent{}
		}
		for _, e := range rows {
			m[e.TaskID] = append(m[e.TaskID], e)
		}
		return m, err
	})
	if err != nil {
		return nil, err
	}
	var out []*domain.TaskEvent
	for _, t := range taskIDs {
		evs := m[t]
		out = append(out, evs[:min(limit, len(evs))]...)
	}
	return out, nil
}

// TaskStatistics caches the counts of the two scopes every caller shares:
// everything (admins) and public tasks (anonymous callers). Other users see
// public tasks plus their own private ones, so their counts are computed.
// Every write that can change a count drops both (see statsItems).
func (s *store) TaskStatistics(ctx context.Context, v domain.Viewer) (*domain.TaskStatistics, error) {
	scope := sharedScope(v)
	if scope == "" {
		return s.Store.TaskStatistics(ctx, v)
	}
	m, err := fetch(ctx, s.c, KindStatistics, []string{scope}, func(ctx context.Context, _ []string) (map[string]*domain.TaskStatistics, error) {
		st, err := s.Store.TaskStatistics(ctx, v)
		return map[string]*domain.TaskStatistics{scope: st}, err
	})
	if err != nil {
		return nil, err
	}
	return m[scope], nil
}

// sharedScope names the visibility scopes whose results every caller in it
// shares: "all" for admins, "public" for anonymous callers, "" otherwise.
func sharedScope(v domain.Viewer) string {
	switch {
	case v.IsAdmin():
		return "all"
	case v.Anonymous():
		return "public"
	}
	return ""
}

// taskWritten retires what a task write can change beyond its own keys:
// the shared statistics.
func (s *store) taskWritten(e *effects, items ...Item) {
	e.invalidate(append(items, statsItems...)...)
}

// statsItems are the cached statistics, stale after any write that changes
// a task's status, priority, type, visibility, due date or existence.
var statsItems = []Item{{KindStatistics, "all"}, {KindStatistics, "public"}}

// Writes: each invalidates, after its transaction, the keys it made stale.
// It does so even when the call failed, since a failed COMMIT may still have
// committed. A write's effects (rows written through, the list index, the
// keys it retires) go to Redis in one round trip.

// rowWritten applies a write of a task's row: a committed row is written
// through to its key and moved in the list index (found: the row as the
// write locked it); a write refused changed nothing; one whose outcome is
// unknown deletes the key and distrusts the cache, which retires the index.
func (s *store) rowWritten(e *effects, id string, t, found *domain.Task, err error) {
	switch {
	case err == nil && t != nil:
		e.storeTask(id, t)
		e.listWritten(id, t.Version, t, found)
	case domain.UnknownEffect(err):
		e.invalidate(Item{KindTask, id})
		s.c.trusted.Store(false)
	}
}

// priorOf is the row of id a write locked, nil when it locked none.
func priorOf(p *domain.Priors, id string) *domain.Task {
	if rows := priorsOf(p, id); len(rows) > 0 {
		return &rows[0]
	}
	return nil
}

// priorsOf are the rows of id a write locked, in the order it locked them.
func priorsOf(p *domain.Priors, id string) []domain.Task {
	var out []domain.Task
	for _, t := range p.Tasks() {
		if t.ID == id {
			out = append(out, t)
		}
	}
	return out
}

// CreateTask stores a task: the counts are stale, and the lists it enters.
func (s *store) CreateTask(ctx context.Context, in domain.NewTask) (*domain.Task, error) {
	ctx, _ = domain.WithWrittenTexts(ctx, !s.c.cluster)
	t, err := s.Store.CreateTask(ctx, in)
	e := s.c.effects()
	s.taskWritten(e)
	if t != nil {
		s.searchWritten(ctx, nil, t)
		s.rowWritten(e, t.ID, t, nil, err)
	} else if domain.UnknownEffect(err) {
		s.c.trusted.Store(false)
	}
	e.apply(ctx, true)
	return t, err
}

// UpdateTask changes a task's fields: its entity and lists, and search
// candidates when its text or audiences changed.
func (s *store) UpdateTask(ctx context.Context, id string, p domain.TaskPatch, guard domain.Guard) (*domain.Task, error) {
	ctx, priors := domain.WithPriors(ctx)
	ctx, _ = domain.WithWrittenTexts(ctx, false)
	t, err := s.Store.UpdateTask(ctx, id, p, guard)
	e := s.c.effects()
	s.rowWritten(e, id, t, priorOf(priors, id), err)
	s.taskWritten(e, Item{KindTaskHistory, id})
	var states []*domain.Task // the search's, when the write changed what it matches
	if err == nil && t != nil {
		before := priorsOf(priors, id)
		switch {
		case len(before) == 0:
			s.c.trusted.Store(false) // no prior row: nothing tells what the write changed
		case len(before) == 1 && !changesSearch(&before[0], t):
		default:
			states = make([]*domain.Task, 0, len(before)+1)
			for i := range before {
				states = append(states, &before[i])
			}
			states = append(states, t)
		}
	}
	e.apply(ctx, states == nil) // the search's generations follow the row's write-through
	if states != nil {
		s.searchWritten(ctx, states...)
	}
	return t, err
}

// TransitionTask changes status and phase and appends history; no search
// result depends on either.
func (s *store) TransitionTask(ctx context.Context, id string, req domain.TransitionRequest, guard domain.Guard) (*domain.Task, error) {
	ctx, priors := domain.WithPriors(ctx)
	t, err := s.Store.TransitionTask(ctx, id, req, guard)
	e := s.c.effects()
	s.rowWritten(e, id, t, priorOf(priors, id), err)
	s.taskWritten(e, Item{KindTaskHistory, id})
	e.apply(ctx, true)
	return t, err
}

// DeleteTask removes the task from every list that held it.
func (s *store) DeleteTask(ctx context.Context, id string, guard domain.Guard) (*domain.DeletedTask, error) {
	ctx, _ = domain.WithWrittenTexts(ctx, false)
	d, err := s.Store.DeleteTask(ctx, id, guard)
	e := s.c.effects()
	switch {
	case err == nil && d != nil && d.Task != nil:
		e.storeTask(id, nil)
		e.listWritten(id, d.Task.Version+1, nil, d.Task)
	case domain.UnknownEffect(err):
		s.c.trusted.Store(false)
	}
	items := []Item{{KindTask, id}, {KindTaskSubtasks, id}, {KindTaskTags, id}, {KindTaskDeps, id}, {KindTaskDependents, id}, {KindTaskHistory, id}}
	if d != nil {
		for _, sid := range d.SubtaskIDs {
			items = append(items, Item{KindSubtask, sid}, Item{KindSubtaskTags, sid})
		}
		for _, o := range d.DependsOnIDs {
			items = append(items, Item{KindTaskDependents, o}, Item{KindTaskHistory, o})
		}
		for _, o := range d.DependentIDs {
			items = append(items, Item{KindTaskDeps, o}, Item{KindTaskHistory, o})
		}
	}
	s.taskWritten(e, items...)
	e.apply(ctx, false)
	if err == nil && d != nil {
		s.searchWritten(ctx, d.Task, nil)
	}
	return d, err
}

// siblings invalidates a task's subtask list and every subtask in it: a
// position change shifts the others.
func (s *store) siblings(ctx context.Context, e *effects, taskID string, extra ...Item) {
	items := append(extra, Item{KindTaskSubtasks, taskID})
	ids, err := s.Store.SubtaskIDsByTaskID(ctx, taskID)
	if err != nil && s.c != nil {
		// Without the ids, retire everything rather than risk a stale position.
		s.c.trusted.Store(false)
	}
	for _, id := range ids {
		items = append(items, Item{KindSubtask, id})
	}
	e.invalidate(items...)
}

// CreateSubtask adds to the task's list; with a position, the ones after it
// shift.
func (s *store) CreateSubtask(ctx context.Context, taskID string, in domain.NewSubtask, guard domain.Guard) (*domain.Subtask, error) {
	st, err := s.Store.CreateSubtask(ctx, taskID, in, guard)
	e := s.c.effects()
	s.parentWritten(e, taskID, st, err)
	if in.Position != nil {
		s.siblings(ctx, e, taskID, Item{KindTaskHistory, taskID})
	} else {
		e.invalidate(Item{KindTaskSubtasks, taskID}, Item{KindTaskHistory, taskID})
	}
	e.apply(ctx, true)
	return st, err
}

// UpdateSubtask changes a subtask; a new position reorders the list.
func (s *store) UpdateSubtask(ctx context.Context, id string, p domain.SubtaskPatch, expectedVersion *int, guard domain.Guard) (*domain.Subtask, error) {
	ctx, priors := domain.WithPriors(ctx)
	st, err := s.Store.UpdateSubtask(ctx, id, p, expectedVersion, guard)
	e := s.c.effects()
	s.parentWritten(e, parentOf(priors, st), st, err)
	switch {
	case st == nil:
		e.invalidate(Item{KindSubtask, id})
	case p.Position != nil:
		s.siblings(ctx, e, st.TaskID, Item{KindSubtask, id}, Item{KindTaskHistory, st.TaskID})
	default:
		e.invalidate(Item{KindSubtask, id}, Item{KindTaskHistory, st.TaskID})
	}
	e.apply(ctx, true)
	return st, err
}

// DeleteSubtask removes a subtask; the ones after it move up.
func (s *store) DeleteSubtask(ctx context.Context, id string, guard domain.Guard) (*domain.Subtask, error) {
	ctx, priors := domain.WithPriors(ctx)
	st, err := s.Store.DeleteSubtask(ctx, id, guard)
	e := s.c.effects()
	s.parentWritten(e, parentOf(priors, st), st, err)
	items := []Item{{KindSubtask, id}, {KindSubtaskTags, id}}
	if st != nil {
		s.siblings(ctx, e, st.TaskID, append(items, Item{KindTaskHistory, st.TaskID})...)
	} else {
		e.invalidate(items...)
	}
	e.apply(ctx, true)
	return st, err
}

// parentWritten writes through the parent's row that a subtask write
// returned (it added, removed or moved a subtask: the row's subtask ids
// changed). A write whose outcome is unknown may have: the parent's row is
// dropped and the cache distrusted. taskID is "" when no parent is known.
func (s *store) parentWritten(e *effects, taskID string, st *domain.Subtask, err error) {
	switch {
	case err == nil && st != nil && st.Parent != nil:
		e.storeTask(st.TaskID, st.Parent)
	case domain.UnknownEffect(err):
		if taskID != "" {
			e.invalidate(Item{KindTask, taskID})
		}
		s.c.trusted.Store(false)
	}
}

// parentOf is the task a subtask write locked or wrote, "" when neither
// is known.
func parentOf(p *domain.Priors, st *domain.Subtask) string {
	if st != nil {
		return st.TaskID
	}
	if rows := p.Tasks(); len(rows) > 0 {
		return rows[0].ID
	}
	return ""
}

// AddTaskTags changes the task's tag list.
func (s *store) AddTaskTags(ctx context.Context, taskID string, names []string, guard domain.Guard) (*domain.Task, error) {
	t, err := s.Store.AddTaskTags(ctx, taskID, names, guard)
	s.tagsWritten(ctx, taskID, t, err)
	return t, err
}

// RemoveTaskTags changes the task's tag list.
func (s *store) RemoveTaskTags(ctx context.Context, taskID string, names []string, guard domain.Guard) (*domain.Task, error) {
	t, err := s.Store.RemoveTaskTags(ctx, taskID, names, guard)
	s.tagsWritten(ctx, taskID, t, err)
	return t, err
}

// tagsWritten writes the task's row through with its new tag ids (its
// tags_version orders it after every earlier copy), so the next read of a
// task just tagged, which every board and detail showing it makes, needs
// no SQL; and drops the tag list that reads of rows without tag ids use.
// A write that changed nothing returns the row it locked, without tag ids:
// nothing to write through. One whose outcome is unknown may have changed
// the set: the row is dropped and the cache distrusted.
func (s *store) tagsWritten(ctx context.Context, taskID string, t *domain.Task, err error) {
	e := s.c.effects()
	switch {
	case err == nil && t != nil && t.ChildrenRead:
		e.storeTask(taskID, t)
	case domain.UnknownEffect(err):
		e.invalidate(Item{KindTask, taskID})
		s.c.trusted.Store(false)
	}
	e.invalidate(Item{KindTaskTags, taskID}, Item{KindTaskHistory, taskID})
	e.apply(ctx, true)
}

// AddSubtaskTags changes the subtask's tag list.
func (s *store) AddSubtaskTags(ctx context.Context, subtaskID string, names []string, guard domain.Guard) (*domain.Subtask, error) {
	st, err := s.Store.AddSubtaskTags(ctx, subtaskID, names, guard)
	s.c.Invalidate(ctx, subtaskTagItems(subtaskID, st)...)
	return st, err
}

// RemoveSubtaskTags changes the subtask's tag list.
func (s *store) RemoveSubtaskTags(ctx context.Context, subtaskID string, names []string, guard domain.Guard) (*domain.Subtask, error) {
	st, err := s.Store.RemoveSubtaskTags(ctx, subtaskID, names, guard)
	s.c.Invalidate(ctx, subtaskTagItems(subtaskID, st)...)
	return st, err
}

// AddDependency changes one task's dependencies and the other's dependents.
func (s *store) AddDependency(ctx context.Context, taskID, dependsOnID string, guard domain.Guard) (*domain.Task, error) {
	t, err := s.Store.AddDependency(ctx, taskID, dependsOnID, guard)
	s.c.Invalidate(ctx, Item{KindTaskDeps, taskID}, Item{KindTaskDependents, dependsOnID},
		Item{KindTaskHistory, taskID}, Item{KindTaskHistory, dependsOnID})
	return t, err
}

// RemoveDependency changes one task's dependencies and the other's dependents.
func (s *store) RemoveDependency(ctx context.Context, taskID, dependsOnID string, guard domain.Guard) (*domain.Task, error) {
	t, err := s.Store.RemoveDependency(ctx, taskID, dependsOnID, guard)
	s.c.Invalidate(ctx, Item{KindTaskDeps, taskID}, Item{KindTaskDependents, dependsOnID},
		Item{KindTaskHistory, taskID}, Item{KindTaskHistory, dependsOnID})
	return t, err
}

// subtaskTagItems are what a change of a subtask's tags makes stale: its tag
// list, its row (which carries its tag ids) and its task's history.
func subtaskTagItems(subtaskID string, st *domain.Subtask) []Item {
	items := []Item{{KindSubtaskTags, subtaskID}, {KindSubtask, subtaskID}}
	if st != nil {
		items = append(items, Item{KindTaskHistory, st.TaskID})
	}
	return items
}
