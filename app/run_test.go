package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/herotasks/api/app"
	"github.com/herotasks/api/auth"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/graph"
	"github.com/herotasks/api/internal/apitest"
	"github.com/herotasks/api/internal/testdb"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunServesAndShutsDown starts the whole program as main would, on a
// free port, speaks HTTP to it, then cancels its context and expects a clean
// return.
func TestRunServesAndShutsDown(t *testing.T) {
	t.Parallel()
	dbURL := testdb.New(t)
	env := map[string]string{"DATABASE_URL": dbURL, "JWT_SECRET": apitest.Secret, "LOG_FORMAT": "json"}
	getenv := func(k string) string { return env[k] }

	var out bytes.Buffer
	require.NoError(t, app.Run(context.Background(), []string{"herotasks", "seed", "--tasks", "25", "--seed", "3"}, getenv, &out, io.Discard))
	assert.Contains(t, out.String(), "25 tasks")
	assert.Regexp(t, `database size: [0-9]+ [kMG]B`, out.String())
	out.Reset()
	require.NoError(t, app.Run(context.Background(), []string{"herotasks", "maintain", "--months-ahead", "5"}, getenv, &out, io.Discard))
	assert.Contains(t, out.String(), "default partition:   0 rows")
	out.Reset()
	require.NoError(t, app.Run(context.Background(), []string{"herotasks", "verify"}, getenv, &out, io.Discard), "verify on a healthy deployment")
	assert.Contains(t, out.String(), "query plans")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, w := io.Pipe()
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, []string{"herotasks", "serve", "--addr", "127.0.0.1:0"}, getenv, w, logs) }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	base := "http://" + strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	go io.Copy(io.Discard, stdout) //nolint:errcheck

	res, err := http.Get(base + "/healthz")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	res, err = http.Get(base + "/readyz")
	require.NoError(t, err)
	var ready map[string]string
	require.NoError(t, json.NewDecoder(res.Body).Decode(&ready))
	res.Body.Close()
	assert.Equal(t, "ok", ready["postgres"])
	assert.Equal(t, "not configured", ready["redis"])

	res, err = http.Get(base + "/graphql?query=" + "%7Btasks(first:3)%7BtotalCount%7D%7D")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var public int
	conn, err := pgx.Connect(context.Background(), dbURL)
	require.NoError(t, err)
	require.NoError(t, conn.QueryRow(context.Background(), "SELECT count(*) FROM tasks WHERE visibility = 'PUBLIC'").Scan(&public))
	conn.Close(context.Background())
	assert.JSONEq(t, fmt.Sprintf(`{"data":{"tasks":{"totalCount":%d}}}`, public), apitest.WithoutCost(t, body), "GET serves queries; anonymous sees public tasks")
	assert.NotEmpty(t, res.Header.Get("X-Request-Id"))

	res, err = http.Get(base + "/metrics")
	require.NoError(t, err)
	prom, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Contains(t, string(prom), "herotasks_sql_statements_per_operation_sum 2\n", "the GET query's page and count, counted by the pool's tracer")

	res, err = http.Get(base + "/schema.graphql")
	require.NoError(t, err)
	sdl, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, graph.SDL(), string(sdl))
	res, err = http.Get(base + "/")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode, "Playground in development")

	require.Eventually(t, func() bool { return strings.Contains(logs.String(), `"msg":"maintenance"`) }, 10*time.Second, 10*time.Millisecond,
		"serve runs maintenance at start")
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err, "graceful shutdown returns nil")
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	assert.Contains(t, logs.String(), `"msg":"shutting down"`)
	assert.Contains(t, logs.String(), `"request_id"`, "access log carries request ids")
}

// TestCommandsHelp: every subcommand answers --help on stdout without error.
func TestCommandsHelp(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"serve", "migrate", "seed", "token", "maintain", "verify"} {
		var out bytes.Buffer
		err := app.Run(context.Background(), []string{"herotasks", name, "--help"}, func(string) string { return "" }, &out, io.Discard)
		assert.NoError(t, err, name)
		assert.Contains(t, out.String(), "usage: herotasks "+name, name)
	}
	var out bytes.Buffer
	assert.NoError(t, app.Run(context.Background(), []string{"herotasks", "--help"}, func(string) string { return "" }, &out, io.Discard))
	assert.Contains(t, out.String(), "commands:")
	assert.Error(t, app.Run(context.Background(), []string{"herotasks", "frobnicate"}, func(string) string { return "" }, io.Discard, io.Discard))
}

// TestTokenCommand prints a token the server accepts.
func TestTokenCommand(t *testing.T) {
	t.Parallel()
	getenv := func(k string) string { return map[string]string{"JWT_SECRET": apitest.Secret}[k] }
	var out bytes.Buffer
	const id = "0b6c1f2e-3d4a-4b5c-8d9e-0f1a2b3c4d5e"
	require.NoError(t, app.Run(context.Background(), []string{"herotasks", "token", "--user", id, "--role", "editor", "--ttl", "1h"}, getenv, &out, io.Discard))
	v, err := auth.New([]byte(apitest.Secret), "", "").Verify(strings.TrimSpace(out.String()))
	require.NoError(t, err)
	assert.Equal(t, domain.Viewer{UserID: id, Role: domain.RoleEditor}, v)

	for _, args := range [][]string{{"--user", "bob"}, {"--user", id, "--role", "root"}, {"--user", id, "--ttl", "-1h"}} {
		assert.Error(t, app.Run(context.Background(), append([]string{"herotasks", "token"}, args...), getenv, io.Discard, io.Discard), "%v", args)
	}
	assert.Error(t, app.Run(context.Background(), []string{"herotasks", "token", "--user", id}, func(string) string { return "" }, io.Discard, io.Discard), "no secret")
}

// TestWebsocket runs a query and a mutation over graphql-transport-ws with
// the token in the connection parameters.
func TestWebsocket(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	_, editor := api.User(t, domain.RoleEditor)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, strings.Replace(api.URL, "http", "ws", 1)+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	defer conn.CloseNow() //nolint:errcheck

	require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + editor}}))
	var msg struct {
		ID      string          `json:"id"`
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload"`
	}
	require.NoError(t, wsjson.Read(ctx, conn, &msg))
	require.Equal(t, "connection_ack", msg.Type)

	require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
		"query": `mutation { createTask(input: {title: "Over the socket"}) { number title } }`}}))
	for {
		require.NoError(t, wsjson.Read(ctx, conn, &msg))
		if msg.Type != "ping" && msg.Type != "pong" {
			break
		}
	}
	require.Equal(t, "next", msg.Type, "payload %s", msg.Payload)
	assert.JSONEq(t, `{"data":{"createTask":{"number":"HT-001","title":"Over the socket"}}}`, apitest.WithoutCost(t, msg.Payload))
	require.NoError(t, wsjson.Read(ctx, conn, &msg))
	assert.Equal(t, "complete", msg.Type)
}

// syncBuffer is a bytes.Buffer safe for a logger and a test reading at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
