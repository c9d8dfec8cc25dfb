package repository

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Read routing. Reads go to the replica when one is configured and up, and
// to the primary's read pool otherwise. Reads whose context asks for the
// primary (domain.MustReadPrimary: an operation that has written, or a
// cache fill) go to the primary whatever the replica's lag.
//
// Other reads may be a replication lag behind (milliseconds on a healthy
// replica): a list or count fetched right after another client's write can
// miss that write. That is the replica trade-off, documented in docs/operations.md.
//
// When a replica read fails because the replica is unreachable, the
// replica is marked down, the read is retried once on the primary, and the
// monitor (MonitorReplica) brings the replica back when it answers again.

// replica is the read replica and what is known of its health.
type replica struct {
	pool      *pgxpool.Pool
	up        atomic.Bool
	reads     atomic.Int64 // reads served by the replica
	fallbacks atomic.Int64 // replica reads retried on the primary
	log       *slog.Logger
}

// ReplicaStats are the replica's counters and state for /readyz, metrics
// and verify.
type ReplicaStats struct {
	Configured bool
	Up         bool
	Reads      int64
	Fallbacks  int64
}

// ReplicaStats reports the replica's state.
func (r *Repo) ReplicaStats() ReplicaStats {
	if r.replica == nil {
		return ReplicaStats{}
	}
	return ReplicaStats{Configured: true, Up: r.replica.up.Load(), Reads: r.replica.reads.Load(), Fallbacks: r.replica.fallbacks.Load()}
}

func (rp *replica) setUp(up bool, err error) {
	if rp.up.Swap(up) == up {
		return
	}
	if up {
		rp.log.Info("read replica is back: reads go to it again")
	} else {
		rp.log.Warn("read replica unreachable: reads fall back to the primary", "err", err)
	}
}

// MonitorReplica pings the replica every period until ctx ends, marking it
// up or down. Without a replica it returns at once.
func (r *Repo) MonitorReplica(ctx context.Context, period time.Duration) {
	if r.replica == nil {
		return
	}
	check := func() {
		c, cancel := context.WithTimeout(ctx, max(period, time.Second))
		defer cancel()
		err := r.replica.pool.Ping(c)
		if ctx.Err() == nil {
			r.replica.setUp(err == nil, err)
		}
	}
	check()
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			check()
		}
	}
}

// read runs fn on the pool that should serve this read; when the replica
// turns out to be unreachable, it marks it down and runs fn once more on
// the primary.
func (r *Repo) read(ctx context.Context, fn func(q querier) error) error {
	rp := r.replica
	if rp == nil || !rp.up.Load() || domain.MustReadPrimary(ctx) {
		return fn(r.pools.Read)
	}
	err := fn(rp.pool)
	if err == nil || ctx.Err() != nil || !unreachable(err) {
		if err == nil {
			rp.reads.Add(1)
		}
		return err
	}
	rp.setUp(false, err)
	rp.fallbacks.Add(1)
	return fn(r.pools.Read)
}

// unreachable reports whether err says the server could not be reached or
// went away (translate's SERVICE_UNAVAILABLE), as opposed to a failure of
// the statement itself.
func unreachable(err error) bool {
	var de *domain.Error
	return errors.As(err, &de) && de.Code == domain.EUNAVAILABLE
}

// readQuery is query on the read route.
func readQuery[T any](ctx context.Context, r *Repo, b sqlizer, scan rowScanner[T]) ([]T, error) {
	var out []T
	err := r.read(ctx, func(q querier) (err error) {
		out, err = query(ctx, q, b, scan)
		return err
	})
	return out, err
}

// readRow is queryRow on the read route.
func readRow[T any](ctx context.Context, r *Repo, sql string, args []any, scan rowScanner[T]) (T, error) {
	var out T
	err := r.read(ctx, func(q querier) (err error) {
		out, err = queryRow(ctx, q, sql, args, scan)
		return err
	})
	return out, err
}

// readRows runs sql on the read route and collects its rows with scan.
func readRows[T any](ctx context.Context, r *Repo, sql string, args []any, scan rowScanner[T]) ([]T, error) {
	var out []T
	err := r.read(ctx, func(q querier) error {
		rows, err := q.Query(ctx, sql, args...)
		if err != nil {
			return translate(err)
		}
		out, err = pgx.CollectRows(planned(rows), scan)
		return translate(err)
	})
	return out, err
}
