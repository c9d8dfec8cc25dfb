package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/herotasks/api/auth"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const createToken = `mutation($in: CreateApiTokenInput!) { createApiToken(input: $in) { token apiToken { id name prefix user { id } createdBy { id } revokedAt } } }`

// TestAPITokens: an admin makes a token for a machine client; it is shown
// once, stored only as its SHA-256, works as its user with that user's
// current role, and stops working the moment it is revoked or expires.
func TestAPITokens(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ctx := context.Background()
	adminID, admin := api.User(t, domain.RoleAdmin)
	botID, _ := api.User(t, domain.RoleEditor)
	_, editor := api.User(t, domain.RoleEditor)

	for _, tok := range []string{editor, ""} {
		r := api.Post(t, tok, createToken, map[string]any{"in": map[string]any{"userId": botID, "name": "ci"}})
		assert.Equal(t, "FORBIDDEN", r.Code(), "only admins make tokens")
		assert.Equal(t, "FORBIDDEN", api.Post(t, tok, `{ apiTokens { id } }`, nil).Code())
	}

	d := api.OK(t, admin, createToken, map[string]any{"in": map[string]any{"userId": botID, "name": " deploy bot "}})
	secret := apitest.Str(d, "createApiToken", "token")
	require.Len(t, secret, 46, "ht_ and 256 bits in base64url")
	assert.True(t, strings.HasPrefix(secret, auth.TokenPrefix))
	assert.Equal(t, secret[:9], apitest.Str(d, "createApiToken", "apiToken", "prefix"))
	assert.Equal(t, "deploy bot", apitest.Str(d, "createApiToken", "apiToken", "name"))
	assert.Equal(t, botID, apitest.Str(d, "createApiToken", "apiToken", "user", "id"))
	assert.Equal(t, adminID, apitest.Str(d, "createApiToken", "apiToken", "createdBy", "id"))
	id := apitest.Str(d, "createApiToken", "apiToken", "id")

	var rows int
	var stored string
	sum := sha256.Sum256([]byte(secret))
	require.NoError(t, api.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE token_hash = $1), string_agg(row_to_json(t)::text, '')
		FROM api_tokens t`, sum[:]).Scan(&rows, &stored))
	assert.Equal(t, 1, rows, "stored as its SHA-256")
	assert.NotContains(t, stored, secret[len(auth.TokenPrefix):], "the secret itself is nowhere in the table")
	list := api.OK(t, admin, `{ apiTokens { id prefix revokedAt } }`, nil)
	assert.Equal(t, id, apitest.Str(list, "apiTokens", 0, "id"))
	assert.NotContains(t, apitest.JSON(t, list), secret[len(auth.TokenPrefix):], "never shown again")

	assert.Equal(t, botID, apitest.Str(api.OK(t, secret, `{ me { id role } }`, nil), "me", "id"), "the token speaks for its user")
	task, _ := api.NewTask(t, secret, map[string]any{"title": "Deployed by the bot"})
	assert.NotEmpty(t, task)

	_, err := api.Pool().Exec(ctx, `UPDATE users SET role = 'VIEWER' WHERE id = $1`, botID)
	require.NoError(t, err)
	assert.Equal(t, "FORBIDDEN", api.Post(t, secret, apitest.CreateTask, map[string]any{"in": map[string]any{"title": "x"}}).Code(),
		"the user's current role, not the one at creation")

	assert.Equal(t, true, apitest.Get(api.OK(t, admin, `mutation($id: ID!) { revokeApiToken(id: $id) }`, map[string]any{"id": id}), "revokeApiToken"))
	assert.Equal(t, false, apitest.Get(api.OK(t, admin, `mutation($id: ID!) { revokeApiToken(id: $id) }`, map[string]any{"id": id}), "revokeApiToken"))
	res, _ := api.Request(t, secret, `{ me { id } }`, nil)
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "revoked at once")
	assert.Contains(t, res.Header.Get("WWW-Authenticate"), "invalid_token")
	assert.NotEmpty(t, apitest.Get(api.OK(t, admin, `{ apiTokens { revokedAt } }`, nil), "apiTokens", 0, "revokedAt"))

	expired, hash, prefix := auth.NewToken()
	past := time.Now().Add(-time.Minute)
	_, err = api.Repo.CreateAPIToken(ctx, domain.NewAPIToken{UserID: botID, Name: "old", Hash: hash, Prefix: prefix, CreatedByID: adminID, ExpiresAt: &past})
	require.NoError(t, err)
	res, _ = api.Request(t, expired, `{ me { id } }`, nil)
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "expired")

	bad := []map[string]any{
		{"userId": "not-an-id", "name": "x"},
		{"userId": botID, "name": ""},
		{"userId": botID, "name": strings.Repeat("n", 101)},
		{"userId": botID, "name": "x", "expiresAt": "2001-01-01T00:00:00Z"},
		{"userId": "6f0c3a52-2d3e-4c1b-9a57-0e5b8f1d2c3a", "name": "nobody"},
	}
	for _, in := range bad {
		r := api.Post(t, admin, createToken, map[string]any{"in": in})
		assert.Equal(t, "BAD_USER_INPUT", r.Code(), "%v: %v", in, r.Errors)
	}
}

// TestAuthRefusals: a credential that does not verify is 401 with
// WWW-Authenticate, never served as anonymous (even for a query anonymous
// callers may run), and costs no SQL unless it is a well-formed API token.
func TestAuthRefusals(t *testing.T) {
	t.Parallel()
	api := apitest.New(t, apitest.Production...)
	uid, good := api.User(t, domain.RoleEditor)
	now := time.Now()
	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"sub": uid, "role": "editor", "iss": "https://auth.herotasks.test", "aud": "herotasks-api",
			"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "nbf": now.Unix()}
		if edit != nil {
			edit(c)
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		require.NoError(t, err)
		return s
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	secret := []byte(apitest.Secret)
	forged, _, _ := auth.NewToken()
	tokens := map[string]string{
		"forged signature": sign(jwt.SigningMethodHS256, []byte("not the server's secret, just as long!"), claims(nil)),
		"expired":          sign(jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() })),
		"no exp":           sign(jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { delete(c, "exp") })),
		"not yet valid":    sign(jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() })),
		"issued in future": sign(jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix() })),
		"wrong issuer":     sign(jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.test" })),
		"no issuer":        sign(jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { delete(c, "iss") })),
		"wrong audience":   sign(jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["aud"] = "another-api" })),
		"admin role claim": sign(jwt.SigningMethodHS256, []byte("guess"+apitest.Secret), claims(func(c jwt.MapClaims) { c["role"] = "admin" })),
		"alg none":         sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)),
		"HS512, same key":  sign(jwt.SigningMethodHS512, secret, claims(nil)),
		"RS256":            sign(jwt.SigningMethodRS256, rsaKey, claims(nil)),
		"ES256":            sign(jwt.SigningMethodES256, ecKey, claims(nil)),
		"unsigned header":  strings.Join(strings.Split(good, ".")[:2], ".") + ".",
		"garbage":          "a.b.c",
		"api token forged": forged,
		"api token short":  auth.TokenPrefix + "abc",
	}
	for name, tok := range tokens {
		before := api.SQL.Load()
		res, raw := api.Request(t, tok, `{ tasks(first: 1) { totalCount } }`, nil)
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "%s: %s", name, raw)
		assert.Equal(t, `Bearer error="invalid_token"`, res.Header.Get("WWW-Authenticate"), name)
		assert.Contains(t, string(raw), `"UNAUTHENTICATED"`, name)
		assert.NotContains(t, string(raw), `"data"`, "%s: never served as anonymous", name)
		if name != "api token forged" {
			assert.Equal(t, before, api.SQL.Load(), "%s: no SQL", name)
		}
	}
	for _, h := range []string{"Basic dXNlcjpwYXNz", "Bearer", "Token " + good, good} {
		res, _ := api.Request(t, "", `{ tasks(first: 1) { totalCount } }`, nil, "Authorization", h)
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "Authorization %.20q", h)
	}
	assert.Empty(t, api.Post(t, good, `{ tasks(first: 1) { totalCount } }`, nil).Errors, "the good token works")
	r := api.Post(t, "", apitest.CreateTask, map[string]any{"in": map[string]any{"title": "anonymous write"}})
	assert.Equal(t, "UNAUTHENTICATED", r.Code(), "mutations need a caller")
	assert.Nil(t, apitest.Get(r.Data, "createTask"))
}
