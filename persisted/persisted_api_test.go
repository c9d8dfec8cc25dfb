package persisted_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/herotasks/api/apierror"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/graph"
	"github.com/herotasks/api/internal/apitest"
	"github.com/herotasks/api/persisted"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// persistedBody is a request carrying the persistedQuery extension, with or
// without the document itself.
func persistedBody(hash, query string) map[string]any {
	body := map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}}
	if query != "" {
		body["query"] = query
	}
	return body
}

const statsQuery = `query Stats { taskStatistics { total } }`

// TestAutomaticPersistedQueries: an unknown hash is PERSISTED_QUERY_NOT_FOUND,
// the document sent with its hash runs and is kept in Redis with the
// configured TTL, after which the hash alone runs it.
func TestAutomaticPersistedQueries(t *testing.T) {
	t.Parallel()
	if os.Getenv("REDIS_URL") == "" {
		t.Skip("REDIS_URL is not set; run the tests with `make test`")
	}
	api := apitest.New(t, "CACHE_PERSISTED_QUERY_TTL", "90s")
	hash := persisted.Hash(statsQuery)

	r := api.PostBody(t, "", persistedBody(hash, ""))
	assert.Equal(t, apierror.PersistedQueryNotFound, r.Code(), "an unknown hash")
	assert.Equal(t, http.StatusOK, r.Status, "Apollo clients retry with the document on a 200")

	r = api.PostBody(t, "", persistedBody(hash, statsQuery))
	require.Empty(t, r.Errors, "the document with its hash runs")
	assert.Equal(t, 0, apitest.Num(r.Data, "taskStatistics", "total"))

	key := api.CachePrefix() + ":apq:" + hash
	ttl, err := api.Redis.TTL(context.Background(), key).Result()
	require.NoError(t, err)
	assert.True(t, ttl > 80*time.Second && ttl <= 90*time.Second, "TTL of %s = %v, want about 90s", key, ttl)

	r = api.PostBody(t, "", persistedBody(hash, ""))
	require.Empty(t, r.Errors, "the hash alone runs the stored document")
	assert.Equal(t, 0, apitest.Num(r.Data, "taskStatistics", "total"))

	r = api.PostBody(t, "", persistedBody(persisted.Hash("something else"), statsQuery))
	assert.Equal(t, "BAD_USER_INPUT", r.Code(), "a hash that is not the document's")

	r = api.PostBody(t, "", map[string]any{"query": statsQuery, "extensions": map[string]any{"persistedQuery": map[string]any{"version": 2, "sha256Hash": hash}}})
	assert.Equal(t, "BAD_USER_INPUT", r.Code(), "an unsupported version")

	r = api.PostBody(t, "", map[string]any{"query": statsQuery})
	assert.Empty(t, r.Errors, "a plain request still runs")
}

// TestAutomaticPersistedQueriesRedisDown: with Redis unreachable the
// protocol still works: the hash misses, the document runs.
func TestAutomaticPersistedQueriesRedisDown(t *testing.T) {
	t.Parallel()
	api := apitest.New(t, "REDIS_URL", "redis://127.0.0.1:1/0", "ENTITY_CACHE", "off", "COST_BUDGET_CAPACITY", "0",
		"CACHE_TIMEOUT", "50ms")
	hash := persisted.Hash(statsQuery)
	for range 3 {
		r := api.PostBody(t, "", persistedBody(hash, ""))
		assert.Equal(t, apierror.PersistedQueryNotFound, r.Code(), "the hash misses while Redis is down")
		r = api.PostBody(t, "", persistedBody(hash, statsQuery))
		assert.Empty(t, r.Errors, "the document runs while Redis is down")
	}
}

// TestTrustedDocuments: under PERSISTED_QUERIES=only, a document that is not
// registered is refused with PERSISTED_QUERY_NOT_FOUND before any SQL, by
// hash or whole; an admin registers one, which then runs for everyone, by
// hash or whole; admins may run anything.
func TestTrustedDocuments(t *testing.T) {
	t.Parallel()
	api := apitest.New(t, "PERSISTED_QUERIES", "only")
	_, admin := api.User(t, domain.RoleAdmin)
	_, editor := api.User(t, domain.RoleEditor)
	taskQuery := `query TaskTitle($id: ID!) { task(id: $id) { title } }`
	id, _ := api.NewTask(t, admin, map[string]any{"title": "Trusted"})

	refused := []struct {
		name string
		body map[string]any
	}{
		{"whole document", map[string]any{"query": taskQuery, "variables": map[string]any{"id": id}}},
		{"hash only", persistedBody(persisted.Hash(taskQuery), "")},
		{"document with its hash", persistedBody(persisted.Hash(taskQuery), taskQuery)},
		{"mutation", map[string]any{"query": `mutation { deleteTask(id: "` + id + `") }`}},
	}
	for _, tc := range refused {
		for _, token := range []string{"", editor} {
			before := api.SQL.Load()
			r := api.PostBody(t, token, tc.body)
			assert.Equal(t, apierror.PersistedQueryNotFound, r.Code(), "%s is refused (token %t)", tc.name, token != "")
			assert.Nil(t, r.Data, "%s: nothing ran", tc.name)
			assert.Equal(t, before, api.SQL.Load(), "%s: no SQL", tc.name)
		}
	}

	// Another instance, already running, learns of registrations by refresh.
	running := apitest.Serve(t, api.DBURL, &apitest.Counter{}, "PERSISTED_QUERIES", "only", "PERSISTED_QUERIES_REFRESH", "100ms")
	r0 := running.PostBody(t, "", map[string]any{"query": taskQuery, "variables": map[string]any{"id": id}})
	require.Equal(t, apierror.PersistedQueryNotFound, r0.Code(), "not registered yet")

	// Over the websocket too.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, err := apitest.DialWS(ctx, api.URL, editor)
	require.NoError(t, err)
	defer ws.Close()
	ws.Subscribe(t, "sub", `subscription { taskChanged { kind } }`, nil)
	m := ws.Next(t, "sub")
	assert.Contains(t, []string{"next", "error"}, m.Type)
	assert.Contains(t, string(m.Payload), apierror.PersistedQueryNotFound, "an unregistered subscription is refused")

	reg := `mutation($doc: String!) { registerPersistedQuery(document: $doc) { id name document createdAt } }`
	r := api.Post(t, editor, reg, map[string]any{"doc": taskQuery})
	assert.Equal(t, apierror.PersistedQueryNotFound, r.Code(), "the registration mutation is not trusted for editors")

	r = api.Post(t, admin, reg, map[string]any{"doc": `query Broken { nope }`})
	assert.Equal(t, "BAD_USER_INPUT", r.Code(), "a document invalid for the schema is not registered")
	d := api.OK(t, admin, reg, map[string]any{"doc": taskQuery})
	assert.Equal(t, persisted.Hash(taskQuery), apitest.Str(d, "registerPersistedQuery", "id"))
	assert.Equal(t, "TaskTitle", apitest.Str(d, "registerPersistedQuery", "name"))
	d = api.OK(t, admin, reg, map[string]any{"doc": taskQuery})
	assert.Equal(t, persisted.Hash(taskQuery), apitest.Str(d, "registerPersistedQuery", "id"), "registering twice is harmless")

	for _, token := range []string{"", editor} {
		r = api.PostBody(t, token, map[string]any{"extensions": persistedBody(persisted.Hash(taskQuery), "")["extensions"],
			"variables": map[string]any{"id": id}})
		require.Empty(t, r.Errors, "the registered document runs by hash")
		assert.Equal(t, "Trusted", apitest.Str(r.Data, "task", "title"))
		r = api.PostBody(t, token, map[string]any{"query": taskQuery, "variables": map[string]any{"id": id}})
		require.Empty(t, r.Errors, "the registered document runs whole")
		assert.Equal(t, "Trusted", apitest.Str(r.Data, "task", "title"))
	}
	r = api.PostBody(t, editor, map[string]any{"query": taskQuery + " ", "variables": map[string]any{"id": id}})
	assert.Equal(t, apierror.PersistedQueryNotFound, r.Code(), "any other text is another document")
	r = api.PostBody(t, editor, persistedBody(persisted.Hash(statsQuery), taskQuery))
	assert.Equal(t, "BAD_USER_INPUT", r.Code(), "a hash that is not the document's")

	require.Eventually(t, func() bool {
		r := running.PostBody(t, "", map[string]any{"query": taskQuery, "variables": map[string]any{"id": id}})
		return len(r.Errors) == 0 && apitest.Str(r.Data, "task", "title") == "Trusted"
	}, 10*time.Second, 50*time.Millisecond, "the running instance trusts the document after its refresh")

	// A new instance on the same database reads it at start.
	other := apitest.Serve(t, api.DBURL, &apitest.Counter{}, "PERSISTED_QUERIES", "only")
	r = other.PostBody(t, "", map[string]any{"query": taskQuery, "variables": map[string]any{"id": id}})
	require.Empty(t, r.Errors, "another instance read the registration at start")
}

// TestTrustedManifest: the embedded manifest is what go generate builds
// from examples/, every operation in it is valid for the schema, and under
// PERSISTED_QUERIES=only each one is found by its hash.
func TestTrustedManifest(t *testing.T) {
	t.Parallel()
	built, err := persisted.Build(os.DirFS(filepath.Join(apitest.Root(t), "examples")))
	require.NoError(t, err)
	embedded, err := persisted.Builtin()
	require.NoError(t, err)
	assert.Equal(t, string(built.JSON()), string(embedded.JSON()), "persisted/manifest.json is stale: run go generate ./persisted")

	schema, gerr := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphqls", Input: graph.SDL()})
	require.Nil(t, gerr)
	for _, op := range embedded.Operations {
		_, errs := gqlparser.LoadQuery(schema, op.Body)
		assert.Empty(t, errs, "examples operation %s is valid for the schema", op.Name)
	}

	api := apitest.New(t, "PERSISTED_QUERIES", "only")
	for _, op := range embedded.Operations {
		r := api.PostBody(t, "", persistedBody(op.ID, ""))
		assert.NotEqual(t, apierror.PersistedQueryNotFound, r.Code(), "manifest operation %s is trusted", op.Name)
	}

	// Build itself: one named operation per file, the id the body's hash.
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.graphql"), []byte("\n"+statsQuery+"\n"), 0o644))
	m, err := persisted.Build(os.DirFS(dir))
	require.NoError(t, err)
	require.Len(t, m.Operations, 1)
	assert.Equal(t, persisted.Operation{ID: persisted.Hash(statsQuery), Name: "Stats", Type: "query", Body: statsQuery}, m.Operations[0])
	reg := persisted.NewRegistry(m, nil)
	doc, ok := reg.Lookup(persisted.Hash(statsQuery))
	assert.True(t, ok)
	assert.Equal(t, statsQuery, doc)
	_, err = persisted.ParseManifest(m.JSON())
	require.NoError(t, err)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.graphql"), []byte("{ me { id } }"), 0o644))
	_, err = persisted.Build(os.DirFS(dir))
	assert.Error(t, err, "an anonymous operation has no name to list")
}
