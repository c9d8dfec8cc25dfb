package repository

import (
	"context"

	"github.com/herotasks/api/domain"
	"github.com/jackc/pgx/v5"
)

const userCols = "id, email, name, role, created_at"

func scanUser(row pgx.CollectableRow) (*domain.User, error) {
	var u domain.User
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.CreatedAt)
	return &u, err
}

// UsersByIDs returns the users with these ids (primary key).
func (r *Repo) UsersByIDs(ctx context.Context, ids []string) ([]*domain.User, error) {
	return readQuery(ctx, r, byKeys(psql.Select(userCols).From("users"), "users.id", ids), scanUser)
}

// EnsureUser returns the user with this email, creating it with name and
// role when missing (index users_email_key).
func (r *Repo) EnsureUser(ctx context.Context, email, name string, role domain.Role) (*domain.User, error) {
	domain.MarkWrote(ctx)
	return queryRow(ctx, r.pools.Write, `WITH ins AS (
			INSERT INTO users (email, name, role) VALUES ($1, $2, $3) ON CONFLICT (lower(email)) DO NOTHING RETURNING `+userCols+`)
		SELECT `+userCols+` FROM ins UNION ALL SELECT `+userCols+` FROM users WHERE lower(email) = lower($1) LIMIT 1`,
		[]any{email, name, role}, scanUser)
}
