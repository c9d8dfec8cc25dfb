// Package respcache is the whole-response cache: a query whose response is
// stored is answered from Redis without running a resolver or a statement.
//
// Keys. An entry is keyed by the operation name, the normalized document
// (printed from the parsed operation, so spacing and comments do not
// matter), the variables and a scope: the caller's authorization scope
// (anonymous, or user id and role) when the answer depended on who asked
// (domain.DependsOnViewer), else one scope shared by every caller. No
// caller ever receives an answer computed for another unless it is the
// answer they would have been given.
//
// Coherence, by tags. Every read an operation makes through the store is
// tagged with what it depends on (tagging.go): "t:<id>" for a task and
// everything that hangs off it, "s:<id>" a subtask, "u:<id>" a user,
// "g:<id>" a tag, "n:<seq>" a task number, list partitions "l:..." by
// audience and filter, search audiences "q:...", "tags" the tag list.
// Each tag has a token in Redis. Before a read, the recorder takes the
// current token of each new tag (creating one when there is none); the
// entry is stored with the tokens it saw. A write, after its commit and
// before its response is sent, replaces the tokens of every tag it
// changed. A lookup reads the entry, then the current tokens of its tags
// and the epoch, in one more round trip, and serves the entry only if all
// are unchanged.
//
// That closes the reader/writer race the way leases do for entities: a
// reader that saw token T read its rows after T existed; if a writer
// committed before replacing T with T', either the reader's rows include
// the write, or T' differs from the stored T and the entry is never served.
// A token that is gone (evicted, expired, Redis restarted) reads as changed.
// Tokens outlive entries (an hour, or twice the entry TTL when longer). Reads
// for an operation that may be stored go to the primary, never a lagging
// replica. A write that cannot reach Redis distrusts the layer on that
// instance until the epoch has been bumped, which retires every entry.
//
// The in-process front cache (RESPONSE_CACHE_LOCAL) keeps decoded entries
// to save the transfer; a local hit is validated against Redis like any
// other, so it is as coherent across instances as Redis itself.
//
// Stale if error. With Options.StaleTTL set, an entry outlives its TTL in
// Redis for StaleTTL: past TTL, or once its tokens changed, a lookup still
// refuses it, but it stays the key's last answer. When the operation then
// fails only because PostgreSQL is unreachable (every error is
// SERVICE_UNAVAILABLE), that last answer is served instead, flagged
// extensions.responseCache "stale" with extensions.staleSince, the time
// its operation began: it holds every write acknowledged before then, and
// maybe none after. The last answer is the entry the failed operation's
// own lookup already read, so the stale path adds no round trip and the
// hot path none either (the entry is one key, written by the one SET a
// store always made). It is never stored again, served to no other scope
// than its own (the scope is in the key), and never for a mutation, a
// subscription or any other error.
package respcache

import (
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/herotasks/api/cache"
	"github.com/redis/go-redis/v9"
)

// Options configure the response cache.
type Options struct {
	Prefix     string        // key namespace (the entity cache's prefix)
	TTL        time.Duration // entry lifetime
	Operations []string      // operation names that may be cached; empty or "*" means all
	Local      int           // entries kept decoded in process (0: none)
	Timeout    time.Duration // per Redis round trip
	// AutoPipeline shares pipelines between concurrent lookups (see
	// cache.Options.AutoPipeline).
	AutoPipeline bool
	// StaleTTL is how long an entry is kept as its key's last answer, to
	// be served flagged stale while PostgreSQL is unreachable (0: never).
	StaleTTL time.Duration
	// MinHitRatio sends an operation whose lookups hit less often than this
	// around the cache for a while (admission.go); 0 caches every one.
	MinHitRatio float64
}

// Cache stores and validates whole responses.
type Cache struct {
	infra *cache.Cache // breaker, timeout, epoch and trust, under Prefix+":rc"
	opts  Options
	all   bool
	local *lru.Cache[string, *entry]
	stats Stats
	admit admission

	beforeStore atomic.Pointer[func()] // test hook between execution and the store
}

// Stats count what the cache did.
type Stats struct {
	Hits, Misses, Stores, Skips, Invalidations, Errors atomic.Int64
	Stale                                              atomic.Int64 // last answers served while PostgreSQL was unreachable
	Bypasses                                           atomic.Int64 // operations sent around the cache for a poor hit ratio
}

// New returns a response cache on rdb.
func New(rdb redis.UniversalClient, o Options) *Cache {
	if o.TTL <= 0 {
		o.TTL = 30 * time.Second
	}
	if o.StaleTTL < 0 {
		o.StaleTTL = 0
	}
	c := &Cache{
		infra: cache.New(rdb, cache.Options{Prefix: o.Prefix + ":rc", Timeout: o.Timeout,
			AutoPipeline: o.AutoPipeline}),
		opts:  o,
		all:   len(o.Operations) == 0 || slices.Contains(o.Operations, "*"),
		admit: newAdmission(o.MinHitRatio, admissionShapes),
	}
	if o.Local > 0 {
		c.local, _ = lru.New[string, *entry](o.Local)
	}
	return c
}

// Start repairs trust in the background after a failed invalidation.
func (c *Cache) Start(ctx context.Context) { c.infra.Start(ctx) }

// ServesStale reports whether the cache serves last answers while
// PostgreSQL is unreachable (Options.StaleTTL).
func (c *Cache) ServesStale() bool { return c != nil && c.opts.StaleTTL > 0 }

// Stats returns the counters.
func (c *Cache) Stats() *Stats { return &c.stats }

// entry is a stored response: its head and its data.
type entry struct {
	entryHead
	Data json.RawMessage `json:"d"`
}

// entryHead is what an entry holds besides its data.
type entryHead struct {
	Epoch  string            `json:"e"`
	Tokens map[string]string `json:"t"`
	// At is when the operation that computed Data began (Unix ms): its
	// reads came after, so Data holds every write acknowledged before At.
	// Zero in entries written before stale answers existed, which Redis
	// expires at the TTL and which are never served stale.
	At int64 `json:"a,omitempty"`
}

// encodeEntry stores e as its head in JSON, a newline, then the response's
// data as the executor wrote it. The data is not scanned on the way in or
// out: as a json.RawMessage field, encoding/json validated and compacted
// the whole response both ways, most of what a lookup cost the server. A
// head has no raw newline (JSON escapes it in strings).
func encodeEntry(e *entry) ([]byte, error) {
	head, err := json.Marshal(e.entryHead)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(head)+1+len(e.Data))
	out = append(append(append(out, head...), '\n'), e.Data...)
	return out, nil
}

// decodeEntry reads an entry encodeEntry stored, or one stored whole as
// JSON by an earlier version; nil when raw is neither, or its data is cut
// short (a response's data is an object or null).
func decodeEntry(raw string) *entry {
	i := strings.IndexByte(raw, '\n')
	if i < 0 {
		var e entry
		if json.Unmarshal([]byte(raw), &e) != nil {
			return nil
		}
		return &e
	}
	var h entryHead
	data := raw[i+1:]
	if json.Unmarshal([]byte(raw[:i]), &h) != nil || !(data == "null" || len(data) >= 2 && data[0] == '{' && data[len(data)-1] == '}') {
		return nil
	}
	return &entry{entryHead: h, Data: json.RawMessage(data)}
}

// expired reports whether e is past the TTL, when only a stale answer may
// be made of it.
func (c *Cache) expired(e *entry, now time.Time) bool {
	return e.At != 0 && now.UnixMilli()-e.At > c.opts.TTL.Milliseconds()
}

// servableStale reports whether e may still be served as a stale answer.
func (c *Cache) servableStale(e *entry, now time.Time) bool {
	return c.opts.StaleTTL > 0 && e != nil && e.At != 0 && now.UnixMilli()-e.At <= c.opts.StaleTTL.Milliseconds()
}

// keep is how long Redis keeps an entry: its TTL, or the stale window when
// that is longer.
func (c *Cache) keep() time.Duration { return max(c.opts.TTL, c.opts.StaleTTL) }

func (c *Cache) entryKey(h string) string { return c.opts.Prefix + ":resp:" + h }
func (c *Cache) tagKey(tag string) string { return c.opts.Prefix + ":rtag:" + tag }
func (c *Cache) epochKey() string         { return c.opts.Prefix + ":rc:epoch" }

// tagTTL is how long a token lives: far longer than an entry is fresh, so
// that few entries see theirs expire.
func (c *Cache) tagTTL() time.Duration { return max(2*c.opts.TTL+time.Minute, time.Hour) }

// Key hashes what makes two responses the same.
func Key(scope, operation, document string, variables map[string]any) string {
	vars, _ := json.Marshal(variables) // map keys are sorted: canonical
	h := sha256.New()
	for _, s := range []string{scope, operation, document, string(vars)} {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// noStore is the epoch lookup reports when Redis cannot be used: a
// response computed then is not stored.
const noStore = "\x00"

// lookup returns the entry that answers one of keys (the caller's own
// key, then the key shared by every caller, when given) and the current
// epoch (for storing a new one, noStore when it must not be). fresh says
// whether the entry is valid: unexpired, of the current epoch, with every
// token unchanged. When none is fresh, the first key's entry of the
// current epoch (else the next's) is returned anyway, as the last answer
// for the stale path; e is nil when there is none.
func (c *Cache) lookup(ctx context.Context, keys ...string) (e *entry, epoch string, fresh bool, current map[string]string) {
	if !c.infra.Usable(ctx) {
		return nil, noStore, false, nil
	}
	found := make([]*entry, len(keys))
	local := make([]bool, len(keys))
	if c.local != nil {
		inProcess := false
		for i, k := range keys {
			found[i], local[i] = c.local.Get(k)
			inProcess = inProcess || local[i]
		}
		if inProcess {
			// The entries held in process first: a fresh one costs one
			// round trip, its tokens', whichever key it is under.
			e, epoch, fresh, current, ok := c.check(ctx, keys, found, local)
			if !ok || fresh {
				return e, epoch, fresh, current
			}
			clear(found) // those that were not fresh are gone from the front
			clear(local)
		}
	}
	rkeys := make([]string, len(keys))
	for i, k := range keys {
		rkeys[i] = c.entryKey(k)
	}
	vals, err := c.infra.GetMany(ctx, rkeys)
	if err != nil {
		c.stats.Errors.Add(1)
		return nil, noStore, false, nil
	}
	for i := range keys {
		if raw := str(vals[i]); raw != "" {
			found[i] = decodeEntry(raw)
		}
	}
	e, epoch, fresh, current, ok := c.check(ctx, keys, found, local)
	if !ok {
		return nil, noStore, false, nil
	}
	return e, epoch, fresh, current
}

// check reads the epoch and the current tokens of the entries found under
// keys (local: held in process) in one round trip, and returns the first
// fresh one, else the first of the current epoch as the last answer, with
// the tokens it read; ok is false when Redis could not be read.
func (c *Cache) check(ctx context.Context, keys []string, found []*entry, local []bool) (e *entry, epoch string, fresh bool, current map[string]string, ok bool) {
	now := time.Now()
	tags := make([]string, 0, 8)
	for _, f := range found {
		if f != nil && !c.expired(f, now) { // an expired entry's tokens do not matter: it cannot be fresh
			for t := range f.Tokens {
				if !slices.Contains(tags, t) {
					tags = append(tags, t)
				}
			}
		}
	}
	tkeys := make([]string, 0, len(tags)+1)
	tkeys = append(tkeys, c.epochKey())
	for _, t := range tags {
		tkeys = append(tkeys, c.tagKey(t))
	}
	vals, err := c.infra.GetMany(ctx, tkeys)
	if err != nil {
		c.stats.Errors.Add(1)
		return nil, noStore, false, nil, false
	}
	epoch = str(vals[0])
	current = make(map[string]string, len(tags))
	for i, t := range tags {
		current[t] = str(vals[i+1])
	}
	var last *entry
	for i, f := range found {
		if f == nil || f.Epoch != epoch {
			if local[i] {
				c.local.Remove(keys[i])
			}
			continue // a retired epoch: not even a last answer to trust
		}
		if c.valid(f, current, now) {
			if c.local != nil && !local[i] {
				c.local.Add(keys[i], f)
			}
			return f, epoch, true, current, true
		}
		if local[i] {
			c.local.Remove(keys[i])
		}
		if last == nil {
			last = f
		}
	}
	return last, epoch, false, current, true
}

// valid reports whether e is unexpired and every token it saw is current.
func (c *Cache) valid(e *entry, current map[string]string, now time.Time) bool {
	if c.expired(e, now) {
		return false
	}
	for t, tok := range e.Tokens {
		if cur := current[t]; cur == "" || cur != tok {
			return false
		}
	}
	return true
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// store saves a response under the tokens its reads saw; at is when its
// operation began.
func (c *Cache) store(ctx context.Context, key, epoch string, tokens map[string]string, data json.RawMessage, at time.Time) {
	if epoch == noStore {
		return
	}
	raw, err := encodeEntry(&entry{entryHead{Epoch: epoch, Tokens: tokens, At: at.UnixMilli()}, data})
	if err != nil {
		return
	}
	err = c.infra.Do(ctx, func(ctx context.Context) error {
		return c.infra.Redis().Set(ctx, c.entryKey(key), raw, c.keep()).Err()
	})
	if err != nil {
		c.stats.Errors.Add(1)
		return
	}
	c.stats.Stores.Add(1)
}

// tokens reads the tokens of tags, creating the missing ones: one MGET
// (a pipeline of GETs on a cluster), then, for tags that have none, one
// pipeline of SET NX GET (Redis 7), which keeps a token another reader
// created meanwhile. Tokens are not refreshed when read: one that expires
// only costs the entries that saw it a miss.
func (c *Cache) tokens(ctx context.Context, tags []string) (map[string]string, error) {
	keys := make([]string, len(tags))
	for i, t := range tags {
		keys[i] = c.tagKey(t)
	}
	vals, err := c.infra.GetMany(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(tags))
	var missing []int
	for i, v := range vals {
		if tok := str(v); tok != "" {
			out[tags[i]] = tok
		} else {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	err = c.infra.Do(ctx, func(ctx context.Context) error {
		pipe := c.infra.Redis().Pipeline()
		mine := make([]string, len(missing))
		cmds := make([]*redis.StatusCmd, len(missing))
		for j, i := range missing {
			mine[j] = newToken()
			cmds[j] = pipe.SetArgs(ctx, keys[i], mine[j], redis.SetArgs{Mode: "NX", Get: true, TTL: c.tagTTL()})
		}
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return err
		}
		for j, i := range missing {
			switch prev, err := cmds[j].Result(); {
			case err == redis.Nil:
				out[tags[i]] = mine[j] // created now
			case err != nil:
				return err
			default:
				out[tags[i]] = prev // created by another reader since the MGET
			}
		}
		return nil
	})
	return out, err
}

// Invalidate gives tags new tokens after a commit, so every stored
// response that read them stops being served. Like the entity cache's
// invalidation it skips the breaker (a writer always tries), and a failure
// distrusts the layer until the epoch is bumped.
func (c *Cache) Invalidate(ctx context.Context, tags ...string) {
	if c == nil || len(tags) == 0 {
		return
	}
	cmds := make([]*redis.StatusCmd, 0, len(tags))
	queue := func(ctx context.Context, pipe redis.Pipeliner) {
		for _, t := range tags {
			cmds = append(cmds, pipe.Set(ctx, c.tagKey(t), newToken(), c.tagTTL()))
		}
	}
	check := func(context.Context) {
		for _, cmd := range cmds {
			if cmd.Err() != nil {
				c.infra.Distrust()
				c.stats.Errors.Add(1)
				return
			}
		}
		c.stats.Invalidations.Add(int64(len(tags)))
	}
	// In the write's batch (cache.WriteBatch), with the entity cache's
	// effects: one round trip for both.
	if cache.JoinWriteBatch(ctx, queue, check) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.infra.WriteTimeout())
	defer cancel()
	pipe := c.infra.WriteRedis().Pipeline()
	queue(ctx, pipe)
	_, _ = pipe.Exec(ctx) // check reads each command's error
	check(ctx)
}

// batched opens a write's Redis batch (cache.WriteBatch), which the
// returned function flushes before the write answers.
func (c *Cache) batched(ctx context.Context) (context.Context, func()) {
	if c == nil {
		return ctx, func() {}
	}
	ctx, b := c.infra.WithWriteBatch(ctx)
	return ctx, func() { b.Flush(ctx) }
}

func newToken() string {
	var b [8]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// recorder collects the tags an operation's reads depend on, with the token
// each had before its first read.
type recorder struct {
	c      *Cache
	mu     sync.Mutex
	tokens map[string]string
	// pretaken are the tokens the lookup read, before the operation ran, of
	// the tags its last answer held: most of what the run will take again,
	// so those cost no round trip.
	pretaken map[string]string
	failed   bool // a token could not be read, or changed between two reads
	// personal: the answer depended on who asked (domain.DependsOnViewer),
	// so it is stored for the caller's scope only; otherwise for everyone.
	personal atomic.Bool
}

type recorderKey struct{}

func recorderFrom(ctx context.Context) *recorder {
	r, _ := ctx.Value(recorderKey{}).(*recorder)
	return r
}

// pretakenAll reports whether the lookup read the token of prefix+id for
// every id, before the operation began.
func (r *recorder) pretakenAll(prefix string, ids []string) bool {
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		if r.pretaken[prefix+id] == "" {
			return false
		}
	}
	return len(ids) > 0
}

// observe takes the tokens of the tags a read is about to depend on.
func (r *recorder) observe(ctx context.Context, tags ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	if r.failed {
		r.mu.Unlock()
		return
	}
	fresh := make([]string, 0, len(tags))
	for _, t := range tags {
		if _, ok := r.tokens[t]; ok || slices.Contains(fresh, t) {
			continue
		}
		if tok := r.pretaken[t]; tok != "" {
			r.tokens[t] = tok // read before the operation began, by its lookup
			continue
		}
		fresh = append(fresh, t)
	}
	r.mu.Unlock()
	if len(fresh) == 0 {
		return
	}
	got, err := r.c.tokens(ctx, fresh)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.failed = true
		return
	}
	for t, tok := range got {
		if prev, ok := r.tokens[t]; ok && prev != tok {
			r.failed = true // a write came between two reads of this operation
			return
		}
		r.tokens[t] = tok
	}
}
