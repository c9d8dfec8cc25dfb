package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGraphQLOverHTTPAudit runs the graphql-http package's serverAudits
// (the GraphQL-over-HTTP conformance suite) against a live server: every
// audit, MUST, SHOULD and MAY alike, must pass, with no warning. The script
// installs the pinned npm packages into a cache folder on first use. Not
// parallel: node takes a core, which would starve the timing-sensitive tests
// running beside it.
func TestGraphQLOverHTTPAudit(t *testing.T) {
	api := apitest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(apitest.Root(t), "scripts", "graphql-http-audit.sh"), "run", api.URL+"/graphql").CombinedOutput()
	t.Logf("%s", out)
	require.NoError(t, err, "the audit reports no failure and no warning")
	assert.Contains(t, string(out), " 0 warnings, 0 failures")
	assert.NotContains(t, string(out), "WARN ")
	assert.GreaterOrEqual(t, strings.Count(string(out), "\nOK "), 50, "every audit ran")
}

// TestHTTPRefusals: what is not a well-formed GraphQL-over-HTTP request is
// refused with its status and BAD_USER_INPUT before any SQL runs, without
// repeating the input, and none of it changes state.
func TestHTTPRefusals(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	_, editor := api.User(t, domain.RoleEditor)
	const marker = "zq-marker-4242"
	mutation := `mutation { createTask(input: {title: "` + marker + `"}) { id } }`
	mutationJSON := apitest.JSON(t, map[string]any{"query": mutation})
	auth := "Bearer " + editor

	cases := []struct {
		name, method, body string
		headers            []string
		status             int
		allow              string
	}{
		{"text/plain body", "POST", mutationJSON, []string{"Content-Type", "text/plain"}, 415, ""},
		{"form body", "POST", "query=" + mutation, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, ""},
		{"multipart body", "POST", "--b\r\nContent-Disposition: form-data; name=\"query\"\r\n\r\n" + mutation + "\r\n--b--\r\n",
			[]string{"Content-Type", "multipart/form-data; boundary=b"}, 415, ""},
		{"application/graphql body", "POST", mutation, []string{"Content-Type", "application/graphql"}, 415, ""},
		{"no content type", "POST", mutationJSON, nil, 415, ""},
		{"latin-1 json", "POST", mutationJSON, []string{"Content-Type", "application/json; charset=iso-8859-1"}, 415, ""},
		{"PUT", "PUT", mutationJSON, []string{"Content-Type", "application/json"}, 405, "GET, POST"},
		{"DELETE", "DELETE", "", nil, 405, "GET, POST"},
		{"PATCH", "PATCH", mutationJSON, []string{"Content-Type", "application/json"}, 405, "GET, POST"},
		{"mutation over GET", "GET", "", []string{"X-Path", "?query=" + strings.ReplaceAll(mutation, " ", "%20")}, 405, "POST"},
		{"unacceptable Accept", "POST", mutationJSON, []string{"Content-Type", "application/json", "Accept", "text/html"}, 406, ""},
		{"Accept q=0 for both", "POST", mutationJSON, []string{"Content-Type", "application/json", "Accept", "application/json;q=0, */*;q=0"}, 406, ""},
		{"malformed JSON", "POST", `{"query": "` + marker + `", `, []string{"Content-Type", "application/json"}, 400, ""},
		{"not an object", "POST", `"` + marker + `"`, []string{"Content-Type", "application/json"}, 400, ""},
		{"batched array", "POST", "[" + mutationJSON + "," + mutationJSON + "]", []string{"Content-Type", "application/json"}, 400, ""},
		{"two objects", "POST", mutationJSON + mutationJSON, []string{"Content-Type", "application/json"}, 400, ""},
		{"empty body", "POST", "", []string{"Content-Type", "application/json"}, 400, ""},
		{"query a number", "POST", `{"query": 42}`, []string{"Content-Type", "application/json"}, 400, ""},
		{"variables a string", "POST", `{"query": "{ me { id } }", "variables": "` + marker + `"}`, []string{"Content-Type", "application/json"}, 400, ""},
		{"extensions an array", "POST", `{"query": "{ me { id } }", "extensions": ["` + marker + `"]}`, []string{"Content-Type", "application/json"}, 400, ""},
		{"missing query", "POST", `{"qeury": "` + marker + `"}`, []string{"Content-Type", "application/json"}, 400, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := "/graphql"
			headers := append([]string{"Authorization", auth}, c.headers...)
			for i := 0; i+1 < len(c.headers); i += 2 {
				if c.headers[i] == "X-Path" {
					path += c.headers[i+1]
				}
			}
			before := api.SQL.Load()
			r := api.Do(t, c.method, path, c.body, headers...)
			assert.Equal(t, c.status, r.Status, "%s %s: %s", c.method, c.name, r.Body)
			assert.Equal(t, "BAD_USER_INPUT", r.Code(), r.Body)
			assert.Equal(t, c.allow, r.Header.Get("Allow"))
			assert.NotContains(t, r.Body, marker, "the input is never echoed")
			assert.NotContains(t, r.Body, `"data"`, "a refused request has no data entry")
			assert.Contains(t, r.Header.Get("Content-Type"), "json")
			assert.Equal(t, before, api.SQL.Load(), "no SQL for a refused request")
		})
	}
	d := api.OK(t, editor, `{ searchTasks(query: "`+marker+`", first: 5) { totalCount } }`, nil)
	assert.Equal(t, 0, apitest.Num(d, "searchTasks", "totalCount"), "no refused request created a task")
	d = api.OK(t, editor, `{ tasks(first: 5) { totalCount } }`, nil)
	assert.Equal(t, 0, apitest.Num(d, "tasks", "totalCount"))
}

// TestHTTPNegotiation: the response type follows Accept as the
// GraphQL-over-HTTP spec says, and request errors answer 400 under
// application/graphql-response+json but 200 under application/json.
func TestHTTPNegotiation(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	ok := apitest.JSON(t, map[string]any{"query": "{ __typename }"})
	invalid := apitest.JSON(t, map[string]any{"query": "{ nope }"})
	cases := []struct {
		accept, body, contentType string
		status                    int
	}{
		{"", ok, "application/json", 200},
		{"*/*", ok, "application/json", 200},
		{"application/*", ok, "application/json", 200},
		{"application/json", ok, "application/json", 200},
		{"application/graphql-response+json", ok, "application/graphql-response+json", 200},
		{"application/graphql-response+json, application/json;q=0.9", ok, "application/graphql-response+json", 200},
		{"application/json, application/graphql-response+json;q=0.5", ok, "application/json", 200},
		{"text/html, */*;q=0.1", ok, "application/json", 200},
		{"application/json", invalid, "application/json", 200},
		{"application/graphql-response+json", invalid, "application/graphql-response+json", 400},
	}
	for _, c := range cases {
		r := api.Do(t, "POST", "/graphql", c.body, "Content-Type", "application/json", "Accept", c.accept)
		assert.Equal(t, c.status, r.Status, "Accept %q: %s", c.accept, r.Body)
		assert.Equal(t, c.contentType+"; charset=utf-8", r.Header.Get("Content-Type"), "Accept %q", c.accept)
		assert.Contains(t, r.Header.Values("Vary"), "Accept")
	}
	r := api.Do(t, "GET", "/graphql?query=%7B__typename%7D", "", "Accept", "application/graphql-response+json")
	assert.Equal(t, 200, r.Status)
	assert.JSONEq(t, `{"data":{"__typename":"Query"}}`, apitest.WithoutCost(t, []byte(r.Body)))

	// A large answer goes whole with its length, not in chunks.
	big := apitest.JSON(t, map[string]any{"query": "{ __schema { types { name description fields { name description } } } }"})
	r = api.Do(t, "POST", "/graphql", big, "Content-Type", "application/json")
	require.Equal(t, 200, r.Status, r.Body)
	require.Greater(t, len(r.Body), 16<<10)
	assert.Equal(t, strconv.Itoa(len(r.Body)), r.Header.Get("Content-Length"))
}

// TestCrossSiteRequests: a browser's cross-site POST is refused unless its
// origin is in CORS_ORIGINS, which also answers the preflight; without
// CORS_ORIGINS no CORS header is ever sent.
func TestCrossSiteRequests(t *testing.T) {
	t.Parallel()
	const app, evil = "https://app.example.com", "https://evil.example.net"
	body := apitest.JSON(t, map[string]any{"query": `mutation { createTask(input: {title: "csrf"}) { id } }`})

	closed := apitest.New(t)
	_, editor := closed.User(t, domain.RoleEditor)
	r := closed.Do(t, "POST", "/graphql", body, "Content-Type", "application/json", "Authorization", "Bearer "+editor,
		"Origin", evil, "Sec-Fetch-Site", "cross-site")
	assert.Equal(t, http.StatusForbidden, r.Status, r.Body)
	assert.Equal(t, "FORBIDDEN", r.Code())
	r = closed.Do(t, "POST", "/graphql", body, "Content-Type", "application/json", "Authorization", "Bearer "+editor, "Origin", evil)
	assert.Equal(t, http.StatusForbidden, r.Status, "an Origin that is not the host's, without Sec-Fetch-Site: %s", r.Body)
	r = closed.Do(t, "OPTIONS", "/graphql", "", "Origin", app, "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "content-type")
	assert.Empty(t, r.Header.Get("Access-Control-Allow-Origin"), "no CORS without CORS_ORIGINS")
	d := closed.OK(t, editor, `{ tasks(first: 5) { totalCount } }`, nil)
	assert.Equal(t, 0, apitest.Num(d, "tasks", "totalCount"), "the refused mutations created nothing")
	r = closed.Do(t, "POST", "/graphql", body, "Content-Type", "application/json", "Authorization", "Bearer "+editor,
		"Sec-Fetch-Site", "same-origin")
	assert.Equal(t, http.StatusOK, r.Status, "same-origin browsers are served: %s", r.Body)

	open := apitest.New(t, "CORS_ORIGINS", app+", https://admin.example.com")
	_, editor = open.User(t, domain.RoleEditor)
	r = open.Do(t, "OPTIONS", "/graphql", "", "Origin", app, "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "authorization,content-type") // as browsers send it
	assert.Equal(t, http.StatusNoContent, r.Status)
	assert.Equal(t, app, r.Header.Get("Access-Control-Allow-Origin"))
	assert.Empty(t, r.Header.Get("Access-Control-Allow-Credentials"), "tokens are headers, never cookies")
	r = open.Do(t, "OPTIONS", "/graphql", "", "Origin", evil, "Access-Control-Request-Method", "POST")
	assert.Empty(t, r.Header.Get("Access-Control-Allow-Origin"), "an origin not listed gets no CORS grant")
	r = open.Do(t, "POST", "/graphql", body, "Content-Type", "application/json", "Authorization", "Bearer "+editor,
		"Origin", app, "Sec-Fetch-Site", "cross-site")
	assert.Equal(t, http.StatusOK, r.Status, r.Body)
	assert.Equal(t, app, r.Header.Get("Access-Control-Allow-Origin"))
	r = open.Do(t, "POST", "/graphql", body, "Content-Type", "application/json", "Authorization", "Bearer "+editor,
		"Origin", evil, "Sec-Fetch-Site", "cross-site")
	assert.Equal(t, http.StatusForbidden, r.Status, r.Body)
}

// TestSuggestionsHiddenInProduction: validation errors name near matches in
// development only, for every kind of name a caller could probe.
func TestSuggestionsHiddenInProduction(t *testing.T) {
	t.Parallel()
	dev := apitest.New(t)
	prod := apitest.New(t, apitest.Production...)
	probes := map[string]string{
		"field":       `{ tasks(first: 1) { nodes { titel } } }`,
		"argument":    `{ tasks(first: 1, fillter: {}) { totalCount } }`,
		"enum value":  `{ tasks(first: 1, filter: {status: [READDY]}) { totalCount } }`,
		"type":        `{ tasks(first: 1) { nodes { ...F } } } fragment F on Tsak { id }`,
		"input field": `{ tasks(first: 1, filter: {statuss: [READY]}) { totalCount } }`,
		"scalar leaf": `{ tasks(first: 1) { nodes { assignee } } }`,
	}
	for kind, q := range probes {
		d := dev.Post(t, "", q, nil)
		require.NotEmpty(t, d.Errors, kind)
		assert.Contains(t, apitest.JSON(t, d.Errors), "Did you mean", "development suggests a %s", kind)
		before := prod.SQL.Load()
		p := prod.Post(t, "", q, nil)
		require.NotEmpty(t, p.Errors, kind)
		assert.Equal(t, "GRAPHQL_VALIDATION_FAILED", p.Code(), kind)
		assert.NotContains(t, strings.ToLower(apitest.JSON(t, p.Errors)), "did you mean", "production suggests no %s", kind)
		assert.Equal(t, before, prod.SQL.Load(), "no SQL for %s", kind)
	}
}

// TestIntrospectionAndPlaygroundInProduction: off in production unless
// INTROSPECTION / PLAYGROUND turn them on; __typename always works.
func TestIntrospectionAndPlaygroundInProduction(t *testing.T) {
	t.Parallel()
	prod := apitest.New(t, apitest.Production...)
	for _, q := range []string{`{ __schema { types { name } } }`, `{ __type(name: "Task") { fields { name } } }`,
		`{ tasks(first: 1) { nodes { id } } ...F } fragment F on Query { __schema { queryType { name } } }`} {
		r := prod.Post(t, "", q, nil)
		assert.Equal(t, "GRAPHQL_VALIDATION_FAILED", r.Code(), q)
		assert.Nil(t, r.Data, q)
		assert.Contains(t, apitest.JSON(t, r.Errors), "introspection is disabled")
	}
	assert.Equal(t, "Query", apitest.Str(prod.OK(t, "", `{ __typename }`, nil), "__typename"))
	assert.Equal(t, http.StatusNotFound, prod.Do(t, "GET", "/", "").Status, "no Playground in production")

	on := apitest.New(t, append(apitest.Production, "INTROSPECTION", "on", "PLAYGROUND", "on")...)
	assert.NotEmpty(t, apitest.List(on.OK(t, "", `{ __schema { types { name } } }`, nil), "__schema", "types"))
	assert.Equal(t, http.StatusOK, on.Do(t, "GET", "/", "").Status)
}

// TestDocumentBombs: directive, alias, depth, field-duplication and
// fragment-cycle bombs and a flood of errors are refused (or, for merged
// duplicates, answered cheaply) before any SQL, and no response lists more
// than QUERY_ERROR_LIMIT errors.
func TestDocumentBombs(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	directives := "{ __typename" + strings.Repeat(" @include(if: true)", 60) + " }"
	aliases := "{"
	for i := range 40 {
		aliases += " a" + strconv.Itoa(i) + ": tasks(first: 1) { totalCount }"
	}
	aliases += " }"
	deep := `{ task(id: "6f0c3a52-2d3e-4c1b-9a57-0e5b8f1d2c3a") {` + strings.Repeat(" subtasks(first: 1) { task {", 6) + " id" + strings.Repeat(" } }", 6) + " } }"
	unknown := "{"
	for i := range 200 {
		unknown += " f" + strconv.Itoa(i)
	}
	unknown += " }"
	cases := []struct {
		name, query, code, message string
	}{
		{"directives", directives, "GRAPHQL_VALIDATION_FAILED", "more than 50 directives"},
		{"aliases", aliases, "ALIAS_LIMIT_EXCEEDED", ""},
		{"depth", deep, "DEPTH_LIMIT_EXCEEDED", ""},
		{"fragment cycle", `{ tasks(first: 1) { nodes { ...A } } } fragment A on Task { dependencies { ...B } } fragment B on Task { dependents { ...A } }`,
			"GRAPHQL_VALIDATION_FAILED", "Cannot spread fragment"},
		{"error flood", unknown, "GRAPHQL_VALIDATION_FAILED", "more errors were left out"},
		{"tokens", "{" + strings.Repeat(" __typename", 16_000) + " }", "GRAPHQL_PARSE_FAILED", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := api.SQL.Load()
			r := api.Post(t, "", c.query, nil)
			require.NotEmpty(t, r.Errors)
			assert.Equal(t, c.code, r.Code(), "%s: %s", c.name, apitest.JSON(t, r.Errors[0]))
			assert.Nil(t, r.Data)
			assert.LessOrEqual(t, len(r.Errors), 20, "errors are capped")
			if c.message != "" {
				assert.Contains(t, apitest.JSON(t, r.Errors), c.message)
			}
			assert.Equal(t, before, api.SQL.Load(), "no SQL for a refused document")
		})
	}
	t.Run("field duplication", func(t *testing.T) {
		// 14,000 copies of __typename fit the token limit and took gqlparser's
		// overlap check 23 s of CPU before the field limit.
		for _, q := range []string{"{" + strings.Repeat(" __typename", 14_000) + " }",
			"{ ...F ...F ...F ...F ...F ...F } fragment F on Query {" + strings.Repeat(" __typename", 100) + " }"} {
			before := api.SQL.Load()
			start := time.Now()
			r := api.Post(t, "", q, nil)
			require.NotEmpty(t, r.Errors)
			assert.Equal(t, "GRAPHQL_VALIDATION_FAILED", r.Code())
			assert.Contains(t, r.Errors[0].Message, "more than 500 fields")
			assert.Equal(t, before, api.SQL.Load())
			t.Logf("refused in %v", time.Since(start))
		}
		r := api.Post(t, "", "{"+strings.Repeat(" tasks(first: 1) { totalCount }", 200)+" }", nil)
		require.Empty(t, r.Errors, "200 copies of one field merge: %v", r.Errors)
		assert.Equal(t, 0, apitest.Num(r.Data, "tasks", "totalCount"))
	})
	t.Run("the Playground's introspection query fits", func(t *testing.T) {
		q, err := os.ReadFile("testdata/introspection.graphql") // graphql-js getIntrospectionQuery, every option on
		require.NoError(t, err)
		r := api.Post(t, "", string(q), nil)
		assert.Empty(t, r.Errors)
		assert.NotEmpty(t, apitest.Get(r.Data, "__schema", "types"))
	})
}

// TestInputValidation: ids, enums, numbers and lengths are checked before
// any SQL, with BAD_USER_INPUT or a validation error that never repeats the
// value; search text is data, never SQL or a LIKE pattern.
func TestInputValidation(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	_, editor := api.User(t, domain.RoleEditor)
	_, admin := api.User(t, domain.RoleAdmin)
	valid, _ := api.NewTask(t, editor, map[string]any{"title": "Ship 100% of the docs"})
	api.NewTask(t, editor, map[string]any{"title": "Ship the docs"})

	badIDs := []string{"urn:uuid:6f0c3a52-2d3e-4c1b-9a57-0e5b8f1d2c3a", "{6f0c3a52-2d3e-4c1b-9a57-0e5b8f1d2c3a}",
		"6f0c3a522d3e4c1b9a570e5b8f1d2c3a", "1' OR '1'='1", "../../etc/passwd", "", "6f0c3a52-2d3e-4c1b-9a57-0e5b8f1d2c3a\x00",
		"<img src=x onerror=alert(1)>"}
	byID := []string{
		`query($id: ID!) { task(id: $id) { id } }`,
		`query($id: ID!) { subtask(id: $id) { id } }`,
		`mutation($id: ID!) { updateTask(id: $id, input: {title: "x"}) { id } }`,
		`mutation($id: ID!) { transitionTask(id: $id, status: READY) { id } }`,
		`mutation($id: ID!) { deleteTask(id: $id) }`,
		`mutation($id: ID!) { createSubtask(taskId: $id, input: {title: "x"}) { id } }`,
		`mutation($id: ID!) { updateSubtask(id: $id, input: {title: "x"}) { id } }`,
		`mutation($id: ID!) { deleteSubtask(id: $id) }`,
		`mutation($id: ID!) { addTaskTags(taskId: $id, tags: ["a"]) { id } }`,
		`mutation($id: ID!) { removeTaskTags(taskId: $id, tags: ["a"]) { id } }`,
		`mutation($id: ID!) { addSubtaskTags(subtaskId: $id, tags: ["a"]) { id } }`,
		`mutation($id: ID!) { addDependency(taskId: $id, dependsOnId: "` + valid + `") { id } }`,
		`mutation($id: ID!) { addDependency(taskId: "` + valid + `", dependsOnId: $id) { id } }`,
		`mutation($id: ID!) { removeDependency(taskId: $id, dependsOnId: "` + valid + `") { id } }`,
		`mutation($id: ID!) { revokeApiToken(id: $id) }`,
		`mutation($id: ID!) { createTask(input: {title: "x", assigneeId: $id}) { id } }`,
	}
	for _, q := range byID {
		for _, id := range badIDs {
			before := api.SQL.Load()
			res, raw := api.Request(t, admin, q, map[string]any{"id": id})
			r := api.Post(t, admin, q, map[string]any{"id": id})
			assert.Equal(t, http.StatusOK, res.StatusCode)
			assert.Equal(t, "BAD_USER_INPUT", r.Code(), "%s with %q: %s", q, id, raw)
			assert.Equal(t, before, api.SQL.Load(), "no SQL for id %q in %s", id, q)
			if len(id) > 3 {
				assert.NotContains(t, string(raw), apitest.JSON(t, id)[1:len(apitest.JSON(t, id))-1], "the id is not echoed")
			}
		}
	}

	values := []struct {
		name, query string
		vars        map[string]any
	}{
		{"enum in lower case", `query($s: [TaskStatus!]) { tasks(first: 1, filter: {status: $s}) { totalCount } }`, map[string]any{"s": []string{"ready"}}},
		{"enum markup", `query($s: [TaskStatus!]) { tasks(first: 1, filter: {status: $s}) { totalCount } }`, map[string]any{"s": []string{"<script>zqx</script>"}}},
		{"enum number", `query($p: TaskPriority!) { tasks(first: 1, filter: {priority: [$p]}) { totalCount } }`, map[string]any{"p": 31337}},
		{"int overflow", `query($n: Int!) { tasks(first: $n) { totalCount } }`, map[string]any{"n": 1e20}},
		{"first too large", `query($n: Int!) { tasks(first: $n) { totalCount } }`, map[string]any{"n": 1001}},
		{"title too long", `mutation($t: String!) { createTask(input: {title: $t}) { id } }`, map[string]any{"t": strings.Repeat("zqx", 200)}},
		{"blank title", `mutation($t: String!) { createTask(input: {title: $t}) { id } }`, map[string]any{"t": "   "}},
		{"negative hours", `mutation { createTask(input: {title: "x", estimatedHours: -4}) { id } }`, nil},
		{"bad time", `mutation($d: Time) { createTask(input: {title: "x", dueDate: $d}) { id } }`, map[string]any{"d": "tomorrow zqx"}},
		{"bad tag", `mutation($id: ID!) { addTaskTags(taskId: $id, tags: ["Not A Tag; DROP TABLE tags"]) { id } }`, map[string]any{"id": valid}},
		{"number", `query($n: String!) { taskByNumber(number: $n) { id } }`, map[string]any{"n": "' OR 1=1 -- zqx"}},
	}
	for _, v := range values {
		before := api.SQL.Load()
		_, raw := api.Request(t, editor, v.query, v.vars)
		r := api.Post(t, editor, v.query, v.vars)
		require.NotEmpty(t, r.Errors, v.name)
		assert.Contains(t, []string{"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED", "SLICING_ARGUMENT_OUT_OF_RANGE"}, r.Code(), "%s: %s", v.name, raw)
		assert.Equal(t, before, api.SQL.Load(), "no SQL for %s", v.name)
		for _, echo := range []string{"zqx", "31337", "1e+20", "100000000000000000000", "9223372036854775807", "DROP TABLE"} {
			assert.NotContains(t, string(raw), echo, "%s: the value is not echoed", v.name)
		}
	}

	search := func(q string) int {
		return apitest.Num(api.OK(t, editor, `query($q: String!) { searchTasks(query: $q, first: 10) { totalCount } }`, map[string]any{"q": q}), "searchTasks", "totalCount")
	}
	assert.Equal(t, 0, search("%"), "% is text, not a wildcard")
	assert.Equal(t, 0, search("_"), "_ is text, not a wildcard")
	assert.Equal(t, 0, search(`\`))
	assert.Equal(t, 0, search("'; DROP TABLE tasks; --"))
	assert.Equal(t, 2, search("docs"))
	assert.Equal(t, 2, apitest.Num(api.OK(t, editor, `{ tasks(first: 10) { totalCount } }`, nil), "tasks", "totalCount"), "the table is intact")
}

// TestCrossUserCacheLeak: the owner warms the cache with a private task and
// everything hanging off it; a stranger then asks for it on every path and
// gets exactly what a random id gets (the body compared byte for byte, less
// the request id and cost report): the cache holds no per-user results and
// authorization runs after every load.
func TestCrossUserCacheLeak(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	_, owner := api.User(t, domain.RoleEditor)
	_, stranger := api.User(t, domain.RoleEditor)
	secret, number := api.NewTask(t, owner, map[string]any{"title": "Quarterly payroll export", "visibility": "PRIVATE", "tags": []string{"payroll"}})
	api.OK(t, owner, `mutation($id: ID!) { createSubtask(taskId: $id, input: {title: "Check totals"}) { id } }`, map[string]any{"id": secret})
	api.OK(t, owner, `mutation($id: ID!) { transitionTask(id: $id, status: READY) { id } }`, map[string]any{"id": secret})
	random := "6f0c3a52-2d3e-4c1b-9a57-0e5b8f1d2c3a"
	reads := []string{
		`query($id: ID!) { task(id: $id) { id title history(first: 5) { kind } subtasks { title } tags { name } } }`,
		`query($id: ID!) { node(id: $id) { id ... on Task { title } } }`,
		`query($id: ID!) { nodes(ids: [$id]) { id } }`,
	}
	for _, q := range reads {
		warm := api.OK(t, owner, q, map[string]any{"id": secret}) // fills the cache as the owner
		require.Contains(t, apitest.JSON(t, warm), secret, q)
		_, hidden := api.Request(t, stranger, q, map[string]any{"id": secret})
		_, missing := api.Request(t, stranger, q, map[string]any{"id": random})
		assert.Equal(t, comparable(t, missing), comparable(t, hidden), "a warm private task looks like a random id: %s", q)
		assert.NotContains(t, string(hidden), "payroll", q)
	}
	for _, q := range []string{`{ tasks(first: 10) { totalCount nodes { id } } }`, `{ tags(first: 10) { name tasks(first: 10) { totalCount nodes { id } } } }`,
		`{ searchTasks(query: "payroll", first: 10) { totalCount nodes { id } } }`, `{ taskStatistics { total } }`} {
		api.OK(t, owner, q, nil)
		d := api.OK(t, stranger, q, nil)
		assert.NotContains(t, apitest.JSON(t, d), secret, q)
	}
	d := api.OK(t, stranger, `query($n: String!) { taskByNumber(number: $n) { id } }`, map[string]any{"n": number})
	assert.Nil(t, apitest.Get(d, "taskByNumber"))
	assert.Zero(t, apitest.Num(api.OK(t, stranger, `{ taskStatistics { total } }`, nil), "taskStatistics", "total"))
}

// comparable is a response body without its request ids and cost report.
func comparable(t *testing.T, raw []byte) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m), "%s", raw)
	delete(m, "extensions")
	if errs, ok := m["errors"].([]any); ok {
		for _, e := range errs {
			if ext, ok := e.(map[string]any)["extensions"].(map[string]any); ok {
				delete(ext, "requestId")
			}
		}
	}
	return apitest.JSON(t, m)
}
