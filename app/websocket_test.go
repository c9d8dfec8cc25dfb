package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/herotasks/api/apierror"
	"github.com/herotasks/api/cost"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wsError is one GraphQL error of a graphql-transport-ws message, with the
// cost report it carries.
type wsError struct {
	Message    string `json:"message"`
	Extensions struct {
		Code      string       `json:"code"`
		RequestID string       `json:"requestId"`
		Cost      any          `json:"cost"` // COST_LIMIT_EXCEEDED: the operation's cost
		Report    *cost.Report `json:"costReport"`
	} `json:"extensions"`
}

// TestWebsocketCostRejection: an operation over a limit, subscribed over
// the websocket, is refused with an `error` message whose every error
// carries its code and the cost report (graphql-transport-ws errors have no
// response-level extensions), and the connection stays usable.
func TestWebsocketCostRejection(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	_, editor := api.User(t, domain.RoleEditor)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ws, err := apitest.DialWS(ctx, api.URL, editor)
	require.NoError(t, err)
	defer ws.Close()

	deep := `{ tags(first: 1) { tasks(first: 1) { nodes { tags { tasks(first: 1) { nodes { tags { tasks(first: 1) { nodes { tags { id } } } } } } } } } } }`
	for _, c := range []struct {
		name, query string
		codes       []string
	}{
		{"subscription over the cost limit", `subscription { taskChanged { task { tags { tasks(first: 100) { nodes { subtasks(first: 100) { id } } } } } } }`,
			[]string{apierror.CostLimitExceeded}},
		{"query over the cost limit", `{ tags(first: 100) { tasks(first: 99) { nodes { id } } } }`, []string{apierror.CostLimitExceeded}},
		{"query over the depth limit", deep, []string{apierror.DepthLimitExceeded}},
		{"mutation out of range", `mutation { createTask(input: {title: "x"}) { subtasks(first: 1000) { id } } }`,
			[]string{apierror.SlicingArgumentOutOfRange}},
	} {
		ws.Subscribe(t, c.name, c.query, nil)
		m := ws.Next(t, c.name)
		require.Equal(t, "error", m.Type, "%s: %s", c.name, m.Payload)
		var errs []wsError
		require.NoError(t, json.Unmarshal(m.Payload, &errs), "%s: the payload is a list of errors: %s", c.name, m.Payload)
		require.NotEmpty(t, errs, c.name)
		var codes []string
		for _, e := range errs {
			codes = append(codes, e.Extensions.Code)
			assert.NotEmpty(t, e.Extensions.RequestID, "%s: %s carries the request id", c.name, e.Extensions.Code)
			rep := e.Extensions.Report
			require.NotNil(t, rep, "%s: %s carries the cost report: %s", c.name, e.Extensions.Code, m.Payload)
			assert.Equal(t, int64(10_000), rep.MaximumQueryCost, c.name)
			assert.Positive(t, rep.RequestedQueryCost, c.name)
			assert.Nil(t, rep.ActualQueryCost, "%s: nothing ran", c.name)
			assert.NotEmpty(t, rep.HeaviestPaths, "%s: a rejection says where the cost is", c.name)
		}
		assert.Equal(t, c.codes, codes, c.name)
		if c.codes[0] == apierror.CostLimitExceeded {
			rep := errs[0].Extensions.Report
			assert.Greater(t, rep.RequestedQueryCost, int64(10_000), c.name)
			assert.InDelta(t, rep.RequestedQueryCost, errs[0].Extensions.Cost, 0, "%s: extensions.cost stays the number it is over HTTP", c.name)
		}
	}
	d := api.OK(t, editor, `{ tasks(first: 1) { totalCount } }`, nil)
	assert.Equal(t, 0, apitest.Num(d, "tasks", "totalCount"), "the refused mutation created nothing")

	// The connection is still usable.
	ws.Subscribe(t, "after", `{ me { id } }`, nil)
	assert.Equal(t, "next", ws.Next(t, "after").Type)
}

// TestWebsocketReportsCost: a query or mutation over the websocket reports
// extensions.cost in its `next` message as it would over HTTP, and so does
// each event of a subscription.
func TestWebsocketReportsCost(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	_, editor := api.User(t, domain.RoleEditor)
	id, _ := api.NewTask(t, editor, map[string]any{"title": "Costed", "tags": []string{"a", "b"}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ws, err := apitest.DialWS(ctx, api.URL, editor)
	require.NoError(t, err)
	defer ws.Close()

	report := func(name string) cost.Report {
		t.Helper()
		m := ws.Next(t, name)
		require.Equal(t, "next", m.Type, "%s: %s", name, m.Payload)
		var r apitest.CostResponse
		require.NoError(t, json.Unmarshal(m.Payload, &r))
		require.Empty(t, r.Errors, "%s: %s", name, m.Payload)
		require.NotNil(t, r.Extensions.Cost, "%s: the next message reports the cost: %s", name, m.Payload)
		require.NotNil(t, r.Extensions.Cost.ActualQueryCost, name)
		assert.Equal(t, int64(10_000), r.Extensions.Cost.MaximumQueryCost, name)
		return *r.Extensions.Cost
	}
	ws.Subscribe(t, "query", `{ tasks(first: 10) { nodes { id tags { name } } } }`, nil)
	c := report("query")
	assert.Equal(t, int64(61), c.RequestedQueryCost, "1 + 10 × (1 + 5), as over HTTP")
	assert.Equal(t, int64(4), *c.ActualQueryCost, "1 + 1 task × (1 + 2 tags)")
	assert.Equal(t, "complete", ws.Next(t, "query").Type)

	ws.Subscribe(t, "mutation", `mutation { createTask(input: {title: "Over the socket", tags: ["a"]}) { id tags { name } } }`, nil)
	c = report("mutation")
	assert.Equal(t, int64(15), c.RequestedQueryCost, "10 + 5")
	assert.Equal(t, int64(11), *c.ActualQueryCost, "10 + 1 tag")

	ws.Subscribe(t, "events", `subscription($id: ID) { taskChanged(id: $id) { kind task { id } } }`, map[string]any{"id": id})
	time.Sleep(300 * time.Millisecond) // the subscribe message has been read
	api.OK(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {title: "Renamed"}) { id } }`, map[string]any{"id": id})
	c = report("events")
	assert.Equal(t, int64(11), c.RequestedQueryCost, "taskChanged 10 + task 1")
}

// TestWebsocketRateLimited: a refusal for a spent budget reaches a
// websocket client (gqlgen sends it as a `next` with errors alone) with its
// code, retryAfter and the cost report in each error.
func TestWebsocketRateLimited(t *testing.T) {
	t.Parallel()
	api := apitest.New(t, "QUERY_COST_LIMIT", "100", "COST_BUDGET_CAPACITY", "100", "COST_BUDGET_RESTORE_RATE", "1")
	_, editor := api.User(t, domain.RoleEditor)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ws, err := apitest.DialWS(ctx, api.URL, editor)
	require.NoError(t, err)
	defer ws.Close()

	// Nine root mutation fields: 90 points requested and spent.
	var b strings.Builder
	b.WriteString("mutation {")
	for i := range 9 {
		fmt.Fprintf(&b, ` t%d: createTask(input: {title: "spend %d"}) { id }`, i, i)
	}
	b.WriteString(" }")
	ws.Subscribe(t, "spend", b.String(), nil)
	m := ws.Next(t, "spend")
	require.Equal(t, "next", m.Type, "%s", m.Payload)
	require.NotContains(t, string(m.Payload), `"errors"`)

	ws.Subscribe(t, "refused", b.String(), nil)
	m = ws.Next(t, "refused")
	require.Equal(t, "next", m.Type, "%s", m.Payload)
	var r struct{ Errors []wsError }
	require.NoError(t, json.Unmarshal(m.Payload, &r))
	require.Len(t, r.Errors, 1, "%s", m.Payload)
	e := r.Errors[0].Extensions
	assert.Equal(t, apierror.RateLimited, e.Code, "%s", m.Payload)
	require.NotNil(t, e.Report, "the refusal carries the cost report: %s", m.Payload)
	assert.Equal(t, int64(90), e.Report.RequestedQueryCost)
	assert.Nil(t, e.Report.ActualQueryCost, "nothing ran")
	require.NotNil(t, e.Report.ThrottleStatus)
	assert.Less(t, e.Report.ThrottleStatus.CurrentlyAvailable, int64(90))
}

// TestWebsocketOrigins: a browser's websocket handshake from another origin
// follows CORS_ORIGINS as its cross-site POSTs do (browsers apply no CORS to
// websockets, so the server must refuse, or any site could act with a
// token its page holds); same-origin browsers and clients that send no
// Origin (servers, scripts) are always served.
func TestWebsocketOrigins(t *testing.T) {
	t.Parallel()
	const app, evil = "https://app.example.com", "https://evil.example.net"
	closed := apitest.New(t)
	open := apitest.New(t, "CORS_ORIGINS", app+", https://admin.example.com")
	anyOrigin := apitest.New(t, "CORS_ORIGINS", "*")
	self := func(api *apitest.API) string { return api.URL } // http://127.0.0.1:port: the server's own origin

	for _, c := range []struct {
		name    string
		api     *apitest.API
		headers []string
		status  int // 101 when accepted
	}{
		{"no Origin", closed, nil, http.StatusSwitchingProtocols},
		{"own origin", closed, []string{"Origin", self(closed)}, http.StatusSwitchingProtocols},
		{"own origin, same-origin fetch", closed, []string{"Origin", self(closed), "Sec-Fetch-Site", "same-origin"}, http.StatusSwitchingProtocols},
		{"other origin, CORS_ORIGINS unset", closed, []string{"Origin", evil}, http.StatusForbidden},
		{"other origin, cross-site fetch, CORS_ORIGINS unset", closed, []string{"Origin", evil, "Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"listed origin, CORS_ORIGINS unset", closed, []string{"Origin", app, "Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"listed origin", open, []string{"Origin", app, "Sec-Fetch-Site", "cross-site"}, http.StatusSwitchingProtocols},
		{"listed origin without fetch metadata", open, []string{"Origin", app}, http.StatusSwitchingProtocols},
		{"other listed origin", open, []string{"Origin", "https://admin.example.com"}, http.StatusSwitchingProtocols},
		{"origin not listed", open, []string{"Origin", evil, "Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"no Origin, CORS_ORIGINS set", open, nil, http.StatusSwitchingProtocols},
		{"any origin", anyOrigin, []string{"Origin", evil, "Sec-Fetch-Site", "cross-site"}, http.StatusSwitchingProtocols},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			h := http.Header{}
			for i := 0; i+1 < len(c.headers); i += 2 {
				h.Set(c.headers[i], c.headers[i+1])
			}
			conn, res, err := websocket.Dial(ctx, strings.Replace(c.api.URL, "http", "ws", 1)+"/graphql",
				&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: h})
			require.NotNil(t, res, "handshake with %v: %v", c.headers, err)
			assert.Equal(t, c.status, res.StatusCode, "handshake with %v: %v", c.headers, err)
			if c.status != http.StatusSwitchingProtocols {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			defer conn.CloseNow() //nolint:errcheck
			var ack struct{ Type string }
			require.NoError(t, writeRead(ctx, conn, map[string]any{"type": "connection_init"}, &ack))
			assert.Equal(t, "connection_ack", ack.Type)
		})
	}

	// The refusal is an API error like the refusal of a cross-site POST.
	r := closed.Do(t, "GET", "/graphql", "", "Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "13",
		"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol", "graphql-transport-ws", "Origin", evil)
	assert.Equal(t, http.StatusForbidden, r.Status, r.Body)
	assert.Equal(t, "FORBIDDEN", r.Code(), r.Body)
}

func writeRead(ctx context.Context, conn *websocket.Conn, out, in any) error {
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
		return err
	}
	_, b, err = conn.Read(ctx)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, in)
}
