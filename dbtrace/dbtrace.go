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
	st, ok := ctx.Value(startKey{}).(start)
	if !ok {
		return
	}
	took := time.Since(st.at)
	if took < s.Threshold {
		return
	}
	attrs := []any{"pool", s.Pool, "duration_ms", float64(took.Microseconds()) / 1000, "rows", d.CommandTag.RowsAffected(),
		"sql", compact(st.sql), "request_id", requestid.From(ctx), "operation", operation(ctx)}
	if d.Err != nil {
		attrs = append(attrs, "err", d.Err.Error())
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
