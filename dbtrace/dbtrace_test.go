package dbtrace_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/herotasks/api/app"
	"github.com/herotasks/api/dbtrace"
	"github.com/herotasks/api/internal/testdb"
	"github.com/herotasks/api/requestid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowPool opens a pool named name whose statements of 30 ms or more are
// logged to logs, and a context carrying request id reqID.
func slowPool(t *testing.T, name, reqID string) (context.Context, *pgxpool.Pool, *bytes.Buffer) {
	t.Helper()
	logs := &bytes.Buffer{}
	tracer := &dbtrace.Slow{Log: slog.New(slog.NewJSONHandler(logs, nil)), Threshold: 30 * time.Millisecond, Pool: name}
	ctx := requestid.With(context.Background(), reqID)
	pool, err := app.OpenPool(ctx, testdb.URL(t), false, tracer)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return ctx, pool, logs
}

func TestSlowQueriesLogged(t *testing.T) {
	t.Parallel()
	ctx, pool, logs := slowPool(t, "read", "req-slowquery1")

	_, err := pool.Exec(ctx, "SELECT $1::text", "fast-secret")
	require.NoError(t, err)
	assert.NotContains(t, logs.String(), "fast", "fast statements are not logged")

	_, err = pool.Exec(ctx, "SELECT pg_sleep(0.05), $1::text   -- slow\n", "hunter2")
	require.NoError(t, err)
	out := logs.String()
	assert.Contains(t, out, `"msg":"slow query"`)
	assert.Contains(t, out, `"pool":"read"`)
	assert.Contains(t, out, `"request_id":"req-slowquery1"`)
	assert.Contains(t, out, `SELECT pg_sleep(0.05), $1::text -- slow`, "SQL text, on one line")
	assert.NotContains(t, out, "hunter2", "argument values are never logged")
}

// TestSlowPipelineLogged: statements sent in one pipeline (a write's BEGIN
// with its first statement, its history with its COMMIT) are timed
// together and logged with every statement of the pipeline.
func TestSlowPipelineLogged(t *testing.T) {
	t.Parallel()
	ctx, pool, logs := slowPool(t, "write", "req-slowpipe1")

	b := &pgx.Batch{}
	b.Queue("SELECT $1::text", "fast-secret")
	require.NoError(t, pool.SendBatch(ctx, b).Close())
	assert.Empty(t, logs.String(), "fast pipelines are not logged")

	b = &pgx.Batch{}
	b.Queue("SELECT 1")
	b.Queue("SELECT pg_sleep(0.05), $1::text", "hunter2")
	require.NoError(t, pool.SendBatch(ctx, b).Close())
	out := logs.String()
	assert.Contains(t, out, `"msg":"slow query"`)
	assert.Contains(t, out, `"pool":"write"`)
	assert.Contains(t, out, `"request_id":"req-slowpipe1"`)
	assert.Contains(t, out, `SELECT 1; SELECT pg_sleep(0.05), $1::text`, "the pipeline's statements, in order")
	assert.NotContains(t, out, "hunter2", "argument values are never logged")
}
