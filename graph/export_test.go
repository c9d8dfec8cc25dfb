package graph

import "context"

// WithSerial marks ctx as Serialize does for an accepted operation, with
// a state of its own.
func WithSerial(ctx context.Context) context.Context {
	return context.WithValue(ctx, serialKey{}, &serialState{})
}

// SetDirectRendering turns direct rendering (direct.go) on or off for the
// whole process; DirectRenders counts the tasks it wrote.
func SetDirectRendering(on bool) { directOff.Store(!on) }

func DirectRenders() int64 { return directRenders.Load() }
