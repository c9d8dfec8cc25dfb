package repository

import (
	"context"

	"github.com/herotasks/api/domain"
	"github.com/jackc/pgx/v5"
)

// TopStatements returns this database's heaviest statements by mean or by
// total execution time, from pg_stat_statements.
func (r *Repo) TopStatements(ctx context.Context, byTotal bool, n int) ([]domain.StatementStats, error) {
	order := "mean_exec_time"
	if byTotal {
		order = "total_exec_time"
	}
	rows, err := r.pools.Analytics.Query(ctx, `SELECT query, calls::float8, mean_exec_time, total_exec_time, rows::float8,
			shared_blks_hit::float8 / nullif(shared_blks_hit + shared_blks_read, 0)
		FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		ORDER BY `+order+` DESC LIMIT $1`, n)
	if err != nil {
		return nil, statementsUnavailable(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.StatementStats, error) {
		var s domain.StatementStats
		err := row.Scan(&s.Query, &s.Calls, &s.MeanMs, &s.TotalMs, &s.Rows, &s.HitRatio)
		return s, err
	})
	if err != nil {
		return nil, statementsUnavailable(err)
	}
	return out, nil
}

// statementsUnavailable reports a missing or unloaded extension as such.
func statementsUnavailable(err error) error {
	switch code := pgCode(err); code {
	case "42P01", "55000": // undefined_table (no extension), object_not_in_prerequisite_state (not preloaded)
		return &wrapped{domain.Errorf(domain.EUNAVAILABLE, "pg_stat_statements is not available on this database"), err}
	}
	return translate(err)
}
