package main

import (
	"context"
	"testing"
	"time"

	"github.com/herotasks/api/bench"
	"github.com/herotasks/api/internal/testdb"
	"github.com/herotasks/api/seed"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRestoreTasks: what mix-frontend's writes change (titles, statuses,
// priorities, versions, task tags, created tasks) is put back as the
// snapshot found it, so later scenarios and runs meet the seeded data.
func TestRestoreTasks(t *testing.T) {
	ctx := context.Background()
	url := testdb.New(t)
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = seed.Run(ctx, pool, seed.Options{Tasks: 40, Seed: 2, Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	pg, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { pg.Close(ctx) })

	fingerprint := func() (tasks, tags string) {
		require.NoError(t, pg.QueryRow(ctx, `SELECT
			(SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) FROM (SELECT id, title, status, phase, priority, version, started_at, completed_at FROM tasks) x),
			(SELECT md5(string_agg(task_id::text || tag_id::text, '|' ORDER BY task_id::text || tag_id::text)) FROM task_tags)`).Scan(&tasks, &tags))
		return tasks, tags
	}
	wantTasks, wantTags := fingerprint()
	require.NoError(t, snapshotTasks(ctx, pg))
	tag, err := pg.Exec(ctx, `UPDATE tasks SET title = title || ' (rev 1)', priority = 'LOW', status = 'BLOCKED', version = version + 1
		WHERE id IN (SELECT id FROM tasks WHERE status IN ('READY', 'IN_PROGRESS') ORDER BY id LIMIT 5)`)
	require.NoError(t, err)
	require.Positive(t, tag.RowsAffected())
	_, err = pg.Exec(ctx, `DELETE FROM task_tags WHERE task_id IN (SELECT id FROM tasks ORDER BY id LIMIT 3)`)
	require.NoError(t, err)
	_, err = pg.Exec(ctx, `INSERT INTO task_tags (task_id, tag_id) SELECT t.id, g.id FROM (SELECT id FROM tasks ORDER BY id DESC LIMIT 3) t,
		(SELECT id FROM tags ORDER BY id LIMIT 6) g ON CONFLICT DO NOTHING`)
	require.NoError(t, err)
	_, err = pg.Exec(ctx, `INSERT INTO tasks (title, description, created_by) SELECT 'made by the run', $1, id FROM users LIMIT 1`, bench.FrontendMarker)
	require.NoError(t, err)
	gotTasks, gotTags := fingerprint()
	require.NotEqual(t, wantTasks, gotTasks)
	require.NotEqual(t, wantTags, gotTags)

	require.NoError(t, restoreTasks(ctx, pg))
	gotTasks, gotTags = fingerprint()
	assert.Equal(t, wantTasks, gotTasks)
	assert.Equal(t, wantTags, gotTags)
	require.NoError(t, restoreTasks(ctx, pg), "again: nothing to do")

	// The writes and the restore left dead row versions; settling the
	// tables removes them, so the next mode meets the table the first did.
	dead := func() (n int64) {
		_, err := pg.Exec(ctx, `SELECT pg_stat_force_next_flush()`) // this session's counts, now
		require.NoError(t, err)
		require.NoError(t, pg.QueryRow(ctx, `SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'tasks'`).Scan(&n))
		return n
	}
	require.Positive(t, dead(), "the writes and the restore leave dead rows")
	require.NoError(t, settleTasks(ctx, pg))
	assert.Zero(t, dead())
}
