package cost

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// request is what the HTTP layer and the extension share about one request.
type request struct {
	client     string       // the client's address, for anonymous budgets
	retryAfter atomic.Int64 // seconds; set when the budget refused the request
}

type requestKey struct{}

func requestFrom(ctx context.Context) *request {
	r, _ := ctx.Value(requestKey{}).(*request)
	return r
}

// Middleware wraps the GraphQL handler: it records the client's address
// (the host of r.RemoteAddr; with clientHeader set, for example
// "X-Forwarded-For" behind a proxy you trust, the last address of that
// header, which is the one your proxy added) and answers a request the
// budget refused with HTTP 429 and Retry-After. A websocket upgrade keeps
// its writer: its operations are refused inside the protocol.
func Middleware(clientHeader string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &request{client: clientAddr(r, clientHeader)}
		if r.Header.Get("Upgrade") == "" {
			w = &writer{ResponseWriter: w, st: st}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestKey{}, st)))
	})
}

func clientAddr(r *http.Request, header string) string {
	if header != "" {
		if v := r.Header.Values(header); len(v) > 0 {
			last := v[len(v)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if last = strings.TrimSpace(last); last != "" {
				return last
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// writer turns the status of a refused request into 429 with Retry-After,
// whatever status gqlgen's transport chose.
type writer struct {
	http.ResponseWriter
	st    *request
	wrote bool
}

func (w *writer) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		if s := w.st.retryAfter.Load(); s > 0 {
			w.Header().Set("Retry-After", strconv.FormatInt(s, 10))
			code = http.StatusTooManyRequests
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *writer) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
