// Package bench is the load generator and the measurements behind
// `make bench` and `make bench-peers` (cmd/herobench): closed-loop clients
// that send GraphQL requests to a running server for a fixed time, exact
// latency percentiles from every sample, and what each request cost the
// server process, PostgreSQL (statements from pg_stat_statements, CPU of
// the benchmark database's backends) and Redis (INFO commandstats).
//
// Closed loop: each of N clients sends its next request when the previous
// answer has been read, so the numbers are throughput at N requests in
// flight and the latency each of them saw (no coordinated-omission
// correction is needed: nothing is scheduled at a fixed rate).
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Request is one GraphQL request.
type Request struct {
	Query     string         `json:"query"`
	Variables map[string]any `json:"variables,omitempty"`
}

// Scenario is one kind of work. Step sends one request (or does one unit
// of work) through c and returns the answer's body; the generator times
// each Step. Check, when set, validates an answer fully and returns a
// short description of what it held (as "50 tasks, 256 subtasks"); it runs
// on every warm-up answer and on every CheckEvery-th measured one (a cheap
// check, HTTP 200 and no "errors" member, runs on all of them).
type Scenario struct {
	Name   string
	Config string // the server configuration it ran against, for the report
	Step   func(ctx context.Context, c *Client, rng *rand.Rand) ([]byte, error)
	Check  func(body []byte) (string, error)
	// Coherence, when set, is the read/write mix whose coherence counters
	// go into the result (Mix, Frontend).
	Coherence Coherence
}

// Coherence is a mix that checks its reads against its writes: reset when
// the measured time starts, result at its end.
type Coherence interface {
	reset()
	result() MixResult
}

// Simple is a scenario sending the request next returns, answered by one
// POST each.
func Simple(name string, next func(rng *rand.Rand) Request, check func([]byte) (string, error)) Scenario {
	return Scenario{Name: name, Check: check,
		Step: func(ctx context.Context, c *Client, rng *rand.Rand) ([]byte, error) { return c.Do(ctx, next(rng)) }}
}

// Client posts GraphQL requests to one endpoint. It uses fasthttp, whose
// client writes the request and reads the answer on the calling goroutine:
// the load generator shares the machine's cores with what it measures, and
// net/http's transport spent a third of its CPU on its per-connection read
// and write goroutines and their hand-offs.
type Client struct {
	URL   string
	Token string // bearer token; empty: anonymous
	HTTP  *fasthttp.Client
}

// NewClient returns a client keeping up to conns connections to url.
func NewClient(url, token string, conns int) *Client {
	return &Client{URL: url, Token: token, HTTP: &fasthttp.Client{
		MaxConnsPerHost: conns, ReadTimeout: time.Minute, WriteTimeout: time.Minute,
		MaxIdleConnDuration: time.Minute, NoDefaultUserAgentHeader: true,
		// Wait for a connection instead of failing when all are busy.
		MaxConnWaitTimeout: time.Minute,
	}}
}

var errorsMember = []byte(`"errors":`)

// Do posts r and returns the body of a 200 answer without an errors
// member; anything else is an error quoting the start of the body. The
// request is not interrupted by ctx (it ends within the client's timeouts);
// ctx's deadline, when earlier, bounds it.
func (c *Client) Do(ctx context.Context, r Request) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.SetRequestURI(c.URL)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	req.SetBodyRaw(payload)
	if d, ok := ctx.Deadline(); ok {
		err = c.HTTP.DoDeadline(req, res, d)
	} else {
		err = c.HTTP.Do(req, res)
	}
	if err != nil {
		return nil, err
	}
	body := bytes.Clone(res.Body()) // res is reused once released
	switch {
	case res.StatusCode() != fasthttp.StatusOK:
		return body, fmt.Errorf("status %d: %s", res.StatusCode(), Snippet(body))
	case bytes.Contains(body, errorsMember):
		return body, fmt.Errorf("answer has errors: %s", Snippet(body))
	}
	return body, nil
}

// Snippet is the start of b, for error messages.
func Snippet(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// Options size one run.
type Options struct {
	Clients    int           // concurrent clients (default 16)
	Warmup     time.Duration // untimed, every answer checked (default 2 s)
	Duration   time.Duration // measured (default 10 s)
	CheckEvery int           // full check of every n-th measured answer (default 64)
	Probes     *Probes       // nil: latencies and throughput only
}

func (o *Options) defaults() {
	if o.Clients <= 0 {
		o.Clients = 16
	}
	if o.Warmup < 0 {
		o.Warmup = 0
	} else if o.Warmup == 0 {
		o.Warmup = 2 * time.Second
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.CheckEvery <= 0 {
		o.CheckEvery = 64
	}
}

// Result is one scenario's measurement. Per-request figures divide by the
// measured requests; a figure that could not be measured is null in JSON
// (nil here) and "-" in the table.
type Result struct {
	Scenario string  `json:"scenario"`
	Server   string  `json:"server"`
	Config   string  `json:"config"`
	Round    int     `json:"round,omitempty"`
	Clients  int     `json:"clients"`
	Seconds  float64 `json:"seconds"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	// FirstError is the first failed request's error, when any failed.
	FirstError string  `json:"firstError,omitempty"`
	Shape      string  `json:"shape,omitempty"` // what a checked answer held
	RPS        float64 `json:"reqPerSec"`
	P50        float64 `json:"p50Ms"`
	P90        float64 `json:"p90Ms"`
	P99        float64 `json:"p99Ms"`
	Max        float64 `json:"maxMs"`
	BytesPer   float64 `json:"bytesPerRequest"`

	SQLPerReq       *float64 `json:"sqlStatementsPerRequest"` // pg_stat_statements calls on the benchmark database
	RedisPerReq     *float64 `json:"redisCommandsPerRequest"` // INFO commandstats calls
	PGCPUPerReq     *float64 `json:"postgresCpuMsPerRequest"` // the database's backends
	ServerCPUPerReq *float64 `json:"serverCpuMsPerRequest"`   // the server process
	ServerCores     *float64 `json:"serverCpuCores"`          // its CPU seconds per second
	ServerRSSMB     *float64 `json:"serverRssMb"`             // at the end
	ServerPeakRSSMB *float64 `json:"serverPeakRssMb"`         // highest sampled while measuring
	RedisCPUPerReq  *float64 `json:"redisCpuMsPerRequest"`    // the private redis-server
	ClientCPUPerReq *float64 `json:"loadGeneratorCpuMsPerRequest"`
	OtherCPUPct     *float64 `json:"otherMachineCpuPercent"` // busy CPU of everything else, % of all cores

	// ServerMetrics are the server's own counters per request (Hero Tasks'
	// /metrics: entity_cache_<event>, response_cache_<event>,
	// sql_statements, operations), when it has them.
	ServerMetrics map[string]float64 `json:"serverMetricsPerRequest,omitempty"`

	Mix *MixResult `json:"mix,omitempty"`
}

// Run warms s up against c for o.Warmup (every answer checked: one bad
// answer fails the run), then measures o.Duration.
func Run(ctx context.Context, c *Client, s Scenario, o Options) (Result, error) {
	o.defaults()
	res := Result{Scenario: s.Name, Config: s.Config, Clients: o.Clients}
	if o.Warmup > 0 {
		w := loop(ctx, c, s, o.Clients, o.Warmup, 1)
		if w.err != nil {
			return res, fmt.Errorf("%s: warm-up: %w", s.Name, w.err)
		}
		if len(w.lat) == 0 {
			return res, fmt.Errorf("%s: warm-up: no request answered in %v", s.Name, o.Warmup)
		}
		res.Shape = w.shape
	}
	if s.Coherence != nil {
		s.Coherence.reset()
	}
	var before, after snapshot
	if o.Probes != nil {
		var err error
		if before, err = o.Probes.take(ctx); err != nil {
			return res, err
		}
	}
	var peak atomic.Int64
	stopRSS := make(chan struct{})
	var sampler sync.WaitGroup
	if o.Probes != nil && o.Probes.ServerPID > 0 {
		sampler.Go(func() { sampleRSS(o.Probes.ServerPID, &peak, stopRSS) })
	}
	m := loop(ctx, c, s, o.Clients, o.Duration, o.CheckEvery)
	close(stopRSS)
	sampler.Wait()
	if o.Probes != nil {
		var err error
		if after, err = o.Probes.take(ctx); err != nil {
			return res, err
		}
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}

	res.Seconds = m.elapsed.Seconds()
	res.Requests, res.Errors = int64(len(m.lat)), m.errors
	if m.err != nil {
		res.FirstError = m.err.Error()
	}
	if res.Shape == "" {
		res.Shape = m.shape
	}
	if res.Requests > 0 {
		res.RPS = float64(res.Requests) / res.Seconds
		res.BytesPer = float64(m.bytes) / float64(res.Requests)
	}
	slices.Sort(m.lat)
	res.P50, res.P90, res.P99 = ms(Percentile(m.lat, 0.50)), ms(Percentile(m.lat, 0.90)), ms(Percentile(m.lat, 0.99))
	if len(m.lat) > 0 {
		res.Max = ms(m.lat[len(m.lat)-1])
	}
	if o.Probes != nil && res.Requests > 0 {
		o.Probes.fill(&res, before, after, peak.Load())
	}
	if s.Coherence != nil {
		mr := s.Coherence.result()
		res.Mix = &mr
	}
	return res, nil
}

// measured is what one loop saw.
type measured struct {
	lat     []time.Duration
	errors  int64
	err     error // the first
	bytes   int64
	shape   string
	elapsed time.Duration
}

// loop runs clients closed-loop clients for d; every checkEvery-th answer
// (1: all) gets the scenario's full check.
func loop(ctx context.Context, c *Client, s Scenario, clients int, d time.Duration, checkEvery int) measured {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu      sync.Mutex
		out     measured
		counter atomic.Int64
		wg      sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		out.errors++
		if out.err == nil {
			out.err = err
		}
		mu.Unlock()
	}
	start := time.Now()
	deadline := start.Add(d)
	for i := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i)+1, uint64(start.UnixNano())))
			lat := make([]time.Duration, 0, 1024)
			var n int64
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				body, err := s.Step(ctx, c, rng)
				el := time.Since(t0)
				if ctx.Err() != nil {
					break
				}
				if err == nil && s.Check != nil && counter.Add(1)%int64(checkEvery) == 0 {
					var shape string
					if shape, err = s.Check(body); err == nil && shape != "" {
						mu.Lock()
						out.shape = shape
						mu.Unlock()
					}
				}
				if err != nil {
					fail(err)
					if checkEvery == 1 {
						cancel() // a bad warm-up answer ends the run
					}
					continue
				}
				lat = append(lat, el)
				n += int64(len(body))
			}
			mu.Lock()
			out.lat = append(out.lat, lat...)
			out.bytes += n
			mu.Unlock()
		})
	}
	wg.Wait()
	out.elapsed = time.Since(start)
	if out.err == nil && ctx.Err() != nil && out.errors == 0 {
		out.err = ctx.Err()
	}
	return out
}

// Percentile is the nearest-rank percentile of sorted durations.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
