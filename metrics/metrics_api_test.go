package metrics_test

import (
	"io"
	"net/http"
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
