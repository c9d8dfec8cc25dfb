package repository_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/herotasks/api/internal/testpg"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// replicaEnv is a primary and its streaming replica (private servers:
// these tests stop the replica) and a server reading from the replica,
// with a statement counter on each pool.
type replicaEnv struct {
	*apitest.API
	primary, replica *testpg.Server
	pools            map[string]*apitest.Counter
}

func newReplicaEnv(t *testing.T, env ...string) *replicaEnv {
	t.Helper()
	primary, dbURL := apitest.MigratedServer(t)
	replica := primary.Replica(t)

	counters := map[string]*apitest.Counter{}
	for _, name := range []string{"write", "read", "replica", "analytics"} {
		counters[name] = &apitest.Counter{}
	}
	env = append([]string{"DATABASE_READ_URL", replica.URL("herotasks"),
		"CACHE_PREFIX", "ht:test:replica:" + time.Now().Format("150405.000000000"), "DB_REPLICA_CHECK_PERIOD", "100ms"}, env...)
	api := apitest.ServePools(t, dbURL, func(pool string) pgx.QueryTracer { return counters[pool] }, env...)
	return &replicaEnv{API: api, primary: primary, replica: replica, pools: counters}
}

// counts returns the statements each pool has sent so far.
func (e *replicaEnv) counts() map[string]int64 {
	m := map[string]int64{}
	for name, c := range e.pools {
		m[name] = c.Load()
	}
	return m
}

// since returns what each pool sent after before.
func (e *replicaEnv) since(before map[string]int64) map[string]int64 {
	m := e.counts()
	for k := range m {
		m[k] -= before[k]
	}
	return m
}

// caughtUp waits until the replica has replayed everything the primary has
// committed so far.
func (e *replicaEnv) caughtUp(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	var lsn string
	require.NoError(t, e.Pool().QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&lsn))
	require.Eventually(t, func() bool {
		c, err := pgx.Connect(ctx, e.replica.URL("herotasks"))
		if err != nil {
			return false
		}
		defer c.Close(ctx)
		var ok bool
		return c.QueryRow(ctx, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", lsn).Scan(&ok) == nil && ok
	}, 15*time.Second, 20*time.Millisecond)
}

func (e *replicaEnv) readyz(t *testing.T) (int, map[string]string) {
	t.Helper()
	res, err := http.Get(e.URL + "/readyz")
	require.NoError(t, err)
	defer res.Body.Close()
	var body map[string]string
	require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
	return res.StatusCode, body
}

const listQuery = `{ tasks(first: 20) { totalCount nodes { id title assignee { name } tags { name } subtasks { title } } } }`

// TestReadReplica proves that reads are served by a real streaming replica,
// that a request which wrote reads its own write from the primary, and that
// reads fall back to the primary without failing a request while the
// replica is down, then return to it once it is back.
func TestReadReplica(t *testing.T) {
	t.Parallel()
	e := newReplicaEnv(t, "ENTITY_CACHE", "off")
	_, token := e.User(t, domain.RoleAdmin)
	for i := range 5 {
		e.NewTask(t, token, map[string]any{"title": "replicated " + string(rune('a'+i)), "tags": []string{"ops"}})
	}
	e.caughtUp(t)

	// Reads: every statement on the replica, none on the primary.
	before := e.counts()
	d := e.OK(t, token, listQuery, nil)
	assert.Equal(t, 5, apitest.Num(d, "tasks", "totalCount"))
	got := e.since(before)
	assert.Positive(t, got["replica"], "reads are served by the replica")
	assert.Zero(t, got["read"]+got["write"], "no read reached the primary: %v", got)
	status, body := e.readyz(t)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "ok", body["replica"])

	// A request that wrote reads from the primary for the rest of the
	// request: the fields resolved after the write see it.
	before = e.counts()
	d = e.OK(t, token, `mutation { createTask(input: {title: "mine", tags: ["fresh"]}) { id tags { name } createdBy { name } } }`, nil)
	assert.Equal(t, "fresh", apitest.Str(d, "createTask", "tags", 0, "name"))
	assert.NotEmpty(t, apitest.Str(d, "createTask", "createdBy", "name"))
	got = e.since(before)
	assert.Zero(t, got["replica"], "after its write the request reads the primary: %v", got)
	assert.Positive(t, got["write"])

	// The replica goes away while readers are busy: no request fails.
	e.caughtUp(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var failures []string
	var mu sync.Mutex
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := e.Post(t, token, listQuery, nil)
				if len(r.Errors) > 0 || apitest.Num(r.Data, "tasks", "totalCount") != 6 {
					mu.Lock()
					failures = append(failures, apitest.JSON(t, r))
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	e.replica.Stop(t)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	assert.Empty(t, failures, "no read failed while the replica stopped")

	before = e.counts()
	for range 5 {
		d = e.OK(t, token, listQuery, nil)
		assert.Equal(t, 6, apitest.Num(d, "tasks", "totalCount"))
	}
	got = e.since(before)
	assert.Zero(t, got["replica"], "a down replica is not tried on every read: %v", got)
	assert.Positive(t, got["read"], "reads are served by the primary")
	status, body = e.readyz(t)
	assert.Equal(t, http.StatusOK, status, "the primary alone is ready")
	assert.Contains(t, body["replica"], "unreachable")
	assert.False(t, e.Repo.ReplicaStats().Up)
	res, err := http.Get(e.URL + "/metrics")
	require.NoError(t, err)
	prom, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Contains(t, string(prom), "herotasks_replica_up 0\n")
	assert.Contains(t, string(prom), `herotasks_pool_max_connections{pool="replica"} 20`)
	assert.Regexp(t, `herotasks_replica_reads_total [1-9]`, string(prom))

	// Back: reads return to the replica within the check period.
	e.replica.Start(t)
	require.Eventually(t, func() bool { return e.Repo.ReplicaStats().Up }, 10*time.Second, 50*time.Millisecond)
	before = e.counts()
	e.OK(t, token, listQuery, nil)
	got = e.since(before)
	assert.Positive(t, got["replica"], "reads return to the replica: %v", got)
	assert.Zero(t, got["read"])
	_, body = e.readyz(t)
	assert.Equal(t, "ok", body["replica"])
}

// TestReplicaNeverFillsTheCache pauses replay on the replica, so it lags
// for as long as the test wants, and proves that a row read after a
// committed update is the new one even though reads go to the lagging
// replica: the entity cache fills only from the primary. Without that, the
// old row would be cached and served by every instance until its TTL.
func TestReplicaNeverFillsTheCache(t *testing.T) {
	if os.Getenv("REDIS_URL") == "" {
		t.Skip("needs REDIS_URL (make test sets it)")
	}
	t.Parallel()
	e := newReplicaEnv(t)
	require.NotNil(t, e.Cache)
	_, token := e.User(t, domain.RoleAdmin)
	id, _ := e.NewTask(t, token, map[string]any{"title": "before"})
	e.caughtUp(t)
	ctx := context.Background()
	rc, err := pgx.Connect(ctx, e.replica.URL("herotasks"))
	require.NoError(t, err)
	defer rc.Close(ctx)
	_, err = rc.Exec(ctx, "SELECT pg_wal_replay_pause()")
	require.NoError(t, err)
	defer rc.Exec(ctx, "SELECT pg_wal_replay_resume()") //nolint:errcheck

	e.OK(t, token, `mutation($id: ID!) { updateTask(id: $id, input: {title: "after"}) { id } }`, map[string]any{"id": id})
	var onReplica string
	require.NoError(t, rc.QueryRow(ctx, "SELECT title FROM tasks WHERE id = $1", id).Scan(&onReplica))
	require.Equal(t, "before", onReplica, "the replica lags (replay paused)")

	for range 3 { // the first read fills the cache, the next ones hit it
		d := e.OK(t, token, `query($id: ID!) { task(id: $id) { title } }`, map[string]any{"id": id})
		assert.Equal(t, "after", apitest.Str(d, "task", "title"))
	}
}

// TestSubscriptionReadsThePrimary pauses replay on the replica and proves a
// subscriber still receives the committed change: a subscription reads
// each event's task as soon as it was committed, so it reads the primary.
func TestSubscriptionReadsThePrimary(t *testing.T) {
	t.Parallel()
	e := newReplicaEnv(t, "ENTITY_CACHE", "off")
	_, token := e.User(t, domain.RoleAdmin)
	id, _ := e.NewTask(t, token, map[string]any{"title": "before"})
	e.caughtUp(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc, err := pgx.Connect(ctx, e.replica.URL("herotasks"))
	require.NoError(t, err)
	defer rc.Close(context.Background())
	_, err = rc.Exec(ctx, "SELECT pg_wal_replay_pause()")
	require.NoError(t, err)
	defer rc.Exec(context.Background(), "SELECT pg_wal_replay_resume()") //nolint:errcheck

	ws, err := apitest.DialWS(ctx, e.URL, token)
	require.NoError(t, err)
	defer ws.Close()
	ws.Subscribe(t, "one", `subscription($id: ID) { taskChanged(id: $id) { kind task { title } } }`, map[string]any{"id": id})
	time.Sleep(300 * time.Millisecond) // the subscribe message has been read
	e.OK(t, token, `mutation($id: ID!) { updateTask(id: $id, input: {title: "after"}) { id } }`, map[string]any{"id": id})
	d := ws.Event(t, "one")
	assert.Equal(t, "after", apitest.Str(d, "taskChanged", "task", "title"), "read from the primary, not the paused replica")
	d = e.OK(t, token, `query($id: ID!) { task(id: $id) { title } }`, map[string]any{"id": id})
	assert.Equal(t, "before", apitest.Str(d, "task", "title"), "an ordinary read of another request may lag (the documented trade-off)")
}
