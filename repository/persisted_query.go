package repository

import (
	"context"

	"github.com/herotasks/api/domain"
	"github.com/jackc/pgx/v5"
)

const persistedQueriesSince = `SELECT hash, seq, name, document, created_by, created_at
FROM persisted_queries WHERE seq > $1 ORDER BY seq`

// PersistedQueriesSince returns the documents registered after seq, in
// registration order (0: all of them).
func (r *Repo) PersistedQueriesSince(ctx context.Context, seq int64) ([]*domain.PersistedQuery, error) {
	// The primary, not the replica: a document registered on one instance
	// is allowed on the others as soon as they refresh.
	rows, err := r.pools.Read.Query(ctx, persistedQueriesSince, seq)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToAddrOfStructByPos[domain.PersistedQuery])
	return out, translate(err)
}

const savePersistedQuery = `INSERT INTO persisted_queries (hash, name, document, created_by)
VALUES ($1, $2, $3, $4)
ON CONFLICT (hash) DO UPDATE SET name = coalesce(EXCLUDED.name, persisted_queries.name)
RETURNING hash, seq, name, document, created_by, created_at`

// SavePersistedQuery registers a document under its hash; registering it
// again keeps the first registration (and may name it).
func (r *Repo) SavePersistedQuery(ctx context.Context, hash string, name *string, document string, createdBy *string) (*domain.PersistedQuery, error) {
	domain.MarkWrote(ctx)
	rows, err := r.pools.Write.Query(ctx, savePersistedQuery, hash, name, document, createdBy)
	if err != nil {
		return nil, translate(err)
	}
	q, err := pgx.CollectExactlyOneRow(rows, pgx.RowToAddrOfStructByPos[domain.PersistedQuery])
	return q, translate(err)
}
