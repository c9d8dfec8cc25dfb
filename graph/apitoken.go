package graph

import (
	"strings"
	"time"
	"unicode/utf8"

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
	name := strings.TrimSpace(in.Name)
	if n := utf8.RuneCountInString(name); n < 1 || n > 100 {
		return domain.NewAPIToken{}, "", domain.Invalid("input.name", "must be 1 to 100 characters")
	}
	expires := value(in.ExpiresAt)
	if expires != nil && !expires.After(now) {
		return domain.NewAPIToken{}, "", domain.Invalid("input.expiresAt", "must be in the future")
	}
	secret, hash, prefix := auth.NewToken()
	return domain.NewAPIToken{UserID: in.UserID, Name: name, Hash: hash, Prefix: prefix, CreatedByID: createdBy,
		ExpiresAt: expires}, secret, nil
}
