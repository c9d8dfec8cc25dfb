package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/herotasks/api/app"
	"github.com/herotasks/api/auth"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/herotasks/api/internal/testdb"
	"github.com/herotasks/api/repository"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestShutdownDrainsInFlightRequests starts the real serve command, holds a
// row lock so that a mutation is still running when shutdown begins, and
// proves that the mutation completes and is committed: the server drains
// in-flight requests before it closes its pools.
func TestShutdownDrainsInFlightRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := testdb.New(t)
	env := map[string]string{"DATABASE_URL": dbURL, "JWT_SECRET": apitest.Secret, "MAINTENANCE_INTERVAL": "0s"}
	getenv := func(k string) string { return env[k] }

	pool, err := repository.Open(ctx, dbURL, repository.PoolOptions{})
	require.NoError(t, err)
	defer pool.Close()
	repo := repository.New(pool)
	admin, err := repo.EnsureUser(ctx, "drain@example.com", "Drain", domain.RoleAdmin)
	require.NoError(t, err)
	token, err := auth.New([]byte(apitest.Secret), "", "").Sign(admin.ID, domain.RoleAdmin, time.Hour)
	require.NoError(t, err)
	task, err := repo.CreateTask(ctx, domain.NewTask{Title: "drain me", CreatedByID: &admin.ID, Type: domain.TaskType("FEATURE"), Priority: domain.TaskPriority("MEDIUM"), Visibility: domain.Visibility("PUBLIC")})
	require.NoError(t, err)

	srvCtx, stop := context.WithCancel(ctx)
	defer stop()
	stdout, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- app.Run(srvCtx, []string{"herotasks", "serve", "--addr", "127.0.0.1:0"}, getenv, w, io.Discard)
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	base := "http://" + strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	go io.Copy(io.Discard, stdout) //nolint:errcheck

	// Hold the task's row lock: the mutation below waits on it.
	locker, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	defer locker.Close(ctx)
	tx, err := locker.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE", task.ID)
	require.NoError(t, err)

	type result struct {
		status int
		body   string
	}
	answered := make(chan result, 1)
	go func() {
		q := fmt.Sprintf(`{"query":"mutation { updateTask(id: \"%s\", input: {title: \"drained\"}) { title version } }"}`, task.ID)
		req, _ := http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(q))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- result{0, err.Error()}
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		answered <- result{res.StatusCode, string(b)}
	}()
	// The mutation is waiting on the lock once PostgreSQL shows it waiting.
	require.Eventually(t, func() bool {
		var n int
		return pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name = 'herotasks-write'`).Scan(&n) == nil && n == 1
	}, 10*time.Second, 10*time.Millisecond)

	stop() // shutdown begins while the mutation is in flight
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("serve returned before the in-flight request finished: %v", err)
	default:
	}
	require.NoError(t, tx.Rollback(ctx)) // let the mutation through

	r := <-answered
	require.Equal(t, http.StatusOK, r.status, r.body)
	var out struct {
		Data struct {
			UpdateTask struct {
				Title   string `json:"title"`
				Version int    `json:"version"`
			} `json:"updateTask"`
		} `json:"data"`
		Errors []any `json:"errors"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &out))
	assert.Empty(t, out.Errors)
	assert.Equal(t, "drained", out.Data.UpdateTask.Title)
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not return after draining")
	}
	var title string
	require.NoError(t, pool.QueryRow(ctx, "SELECT title FROM tasks WHERE id = $1", task.ID).Scan(&title))
	assert.Equal(t, "drained", title, "the drained mutation was committed")
}
