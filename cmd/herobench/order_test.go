package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestPeerRunOrder: each PostGraphile scenario runs right after the one of
// ours it is compared with, and even rounds run the list backwards, so
// both servers of a pair are measured side by side whatever the round.
func TestPeerRunOrder(t *testing.T) {
	names := func(runs []spec) []string {
		var out []string
		for _, s := range runs {
			out = append(out, s.name)
		}
		return out
	}
	ids := make([]string, 200) // benchRuns takes its hot set from the first 100
	for i := range ids {
		ids[i] = "00000000-0000-4000-8000-000000000000"
	}
	runs := peerRuns(workload{public: ids, terms: []string{"cache"}})
	want := []string{"nested/caches-off", "nested/postgraphile", "nested/entity-warm", "nested/response-warm", "byid/caches-off", "byid/postgraphile",
		"detail/caches-off", "detail/postgraphile"}
	assert.Equal(t, want, names(runs))
	for _, s := range runs {
		assert.NotNil(t, s.make, s.name)
	}
	assert.Equal(t, want, names(roundOrder(runs, 3)))
	back := names(roundOrder(runs, 2))
	assert.Equal(t, []string{"detail/postgraphile", "detail/caches-off", "byid/postgraphile", "byid/caches-off", "nested/response-warm", "nested/entity-warm", "nested/postgraphile", "nested/caches-off"}, back)
	assert.Equal(t, want, names(runs), "the list itself is left as it was")
}
