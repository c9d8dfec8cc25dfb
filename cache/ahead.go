package cache

import (
	"context"
	"slices"
	"sync"

	"github.com/herotasks/api/domain"
)

// readAhead holds what a request reads from Redis before it needs it, so
// that the levels of a read share one round trip instead of one each. Its
// keys either follow from what the request already knows (a task's
// dependency list from the task's id) or are this instance's guess from
// what it decoded last time (the subtasks and dependencies a task had).
// They ride along in the MGET of the request's next fetch, and the fetches
// that need them take them from here instead of reading them again.
//
// A value read ahead was read after the request began, as it would have
// been in a round trip of its own, so it holds every write acknowledged
// before then: the guarantee that no answer predates such a write is kept.
// A guess that no longer holds (a dependency added since) is read by the
// fetch that needs it, as before; what was read and not needed is dropped
// with the request.
type readAhead struct {
	mu   sync.Mutex
	want []string              // keys the next MGET reads along
	got  map[string]aheadValue // read, not yet taken
}

// aheadValue is one value read ahead, with the epoch read beside it.
type aheadValue struct {
	raw   any
	epoch int64
}

type aheadKey struct{}

func newReadAhead(keys []string) *readAhead {
	return &readAhead{want: keys, got: map[string]aheadValue{}}
}

// withReadAhead returns ctx with keys to read along with the next fetch.
func withReadAhead(ctx context.Context, keys []string) context.Context {
	if len(keys) == 0 {
		return ctx
	}
	return context.WithValue(ctx, aheadKey{}, newReadAhead(keys))
}

// aheadOf returns what ctx read ahead: a task bundle's own, else its
// page's (domain.PageLevels).
func aheadOf(ctx context.Context) *readAhead {
	if a, ok := ctx.Value(aheadKey{}).(*readAhead); ok {
		return a
	}
	if p := domain.PageLevelsOf(ctx); p != nil {
		a, _ := p.Ahead().(*readAhead)
		return a
	}
	return nil
}

// take returns the value read ahead for key, once.
func (a *readAhead) take(key string) (aheadValue, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	v, ok := a.got[key]
	if ok {
		delete(a.got, key)
	}
	return v, ok
}

// along hands the keys still to read to a fetch about to send an MGET,
// leaving out those it reads for itself.
func (a *readAhead) along(own []string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	keys := slices.DeleteFunc(a.want, func(k string) bool { return slices.Contains(own, k) })
	a.want = nil
	return keys
}

// put keeps what an MGET read along.
func (a *readAhead) put(keys []string, vals []any, epoch int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, k := range keys {
		a.got[k] = aheadValue{raw: vals[i], epoch: epoch}
	}
}

// pageAhead keeps, for a page's tasks (ids) whose query reads their
// subtasks next, the subtasks each had when this instance last decoded it,
// to read them along with the rows. Not for recorded reads: a page's
// subtasks are read under their tasks' tokens, taken after the rows.
func (c *Cache) pageAhead(ctx context.Context, ids []string) {
	p := domain.PageLevelsOf(ctx)
	if p == nil || !p.With.Subtasks || domain.RecordedReads(ctx) {
		return
	}
	var keys []string
	for _, id := range ids {
		keys = append(keys, c.lastSubtaskKeys(id, p.With.SubtaskLimit)...)
	}
	if len(keys) > 0 {
		p.SetAhead(newReadAhead(keys))
	}
}

// lastSubtaskKeys are the keys of the subtasks (at most limit) task id had
// when this instance last decoded its row; none when it has not.
func (c *Cache) lastSubtaskKeys(id string, limit *int) []string {
	d, ok := c.decoded.GetIfPresent(c.keys.For(KindTask, id))
	if !ok {
		return nil
	}
	t, ok := d.v.(*domain.Task)
	if !ok || !t.ChildrenRead {
		return nil
	}
	var keys []string
	for _, s := range firstIDs(t.SubtaskIDs, limit) {
		keys = append(keys, c.keys.For(KindSubtask, s))
	}
	return keys
}

// bundleAhead returns the keys a task bundle's deep levels will read, to
// read them along with the task: the dependency and dependent lists (their
// keys follow from the id), the tasks those lists held and the subtasks
// the task held when this instance last decoded them.
func (c *Cache) bundleAhead(id string, with domain.TaskWith) []string {
	var keys []string
	if with.Subtasks {
		keys = c.lastSubtaskKeys(id, with.SubtaskLimit)
	}
	for _, k := range []struct {
		on   bool
		kind Kind
	}{{with.Dependencies, KindTaskDeps}, {with.Dependents, KindTaskDependents}} {
		if !k.on {
			continue
		}
		list := c.keys.For(k.kind, id)
		keys = append(keys, list)
		if d, ok := c.decoded.GetIfPresent(list); ok {
			if ids, ok := d.v.([]string); ok {
				for _, t := range ids {
					keys = append(keys, c.keys.For(KindTask, t))
				}
			}
		}
	}
	return keys
}
