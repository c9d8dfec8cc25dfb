package repository_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/herotasks/api/domain"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tripCounter counts what goes to PostgreSQL: round trips (a statement on
// its own, or a pipeline of them) and statements.
type tripCounter struct{ trips, stmts atomic.Int64 }

func (c *tripCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.trips.Add(1)
	c.stmts.Add(1)
	return ctx
}
func (c *tripCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *tripCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	c.trips.Add(1)
	c.stmts.Add(int64(d.Batch.Len()))
	return ctx
}
func (c *tripCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (c *tripCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

func (c *tripCounter) take() (trips, stmts int64) { return c.trips.Swap(0), c.stmts.Swap(0) }

// TestWriteRoundTrips: a write's BEGIN goes out with its first statement
// and its history with its COMMIT, so locking, updating and recording a
// change take three round trips for the same five statements; a write its
// guard refuses, or whose history fails at the COMMIT, changes nothing and
// leaves no connection inside a transaction.
func TestWriteRoundTrips(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := &tripCounter{}
	pool, repo := seededTraced(t, 30, 7, c)
	var id string
	require.NoError(t, pool.QueryRow(ctx, `SELECT id::text FROM tasks WHERE status = 'READY' ORDER BY id LIMIT 1`).Scan(&id))
	row := func() (status domain.TaskStatus, priority domain.TaskPriority, version int, events int) {
		t.Helper()
		require.NoError(t, pool.QueryRow(ctx, `SELECT status, priority, version, (SELECT count(*) FROM task_events WHERE task_id = $1)
			FROM tasks WHERE id = $1`, id).Scan(&status, &priority, &version, &events))
		return
	}
	noneInTx := func() {
		t.Helper()
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND state LIKE 'idle in transaction%'`).Scan(&n))
		assert.Zero(t, n, "a connection was left inside a transaction")
	}

	// An edit: BEGIN with the lock, the update, the history with the COMMIT.
	high := domain.PriorityHigh
	c.take()
	got, err := repo.UpdateTask(ctx, id, domain.TaskPatch{Priority: &high}, nil)
	require.NoError(t, err)
	trips, stmts := c.take()
	assert.Equal(t, [2]int64{3, 5}, [2]int64{trips, stmts}, "round trips and statements of an edit")
	status, priority, version, events := row()
	assert.Equal(t, domain.PriorityHigh, priority)
	assert.Equal(t, got.Version, version)

	// A transition likewise.
	inProgress := domain.StatusInProgress
	c.take()
	_, err = repo.TransitionTask(ctx, id, domain.TransitionRequest{Status: &inProgress}, nil)
	require.NoError(t, err)
	trips, stmts = c.take()
	assert.Equal(t, [2]int64{3, 5}, [2]int64{trips, stmts}, "round trips and statements of a transition")
	status, _, version, events2 := row()
	assert.Equal(t, domain.StatusInProgress, status)
	assert.Greater(t, events2, events)
	noneInTx()

	// A write its guard refuses: the lock, then the rollback; nothing changes.
	refuse := func(*domain.Task) error { return domain.Errorf(domain.ECONFLICT, "stale version") }
	low := domain.PriorityLow
	c.take()
	_, err = repo.UpdateTask(ctx, id, domain.TaskPatch{Priority: &low}, refuse)
	require.Error(t, err)
	assert.False(t, domain.UnknownEffect(err), "a refused write is known to have changed nothing: %v", err)
	trips, _ = c.take()
	assert.Equal(t, int64(2), trips)
	s2, p2, v2, e2 := row()
	assert.Equal(t, [4]any{status, domain.PriorityHigh, version, events2}, [4]any{s2, p2, v2, e2})
	noneInTx()

	// History that fails at the COMMIT (its actor is no user): the status
	// change it travels with is rolled back with it.
	nobody, ready := "00000000-0000-4000-8000-000000000001", domain.StatusReady
	_, err = repo.TransitionTask(ctx, id, domain.TransitionRequest{Status: &ready, ActorID: &nobody}, nil)
	require.Error(t, err)
	s3, p3, v3, e3 := row()
	assert.Equal(t, [4]any{status, domain.PriorityHigh, version, events2}, [4]any{s3, p3, v3, e3}, "the failed write changed nothing")
	noneInTx()

	// The pool's connections are all usable after each of those.
	for range 2 * int(pool.Config().MaxConns) {
		_, err = repo.UpdateTask(ctx, id, domain.TaskPatch{Priority: &low}, nil)
		require.NoError(t, err)
	}
	requireIdle(t, pool)
}

// requireIdle: every connection of pool is back and outside a transaction.
func requireIdle(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	assert.Zero(t, pool.Stat().AcquiredConns(), "connections still acquired")
}
