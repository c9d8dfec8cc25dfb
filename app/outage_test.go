package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herotasks/api/auth"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/herotasks/api/internal/testdb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// outcome is one request of the load.
type outcome struct {
	phase   string
	title   string // the task a apitest.CreateTask tried to make; "" for reads
	ok      bool
	code    string
	body    string
	latency time.Duration
}

// TestPostgresRestartUnderLoad stops a private PostgreSQL (never the shared
// one) while clients read and write, then starts it again, without touching
// the server. While it is down every request fails fast and cleanly with
// SERVICE_UNAVAILABLE (or TIMEOUT), an API token is 503 rather than 401, and
// nothing leaks driver text; once it is back requests succeed again within
// seconds; and no write is half applied: every task that exists has exactly
// its one CREATED history row, and every apitest.CreateTask that answered success
// exists.
func TestPostgresRestartUnderLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg, dbURL := apitest.MigratedServer(t)
	// Entity cache off: reads must go to PostgreSQL to show what happens
	// when it is gone (with the cache on, cached reads keep working).
	api := apitest.Serve(t, dbURL, &apitest.Counter{}, "ENTITY_CACHE", "off", "REQUEST_TIMEOUT", "5s")
	_, editor := api.User(t, domain.RoleEditor)
	botID, _ := api.User(t, domain.RoleEditor)
	secret, hash, prefix := auth.NewToken()
	_, err := api.Repo.CreateAPIToken(ctx, domain.NewAPIToken{UserID: botID, Name: "bot", Hash: hash, Prefix: prefix, CreatedByID: botID})
	require.NoError(t, err)

	client := &http.Client{Timeout: 30 * time.Second}
	send := func(token, query string, vars map[string]any) (int, string, time.Duration) {
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		req, _ := http.NewRequest(http.MethodPost, api.URL+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		res, err := client.Do(req)
		if err != nil {
			return 0, err.Error(), time.Since(start)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(raw), time.Since(start)
	}

	var (
		mu       sync.Mutex
		phase    = "up"
		outcomes []outcome
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				ph := phase
				mu.Unlock()
				o := outcome{phase: ph}
				var status int
				if i%2 == 0 {
					o.title = fmt.Sprintf("load %d-%d", w, i)
					status, o.body, o.latency = send(editor, `mutation($t: String!) { createTask(input: {title: $t, tags: ["load"]}) { id } }`,
						map[string]any{"t": o.title})
				} else {
					status, o.body, o.latency = send(editor, `{ tasks(first: 5) { totalCount nodes { id title tags { name } } } }`, nil)
				}
				var r apitest.Response
				_ = json.Unmarshal([]byte(o.body), &r)
				o.ok, o.code = status == http.StatusOK && len(r.Errors) == 0, r.Code()
				mu.Lock()
				if phase != o.phase {
					o.phase = "between" // began in one phase, ended in another: no claim
				}
				outcomes = append(outcomes, o)
				mu.Unlock()
				time.Sleep(20 * time.Millisecond) // bounded load: a few dozen requests a second
			}
		})
	}
	setPhase := func(p string) { mu.Lock(); phase = p; mu.Unlock() }

	time.Sleep(time.Second)
	setPhase("stopping")
	pg.Stop(t)
	setPhase("down")
	time.Sleep(2 * time.Second)
	status, body, _ := send(secret, `{ me { id } }`, nil)
	assert.Equal(t, http.StatusServiceUnavailable, status, "an API token that cannot be checked is 503, not 401: %s", body)
	assert.Contains(t, body, "SERVICE_UNAVAILABLE")
	setPhase("starting")
	pg.Start(t)
	restarted := time.Now()
	setPhase("back")
	var recovered time.Duration
	require.Eventually(t, func() bool {
		status, body, _ := send(editor, `{ tasks(first: 1) { totalCount } }`, nil)
		if status == http.StatusOK && !strings.Contains(body, `"errors"`) {
			recovered = time.Since(restarted)
			return true
		}
		return false
	}, 15*time.Second, 50*time.Millisecond, "requests succeed again once PostgreSQL is back, without restarting the server")
	time.Sleep(time.Second)
	setPhase("after")
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	byPhase := map[string][]outcome{}
	for _, o := range outcomes {
		byPhase[o.phase] = append(byPhase[o.phase], o)
	}
	for _, o := range byPhase["up"] {
		assert.True(t, o.ok, "before the stop: %s", o.body)
	}
	down := byPhase["down"]
	require.NotEmpty(t, down)
	var latencies []time.Duration
	failed := 0
	for _, o := range down {
		latencies = append(latencies, o.latency)
		if o.ok {
			continue
		}
		failed++
		assert.Contains(t, []string{"SERVICE_UNAVAILABLE", "TIMEOUT"}, o.code, "while down: %s", o.body)
		for _, leak := range []string{"dial", "refused", "pgx", "SQLSTATE", "postgres", "goroutine"} {
			assert.NotContains(t, strings.ToLower(o.body), strings.ToLower(leak), "no driver text")
		}
	}
	assert.Equal(t, len(down), failed, "nothing succeeds while PostgreSQL is down")
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	assert.Less(t, slices.Max(latencies), 5*time.Second, "fail fast: within the request deadline")
	after := byPhase["after"]
	require.NotEmpty(t, after)
	for _, o := range after {
		assert.True(t, o.ok, "after recovery: %s", o.body)
	}
	t.Logf("down: %d requests, all failed, latency median %v max %v; first success %v after PostgreSQL accepted connections; %d requests after",
		len(down), latencies[len(latencies)/2], latencies[len(latencies)-1], recovered, len(after))

	// No half-applied write.
	var tasks, badHistory, badTags int
	require.NoError(t, api.Pool().QueryRow(ctx, `SELECT count(*),
		count(*) FILTER (WHERE (SELECT count(*) FROM task_events e WHERE e.task_id = t.id AND e.kind = 'CREATED') <> 1),
		count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM task_tags tt WHERE tt.task_id = t.id))
		FROM tasks t`).Scan(&tasks, &badHistory, &badTags))
	assert.Zero(t, badHistory, "every task has exactly its CREATED history row")
	assert.Zero(t, badTags, "every task has its tag")
	exists := taskTitles(t, api)
	acked := 0
	for _, o := range outcomes {
		if o.title != "" && o.ok {
			acked++
			assert.True(t, exists[o.title], "an acknowledged apitest.CreateTask is durable: %s", o.title)
		}
	}
	t.Logf("%d tasks, %d acknowledged creates", tasks, acked)
}

// taskTitles is the set of the titles of every task in api's database.
func taskTitles(t *testing.T, api *apitest.API) map[string]bool {
	t.Helper()
	rows, err := api.Pool().Query(context.Background(), `SELECT title FROM tasks`)
	require.NoError(t, err)
	exists := map[string]bool{}
	for rows.Next() {
		var title string
		require.NoError(t, rows.Scan(&title))
		exists[title] = true
	}
	require.NoError(t, rows.Err())
	return exists
}

// TestDeadlinesCancelSQL: a mutation stuck behind a row lock ends with
// TIMEOUT when lock_timeout passes, or when the request's deadline passes,
// and its statement is cancelled in PostgreSQL; a client that hangs up
// cancels its statement too. None of them applies anything.
func TestDeadlinesCancelSQL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := testdb.New(t)
	slowAPI := apitest.Serve(t, dbURL, &apitest.Counter{})                          // lock_timeout 5 s, deadline 30 s
	fastAPI := apitest.Serve(t, dbURL, &apitest.Counter{}, "REQUEST_TIMEOUT", "1s") // deadline 1 s
	_, editor := slowAPI.User(t, domain.RoleEditor)
	id, _ := slowAPI.NewTask(t, editor, map[string]any{"title": "Locked"})
	const update = `mutation($id: ID!) { updateTask(id: $id, input: {title: "changed"}) { title } }`

	lock, err := slowAPI.Pool().Begin(ctx)
	require.NoError(t, err)
	defer lock.Rollback(ctx) //nolint:errcheck
	_, err = lock.Exec(ctx, `SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE`, id)
	require.NoError(t, err)
	waiting := func() int {
		var n int
		require.NoError(t, slowAPI.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n))
		return n
	}

	r := fastAPI.Post(t, editor, update, map[string]any{"id": id})
	assert.Equal(t, "TIMEOUT", r.Code(), "the request's deadline: %v", r.Errors)
	assert.Eventually(t, func() bool { return waiting() == 0 }, 3*time.Second, 20*time.Millisecond, "its statement was cancelled")

	r = slowAPI.Post(t, editor, update, map[string]any{"id": id})
	assert.Equal(t, "TIMEOUT", r.Code(), "lock_timeout: %v", r.Errors)
	assert.Contains(t, r.Errors[0].Message, "busy")

	cctx, cancel := context.WithCancel(ctx)
	body, _ := json.Marshal(map[string]any{"query": update, "variables": map[string]any{"id": id}})
	req, _ := http.NewRequestWithContext(cctx, http.MethodPost, slowAPI.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+editor)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	require.Eventually(t, func() bool { return waiting() == 1 }, 3*time.Second, 10*time.Millisecond, "the update waits on the lock")
	cancel() // the client hangs up
	<-done
	assert.Eventually(t, func() bool { return waiting() == 0 }, 2*time.Second, 20*time.Millisecond,
		"the statement is cancelled when the client goes away, long before lock_timeout")

	require.NoError(t, lock.Rollback(ctx))
	d := slowAPI.OK(t, editor, `query($id: ID!) { task(id: $id) { title version } }`, map[string]any{"id": id})
	assert.Equal(t, "Locked", apitest.Str(d, "task", "title"), "nothing was applied")
	assert.Equal(t, 1, apitest.Num(d, "task", "version"))
}
