package respcache

import (
	"time"

	"github.com/redis/go-redis/v9"
)

// SetBeforeStore installs a hook that runs after an operation executed and
// before its response is stored: the tests force the race with it.
func (c *Cache) SetBeforeStore(f func()) { c.beforeStore.Store(&f) }

// OnlyUnavailable is onlyUnavailable: whether errs may be answered stale.
var OnlyUnavailable = onlyUnavailable

// ServableStale reports whether an answer computed at at may be served
// stale at now.
func (c *Cache) ServableStale(at, now time.Time) bool {
	return c.servableStale(&entry{entryHead: entryHead{At: at.UnixMilli()}}, now)
}

// WriteRedis is the client of writes' tokens (and of the write batches
// this layer opens).
func (c *Cache) WriteRedis() redis.UniversalClient { return c.infra.WriteRedis() }
