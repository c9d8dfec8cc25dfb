// Package loaders batches the per-row lookups of one GraphQL request into
// one indexed SQL statement per kind of lookup. A fresh set is built around
// every operation (With; HTTP and websocket alike), so nothing is shared
// between users and nothing outlives the operation.
package loaders

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/telemetry"
	"github.com/vikstrous/dataloadgen"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Options tune batching.
type Options struct {
	Wait     time.Duration // how long a batch collects keys after the first
	MaxBatch int           // keys per statement at most (0: no bound); 1 turns batching (and Preload) off
	// Observe, when set, is told the size of every batch (metrics).
	Observe func(loader string, keys int)
}

// observed reports each batch's size to o.Observe and wraps it in a span
// ("loader <name>", with the key count) that the batch's Redis and SQL
// spans nest under; without OpenTelemetry set up the span is a no-op.
func observed[K comparable, V any](o Options, name string, fetch func(context.Context, []K) (map[K]V, error)) func(context.Context, []K) (map[K]V, error) {
	spanName := "loader " + name
	return func(ctx context.Context, keys []K) (map[K]V, error) {
		if o.Observe != nil {
			o.Observe(name, len(keys))
		}
		ctx, span := telemetry.Tracer().Start(ctx, spanName, trace.WithAttributes(attribute.Int("loader.keys", len(keys))))
		defer span.End()
		out, err := fetch(ctx, keys)
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		return out, err
	}
}

// LimitKey asks for at most Limit children of a parent; Limit < 0 means all.
type LimitKey struct {
	ID    string
	Limit int
}

// TagKey asks for a tag's first page of tasks as a viewer sees them.
type TagKey struct {
	TagID  string
	First  int
	Viewer domain.Viewer
}

// Loaders is one request's set of loaders, named after their keys. Each is
// built on first use: a request for one task touches two or three of the
// twelve, and building them all is a visible share of its CPU.
type Loaders struct {
	s domain.Reader
	o Options

	taskByID             lazy[string, *domain.Task]
	userByID             lazy[string, *domain.User]
	subtaskByID          lazy[string, *domain.Subtask]
	tagByID              lazy[string, *domain.Tag]
	subtasksByTaskID     lazy[LimitKey, []*domain.Subtask]
	tagsByTaskID         lazy[string, []*domain.Tag]
	tagsBySubtaskID      lazy[string, []*domain.Tag]
	dependenciesByTaskID lazy[string, []*domain.Task]
	dependentsByTaskID   lazy[string, []*domain.Task]
	historyByTaskID      lazy[LimitKey, []*domain.TaskEvent]
	taskPageByTagID      lazy[TagKey, *domain.TaskPage]
	taskCountByTagID     lazy[TagKey, int]
}

// lazy is a loader built by its first user; every later one (from any
// goroutine) gets the same.
type lazy[K comparable, V any] struct {
	p  atomic.Pointer[Loader[K, V]]
	mu sync.Mutex
}

func (z *lazy[K, V]) get(build func() *Loader[K, V]) *Loader[K, V] {
	if l := z.p.Load(); l != nil {
		return l
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if l := z.p.Load(); l != nil {
		return l
	}
	l := build()
	z.p.Store(l)
	return l
}

// Loader is a dataloadgen loader that keeps its batch function, so that a
// resolver holding every key of the next level can fetch them at once
// (Preload) instead of waiting for the batching window to collect them.
type Loader[K comparable, V any] struct {
	*dataloadgen.Loader[K, V]
	fetch    func(context.Context, []K) (map[K]V, error)
	maxBatch int
}

func newLoader[K comparable, V any](o Options, name string, fetch func(context.Context, []K) (map[K]V, error)) *Loader[K, V] {
	f := observed(o, name, fetch)
	return &Loader[K, V]{
		Loader:   dataloadgen.NewMappedLoader(f, dataloadgen.WithWait(o.Wait), dataloadgen.WithBatchCapacity(o.MaxBatch)),
		fetch:    f,
		maxBatch: o.MaxBatch,
	}
}

// Preload fetches the values of keys now, through the loader's own batch
// function (one statement per MaxBatch keys, never a timer), and primes the
// loader with them, so the resolvers that Load them later are answered from
// memory. A key the batch function does not return is primed as the zero
// value (nil: "no such row"), as Load would answer. It returns what it
// fetched. With batching off (MaxBatch 1) it does nothing: that mode exists
// to measure one query per row. On an error nothing is primed; the
// resolvers then load lazily and report it on their fields.
func (l *Loader[K, V]) Preload(ctx context.Context, keys []K) (map[K]V, error) {
	if l.maxBatch == 1 || len(keys) == 0 {
		return nil, nil
	}
	seen := make(map[K]struct{}, len(keys))
	uniq := make([]K, 0, len(keys))
	for _, k := range keys {
		if _, ok := seen[k]; !ok {
			seen[k] = struct{}{}
			uniq = append(uniq, k)
		}
	}
	out := make(map[K]V, len(uniq))
	size := l.maxBatch
	if size <= 0 { // unbounded, as dataloadgen treats 0
		size = len(uniq)
	}
	for chunk := range slices.Chunk(uniq, size) {
		m, err := l.fetch(ctx, chunk)
		if err != nil {
			return nil, err
		}
		for _, k := range chunk {
			v := m[k]
			out[k] = v
			l.Prime(k, v)
		}
	}
	return out, nil
}

// Put primes the loader with values read some other way (a statement that
// reads several levels at once), as Preload would have: the resolvers that
// Load these keys later are answered from memory. With batching off
// (MaxBatch 1) it does nothing, like Preload.
func (l *Loader[K, V]) Put(key K, v V) {
	if l.maxBatch != 1 {
		l.Prime(key, v)
	}
}

// LookAhead reports whether levels may be read ahead of their resolvers
// (Preload, Put): false with batching off, the mode that measures one
// statement per row.
func (ls *Loaders) LookAhead() bool { return ls.o.MaxBatch != 1 }

// New returns a request's loaders over s (each built when first used).
func New(s domain.Reader, o Options) *Loaders { return &Loaders{s: s, o: o} }

// TaskByID loads tasks by id.
func (ls *Loaders) TaskByID() *Loader[string, *domain.Task] {
	return ls.taskByID.get(func() *Loader[string, *domain.Task] {
		return newLoader(ls.o, "task_by_id", byID(ls.s.TasksByIDs, func(t *domain.Task) string { return t.ID }))
	})
}

// UserByID loads users by id.
func (ls *Loaders) UserByID() *Loader[string, *domain.User] {
	return ls.userByID.get(func() *Loader[string, *domain.User] {
		return newLoader(ls.o, "user_by_id", byID(ls.s.UsersByIDs, func(u *domain.User) string { return u.ID }))
	})
}

// SubtaskByID loads subtasks by id.
func (ls *Loaders) SubtaskByID() *Loader[string, *domain.Subtask] {
	return ls.subtaskByID.get(func() *Loader[string, *domain.Subtask] {
		return newLoader(ls.o, "subtask_by_id", byID(ls.s.SubtasksByIDs, func(st *domain.Subtask) string { return st.ID }))
	})
}

// TagByID loads tags by id.
func (ls *Loaders) TagByID() *Loader[string, *domain.Tag] {
	return ls.tagByID.get(func() *Loader[string, *domain.Tag] {
		return newLoader(ls.o, "tag_by_id", byID(ls.s.TagsByIDs, func(g *domain.Tag) string { return g.ID }))
	})
}

// SubtasksByTaskID loads each task's subtasks in position order, at most
// the key's limit.
func (ls *Loaders) SubtasksByTaskID() *Loader[LimitKey, []*domain.Subtask] {
	return ls.subtasksByTaskID.get(func() *Loader[LimitKey, []*domain.Subtask] {
		return newLoader(ls.o, "subtasks_by_task_id", byLimit(func(ctx context.Context, ids []string, limit int) ([]*domain.Subtask, error) {
			var l *int
			if limit >= 0 {
				l = &limit
			}
			return ls.s.SubtasksByTaskIDs(ctx, ids, l)
		}, func(st *domain.Subtask) string { return st.TaskID }))
	})
}

// PreloadSubtasks reads the subtasks of tasks, at most limit each (all
// when limit < 0), now and primes SubtasksByTaskID with them, as its
// Preload would for their keys, but through the rows themselves
// (domain.Reader.SubtasksOfTasks): a row that carries its subtask ids needs
// no list read. It returns what it read; with batching off it does nothing.
func (ls *Loaders) PreloadSubtasks(ctx context.Context, tasks []*domain.Task, limit int) (map[LimitKey][]*domain.Subtask, error) {
	var lp *int
	if limit >= 0 {
		lp = &limit
	}
	return preloadRows(ctx, ls.o, ls.SubtasksByTaskID(), "subtasks_by_task_id", tasks,
		func(t *domain.Task) (LimitKey, string) { return LimitKey{ID: t.ID, Limit: limit}, t.ID },
		func(ctx context.Context, chunk []*domain.Task) ([]*domain.Subtask, error) {
			return ls.s.SubtasksOfTasks(ctx, chunk, lp)
		},
		func(st *domain.Subtask) (string, *domain.Subtask) { return st.TaskID, st })
}

// TagsByTaskID loads each task's tags.
func (ls *Loaders) TagsByTaskID() *Loader[string, []*domain.Tag] {
	return ls.tagsByTaskID.get(func() *Loader[string, []*domain.Tag] {
		return newLoader(ls.o, "tags_by_task_id", links(ls.s.TagsByTaskIDs))
	})
}

// PreloadTaskTags reads the tags of tasks now and primes TagsByTaskID with
// them, as its Preload would for their ids, but through the rows
// themselves (domain.Reader.TagsOfTasks): a row that carries its tag ids
// needs no list read. With batching off it does nothing, like Preload.
func (ls *Loaders) PreloadTaskTags(ctx context.Context, tasks []*domain.Task) error {
	_, err := preloadRows(ctx, ls.o, ls.TagsByTaskID(), "tags_by_task_id", tasks,
		func(t *domain.Task) (string, string) { return t.ID, t.ID }, ls.s.TagsOfTasks, linkItem[*domain.Tag])
	return err
}

// PreloadSubtaskTags is PreloadTaskTags for subtasks (TagsBySubtaskID,
// domain.Reader.TagsOfSubtasks).
func (ls *Loaders) PreloadSubtaskTags(ctx context.Context, subtasks []*domain.Subtask) error {
	_, err := preloadRows(ctx, ls.o, ls.TagsBySubtaskID(), "tags_by_subtask_id", subtasks,
		func(s *domain.Subtask) (string, string) { return s.ID, s.ID }, ls.s.TagsOfSubtasks, linkItem[*domain.Tag])
	return err
}

func linkItem[V any](l domain.Link[V]) (string, V) { return l.OwnerID, l.Item }

// preloadRows is Preload for a loader whose keys follow from rows the
// caller holds (key: the owner's loader key and id): read answers a chunk
// of owners with items, of names each item's owner. Every owner is primed,
// with an empty list when it has no item. Batches are the loader's (size,
// span, metrics); with batching off it does nothing.
func preloadRows[O, K comparable, E, V any](ctx context.Context, o Options, l *Loader[K, []V], name string, owners []O,
	key func(O) (K, string), read func(context.Context, []O) ([]E, error), of func(E) (string, V)) (map[K][]V, error) {
	if l.maxBatch == 1 || len(owners) == 0 {
		return nil, nil
	}
	size := l.maxBatch
	if size <= 0 {
		size = len(owners)
	}
	// Keyed by row, as the batch's span and size are the loader's.
	fetch := observed(o, name, func(ctx context.Context, chunk []O) (map[O][]V, error) {
		items, err := read(ctx, chunk)
		if err != nil {
			return nil, err
		}
		byOwner := make(map[string][]V, len(chunk))
		for _, e := range items {
			id, v := of(e)
			byOwner[id] = append(byOwner[id], v)
		}
		m := make(map[O][]V, len(chunk))
		for _, ow := range chunk {
			_, id := key(ow)
			if m[ow] = byOwner[id]; m[ow] == nil {
				m[ow] = []V{}
			}
		}
		return m, nil
	})
	out := make(map[K][]V, len(owners))
	for chunk := range slices.Chunk(owners, size) {
		m, err := fetch(ctx, chunk)
		if err != nil {
			return nil, err
		}
		for ow, vs := range m {
			k, _ := key(ow)
			l.Prime(k, vs)
			out[k] = vs
		}
	}
	return out, nil
}

// TagsBySubtaskID loads each subtask's tags.
func (ls *Loaders) TagsBySubtaskID() *Loader[string, []*domain.Tag] {
	return ls.tagsBySubtaskID.get(func() *Loader[string, []*domain.Tag] {
		return newLoader(ls.o, "tags_by_subtask_id", links(ls.s.TagsBySubtaskIDs))
	})
}

// DependenciesByTaskID loads the tasks each task waits for.
func (ls *Loaders) DependenciesByTaskID() *Loader[string, []*domain.Task] {
	return ls.dependenciesByTaskID.get(func() *Loader[string, []*domain.Task] {
		return newLoader(ls.o, "dependencies_by_task_id", links(ls.s.DependenciesByTaskIDs))
	})
}

// DependentsByTaskID loads the tasks waiting for each task.
func (ls *Loaders) DependentsByTaskID() *Loader[string, []*domain.Task] {
	return ls.dependentsByTaskID.get(func() *Loader[string, []*domain.Task] {
		return newLoader(ls.o, "dependents_by_task_id", links(ls.s.DependentsByTaskIDs))
	})
}

// HistoryByTaskID loads each task's latest events, at most the key's limit.
func (ls *Loaders) HistoryByTaskID() *Loader[LimitKey, []*domain.TaskEvent] {
	return ls.historyByTaskID.get(func() *Loader[LimitKey, []*domain.TaskEvent] {
		return newLoader(ls.o, "history_by_task_id", byLimit(ls.s.EventsByTaskIDs,
			func(e *domain.TaskEvent) string { return e.TaskID }))
	})
}

// TaskPageByTagID loads each tag's first page of tasks as a viewer sees them.
func (ls *Loaders) TaskPageByTagID() *Loader[TagKey, *domain.TaskPage] {
	return ls.taskPageByTagID.get(func() *Loader[TagKey, *domain.TaskPage] {
		return newLoader(ls.o, "task_page_by_tag_id", byTag(ls.s.TasksByTagIDs))
	})
}

// TaskCountByTagID counts each tag's tasks as a viewer sees them.
func (ls *Loaders) TaskCountByTagID() *Loader[TagKey, int] {
	return ls.taskCountByTagID.get(func() *Loader[TagKey, int] {
		return newLoader(ls.o, "task_count_by_tag_id", byTag(func(ctx context.Context, v domain.Viewer, ids []string, _ int) (map[string]int, error) {
			return ls.s.CountTasksByTagIDs(ctx, v, ids)
		}))
	})
}

// byID maps rows to their keys; an unknown key stays absent, which Get
// turns into nil (never another key's row).
func byID[V any](fetch func(context.Context, []string) ([]V, error), key func(V) string) func(context.Context, []string) (map[string]V, error) {
	return func(ctx context.Context, ids []string) (map[string]V, error) {
		rows, err := fetch(ctx, ids)
		if err != nil {
			return nil, err
		}
		m := make(map[string]V, len(rows))
		for _, r := range rows {
			m[key(r)] = r
		}
		return m, nil
	}
}

// links groups (owner, item) rows by owner; every requested owner gets a
// list, empty when it has no items.
func links[V any](fetch func(context.Context, []string) ([]domain.Link[V], error)) func(context.Context, []string) (map[string][]V, error) {
	return func(ctx context.Context, ids []string) (map[string][]V, error) {
		rows, err := fetch(ctx, ids)
		if err != nil {
			return nil, err
		}
		m := make(map[string][]V, len(ids))
		for _, id := range ids {
			m[id] = []V{}
		}
		for _, r := range rows {
			m[r.OwnerID] = append(m[r.OwnerID], r.Item)
		}
		return m, nil
	}
}

// byLimit groups keys by their limit (one statement per distinct limit,
// normally one) and the rows by parent.
func byLimit[V any](fetch func(context.Context, []string, int) ([]V, error), parent func(V) string) func(context.Context, []LimitKey) (map[LimitKey][]V, error) {
	return func(ctx context.Context, keys []LimitKey) (map[LimitKey][]V, error) {
		groups := map[int][]string{}
		for _, k := range keys {
			groups[k.Limit] = append(groups[k.Limit], k.ID)
		}
		m := make(map[LimitKey][]V, len(keys))
		for limit, ids := range groups {
			rows, err := fetch(ctx, ids, limit)
			if err != nil {
				return nil, err
			}
			for _, id := range ids {
				m[LimitKey{id, limit}] = []V{}
			}
			for _, r := range rows {
				k := LimitKey{parent(r), limit}
				m[k] = append(m[k], r)
			}
		}
		return m, nil
	}
}

// byTag groups tag keys by viewer and page size (one statement per group,
// normally one).
func byTag[V any](fetch func(context.Context, domain.Viewer, []string, int) (map[string]V, error)) func(context.Context, []TagKey) (map[TagKey]V, error) {
	return func(ctx context.Context, keys []TagKey) (map[TagKey]V, error) {
		type group struct {
			v     domain.Viewer
			first int
		}
		groups := map[group][]string{}
		for _, k := range keys {
			g := group{k.Viewer, k.First}
			groups[g] = append(groups[g], k.TagID)
		}
		out := make(map[TagKey]V, len(keys))
		for g, ids := range groups {
			m, err := fetch(ctx, g.v, ids, g.first)
			if err != nil {
				return nil, err
			}
			for id, v := range m {
				out[TagKey{id, g.first, g.v}] = v
			}
		}
		return out, nil
	}
}

// Get loads one entity, returning nil without error when it does not exist.
func Get[K comparable, V any](ctx context.Context, l *Loader[K, *V], key K) (*V, error) {
	v, err := l.Load(ctx, key)
	if errors.Is(err, dataloadgen.ErrNotFound) {
		return nil, nil
	}
	return v, err
}

type ctxKey struct{}

// set is a request's loaders, replaceable after a write.
type set struct {
	mu    sync.Mutex
	store domain.Reader
	opts  Options
	l     *Loaders
}

// With returns ctx carrying a fresh set of loaders (websocket operations,
// tests, commands).
func With(ctx context.Context, s domain.Reader, o Options) context.Context {
	return context.WithValue(ctx, ctxKey{}, &set{store: s, opts: o, l: New(s, o)})
}

// For returns the request's loaders.
func For(ctx context.Context) *Loaders {
	s := ctx.Value(ctxKey{}).(*set)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.l
}

// Reset drops everything the request's loaders have memoized. Mutations call
// it after writing, so the fields they return, and the mutations after them
// in the same request, read what was just committed.
func Reset(ctx context.Context) {
	s := ctx.Value(ctxKey{}).(*set)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.l = New(s.store, s.opts)
}
