package cost

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMiddlewareClientAddress(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, header, remote string
		xff                  []string
		want                 string
	}{
		{"remote address", "", "192.0.2.1:5555", nil, "192.0.2.1"},
		{"forwarded-for ignored by default", "", "192.0.2.1:5555", []string{"203.0.113.9"}, "192.0.2.1"},
		{"trusted header: the last hop", "X-Forwarded-For", "10.0.0.1:1", []string{"203.0.113.9, 198.51.100.7"}, "198.51.100.7"},
		{"trusted header over several lines", "X-Forwarded-For", "10.0.0.1:1", []string{"203.0.113.9", "198.51.100.8"}, "198.51.100.8"},
		{"trusted header absent", "X-Forwarded-For", "[2001:db8::1]:443", nil, "2001:db8::1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got string
			h := Middleware(c.header, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = requestFrom(r.Context()).client
			}))
			r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
			r.RemoteAddr = c.remote
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			assert.Equal(t, c.want, got)
		})
	}
}

func TestMiddlewareRefusalIs429(t *testing.T) {
	t.Parallel()
	h := Middleware("", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requestFrom(r.Context()).retryAfter.Store(3)
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = w.Write([]byte(`{}`))
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/graphql", nil))
	assert.Equal(t, http.StatusTooManyRequests, rec.Code)
	assert.Equal(t, "3", rec.Header().Get("Retry-After"))

	h = Middleware("", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{}`)) }))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/graphql", nil))
	assert.Equal(t, http.StatusOK, rec.Code, "anything else keeps its status")
	assert.Empty(t, rec.Header().Get("Retry-After"))
}
