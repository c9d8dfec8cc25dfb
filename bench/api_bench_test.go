package bench_test

// Benchmarks of the read path against real services: one database seeded
// with 10,000 tasks per run of BenchmarkAPI (seeding happens only here, never
// in `go test` without -bench), a server per mode spoken to over HTTP, and
// per-request SQL statements, Redis round trips and PostgreSQL CPU reported
// beside the latencies.
//
//	. ./.data/env && go test -run '^$' -bench API -benchtime=100x .
//
// Every number includes the client, the server, PostgreSQL and Redis
// sharing one machine; on a 2-core machine they compete for the same cores.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herotasks/api/bench"
	"github.com/herotasks/api/cache"
	"github.com/herotasks/api/internal/apitest"
	"github.com/herotasks/api/internal/testdb"
	"github.com/herotasks/api/requestid"
	"github.com/herotasks/api/seed"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

const (
	benchTasks = 10_000
	benchSeed  = 1

	// benchNested is the nested query of the benchmarks: five levels of
	// lookups (tasks, users, task tags, subtasks, subtask tags).
	benchNested = `{ tasks(first: 50) { nodes { id title assignee { name } tags { name } subtasks { number title tags { name } } } } }`
	// benchSubtaskTags is the N+1 showcase: every subtask of 50 tasks and
	// their tags (tasks, subtasks, subtask tags).
	benchSubtaskTags = `{ tasks(first: 50) { nodes { subtasks { tags { name } } } } }`
	// benchTagBoard is a query whose levels are not loaded ahead (a tag
	// list's task pages, and their tasks' assignees and tags), so every
	// level batches through the loaders' window (four levels).
	benchTagBoard = `{ tags(first: 20) { name tasks(first: 5) { nodes { title assignee { name } tags { name } } } } }`

	// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat
	// (sysconf(_SC_CLK_TCK), 100 on Linux).
	clockTicks = 100
)

// benchMode is one server configuration and what it must do per request.
type benchMode struct {
	name  string
	env   []string
	redis bool // needs REDIS_URL
	cold  bool // empty this server's cache before every request
	// levels > 0: the query's levels, so more statements mean a split
	// batch (split-%); with strict, a failure.
	levels int
	strict bool
	// exactSQL > 0: exactly that many statements per request, or a failure.
	exactSQL int
}

func (m benchMode) check(stmts []string) error {
	switch {
	case m.exactSQL > 0 && len(stmts) != m.exactSQL:
		return fmt.Errorf("%d SQL statements %v, want exactly %d", len(stmts), stmts, m.exactSQL)
	case m.strict && len(stmts) > m.levels:
		return fmt.Errorf("%d SQL statements %v, want at most %d (one per level)", len(stmts), stmts, m.levels)
	}
	return nil
}

// BenchmarkAPI seeds one database and measures the nested read path:
//
//	nested/<mode>/{serial,parallel8}        the five-level query in each mode
//	subtaskTags/loaders=<off|on>/...        naive per-row queries vs the dataloaders
//	loaderWait/wait=<d>/...                 the batching window, cache off, on the
//	                                        tag board (the nested query's levels are
//	                                        loaded ahead and never wait)
//
// serial is one client sending one request after another; parallel8 is 8
// clients at once. Metrics per sub-benchmark:
//
//	req/s, p50-ms, p99-ms  throughput and client-side latency (timed requests only)
//	sql/req, sql-max       statements on the server's pool, mean and worst request
//	split-%                requests with more statements than the query has levels
//	redis/req              round trips of the server's Redis client (one per
//	                       command or pipeline; connection setup not counted)
//	redis-fails            failed round trips (each served from PostgreSQL)
//	pgcpu-ms/req           CPU of every postgres process on the machine
//	                       (utime+stime, /proc/<pid>/stat): other work on the
//	                       cluster counts too
//	pgcpu-db-ms/req        CPU of the backends connected to the benchmark's own
//	                       database (/proc/<pid>/schedstat, nanoseconds)
//	gocpu-ms/req           CPU of this process: the server and the client
//	gc-cpu-%               share of this process's CPU spent on garbage
//	                       collection (runtime/metrics)
//	allocs/req, alloc-KiB/req  heap allocations of this process per request
//	other-cpu-%            CPU the rest of the machine used meanwhile (other
//	                       tests, Redis), in % of all cores: how much the
//	                       numbers competed for
//
// Invariants, checked per request (the server keeps the X-Request-Id the
// client sends, and the statement counter files statements under it): no
// answer has errors and its data equals the uncached server's; cache=warm
// sends exactly one statement (the root page); cache=off, cache=cold
// (serial) and subtaskTags/loaders=on at most one per level. The first,
// one-request call the testing package makes to size the runs only logs a
// statement-count violation; the measured runs fail on one.
func BenchmarkAPI(b *testing.B) {
	env := newBenchEnv(b)

	nested := []benchMode{
		{name: "loaders=off", env: []string{"LOADERS", "off", "ENTITY_CACHE", "off"}},
		{name: "cache=off", env: []string{"ENTITY_CACHE", "off"}, levels: 5, strict: true},
		{name: "cache=cold", env: []string{"ENTITY_CACHE", "on"}, redis: true, cold: true, levels: 5, strict: true},
		{name: "cache=warm", env: []string{"ENTITY_CACHE", "on"}, redis: true, exactSQL: 1},
		// Every request a response-cache miss: what recording the tags costs.
		{name: "respcache=cold", env: []string{"ENTITY_CACHE", "on", "RESPONSE_CACHE", "on"}, redis: true, cold: true, levels: 5},
		// Whole responses from Redis: no resolver, no statement.
		{name: "respcache=warm", env: []string{"ENTITY_CACHE", "on", "RESPONSE_CACHE", "on"}, redis: true},
	}
	b.Run("nested", func(b *testing.B) {
		for _, m := range nested {
			env.runMode(b, m, benchNested)
		}
	})

	b.Run("subtaskTags", func(b *testing.B) {
		env.runMode(b, benchMode{name: "loaders=off", env: []string{"LOADERS", "off", "ENTITY_CACHE", "off"}}, benchSubtaskTags)
		env.runMode(b, benchMode{name: "loaders=on", env: []string{"ENTITY_CACHE", "off"}, levels: 3, strict: true}, benchSubtaskTags)
	})

	// Split batches show as more than 5 statements per request (sql/req,
	// sql-max); they are measured here, not failed.
	b.Run("loaderWait", func(b *testing.B) {
		for _, w := range []string{"1ms", "2ms", "5ms", "16ms"} {
			env.runMode(b, benchMode{name: "wait=" + w, env: []string{"ENTITY_CACHE", "off", "LOADER_WAIT", w}, levels: 4}, benchTagBoard)
		}
	})
}

// runtimeSample is this process's Go runtime accounting (runtime/metrics):
// the share of its CPU spent collecting garbage, and what it allocated,
// server and client together.
type runtimeSample struct {
	cpu, gcCPU         float64 // seconds
	allocs, allocBytes uint64
}

func readRuntime() runtimeSample {
	s := []metrics.Sample{
		{Name: "/cpu/classes/total:cpu-seconds"},
		{Name: "/cpu/classes/gc/total:cpu-seconds"},
		{Name: "/gc/heap/allocs:objects"},
		{Name: "/gc/heap/allocs:bytes"},
	}
	metrics.Read(s)
	return runtimeSample{cpu: s[0].Value.Float64(), gcCPU: s[1].Value.Float64(), allocs: s[2].Value.Uint64(), allocBytes: s[3].Value.Uint64()}
}

// benchEnv is what the sub-benchmarks share: the seeded database, an
// untraced connection for pg_stat_activity, a Redis client for flushing and
// the reference answers.
type benchEnv struct {
	dbURL  string
	dbName string
	admin  *pgx.Conn             // on the server's maintenance database, not the benchmark's
	redis  redis.UniversalClient // nil without REDIS_URL
	client *http.Client

	mu   sync.Mutex
	refs map[string][]byte // query → the answer of ref, a server without the entity cache
	ref  *benchServer

	calls map[*testing.B]int // measure calls per sub-benchmark
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	ctx := context.Background()
	base := testdb.URL(b)
	dbURL := testdb.New(b)
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		b.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	res, err := seed.Run(ctx, pool, seed.Options{Tasks: benchTasks, Seed: benchSeed,
		Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	pool.Close()
	if err != nil {
		b.Fatalf("seed: %v", err)
	}
	b.Logf("seeded %d tasks, %d subtasks, %d subtask tags in %v", res.Tasks, res.Subtasks, res.SubtaskTags, res.Elapsed.Round(time.Millisecond))

	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { admin.Close(context.Background()) })
	e := &benchEnv{dbURL: dbURL, dbName: cfg.Database, admin: admin, refs: map[string][]byte{}, calls: map[*testing.B]int{},
		client: &http.Client{Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, DisableCompression: true}}}
	b.Cleanup(e.client.CloseIdleConnections)
	if u := os.Getenv("REDIS_URL"); u != "" {
		o, err := redis.ParseURL(u)
		if err != nil {
			b.Fatal(err)
		}
		e.redis = redis.NewClient(o)
		b.Cleanup(func() { e.redis.Close() })
	}
	e.ref = e.start(b, "ENTITY_CACHE", "off")
	return e
}

// runMode runs the serial and parallel8 sub-benchmarks of one mode on one
// server, closed when both are done.
func (e *benchEnv) runMode(b *testing.B, m benchMode, query string) {
	b.Run(m.name, func(b *testing.B) {
		if m.redis && e.redis == nil {
			b.Skip("REDIS_URL is not set")
		}
		ref := e.reference(b, query)
		s := e.start(b, m.env...)
		b.Run("serial", func(b *testing.B) { e.measure(b, s, m, query, ref, 1) })
		// Concurrent cold requests share what each other fill: a list
		// another request stored, whose items it did not, costs an entity
		// statement more. Measured, not failed.
		pm := m
		pm.strict = pm.strict && !m.cold
		b.Run("parallel8", func(b *testing.B) { e.measure(b, s, pm, query, ref, 8) })
	})
}

// benchServer is one server on the seeded database, instrumented.
type benchServer struct {
	url    string
	prefix string // its cache keys
	sql    *stmtCounter
	rt     *roundTripCounter // nil without Redis
	cache  *cache.Cache      // nil with the entity cache off
}

var benchServers atomic.Int64

// start serves the API on the seeded database with env on top of the
// defaults, under a cache prefix of its own; it stops when b ends.
func (e *benchEnv) start(b *testing.B, env ...string) *benchServer {
	b.Helper()
	prefix := fmt.Sprintf("ht:bench:%d:%d", os.Getpid(), benchServers.Add(1))
	s := &benchServer{prefix: prefix, sql: &stmtCounter{byReq: map[string][]string{}}}
	// One anonymous client sends every request: no per-client budget (its
	// throttling and Redis round trips are not what is measured), and the
	// Redis timeout of production.
	env = append([]string{"CACHE_PREFIX", prefix, "COST_BUDGET_CAPACITY", "0", "CACHE_TIMEOUT", ""}, env...)
	api := apitest.Serve(b, e.dbURL, s.sql, env...)
	if api.Redis != nil {
		s.rt = &roundTripCounter{}
		api.Redis.AddHook(s.rt)
		b.Cleanup(func() { e.flush(b, prefix) })
	}
	s.cache = api.Cache
	s.url = api.URL + "/graphql"
	return s
}

// reference returns the answer to query of a server without the entity
// cache, checked: no errors, 50 tasks, and every level of the query filled
// somewhere, so the benchmark does exercise each of them.
func (e *benchEnv) reference(b *testing.B, query string) []byte {
	b.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if ref, ok := e.refs[query]; ok {
		return ref
	}
	_, body, err := e.post(e.ref, query)
	if err != nil {
		b.Fatal(err)
	}
	if query == benchTagBoard {
		var r struct {
			Data struct {
				Tags []struct {
					Tasks struct {
						Nodes []struct {
							Assignee *struct{ Name string }
							Tags     []struct{ Name string }
						}
					}
				}
			}
			Errors []json.RawMessage
		}
		if err := json.Unmarshal(body, &r); err != nil || len(r.Errors) > 0 {
			b.Fatalf("reference answer: %v %s", err, snippet(body))
		}
		var tasks, assignees, tags int
		for _, g := range r.Data.Tags {
			for _, n := range g.Tasks.Nodes {
				tasks++
				tags += len(n.Tags)
				if n.Assignee != nil {
					assignees++
				}
			}
		}
		if len(r.Data.Tags) != 20 || tasks == 0 || assignees == 0 || tags == 0 {
			b.Fatalf("reference answer does not exercise every level: %d tags, %d tasks, %d assignees, %d task tags", len(r.Data.Tags), tasks, assignees, tags)
		}
		data, _ := answerData(body)
		e.refs[query] = data
		return data
	}
	var r struct {
		Data struct {
			Tasks struct {
				Nodes []struct {
					Assignee *struct{ Name string }
					Tags     []struct{ Name string }
					Subtasks []struct {
						Tags []struct{ Name string }
					}
				}
			}
		}
		Errors []json.RawMessage
	}
	if err := json.Unmarshal(body, &r); err != nil || len(r.Errors) > 0 {
		b.Fatalf("reference answer: %v %s", err, snippet(body))
	}
	var assignees, tags, subtasks, subtaskTags int
	for _, n := range r.Data.Tasks.Nodes {
		if n.Assignee != nil {
			assignees++
		}
		tags += len(n.Tags)
		subtasks += len(n.Subtasks)
		for _, st := range n.Subtasks {
			subtaskTags += len(st.Tags)
		}
	}
	if len(r.Data.Tasks.Nodes) != 50 || subtasks == 0 || subtaskTags == 0 ||
		(strings.Contains(query, "assignee") && (assignees == 0 || tags == 0)) {
		b.Fatalf("reference answer does not exercise every level: %d tasks, %d assignees, %d tags, %d subtasks, %d subtask tags",
			len(r.Data.Tasks.Nodes), assignees, tags, subtasks, subtaskTags)
	}
	b.Logf("reference for %s: %d tasks, %d assignees, %d task tags, %d subtasks, %d subtask tags, %d bytes",
		snippet([]byte(query)), len(r.Data.Tasks.Nodes), assignees, tags, subtasks, subtaskTags, len(body))
	data, _ := answerData(body)
	e.refs[query] = data
	return data
}

var benchRequests atomic.Int64

// post sends query anonymously under a fresh request id, which the server
// keeps and the statement counter files statements under.
func (e *benchEnv) post(s *benchServer, query string) (string, []byte, error) {
	id := fmt.Sprintf("bench-%08d", benchRequests.Add(1))
	body, _ := json.Marshal(map[string]string{"query": query})
	req, err := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return id, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(requestid.Header, id)
	res, err := e.client.Do(req)
	if err != nil {
		return id, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err == nil && res.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d: %s", res.StatusCode, snippet(out))
	}
	return id, out, err
}

// flush deletes every key under prefix (SCAN, not KEYS: other tests share
// the Redis).
func (e *benchEnv) flush(b *testing.B, prefix string) {
	b.Helper()
	ctx := context.Background()
	var cursor uint64
	for {
		keys, next, err := e.redis.Scan(ctx, cursor, prefix+":*", 1000).Result()
		if err != nil {
			b.Fatalf("flush %s: %v", prefix, err)
		}
		if len(keys) > 0 {
			if err := e.redis.Unlink(ctx, keys...).Err(); err != nil {
				b.Fatalf("flush %s: %v", prefix, err)
			}
		}
		if cursor = next; cursor == 0 {
			return
		}
	}
}

// measure runs b.N requests from workers concurrent clients (cold: in
// rounds of workers requests after a flush each, the flush outside the
// timer) after three untimed warm-up requests, checks each answer and its
// statement count, and reports the metrics. A wrong answer stops the
// benchmark at once; statement counts over the mode's limit fail it after
// the metrics are logged.
func (e *benchEnv) measure(b *testing.B, s *benchServer, m benchMode, query string, ref []byte, workers int) {
	var failed atomic.Pointer[error] // the first wrong answer
	var violations atomic.Int64      // requests over the statement limit
	var violation atomic.Pointer[error]
	var maxSQL, splits atomic.Int64
	one := func(i int, lat []time.Duration, measured bool) {
		start := time.Now()
		id, body, err := e.post(s, query)
		lat[i] = time.Since(start)
		stmts := s.sql.take(id)
		switch {
		case err != nil:
			failed.CompareAndSwap(nil, &err)
		default:
			if data, err := answerData(body); err != nil {
				failed.CompareAndSwap(nil, &err)
			} else if !bytes.Equal(data, ref) {
				err := fmt.Errorf("answer differs from the uncached server's: %s", diffAt(data, ref))
				failed.CompareAndSwap(nil, &err)
			}
		}
		if !measured {
			return
		}
		for cur := maxSQL.Load(); int64(len(stmts)) > cur && !maxSQL.CompareAndSwap(cur, int64(len(stmts))); cur = maxSQL.Load() {
		}
		if m.levels > 0 && len(stmts) > m.levels {
			splits.Add(1)
		}
		if err := m.check(stmts); err != nil {
			violations.Add(1)
			err = fmt.Errorf("request %d: %w", i, err)
			violation.CompareAndSwap(nil, &err)
		}
	}

	warm := make([]time.Duration, 3)
	for i := range warm {
		one(i, warm, false) // the first ones fill the cache
	}
	if err := failed.Load(); err != nil {
		b.Fatalf("warm-up: %v", *err)
	}

	lat := make([]time.Duration, b.N)
	sql0, unattributed0 := s.sql.total.Load(), s.sql.unattributed.Load()
	rt0, rtErr0 := s.rt.load(), s.rt.failures()
	app0, appErr := bench.ProcTicks(os.Getpid())
	rm0 := readRuntime()
	mach0, machErr := bench.MachineTicks()
	wall0 := time.Now()
	cpu0, db0 := postgresTicks(), e.dbBackendCPU(b)
	var elapsed time.Duration
	b.ResetTimer()
	switch {
	case m.cold:
		for next := 0; next < b.N; {
			b.StopTimer()
			e.flush(b, s.prefix)
			b.StartTimer()
			n := min(workers, b.N-next)
			start := time.Now()
			var wg sync.WaitGroup
			for i := next; i < next+n; i++ {
				wg.Go(func() { one(i, lat, true) })
			}
			wg.Wait()
			elapsed += time.Since(start)
			next += n
		}
	default:
		start := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < b.N; i = int(next.Add(1)) - 1 {
					one(i, lat, true)
				}
			})
		}
		wg.Wait()
		elapsed = time.Since(start)
	}
	b.StopTimer()
	cpu1, db1 := postgresTicks(), e.dbBackendCPU(b)
	rt1, rtErr1 := s.rt.load(), s.rt.failures()
	app1, _ := bench.ProcTicks(os.Getpid())
	rm1 := readRuntime()
	mach1, _ := bench.MachineTicks()
	wall := time.Since(wall0)
	if err := failed.Load(); err != nil {
		b.Fatalf("%s: %v", m.name, *err)
	}
	if n := s.sql.unattributed.Load() - unattributed0; n > 0 {
		b.Fatalf("%d SQL statements carried no request id: the per-request counts are incomplete", n)
	}

	n := float64(b.N)
	slices.Sort(lat)
	type metric struct {
		v    float64
		unit string
	}
	metrics := []metric{
		{n / elapsed.Seconds(), "req/s"},
		{ms(percentile(lat, 0.50)), "p50-ms"},
		{ms(percentile(lat, 0.99)), "p99-ms"},
		{float64(s.sql.total.Load()-sql0) / n, "sql/req"},
		{float64(maxSQL.Load()), "sql-max"},
		{float64(rt1-rt0) / n, "redis/req"},
	}
	if s.rt != nil {
		var fails int64
		for cause, k := range rtErr1 {
			fails += k - rtErr0[cause]
		}
		metrics = append(metrics, metric{float64(fails), "redis-fails"})
	}
	if m.levels > 0 {
		metrics = append(metrics, metric{100 * float64(splits.Load()) / n, "split-%"})
	}
	if cpu0 != nil {
		metrics = append(metrics, metric{float64(cpuDelta(cpu0, cpu1)) * 1000 / clockTicks / n, "pgcpu-ms/req"})
	}
	if db0 != nil {
		metrics = append(metrics, metric{float64(cpuDelta(db0, db1)) / 1e6 / n, "pgcpu-db-ms/req"})
	}
	if appErr == nil {
		metrics = append(metrics, metric{float64(app1-app0) * 1000 / clockTicks / n, "gocpu-ms/req"})
	}
	if cpu := rm1.cpu - rm0.cpu; cpu > 0 {
		metrics = append(metrics, metric{100 * (rm1.gcCPU - rm0.gcCPU) / cpu, "gc-cpu-%"})
	}
	metrics = append(metrics,
		metric{float64(rm1.allocs-rm0.allocs) / n, "allocs/req"},
		metric{float64(rm1.allocBytes-rm0.allocBytes) / 1024 / n, "alloc-KiB/req"})
	if machErr == nil && appErr == nil && db0 != nil {
		// Busy ticks of the whole machine less this process and the
		// benchmark's backends, as a share of every core over the run: how
		// much the rest of the machine competed (Redis counts as rest).
		capacity := wall.Seconds() * clockTicks * float64(runtime.NumCPU())
		other := float64(mach1-mach0) - float64(app1-app0) - float64(cpuDelta(db0, db1))/1e9*clockTicks
		metrics = append(metrics, metric{max(0, 100*other/capacity), "other-cpu-%"})
	}
	var line strings.Builder
	for _, x := range metrics {
		b.ReportMetric(x.v, x.unit)
		fmt.Fprintf(&line, " %.4g %s", x.v, x.unit)
	}
	e.mu.Lock()
	e.calls[b]++
	probe := e.calls[b] == 1 && b.N == 1
	e.mu.Unlock()
	if v := violations.Load(); v > 0 && probe {
		// The testing package's first call, with b.N = 1, only sizes
		// the runs; failing it would leave no measured run at all.
		b.Logf("probe request: %v (checked again in the measured runs)", *violation.Load())
	} else if v > 0 {
		b.Logf("N=%d%s", b.N, line.String())
		why := ""
		for cause, k := range rtErr1 {
			if k -= rtErr0[cause]; k > 0 {
				why += fmt.Sprintf("; %d Redis round trips failed (%s), served from PostgreSQL", k, cause)
			}
		}
		if s.cache != nil && s.cache.Breaker() != "closed" {
			why += "; Redis breaker " + s.cache.Breaker()
		}
		// A statement target missed is a measurement to report, not a broken
		// benchmark: the numbers above still print (answers are checked for
		// correctness separately and do fail the run).
		b.Logf("TARGET MISSED %s: %d of %d requests over the statement limit, first: %v%s", m.name, v, b.N, *violation.Load(), why)
	}
}

// answerData returns the data member of a GraphQL answer, or an error when
// the answer has errors. Extensions (such as a cost report) may differ
// between requests and are not compared.
func answerData(body []byte) (json.RawMessage, error) {
	var r struct {
		Data   json.RawMessage
		Errors json.RawMessage
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("answer is not JSON: %w: %s", err, snippet(body))
	}
	if len(r.Errors) > 0 && string(r.Errors) != "null" {
		return nil, fmt.Errorf("answer has errors: %s", snippet(body))
	}
	return r.Data, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentile is the nearest-rank percentile of sorted latencies.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func snippet(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// diffAt shows where two answers part.
func diffAt(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(0, i-80)
	return fmt.Sprintf("at byte %d: got …%s… want …%s…", i, got[from:min(len(got), i+80)], want[from:min(len(want), i+80)])
}

// stmtCounter is a pgx.QueryTracer that counts statements, in total and per
// request id (the server keeps the X-Request-Id the client sends, so each
// request's statements are known even with concurrent requests).
type stmtCounter struct {
	total        atomic.Int64
	unattributed atomic.Int64
	mu           sync.Mutex
	byReq        map[string][]string // the table each statement reads first
}

func (c *stmtCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.total.Add(1)
	if id := requestid.From(ctx); id != "" {
		c.mu.Lock()
		c.byReq[id] = append(c.byReq[id], fromTable(d.SQL))
		c.mu.Unlock()
	} else {
		c.unattributed.Add(1)
	}
	return ctx
}

func (c *stmtCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *stmtCounter) TraceBatchStart(ctx context.Context, conn *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	for _, q := range d.Batch.QueuedQueries {
		c.TraceQueryStart(ctx, conn, pgx.TraceQueryStartData{SQL: q.SQL, Args: q.Arguments})
	}
	return ctx
}
func (c *stmtCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (c *stmtCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// take returns and forgets the statements of request id.
func (c *stmtCounter) take(id string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.byReq[id]
	delete(c.byReq, id)
	return s
}

// fromTable names the first table a statement reads FROM (not a function
// such as unnest), to tell statements apart in failure messages.
func fromTable(sql string) string {
	upper := strings.ToUpper(sql)
	for i := strings.Index(upper, "FROM "); i >= 0; {
		if f := strings.Fields(sql[i+5:]); len(f) > 0 && !strings.ContainsAny(f[0], "()") {
			return f[0]
		}
		j := strings.Index(upper[i+5:], "FROM ")
		if j < 0 {
			break
		}
		i += 5 + j
	}
	return "?"
}

// roundTripCounter is a go-redis hook counting round trips: one per
// command, one per pipeline. The commands go-redis sends on a new
// connection (HELLO, CLIENT SETINFO) are counted apart, as setups: they are
// the pool growing, not the cache's work. Failed round trips are counted
// by cause.
type roundTripCounter struct {
	n, setups atomic.Int64
	mu        sync.Mutex
	errs      map[string]int64
}

func (h *roundTripCounter) load() int64 {
	if h == nil {
		return 0
	}
	return h.n.Load()
}

// failures returns the failed round trips by cause.
func (h *roundTripCounter) failures() map[string]int64 {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.errs)
}

func (h *roundTripCounter) done(err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		return err
	}
	cause := err.Error()
	if ne, ok := err.(net.Error); (ok && ne.Timeout()) || errors.Is(err, context.DeadlineExceeded) {
		cause = "timeout"
	}
	h.mu.Lock()
	if h.errs == nil {
		h.errs = map[string]int64{}
	}
	h.errs[cause]++
	h.mu.Unlock()
	return err
}

func setupCmd(c redis.Cmder) bool {
	switch c.Name() {
	case "hello", "auth", "select", "client", "readonly":
		return true
	}
	return false
}

func (h *roundTripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if setupCmd(cmd) {
			h.setups.Add(1)
			return next(ctx, cmd)
		}
		h.n.Add(1)
		return h.done(next(ctx, cmd))
	}
}

func (h *roundTripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && setupCmd(cmds[0]) {
			h.setups.Add(1)
			return next(ctx, cmds)
		}
		h.n.Add(1)
		return h.done(next(ctx, cmds))
	}
}

// postgresTicks returns utime+stime (clock ticks) of every process named
// postgres, by pid; nil where /proc is missing.
func postgresTicks() map[int]int64 {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	out := map[int]int64{}
	for _, d := range entries {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile("/proc/" + d.Name() + "/comm")
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		if t, err := bench.ProcTicks(pid); err == nil {
			out[pid] = t
		}
	}
	return out
}

// dbBackendCPU returns the on-CPU nanoseconds (/proc/<pid>/schedstat) of
// the backends connected to the benchmark's database, by pid; nil where
// /proc is missing. Only the servers of the benchmark connect there.
func (e *benchEnv) dbBackendCPU(b *testing.B) map[int]int64 {
	if _, err := os.Stat("/proc/self/schedstat"); err != nil {
		return nil
	}
	rows, err := e.admin.Query(context.Background(), "SELECT pid FROM pg_stat_activity WHERE datname = $1", e.dbName)
	if err != nil {
		b.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		b.Fatal(err)
	}
	out := map[int]int64{}
	for _, pid := range pids {
		if ns, err := bench.SchedNanos(int(pid)); err == nil { // else gone, or not on this machine
			out[int(pid)] = ns
		}
	}
	return out
}

// cpuDelta sums the growth of each process alive at the end; one that
// started in between counts whole, one that ended is lost (never negative).
func cpuDelta(before, after map[int]int64) int64 {
	var d int64
	for pid, v := range after {
		d += max(0, v-before[pid])
	}
	return d
}
