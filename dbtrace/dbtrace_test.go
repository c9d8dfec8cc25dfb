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
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSlowQueriesLogged(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	tracer := &dbtrace.Slow{Log: slog.New(slog.NewJSONHandler(&logs, nil)), Threshold: 30 * time.Millisecond, Pool: "read"}
	ctx := requestid.With(context.Background(), "req-slowquery1")
	pool, err := app.OpenPool(ctx, testdb.URL(t), false, tracer)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	_, err = pool.Exec(ctx, "SELECT $1::text", "fast-secret")
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
