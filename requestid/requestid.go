// Package requestid gives every request an id that ties the client's error
// (extensions.requestId), the response header and the server's logs together.
package requestid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"regexp"
)

// Header carries the id in both directions.
const Header = "X-Request-Id"

type ctxKey struct{}

// From returns the request id in ctx, or "".
func From(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// New returns a random 128-bit id in hex.
func New() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// A client-supplied id is kept only when it is short and plain, so it is safe
// to log and echo.
var valid = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

// Middleware assigns the id (keeping a well-formed one from the client) and
// echoes it in the response header.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(Header)
		if !valid.MatchString(id) {
			id = New()
		}
		w.Header().Set(Header, id)
		next.ServeHTTP(w, r.WithContext(With(r.Context(), id)))
	})
}
