package repository

import (
	"context"
	"testing"
	"time"

	"github.com/herotasks/api/internal/testdb"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// row is one row of every kind of column the repository scans, read
// either through plannedRows or by pgx alone.
type row struct {
	n        int64
	s        string
	ns       *string
	at       time.Time
	ids      []string
	times    []*time.Time
	floats   []*float64
	anything any
}

func (r *row) dest() []any {
	return []any{&r.n, &r.s, &r.ns, &r.at, &r.ids, &r.times, &r.floats, &r.anything}
}

const rowsSQL = `SELECT n::int8, 'row ' || n, CASE WHEN n % 2 = 0 THEN 'even' END,
	timestamptz '2026-01-01 00:00:00Z' + n * interval '1 hour',
	ARRAY[gen_random_uuid()::text, n::text], ARRAY[NULL, timestamptz '2026-02-01Z' + n * interval '1 day'],
	ARRAY[n / 4.0, NULL]::float8[], n * 10
	FROM generate_series(1, $1::int) n`

func collect(ctx context.Context, t *testing.T, c *pgx.Conn, wrap bool, sql string, n int) []row {
	t.Helper()
	rows, err := c.Query(ctx, sql, n)
	require.NoError(t, err)
	if wrap {
		rows = planned(rows)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(x.dest()...)
		return x, err
	})
	require.NoError(t, err)
	return out
}

// TestPlannedRowsScanAsPgx: rows scanned with the connection's kept plans
// equal pgx's own scan, over two statements that share column types (the
// second makes no new plan), and a destination type changing between rows
// is planned again; errors are pgx's.
func TestPlannedRowsScanAsPgx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testdb.New(t))
	require.NoError(t, err)
	defer pool.Close()
	c, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer c.Release()
	conn := c.Conn()

	// gen_random_uuid differs per call: compare what does not.
	strip := func(rs []row) []row {
		for i := range rs {
			rs[i].ids = rs[i].ids[1:]
		}
		return rs
	}
	want := strip(collect(ctx, t, conn, false, rowsSQL, 5))
	got := strip(collect(ctx, t, conn, true, rowsSQL, 5))
	require.Len(t, got, 5)
	assert.Equal(t, want, got)
	assert.Nil(t, got[0].ns)
	assert.Equal(t, "even", *got[1].ns)

	plans := plansFor(conn)
	made := len(plans)
	assert.Equal(t, 8, made, "one plan per column type and destination")
	other := "SELECT * FROM (" + rowsSQL + ") r ORDER BY 1 DESC"
	got = strip(collect(ctx, t, conn, true, other, 3))
	assert.Equal(t, strip(collect(ctx, t, conn, false, other, 3)), got)
	assert.Equal(t, int64(3), got[0].n)
	assert.Len(t, plans, made, "a second statement of the same column types plans nothing")

	// The same column into another type, row by row.
	rows, err := conn.Query(ctx, `SELECT n FROM generate_series(1, 2) n`)
	require.NoError(t, err)
	pr := planned(rows)
	require.True(t, pr.Next())
	var asInt int32
	var asAny any
	require.NoError(t, pr.Scan(&asInt))
	require.True(t, pr.Next())
	require.NoError(t, pr.Scan(&asAny))
	assert.Equal(t, int32(1), asInt)
	assert.Equal(t, int32(2), asAny)
	pr.Close()

	// NULL into a string: pgx's error, with the column's index and name.
	scanNull := func(wrap bool) error {
		rows, err := conn.Query(ctx, `SELECT 1 AS a, NULL::text AS b`)
		require.NoError(t, err)
		if wrap {
			rows = planned(rows)
		}
		defer rows.Close()
		require.True(t, rows.Next())
		var a int
		var b string
		return rows.Scan(&a, &b)
	}
	wantErr, gotErr := scanNull(false), scanNull(true)
	require.Error(t, gotErr)
	assert.Equal(t, wantErr.Error(), gotErr.Error())
	var sae pgx.ScanArgError
	require.ErrorAs(t, gotErr, &sae)
	assert.Equal(t, 1, sae.ColumnIndex)
	assert.Equal(t, "b", sae.FieldName)

	// Too few destinations: pgx's error too.
	rows, err = conn.Query(ctx, `SELECT 1, 2`)
	require.NoError(t, err)
	pr = planned(rows)
	require.True(t, pr.Next())
	var one int
	assert.ErrorContains(t, pr.Scan(&one), "number of field descriptions must equal number of destinations")
	pr.Close()
}
