// Package breaker is the one circuit-breaker policy for calls to Redis (the
// entity cache, the cost budget, the persisted-query cache): Redis is a
// shortcut, never a requirement, so when it fails the callers stop calling
// it for a second and fall back (to PostgreSQL, to a per-instance budget, to
// a miss), then try one call to see whether it is back.
package breaker

import (
	"time"

	"github.com/sony/gobreaker/v2"
)

// The policy. It trips on a failing Redis, not on a busy machine: a
// CPU-starved client times out now and then, and opening on a few such
// timeouts would send all reads to PostgreSQL exactly when it is busiest.
// A dead Redis refuses every call, so it still trips within Trip calls.
const (
	Trip     = 20               // consecutive failures that open the breaker
	Interval = 10 * time.Second // while closed, the counts reset this often
	Open     = time.Second      // open → half-open after this long
)

// New returns a breaker with the policy. onChange, when set, is told each
// new state ("closed", "open", "half-open").
func New[T any](name string, onChange func(state string)) *gobreaker.CircuitBreaker[T] {
	s := gobreaker.Settings{
		Name:        name,
		MaxRequests: 1, // one trial call when half-open
		Interval:    Interval,
		Timeout:     Open,
		// Or half the calls failed, once there were enough of them to tell.
		ReadyToTrip: func(n gobreaker.Counts) bool {
			return n.ConsecutiveFailures >= Trip || (n.Requests >= Trip && n.TotalFailures*2 >= n.Requests)
		},
	}
	if onChange != nil {
		s.OnStateChange = func(_ string, _, to gobreaker.State) { onChange(to.String()) }
	}
	return gobreaker.NewCircuitBreaker[T](s)
}
