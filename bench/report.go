package bench

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Table prints results as an aligned table.
func Table(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tserver\treq/s\tp50 ms\tp90 ms\tp99 ms\terrors\tSQL/req\tRedis/req\tPG CPU ms/req\tsrv CPU ms/req\tsrv RSS MB\tother CPU %\t")
	for _, r := range results {
		errs := strconv.FormatInt(r.Errors, 10)
		if r.Mix != nil {
			errs += fmt.Sprintf(" (stale %d/%d reads)", r.Mix.StaleReads+r.Mix.StaleTagReads, r.Mix.Reads)
			if r.Mix.Categories != nil {
				errs += fmt.Sprintf(" (leaks %d)", r.Mix.Leaks)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.1f\t%.1f\t%.1f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Scenario, r.Server, r.RPS, r.P50, r.P90, r.P99, errs,
			opt(r.SQLPerReq, 2), opt(r.RedisPerReq, 2), opt(r.PGCPUPerReq, 3), opt(r.ServerCPUPerReq, 2), opt(r.ServerPeakRSSMB, 0), opt(r.OtherCPUPct, 0))
	}
	return tw.Flush()
}

// CacheFigures are the server-side figures of a run that say what the
// caches did, from its /metrics (nil when it has none).
type CacheFigures struct {
	// NoSQLReads is the share of queries that sent no SQL statement.
	NoSQLReads *float64
	// EntityHits and ResponseHits are hit ratios: hits / (hits + misses).
	EntityHits, ResponseHits *float64
}

// Caches computes r's cache figures.
func (r Result) Caches() CacheFigures {
	var c CacheFigures
	m := r.ServerMetrics
	if m == nil {
		return c
	}
	ratio := func(a, b float64) *float64 {
		if a+b <= 0 {
			return nil
		}
		return ptr(a / (a + b))
	}
	if q := m["queries"]; q > 0 {
		c.NoSQLReads = ptr(m["queries_without_sql"] / q)
	}
	c.EntityHits = ratio(m["entity_cache_hit"], m["entity_cache_miss"])
	c.ResponseHits = ratio(m["response_cache_hit"], m["response_cache_miss"])
	return c
}

// FrontendTable prints the mix-frontend results: the per-mode figures, then
// each request category's.
func FrontendTable(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\treq/s\tp50 ms\tp99 ms\treads without SQL %\tentity hit %\tresponse hit %\tSQL/req\tPG CPU ms/req\tsrv CPU ms/req\tRedis/req\tstale\tleaks\t")
	var any bool
	for _, r := range results {
		if r.Mix == nil || r.Mix.Categories == nil {
			continue
		}
		any = true
		c := r.Caches()
		fmt.Fprintf(tw, "%s\t%.0f\t%.1f\t%.1f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d+%d/%d\t%d\t\n", r.Scenario, r.RPS, r.P50, r.P99,
			pct(c.NoSQLReads), pct(c.EntityHits), pct(c.ResponseHits), opt(r.SQLPerReq, 2), opt(r.PGCPUPerReq, 3), opt(r.ServerCPUPerReq, 2),
			opt(r.RedisPerReq, 2), r.Mix.StaleReads, r.Mix.StaleTagReads, r.Mix.Reads, r.Mix.Leaks)
	}
	if !any {
		return nil
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tcategory\tshare %\tp50 ms\tp99 ms\tresponse hit %\t")
	for _, r := range results {
		if r.Mix == nil {
			continue
		}
		for _, k := range r.Mix.Categories {
			var hit *float64
			if k.ResponseHits+k.ResponseMisses > 0 {
				hit = ptr(float64(k.ResponseHits) / float64(k.ResponseHits+k.ResponseMisses))
			}
			fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%.1f\t%s\t\n", r.Scenario, k.Name, 100*k.Share, k.P50, k.P99, pct(hit))
		}
	}
	return tw.Flush()
}

func pct(v *float64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(100**v, 'f', 1, 64)
}

func opt(v *float64, prec int) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', prec, 64)
}

// Median returns the result of the round with the median requests per
// second (the lower middle of an even count), so every figure reported
// comes from one real run.
func Median(rounds []Result) Result {
	s := slices.Clone(rounds)
	slices.SortFunc(s, func(a, b Result) int { return cmp.Compare(a.RPS, b.RPS) })
	return s[(len(s)-1)/2]
}

// Report is the JSON file a run writes.
type Report struct {
	Started  string  `json:"started"`
	Machine  Machine `json:"machine"`
	Command  string  `json:"command"`
	Clients  int     `json:"clients"`
	Warmup   string  `json:"warmup"`
	Duration string  `json:"duration"`
	Tasks    int     `json:"tasks"`
	// Results has one result per scenario: the median round's, when
	// there were several (RoundsRun); Rounds has every round's.
	RoundsRun int      `json:"rounds"`
	Results   []Result `json:"results"`
	Rounds    []Result `json:"allRounds,omitempty"`
	Ratios    []Ratio  `json:"ratios,omitempty"`
	Notes     []string `json:"notes,omitempty"`
}

// Machine describes where the numbers came from.
type Machine struct {
	CPUs     int    `json:"cpus"`
	Model    string `json:"cpuModel"`
	MemoryMB int64  `json:"memoryMb"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
	LoadAvg  string `json:"loadAverageAtStart"`
}

// Write stores r as indented JSON at path, creating its directory.
func (r Report) Write(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Ratio compares one of our results with a peer's (or with another of
// ours) against a target.
type Ratio struct {
	Name   string  `json:"name"`
	Metric string  `json:"metric"`
	Ours   float64 `json:"ours"`
	Theirs float64 `json:"theirs"`
	Ratio  float64 `json:"ratio"` // ours / theirs
	Target string  `json:"target"`
	Met    bool    `json:"met"`
}

// AtLeast is a ratio that must reach min.
func AtLeast(name, metric string, ours, theirs, min float64) Ratio {
	r := Ratio{Name: name, Metric: metric, Ours: ours, Theirs: theirs, Target: fmt.Sprintf("≥ %g×", min)}
	if theirs > 0 {
		r.Ratio = ours / theirs
		r.Met = r.Ratio >= min
	}
	return r
}

// AtMost is a ratio that must stay at or under max.
func AtMost(name, metric string, ours, theirs, max float64) Ratio {
	r := Ratio{Name: name, Metric: metric, Ours: ours, Theirs: theirs, Target: fmt.Sprintf("≤ %g×", max)}
	if theirs > 0 {
		r.Ratio = ours / theirs
		r.Met = r.Ratio <= max
	}
	return r
}

// Info is a ratio shown for understanding, with no target.
func Info(name, metric string, ours, theirs float64) Ratio {
	r := Ratio{Name: name, Metric: metric, Ours: ours, Theirs: theirs, Target: "-"}
	if theirs > 0 {
		r.Ratio = ours / theirs
	}
	return r
}

// RatioTable prints ratios.
func RatioTable(w io.Writer, ratios []Ratio) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "comparison\tmetric\tours\ttheirs\tours/theirs\ttarget\tmet")
	for _, r := range ratios {
		met := "no"
		switch {
		case r.Target == "-":
			met = "-"
		case r.Met:
			met = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.4g\t%.4g\t%.3g\t%s\t%s\n", r.Name, r.Metric, r.Ours, r.Theirs, r.Ratio, r.Target, met)
	}
	return tw.Flush()
}

// Describe reads the machine's description from /proc and runtime values.
func Describe(goVersion string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: goVersion}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && k == "MemTotal" {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				m.MemoryMB = kb >> 10
				break
			}
		}
	}
	if raw, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(raw))
	}
	if raw, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.TrimSpace(string(raw))
	}
	return m
}
