package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// staleEnv is what the stale-if-error tests run with: the response cache on,
// the entity cache off (so every read that is not a response-cache hit needs
// PostgreSQL, and what succeeds while it is down is the response cache's
// doing), no cost budget (the load would spend it), and a deadline shorter
// than the outage.
var staleEnv = []string{"RESPONSE_CACHE", "on", "ENTITY_CACHE", "off", "COST_BUDGET_CAPACITY", "0", "REQUEST_TIMEOUT", "5s"}

// answer is one GraphQL response over HTTP.
type answer struct {
	Status     int
	RetryAfter string
	Data       map[string]any  `json:"data"`
	Errors     []apitest.Error `json:"errors"`
	Extensions map[string]any  `json:"extensions"`
}

func (a answer) code() string       { return apitest.Response{Errors: a.Errors}.Code() }
func (a answer) cache() string      { s, _ := a.Extensions["responseCache"].(string); return s }
func (a answer) staleSince() string { s, _ := a.Extensions["staleSince"].(string); return s }

var staleClient = &http.Client{Timeout: 30 * time.Second}

// ask posts a GraphQL request without a testing.T, for load goroutines.
func ask(url, token, query string, vars map[string]any) (answer, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, url+"/graphql", bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := staleClient.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return answer{}, err
	}
	var out answer
	if err := json.Unmarshal(raw, &out); err != nil {
		return answer{}, fmt.Errorf("%w: %s", err, raw)
	}
	out.Status, out.RetryAfter = res.StatusCode, res.Header.Get("Retry-After")
	return out, nil
}

func mustAsk(t *testing.T, api *apitest.API, token, query string, vars map[string]any) answer {
	t.Helper()
	a, err := ask(api.URL, token, query, vars)
	require.NoError(t, err)
	return a
}

func readyzBody(t *testing.T, api *apitest.API) (int, map[string]string) {
	t.Helper()
	res, err := http.Get(api.URL + "/readyz")
	require.NoError(t, err)
	defer res.Body.Close()
	var body map[string]string
	require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
	return res.StatusCode, body
}

// assertRefused checks the answer of a request PostgreSQL was needed for.
func assertRefused(t *testing.T, a answer, who string) {
	t.Helper()
	assert.Equal(t, "SERVICE_UNAVAILABLE", a.code(), "%s: %+v", who, a)
	assert.Equal(t, http.StatusServiceUnavailable, a.Status, who)
	assert.Equal(t, "1", a.RetryAfter, "%s: Retry-After", who)
	assert.NotEqual(t, "stale", a.cache(), who)
}

// TestStaleIfError: while PostgreSQL is down, a read whose cached answer is
// still valid is a hit as usual; a read whose last answer was invalidated by
// a write gets that answer, flagged stale with the time it was computed,
// and only in the scope it was stored for (another user, the same user
// with another role, anonymous: SERVICE_UNAVAILABLE for the owner's board;
// the public task's detail was stored for everyone). A read never cached
// and a write are SERVICE_UNAVAILABLE with 503 and Retry-After, and the
// write is not applied; /readyz says degraded; an instance with
// RESPONSE_CACHE_STALE_IF_ERROR=off serves no stale answer though the last
// answer is in Redis. After the restart reads are fresh at once, and the
// stale answer was never stored back.
func TestStaleIfError(t *testing.T) {
	apitest.RequireRedis(t)
	t.Parallel()
	ctx := context.Background()
	pg, dbURL := apitest.MigratedServer(t)
	api := apitest.Serve(t, dbURL, &apitest.Counter{}, staleEnv...)
	// Same database and key prefix: it sees the same entries.
	off := apitest.Serve(t, dbURL, &apitest.Counter{}, append(staleEnv, "RESPONSE_CACHE_STALE_IF_ERROR", "off")...)
	ownerID, owner := api.User(t, domain.RoleEditor)
	_, other := api.User(t, domain.RoleEditor)
	ownerAsViewer, err := api.Auth.Sign(ownerID, domain.RoleViewer, time.Hour)
	require.NoError(t, err)
	id, _ := api.NewTask(t, owner, map[string]any{"title": "before", "tags": []string{"stale"}})

	const one = `query One($id: ID!) { task(id: $id) { id title version tags { name } } }`
	const board = `query Board { tasks(first: 5) { totalCount nodes { id title } } }`
	const tags = `query Tags { tags(first: 10) { name } }`
	vars := map[string]any{"id": id}
	began := time.Now().Add(-time.Second) // staleSince is to the millisecond, truncated
	for _, q := range []string{one, board, tags} {
		a := mustAsk(t, api, owner, q, vars)
		require.Empty(t, a.Errors)
		require.Equal(t, "miss", a.cache(), q)
	}
	require.Equal(t, "hit", mustAsk(t, api, owner, one, vars).cache())
	updated := time.Now()
	api.OK(t, owner, `mutation($id: ID!) { updateTask(id: $id, input: {title: "after"}) { version } }`, vars)
	// The write invalidated One and Board (not Tags): no read in between.

	pg.Stop(t)

	for _, q := range []string{one, board} {
		a := mustAsk(t, api, owner, q, vars)
		require.Empty(t, a.Errors, "%s: the last answer stands in: %+v", q, a)
		assert.Equal(t, http.StatusOK, a.Status)
		assert.Empty(t, a.RetryAfter)
		assert.Equal(t, "stale", a.cache(), q)
		since, err := time.Parse(time.RFC3339, a.staleSince())
		require.NoError(t, err, "staleSince is RFC 3339: %q", a.staleSince())
		assert.True(t, !since.Before(began) && since.Before(updated), "staleSince %v: when the answer was computed, before the write", since)
		if q == one {
			assert.Equal(t, "before", apitest.Str(a.Data, "task", "title"), "the last answer, as it was")
		}
		assert.Equal(t, "stale", mustAsk(t, api, owner, q, vars).cache(), "%s: again stale, never stored back as a hit", q)
	}
	a := mustAsk(t, api, owner, tags, nil)
	assert.Equal(t, "hit", a.cache(), "a valid answer is served as usual: %+v", a)
	assert.Empty(t, a.Errors)
	assertRefused(t, mustAsk(t, off, owner, one, vars), "RESPONSE_CACHE_STALE_IF_ERROR=off")
	a = mustAsk(t, off, owner, tags, nil)
	assert.Equal(t, "hit", a.cache(), "off still serves valid answers: %+v", a)

	// Every other scope: the owner's board (a list of what the owner may
	// see) is not theirs; the public task's detail, which depended on no
	// one's scope, was stored for everyone, and is theirs as it would be
	// with PostgreSQL up.
	for who, token := range map[string]string{"another user": other, "the owner as a viewer": ownerAsViewer, "anonymous": ""} {
		assertRefused(t, mustAsk(t, api, token, board, nil), who)
		a := mustAsk(t, api, token, one, vars)
		assert.Equal(t, "stale", a.cache(), "%s: %+v", who, a)
		assert.Equal(t, "before", apitest.Str(a.Data, "task", "title"), who)
	}
	assertRefused(t, mustAsk(t, api, owner, `query Never { tasks(first: 2) { nodes { id } } }`, nil), "a read never cached")
	// A refused write still replaces its tokens (it might have committed
	// before the connection went), so from here on Tags is invalid too.
	assertRefused(t, mustAsk(t, api, owner, apitest.CreateTask, map[string]any{"in": map[string]any{"title": "during the outage"}}), "a write")
	assertRefused(t, mustAsk(t, api, owner, `mutation($id: ID!) { updateTask(id: $id, input: {title: "lost"}) { version } }`, vars), "an update")

	status, body := readyzBody(t, api)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, map[string]string{"postgres": "unreachable", "replica": "not configured", "redis": "ok",
		"mode": "degraded: serving stale cached answers"}, body)
	status, body = readyzBody(t, off)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "unavailable", body["mode"], "stale answers off")

	pg.Start(t)
	a = mustAsk(t, api, owner, one, vars)
	require.Empty(t, a.Errors, "fresh again at once: %+v", a)
	assert.Equal(t, "miss", a.cache())
	assert.Equal(t, "after", apitest.Str(a.Data, "task", "title"))
	assert.Equal(t, 2, apitest.Num(a.Data, "task", "version"), "the refused update was not applied")
	var n int
	require.NoError(t, api.Pool().QueryRow(ctx, `SELECT count(*) FROM tasks WHERE title = 'during the outage'`).Scan(&n))
	assert.Zero(t, n, "the refused write was not applied")
	status, body = readyzBody(t, api)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "normal", body["mode"])
}

// TestStaleForBypassedOperation: an operation that admission sent around
// the response cache (its answers changed before they were asked again)
// still gets its last stored answer, flagged stale, while PostgreSQL is
// unreachable.
func TestStaleForBypassedOperation(t *testing.T) {
	apitest.RequireRedis(t)
	t.Parallel()
	pg, dbURL := apitest.MigratedServer(t)
	api := apitest.Serve(t, dbURL, &apitest.Counter{}, append(staleEnv, "RESPONSE_CACHE_MIN_HIT_PERCENT", "50")...)
	_, owner := api.User(t, domain.RoleEditor)
	id, _ := api.NewTask(t, owner, map[string]any{"title": "t0"})
	const one = `query One($id: ID!) { task(id: $id) { title } }`
	vars := map[string]any{"id": id}
	state := ""
	last := ""
	for i := 1; state != "" || i == 1; i++ {
		require.Less(t, i, 400, "never bypassed")
		title := fmt.Sprintf("t%d", i)
		api.OK(t, owner, `mutation($id: ID!, $t: String!) { updateTask(id: $id, input: {title: $t}) { id } }`,
			map[string]any{"id": id, "t": title})
		a := mustAsk(t, api, owner, one, vars)
		require.Empty(t, a.Errors)
		if state = a.cache(); state == "miss" {
			last = title // stored
		}
	}
	pg.Stop(t)
	a := mustAsk(t, api, owner, one, vars)
	require.Empty(t, a.Errors, "%+v", a)
	assert.Equal(t, "stale", a.cache())
	assert.Equal(t, last, apitest.Str(a.Data, "task", "title"), "the last answer stored before the bypass")
}

// TestStaleUnderLoadTwoInstances is the outage the feature is for: two
// instances on one database and one Redis prefix, several users and query
// shapes cached, every cached answer invalidated by writes just before
// PostgreSQL stops for 10 s, reads and writes on both instances throughout.
// While it is down, at least 90% of the reads are served, each flagged
// stale; every write is refused and none is applied; no write acknowledged
// before or after is lost; and writes succeed again within a generous
// bound of PostgreSQL's return (the figure is logged).
func TestStaleUnderLoadTwoInstances(t *testing.T) {
	apitest.RequireRedis(t)
	if testing.Short() {
		t.Skip("a 10-second outage")
	}
	t.Parallel()
	pg, dbURL := apitest.MigratedServer(t)
	apis := []*apitest.API{apitest.Serve(t, dbURL, &apitest.Counter{}, staleEnv...), apitest.Serve(t, dbURL, &apitest.Counter{}, staleEnv...)}
	var tokens []string
	for _, role := range []domain.Role{domain.RoleEditor, domain.RoleEditor, domain.RoleEditor, domain.RoleViewer} {
		_, tok := apis[0].User(t, role)
		tokens = append(tokens, tok)
	}
	tokens = append(tokens, "") // anonymous
	writer := tokens[0]
	var ids, numbers []string
	for i := range 6 {
		id, number := apis[0].NewTask(t, writer, map[string]any{"title": fmt.Sprintf("outage task %d", i), "tags": []string{"outage", fmt.Sprintf("o%d", i%2)}})
		ids, numbers = append(ids, id), append(numbers, number)
	}
	type shape struct {
		query string
		vars  map[string]any
	}
	shapes := []shape{
		{`query Board { tasks(first: 10) { totalCount nodes { id title version tags { name } } } }`, nil},
		{`query Drafts { tasks(first: 5, filter: {status: [DRAFT]}, orderBy: {field: PRIORITY, direction: ASC}) { nodes { number title } } }`, nil},
		{`query Find($q: String!) { searchTasks(query: $q, first: 5) { nodes { title } } }`, map[string]any{"q": "outage"}},
	}
	for i := range 3 {
		shapes = append(shapes,
			shape{`query One($id: ID!) { task(id: $id) { id title version tags { name } } }`, map[string]any{"id": ids[i]}},
			shape{`query ByNumber($n: String!) { taskByNumber(number: $n) { title status } }`, map[string]any{"n": numbers[i]}})
	}
	// Warm: every scope and shape cached, half through each instance.
	for i, tok := range tokens {
		for j, s := range shapes {
			a := mustAsk(t, apis[(i+j)%2], tok, s.query, s.vars)
			require.Empty(t, a.Errors, "%s: %+v", s.query, a)
			// a hit when another scope stored an answer that is everyone's
			require.Contains(t, []string{"miss", "hit"}, a.cache())
		}
	}

	var (
		mu    sync.Mutex
		phase = "up"
	)
	getPhase := func() string { mu.Lock(); defer mu.Unlock(); return phase }
	setPhase := func(p string) { mu.Lock(); phase = p; mu.Unlock() }
	type write struct {
		title, phase string
		ok           bool
		a            answer
	}
	type read struct {
		phase string
		a     answer
		err   error
	}
	var (
		writes  []write
		reads   []read
		serial  atomic.Int64
		readers sync.WaitGroup
		writers sync.WaitGroup
	)
	stopWriters, stopReaders := make(chan struct{}), make(chan struct{})
	for w := range 2 { // one writer per instance, for the whole test
		writers.Go(func() {
			for {
				select {
				case <-stopWriters:
					return
				default:
				}
				ph := getPhase()
				title := fmt.Sprintf("load write %d", serial.Add(1))
				a, err := ask(apis[w].URL, writer, apitest.CreateTask, map[string]any{"in": map[string]any{"title": title, "tags": []string{"load"}}})
				wr := write{title: title, phase: ph, ok: err == nil && a.Status == http.StatusOK && len(a.Errors) == 0, a: a}
				if getPhase() != ph {
					wr.phase = "between"
				}
				mu.Lock()
				writes = append(writes, wr)
				mu.Unlock()
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
	time.Sleep(time.Second) // writes before the outage, each invalidating every list
	// Every answer invalidated: each task the shapes read is updated.
	for _, id := range ids {
		apis[0].OK(t, writer, `mutation($id: ID!) { updateTask(id: $id, input: {description: "invalidated"}) { version } }`, map[string]any{"id": id})
	}
	setPhase("stopping")
	pg.Stop(t)
	setPhase("down")
	downAt := time.Now()
	for r := range 6 { // three readers per instance
		readers.Go(func() {
			for i := r; ; i++ {
				select {
				case <-stopReaders:
					return
				default:
				}
				tok, s := tokens[i%len(tokens)], shapes[(i/len(tokens))%len(shapes)]
				ph := getPhase()
				a, err := ask(apis[r%2].URL, tok, s.query, s.vars)
				rd := read{phase: ph, a: a, err: err}
				if getPhase() != ph {
					rd.phase = "between"
				}
				mu.Lock()
				reads = append(reads, rd)
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	time.Sleep(10*time.Second - time.Since(downAt))
	setPhase("starting")
	close(stopReaders)
	readers.Wait()
	pg.Start(t)
	back := time.Now()
	setPhase("back")
	// Recovery: how soon after PostgreSQL accepts connections a write
	// succeeds, polled on both instances.
	var recovered [2]time.Duration
	var pollers sync.WaitGroup
	for i, api := range apis {
		pollers.Go(func() {
			for j := 0; time.Since(back) < 15*time.Second; j++ {
				title := fmt.Sprintf("recovery %d-%d", i, j)
				a, err := ask(api.URL, writer, apitest.CreateTask, map[string]any{"in": map[string]any{"title": title, "tags": []string{"load"}}})
				ok := err == nil && a.Status == http.StatusOK && len(a.Errors) == 0
				mu.Lock()
				writes = append(writes, write{title: title, phase: "back", ok: ok, a: a})
				mu.Unlock()
				if ok {
					recovered[i] = time.Since(back)
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	pollers.Wait()
	require.Positive(t, recovered[0], "writes succeed again on instance 1 once PostgreSQL is back")
	require.Positive(t, recovered[1], "writes succeed again on instance 2 once PostgreSQL is back")
	time.Sleep(time.Second)
	setPhase("after")
	time.Sleep(time.Second)
	close(stopWriters)
	writers.Wait()

	// Reads while down: served stale (the last answer, flagged) or refused
	// cleanly; never a fresh hit or miss, since every answer was invalidated.
	var served, failed int
	codes := map[string]int{}
	for _, r := range reads {
		if r.phase != "down" {
			continue
		}
		require.NoError(t, r.err)
		if len(r.a.Errors) == 0 {
			served++
			assert.Equal(t, "stale", r.a.cache(), "every answer was invalidated before the outage: %+v", r.a)
			_, err := time.Parse(time.RFC3339, r.a.staleSince())
			assert.NoError(t, err, "staleSince %q", r.a.staleSince())
			continue
		}
		failed++
		codes[r.a.code()]++
	}
	require.Positive(t, served+failed)
	share := float64(served) / float64(served+failed)
	assert.GreaterOrEqual(t, share, 0.9, "reads of invalidated answers served while PostgreSQL is down; failures by code: %v", codes)

	// Writes: none applied while down, none acknowledged lost.
	exists := taskTitles(t, apis[0])
	var refused, appliedWhileDown, acked, lost int
	for _, w := range writes {
		switch {
		case w.phase == "down":
			assert.False(t, w.ok, "a write while PostgreSQL is down is refused: %s", w.title)
			if !w.ok {
				refused++
				assert.Equal(t, "SERVICE_UNAVAILABLE", w.a.code(), "%+v", w.a)
				assert.Equal(t, "1", w.a.RetryAfter)
			}
			if exists[w.title] {
				appliedWhileDown++
			}
		case w.ok:
			acked++
			if !exists[w.title] {
				lost++
			}
		}
	}
	assert.Positive(t, refused, "writes were tried while down")
	assert.Zero(t, appliedWhileDown, "no write applied while PostgreSQL was down")
	assert.Zero(t, lost, "no acknowledged write lost")
	assert.Less(t, max(recovered[0], recovered[1]), 10*time.Second, "generous: the figure is logged")
	t.Logf("outage 10 s on 2 instances, %d scopes × %d shapes: reads %d served stale, %d failed (%.1f%% served; failures %v); writes while down %d refused, %d applied; %d acknowledged writes before/after, %d lost; first write after restart %v / %v (instance 1 / 2)",
		len(tokens), len(shapes), served, failed, 100*share, codes, refused, appliedWhileDown, acked, lost,
		recovered[0].Round(time.Millisecond), recovered[1].Round(time.Millisecond))
}
