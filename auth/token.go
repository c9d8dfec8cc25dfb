package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/herotasks/api/domain"
)

// TokenPrefix starts every API token, so a bearer value is told apart from a
// JWT (which starts with "eyJ") without trying to parse it, and secret
// scanners can recognise a leaked one.
const TokenPrefix = "ht_"

// tokenLen is TokenPrefix and 256 random bits in unpadded base64url.
const tokenLen = len(TokenPrefix) + 43

// NewToken returns a fresh API token, its SHA-256 (all that is stored) and a
// short prefix that identifies it in lists without revealing it.
func NewToken() (secret string, hash []byte, prefix string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	secret = TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, HashToken(secret), secret[:len(TokenPrefix)+6]
}

// HashToken is the stored form of an API token. A plain SHA-256 is enough:
// the secret has 256 bits of entropy, so there is nothing to brute-force.
func HashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// TokenLookup finds who a live API token speaks for by its hash;
// domain.ErrNotFound (or any error with code ENOTFOUND) when none.
type TokenLookup interface {
	ViewerByAPITokenHash(ctx context.Context, hash []byte) (domain.Viewer, error)
}

// ErrUnavailable is returned when an API token could not be checked (the
// database is down): the request is refused with 503, neither trusted nor
// treated as anonymous.
var ErrUnavailable = errors.New("credentials could not be checked")

// UseAPITokens makes the Authenticator accept API tokens found by l as well
// as JWTs. It returns a for chaining.
func (a *Authenticator) UseAPITokens(l TokenLookup) *Authenticator {
	a.tokens = l
	return a
}

// verifyAPIToken checks an API token: its form first (no lookup for
// garbage), then its hash.
func (a *Authenticator) verifyAPIToken(ctx context.Context, token string) (domain.Viewer, error) {
	if a.tokens == nil || len(token) != tokenLen || !strings.HasPrefix(token, TokenPrefix) {
		return domain.Viewer{}, ErrInvalidToken
	}
	if _, err := base64.RawURLEncoding.DecodeString(token[len(TokenPrefix):]); err != nil {
		return domain.Viewer{}, ErrInvalidToken
	}
	v, err := a.tokens.ViewerByAPITokenHash(ctx, HashToken(token))
	var de *domain.Error
	switch {
	case err == nil && v.Role.Valid():
		return v, nil
	case err == nil, errors.As(err, &de) && de.Code == domain.ENOTFOUND:
		return domain.Viewer{}, ErrInvalidToken
	}
	return domain.Viewer{}, errors.Join(ErrUnavailable, err)
}
