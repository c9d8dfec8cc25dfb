package cost_test

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/herotasks/api/apierror"
	"github.com/herotasks/api/cost"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/herotasks/api/internal/testredis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const overLimit = `{ tags(first: 100) { tasks(first: 99) { nodes { id } } } }` // 100 × (1 + 1 + 99) = 10,100

// TestCostRejectsBeforeAnySQL: an operation over several limits is refused
// with every violation in one response, the status gqlgen gives a
// validation error, its cost report with the heaviest paths, and not one
// SQL statement.
func TestCostRejectsBeforeAnySQL(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	_, editor := api.User(t, domain.RoleEditor)
	api.NewTask(t, editor, map[string]any{"title": "Must not be read", "tags": []string{"x"}})

	// tags(first: 100) { tasks(first: 101) ... } eleven levels deep, and 31 aliases
	deep := `tags(first: 100) { tasks(first: 101) { nodes { tags { tasks(first: 1) { nodes { tags { tasks(first: 1) { nodes { tags { id } } } } } } } } } }`
	query := "{ " + deep + strings.TrimPrefix(strings.TrimSuffix(aliasesQuery(31), "}"), "{") + "}"
	before := api.SQL.Load()
	for _, accept := range []struct {
		header string
		status int
	}{
		{"application/graphql-response+json", http.StatusBadRequest},
		{"application/json", http.StatusOK}, // GraphQL-over-HTTP: a well-formed request under application/json is a 200
	} {
		r := api.Send(t, "", query, nil, "Accept", accept.header)
		assert.Equal(t, accept.status, r.Status, "status with Accept %s", accept.header)
		assert.Equal(t, []string{apierror.CostLimitExceeded, apierror.DepthLimitExceeded, apierror.AliasLimitExceeded, apierror.SlicingArgumentOutOfRange}, r.Codes())
		for _, e := range r.Errors {
			assert.NotEmpty(t, e.Extensions["requestId"], "%s carries the request id", e.Extensions["code"])
		}
		assert.Empty(t, r.Data, "a request error has no data entry at all")
		require.NotNil(t, r.Extensions.Cost)
		c := r.Extensions.Cost
		assert.Greater(t, c.RequestedQueryCost, int64(10_000))
		assert.Nil(t, c.ActualQueryCost, "nothing ran")
		assert.Equal(t, int64(10_000), c.MaximumQueryCost)
		require.NotEmpty(t, c.HeaviestPaths)
		assert.Equal(t, "tags", c.HeaviestPaths[0].Path)
		assert.Equal(t, c.RequestedQueryCost-31, c.HeaviestPaths[0].Cost, "all but the 31 aliased me")
		require.NotNil(t, c.ThrottleStatus)
		assert.Equal(t, int64(50_000), c.ThrottleStatus.MaximumAvailable, "a rejection takes nothing from the budget")
	}
	// the same through a validation error, for comparison: the same path
	r := api.Send(t, "", `{ nope }`, nil, "Accept", "application/graphql-response+json")
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Nil(t, r.Extensions.Cost, "an invalid operation has no cost")

	r = api.Send(t, "", overLimit, nil)
	assert.Equal(t, []string{apierror.CostLimitExceeded}, r.Codes())
	assert.Equal(t, int64(10_100), r.Extensions.Cost.RequestedQueryCost)
	r = api.Send(t, "", `query($n: Int!) { tasks(first: $n) { nodes { id } } }`, map[string]any{"n": 101})
	assert.Equal(t, []string{apierror.SlicingArgumentOutOfRange}, r.Codes(), "through a variable")
	r = api.Send(t, editor, `mutation { createTask(input: {title: "Never created"}) { subtasks(first: 101) { id } } }`, nil)
	assert.Equal(t, []string{apierror.SlicingArgumentOutOfRange}, r.Codes(), "a mutation is checked before it runs")
	assert.Equal(t, before, api.SQL.Load(), "no rejected operation sent SQL")
}

// aliasesQuery asks for me under n aliases: n × 6 + 2 tokens.
func aliasesQuery(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("a%d: me { id }", i)
	}
	return "{ " + strings.Join(parts, " ") + " }"
}

// TestCostReportedOnEveryResponse: requested cost from the schema, actual
// cost from what came back, and the budget after the refund of the
// difference.
func TestCostReportedOnEveryResponse(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	_, editor := api.User(t, domain.RoleEditor)
	for i := range 3 {
		api.NewTask(t, editor, map[string]any{"title": fmt.Sprintf("Cost %d", i), "tags": []string{"a", "b"}})
	}
	q := `{ tasks(first: 10) { nodes { id tags { name } } } }`
	r := api.Send(t, "", q, nil)
	require.Empty(t, r.Errors)
	c := r.Extensions.Cost
	require.NotNil(t, c)
	assert.Equal(t, int64(61), c.RequestedQueryCost, "1 + 10 × (1 + 5)")
	require.NotNil(t, c.ActualQueryCost)
	assert.Equal(t, int64(10), *c.ActualQueryCost, "1 + 3 tasks × (1 + 2 tags)")
	assert.Equal(t, int64(10_000), c.MaximumQueryCost)
	assert.Empty(t, c.HeaviestPaths, "only a rejection lists paths")
	require.NotNil(t, c.ThrottleStatus)
	assert.Equal(t, cost.Throttle{MaximumAvailable: 50_000, RestoreRate: 1000, CurrentlyAvailable: c.ThrottleStatus.CurrentlyAvailable}, *c.ThrottleStatus)
	assert.GreaterOrEqual(t, c.ThrottleStatus.CurrentlyAvailable, int64(50_000-10), "61 taken, 51 refunded")

	r = api.Send(t, editor, `mutation { createTask(input: {title: "Costed", tags: ["a"]}) { id tags { name } } }`, nil)
	require.Empty(t, r.Errors)
	assert.Equal(t, int64(15), r.Extensions.Cost.RequestedQueryCost, "10 + 5")
	assert.Equal(t, int64(11), *r.Extensions.Cost.ActualQueryCost, "10 + 1 tag")

	// an error inside execution still reports the cost of what ran
	r = api.Send(t, "", `{ task(id: "42") { id } me { id } }`, nil)
	assert.Equal(t, "BAD_USER_INPUT", r.Codes()[0])
	assert.Equal(t, int64(2), r.Extensions.Cost.RequestedQueryCost)
	assert.Equal(t, int64(2), *r.Extensions.Cost.ActualQueryCost, "a null object costs its weight: task 1, me 1")
}

// TestCostDryRun: X-Cost-Dry-Run: 1 answers with the cost and runs nothing,
// not even a mutation.
func TestCostDryRun(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	_, editor := api.User(t, domain.RoleEditor)
	before := api.SQL.Load()
	r := api.Send(t, "", apitest.NestedQuery, nil, cost.DryRunHeader, "1")
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Empty(t, r.Errors)
	assert.Equal(t, "null", string(r.Data))
	require.NotNil(t, r.Extensions.Cost)
	// node: 1 + assignee 1 + tags 5 + subtasks 7 × (1 + 4) + dependencies 5 + dependents 5 + history 5 = 57;
	// tasks 1 + 50 × 57
	assert.Equal(t, int64(2851), r.Extensions.Cost.RequestedQueryCost)
	assert.Nil(t, r.Extensions.Cost.ActualQueryCost)
	assert.Equal(t, int64(50_000), r.Extensions.Cost.ThrottleStatus.CurrentlyAvailable, "a dry run spends nothing")

	r = api.Send(t, editor, `mutation { createTask(input: {title: "Dry"}) { id } }`, nil, cost.DryRunHeader, "1")
	assert.Empty(t, r.Errors)
	assert.Equal(t, int64(10), r.Extensions.Cost.RequestedQueryCost)
	assert.Equal(t, before, api.SQL.Load(), "a dry run sends no SQL")
	n := apitest.Num(api.OK(t, editor, `{ tasks(first: 1) { totalCount } }`, nil), "tasks", "totalCount")
	assert.Zero(t, n, "the dry-run mutation created nothing")

	r = api.Send(t, "", overLimit, nil, cost.DryRunHeader, "1")
	assert.Equal(t, []string{apierror.CostLimitExceeded}, r.Codes(), "a dry run of a rejected operation says why")
}

// TestCostBudgetAcrossInstances: two server instances on one Redis and one
// prefix draw on the same bucket; a spent bucket is HTTP 429 with
// Retry-After and RATE_LIMITED, on either instance, and runs nothing; a
// forwarded-for header does not buy an anonymous caller a new bucket; a
// signed-in user has a bucket of their own.
func TestCostBudgetAcrossInstances(t *testing.T) {
	t.Parallel()
	srv := testredis.Start(t)
	env := []string{"REDIS_URL", srv.URL(), "COST_BUDGET_CAPACITY", "100", "QUERY_COST_LIMIT", "100", "COST_BUDGET_RESTORE_RATE", "1"}
	one := apitest.New(t, env...)
	two := apitest.Serve(t, one.DBURL, &apitest.Counter{}, env...)
	_, viewer := one.User(t, domain.RoleViewer)
	// 20 + byType 15: the same requested and actual, nothing refunded
	const stats = `{ taskStatistics { byType { count } } }`

	r := one.Send(t, "", stats, nil)
	require.Empty(t, r.Errors)
	assert.InDelta(t, 65, r.Extensions.Cost.ThrottleStatus.CurrentlyAvailable, 1)
	r = two.Send(t, "", stats, nil)
	require.Empty(t, r.Errors)
	assert.InDelta(t, 30, r.Extensions.Cost.ThrottleStatus.CurrentlyAvailable, 2, "the second instance saw the first spend")

	for _, s := range []*apitest.API{one, two} {
		before := s.SQL.Load()
		r = s.Send(t, "", stats, nil, "X-Forwarded-For", "203.0.113.9")
		assert.Equal(t, http.StatusTooManyRequests, r.Status)
		assert.Equal(t, []string{apierror.RateLimited}, r.Codes())
		retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
		require.NoError(t, err, "Retry-After %q", r.Header.Get("Retry-After"))
		assert.True(t, retry >= 1 && retry <= 5, "Retry-After %d: about 5 points short at 1 a second", retry)
		assert.Equal(t, float64(retry), r.Errors[0].Extensions["retryAfter"])
		assert.NotEmpty(t, r.Errors[0].Extensions["requestId"])
		assert.Equal(t, before, s.SQL.Load(), "a refused request sends no SQL")
		assert.Nil(t, r.Extensions.Cost.ActualQueryCost)
		assert.Empty(t, r.Extensions.Cost.HeaviestPaths)
	}
	r = two.Send(t, viewer, stats, nil)
	assert.Empty(t, r.Errors, "the signed-in user has a bucket of their own")
	assert.Equal(t, http.StatusOK, r.Status)
}

// TestCostBudgetWithRedisDown: without Redis each instance keeps a bucket
// of its own, and the static limits hold as ever.
func TestCostBudgetWithRedisDown(t *testing.T) {
	t.Parallel()
	srv := testredis.Start(t)
	env := []string{"REDIS_URL", srv.URL(), "COST_BUDGET_CAPACITY", "100", "QUERY_COST_LIMIT", "100", "COST_BUDGET_RESTORE_RATE", "1", "CACHE_TIMEOUT", "100ms"}
	one := apitest.New(t, env...)
	two := apitest.Serve(t, one.DBURL, &apitest.Counter{}, env...)
	srv.Stop(t)
	const stats = `{ taskStatistics { byType { count } } }`
	for range 2 {
		require.Empty(t, one.Send(t, "", stats, nil).Errors)
	}
	r := one.Send(t, "", stats, nil)
	assert.Equal(t, http.StatusTooManyRequests, r.Status, "the local bucket is spent")
	assert.Equal(t, []string{apierror.RateLimited}, r.Codes())
	r = two.Send(t, "", stats, nil)
	assert.Empty(t, r.Errors, "the other instance has its own local bucket")
	r = two.Send(t, "", `{ tags(first: 100) { tasks(first: 1) { totalCount } } }`, nil) // 100 × (1 + 1 + 5)
	assert.Equal(t, []string{apierror.CostLimitExceeded}, r.Codes(), "static limits need no Redis")
}

// TestCostTokenLimit: a document longer than QUERY_TOKEN_LIMIT tokens is not
// even parsed.
func TestCostTokenLimit(t *testing.T) {
	t.Parallel()
	api := apitest.New(t, "QUERY_TOKEN_LIMIT", "100")
	r := api.Send(t, "", aliasesQuery(10), nil) // 10 × 6 + 2 = 62 tokens
	assert.Empty(t, r.Errors)
	r = api.Send(t, "", aliasesQuery(20), nil, "Accept", "application/graphql-response+json") // 122 tokens
	assert.Equal(t, []string{"GRAPHQL_PARSE_FAILED"}, r.Codes())
	assert.Contains(t, r.Errors[0].Message, "token limit")
	assert.Equal(t, http.StatusBadRequest, r.Status)
}

// TestCostDirectivesPublished: the SDL clients download carries the
// weights and sizes; introspection lists the directives.
func TestCostDirectivesPublished(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	res, err := http.Get(api.URL + "/schema.graphql")
	require.NoError(t, err)
	sdl, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		"directive @cost(",
		"directive @listSize(",
		`searchTasks(`,
		`): TaskConnection! @cost(weight: 10) @listSize(slicingArguments: ["first"], sizedFields: ["edges", "nodes"])`,
		`totalCount: Int! @cost(weight: 5)`,
		`taskStatistics: TaskStatistics! @cost(weight: 20)`,
		`subtasks(first: Int): [Subtask!]! @listSize(assumedSize: 7, slicingArguments: ["first"], requireOneSlicingArgument: false)`,
	} {
		assert.Contains(t, string(sdl), want)
	}
	d := api.OK(t, "", `{ __schema { directives { name args { name } } } }`, nil)
	args := map[string][]string{}
	for _, dir := range apitest.List(d, "__schema", "directives") {
		for _, a := range apitest.List(dir, "args") {
			args[apitest.Str(dir, "name")] = append(args[apitest.Str(dir, "name")], apitest.Str(a, "name"))
		}
	}
	assert.Equal(t, []string{"weight"}, args["cost"])
	assert.Equal(t, []string{"assumedSize", "slicingArguments", "sizedFields", "requireOneSlicingArgument"}, args["listSize"])
}
