package cache_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/herotasks/api/cache"
	"github.com/herotasks/api/internal/apitest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAutoPipelineSharesConnections: with AutoPipeline, the reads of many
// concurrent requests ride a few shared connections (one pipeline in flight
// at a time) instead of taking a connection each; without it, the same load
// opens many. Either way every read gets its own answer.
func TestAutoPipelineSharesConnections(t *testing.T) {
	apitest.RequireRedis(t)
	for _, tc := range []struct {
		auto bool
		conn func(t *testing.T, n uint32)
	}{
		{true, func(t *testing.T, n uint32) { assert.LessOrEqual(t, n, uint32(3), "connections with autopipelining") }},
		{false, func(t *testing.T, n uint32) { assert.Greater(t, n, uint32(3), "the load is concurrent") }},
	} {
		t.Run(fmt.Sprintf("auto=%v", tc.auto), func(t *testing.T) {
			o, err := redis.ParseURL(os.Getenv("REDIS_URL"))
			require.NoError(t, err)
			o.PoolSize = 64
			rdb := redis.NewClient(o)
			t.Cleanup(func() { rdb.Close() })
			prefix := fmt.Sprintf("ht:aptest:%d", time.Now().UnixNano())
			c := cache.New(rdb, cache.Options{Prefix: prefix, Timeout: 5 * time.Second, AutoPipeline: tc.auto})
			ctx := context.Background()
			const workers = 48
			for i := range workers {
				require.NoError(t, rdb.Set(ctx, fmt.Sprint(prefix, ":k", i), fmt.Sprint("v", i), time.Minute).Err())
			}

			start := make(chan struct{})
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			for i := range workers {
				wg.Go(func() {
					<-start
					key := fmt.Sprint(prefix, ":k", i)
					for range 20 {
						v, err := c.Redis().Get(ctx, key).Result()
						if err == nil && v != fmt.Sprint("v", i) {
							err = fmt.Errorf("read %s: got %q", key, v)
						}
						if err != nil {
							errs <- err
							return
						}
					}
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			tc.conn(t, rdb.PoolStats().TotalConns)
		})
	}
}
