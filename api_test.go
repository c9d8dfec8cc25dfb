package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herotasks/api/auth"
	"github.com/herotasks/api/cache"
	"github.com/herotasks/api/config"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/testdb"
	"github.com/herotasks/api/repository"
	"github.com/herotasks/api/respcache"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

const testSecret = "test-secret-that-is-long-enough-0123456789"

// countingTracer counts the SQL statements sent to PostgreSQL.
type countingTracer struct{ n atomic.Int64 }

func (c *countingTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *countingTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// testAPI is a server on its own database, spoken to over real HTTP.
type testAPI struct {
	dbURL string
	url   string
	pool  *pgxpool.Pool
	repo  *repository.Repo
	authn *auth.Authenticator
	sql   *countingTracer
	cache *cache.Cache          // nil with the entity cache off
	rdb   redis.UniversalClient // nil without Redis
	// devToken is the development admin token, with env "JWT_SECRET", "".
	devToken string
	resp     *respcache.Cache // nil with the response cache off
}

func newTestAPI(t *testing.T, env ...string) *testAPI {
	t.Helper()
	return serveTestAPI(t, testdb.New(t), &countingTracer{}, env...)
}

// serveTestAPI starts a server on an existing database with tracer on its
// pool. With REDIS_URL set (make test sets it) the entity cache is on, under
// a key prefix of the test's own, unless env says ENTITY_CACHE=off.
func serveTestAPI(t *testing.T, dbURL string, tracer pgx.QueryTracer, env ...string) *testAPI {
	t.Helper()
	vars := map[string]string{"DATABASE_URL": dbURL, "JWT_SECRET": testSecret, "REDIS_URL": os.Getenv("REDIS_URL"),
		"CACHE_PREFIX": "ht:test:" + dbURL[strings.LastIndex(dbURL, "/")+1:],
		// Generous: under -race on two busy cores a 50 ms Redis timeout fires
		// and the request falls back to PostgreSQL, which is right in
		// production but would blur what these tests count.
		"CACHE_TIMEOUT": "2s",
		// Statement counts are what most tests check: the response cache
		// is on only where a test asks for it.
		"RESPONSE_CACHE": "off"}
	for i := 0; i+1 < len(env); i += 2 {
		vars[env[i]] = env[i+1]
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	require.NoError(t, err)
	pool, err := repository.Open(context.Background(), dbURL, repository.PoolOptions{MaxConns: 20, Tracer: tracer})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	repo := repository.New(pool)
	rdb, err := newRedis(cfg)
	require.NoError(t, err)
	if rdb != nil {
		t.Cleanup(func() { rdb.Close() })
	}
	d := newDeps(cfg, repo, rdb)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// env "JWT_SECRET", "" takes the development path: a made-up secret and
	// an admin token, which the Playground pre-fills.
	d.authn, d.devToken, err = authenticator(ctx, cfg, repo, log)
	require.NoError(t, err)
	require.NoError(t, d.start(ctx, cfg, log))
	srv := httptest.NewServer(newServer(cfg, log, d))
	t.Cleanup(srv.Close)
	counter, _ := tracer.(*countingTracer)
	return &testAPI{dbURL: dbURL, url: srv.URL, pool: pool, repo: repo, authn: d.authn, sql: counter, cache: d.cache, rdb: rdb,
		devToken: d.devToken, resp: d.resp}
}

// user creates a user with role and returns its id and a bearer token.
func (a *testAPI) user(t *testing.T, role domain.Role) (string, string) {
	t.Helper()
	email := fmt.Sprintf("%s-%d@example.com", strings.ToLower(string(role)), time.Now().UnixNano())
	u, err := a.repo.EnsureUser(context.Background(), email, "Test "+string(role), role)
	require.NoError(t, err)
	tok, err := a.authn.Sign(u.ID, role, time.Hour)
	require.NoError(t, err)
	return u.ID, tok
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

type gqlResponse struct {
	Status int
	Data   map[string]any `json:"data"`
	Errors []gqlError     `json:"errors"`
}

// code returns the first error's extensions.code, "" when none.
func (r gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// post sends a GraphQL request; token may be empty for anonymous.
func (a *testAPI) post(t *testing.T, token, query string, vars map[string]any) gqlResponse {
	t.Helper()
	res, raw := a.request(t, token, query, vars)
	var out gqlResponse
	require.NoError(t, json.Unmarshal(raw, &out), "response is JSON: %s", raw)
	out.Status = res.StatusCode
	return out
}

// request posts a GraphQL request with extra headers (name, value, ...)
// and returns the response with its body read.
func (a *testAPI) request(t *testing.T, token, query string, vars map[string]any, headers ...string) (*http.Response, []byte) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, a.url+"/graphql", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, raw
}

// ok sends a request that must succeed and returns its data.
func (a *testAPI) ok(t *testing.T, token, query string, vars map[string]any) map[string]any {
	t.Helper()
	r := a.post(t, token, query, vars)
	require.Empty(t, r.Errors, "query %s with %v", query, vars)
	return r.Data
}

// get walks a decoded JSON value by keys and indexes.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			s, _ := v.([]any)
			if k >= len(s) {
				return nil
			}
			v = s[k]
		}
	}
	return v
}

func str(v any, path ...any) string { s, _ := get(v, path...).(string); return s }
func num(v any, path ...any) int    { f, _ := get(v, path...).(float64); return int(f) }
func list(v any, path ...any) []any { s, _ := get(v, path...).([]any); return s }

const createTask = `mutation($in: CreateTaskInput!) { createTask(input: $in) { id number title status phase version visibility tags { name } } }`

// newTask creates a task through the API and returns its id and number.
func (a *testAPI) newTask(t *testing.T, token string, in map[string]any) (string, string) {
	t.Helper()
	d := a.ok(t, token, createTask, map[string]any{"in": in})
	return str(d, "createTask", "id"), str(d, "createTask", "number")
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// cachePrefix is the key prefix this server's cache uses.
func (a *testAPI) cachePrefix() string {
	return "ht:test:" + a.dbURL[strings.LastIndex(a.dbURL, "/")+1:]
}

// cacheFlush deletes this test's keys, for a cold start.
func (a *testAPI) cacheFlush(t *testing.T) {
	t.Helper()
	if a.rdb == nil {
		return
	}
	ctx := context.Background()
	keys, err := a.rdb.Keys(ctx, a.cachePrefix()+":*").Result()
	require.NoError(t, err)
	if len(keys) > 0 {
		require.NoError(t, a.rdb.Del(ctx, keys...).Err())
	}
}
