package auth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/herotasks/api/auth"
	"github.com/herotasks/api/domain"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const secret = "0123456789abcdef0123456789abcdef"
const user = "6f1c2b1e-8a55-4c61-9d3e-1b2a3c4d5e6f"

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	require.NoError(t, err)
	return s
}

func TestVerify(t *testing.T) {
	t.Parallel()
	a := auth.New([]byte(secret), "herotasks", "web")
	good, err := a.Sign(user, domain.RoleEditor, time.Hour)
	require.NoError(t, err)
	v, err := a.Verify(good)
	require.NoError(t, err)
	assert.Equal(t, domain.Viewer{UserID: user, Role: domain.RoleEditor}, v)

	now := time.Now()
	base := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": user, "role": "admin", "iss": "herotasks", "aud": "web", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()}
	}
	with := func(k string, v any) jwt.MapClaims { c := base(); c[k] = v; return c }
	without := func(k string) jwt.MapClaims { c := base(); delete(c, k); return c }
	bad := map[string]string{
		"wrong secret":   sign(t, jwt.SigningMethodHS256, []byte("another secret, just as long......"), base()),
		"alg none":       sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, base()),
		"HS512":          sign(t, jwt.SigningMethodHS512, []byte(secret), base()),
		"expired":        sign(t, jwt.SigningMethodHS256, []byte(secret), with("exp", now.Add(-time.Hour).Unix())),
		"no exp":         sign(t, jwt.SigningMethodHS256, []byte(secret), without("exp")),
		"not yet valid":  sign(t, jwt.SigningMethodHS256, []byte(secret), with("nbf", now.Add(time.Hour).Unix())),
		"issued later":   sign(t, jwt.SigningMethodHS256, []byte(secret), with("iat", now.Add(time.Hour).Unix())),
		"wrong issuer":   sign(t, jwt.SigningMethodHS256, []byte(secret), with("iss", "evil")),
		"wrong audience": sign(t, jwt.SigningMethodHS256, []byte(secret), with("aud", "other")),
		"unknown role":   sign(t, jwt.SigningMethodHS256, []byte(secret), with("role", "root")),
		"subject no id":  sign(t, jwt.SigningMethodHS256, []byte(secret), with("sub", "alice")),
		"garbage":        "a.b.c",
	}
	for name, tok := range bad {
		_, err := a.Verify(tok)
		assert.ErrorIs(t, err, auth.ErrInvalidToken, name)
	}
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	a := auth.New([]byte(secret), "", "")
	var seen domain.Viewer
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = auth.ViewerFrom(r.Context()) }))
	tok, err := a.Sign(user, domain.RoleViewer, time.Minute)
	require.NoError(t, err)

	for _, c := range []struct {
		header string
		status int
		viewer domain.Viewer
	}{
		{"", http.StatusOK, domain.Viewer{}},
		{"Bearer " + tok, http.StatusOK, domain.Viewer{UserID: user, Role: domain.RoleViewer}},
		{"bearer " + tok, http.StatusOK, domain.Viewer{UserID: user, Role: domain.RoleViewer}},
		{"Bearer nope", http.StatusUnauthorized, domain.Viewer{}},
		{"Basic dXNlcjpwYXNz", http.StatusUnauthorized, domain.Viewer{}},
	} {
		seen = domain.Viewer{}
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
		if c.header != "" {
			req.Header.Set("Authorization", c.header)
		}
		h.ServeHTTP(rec, req)
		assert.Equal(t, c.status, rec.Code, "Authorization %q", c.header)
		assert.Equal(t, c.viewer, seen, "Authorization %q", c.header)
		if c.status == http.StatusUnauthorized {
			assert.Contains(t, rec.Header().Get("WWW-Authenticate"), "Bearer")
			assert.Contains(t, rec.Body.String(), `"UNAUTHENTICATED"`)
		}
	}
}
