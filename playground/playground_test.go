package playground_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/herotasks/api/playground"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func serve(t *testing.T, opts playground.Options) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	h := playground.Handler(opts)
	mux.Handle("GET /{$}", h)
	mux.Handle("GET "+playground.AssetPrefix, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func fetch(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	res, err := http.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(b)
}

var configRe = regexp.MustCompile(`<script id="playground-config" type="application/json">(.*?)</script>`)

// TestPage: the page carries its configuration, a policy that allows only
// this server, and references only bundle files that are served.
func TestPage(t *testing.T) {
	t.Parallel()
	srv := serve(t, playground.Options{Endpoint: "/graphql", Headers: map[string]string{"Authorization": "Bearer abc</script><b>"}})
	res, page := fetch(t, srv.URL+"/")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", res.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"), "the page may carry a token")
	csp := res.Header.Get("Content-Security-Policy")
	assert.Contains(t, csp, "default-src 'self'")
	assert.Contains(t, csp, "connect-src 'self'")
	assert.NotContains(t, page, "<b>", "a header value cannot break out of the script element")

	m := configRe.FindStringSubmatch(page)
	require.Len(t, m, 2, "config element in %s", page)
	var cfg struct {
		Endpoint string            `json:"endpoint"`
		Headers  map[string]string `json:"headers"`
	}
	require.NoError(t, json.Unmarshal([]byte(m[1]), &cfg))
	assert.Equal(t, "/graphql", cfg.Endpoint)
	assert.Equal(t, "Bearer abc</script><b>", cfg.Headers["Authorization"])

	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1)
	require.NotEmpty(t, refs)
	for _, r := range refs {
		require.True(t, strings.HasPrefix(r[1], playground.AssetPrefix), "page loads %s from this server's bundle only", r[1])
		res, body := fetch(t, srv.URL+r[1])
		assert.Equal(t, http.StatusOK, res.StatusCode, r[1])
		assert.NotEmpty(t, body, r[1])
		assert.Contains(t, res.Header.Get("Cache-Control"), "immutable", r[1])
		switch {
		case strings.HasSuffix(r[1], ".js"):
			assert.Contains(t, res.Header.Get("Content-Type"), "javascript", r[1])
		case strings.HasSuffix(r[1], ".css"):
			assert.Contains(t, res.Header.Get("Content-Type"), "text/css", r[1])
		}
	}
}

// TestPageWithoutHeaders: production passes no headers, and the page
// carries none.
func TestPageWithoutHeaders(t *testing.T) {
	t.Parallel()
	srv := serve(t, playground.Options{})
	_, page := fetch(t, srv.URL+"/")
	m := configRe.FindStringSubmatch(page)
	require.Len(t, m, 2)
	assert.JSONEq(t, `{"endpoint":"/graphql"}`, m[1])
}

// TestNoListings: the bundle is served file by file, never as a directory
// listing or a second copy of the page.
func TestNoListings(t *testing.T) {
	t.Parallel()
	srv := serve(t, playground.Options{})
	for _, path := range []string{"/playground/", "/playground/assets/", "/playground/index.html", "/playground/nope.js"} {
		res, _ := fetch(t, srv.URL+path)
		assert.Equal(t, http.StatusNotFound, res.StatusCode, path)
	}
	res, body := fetch(t, srv.URL+"/playground/LICENSES.md")
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, body, "graphiql", "the bundled packages' licences are served beside the bundle")
}

// TestLicences: the licence file beside the bundle names GraphiQL, its
// explorer, React and Monaco with their licence texts.
func TestLicences(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("dist/LICENSES.md")
	require.NoError(t, err)
	for _, want := range []string{"## graphiql", "@graphiql/plugin-explorer", "## react", "monaco-editor", "MIT License"} {
		assert.Contains(t, string(b), want)
	}
}
