package telemetry_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herotasks/api/app"
	"github.com/herotasks/api/internal/apitest"
	"github.com/herotasks/api/internal/testdb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP trace endpoint that keeps what it is sent.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || r.URL.Path != "/v1/traces" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	o.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	_, _ = w.Write(resp)
}

func attr(s *tracepb.Span, key string) string {
	for _, a := range s.Attributes {
		if a.Key == key {
			return a.Value.GetStringValue()
		}
	}
	return ""
}

// TestTracing runs the real serve command with OTEL_EXPORTER_OTLP_ENDPOINT
// pointing at a receiver, sends a nested query inside a caller's trace,
// shuts the server down (which flushes) and checks the spans: the
// operation continues the caller's trace, loader batches sit under it, and
// SQL statements and Redis commands sit under the loader batches.
// Not parallel: the tracer provider is process-wide.
func TestTracing(t *testing.T) {
	if os.Getenv("REDIS_URL") == "" {
		t.Skip("needs REDIS_URL (make test sets it)")
	}
	rcv := &otlpReceiver{}
	collector := httptest.NewServer(rcv)
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL) // the exporter reads the process environment
	dbURL := testdb.New(t)
	env := map[string]string{"DATABASE_URL": dbURL, "JWT_SECRET": apitest.Secret, "REDIS_URL": os.Getenv("REDIS_URL"),
		"CACHE_PREFIX": "ht:test:tracing:" + time.Now().Format("150405.000000000"), "CACHE_TIMEOUT": "2s",
		"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL, "OTEL_SERVICE_NAME": "herotasks-test", "MAINTENANCE_INTERVAL": "0s"}
	getenv := func(k string) string { return env[k] }
	require.NoError(t, app.Run(context.Background(), []string{"herotasks", "seed", "--tasks", "20", "--seed", "5"}, getenv, io.Discard, io.Discard))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, []string{"herotasks", "serve", "--addr", "127.0.0.1:0"}, getenv, w, io.Discard)
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	base := "http://" + strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	go io.Copy(io.Discard, stdout) //nolint:errcheck

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, err := http.NewRequest(http.MethodPost, base+"/graphql",
		strings.NewReader(`{"query":"query Traced { tasks(first: 5) { nodes { title tags { name } subtasks { title } } } }"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", body)
	require.NotContains(t, string(body), `"errors"`)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	var op *tracepb.Span
	byID := map[string]*tracepb.Span{}
	var inTrace []*tracepb.Span
	for _, s := range rcv.spans {
		if hex.EncodeToString(s.TraceId) != traceID {
			continue
		}
		inTrace = append(inTrace, s)
		byID[hex.EncodeToString(s.SpanId)] = s
		if s.Name == "query Traced" {
			op = s
		}
	}
	for _, s := range rcv.spans {
		t.Logf("span %s trace %x parent %x", s.Name, s.TraceId, s.ParentSpanId)
	}
	require.NotNil(t, op, "an operation span named after the operation, in the caller's trace (%d spans received)", len(rcv.spans))
	assert.Equal(t, parentID, hex.EncodeToString(op.ParentSpanId), "the operation continues the caller's span")
	assert.Equal(t, "Traced", attr(op, "graphql.operation.name"))

	under := func(s *tracepb.Span, prefix string) bool { // some ancestor's name starts with prefix
		for p := byID[hex.EncodeToString(s.ParentSpanId)]; p != nil; p = byID[hex.EncodeToString(p.ParentSpanId)] {
			if strings.HasPrefix(p.Name, prefix) {
				return true
			}
		}
		return false
	}
	var loaders, sqlUnderLoader, redisUnderLoader int
	for _, s := range inTrace {
		switch {
		case strings.HasPrefix(s.Name, "loader "):
			loaders++
			assert.True(t, under(s, "query Traced"), "loader span %s under the operation", s.Name)
		case attr(s, "db.pool") != "":
			if under(s, "loader ") {
				sqlUnderLoader++
			}
			assert.True(t, under(s, "query Traced"), "SQL span %s under the operation", s.Name)
			for _, a := range s.Attributes {
				assert.NotContains(t, a.Key, "args", "no argument values in SQL spans")
			}
		case attr(s, "db.system") == "redis" || attr(s, "db.system.name") == "redis":
			if under(s, "loader ") {
				redisUnderLoader++
			}
		}
	}
	assert.GreaterOrEqual(t, loaders, 2, "a span per loader batch (tags, subtasks)")
	assert.Positive(t, sqlUnderLoader, "SQL statements of loader batches nest under them")
	assert.Positive(t, redisUnderLoader, "Redis commands of loader batches nest under them")
}
