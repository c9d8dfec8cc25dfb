// Package dbtrace watches the SQL the server sends: a pgx.QueryTracer that
// logs statements slower than a threshold with what ties them to a request
// (pool, GraphQL operation, request id), never their argument values.
package dbtrace

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/herotasks/api/requestid"
	"github.com/jackc/pgx/v5"
)

// Slow logs statements that take at least Threshold.
type Slow struct {
	Log       *slog.Logger
	Threshold time.Duration
	Pool      string // which pool: write, read, analytics
}

type startKey struct{}

type start struct {
	at  time.Time
	sql string
}

// TraceQueryStart remembers when the statement started.
func (s *Slow) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, startKey{}, start{time.Now(), d.SQL})
}

// TraceQueryEnd logs the statement if it was slow.
func (s *Slow) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	s.end(ctx, d.CommandTag.RowsAffected(), d.Err)
}

// TraceBatchStart remembers when a pipeline of statements (a write's
// BEGIN with its first statement, its last statements with its COMMIT)
// started, and its statements.
func (s *Slow) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	sqls := make([]string, len(d.Batch.QueuedQueries))
	for i, q := range d.Batch.QueuedQueries {
		sqls[i] = q.SQL
	}
	return context.WithValue(ctx, startKey{}, start{time.Now(), strings.Join(sqls, "; ")})
}

// TraceBatchQuery does nothing: the pipeline is timed as a whole.
func (s *Slow) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

// TraceBatchEnd logs the pipeline if it was slow.
func (s *Slow) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchEndData) {
	s.end(ctx, -1, d.Err)
}

// end logs what started in ctx if it was slow (rows -1: not known).
func (s *Slow) end(ctx context.Context, rows int64, err error) {
	st, ok := ctx.Value(startKey{}).(start)
	if !ok {
		return
	}
	took := time.Since(st.at)
	if took < s.Threshold {
		return
	}
	attrs := []any{"pool", s.Pool, "duration_ms", float64(took.Microseconds()) / 1000}
	if rows >= 0 {
		attrs = append(attrs, "rows", rows)
	}
	attrs = append(attrs, "sql", compact(st.sql), "request_id", requestid.From(ctx), "operation", operation(ctx))
	if err != nil {
		attrs = append(attrs, "err", err.Error())
	}
	s.Log.WarnContext(ctx, "slow query", attrs...)
}

// operation names the GraphQL operation the statement serves, if any.
func operation(ctx context.Context) string {
	if !graphql.HasOperationContext(ctx) {
		return ""
	}
	oc := graphql.GetOperationContext(ctx)
	if oc.OperationName != "" {
		return oc.OperationName
	}
	if oc.Operation != nil {
		return string(oc.Operation.Operation) + " (anonymous)"
	}
	return ""
}

// compact folds whitespace so a statement logs on one line.
func compact(sql string) string { return strings.Join(strings.Fields(sql), " ") }
