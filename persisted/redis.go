package persisted

import (
	"context"
	"errors"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/herotasks/api/breaker"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
)

// RedisCache keeps APQ documents in Redis (go-redis v9) under
// <prefix>:apq:<sha256> with a TTL that every hit renews. It fails open:
// when Redis is slow or down a Get misses and an Add is dropped, so the
// client falls back to sending the whole document, which then runs. A
// breaker stops paying the timeout on every request while Redis is down.
// It is separate from the entity cache's breaker so APQ works with
// ENTITY_CACHE=off.
type RedisCache struct {
	rdb     redis.UniversalClient
	prefix  string
	ttl     time.Duration
	timeout time.Duration
	breaker *gobreaker.CircuitBreaker[string]
}

var _ graphql.Cache[string] = (*RedisCache)(nil)

// NewRedisCache returns an APQ cache over rdb.
func NewRedisCache(rdb redis.UniversalClient, prefix string, ttl, timeout time.Duration) *RedisCache {
	return &RedisCache{rdb: rdb, prefix: prefix + ":apq:", ttl: ttl, timeout: timeout,
		breaker: breaker.New[string]("redis-apq", nil)}
}

func (c *RedisCache) do(ctx context.Context, f func(ctx context.Context) (string, error)) (string, error) {
	return c.breaker.Execute(func() (string, error) {
		ctx, cancel := context.WithTimeout(ctx, c.timeout)
		defer cancel()
		s, err := f(ctx)
		if errors.Is(err, redis.Nil) {
			return "", nil // a miss is not a failure
		}
		return s, err
	})
}

// Get returns the document stored under hash and renews its TTL.
func (c *RedisCache) Get(ctx context.Context, hash string) (string, bool) {
	doc, err := c.do(ctx, func(ctx context.Context) (string, error) {
		return c.rdb.GetEx(ctx, c.prefix+hash, c.ttl).Result()
	})
	return doc, err == nil && doc != ""
}

// Add stores a document the APQ extension has checked against its hash.
func (c *RedisCache) Add(ctx context.Context, hash string, document string) {
	_, _ = c.do(ctx, func(ctx context.Context) (string, error) {
		return "", c.rdb.Set(ctx, c.prefix+hash, document, c.ttl).Err()
	})
}
