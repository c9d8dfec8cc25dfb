package domain

import (
	"context"
	"sync/atomic"
)

// Read consistency. A store may answer reads from a replica that lags the
// primary by milliseconds. Two kinds of read must see every committed
// write, and their callers say so through the context:
//
//   - the reads of an operation that has written (WithSession, then any
//     write through it): a client must see its own write;
//   - reads whose rows will fill a shared cache (ReadPrimary): a row read
//     from a lagging replica after a writer's invalidation would be
//     cached and served to every instance until its TTL.

type session struct{ wrote atomic.Bool }

type sessionKey struct{}
type primaryKey struct{}
type freshKey struct{}

// WithSession marks ctx as one operation: after any write through it
// (MarkWrote), its reads must see the primary.
func WithSession(ctx context.Context) context.Context {
	return context.WithValue(ctx, sessionKey{}, &session{})
}

// ReadPrimary makes the reads through ctx see every committed write.
func ReadPrimary(ctx context.Context) context.Context {
	return context.WithValue(ctx, primaryKey{}, true)
}

// MarkWrote records that the operation of ctx has written.
func MarkWrote(ctx context.Context) {
	if s, ok := ctx.Value(sessionKey{}).(*session); ok {
		s.wrote.Store(true)
	}
}

// MustReadPrimary reports whether reads through ctx must see every
// committed write (ReadPrimary, or a session that has written).
func MustReadPrimary(ctx context.Context) bool {
	if ctx.Value(primaryKey{}) != nil {
		return true
	}
	s, ok := ctx.Value(sessionKey{}).(*session)
	return ok && s.wrote.Load()
}

// ReadFresh makes the reads through ctx go to the primary and past every
// cache: a subscription reads a task the moment its change committed,
// before the writer may have invalidated the cached copy.
func ReadFresh(ctx context.Context) context.Context {
	return context.WithValue(ReadPrimary(ctx), freshKey{}, true)
}

// MustReadFresh reports whether reads through ctx must skip the caches.
func MustReadFresh(ctx context.Context) bool { return ctx.Value(freshKey{}) != nil }
