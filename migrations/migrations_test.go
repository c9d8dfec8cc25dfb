package migrations_test

import (
	"context"
	"io/fs"
	"testing"

	"github.com/herotasks/api/internal/testdb"
	"github.com/herotasks/api/migrations"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A fresh (unmigrated) database: testdb.New clones an already migrated
// template, so this test builds its own from scratch.
func emptyDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := testdb.Pool(t)
	ctx := context.Background()
	p, db, err := migrations.Provider(pool)
	require.NoError(t, err)
	defer db.Close()
	_, err = p.DownTo(ctx, 0)
	require.NoError(t, err, "roll the cloned template all the way down")
	return pool
}

func TestUpTwiceIsNoOpAndDownUndoesEachStep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := emptyDB(t)

	var tables int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'goose_db_version'").Scan(&tables))
	assert.Zero(t, tables, "after down to 0 no application table remains")

	files, err := fs.Glob(migrations.Files, "*.sql")
	require.NoError(t, err)
	res, err := migrations.Up(ctx, pool)
	require.NoError(t, err)
	assert.Len(t, res, len(files), "first up applies every migration")
	res, err = migrations.Up(ctx, pool)
	require.NoError(t, err)
	assert.Empty(t, res, "second up applies nothing")

	var indexes int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'
		AND tablename IN ('tasks','subtasks','tags','task_tags','subtask_tags','task_dependencies','task_events','users')`).Scan(&indexes))
	assert.GreaterOrEqual(t, indexes, 15+8, "at least 15 secondary indexes besides the primary keys")

	p, db, err := migrations.Provider(pool)
	require.NoError(t, err)
	defer db.Close()
	_, err = p.DownTo(ctx, 3) // the migrations after 00003 undo their own objects
	require.NoError(t, err)
	r, err := p.Down(ctx)
	require.NoError(t, err)
	assert.Equal(t, "00003_pg_stat_statements.sql", r.Source.Path)
	r, err = p.Down(ctx)
	require.NoError(t, err)
	assert.Equal(t, "00002_indexes.sql", r.Source.Path)
	var n int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM pg_indexes WHERE indexname = 'tasks_created_keyset_idx'").Scan(&n))
	assert.Zero(t, n, "down of 00002 drops its indexes")
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'tasks'").Scan(&n))
	assert.Equal(t, 1, n, "down of 00002 keeps the tables")

	r, err = p.Down(ctx)
	require.NoError(t, err)
	assert.Equal(t, "00001_schema.sql", r.Source.Path)
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM pg_type WHERE typname = 'task_status'").Scan(&n))
	assert.Zero(t, n, "down of 00001 drops the enums")

	res, err = migrations.Up(ctx, pool)
	require.NoError(t, err)
	assert.Len(t, res, len(files), "up after down re-applies every migration")
}

// A concurrent index build that failed leaves an INVALID index behind; the
// index migration must drop it and rebuild rather than skip it.
func TestIndexMigrationRecoversFromInvalidIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := emptyDB(t)
	p, db, err := migrations.Provider(pool)
	require.NoError(t, err)
	defer db.Close()
	_, err = p.UpTo(ctx, 1)
	require.NoError(t, err)

	// Simulate the leftover of a failed CREATE INDEX CONCURRENTLY.
	_, err = pool.Exec(ctx, "CREATE INDEX tasks_created_keyset_idx ON tasks (created_at DESC, id DESC)")
	require.NoError(t, err)
	_, err = pool.Exec(ctx, "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'tasks_created_keyset_idx'::regclass")
	require.NoError(t, err)

	_, err = p.Up(ctx)
	require.NoError(t, err)
	var valid bool
	require.NoError(t, pool.QueryRow(ctx, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'tasks_created_keyset_idx'::regclass").Scan(&valid))
	assert.True(t, valid, "the invalid index was rebuilt")
}
