package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
const clockTicks = 100

// Probes read what a run cost outside the load generator. Every field is
// optional.
type Probes struct {
	ServerPID int           // the server under load (its CPU and RSS)
	PG        *pgx.Conn     // on the benchmark database: statements and backend CPU
	Redis     *redis.Client // the server's Redis: commands (INFO commandstats)
	RedisPID  int           // the redis-server process, when it is ours
	// MetricsURL is the server's Prometheus endpoint (Hero Tasks' /metrics):
	// its cache events and statement counts go into Result.ServerMetrics.
	MetricsURL string
}

// snapshot is the counters at one instant.
type snapshot struct {
	at          time.Time
	server      int64         // ticks
	pgCalls     int64         // -1: unknown
	pgCPU       map[int]int64 // backend pid → on-CPU ns
	redisCalls  int64         // -1: unknown
	redisTicks  int64
	self        int64 // ticks of this process
	machineBusy int64 // ticks of every core
	metrics     map[string]float64
}

// pgCallsSQL sums the statements run on this database, leaving out the
// probes' own (they name pg_stat_* views). pg_stat_statements is installed
// by migration 00003 and loaded by scripts/services.sh.
const pgCallsSQL = `SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT LIKE '%pg_stat%'`

func (p *Probes) take(ctx context.Context) (snapshot, error) {
	s := snapshot{at: time.Now(), pgCalls: -1, redisCalls: -1}
	if p.ServerPID > 0 {
		s.server, _ = ProcTicks(p.ServerPID)
	}
	if p.PG != nil {
		if err := p.PG.QueryRow(ctx, pgCallsSQL).Scan(&s.pgCalls); err != nil {
			s.pgCalls = -1 // pg_stat_statements not loaded: no statement counts
		}
		pids, err := backendPIDs(ctx, p.PG)
		if err != nil {
			return s, err
		}
		s.pgCPU = map[int]int64{}
		for _, pid := range pids {
			if ns, err := SchedNanos(pid); err == nil {
				s.pgCPU[pid] = ns
			}
		}
	}
	if p.Redis != nil {
		info, err := p.Redis.Info(ctx, "commandstats").Result()
		if err != nil {
			return s, fmt.Errorf("redis INFO commandstats: %w", err)
		}
		s.redisCalls = CommandCalls(info)
	}
	if p.RedisPID > 0 {
		s.redisTicks, _ = ProcTicks(p.RedisPID)
	}
	s.self, _ = ProcTicks(os.Getpid())
	s.machineBusy, _ = MachineTicks()
	if p.MetricsURL != "" {
		var err error
		if s.metrics, err = scrape(ctx, p.MetricsURL); err != nil {
			return s, err
		}
	}
	return s, nil
}

// serverMetrics are the counters of Hero Tasks' /metrics that explain a
// run, summed over every label but event: cache events of the entity cache
// (all kinds) and of the response cache, the statements the server itself
// counted per operation, the tasks of pages written from memory or rendered, the acquires that waited for a connection and the
// time acquires took (every pool), and the garbage collector's cycles and
// stop-the-world seconds: what to look at when a tail latency is high.
// scrape adds the queries (operations of type query: "queries", and those
// that sent no SQL statement: "queries_without_sql") and the entity cache's
// events per kind ("entity_cache:<kind>:<event>").
var serverMetrics = map[string]string{
	"herotasks_cache_events_total":                   "entity_cache_",
	"herotasks_cache_epoch_bumps_total":              "entity_cache_epoch_bumps",
	"herotasks_response_cache_events_total":          "response_cache_",
	"herotasks_rendered_nodes_total":                 "rendered_nodes_",
	"herotasks_sql_statements_per_operation_sum":     "sql_statements",
	"herotasks_graphql_operations_total":             "operations",
	"herotasks_graphql_operations_without_sql_total": "operations_without_sql",
	"herotasks_pool_empty_acquires_total":            "pool_waits",
	"herotasks_pool_acquire_wait_seconds_total":      "pool_acquire_seconds",
	"go_gc_duration_seconds_count":                   "gc_cycles",
	"go_gc_duration_seconds_sum":                     "gc_pause_seconds",
}

// scrape reads the counters of serverMetrics from a Prometheus text page.
func scrape(ctx context.Context, url string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: status %d", res.StatusCode)
	}
	return parseMetrics(res.Body)
}

// parseMetrics reads the counters of serverMetrics from a Prometheus text
// page.
func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		series, value := line[:i], line[i+1:]
		name, labels, _ := strings.Cut(series, "{")
		prefix, ok := serverMetrics[name]
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		key := prefix
		if strings.HasSuffix(prefix, "_") {
			key += labelValue(labels, "event")
		}
		out[key] += v
		switch name {
		case "herotasks_cache_events_total":
			out["entity_cache:"+labelValue(labels, "kind")+":"+labelValue(labels, "event")] += v
		case "herotasks_graphql_operations_total":
			if labelValue(labels, "type") == "query" {
				out["queries"] += v
			}
		case "herotasks_graphql_operations_without_sql_total":
			if labelValue(labels, "type") == "query" {
				out["queries_without_sql"] += v
			}
		}
	}
	return out, sc.Err()
}

// labelValue returns the value of label name in `a="x",b="y"}`.
func labelValue(labels, name string) string {
	_, rest, ok := strings.Cut(labels, name+`="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// backendPIDs lists the backends connected to conn's database, less conn's
// own.
func backendPIDs(ctx context.Context, conn *pgx.Conn) ([]int, error) {
	rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	if err != nil {
		return nil, fmt.Errorf("pg_stat_activity: %w", err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	out := make([]int, len(pids))
	for i, p := range pids {
		out[i] = int(p)
	}
	return out, err
}

// fill sets res's per-request figures from two snapshots.
func (p *Probes) fill(res *Result, a, b snapshot, peakRSS int64) {
	n := float64(res.Requests)
	wall := b.at.Sub(a.at).Seconds()
	perReqMs := func(ticks int64) *float64 { return ptr(float64(ticks) * 1000 / clockTicks / n) }
	var used int64 // ticks accounted to the measured parties
	if p.ServerPID > 0 && b.server > 0 {
		res.ServerCPUPerReq = perReqMs(b.server - a.server)
		res.ServerCores = ptr(float64(b.server-a.server) / clockTicks / wall)
		if p.ServerPID != os.Getpid() {
			used += b.server - a.server
		}
		if rss, err := RSS(p.ServerPID); err == nil {
			res.ServerRSSMB = ptr(float64(rss) / (1 << 20))
		}
		if peakRSS > 0 {
			res.ServerPeakRSSMB = ptr(float64(peakRSS) / (1 << 20))
		}
	}
	if a.pgCalls >= 0 && b.pgCalls >= 0 {
		res.SQLPerReq = ptr(float64(b.pgCalls-a.pgCalls) / n)
	}
	if b.pgCPU != nil {
		var ns int64
		for pid, v := range b.pgCPU {
			ns += max(0, v-a.pgCPU[pid]) // a backend that started meanwhile counts whole
		}
		res.PGCPUPerReq = ptr(float64(ns) / 1e6 / n)
		used += ns * clockTicks / 1e9
	}
	if a.redisCalls >= 0 && b.redisCalls >= 0 {
		res.RedisPerReq = ptr(float64(b.redisCalls-a.redisCalls) / n)
	}
	if p.RedisPID > 0 && b.redisTicks > 0 {
		res.RedisCPUPerReq = perReqMs(b.redisTicks - a.redisTicks)
		used += b.redisTicks - a.redisTicks
	}
	if b.self > 0 {
		res.ClientCPUPerReq = perReqMs(b.self - a.self)
		used += b.self - a.self
	}
	if a.metrics != nil && b.metrics != nil {
		res.ServerMetrics = map[string]float64{}
		for k, v := range b.metrics {
			res.ServerMetrics[k] = (v - a.metrics[k]) / n
		}
	}
	if b.machineBusy > 0 && wall > 0 {
		capacity := wall * clockTicks * float64(runtime.NumCPU())
		res.OtherCPUPct = ptr(max(0, 100*float64(b.machineBusy-a.machineBusy-used)/capacity))
	}
}

func ptr(v float64) *float64 { return &v }

// sampleRSS records the highest RSS of pid every 100 ms until stop closes.
func sampleRSS(pid int, peak *atomic.Int64, stop <-chan struct{}) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if rss, err := RSS(pid); err == nil && rss > peak.Load() {
			peak.Store(rss)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// CommandCalls sums calls= over the cmdstat_ lines of INFO commandstats,
// leaving out INFO itself (the probe's own).
func CommandCalls(info string) int64 {
	var total int64
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") || name == "cmdstat_info" {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				total += n
			}
		}
	}
	return total
}

// ProcTicks reads utime+stime, fields 14 and 15 of /proc/<pid>/stat.
func ProcTicks(pid int) (int64, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // f[0] is field 3
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	return u + st, errors.Join(err1, err2)
}

// SchedNanos reads the on-CPU nanoseconds of /proc/<pid>/schedstat (finer
// than the stat ticks, which matter for short backends' bursts).
func SchedNanos(pid int) (int64, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/schedstat")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(raw))
	if len(f) == 0 {
		return 0, errors.New("empty schedstat")
	}
	return strconv.ParseInt(f[0], 10, 64)
}

// RSS reads VmRSS of /proc/<pid>/status, in bytes.
func RSS(pid int) (int64, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// MachineTicks returns the busy clock ticks of all cores (/proc/stat: every
// state but idle and iowait; guest time is already in user).
func MachineTicks() (int64, error) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, errors.New("unexpected /proc/stat")
	}
	var busy int64
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, err
		}
		if i != 3 && i != 4 && i < 8 {
			busy += n
		}
	}
	return busy, nil
}
