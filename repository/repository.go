// Package repository is the PostgreSQL store of Hero Tasks: SQL only, with
// pgx v5 and squirrel, batch-shaped reads for the dataloaders, keyset
// pagination, one transaction per multi-statement write, and translation of
// driver errors into domain errors.
package repository

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	sq "github.com/Masterminds/squirrel"
	"github.com/herotasks/api/domain"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// psql builds statements with PostgreSQL's $n placeholders.
var psql = sq.StatementBuilder.PlaceholderFormat(sq.Dollar)

// Repo reads and writes Hero Tasks data through its pools: writes on the
// write pool, reads on the read route (route.go), statistics, search and
// maintenance on the analytics pool.
type Repo struct {
	pools     Pools
	replica   *replica      // nil without a replica
	tasksRows atomic.Uint64 // float64 bits: the size of tasks the last search saw (searchPlan)
}

// New returns a Repo whose every role uses pool (tools and tests).
func New(pool *pgxpool.Pool) *Repo {
	return &Repo{pools: Pools{Write: pool, Read: pool, Analytics: pool}}
}

// NewWithPools returns a Repo over a server's pools; log reports the
// replica going down and coming back.
func NewWithPools(p *Pools, log *slog.Logger) *Repo {
	r := &Repo{pools: *p}
	if p.Replica != nil {
		r.replica = &replica{pool: p.Replica, log: log}
	}
	return r
}

// Pool returns the primary's write pool (health checks, tools).
func (r *Repo) Pool() *pgxpool.Pool { return r.pools.Write }

// Pools returns the pools by role.
func (r *Repo) Pools() *Pools { return &r.pools }

// querier is what both a pool and a transaction can do.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// inTx runs fn in a transaction, committing when it returns nil. Errors are
// translated for the caller.
func (r *Repo) inTx(ctx context.Context, fn func(tx *writeTx) error) error {
	domain.MarkWrote(ctx)
	return translate(runWriteTx(ctx, r.pools.Write, fn))
}

type sqlizer = sq.Sqlizer
type rowScanner[T any] = pgx.RowToFunc[T]

// query runs a squirrel builder and collects rows with scan.
func query[T any](ctx context.Context, q querier, b sq.Sqlizer, scan pgx.RowToFunc[T]) ([]T, error) {
	sql, args, err := b.ToSql()
	if err != nil {
		return nil, fmt.Errorf("build query: %w", err)
	}
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(planned(rows), scan)
	return out, translate(err)
}

// queryRow is query for exactly one row; pgx.ErrNoRows becomes ErrNotFound.
func queryRow[T any](ctx context.Context, q querier, sql string, args []any, scan pgx.RowToFunc[T]) (T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		var zero T
		return zero, translate(err)
	}
	v, err := pgx.CollectExactlyOneRow(planned(rows), scan)
	return v, translate(err)
}

// PostgreSQL plans a prepared statement for its arguments (a custom plan)
// until a plan made without them (generic) costs no more than the custom
// plans' average, planning included. A generic plan estimates an array
// parameter at 10 elements, so a batch of one or two keys (an entity cache
// miss) made every custom plan look cheaper, and each such lookup was
// planned again: more PostgreSQL time than the lookup. byKeys shapes batch
// reads so that the generic plan wins.
const (
	// genericPlanKeys is the length a short batch's key set is padded to.
	genericPlanKeys = 10
	// sortedScanKeys is the batch length from which "= ANY" is used: three
	// times the generic plan's estimate, so that no custom plan of it looks
	// cheaper, however rare its keys are estimated.
	sortedScanKeys = 32
)

// keys is a batch of keys repeated up to genericPlanKeys.
func keys(ids []string) []string {
	if len(ids) == 0 || len(ids) >= genericPlanKeys {
		return ids
	}
	out := make([]string, genericPlanKeys)
	n := copy(out, ids)
	for i := n; i < genericPlanKeys; i++ {
		out[i] = ids[0]
	}
	return out
}

// byKeys restricts b to the rows whose col is one of ids. A batch shorter
// than sortedScanKeys joins "(SELECT DISTINCT unnest($1)) AS k(key_id)" of
// keys (padded to genericPlanKeys, DISTINCT dropping the repeats): a custom
// plan estimates that from the array's length alone, where "= ANY" of a
// short array is estimated from the very keys asked for, and CI found one
// estimated below the generic plan's average key. A longer batch is "col =
// ANY($1)", one index scan over the sorted keys: for 265 subtasks' tags it
// ran in 0.45 ms where the key set's probe per key took 0.7. Either way
// PostgreSQL keeps the generic plan after its first five runs.
func byKeys(b sq.SelectBuilder, col string, ids []string) sq.SelectBuilder {
	if len(ids) >= sortedScanKeys {
		return b.Where(col+" = ANY(?::uuid[])", ids)
	}
	return b.Join("(SELECT DISTINCT unnest(?::uuid[])) AS k(key_id) ON "+col+" = k.key_id", keys(ids))
}
