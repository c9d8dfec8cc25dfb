package seed_test

import (
	"context"
	"testing"

	"github.com/herotasks/api/seed"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// schema lists every index and constraint of the public schema with its
// definition and validity: what a bulk load must give back exactly.
func schema(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, _ := pool.Query(context.Background(), `
		SELECT 'index ' || c.relname || ': ' || pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN '' ELSE ' INVALID' END
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = 'public'::regnamespace
		UNION ALL
		SELECT 'constraint ' || conrelid::regclass::text || '.' || conname || ': ' || pg_get_constraintdef(oid) ||
			CASE WHEN convalidated THEN '' ELSE ' NOT VALID' END
		FROM pg_constraint WHERE connamespace = 'public'::regnamespace
		ORDER BY 1`)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

// TestBulkLoad seeds with Reset in bulk (indexes and constraints dropped,
// rows copied frozen, everything rebuilt) and compares with a plain run:
// the same rows, and the same indexes and constraints, validated.
func TestBulkLoad(t *testing.T) {
	defer seed.SetBulkMin(1)()
	plain, bulk := scratchDB(t), scratchDB(t)
	want := schema(t, plain)
	run(t, plain, seed.Options{Seed: 11})
	run(t, bulk, seed.Options{Seed: 4})
	run(t, bulk, seed.Options{Seed: 11, Reset: true})

	assert.Equal(t, fingerprint(t, plain), fingerprint(t, bulk))
	assert.Equal(t, want, schema(t, bulk))
	pending, err := seed.Pending(context.Background(), bulk)
	require.NoError(t, err)
	assert.Empty(t, pending)
	checkReferences(t, bulk)
	checkHistory(t, bulk)
	// Frozen as copied: every page of tasks is all-visible (for
	// index-only scans) without a VACUUM. relallvisible is what ANALYZE
	// counted in the visibility map.
	assert.Zero(t, count(t, bulk, "SELECT relpages - relallvisible FROM pg_class WHERE oid = 'tasks'::regclass"),
		"pages of tasks not all-visible")
}

// TestBulkLoadFailure makes a bulk load fail half-way (a row breaks a
// check constraint) and finds the indexes and constraints rebuilt.
func TestBulkLoadFailure(t *testing.T) {
	defer seed.SetBulkMin(1)()
	ctx := context.Background()
	pool := scratchDB(t)
	want := schema(t, pool)
	_, err := pool.Exec(ctx, "ALTER TABLE subtasks ADD CONSTRAINT few CHECK (number < 6)")
	require.NoError(t, err)
	_, err = seed.Run(ctx, pool, seed.Options{Tasks: 300, Seed: 1, Reset: true, Now: today})
	require.ErrorContains(t, err, "few")
	_, err = pool.Exec(ctx, "ALTER TABLE subtasks DROP CONSTRAINT few")
	require.NoError(t, err)
	assert.Equal(t, want, schema(t, pool))
	pending, err := seed.Pending(ctx, pool)
	require.NoError(t, err)
	assert.Empty(t, pending)
}

// TestRepair rebuilds what a bulk load killed before its rebuild left
// behind: the next run rebuilds first, and so does Repair.
func TestRepair(t *testing.T) {
	ctx := context.Background()
	pool := scratchDB(t)
	want := schema(t, pool)
	kill := func() {
		_, err := pool.Exec(ctx, `INSERT INTO seed_deferred_ddl (kind, table_name, name, definition, index_definition)
			SELECT 'fkey', 'subtasks', conname, pg_get_constraintdef(oid), NULL FROM pg_constraint WHERE conname = 'subtasks_task_id_fkey'
			UNION ALL SELECT 'key', 'tasks', conname, pg_get_constraintdef(oid), pg_get_indexdef(conindid) FROM pg_constraint WHERE conname = 'tasks_number_key'
			UNION ALL SELECT 'index', 'tasks', 'tasks_search_idx', pg_get_indexdef('tasks_search_idx'::regclass), NULL;
			ALTER TABLE subtasks DROP CONSTRAINT subtasks_task_id_fkey;
			ALTER TABLE tasks DROP CONSTRAINT tasks_number_key;
			DROP INDEX tasks_search_idx`)
		require.NoError(t, err)
		pending, err := seed.Pending(ctx, pool)
		require.NoError(t, err)
		assert.ElementsMatch(t, []string{"subtasks.subtasks_task_id_fkey", "tasks.tasks_number_key", "tasks.tasks_search_idx"}, pending)
	}

	kill()
	run(t, pool, seed.Options{Seed: 2})
	assert.Equal(t, want, schema(t, pool), "the next run rebuilds first")

	kill()
	n, err := seed.Repair(ctx, pool)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	assert.Equal(t, want, schema(t, pool))
	pending, err := seed.Pending(ctx, pool)
	require.NoError(t, err)
	assert.Empty(t, pending)
}
