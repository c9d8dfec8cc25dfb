package repository_test

import (
	"context"
	"testing"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/herotasks/api/pubsub"
	"github.com/herotasks/api/repository"
	"github.com/herotasks/api/seed"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWriteRecordsAndWakesTheBroker: a write appends its history row and
// notifies the subscription channel at commit, not before, so a broker
// that reads the log on the notification finds the row.
func TestWriteRecordsAndWakesTheBroker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, repo := seeded(t, 5, 1)
	var id string
	require.NoError(t, pool.QueryRow(ctx, "SELECT id::text FROM tasks ORDER BY number LIMIT 1").Scan(&id))
	events := func() (n int) {
		require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM task_events WHERE task_id = $1", id).Scan(&n))
		return n
	}
	before := events()

	listener, err := pgx.Connect(ctx, pool.Config().ConnString())
	require.NoError(t, err)
	t.Cleanup(func() { listener.Close(context.Background()) })
	_, err = listener.Exec(ctx, "LISTEN "+pgx.Identifier{pubsub.Channel}.Sanitize())
	require.NoError(t, err)

	high := domain.PriorityLow
	_, err = repo.UpdateTask(ctx, id, domain.TaskPatch{Priority: &high}, nil)
	require.NoError(t, err)

	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n, err := listener.WaitForNotification(wctx)
	require.NoError(t, err, "the write notified the channel")
	assert.Equal(t, pubsub.Channel, n.Channel)
	assert.Equal(t, before+1, events(), "the write recorded its change")
}

// TestTaskEventsAfterAnExpiredCursor: a cursor whose own event is no longer
// kept (retention dropped its month) is refused, whether or not later events
// exist, so the broker never passes over events it could not read; a kept
// cursor reads on.
func TestTaskEventsAfterAnExpiredCursor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A private PostgreSQL: the log is read up to the cluster's oldest
	// writing transaction, and other packages' tests hold theirs open on
	// the shared one.
	_, dbURL := apitest.MigratedServer(t)
	pool, err := repository.Open(ctx, dbURL, repository.PoolOptions{})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = seed.Run(ctx, pool, seed.Options{Tasks: 5, Seed: 1})
	require.NoError(t, err)
	repo := repository.New(pool)
	all, err := repo.TaskEventsAfter(ctx, "", 1000)
	require.NoError(t, err)
	require.Greater(t, len(all), 2, "the seed recorded history")
	first, last := all[0], all[len(all)-1]

	later, err := repo.TaskEventsAfter(ctx, first.Cursor(), 1000)
	require.NoError(t, err)
	assert.Equal(t, all[1:], later, "a kept cursor reads on")
	none, err := repo.TaskEventsAfter(ctx, last.Cursor(), 1000)
	require.NoError(t, err)
	assert.Empty(t, none, "nothing after the head")

	for _, e := range []*domain.TaskEvent{first, last} {
		_, err = pool.Exec(ctx, "DELETE FROM task_events WHERE id = $1", e.ID)
		require.NoError(t, err)
	}
	_, err = repo.TaskEventsAfter(ctx, first.Cursor(), 1000)
	assert.ErrorIs(t, err, domain.ErrCursorExpired, "later events exist, but the cursor's own is gone")
	_, err = repo.TaskEventsAfter(ctx, last.Cursor(), 1000)
	assert.ErrorIs(t, err, domain.ErrCursorExpired, "no later event, and the cursor's own is gone")
}
