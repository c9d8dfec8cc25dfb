package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"time"

	"github.com/herotasks/api/apierror"
	"github.com/herotasks/api/cost"
	"github.com/herotasks/api/requestid"
	"github.com/rs/cors"
)

// statusWriter remembers the status code for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (websockets).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// accessLog logs one line per request with its id, status and duration.
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		log.Info("request", "request_id", requestid.From(r.Context()), "method", r.Method, "path", r.URL.Path,
			"status", sw.status, "duration_ms", float64(time.Since(start).Microseconds())/1000)
	})
}

// recoverer turns a panic outside the GraphQL executor into a 500 with the
// request id, logging the stack.
func recoverer(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("panic", "request_id", requestid.From(r.Context()), "panic", p, "stack", string(debug.Stack()))
				apierror.Write(w, r, http.StatusInternalServerError, apierror.Internal, "internal server error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// limitBody refuses a body over limit bytes with 413: at once when its
// Content-Length says so (nothing is read); a body without a length is read
// up to the limit and no further. (gqlgen turns a read error into an
// untyped message, so the check cannot be left to its transport.)
func limitBody(limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tooLarge := r.ContentLength > limit
		if !tooLarge && r.ContentLength < 0 && r.Body != nil {
			body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
			if err != nil {
				http.Error(w, "could not read the request body", http.StatusBadRequest)
				return
			}
			tooLarge = int64(len(body)) > limit
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		if tooLarge {
			apierror.Write(w, r, http.StatusRequestEntityTooLarge, apierror.BadUserInput,
				fmt.Sprintf("the request body is larger than %d bytes", limit))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// withTimeout gives each request a deadline; SQL running under it is
// cancelled when it passes or when the client goes away. A websocket lives
// longer than any request, so it is left alone.
func withTimeout(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// crossOrigin answers CORS for the browser origins in CORS_ORIGINS (none by
// default: a browser on another site gets no CORS headers and so cannot read
// a response) and refuses, with 403, any state-changing request that a
// browser marks as cross-site from an origin not on that list
// (http.CrossOriginProtection reads Sec-Fetch-Site and Origin). That is the
// second guard against cross-site request forgery; the first is that
// /graphql only takes application/json bodies, which a browser never sends
// cross-site without a CORS preflight. Requests without those headers
// (servers, scripts, curl) are not browsers' and pass. Tokens travel in the
// Authorization header, never in cookies, so CORS never allows credentials.
//
// A websocket handshake is a GET, which CrossOriginProtection passes as
// safe, yet the socket carries mutations and browsers apply no CORS to it:
// any site could open one and act with a token its page holds. So a
// handshake is checked as a state-changing request is: from an origin not
// in CORS_ORIGINS (nor the server's own) it is refused with 403.
func crossOrigin(origins []string, next http.Handler) http.Handler {
	anyOrigin := slices.Contains(origins, "*")
	protect := http.NewCrossOriginProtection()
	for _, o := range origins {
		if o != "*" {
			if err := protect.AddTrustedOrigin(o); err != nil {
				panic(err) // config.Load checked the form
			}
		}
	}
	deny := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apierror.Write(w, r, http.StatusForbidden, apierror.Forbidden, "cross-origin requests from this origin are not allowed")
	})
	protect.SetDenyHandler(deny)
	h := next
	if !anyOrigin {
		guarded := protect.Handler(next)
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Upgrade") != "" { // what gqlgen takes for a websocket
				asWrite := r.WithContext(r.Context()) // a shallow copy
				asWrite.Method = http.MethodPost
				if protect.Check(asWrite) != nil {
					deny(w, r)
					return
				}
			}
			guarded.ServeHTTP(w, r)
		})
	}
	if len(origins) == 0 {
		return h
	}
	return cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: []string{"Authorization", "Content-Type", "Accept", requestid.Header, cost.DryRunHeader},
		ExposedHeaders: []string{requestid.Header, "Retry-After", "WWW-Authenticate"},
		MaxAge:         600,
	}).Handler(h)
}
