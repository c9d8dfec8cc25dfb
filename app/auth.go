package app

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"time"

	"github.com/herotasks/api/auth"
	"github.com/herotasks/api/config"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/repository"
)

// authenticator uses JWT_SECRET, or in development makes up a secret and
// logs and returns a ready admin token for the seeded admin user.
func authenticator(ctx context.Context, cfg config.Config, repo *repository.Repo, log *slog.Logger) (*auth.Authenticator, string, error) {
	if len(cfg.JWTSecret) > 0 {
		return auth.New(cfg.JWTSecret, cfg.JWTIssuer, cfg.JWTAudience).UseAPITokens(repo), "", nil
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	a := auth.New(secret, cfg.JWTIssuer, cfg.JWTAudience).UseAPITokens(repo)
	admin, err := repo.EnsureUser(ctx, "admin@herotasks.local", "Admin", domain.RoleAdmin)
	if err != nil {
		return nil, "", fmt.Errorf("create development admin: %w", err)
	}
	tok, err := a.Sign(admin.ID, domain.RoleAdmin, 24*time.Hour)
	if err != nil {
		return nil, "", err
	}
	log.Warn("JWT_SECRET is not set: using a random secret for this process; development admin token follows",
		"user_id", admin.ID, "token", tok)
	return a, tok, nil
}
