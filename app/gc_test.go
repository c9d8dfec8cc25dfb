package app_test

import (
	"runtime/debug"
	"testing"

	"github.com/herotasks/api/app"
	"github.com/stretchr/testify/assert"
)

// TestTuneGC: serve's collector defaults (GOGC 400, a 256 MiB memory
// limit) apply when the environment sets neither, and each is left to Go
// when the environment sets it. Not parallel: it changes the process's
// settings, and puts them back.
func TestTuneGC(t *testing.T) {
	gogc, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(gogc)
		debug.SetMemoryLimit(limit)
	})
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	reset := func() {
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(1 << 62)
	}

	reset()
	app.TuneGC(env(nil))
	assert.Equal(t, 400, debug.SetGCPercent(400))
	assert.Equal(t, int64(256<<20), debug.SetMemoryLimit(-1))

	reset()
	app.TuneGC(env(map[string]string{"GOGC": "150", "GOMEMLIMIT": "1GiB"}))
	assert.Equal(t, 100, debug.SetGCPercent(100), "GOGC set: Go's own handling")
	assert.Equal(t, int64(1<<62), debug.SetMemoryLimit(-1), "GOMEMLIMIT set: Go's own handling")
}
