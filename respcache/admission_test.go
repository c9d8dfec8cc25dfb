package respcache

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestAdmissionJudgesEachShapeOnItsSample: a shape that hits less than the
// minimum over a sample goes around the cache for the pause and is then
// tried again; a shape that hits enough, and every shape with admission
// off, stays.
func TestAdmissionJudgesEachShapeOnItsSample(t *testing.T) {
	a := newAdmission(0.1, admissionShapes)
	now := time.Now()
	for i := range admissionSample {
		assert.True(t, a.admit("poor", now))
		a.record("poor", i < admissionSample/10-1, now) // one hit short of 10%
		a.record("good", i < admissionSample/10, now)   // exactly 10%
	}
	assert.False(t, a.admit("poor", now), "below the minimum: around the cache")
	assert.True(t, a.admit("good", now))
	assert.False(t, a.admit("poor", now.Add(admissionPause-time.Millisecond)))
	assert.True(t, a.admit("poor", now.Add(admissionPause)), "tried again after the pause")

	off := newAdmission(0, admissionShapes)
	for range 2 * admissionSample {
		off.record("poor", false, now)
	}
	assert.True(t, off.admit("poor", now))
}

// TestAdmissionForgetsBeyondItsSize: query texts come from clients, so the
// shapes judged are bounded; a shape pushed out starts its sample again.
func TestAdmissionForgetsBeyondItsSize(t *testing.T) {
	a := newAdmission(0.1, 8)
	now := time.Now()
	for range admissionSample {
		a.record("poor", false, now)
	}
	assert.False(t, a.admit("poor", now))
	for i := range 100 {
		a.record(fmt.Sprintf("one-off %d", i), false, now)
	}
	assert.Equal(t, 8, a.shapes.Len())
	assert.True(t, a.admit("poor", now), "pushed out: judged afresh")
}
