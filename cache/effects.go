package cache

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"
)

// effects collects what one write does to Redis after its commit (rows
// written through, the list index moved, keys retired) and applies it in
// one pipeline: one round trip instead of one per step, on the writes'
// connection pool, which shares no pipeline with other requests. Each step
// keeps its own outcome: a step that fails distrusts the cache and counts
// its own error, whatever the others did. Steps run in the order added.
type effects struct {
	c     *Cache
	steps []effect
}

type effect struct {
	kind   Kind          // a script's kind, for its counters
	items  []Item        // else the items it retires
	script *redis.Script // a script, with its keys and arguments
	keys   []string
	args   []any
	cmds   []redis.Cmder // what the pipeline ran for the step
}

func (c *Cache) effects() *effects { return &effects{c: c} }

// storeTask writes a task's committed row through to its key (nil: the task
// is deleted, a negative entry), so the next read of a task just written
// needs no SQL. On a cluster, where the script's keys may span slots, it
// retires the key instead.
func (e *effects) storeTask(id string, t *domain.Task) {
	c := e.c
	if c == nil {
		return
	}
	if c.cluster {
		e.invalidate(Item{KindTask, id})
		return
	}
	version, tag, payload, ttl := int64(deletedVersion), string(tagNegative), []byte(nil), c.ttl(c.opts.NegativeTTL)
	if t != nil {
		var err error
		if payload, err = msgpack.Marshal(t); err != nil {
			e.invalidate(Item{KindTask, id})
			return
		}
		version, tag, ttl = t.RowStamp(), string(tagValue), c.ttl(c.opts.EntityTTL)
	}
	key := c.keys.For(KindTask, id)
	keep := 2*c.opts.EntityTTL + time.Hour // outlives every value written under it
	e.steps = append(e.steps, effect{kind: KindTask, script: storeRowScript,
		keys: []string{key, key + ":version", c.keys.Epoch()},
		args: []any{version, payload, ttl.Milliseconds(), keep.Milliseconds(), tag}})
}

// listWritten applies a write's outcome to the index: the task's new state
// (nil once deleted, with version the deletion's), and the state the write
// found under its lock (nil for a creation). A write whose outcome is
// unknown distrusts the cache instead, which retires the index with
// everything else.
func (e *effects) listWritten(id string, version int, now, found *domain.Task) {
	c := e.c
	if c == nil || c.cluster {
		return
	}
	var was string
	if found != nil {
		was = strings.Join(listPartitions(found), ",")
	}
	e.steps = append(e.steps, effect{kind: KindList, script: listWriteScript, keys: []string{c.keys.Epoch()},
		args: []any{c.listBase(), id, listRecord(version, now), was, 2 * c.opts.LeaseTTL.Milliseconds(), c.listRecordTTL()}})
}

// invalidate retires items.
func (e *effects) invalidate(items ...Item) {
	if e.c == nil || len(items) == 0 {
		return
	}
	e.steps = append(e.steps, effect{items: items})
}

// apply runs the steps in one pipeline, under the writes' timeout and
// outside the breaker (a writer always tries: a skipped invalidation would
// leave a stale entry). A script Redis no longer holds (restarted, or
// flushed) is run again on its own, which loads it. Under a WriteBatch
// (late true) the steps join the batch's pipeline instead, sent when the
// batch is flushed, before the write answers.
func (e *effects) apply(ctx context.Context, late bool) {
	c := e.c
	if c == nil || len(e.steps) == 0 {
		return
	}
	if b := batchFrom(ctx); late && b != nil && !c.cluster {
		b.add(e.queue, e.check)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.writeTimeout())
	defer cancel()
	pipe := c.wrdb.Pipeline()
	e.queue(ctx, pipe)
	_, _ = pipe.Exec(ctx) // each step's own error is read below
	e.check(ctx)
}

// queue adds the steps' commands to pipe.
func (e *effects) queue(ctx context.Context, pipe redis.Pipeliner) {
	c := e.c
	for i := range e.steps {
		st := &e.steps[i]
		switch {
		case st.script != nil:
			st.cmds = append(st.cmds, st.script.EvalSha(ctx, pipe, st.keys, st.args...))
		case c.cluster:
			// One UNLINK per key: a cluster pipeline routes each by its slot.
			for _, it := range st.items {
				st.cmds = append(st.cmds, pipe.Unlink(ctx, c.keys.For(it.Kind, it.ID)))
			}
		default:
			keys := make([]string, len(st.items))
			for j, it := range st.items {
				keys[j] = c.keys.For(it.Kind, it.ID)
			}
			st.cmds = append(st.cmds, pipe.Unlink(ctx, keys...))
		}
	}
}

// check reads each step's outcome once its pipeline ran: a step that
// failed distrusts the cache and counts its own error.
func (e *effects) check(ctx context.Context) {
	c := e.c
	for i := range e.steps {
		st := &e.steps[i]
		failed := false
		for _, cmd := range st.cmds {
			err := cmd.Err()
			if st.script != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
				err = st.script.Eval(ctx, c.wrdb, st.keys, st.args...).Err() // loads it
			}
			failed = failed || (err != nil && err != redis.Nil)
		}
		if failed {
			c.trusted.Store(false)
		}
		if st.script != nil {
			if failed {
				c.stats.kinds[st.kind].errors.Add(1)
			} else {
				c.stats.kinds[st.kind].invalidations.Add(1)
			}
			continue
		}
		for _, it := range st.items {
			if failed {
				c.stats.kinds[it.Kind].errors.Add(1)
			} else {
				c.stats.kinds[it.Kind].invalidations.Add(1)
			}
		}
	}
}

// A WriteBatch gathers the post-commit Redis work of a write's layers (the
// entity cache's effects, the response cache's tokens) into one pipeline,
// one round trip instead of one per layer. The outermost layer opens it
// (WithWriteBatch) and flushes it before the write answers; a layer whose
// later work must follow its own (the search generations after a text
// change) applies at once instead.
type WriteBatch struct {
	c     *Cache
	mu    sync.Mutex
	parts []batchPart
}

type batchPart struct {
	queue func(ctx context.Context, pipe redis.Pipeliner)
	check func(ctx context.Context)
}

type batchKey struct{}

// WithWriteBatch opens a batch flushed on c's writes' connections.
func (c *Cache) WithWriteBatch(ctx context.Context) (context.Context, *WriteBatch) {
	if c == nil || c.cluster {
		return ctx, nil
	}
	b := &WriteBatch{c: c}
	return context.WithValue(ctx, batchKey{}, b), b
}

func batchFrom(ctx context.Context) *WriteBatch {
	b, _ := ctx.Value(batchKey{}).(*WriteBatch)
	return b
}

// JoinWriteBatch puts work into the batch of ctx and reports true, or reports false
// when ctx has none (or it was flushed): the caller does the work itself.
// queue adds commands to the pipeline; check reads their outcome.
func JoinWriteBatch(ctx context.Context, queue func(ctx context.Context, pipe redis.Pipeliner), check func(ctx context.Context)) bool {
	b := batchFrom(ctx)
	return b != nil && b.add(queue, check)
}

func (b *WriteBatch) add(queue func(ctx context.Context, pipe redis.Pipeliner), check func(ctx context.Context)) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.c == nil {
		return false // flushed
	}
	b.parts = append(b.parts, batchPart{queue, check})
	return true
}

// Flush sends what the batch gathered in one pipeline and reads each
// part's outcome; work added after runs on its own.
func (b *WriteBatch) Flush(ctx context.Context) {
	if b == nil {
		return
	}
	b.mu.Lock()
	parts, c := b.parts, b.c
	b.parts, b.c = nil, nil
	b.mu.Unlock()
	if len(parts) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.writeTimeout())
	defer cancel()
	pipe := c.wrdb.Pipeline()
	for _, p := range parts {
		p.queue(ctx, pipe)
	}
	_, _ = pipe.Exec(ctx) // each part reads its own commands' errors
	for _, p := range parts {
		p.check(ctx)
	}
}
