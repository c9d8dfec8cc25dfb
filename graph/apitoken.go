package graph

import (
	"time"

	"github.com/herotasks/api/auth"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/graph/model"
)

// newAPIToken checks createApiToken's input and makes the secret; only its
// hash goes to the store.
func newAPIToken(in model.CreateAPITokenInput, createdBy string, now time.Time) (domain.NewAPIToken, string, error) {
	if err := checkID("input.userId", in.UserID); err != nil {
		return domain.NewAPIToken{}, "", err
	}
	name, err := domain.Text("input.name", in.Name, domain.MaxName)
	if err != nil {
		return domain.NewAPIToken{}, "", err
	}
	expires := value(in.ExpiresAt)
	if expires != nil && !expires.After(now) {
		return domain.NewAPIToken{}, "", domain.Invalid("input.expiresAt", "must be in the future")
	}
	secret, hash, prefix := auth.NewToken()
	return domain.NewAPIToken{UserID: in.UserID, Name: name, Hash: hash, Prefix: prefix, CreatedByID: createdBy,
		ExpiresAt: expires}, secret, nil
}
