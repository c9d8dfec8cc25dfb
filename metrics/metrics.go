// Package metrics exposes the server's Prometheus metrics: GraphQL operations
// by name and outcome with latency, loader batch sizes, SQL statements per
// operation, each pool's pgxpool.Stat, the cache's counters per kind and its
// breaker, and the Go runtime.
package metrics

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/herotasks/api/cache"
	"github.com/herotasks/api/cost"
	"github.com/herotasks/api/respcache"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics owns a registry and the server's instruments.
type Metrics struct {
	reg        *prometheus.Registry
	ops        *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	statements prometheus.Histogram
	noSQL      *prometheus.CounterVec
	cost       *prometheus.HistogramVec
	batches    *prometheus.HistogramVec
	serial     prometheus.Counter
}

// New registers the instruments, the Go runtime and process collectors, and
// collectors for the pools and the cache (either may be nil).
func New(pools map[string]*pgxpool.Pool, c *cache.Cache) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "herotasks_graphql_operations_total",
			Help: "GraphQL operations by name, type and outcome (ok or the first error code)."}, []string{"operation", "type", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "herotasks_graphql_operation_duration_seconds",
			Help: "GraphQL operation latency.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}, []string{"operation", "type"}),
		statements: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "herotasks_sql_statements_per_operation",
			Help: "SQL statements one GraphQL operation sent.", Buckets: []float64{0, 1, 2, 3, 5, 8, 13, 21, 50, 100, 300}}),
		noSQL: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "herotasks_graphql_operations_without_sql_total",
			Help: "GraphQL operations, by type, that sent no SQL statement (answered from the caches, or needing no data); " +
				"with herotasks_graphql_operations_total, the share of reads the caches kept from PostgreSQL."}, []string{"type"}),
		cost: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "herotasks_graphql_query_cost",
			Help:    "Query cost of executed operations: requested (static analysis) and actual (from the returned data).",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9)}, []string{"type", "kind"}),
		batches: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "herotasks_loader_batch_size",
			Help: "Keys per dataloader batch.", Buckets: prometheus.ExponentialBuckets(1, 2, 10)}, []string{"loader"}),
		serial: prometheus.NewCounter(prometheus.CounterOpts{Name: "herotasks_graphql_serial_operations_total",
			Help: "Operations executed serially: every level they read was loaded ahead (graph/serial.go)."}),
	}
	m.reg.MustRegister(m.ops, m.duration, m.statements, m.noSQL, m.cost, m.batches, m.serial,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if len(pools) > 0 {
		m.reg.MustRegister(poolCollector(pools))
	}
	if c != nil {
		m.reg.MustRegister(cacheCollector{c})
	}
	return m
}

// Handler serves the registry at /metrics.
func (m *Metrics) Handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }

// ObserveBatch records one loader batch (loaders.Options.Observe).
func (m *Metrics) ObserveBatch(loader string, keys int) {
	m.batches.WithLabelValues(loader).Observe(float64(keys))
}

// ObserveSerial counts an operation that runs serially.
func (m *Metrics) ObserveSerial() { m.serial.Inc() }

type counterKey struct{}

// Tracer counts statements per operation: wrap the pool's tracer with it.
// A statement counts against the operation whose context it was sent
// with (the extension puts the counter there, and the loaders, the caches'
// fills and the resolvers all derive theirs from it); the bearer-token
// check runs before the operation and is not counted.
type Tracer struct{}

// TraceQueryStart counts the statement against the operation in ctx.
func (Tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	if n, ok := ctx.Value(counterKey{}).(*atomic.Int64); ok {
		n.Add(1)
	}
	return ctx
}

// TraceQueryEnd does nothing.
func (Tracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TraceBatchStart counts every statement of a pipeline (a write's BEGIN
// goes out with its first statement, its COMMIT with its last).
func (Tracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	if n, ok := ctx.Value(counterKey{}).(*atomic.Int64); ok {
		n.Add(int64(d.Batch.Len()))
	}
	return ctx
}

// TraceBatchQuery does nothing.
func (Tracer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

// TraceBatchEnd does nothing.
func (Tracer) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// Extension is the gqlgen extension that measures operations that pass
// validation and the cost analyzer (a rejected operation never reaches
// gqlgen's operation interceptors; the access log records it).
func (m *Metrics) Extension() graphql.HandlerExtension { return extension{m} }

type extension struct{ m *Metrics }

func (extension) ExtensionName() string                   { return "Metrics" }
func (extension) Validate(graphql.ExecutableSchema) error { return nil }
func (e extension) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	var n atomic.Int64
	start := time.Now()
	h := next(context.WithValue(ctx, counterKey{}, &n))
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		if resp == nil {
			return nil
		}
		oc := graphql.GetOperationContext(ctx)
		name, typ := oc.OperationName, "unknown"
		if oc.Operation != nil {
			typ = string(oc.Operation.Operation)
			if name == "" {
				name = oc.Operation.Name
			}
		}
		if name == "" {
			name = "anonymous"
		}
		outcome := "ok"
		if len(resp.Errors) > 0 {
			outcome = "error"
			if code, ok := resp.Errors[0].Extensions["code"].(string); ok {
				outcome = code
			}
		}
		e.m.ops.WithLabelValues(name, typ, outcome).Inc()
		e.m.duration.WithLabelValues(name, typ).Observe(time.Since(start).Seconds())
		e.m.statements.Observe(float64(n.Load()))
		if n.Load() == 0 {
			e.m.noSQL.WithLabelValues(typ).Inc()
		}
		if rep, ok := resp.Extensions["cost"].(cost.Report); ok {
			e.m.cost.WithLabelValues(typ, "requested").Observe(float64(rep.RequestedQueryCost))
			if rep.ActualQueryCost != nil {
				e.m.cost.WithLabelValues(typ, "actual").Observe(float64(*rep.ActualQueryCost))
			}
		}
		return resp
	}
}

// poolCollector reports each pool's pgxpool.Stat under its name.
type poolCollector map[string]*pgxpool.Pool

var poolDescs = map[string]*prometheus.Desc{
	"acquired":     prometheus.NewDesc("herotasks_pool_acquired_connections", "Connections in use.", []string{"pool"}, nil),
	"idle":         prometheus.NewDesc("herotasks_pool_idle_connections", "Idle connections.", []string{"pool"}, nil),
	"total":        prometheus.NewDesc("herotasks_pool_total_connections", "All connections.", []string{"pool"}, nil),
	"max":          prometheus.NewDesc("herotasks_pool_max_connections", "Pool size limit.", []string{"pool"}, nil),
	"acquires":     prometheus.NewDesc("herotasks_pool_acquires_total", "Successful acquires.", []string{"pool"}, nil),
	"empty":        prometheus.NewDesc("herotasks_pool_empty_acquires_total", "Acquires that had to wait for a connection.", []string{"pool"}, nil),
	"wait_seconds": prometheus.NewDesc("herotasks_pool_acquire_wait_seconds_total", "Time spent waiting for connections.", []string{"pool"}, nil),
	"canceled":     prometheus.NewDesc("herotasks_pool_canceled_acquires_total", "Acquires cancelled by their context.", []string{"pool"}, nil),
}

func (p poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range poolDescs {
		ch <- d
	}
}

func (p poolCollector) Collect(ch chan<- prometheus.Metric) {
	for name, pool := range p {
		collectPool(ch, name, pool.Stat())
	}
}

func collectPool(ch chan<- prometheus.Metric, name string, s *pgxpool.Stat) {
	g := func(k string, v float64) {
		ch <- prometheus.MustNewConstMetric(poolDescs[k], prometheus.GaugeValue, v, name)
	}
	c := func(k string, v float64) {
		ch <- prometheus.MustNewConstMetric(poolDescs[k], prometheus.CounterValue, v, name)
	}
	g("acquired", float64(s.AcquiredConns()))
	g("idle", float64(s.IdleConns()))
	g("total", float64(s.TotalConns()))
	g("max", float64(s.MaxConns()))
	c("acquires", float64(s.AcquireCount()))
	c("empty", float64(s.EmptyAcquireCount()))
	c("wait_seconds", s.AcquireDuration().Seconds())
	c("canceled", float64(s.CanceledAcquireCount()))
}

// Replica is the read replica's state and counters.
type Replica struct {
	Configured bool
	Up         bool
	Reads      int64 // reads served by the replica
	Fallbacks  int64 // replica reads retried on the primary
}

// WatchReplica reports the read replica's state and counters from stats.
func (m *Metrics) WatchReplica(stats func() Replica) {
	m.reg.MustRegister(replicaCollector(stats))
}

type replicaCollector func() Replica

var (
	replicaUp = prometheus.NewDesc("herotasks_replica_up",
		"1 while the read replica answers and serves reads; 0 while reads fall back to the primary.", nil, nil)
	replicaReads     = prometheus.NewDesc("herotasks_replica_reads_total", "Reads served by the replica.", nil, nil)
	replicaFallbacks = prometheus.NewDesc("herotasks_replica_fallbacks_total",
		"Replica reads that failed because it was unreachable and were retried on the primary.", nil, nil)
)

func (replicaCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- replicaUp
	ch <- replicaReads
	ch <- replicaFallbacks
}

func (f replicaCollector) Collect(ch chan<- prometheus.Metric) {
	s := f()
	if !s.Configured {
		return
	}
	up := 0.0
	if s.Up {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(replicaUp, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(replicaReads, prometheus.CounterValue, float64(s.Reads))
	ch <- prometheus.MustNewConstMetric(replicaFallbacks, prometheus.CounterValue, float64(s.Fallbacks))
}

// WatchResponseCache reports the response cache's counters.
func (m *Metrics) WatchResponseCache(stats func() *respcache.Stats) {
	m.reg.MustRegister(respCollector(stats))
}

type respCollector func() *respcache.Stats

var respEvents = prometheus.NewDesc("herotasks_response_cache_events_total",
	"Whole-response cache hits, misses, stores, skips (a token could not be read or changed mid-operation), tag invalidations, Redis errors, stale answers served while PostgreSQL was unreachable, and bypasses (operations sent around the cache for a poor hit ratio).",
	[]string{"event"}, nil)

func (respCollector) Describe(ch chan<- *prometheus.Desc) { ch <- respEvents }

func (f respCollector) Collect(ch chan<- prometheus.Metric) {
	s := f()
	for name, v := range map[string]int64{"hit": s.Hits.Load(), "miss": s.Misses.Load(), "store": s.Stores.Load(),
		"skip": s.Skips.Load(), "invalidation": s.Invalidations.Load(), "error": s.Errors.Load(), "stale": s.Stale.Load(),
		"bypass": s.Bypasses.Load()} {
		ch <- prometheus.MustNewConstMetric(respEvents, prometheus.CounterValue, float64(v), name)
	}
}

// WatchNodeMemo reports the tasks written from memory (hit), rendered and
// kept (miss), and rendered without the memo (skip) (graph.NodeMemo).
func (m *Metrics) WatchNodeMemo(stats func() (hits, misses, skips int64)) {
	m.reg.MustRegister(memoCollector(stats))
}

type memoCollector func() (hits, misses, skips int64)

var memoEvents = prometheus.NewDesc("herotasks_rendered_nodes_total",
	"Tasks written from the rendered-task memo (hit), rendered and kept (miss), or rendered without it from a value read for one request (skip).",
	[]string{"event"}, nil)

func (memoCollector) Describe(ch chan<- *prometheus.Desc) { ch <- memoEvents }

func (f memoCollector) Collect(ch chan<- prometheus.Metric) {
	hits, misses, skips := f()
	ch <- prometheus.MustNewConstMetric(memoEvents, prometheus.CounterValue, float64(hits), "hit")
	ch <- prometheus.MustNewConstMetric(memoEvents, prometheus.CounterValue, float64(misses), "miss")
	ch <- prometheus.MustNewConstMetric(memoEvents, prometheus.CounterValue, float64(skips), "skip")
}

// cacheCollector reports the cache's counters and breaker.
type cacheCollector struct{ c *cache.Cache }

var (
	cacheEvents = prometheus.NewDesc("herotasks_cache_events_total", "Cache hits, misses, fills, errors and invalidations by kind.",
		[]string{"kind", "type", "event"}, nil)
	cacheBreaker = prometheus.NewDesc("herotasks_cache_breaker_open", "1 while the Redis circuit breaker is open or half-open.", nil, nil)
	cacheEpochs  = prometheus.NewDesc("herotasks_cache_epoch_bumps_total", "Times this instance retired every cached entry.", nil, nil)
)

func (cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- cacheEvents
	ch <- cacheBreaker
	ch <- cacheEpochs
}

func (cc cacheCollector) Collect(ch chan<- prometheus.Metric) {
	st := cc.c.Stats()
	for _, k := range st.Snapshot() {
		for event, v := range map[string]int64{"hit": k.Hits, "miss": k.Misses, "fill": k.Fills, "error": k.Errors, "invalidation": k.Invalidations} {
			ch <- prometheus.MustNewConstMetric(cacheEvents, prometheus.CounterValue, float64(v), k.Kind, k.Type, event)
		}
	}
	open := 0.0
	if cc.c.Breaker() != "closed" {
		open = 1
	}
	ch <- prometheus.MustNewConstMetric(cacheBreaker, prometheus.GaugeValue, open)
	ch <- prometheus.MustNewConstMetric(cacheEpochs, prometheus.CounterValue, float64(st.EpochBumps()))
}
