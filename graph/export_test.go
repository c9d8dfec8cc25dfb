package graph

// SetDirectRendering turns direct rendering (direct.go) on or off for the
// whole process; DirectRenders counts the tasks it wrote.
func SetDirectRendering(on bool) { directOff.Store(!on) }

func DirectRenders() int64 { return directRenders.Load() }
