// Package cache is the Redis layer under the dataloaders: cache-aside reads
// for entities and relation id-lists (one MGET for a batch, one SQL
// statement for the misses, one pipeline to fill), exact invalidation after
// commit, leases that keep a slow reader from storing a value older than a
// committed write, and a breaker that fails open to PostgreSQL.
//
// Coherence. A reader that misses takes a lease on the key (SET NX) before
// it reads PostgreSQL, and stores its value only if its lease is still there
// (a compare-and-set script). A writer deletes the keys it made stale after
// commit and before it answers; the delete removes any lease, so a reader
// that read the old row cannot store it. Once a mutation has answered, every
// instance reads either the new value or PostgreSQL.
//
// Failure. Every Redis read has a tight timeout and goes through a circuit
// breaker; on any failure the request is served from PostgreSQL. A failed
// invalidation marks the cache untrusted: this instance's reads bypass it
// until it has bumped the epoch that every stored value carries, which
// retires every entry written before the outage at once, on every instance
// (each MGET reads the epoch with the keys).
package cache

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/herotasks/api/breaker"
	"github.com/herotasks/api/domain"
	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
)

// Options configure the cache.
type Options struct {
	Prefix      string        // key namespace, "ht:v1" by default
	EntityTTL   time.Duration // tasks, subtasks, tags, users
	RelationTTL time.Duration // id lists: a task's subtasks, tags, dependencies, history
	NegativeTTL time.Duration // "no such id"
	StatsTTL    time.Duration // statistics
	SearchTTL   time.Duration // search results
	LeaseTTL    time.Duration // how long a reader may hold a fill lease
	Jitter      float64       // TTLs are stretched by up to this fraction, at random
	Timeout     time.Duration // per Redis round trip
	// AutoPipeline sends the reads of concurrent requests to one Redis as
	// shared pipelines (go-redis's AutoPipeliner): a request's round trips
	// ride with others' instead of each costing a write and a read system
	// call on both sides. Ignored on Redis Cluster.
	AutoPipeline bool
}

// Cache is the Redis layer. A nil *Cache is valid and caches nothing.
type Cache struct {
	rdb redis.UniversalClient
	// wrdb is rdb for a write's post-commit work, with the socket timeouts
	// of writeTimeout rather than the reads' (see minWriteTimeout).
	wrdb    redis.UniversalClient
	cluster bool
	opts    Options
	keys    Keys
	breaker *gobreaker.CircuitBreaker[any]
	stats   *Stats

	trusted atomic.Bool // false after a failed invalidation until the epoch is bumped
	// listEpoch is the epoch the list index was last read under (nil
	// before the first read), which its plain reads name their sets with.
	listEpoch atomic.Pointer[string]
	repairMu  sync.Mutex
	lastTry   time.Time
	afterLoad atomic.Pointer[func(kind Kind, ids []string)] // test hook between the database read and the fill
	// afterListLoad is the test hook between a list partition's read and its install.
	afterListLoad atomic.Pointer[func(part string)]
	// afterListChunk is the test hook after each chunk a list fill stages.
	afterListChunk atomic.Pointer[func(part string)]

	// decoded remembers the last value decoded under each key with the exact
	// bytes it came from: the same bytes read again are the same value, so
	// a warm read skips msgpack. Callers never change what fetch returns.
	// Every entity a request reads looks here, from every request at once:
	// a cache whose reads take no lock (otter), as an LRU's move to front
	// under one mutex made it the server's most contended lock.
	decoded *otter.Cache[string, decodedValue]
	// listMax is the largest partition the list index keeps (listMaxPartition).
	listMax int
	// listChunk is how many rows one call of a list fill stages (listFillChunk).
	listChunk int
	// postingsMax is the most postings a user's search hash keeps (searchPostingsMax).
	postingsMax int
	// knownTags holds the tags this instance has read: tags never change.
	knownTags *otter.Cache[string, *domain.Tag]
	// knownUsers holds the users this instance has read for knownUserTTL:
	// the API never changes a user (domain.User).
	knownUsers *otter.Cache[string, *domain.User]
	// searchTerms holds each query text parsed (searchQuery): it follows
	// from the text alone.
	searchTerms *lru.Cache[string, searchQuery]
}

// decodedValues is how many decoded values an instance keeps.
const decodedValues = 16384

type decodedValue struct {
	raw string
	v   any
}

// New returns a cache over rdb. A *redis.ClusterClient is used slot-safely:
// no multi-key command spans slots.
func New(rdb redis.UniversalClient, o Options) *Cache {
	if o.Prefix == "" {
		o.Prefix = "ht:v1"
	}
	_, cluster := rdb.(*redis.ClusterClient)
	c := &Cache{rdb: rdb, wrdb: rdb, cluster: cluster, opts: o, keys: Keys{prefix: o.Prefix}, stats: newStats(),
		listMax: listMaxPartition, listChunk: listFillChunk, postingsMax: searchPostingsMax}
	if one, ok := rdb.(*redis.Client); ok {
		c.wrdb = one.WithTimeout(c.writeTimeout()) // same connection pool
		if o.AutoPipeline {
			// The blocking face keeps each caller's order; a batch is bounded
			// by the connection's read timeout, which is the reads' Timeout.
			// It fails only on an invalid configuration; the default is valid.
			if ap, err := one.AutoPipeline(); err == nil {
				c.rdb = ap
			}
		}
	}
	c.decoded = otter.Must(&otter.Options[string, decodedValue]{MaximumSize: decodedValues})
	c.knownTags = otter.Must(&otter.Options[string, *domain.Tag]{MaximumSize: decodedValues})
	c.knownUsers = otter.Must(&otter.Options[string, *domain.User]{MaximumSize: decodedValues,
		ExpiryCalculator: otter.ExpiryWriting[string, *domain.User](knownUserTTL)})
	c.searchTerms, _ = lru.New[string, searchQuery](searchTermsCached)
	c.breaker = breaker.New[any]("redis-cache", nil)
	c.trusted.Store(true) // a new instance has missed no invalidation
	return c
}

// Keys returns the key namer.
func (c *Cache) Keys() Keys { return c.keys }

// Stats returns the counters.
func (c *Cache) Stats() *Stats {
	if c == nil {
		return nil
	}
	return c.stats
}

// Breaker reports the circuit breaker's state: closed, open or half-open.
func (c *Cache) Breaker() string { return c.breaker.State().String() }

// do runs one Redis round trip under the timeout and the breaker.
func (c *Cache) do(ctx context.Context, f func(ctx context.Context) error) error {
	_, err := c.breaker.Execute(func() (any, error) {
		ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
		defer cancel()
		err := f(ctx)
		if errors.Is(err, redis.Nil) {
			err = nil
		}
		return nil, err
	})
	return err
}

// minWriteTimeout bounds below how long a write's post-commit Redis work
// may take. A read that times out is served from PostgreSQL and costs that
// request alone; a write that times out retires every cached entry (the
// epoch), so a hiccup that a read's tight timeout tolerates must not do it.
const minWriteTimeout = 500 * time.Millisecond

// writeTimeout is the timeout of a write's invalidation, write-through or
// list update.
func (c *Cache) writeTimeout() time.Duration { return max(c.opts.Timeout, minWriteTimeout) }

// usable reports whether reads may use the cache now, repairing trust (an
// epoch bump) at most once a second while it is lost.
func (c *Cache) usable(ctx context.Context) bool {
	if c == nil || domain.MustReadFresh(ctx) {
		return false
	}
	if c.trusted.Load() {
		return c.breaker.State() != gobreaker.StateOpen
	}
	return c.repair(ctx)
}

func (c *Cache) repair(ctx context.Context) bool {
	c.repairMu.Lock()
	defer c.repairMu.Unlock()
	if c.trusted.Load() {
		return true
	}
	if time.Since(c.lastTry) < time.Second/10 {
		return false
	}
	c.lastTry = time.Now()
	err := c.do(ctx, func(ctx context.Context) error { return c.rdb.Incr(ctx, c.keys.Epoch()).Err() })
	if err != nil {
		return false
	}
	c.stats.epochBumps.Add(1)
	c.trusted.Store(true)
	return true
}

// ttl stretches d by a random fraction up to the jitter, so entries filled
// together do not expire together.
func (c *Cache) ttl(d time.Duration) time.Duration {
	if c.opts.Jitter <= 0 {
		return d
	}
	return d + time.Duration(rand.Float64()*c.opts.Jitter*float64(d))
}

// Stored values start with a tag byte; values and negative entries then
// carry the epoch they were written in.
const (
	tagValue    = 'V'
	tagNegative = 'N'
	tagLease    = 'L'
)

func envelope(tag byte, epoch int64, payload []byte) []byte {
	b := make([]byte, 1, 1+binary.MaxVarintLen64+len(payload))
	b[0] = tag
	b = binary.AppendVarint(b, epoch)
	return append(b, payload...)
}

// openEnvelope reads a stored value as the string Redis returned, without
// copying it: on the common path the value is only compared with the one
// decoded last time.
func openEnvelope(raw string) (tag byte, epoch int64, payload string, ok bool) {
	if len(raw) < 2 {
		return 0, 0, "", false
	}
	var head [binary.MaxVarintLen64]byte
	epoch, n := binary.Varint(head[:copy(head[:], raw[1:])])
	if n <= 0 {
		return 0, 0, "", false
	}
	return raw[0], epoch, raw[1+n:], true
}

// newLease returns a lease value no other reader can hold.
func newLease() string {
	var b [12]byte
	_, _ = crand.Read(b[:]) // never fails on supported platforms
	return string(tagLease) + hex.EncodeToString(b[:])
}

// casScript stores ARGV[2] with ttl ARGV[3] ms only while KEYS[1] still holds
// this reader's lease ARGV[1]. A writer's delete removes the lease, so a
// value read before that write is never stored.
var casScript = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return false`)

// The methods below let another Redis layer (the response cache) share this
// one's round-trip discipline: timeout, breaker, epoch and trust.

// Usable reports whether reads may use Redis now: the breaker is not open
// and no invalidation has failed since the epoch was last bumped.
func (c *Cache) Usable(ctx context.Context) bool { return c.usable(ctx) }

// Do runs one Redis round trip under the timeout and the breaker.
func (c *Cache) Do(ctx context.Context, f func(ctx context.Context) error) error { return c.do(ctx, f) }

// GetMany reads keys in one round trip (cluster-safe).
func (c *Cache) GetMany(ctx context.Context, keys []string) ([]any, error) {
	return c.getMany(ctx, keys)
}

// Distrust records a failed invalidation: reads skip Redis until the epoch
// has been bumped (Start repairs it in the background).
func (c *Cache) Distrust() { c.trusted.Store(false) }

// Redis returns the client.
func (c *Cache) Redis() redis.UniversalClient { return c.rdb }

// WriteRedis returns the client for a write's post-commit work, and
// WriteTimeout its timeout: longer than the reads', since a failure there
// retires every entry.
func (c *Cache) WriteRedis() redis.UniversalClient { return c.wrdb }

// WriteTimeout is the timeout of a write's post-commit work.
func (c *Cache) WriteTimeout() time.Duration { return c.writeTimeout() }
