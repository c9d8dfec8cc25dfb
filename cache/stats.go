package cache

import (
	"sync/atomic"
)

// Stats counts what the cache did, per kind of item.
type Stats struct {
	kinds      [kinds]kindStats
	epochBumps atomic.Int64
	breaker    atomic.Value // string
}

type kindStats struct {
	hits, misses, fills, errors, invalidations atomic.Int64
}

func newStats() *Stats {
	s := &Stats{}
	s.breaker.Store("closed")
	return s
}

func (s *Stats) setBreaker(state string) { s.breaker.Store(state) }

// Stat is one kind's counters.
type Stat struct {
	Kind          string
	Type          string // "entity", "relation", "statistics" or "search"
	Hits          int64
	Misses        int64
	Fills         int64
	Errors        int64
	Invalidations int64
}

// Snapshot returns every kind's counters.
func (s *Stats) Snapshot() []Stat {
	out := make([]Stat, kinds)
	for k := range kinds {
		ks := &s.kinds[k]
		typ := "entity"
		switch {
		case k.Relation():
			typ = "relation"
		case k == KindStatistics:
			typ = "statistics"
		case k == KindSearch:
			typ = "search"
		}
		out[k] = Stat{Kind: k.String(), Type: typ, Hits: ks.hits.Load(), Misses: ks.misses.Load(), Fills: ks.fills.Load(),
			Errors: ks.errors.Load(), Invalidations: ks.invalidations.Load()}
	}
	return out
}

// EpochBumps counts how often this instance retired every entry after losing
// Redis.
func (s *Stats) EpochBumps() int64 { return s.epochBumps.Load() }

// BreakerState is the circuit breaker's last state.
func (s *Stats) BreakerState() string { return s.breaker.Load().(string) }
