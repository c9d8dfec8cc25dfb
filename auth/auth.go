// Package auth turns bearer tokens into a domain.Viewer: HS256 JWTs whose
// `sub` is a user id and whose `role` is viewer, editor or admin, and API
// tokens for machine clients (token.go). A credential that is present but
// does not verify is refused, never treated as anonymous.
package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/herotasks/api/apierror"
	"github.com/herotasks/api/domain"
)

// Authenticator signs and verifies tokens with one secret.
type Authenticator struct {
	secret   []byte
	issuer   string
	audience string
	tokens   TokenLookup // nil: API tokens are refused
	verified *lru.Cache[string, verifiedJWT]
	now      func() time.Time
}

// verifiedJWT is what a JWT that verified says, and until when.
type verifiedJWT struct {
	viewer domain.Viewer
	exp    time.Time
}

// verifiedJWTs is how many verified JWTs an Authenticator remembers.
const verifiedJWTs = 4096

// leeway is the clock skew allowed on exp, nbf and iat.
const leeway = 30 * time.Second

// New returns an Authenticator. issuer and audience are checked (and set on
// signed tokens) when non-empty.
func New(secret []byte, issuer, audience string) *Authenticator {
	verified, _ := lru.New[string, verifiedJWT](verifiedJWTs) // errors only on a size <= 0
	return &Authenticator{secret: secret, issuer: issuer, audience: audience, verified: verified, now: time.Now}
}

type claims struct {
	Role string `json:"role"`
	jwt.RegisteredClaims
}

// Sign returns a token for userID with role, valid for ttl.
func (a *Authenticator) Sign(userID string, role domain.Role, ttl time.Duration) (string, error) {
	now := time.Now()
	c := claims{
		Role: strings.ToLower(string(role)),
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   userID,
			Issuer:    a.issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	if a.audience != "" {
		c.Audience = jwt.ClaimStrings{a.audience}
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(a.secret)
}

// ErrInvalidToken is returned for any token that does not verify. The reason
// is not told to the client.
var ErrInvalidToken = errors.New("invalid token")

// Verify checks a JWT and returns who it speaks for: the algorithm is pinned
// to HS256 (so `alg: none` and a token signed with another algorithm or key
// type are refused), `exp` is required, `nbf` and `iat` must not be in the
// future (30 s leeway for clock skew), and `iss` and `aud` must match when
// configured.
//
// A token that verified is remembered (the last 4,096) until it expires: the
// signature and claims of a token string cannot change, and checking them
// again on every request of a session is a visible share of the CPU of a
// small request (HMAC and JSON). Only exp can turn a verified token
// invalid later, and it is checked again on each use.
func (a *Authenticator) Verify(token string) (domain.Viewer, error) {
	if v, ok := a.verified.Get(token); ok {
		if a.now().Before(v.exp.Add(leeway)) {
			return v.viewer, nil
		}
		a.verified.Remove(token)
		return domain.Viewer{}, ErrInvalidToken
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway), jwt.WithTimeFunc(a.now)}
	if a.issuer != "" {
		opts = append(opts, jwt.WithIssuer(a.issuer))
	}
	if a.audience != "" {
		opts = append(opts, jwt.WithAudience(a.audience))
	}
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return a.secret, nil }, opts...)
	if err != nil {
		return domain.Viewer{}, ErrInvalidToken
	}
	role := domain.Role(strings.ToUpper(c.Role))
	if _, err := uuid.Parse(c.Subject); err != nil || !role.Valid() {
		return domain.Viewer{}, ErrInvalidToken
	}
	v := domain.Viewer{UserID: c.Subject, Role: role}
	a.verified.Add(token, verifiedJWT{viewer: v, exp: c.ExpiresAt.Time})
	return v, nil
}

// Authenticate verifies an Authorization value, "Bearer <token>", where the
// token is an API token or a JWT (HTTP requests and the websocket
// connection parameter alike). The error is ErrInvalidToken, or
// ErrUnavailable when an API token could not be looked up.
func (a *Authenticator) Authenticate(ctx context.Context, h string) (domain.Viewer, error) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return domain.Viewer{}, ErrInvalidToken
	}
	token = strings.TrimSpace(token)
	if strings.HasPrefix(token, TokenPrefix) {
		return a.verifyAPIToken(ctx, token)
	}
	return a.Verify(token)
}

// Expiry returns when the JWT in an Authorization value that Authenticate
// accepted stops being valid; ok is false for API tokens (revoked, not
// expired) and anything that is not a JWT.
func (a *Authenticator) Expiry(h string) (exp time.Time, ok bool) {
	_, token, found := strings.Cut(h, " ")
	token = strings.TrimSpace(token)
	if !found || strings.HasPrefix(token, TokenPrefix) {
		return time.Time{}, false
	}
	var c claims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &c); err != nil || c.ExpiresAt == nil {
		return time.Time{}, false
	}
	return c.ExpiresAt.Time, true
}

type ctxKey struct{}

// WithViewer returns ctx speaking for v.
func WithViewer(ctx context.Context, v domain.Viewer) context.Context {
	return context.WithValue(ctx, ctxKey{}, v)
}

// ViewerFrom returns who the request speaks for; anonymous when no one.
func ViewerFrom(ctx context.Context) domain.Viewer {
	v, _ := ctx.Value(ctxKey{}).(domain.Viewer)
	return v
}

// Middleware reads `Authorization: Bearer <token>`. No header means
// anonymous; a header that does not verify is refused with 401 and is never
// treated as anonymous.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if h == "" {
			next.ServeHTTP(w, r)
			return
		}
		v, err := a.Authenticate(r.Context(), h)
		switch {
		case errors.Is(err, ErrUnavailable):
			w.Header().Set("Retry-After", apierror.UnavailableRetryAfter)
			refuse(w, r, http.StatusServiceUnavailable, apierror.ServiceUnavailable, "the credentials could not be checked; retry shortly")
			return
		case err != nil:
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			refuse(w, r, http.StatusUnauthorized, apierror.Unauthenticated, "the bearer token is invalid or expired")
			return
		}
		next.ServeHTTP(w, r.WithContext(WithViewer(r.Context(), v)))
	})
}

func refuse(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	apierror.Write(w, r, status, code, msg)
}
