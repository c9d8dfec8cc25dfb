package repository

import (
	"context"

	"github.com/herotasks/api/domain"
	"github.com/jackc/pgx/v5"
)

const apiTokenCols = "id, user_id, name, prefix, created_by, created_at, expires_at, revoked_at"

func scanAPIToken(row pgx.CollectableRow) (*domain.APIToken, error) {
	var t domain.APIToken
	err := row.Scan(&t.ID, &t.UserID, &t.Name, &t.Prefix, &t.CreatedByID, &t.CreatedAt, &t.ExpiresAt, &t.RevokedAt)
	return &t, err
}

// CreateAPIToken stores a token's hash for a user; a missing user is
// BAD_USER_INPUT on userId.
func (r *Repo) CreateAPIToken(ctx context.Context, in domain.NewAPIToken) (*domain.APIToken, error) {
	domain.MarkWrote(ctx)
	return queryRow(ctx, r.pools.Write, `INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_by, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+apiTokenCols,
		[]any{in.UserID, in.Name, in.Hash, in.Prefix, in.CreatedByID, in.ExpiresAt}, scanAPIToken)
}

// ViewerByAPITokenHash returns who a live (not revoked, not expired) token
// speaks for, with its user's current role; ErrNotFound otherwise (index
// api_tokens_token_hash_key). It reads the primary, never a replica, so a
// revocation holds from the moment it commits.
func (r *Repo) ViewerByAPITokenHash(ctx context.Context, hash []byte) (domain.Viewer, error) {
	return queryRow(ctx, r.pools.Read, `SELECT u.id, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id
		WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())`,
		[]any{hash}, func(row pgx.CollectableRow) (domain.Viewer, error) {
			var v domain.Viewer
			err := row.Scan(&v.UserID, &v.Role)
			return v, err
		})
}

// RevokeAPIToken revokes a token; false when there is no such live token.
func (r *Repo) RevokeAPIToken(ctx context.Context, id string) (bool, error) {
	domain.MarkWrote(ctx)
	tag, err := r.pools.Write.Exec(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`, id)
	return tag.RowsAffected() == 1, translate(err)
}

// APITokens lists tokens newest first, revoked ones included (index
// api_tokens_created_at_idx).
func (r *Repo) APITokens(ctx context.Context, first int) ([]*domain.APIToken, error) {
	return query(ctx, r.pools.Read, psql.Select(apiTokenCols).From("api_tokens").OrderBy("created_at DESC", "id DESC").
		Limit(uint64(first)), scanAPIToken)
}
