package respcache_test

import (
	"testing"
	"time"

	"github.com/herotasks/api/respcache"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

func coded(codes ...string) gqlerror.List {
	var out gqlerror.List
	for _, c := range codes {
		out = append(out, &gqlerror.Error{Message: c, Extensions: map[string]any{"code": c}})
	}
	return out
}

// TestOnlyUnavailableMayBeStale: a stale answer stands in only for
// PostgreSQL being unreachable, never for any other error, alone or mixed.
func TestOnlyUnavailableMayBeStale(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		errs gqlerror.List
		want bool
	}{
		{coded("SERVICE_UNAVAILABLE"), true},
		{coded("SERVICE_UNAVAILABLE", "SERVICE_UNAVAILABLE"), true},
		{coded("BAD_USER_INPUT"), false},
		{coded("SERVICE_UNAVAILABLE", "BAD_USER_INPUT"), false},
		{coded("TIMEOUT"), false},
		{coded("NOT_FOUND", "SERVICE_UNAVAILABLE"), false},
		{coded("INTERNAL_SERVER_ERROR"), false},
		{gqlerror.List{{Message: "no code"}}, false},
	} {
		assert.Equal(t, tc.want, respcache.OnlyUnavailable(tc.errs), "OnlyUnavailable(%v)", tc.errs)
	}
}

// TestStaleWindow: an answer is served stale for StaleTTL after it was
// computed, and never with StaleTTL 0 (RESPONSE_CACHE_STALE_IF_ERROR=off).
func TestStaleWindow(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	t.Cleanup(func() { rdb.Close() })
	now := time.Now()
	on := respcache.New(rdb, respcache.Options{TTL: time.Minute, StaleTTL: time.Hour})
	off := respcache.New(rdb, respcache.Options{TTL: time.Minute})
	assert.True(t, on.ServesStale())
	assert.False(t, off.ServesStale())
	for _, tc := range []struct {
		age  time.Duration
		want bool
	}{{0, true}, {2 * time.Minute, true}, {59 * time.Minute, true}, {61 * time.Minute, false}} {
		assert.Equal(t, tc.want, on.ServableStale(now.Add(-tc.age), now), "StaleTTL 1h, age %v", tc.age)
		assert.False(t, off.ServableStale(now.Add(-tc.age), now), "off, age %v", tc.age)
	}
}
