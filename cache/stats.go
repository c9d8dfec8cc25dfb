package cache

import (
	"sync/atomic"
)

// Stats counts what the cache did, per kind of item.
type Stats struct {
	kinds      [kinds]kindStats
	epochBumps atomic.Int64
}

type kindStats struct {
	hits, misses, fills, errors, invalidations atomic.Int64
}

func newStats() *Stats {
	s := &Stats{}
	return s
}

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
		case k == KindList:
			typ = "list"
		}
		out[k] = Stat{Kind: k.String(), Type: typ, Hits: ks.hits.Load(), Misses: ks.misses.Load(), Fills: ks.fills.Load(),
			Errors: ks.errors.Load(), Invalidations: ks.invalidations.Load()}
	}
	return out
}

// EpochBumps counts how often this instance retired every entry after losing
// Redis.
func (s *Stats) EpochBumps() int64 { return s.epochBumps.Load() }
