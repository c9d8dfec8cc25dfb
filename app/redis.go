package app

import (
	"fmt"

	"github.com/herotasks/api/config"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
)

// newRedis connects to Redis Cluster (REDIS_ADDRS) or one Redis (REDIS_URL)
// with tight timeouts and no retries: a slow Redis must cost a request a few
// milliseconds, never more, before it falls back to PostgreSQL.
func newRedis(cfg config.Config) (redis.UniversalClient, error) {
	t := cfg.Cache.Timeout
	switch {
	case len(cfg.RedisAddrs) > 0:
		return traced(cfg, redis.NewClusterClient(&redis.ClusterOptions{Addrs: cfg.RedisAddrs, DialTimeout: 4 * t, ReadTimeout: t,
			WriteTimeout: t, PoolTimeout: t, MaxRetries: -1, ContextTimeoutEnabled: true}))
	case cfg.RedisURL != "":
		o, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout, o.MaxRetries = 4*t, t, t, t, -1
		o.ContextTimeoutEnabled = true
		return traced(cfg, redis.NewClient(o))
	}
	return nil, nil
}

// traced adds a span per Redis command when tracing is on.
func traced(cfg config.Config, rdb redis.UniversalClient) (redis.UniversalClient, error) {
	if cfg.Tracing {
		if err := redisotel.InstrumentTracing(rdb); err != nil {
			return nil, fmt.Errorf("redis tracing: %w", err)
		}
	}
	return rdb, nil
}
