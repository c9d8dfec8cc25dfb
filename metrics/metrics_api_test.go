package metrics_test

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMetrics: /metrics exposes operations by name and outcome, latency,
// loader batch sizes, each pool's statistics, the cache's counters and the Go
// runtime.
func TestMetrics(t *testing.T) {
	t.Parallel()
	api := apitest.New(t, "DB_WRITE_MAX_CONNS", "7", "DB_READ_MAX_CONNS", "9", "DB_ANALYTICS_MAX_CONNS", "3")
	_, editor := api.User(t, domain.RoleEditor)
	api.SeedSmall(t, editor, 3)
	api.OK(t, "", `query Board { tasks(first: 10) { nodes { title tags { name } subtasks { number } } } }`, nil)
	api.Post(t, "", `query Broken { taskByNumber(number: "nope") { id } }`, nil)

	res, err := http.Get(api.URL + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	out := string(body)
	for _, want := range []string{
		`herotasks_graphql_operations_total{operation="Board",outcome="ok",type="query"} 1`,
		`herotasks_graphql_operations_total{operation="Broken",outcome="BAD_USER_INPUT",type="query"} 1`,
		`herotasks_graphql_operation_duration_seconds_count{operation="Board",type="query"} 1`,
		`herotasks_loader_batch_size_count{loader="tags_by_task_id"}`,
		`herotasks_loader_batch_size_count{loader="subtasks_by_task_id"}`,
		`herotasks_pool_max_connections{pool="write"} 7`, `herotasks_pool_max_connections{pool="read"} 9`,
		`herotasks_pool_max_connections{pool="analytics"} 3`,
		`herotasks_pool_acquires_total{pool="write"}`,
		`herotasks_graphql_query_cost_count{kind="requested",type="query"}`, `herotasks_graphql_query_cost_count{kind="actual",type="query"}`,
		`herotasks_cache_events_total{event="miss",kind="task_tags",type="relation"}`,
		`herotasks_cache_breaker_open 0`,
		`go_goroutines`,
	} {
		assert.True(t, strings.Contains(out, want), "/metrics lacks %s", want)
	}
}

// TestTopStatements reads pg_stat_statements for admins only.
func TestTopStatements(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	_, admin := api.User(t, domain.RoleAdmin)
	_, viewer := api.User(t, domain.RoleViewer)
	api.OK(t, "", `{ tasks(first: 5) { nodes { id } } }`, nil)
	assert.Equal(t, "FORBIDDEN", api.Post(t, viewer, `{ topStatements { query } }`, nil).Code())
	for _, order := range []string{"MEAN_TIME", "TOTAL_TIME"} {
		d := api.OK(t, admin, `{ topStatements(orderBy: `+order+`, first: 5) { query calls meanMs totalMs rows hitRatio } }`, nil)
		rows := apitest.List(d, "topStatements")
		require.NotEmpty(t, rows, order)
		assert.LessOrEqual(t, len(rows), 5)
		assert.Positive(t, apitest.Get(rows, 0, "calls"), order)
		assert.NotEmpty(t, apitest.Str(rows, 0, "query"))
	}
	// Page sizes are 0 to 100 everywhere (domain.PageSize): 0 is an empty
	// list, beyond 100 is refused before any resolver runs.
	assert.Empty(t, apitest.List(api.OK(t, admin, `{ topStatements(first: 0) { query } }`, nil), "topStatements"))
	assert.Equal(t, "SLICING_ARGUMENT_OUT_OF_RANGE", api.Post(t, admin, `{ topStatements(first: 101) { query } }`, nil).Code())
}

// TestOperationsWithoutSQL: herotasks_graphql_operations_without_sql_total
// counts an operation exactly when PostgreSQL received no statement while
// it ran, checked one request at a time against a tracer that counts every
// statement of the server's pools: response-cache hits and operations that
// need no data count, misses, partly cached reads and mutations do not.
func TestOperationsWithoutSQL(t *testing.T) {
	t.Parallel()
	if os.Getenv("REDIS_URL") == "" {
		t.Skip("REDIS_URL is not set: the response cache needs Redis (make test starts one)")
	}
	// No background work that would send statements between requests.
	api := apitest.New(t, "RESPONSE_CACHE", "on", "ENTITY_CACHE", "on", "PERSISTED_QUERIES", "off", "COST_BUDGET_CAPACITY", "0")
	_, editor := api.User(t, domain.RoleEditor)
	ids := api.SeedSmall(t, editor, 3)
	require.NotEmpty(t, ids)

	scrape := func() map[string]float64 {
		res, err := http.Get(api.URL + "/metrics")
		require.NoError(t, err)
		defer res.Body.Close()
		out := map[string]float64{}
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			series, value, ok := strings.Cut(sc.Text(), " ")
			if ok && strings.HasPrefix(series, "herotasks_graphql_operations_without_sql_total") {
				v, err := strconv.ParseFloat(value, 64)
				require.NoError(t, err)
				out[series] = v
			}
		}
		require.NoError(t, sc.Err())
		return out
	}
	const query, mutation = `herotasks_graphql_operations_without_sql_total{type="query"}`, `herotasks_graphql_operations_without_sql_total{type="mutation"}`
	board := `query Board { tasks(first: 10) { nodes { id version title tags { name } } } }`
	detail := `query Detail($id: ID!) { task(id: $id) { id version title } }`
	steps := []struct {
		name, token, doc string
		vars             map[string]any
		noSQL            any // true, false, or nil: either
	}{
		{"board, first time: a miss", editor, board, nil, false},
		{"board again: a response-cache hit", editor, board, nil, true},
		// The list index answers the public partition the first board filled.
		{"board as anonymous: another scope, a miss", "", board, nil, true},
		{"no data needed", editor, `query Name { __typename }`, nil, true},
		// The entity cache may hold the task since the seed's mutations.
		{"detail: a response-cache miss", editor, detail, map[string]any{"id": ids[0]}, nil},
		{"detail again: a hit", editor, detail, map[string]any{"id": ids[0]}, true},
		{"a mutation", editor, `mutation Rename($id: ID!) { updateTask(id: $id, input: {title: "renamed"}) { id version } }`, map[string]any{"id": ids[0]}, false},
		// A response-cache miss, but the write wrote its row through to the
		// entity cache and moved it in the list index.
		{"detail after the write: a miss", editor, detail, map[string]any{"id": ids[0]}, true},
		{"board after the write: a miss", editor, board, nil, true},
		{"board again: a hit", editor, board, nil, true},
	}
	before := scrape()
	var want float64
	for _, s := range steps {
		sql := api.SQL.Load()
		api.OK(t, s.token, s.doc, s.vars)
		sent := api.SQL.Load() - sql
		after := scrape()
		if s.noSQL != nil {
			assert.Equal(t, s.noSQL, sent == 0, "%s: %d statements", s.name, sent)
		}
		if sent == 0 {
			want++
		}
		assert.Equal(t, want, after[query]-before[query], "%s: %d statements", s.name, sent)
	}
	assert.Zero(t, scrape()[mutation], "the mutation sent statements")
}

// TestStatementsOfAWrite: herotasks_sql_statements_per_operation counts
// every statement of an operation, those sent in one pipeline too: an edit
// sends five (BEGIN with the lock, the update, its history with COMMIT) in
// three round trips.
func TestStatementsOfAWrite(t *testing.T) {
	t.Parallel()
	api := apitest.New(t, "RESPONSE_CACHE", "off", "ENTITY_CACHE", "off", "PERSISTED_QUERIES", "off", "COST_BUDGET_CAPACITY", "0")
	_, editor := api.User(t, domain.RoleEditor)
	id := apitest.Str(api.OK(t, editor, `mutation { createTask(input: {title: "Counted"}) { id } }`, nil), "createTask", "id")
	sum := func() float64 {
		res, err := http.Get(api.URL + "/metrics")
		require.NoError(t, err)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "herotasks_sql_statements_per_operation_sum "); ok {
				n, err := strconv.ParseFloat(v, 64)
				require.NoError(t, err)
				return n
			}
		}
		require.NoError(t, sc.Err())
		return 0
	}
	before := sum()
	api.OK(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {priority: HIGH}) { version } }`, map[string]any{"id": id})
	assert.Equal(t, 5.0, sum()-before, "BEGIN, lock, update, history, COMMIT")
}
