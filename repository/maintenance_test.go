package repository_test

import (
	"context"
	"testing"
	"time"

	"github.com/herotasks/api/repository"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMaintainPartitions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := fresh(t, nil)
	repo := repository.New(pool)
	now := time.Now().UTC()

	var taskID string
	require.NoError(t, pool.QueryRow(ctx, "INSERT INTO tasks (title, created_at) VALUES ('Old', now() - interval '3 years') RETURNING id").Scan(&taskID))
	// Two years back has no partition: these rows land in the default one.
	_, err := pool.Exec(ctx, `INSERT INTO task_events (task_id, kind, created_at)
		SELECT $1, 'CREATED', now() - interval '2 years' + i * interval '1 hour' FROM generate_series(1, 30) i`, taskID)
	require.NoError(t, err)
	count := func(table string) (n int64) {
		require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n))
		return n
	}
	require.Equal(t, int64(30), count("task_events_default"))

	rep, err := repo.Maintain(ctx, repository.MaintenanceOptions{MonthsAhead: 6}, now)
	require.NoError(t, err)
	assert.Zero(t, rep.DefaultPartition, "the default partition was emptied")
	var moved int64
	for name, n := range rep.Moved {
		moved += n
		assert.Equal(t, n, count(name), "rows of %s moved into it", name)
	}
	assert.Equal(t, int64(30), moved)
	assert.Equal(t, int64(30+0), count("task_events")-count("task_events_default"), "no row lost")
	ahead := time.Date(now.Year(), now.Month()+6, 1, 0, 0, 0, 0, time.UTC)
	var exists bool
	require.NoError(t, pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", "task_events_"+ahead.Format("2006_01")).Scan(&exists))
	assert.True(t, exists, "partitions are ready six months ahead")
	assert.Len(t, rep.Created, 3, "months 4 to 6 were new (the migration made 0 to 3)")
	assert.Contains(t, rep.Analyzed, "task_events")

	// An insert into a moved month now goes to its own partition.
	_, err = pool.Exec(ctx, "INSERT INTO task_events (task_id, kind, created_at) VALUES ($1, 'CREATED', now() - interval '2 years')", taskID)
	require.NoError(t, err)
	assert.Zero(t, count("task_events_default"))

	again, err := repo.Maintain(ctx, repository.MaintenanceOptions{MonthsAhead: 6}, now)
	require.NoError(t, err)
	assert.Empty(t, again.Created, "a second run has nothing to create")
	assert.Empty(t, again.Moved)

	// Retention drops the old months, and their rows with them.
	rep, err = repo.Maintain(ctx, repository.MaintenanceOptions{MonthsAhead: 6, RetentionMonths: 12}, now)
	require.NoError(t, err)
	assert.NotEmpty(t, rep.Dropped)
	var old int64
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM task_events WHERE created_at < now() - interval '13 months'").Scan(&old))
	assert.Zero(t, old)
}

func TestMaintainRunsOnceAtATime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := fresh(t, nil)
	holder, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer holder.Release()
	_, err = holder.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(0x4854_6d61_696e)) // the maintenance lock
	require.NoError(t, err)
	rep, err := repository.New(pool).Maintain(ctx, repository.MaintenanceOptions{MonthsAhead: 3}, time.Now())
	require.NoError(t, err)
	assert.True(t, rep.Skipped, "another instance holds the maintenance lock")
	_, err = holder.Exec(ctx, "SELECT pg_advisory_unlock($1)", int64(0x4854_6d61_696e))
	require.NoError(t, err)
}

// TestMaintainReportsBloatedIndexes empties most of the tags table's index
// pages on purpose and watches maintain report those indexes, and only
// after the damage.
func TestMaintainReportsBloatedIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := fresh(t, nil)
	repo := repository.New(pool)
	o := repository.MaintenanceOptions{MonthsAhead: 1, BloatMinBytes: 64 << 10}
	_, err := pool.Exec(ctx, "INSERT INTO tags (name) SELECT 'bloat-' || lpad(g::text, 6, '0') FROM generate_series(1, 30000) g")
	require.NoError(t, err)

	bloated := func(rep *repository.MaintenanceReport) []string {
		var names []string
		for _, b := range rep.BloatedIndexes {
			if b.Table == "tags" {
				names = append(names, b.Index)
				assert.Positive(t, b.WastedBytes)
				assert.Less(t, b.LeafDensity, 63.0)
			}
		}
		return names
	}
	rep, err := repo.Maintain(ctx, o, time.Now())
	require.NoError(t, err)
	require.Empty(t, rep.BloatUnavailable, "make test's cluster has pgstattuple")
	assert.NotContains(t, bloated(rep), "tags_name_key", "a freshly filled index is not bloated")

	// Keep one row in twenty: every leaf page keeps a few entries, so
	// VACUUM can free none of them.
	_, err = pool.Exec(ctx, "DELETE FROM tags WHERE name LIKE 'bloat-%' AND right(name, 6)::int % 20 <> 0")
	require.NoError(t, err)
	_, err = pool.Exec(ctx, "VACUUM tags")
	require.NoError(t, err)
	rep, err = repo.Maintain(ctx, o, time.Now())
	require.NoError(t, err)
	assert.Contains(t, bloated(rep), "tags_name_key")
	assert.Contains(t, bloated(rep), "tags_pkey")
}
