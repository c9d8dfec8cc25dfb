// Package playground serves GraphiQL (with its explorer plugin) from files
// embedded in the binary, so the Playground works on a network without
// internet. The bundle in dist/ is built from web/ by `make playground` and
// committed; dist/LICENSES.md carries the licences of everything bundled.
package playground

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed dist
var dist embed.FS

// AssetPrefix is the path the bundle's scripts, styles and workers are
// served under (vite's `base`); mount the handler on it as well as on `/`.
const AssetPrefix = "/playground/"

// configElement is the placeholder in dist/index.html that the handler fills.
const configElement = `<script id="playground-config" type="application/json">{}</script>`

// csp lets the page load nothing but this server's own files and talk to
// nothing but this server. Monaco injects styles and starts workers.
const csp = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// Options configure the page.
type Options struct {
	// Endpoint is the GraphQL URL the page sends operations to, relative
	// to the page ("/graphql") or absolute.
	Endpoint string
	// Headers pre-fill the request-headers editor, for example the
	// development token's Authorization. Leave empty in production.
	Headers map[string]string
}

// Handler serves the page at any path outside AssetPrefix and the bundle's
// files under it. Mount it with
//
//	mux.Handle("GET /{$}", h)
//	mux.Handle("GET "+playground.AssetPrefix, h)
func Handler(opts Options) http.Handler {
	page, err := render(opts)
	if err != nil {
		panic(err) // the committed bundle is broken; TestPlayground* fail first
	}
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err)
	}
	files := http.StripPrefix(strings.TrimSuffix(AssetPrefix, "/"), http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, AssetPrefix) {
			if strings.HasSuffix(r.URL.Path, "/") || strings.HasSuffix(r.URL.Path, "/index.html") {
				http.NotFound(w, r) // the page only at its own path; no listings
				return
			}
			// Names carry a content hash: cache them for good.
			if strings.HasPrefix(r.URL.Path, AssetPrefix+"assets/") {
				w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			}
			w.Header().Set("X-Content-Type-Options", "nosniff")
			files.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", csp)
		h.Set("Cache-Control", "no-store") // it may carry a token
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(page)
	})
}

// render fills the page's configuration element. encoding/json escapes <, >
// and &, so the JSON cannot close the script element.
func render(opts Options) ([]byte, error) {
	index, err := dist.ReadFile("dist/index.html")
	if err != nil {
		return nil, fmt.Errorf("playground: %w", err)
	}
	if opts.Endpoint == "" {
		opts.Endpoint = "/graphql"
	}
	cfg, err := json.Marshal(struct {
		Endpoint string            `json:"endpoint"`
		Headers  map[string]string `json:"headers,omitempty"`
	}{opts.Endpoint, opts.Headers})
	if err != nil {
		return nil, fmt.Errorf("playground: %w", err)
	}
	if bytes.Count(index, []byte(configElement)) != 1 {
		return nil, fmt.Errorf("playground: dist/index.html has no %s: rebuild with make playground", configElement)
	}
	filled := strings.Replace(configElement, "{}", string(cfg), 1)
	return bytes.Replace(index, []byte(configElement), []byte(filled), 1), nil
}
