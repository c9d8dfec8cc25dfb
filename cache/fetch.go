package cache

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"
)

// leaseScript takes the fill lease on KEYS[1] if the key still holds exactly
// what this reader saw (ARGV[2]: "" for nothing, or a value from a retired
// epoch), so a reader never replaces a current value or another's lease.
var leaseScript = redis.NewScript(`local v = redis.call('GET', KEYS[1])
if (v == false and ARGV[2] == '') or v == ARGV[2] then
  return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
end
return false`)

// Item names one cached item.
type Item struct {
	Kind Kind
	ID   string
}

// fetch returns the items of one kind for ids: from Redis where present and
// current, otherwise from load, whose results are stored under leases. An id
// that load does not return is absent from the result and cached as a
// negative entry. With the cache unusable it is load(ids), nothing more.
func fetch[V any](ctx context.Context, c *Cache, kind Kind, ids []string, load func(context.Context, []string) (map[string]V, error)) (map[string]V, error) {
	if len(ids) == 0 {
		return map[string]V{}, nil
	}
	if !c.usable(ctx) {
		return load(ctx, ids)
	}
	st := &c.stats.kinds[kind]
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = c.keys.For(kind, id)
	}
	vals, epochs, epoch, err := c.read(ctx, keys)
	if err != nil {
		st.errors.Add(1)
		return load(ctx, ids)
	}

	out := make(map[string]V, len(ids))
	var missing []string
	seen := map[string]string{} // missing id → what its key held ("" for nothing)
	for i, id := range ids {
		raw, _ := vals[i].(string)
		tag, ep, payload, ok := openEnvelope(raw)
		switch {
		case raw == "":
			seen[id] = ""
		case !ok || ep != epochs[i]:
			seen[id] = raw // retired epoch or unreadable: replace it under a lease
		case tag == tagLease:
			// Another reader is filling it; read the database, do not fill.
		case tag == tagNegative:
			st.hits.Add(1)
			continue
		case tag == tagValue:
			if d, ok := c.decoded.GetIfPresent(keys[i]); ok && d.raw == raw {
				if v, ok := d.v.(V); ok {
					if checkShared.Load() {
						mustBeUnmodified(keys[i], []byte(payload), v)
					}
					out[id] = v
					st.hits.Add(1)
					continue
				}
			}
			var v V
			if msgpack.Unmarshal([]byte(payload), &v) == nil {
				c.decoded.Set(keys[i], decodedValue{raw: raw, v: v})
				out[id] = v
				st.hits.Add(1)
				continue
			}
			seen[id] = raw
		}
		missing = append(missing, id)
	}
	if len(missing) == 0 {
		return out, nil
	}
	st.misses.Add(int64(len(missing)))

	leases := c.takeLeases(ctx, kind, seen)
	lctx := ctx
	if len(leases) > 0 {
		// Rows that will be cached must come from the primary: a lagging
		// replica could hand back a row older than a writer's invalidation,
		// which would then be served by every instance until its TTL.
		lctx = domain.ReadPrimary(ctx)
	}
	loaded, err := load(lctx, missing)
	if err != nil {
		return nil, err
	}
	if hook := c.afterLoad.Load(); hook != nil {
		(*hook)(kind, missing)
	}
	fill(ctx, c, kind, epoch, leases, loaded)
	for id, v := range loaded {
		out[id] = v
	}
	return out, nil
}

// Shared reports whether t is the value this instance hands out for its
// task's cached bytes (fetch's decoded values): the same value is handed to
// every later read of those bytes, so what is derived from it may be kept
// with it (graph.NodeMemo). A row read from PostgreSQL for a page that the
// cache does not answer is not.
func (c *Cache) Shared(t *domain.Task) bool {
	if c == nil || t == nil {
		return false
	}
	d, ok := c.decoded.GetIfPresent(c.keys.For(KindTask, t.ID))
	return ok && d.v == any(t)
}

// read returns the values of keys, each with the epoch read beside it, and
// the epoch of the latest read: those a request read ahead (readAhead)
// from there, the others in one MGET with the epoch, which also reads
// along what the request still wants ahead.
func (c *Cache) read(ctx context.Context, keys []string) (vals []any, epochs []int64, epoch int64, err error) {
	a := aheadOf(ctx)
	if a == nil {
		vals, err = c.getMany(ctx, append(keys, c.keys.Epoch()))
		if err != nil {
			return nil, nil, 0, err
		}
		epoch = parseEpoch(vals[len(keys)])
		epochs = make([]int64, len(keys))
		for i := range epochs {
			epochs[i] = epoch
		}
		return vals[:len(keys)], epochs, epoch, nil
	}
	vals, epochs = make([]any, len(keys)), make([]int64, len(keys))
	var rest []int
	for i, k := range keys {
		if v, ok := a.take(k); ok {
			vals[i], epochs[i], epoch = v.raw, v.epoch, v.epoch
		} else {
			rest = append(rest, i)
		}
	}
	if len(rest) == 0 {
		return vals, epochs, epoch, nil
	}
	mine := make([]string, len(rest))
	for j, i := range rest {
		mine[j] = keys[i]
	}
	along := a.along(mine)
	got, err := c.getMany(ctx, append(append(mine, along...), c.keys.Epoch()))
	if err != nil {
		return nil, nil, 0, err
	}
	epoch = parseEpoch(got[len(got)-1])
	for j, i := range rest {
		vals[i], epochs[i] = got[j], epoch
	}
	a.put(along, got[len(mine):len(mine)+len(along)], epoch)
	return vals, epochs, epoch, nil
}

func parseEpoch(v any) int64 {
	s, _ := v.(string)
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// getMany reads keys in one round trip: MGET on a single node; on a cluster,
// where one MGET may not span slots, a pipeline of GETs.
func (c *Cache) getMany(ctx context.Context, keys []string) ([]any, error) {
	var vals []any
	err := c.do(ctx, func(ctx context.Context) error {
		if !c.cluster {
			var err error
			vals, err = c.rdb.MGet(ctx, keys...).Result()
			return err
		}
		pipe := c.rdb.Pipeline()
		cmds := make([]*redis.StringCmd, len(keys))
		for i, k := range keys {
			cmds[i] = pipe.Get(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return err
		}
		vals = make([]any, len(keys))
		for i, cmd := range cmds {
			if s, err := cmd.Result(); err == nil {
				vals[i] = s
			}
		}
		return nil
	})
	return vals, err
}

// takeLeases takes fill leases for the missing ids in one pipeline and
// returns the ones this reader holds.
func (c *Cache) takeLeases(ctx context.Context, kind Kind, seen map[string]string) map[string]string {
	if len(seen) == 0 {
		return nil
	}
	ttl := strconv.FormatInt(c.opts.LeaseTTL.Milliseconds(), 10)
	type attempt struct {
		id, lease string
		cmd       *redis.Cmd
	}
	var tries []attempt
	err := c.do(ctx, func(ctx context.Context) error {
		pipe := c.rdb.Pipeline()
		tries = tries[:0]
		for id, was := range seen {
			lease := newLease()
			tries = append(tries, attempt{id, lease, leaseScript.Eval(ctx, pipe, []string{c.keys.For(kind, id)}, lease, was, ttl)})
		}
		_, err := pipe.Exec(ctx) // do treats redis.Nil (a script returning false) as success
		return err
	})
	if err != nil {
		c.stats.kinds[kind].errors.Add(1)
		return nil
	}
	held := make(map[string]string, len(tries))
	for _, t := range tries {
		if ok, _ := t.cmd.Result(); ok != nil {
			held[t.id] = t.lease
		}
	}
	return held
}

// fill stores loaded values (and negative entries for ids load did not find)
// under the leases this reader holds, in one pipeline.
func fill[V any](ctx context.Context, c *Cache, kind Kind, epoch int64, leases map[string]string, loaded map[string]V) {
	if len(leases) == 0 {
		return
	}
	ttl := c.opts.EntityTTL
	switch {
	case kind.Relation():
		ttl = c.opts.RelationTTL
	case kind == KindStatistics:
		ttl = c.opts.StatsTTL
	case kind == KindSearch:
		ttl = c.opts.SearchTTL
	}
	type stored struct {
		key, val string
		v        V
		cmd      *redis.Cmd
	}
	var values []stored
	err := c.do(ctx, func(ctx context.Context) error {
		pipe := c.rdb.Pipeline()
		values = values[:0]
		for id, lease := range leases {
			key := c.keys.For(kind, id)
			val, d := envelope(tagNegative, epoch, nil), c.ttl(c.opts.NegativeTTL)
			v, ok := loaded[id]
			if ok {
				payload, err := msgpack.Marshal(v)
				if err != nil {
					continue
				}
				val, d = envelope(tagValue, epoch, payload), c.ttl(ttl)
			}
			cmd := casScript.Eval(ctx, pipe, []string{key}, lease, val, strconv.FormatInt(d.Milliseconds(), 10))
			if ok {
				values = append(values, stored{key, string(val), v, cmd})
			}
		}
		_, err := pipe.Exec(ctx) // do treats redis.Nil (a script returning false) as success
		return err
	})
	if err != nil {
		c.stats.kinds[kind].errors.Add(1)
		return
	}
	// What this reader stored is what the next reads decode: they get the
	// value it loaded, the one it answered with (a value keeps its
	// identity from its first read, graph.NodeMemo).
	for _, s := range values {
		if res, _ := s.cmd.Result(); res == "OK" {
			c.decoded.Set(s.key, decodedValue{raw: s.val, v: s.v})
		}
	}
	c.stats.kinds[kind].fills.Add(int64(len(leases)))
}

// Invalidate deletes items after a commit. It does not go through the
// breaker: a writer always tries. If Redis cannot be reached, this instance
// stops trusting the cache until it has bumped the epoch (see Start).
func (c *Cache) Invalidate(ctx context.Context, items ...Item) {
	e := c.effects()
	e.invalidate(items...)
	e.apply(ctx, false)
}

// generation reads a counter; 0 when it was never bumped.
func (c *Cache) generation(ctx context.Context, key string) (int64, error) {
	var n int64
	err := c.do(ctx, func(ctx context.Context) error {
		v, err := c.rdb.Get(ctx, key).Int64()
		if err == redis.Nil {
			return nil
		}
		n = v
		return err
	})
	return n, err
}

// bump increments a generation counter after a write. Like Invalidate it
// skips the breaker, and a failure retires the cache through the epoch.
func (c *Cache) bump(ctx context.Context, key string) {
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.writeTimeout())
	defer cancel()
	if err := c.wrdb.Incr(ctx, key).Err(); err != nil {
		c.trusted.Store(false)
		c.stats.kinds[KindSearch].errors.Add(1)
		return
	}
	c.stats.kinds[KindSearch].invalidations.Add(1)
}

// Start repairs trust in the background: while this instance has lost Redis,
// it tries every 100 ms to bump the epoch, so entries written before the
// outage are retired as soon as Redis is back, not at the next read.
func (c *Cache) Start(ctx context.Context) {
	if c == nil {
		return
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !c.trusted.Load() {
				c.repair(ctx)
			}
		}
	}
}

// storeRowScript writes a committed row through (ARGV[2], its envelope
// tag ARGV[5]; the epoch is added here) under KEYS[1], for ARGV[3] ms,
// unless a row of the same or a newer stamp was written (KEYS[2] holds
// the highest stamp written, ARGV[1], for ARGV[4] ms; domain.Task.RowStamp,
// which tag writes grow too): writers' scripts may arrive out of commit
// order. Replacing the key also removes any
// reader's lease, so a reader that read an older row cannot store it.
var storeRowScript = redis.NewScript(`local v = redis.call('GET', KEYS[2])
if v and tonumber(v) >= tonumber(ARGV[1]) then return 0 end
local z = 2 * tonumber(redis.call('GET', KEYS[3]) or '0')
local ep = ''
while z >= 128 do
  ep = ep .. string.char(z % 128 + 128)
  z = math.floor(z / 128)
end
ep = ep .. string.char(z)
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[4])
redis.call('SET', KEYS[1], ARGV[5] .. ep .. ARGV[2], 'PX', ARGV[3])
return 1`)

// deletedVersion is the version a deletion writes through: no update can
// come after it.
const deletedVersion = 1 << 52

// checkShared, when set, has each reuse of a decoded value first compare it
// with a fresh decoding of its bytes. Every read of the same bytes shares
// one value, and the rendered tasks of graph.NodeMemo are kept by its
// identity, so a caller that modified a value it was handed would change
// what every later reader gets. No caller may; tests hold them to it.
var checkShared atomic.Bool

// CheckSharedValues turns the check on for this process: for tests (the
// check decodes every value again, and panics on a modified one).
func CheckSharedValues() { checkShared.Store(true) }

// mustBeUnmodified compares with reflect.DeepEqual, which holds for a value
// loaded from PostgreSQL and its own bytes decoded again only while both
// give times in the same location (pgx and msgpack both use time.Local):
// a change there shows up as this check failing on every hit.
func mustBeUnmodified[V any](key string, payload []byte, shared V) {
	var fresh V
	if err := msgpack.Unmarshal(payload, &fresh); err != nil {
		panic(fmt.Sprintf("cache: %s no longer decodes: %v", key, err))
	}
	if !reflect.DeepEqual(fresh, shared) {
		panic(fmt.Sprintf("cache: the shared value of %s was modified by a caller (it holds %+v; its bytes %+v)", key, shared, fresh))
	}
}
