package pubsub_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/herotasks/api/pubsub"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var graphqlWS struct {
	once sync.Once
	dir  string
	err  error
}

// graphqlWSClient installs the npm graphql-ws client pinned by
// scripts/graphql-ws/package-lock.json into the user's cache folder (outside
// the repository; once per lock, shared by parallel runs) and returns the
// folder holding it and subscribe.mjs.
func graphqlWSClient(t *testing.T) string {
	t.Helper()
	for _, bin := range []string{"node", "npm"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is needed for the graphql-ws client test (apt-get install nodejs npm)", bin)
			}
			t.Skipf("%s is not installed", bin)
		}
	}
	graphqlWS.once.Do(func() { graphqlWS.dir, graphqlWS.err = installGraphQLWS(apitest.Root(t)) })
	require.NoError(t, graphqlWS.err)
	return graphqlWS.dir
}

func installGraphQLWS(module string) (string, error) {
	src := filepath.Join(module, "scripts", "graphql-ws")
	h := sha256.New()
	files := []string{"package.json", "package-lock.json", "subscribe.mjs", "resume.mjs"}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	root := filepath.Join(cache, "herotasks", "graphql-ws")
	dir := filepath.Join(root, hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "graphql-ws", "package.json")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(root, ".install-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	for _, f := range files {
		b, _ := os.ReadFile(filepath.Join(src, f))
		if err := os.WriteFile(filepath.Join(tmp, f), b, 0o644); err != nil {
			return "", err
		}
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", &exec.ExitError{ProcessState: cmd.ProcessState, Stderr: out}
	}
	// Another run may have finished first; either install is the same.
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, "node_modules", "graphql-ws")); serr != nil {
			return "", err
		}
	}
	return dir, nil
}

// nodeSubscriber is subscribe.mjs running under node; lines carries what it
// prints, one decoded JSON object each.
type nodeSubscriber struct {
	lines chan map[string]any
}

func startNodeSubscriber(t *testing.T, dir, url, token, query string, vars map[string]any, count int) *nodeSubscriber {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, "subscribe.mjs"))
	cmd.Env = append(os.Environ(), "WS_URL="+strings.Replace(url, "http", "ws", 1)+"/graphql", "QUERY="+query,
		"VARIABLES="+apitest.JSON(t, vars), "TOKEN="+token, "COUNT="+itoa(count))
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("node stderr: %s", stderr.String())
		}
	})
	s := &nodeSubscriber{lines: make(chan map[string]any, 100)}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				s.lines <- m
			}
		}
	}()
	return s
}

func (s *nodeSubscriber) line(t *testing.T) map[string]any {
	t.Helper()
	select {
	case m, ok := <-s.lines:
		require.True(t, ok, "node exited early")
		return m
	case <-time.After(30 * time.Second):
		t.Fatal("nothing from node within 30s")
		return nil
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestGraphQLWSClient: the npm graphql-ws client, under node, subscribes on
// one instance while another commits the writes; it receives the public
// task's changes and not the private one's, and a bad token is refused with
// 4403. Not parallel, like the other node-based tests: node (and npm ci on
// a first run) would starve the timing-sensitive tests beside it.
func TestGraphQLWSClient(t *testing.T) {
	dir := graphqlWSClient(t)
	a := apitest.New(t)
	b := apitest.Serve(t, a.DBURL, &apitest.Counter{})
	_, editor := a.User(t, domain.RoleEditor)
	_, viewer := a.User(t, domain.RoleViewer)

	sub := startNodeSubscriber(t, dir, b.URL, viewer, `subscription { taskChanged { kind task { title } } }`, nil, 2)
	require.Equal(t, true, sub.line(t)["connected"])
	time.Sleep(500 * time.Millisecond) // the subscribe message has been read

	// A change's task is read when it is delivered: the rename waits for
	// the creation to arrive, so the creation shows the first title.
	pub, _ := a.NewTask(t, editor, map[string]any{"title": "Seen by node"})
	first := sub.line(t)
	a.NewTask(t, editor, map[string]any{"title": "Hidden from node", "visibility": "PRIVATE"})
	a.OK(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {title: "Renamed for node"}) { id } }`, map[string]any{"id": pub})
	second := sub.line(t)
	assert.Equal(t, "CREATED", apitest.Str(first, "next", "data", "taskChanged", "kind"), "%v", first)
	assert.Equal(t, "Seen by node", apitest.Str(first, "next", "data", "taskChanged", "task", "title"))
	assert.Equal(t, "UPDATED", apitest.Str(second, "next", "data", "taskChanged", "kind"), "the private task's creation never arrived: %v", second)
	assert.Equal(t, "Renamed for node", apitest.Str(second, "next", "data", "taskChanged", "task", "title"))

	bad := startNodeSubscriber(t, dir, b.URL, "not-a-token", `subscription { taskChanged { kind } }`, nil, 1)
	assert.Equal(t, float64(4403), bad.line(t)["error"], "a bad token closes the connection with 4403 Forbidden")
}

// TestResumeAcrossInstances: the npm graphql-ws client subscribes to one
// instance while another commits a stream of writes; the first instance is
// killed midway, and the client subscribes to the second with after: its
// last cursor, as writes go on. It receives every change exactly once, in
// commit order: the list of cursors it got is the task's changes in the
// history, no more, no fewer, none twice. Not parallel, like the other node
// tests.
func TestResumeAcrossInstances(t *testing.T) {
	dir := graphqlWSClient(t)
	a := apitest.New(t)
	b := apitest.Serve(t, a.DBURL, &apitest.Counter{})
	_, editor := a.User(t, domain.RoleEditor)
	_, viewer := a.User(t, domain.RoleViewer)
	id, _ := b.NewTask(t, editor, map[string]any{"title": "Resumed"})

	const writes = 60
	ws := func(u string) string { return strings.Replace(u, "http", "ws", 1) + "/graphql" }
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, "resume.mjs"))
	cmd.Env = append(os.Environ(), "WS_URLS="+ws(a.URL)+","+ws(b.URL), "TOKEN="+viewer, "COUNT="+itoa(writes),
		"FIELD=taskChanged", "VARIABLES="+apitest.JSON(t, map[string]any{"id": id}),
		"QUERY=subscription($id: ID, $after: String) { taskChanged(id: $id, after: $after) { kind cursor task { title } } }")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	defer func() {
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("node stderr: %s", stderr.String())
		}
	}()
	lines := make(chan map[string]any, 2*writes)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				lines <- m
			}
		}
	}()
	next := func() map[string]any {
		select {
		case m, ok := <-lines:
			require.True(t, ok, "node exited early")
			return m
		case <-time.After(30 * time.Second):
			t.Fatal("nothing from node within 30s")
			return nil
		}
	}
	require.Equal(t, float64(0), next()["connected"])
	time.Sleep(500 * time.Millisecond) // the subscribe message has been read

	// Writes go on through instance b the whole time.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range writes {
			b.OK(t, editor, `mutation($id: ID!, $t: String!) { updateTask(id: $id, input: {title: $t}) { id } }`,
				map[string]any{"id": id, "t": "v" + itoa(i+1)})
			time.Sleep(15 * time.Millisecond)
		}
	}()
	var cursors []string
	killed, resumed := false, false
	for len(cursors) < writes {
		m := next()
		switch {
		case m["next"] != nil:
			require.Empty(t, apitest.List(m, "next", "errors"), "%v", m)
			assert.Equal(t, "UPDATED", apitest.Str(m, "next", "data", "taskChanged", "kind"))
			cursors = append(cursors, apitest.Str(m, "next", "data", "taskChanged", "cursor"))
			if len(cursors) == writes/3 && !killed {
				killed = true
				a.Kill() // the instance the client listens to goes away
			}
		case m["lost"] != nil:
			require.True(t, killed, "the connection was lost only when its instance was killed: %v", m)
		case m["connected"] != nil:
			assert.Equal(t, float64(1), m["connected"], "it resumed on the other instance")
			resumed = true
		default:
			t.Fatalf("node: %v", m)
		}
	}
	<-done
	require.True(t, resumed, "the client resumed on the second instance")

	// What the history holds for the task after its creation, change by change.
	// (Every write was acknowledged and delivered, so the log has passed them.)
	events, err := b.Repo.TaskEventsAfter(ctx, "", 10_000)
	require.NoError(t, err)
	var want []string
	for _, c := range pubsub.Changes(events) {
		if c.TaskID == id && c.Kind == pubsub.KindUpdated {
			want = append(want, c.Cursor)
		}
	}
	require.Len(t, want, writes)
	assert.Equal(t, want, cursors, "every change exactly once, in commit order, across the seam")
}
