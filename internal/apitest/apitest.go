// Package apitest starts the whole server on a database of the test's own,
// through app.New as serve does, and speaks GraphQL to it over real HTTP.
// The end-to-end tests of every package share it.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herotasks/api/app"
	"github.com/herotasks/api/cache"
	"github.com/herotasks/api/config"
	"github.com/herotasks/api/cost"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/testdb"
	"github.com/herotasks/api/internal/testpg"
	"github.com/herotasks/api/migrations"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// Every server a test starts holds its callers to the entity cache's rule:
// no one modifies a value the cache handed out (cache.CheckSharedValues).
func init() { cache.CheckSharedValues() }

// Secret is the JWT secret the servers are configured with.
const Secret = "test-secret-that-is-long-enough-0123456789"

// Counter counts the SQL statements sent to PostgreSQL.
type Counter struct{ n atomic.Int64 }

func (c *Counter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *Counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TraceBatchStart counts each statement of a pipeline.
func (c *Counter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	c.n.Add(int64(d.Batch.Len()))
	return ctx
}
func (c *Counter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (c *Counter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// Load returns how many statements have started.
func (c *Counter) Load() int64 { return c.n.Load() }

// API is a server on its own database, spoken to over real HTTP.
type API struct {
	*app.App
	DBURL string
	URL   string
	SQL   *Counter // nil unless Serve was given a *Counter
	kill  func()
}

// Kill stops the server as a crash would, as far as its clients can tell:
// every open request and websocket ends at once and it takes no more.
func (a *API) Kill() { a.kill() }

// New starts a server on a fresh migrated database; env are variable
// names and values (name, value, ...) over the defaults of Serve.
func New(t testing.TB, env ...string) *API {
	t.Helper()
	return Serve(t, testdb.New(t), &Counter{}, env...)
}

// Serve starts a server on an existing database with tracer on its pools.
// With REDIS_URL set (make test sets it) the entity cache is on, under a
// key prefix of the database's own, unless env says ENTITY_CACHE=off; the
// response cache is off unless env turns it on.
func Serve(t testing.TB, dbURL string, tracer pgx.QueryTracer, env ...string) *API {
	t.Helper()
	a := ServePools(t, dbURL, func(string) pgx.QueryTracer { return tracer }, env...)
	a.SQL, _ = tracer.(*Counter)
	return a
}

// ServePools is Serve with a tracer per pool (write, read, analytics,
// replica); nil for a pool traces nothing.
func ServePools(t testing.TB, dbURL string, tracer func(pool string) pgx.QueryTracer, env ...string) *API {
	t.Helper()
	vars := map[string]string{"DATABASE_URL": dbURL, "JWT_SECRET": Secret, "REDIS_URL": os.Getenv("REDIS_URL"),
		"CACHE_PREFIX": prefix(dbURL),
		// Generous: under -race on two busy cores a 50 ms Redis timeout fires
		// and the request falls back to PostgreSQL, which is right in
		// production but would blur what these tests count.
		"CACHE_TIMEOUT": "2s",
		// Statement counts are what most tests check: the response cache
		// is on only where a test asks for it.
		"RESPONSE_CACHE": "off",
		// Background maintenance would add statements to the counts.
		"MAINTENANCE_INTERVAL": "0",
		// Tests that read one shape many times under writes must see the
		// cache they ask for; admission has its own test.
		"RESPONSE_CACHE_MIN_HIT_PERCENT": "0"}
	for i := 0; i+1 < len(env); i += 2 {
		vars[env[i]] = env[i+1]
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// env "JWT_SECRET", "" takes the development path: a made-up secret and
	// an admin token, which the Playground pre-fills.
	a, err := app.New(ctx, cfg, app.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Tracer: tracer})
	require.NoError(t, err)
	t.Cleanup(a.Close)
	// Every request's context, websockets' included, derives from base:
	// Kill ends them all at once.
	base, kill := context.WithCancel(context.Background())
	srv := httptest.NewUnstartedServer(a.Handler)
	srv.Config.BaseContext = func(net.Listener) context.Context { return base }
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(kill)
	return &API{App: a, DBURL: dbURL, URL: srv.URL, kill: func() { kill(); srv.Close() }}
}

// prefix is the Redis key prefix of the servers on a database: its name
// and its server's port, since every private server of MigratedServer
// names its database "herotasks", and tests running at once on two of
// them must not share keys (tokens, epochs, anonymous responses).
func prefix(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "ht:test:" + dbURL[strings.LastIndex(dbURL, "/")+1:]
	}
	return "ht:test:" + strings.TrimPrefix(u.Path, "/") + ":" + u.Port()
}

// User creates a user with role and returns its id and a bearer token.
func (a *API) User(t testing.TB, role domain.Role) (string, string) {
	t.Helper()
	email := fmt.Sprintf("%s-%d@example.com", strings.ToLower(string(role)), time.Now().UnixNano())
	u, err := a.Repo.EnsureUser(context.Background(), email, "Test "+string(role), role)
	require.NoError(t, err)
	tok, err := a.Auth.Sign(u.ID, role, time.Hour)
	require.NoError(t, err)
	return u.ID, tok
}

// Error is one GraphQL error.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Response is a decoded GraphQL response with its HTTP status.
type Response struct {
	Status int
	Data   map[string]any `json:"data"`
	Errors []Error        `json:"errors"`
}

// Code returns the first error's extensions.code, "" when none.
func (r Response) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// Post sends a GraphQL request; token may be empty for anonymous.
func (a *API) Post(t testing.TB, token, query string, vars map[string]any) Response {
	t.Helper()
	return a.PostBody(t, token, map[string]any{"query": query, "variables": vars})
}

// PostBody sends a raw GraphQL request body (query, variables, extensions).
func (a *API) PostBody(t testing.TB, token string, body map[string]any) Response {
	t.Helper()
	res, raw := a.send(t, token, body)
	var out Response
	require.NoError(t, json.Unmarshal(raw, &out), "response is JSON: %s", raw)
	out.Status = res.StatusCode
	return out
}

// Request posts a GraphQL request with extra headers (name, value, ...)
// and returns the response with its body read.
func (a *API) Request(t testing.TB, token, query string, vars map[string]any, headers ...string) (*http.Response, []byte) {
	t.Helper()
	return a.send(t, token, map[string]any{"query": query, "variables": vars}, headers...)
}

func (a *API) send(t testing.TB, token string, body map[string]any, headers ...string) (*http.Response, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	hs := append([]string{"Content-Type", "application/json"}, headers...)
	if token != "" {
		hs = append(hs, "Authorization", "Bearer "+token)
	}
	return a.roundTrip(t, http.MethodPost, "/graphql", bytes.NewReader(b), hs...)
}

func (a *API) roundTrip(t testing.TB, method, path string, body io.Reader, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, a.URL+path, body)
	require.NoError(t, err)
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

// OK sends a request that must succeed and returns its data.
func (a *API) OK(t testing.TB, token, query string, vars map[string]any) map[string]any {
	t.Helper()
	r := a.Post(t, token, query, vars)
	require.Empty(t, r.Errors, "query %s with %v", query, vars)
	return r.Data
}

// CostResponse is a whole GraphQL response with its cost report.
type CostResponse struct {
	Status     int
	Header     http.Header
	Data       json.RawMessage `json:"data"`
	Errors     []Error         `json:"errors"`
	Extensions struct {
		Cost *cost.Report `json:"cost"`
	} `json:"extensions"`
}

// Codes lists the errors' extensions.code values.
func (r CostResponse) Codes() []string {
	var out []string
	for _, e := range r.Errors {
		c, _ := e.Extensions["code"].(string)
		out = append(out, c)
	}
	return out
}

// Send posts a GraphQL request with extra headers (name, value, ...) and
// decodes its cost report.
func (a *API) Send(t testing.TB, token, query string, vars map[string]any, headers ...string) CostResponse {
	t.Helper()
	res, raw := a.Request(t, token, query, vars, headers...)
	var out CostResponse
	require.NoError(t, json.Unmarshal(raw, &out), "response is JSON: %s", raw)
	out.Status, out.Header = res.StatusCode, res.Header
	return out
}

// RawResponse is an HTTP response with its body.
type RawResponse struct {
	Status int
	Header http.Header
	Body   string
}

// Code is the first error's extensions.code.
func (r RawResponse) Code() string {
	var out Response
	_ = json.Unmarshal([]byte(r.Body), &out)
	return out.Code()
}

// Do sends one request with headers (name, value, ...).
func (a *API) Do(t testing.TB, method, path, body string, headers ...string) RawResponse {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	res, raw := a.roundTrip(t, method, path, rd, headers...)
	return RawResponse{Status: res.StatusCode, Header: res.Header, Body: string(raw)}
}

// Get walks a decoded JSON value by keys and indexes.
func Get(v any, path ...any) any {
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

// Str, Num and List are Get of a string, a number and a list.
func Str(v any, path ...any) string { s, _ := Get(v, path...).(string); return s }
func Num(v any, path ...any) int    { f, _ := Get(v, path...).(float64); return int(f) }
func List(v any, path ...any) []any { s, _ := Get(v, path...).([]any); return s }

// CreateTask is the createTask mutation with the fields tests check.
const CreateTask = `mutation($in: CreateTaskInput!) { createTask(input: $in) { id number title status phase version visibility tags { name } } }`

// NewTask creates a task through the API and returns its id and number.
func (a *API) NewTask(t testing.TB, token string, in map[string]any) (string, string) {
	t.Helper()
	d := a.OK(t, token, CreateTask, map[string]any{"in": in})
	return Str(d, "createTask", "id"), Str(d, "createTask", "number")
}

// JSON marshals v.
func JSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// CachePrefix is the key prefix this server's caches use.
func (a *API) CachePrefix() string { return prefix(a.DBURL) }

// CacheFlush deletes this server's keys, for a cold start.
func (a *API) CacheFlush(t testing.TB) {
	t.Helper()
	if a.Redis == nil {
		return
	}
	ctx := context.Background()
	keys, err := a.Redis.Keys(ctx, a.CachePrefix()+":*").Result()
	require.NoError(t, err)
	if len(keys) > 0 {
		require.NoError(t, a.Redis.Del(ctx, keys...).Err())
	}
}

// Production is the environment of a production server.
var Production = []string{"APP_ENV", "production", "JWT_ISSUER", "https://auth.herotasks.test", "JWT_AUDIENCE", "herotasks-api"}

// RequireRedis skips the test without REDIS_URL (fails it under CI).
func RequireRedis(t testing.TB) {
	t.Helper()
	if os.Getenv("REDIS_URL") == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("REDIS_URL is not set; run the tests with `make test`")
		}
		t.Skip("REDIS_URL is not set; run the tests with `make test`")
	}
}

// NestedQuery reads a page of tasks with every level below them.
const NestedQuery = `{ tasks(first: 50) { nodes { id title version assignee { name } tags { name }
	subtasks { number title position tags { name } } dependencies { number } dependents { number }
	history(first: 5) { kind toStatus } } } }`

// MigratedServer starts a private PostgreSQL server (one a test may stop)
// with a migrated database "herotasks", and returns it and that database's
// URL.
func MigratedServer(t testing.TB) (*testpg.Server, string) {
	t.Helper()
	ctx := context.Background()
	pg := testpg.Start(t)
	dbURL := pg.CreateDatabase(t, "herotasks")
	mp, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	defer mp.Close()
	_, err = migrations.Up(ctx, mp)
	require.NoError(t, err)
	return pg, dbURL
}

// SeedSmall writes a few tasks with subtasks, tags, dependencies and
// history through the API and returns their ids.
func (api *API) SeedSmall(t testing.TB, token string, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		id, _ := api.NewTask(t, token, map[string]any{"title": fmt.Sprintf("Cached task %d", i), "tags": []string{"cache", fmt.Sprintf("t%d", i%3)}})
		for j := range 3 {
			api.OK(t, token, `mutation($id: ID!, $in: CreateSubtaskInput!) { createSubtask(taskId: $id, input: $in) { id } }`,
				map[string]any{"id": id, "in": map[string]any{"title": fmt.Sprintf("Step %d", j), "tags": []string{"s"}}})
		}
		if len(ids) > 0 {
			api.OK(t, token, `mutation($a: ID!, $b: ID!) { addDependency(taskId: $a, dependsOnId: $b) { id } }`, map[string]any{"a": id, "b": ids[0]})
		}
		ids = append(ids, id)
	}
	return ids
}

// WithoutCost returns a response body without its extensions.cost (and
// without extensions once empty), for comparing the rest exactly.
func WithoutCost(t testing.TB, body []byte) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m), "response is JSON: %s", body)
	if ext, ok := m["extensions"].(map[string]any); ok {
		require.Contains(t, ext, "cost", "every response reports its cost: %s", body)
		delete(ext, "cost")
		if len(ext) == 0 {
			delete(m, "extensions")
		}
	}
	return JSON(t, m)
}

// Root is the module's root directory, where the repository's scripts,
// examples and schema files are (tests run in their package's directory).
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.mod above the test's directory")
		dir = parent
	}
}

// RedisHook is a go-redis hook for tests that watch what a server sends to
// Redis: Each sees every command, sent alone or in a pipeline; Pipe (when
// set) every pipeline whole.
type RedisHook struct {
	Each func(cmd redis.Cmder)
	Pipe func(cmds []redis.Cmder)
}

func (h RedisHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h RedisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.Each != nil {
			h.Each(cmd)
		}
		return next(ctx, cmd)
	}
}

func (h RedisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.Pipe != nil {
			h.Pipe(cmds)
		}
		if h.Each != nil {
			for _, cmd := range cmds {
				h.Each(cmd)
			}
		}
		return next(ctx, cmds)
	}
}
