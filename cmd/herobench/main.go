// Command herobench runs the load scenarios of `make bench` and the
// PostGraphile comparison of `make bench-peers` against real server
// processes on a dedicated, seeded database (package bench does the load
// and the measurements).
//
//	. ./.data/env && go run ./cmd/herobench [-duration 10s] [-clients 16] [-only nested]
//	. ./.data/env && go run ./cmd/herobench -peers -postgraphile DIR
//
// It needs DATABASE_URL (any database of the cluster: the benchmark's own,
// -db, is created beside it), the server binary (-bin) and redis-server on
// PATH (a private one is started, so INFO commandstats counts only the
// benchmark's commands).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/herotasks/api/auth"
	"github.com/herotasks/api/bench"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/seed"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "herobench:", err)
		os.Exit(1)
	}
}

type options struct {
	bin, db, out, logs, only string
	tasks, clients, pool     int
	rounds                   int
	idle                     float64
	idleWait                 time.Duration
	duration, warmup         time.Duration
	peers                    bool
	postgraphile, node       string
	config                   string
	cpuProfile               string
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("herobench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	duration := 10 * time.Second
	if v := getenv("BENCH_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("BENCH_DURATION: %w", err)
		}
		duration = d
	}
	fs.StringVar(&o.bin, "bin", "bin/herotasks", "the server binary")
	fs.StringVar(&o.db, "db", "herotasks_bench", "the benchmark database (created and seeded when missing)")
	fs.IntVar(&o.tasks, "tasks", 10_000, "tasks to seed (re-seeded when the database holds another number)")
	fs.IntVar(&o.clients, "clients", 16, "concurrent closed-loop clients")
	fs.IntVar(&o.pool, "pool", 20, "database connections of each server (PostGraphile's pool; DB_READ_MAX_CONNS for ours)")
	fs.DurationVar(&o.duration, "duration", duration, "measured time per scenario ($BENCH_DURATION)")
	fs.IntVar(&o.rounds, "rounds", 1, "run every scenario this many times, in turn, and report each by its median round (req/s)")
	fs.Float64Var(&o.idle, "idle", 0, "before each scenario, wait until the machine's busy CPU is at most this % for a second (0: do not wait)")
	fs.DurationVar(&o.idleWait, "idle-wait", 2*time.Minute, "longest wait for -idle; the scenario then runs anyway")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "untimed warm-up per scenario, every answer checked")
	fs.StringVar(&o.only, "only", "", "run only the scenarios whose name matches this regular expression")
	fs.StringVar(&o.out, "out", "", "JSON results (default bench/out/results.json, or bench/out/peers.json with -peers)")
	fs.StringVar(&o.logs, "logs", "bench/out/logs", "server logs")
	fs.BoolVar(&o.peers, "peers", false, "compare with PostGraphile (needs -postgraphile)")
	fs.StringVar(&o.postgraphile, "postgraphile", "", "folder holding node_modules/postgraphile (scripts/postgraphile.sh prints it)")
	fs.StringVar(&o.node, "node", "", "Node.js 22+ binary (default: node_modules/.bin/node under -postgraphile)")
	fs.StringVar(&o.config, "postgraphile-config", "bench/postgraphile/graphile.config.mjs", "PostGraphile's configuration")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write the load generator's own CPU profile to this file")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if o.out == "" {
		o.out = "bench/out/results.json"
		if o.peers {
			o.out = "bench/out/peers.json"
		}
	}
	if o.rounds < 1 {
		return errors.New("-rounds must be at least 1")
	}
	if o.peers && o.postgraphile == "" {
		return errors.New("-peers needs -postgraphile DIR (make bench-peers installs it)")
	}
	only, err := regexp.Compile(o.only)
	if err != nil {
		return fmt.Errorf("-only: %w", err)
	}
	base := getenv("DATABASE_URL")
	if base == "" {
		return errors.New("DATABASE_URL is not set (. ./.data/env after scripts/services.sh up)")
	}
	if err := os.MkdirAll(o.logs, 0o755); err != nil {
		return err
	}

	report := bench.Report{Started: time.Now().UTC().Format(time.RFC3339), Machine: bench.Describe(runtime.Version()),
		Command: strings.Join(args, " "), Clients: o.clients, RoundsRun: o.rounds, Warmup: o.warmup.String(), Duration: o.duration.String(), Tasks: o.tasks}
	fmt.Fprintf(stderr, "herobench: %d CPUs (%s), load average %s\n", report.Machine.CPUs, report.Machine.Model, report.Machine.LoadAvg)

	dbURL, err := prepareDatabase(ctx, base, o, stderr)
	if err != nil {
		return err
	}
	pg, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pg.Close(context.WithoutCancel(ctx))
	w, err := loadWorkload(ctx, pg)
	if err != nil {
		return err
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	secret := hex.EncodeToString(raw) // JWT_SECRET is its text
	signer := auth.New([]byte(secret), "", "")
	var (
		once sync.Once
		fd   *bench.FrontendData
		ferr error
	)
	w.frontend = func(ctx context.Context) (*bench.FrontendData, error) {
		once.Do(func() {
			fd, ferr = bench.LoadFrontend(ctx, pg, bench.FrontendOptions{}, func(id, role string) (string, error) {
				return signer.Sign(id, domain.Role(role), 24*time.Hour)
			})
		})
		return fd, ferr
	}

	redisDir, err := os.MkdirTemp("", "herobench-redis-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(redisDir)
	rp, err := bench.StartRedis(ctx, redisDir, filepath.Join(o.logs, "redis.log"))
	if err != nil {
		return err
	}
	defer rp.Stop()
	ropts, _ := redis.ParseURL(rp.URL)
	rdb := redis.NewClient(ropts)
	defer rdb.Close()

	token, err := signer.Sign(w.adminID, domain.RoleAdmin, 24*time.Hour)
	if err != nil {
		return err
	}
	r := &runner{o: o, dbURL: dbURL, redisURL: rp.URL, secret: secret, token: token,
		probes: bench.Probes{PG: pg, Redis: rdb, RedisPID: rp.PID}, stderr: stderr}

	var runs []spec
	if o.peers {
		runs = peerRuns(w)
	} else {
		runs = benchRuns(w)
	}
	// Rounds run the whole list again, every other one backwards (so every
	// server meets the same neighbours in turn); each scenario is reported
	// by its median round.
	byName := map[string][]bench.Result{}
	var order []string
	snapshot := false // of the tasks a restoring scenario writes
	for round := 1; round <= o.rounds; round++ {
		if o.rounds > 1 {
			fmt.Fprintf(stderr, "herobench: round %d of %d\n", round, o.rounds)
		}
		for _, s := range roundOrder(runs, round) {
			if !only.MatchString(s.name) {
				continue
			}
			if err := rdb.FlushAll(ctx).Err(); err != nil {
				return err
			}
			if s.restore && !snapshot {
				if err := snapshotTasks(ctx, pg); err != nil {
					return err
				}
				snapshot = true
			}
			if s.restore {
				if err := settleTasks(ctx, pg); err != nil {
					return err
				}
			}
			res, err := r.run(ctx, s)
			if s.restore {
				if rerr := restoreTasks(context.WithoutCancel(ctx), pg); rerr != nil && err == nil {
					err = fmt.Errorf("%s: %w", s.name, rerr)
				}
			}
			if err != nil {
				return err
			}
			res.Round = round
			if round == 1 {
				order = append(order, s.name)
			}
			byName[s.name] = append(byName[s.name], res)
			report.Rounds = append(report.Rounds, res)
		}
	}
	for _, name := range order {
		report.Results = append(report.Results, bench.Median(byName[name]))
	}
	if o.rounds == 1 {
		report.Rounds = nil
	}
	if raw, err := os.ReadFile("/proc/loadavg"); err == nil {
		report.Notes = append(report.Notes, "load average at the end: "+strings.TrimSpace(string(raw)))
	}
	fmt.Fprintln(stdout)
	if err := bench.Table(stdout, report.Results); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	if err := bench.FrontendTable(stdout, report.Results); err != nil {
		return err
	}
	var failed []string
	for _, res := range append(report.Rounds, report.Results...) {
		if res.Errors > 0 {
			failed = append(failed, fmt.Sprintf("%s: %d failed requests, first: %s", res.Scenario, res.Errors, res.FirstError))
		}
		if res.Mix != nil && res.Mix.Failed() != "" {
			failed = append(failed, res.Scenario+": "+res.Mix.Failed())
		}
	}
	if o.peers {
		ratios, notes := compare(report.Results, report.Rounds)
		report.Ratios, report.Notes = ratios, append(report.Notes, notes...)
		fmt.Fprintln(stdout)
		if err := bench.RatioTable(stdout, ratios); err != nil {
			return err
		}
		for _, n := range notes {
			fmt.Fprintln(stdout, n)
		}
	}
	if err := report.Write(o.out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nresults in %s (server logs in %s)\n", o.out, o.logs)
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "\n"))
	}
	return nil
}

// prepareDatabase creates the benchmark database beside base's when it is
// missing, migrates it with the server binary and seeds it unless it holds
// exactly o.tasks tasks already; it returns its URL.
func prepareDatabase(ctx context.Context, base string, o options, stderr io.Writer) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("DATABASE_URL: %w", err)
	}
	u.Path = "/" + o.db
	dbURL := u.String()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", err
	}
	defer admin.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", o.db).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		fmt.Fprintf(stderr, "herobench: creating database %s\n", o.db)
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{o.db}.Sanitize()); err != nil {
			return "", err
		}
	}
	if err := binary(ctx, o.bin, dbURL, stderr, "migrate", "up"); err != nil {
		return "", err
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// Tasks an interrupted mix-frontend run created.
	if _, err := conn.Exec(ctx, "DELETE FROM tasks WHERE description = $1", bench.FrontendMarker); err != nil {
		return "", err
	}
	var n, users int
	if err := conn.QueryRow(ctx, "SELECT (SELECT count(*) FROM tasks), (SELECT count(*) FROM users)").Scan(&n, &users); err != nil {
		return "", err
	}
	if n == o.tasks && users == seed.UserCount(o.tasks) {
		fmt.Fprintf(stderr, "herobench: %s already holds %d tasks: re-used\n", o.db, n)
		return dbURL, nil
	}
	fmt.Fprintf(stderr, "herobench: seeding %s with %d tasks and %d users (it holds %d and %d)\n", o.db, o.tasks, seed.UserCount(o.tasks), n, users)
	return dbURL, binary(ctx, o.bin, dbURL, stderr, "seed", "--tasks", strconv.Itoa(o.tasks), "--reset")
}

// snapshotTasks keeps, for the session of pg, what mix-frontend's writes
// change: each task's title, status, phase, priority, version and dates,
// and the task tags.
func snapshotTasks(ctx context.Context, pg *pgx.Conn) error {
	_, err := pg.Exec(ctx, `DROP TABLE IF EXISTS bench_tasks, bench_task_tags;
		CREATE TEMP TABLE bench_tasks AS SELECT id, title, status, phase, priority, version, started_at, completed_at FROM tasks;
		CREATE TEMP TABLE bench_task_tags AS SELECT task_id, tag_id, created_at FROM task_tags`)
	if err != nil {
		return fmt.Errorf("snapshot of the tasks: %w", err)
	}
	return nil
}

// restoreTasks deletes the tasks mix-frontend created and puts back what
// snapshotTasks kept, so every mode and every later scenario (and run)
// meets the seeded data, not what the writes left: their statuses, the
// priorities' spread and the tags of the newest tasks (the nested page's)
// would drift run after run. Only updated_at keeps the writes' times (a
// trigger sets it) and the history keeps their events.
func restoreTasks(ctx context.Context, pg *pgx.Conn) error {
	_, err := pg.Exec(ctx, `DELETE FROM tasks WHERE description = $1`, bench.FrontendMarker)
	if err == nil {
		_, err = pg.Exec(ctx, `UPDATE tasks t SET title = b.title, status = b.status, phase = b.phase, priority = b.priority,
				version = b.version, started_at = b.started_at, completed_at = b.completed_at
			FROM bench_tasks b WHERE b.id = t.id AND b.version <> t.version`)
	}
	if err == nil {
		_, err = pg.Exec(ctx, `DELETE FROM task_tags x WHERE NOT EXISTS (SELECT FROM bench_task_tags b WHERE b.task_id = x.task_id AND b.tag_id = x.tag_id)`)
	}
	if err == nil {
		_, err = pg.Exec(ctx, `INSERT INTO task_tags (task_id, tag_id, created_at) SELECT task_id, tag_id, created_at FROM bench_task_tags b
			WHERE NOT EXISTS (SELECT FROM task_tags x WHERE x.task_id = b.task_id AND x.tag_id = b.tag_id)`)
	}
	if err != nil {
		return fmt.Errorf("restoring the tasks: %w", err)
	}
	return nil
}

// settleTasks vacuums and analyzes the tables mix-frontend writes, so that
// every mode starts from the same table rather than from the dead rows the
// mode before it and the restore left (thousands of row versions per run:
// the mode run last would otherwise pay for them, and autovacuum would
// choose when, within whose measurement).
func settleTasks(ctx context.Context, pg *pgx.Conn) error {
	if _, err := pg.Exec(ctx, `VACUUM (ANALYZE) tasks, task_tags, tags, search_words`); err != nil {
		return fmt.Errorf("vacuuming the tasks: %w", err)
	}
	return nil
}

// binary runs a subcommand of the server binary on the database.
func binary(ctx context.Context, bin, dbURL string, out io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "DATABASE_URL=" + dbURL}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", bin, strings.Join(args, " "), err)
	}
	return nil
}

// workload is what the scenarios draw from the seeded database.
type workload struct {
	adminID string
	public  []string // ids of public tasks: every caller may read them
	terms   []string // search terms from the seeded titles
	// frontend loads the users and tasks of mix-frontend once, on first
	// use, so that its three modes share them.
	frontend func(ctx context.Context) (*bench.FrontendData, error)
}

func loadWorkload(ctx context.Context, pg *pgx.Conn) (workload, error) {
	var w workload
	if err := pg.QueryRow(ctx, "SELECT id::text FROM users WHERE role = 'ADMIN' ORDER BY created_at LIMIT 1").Scan(&w.adminID); err != nil {
		return w, fmt.Errorf("the seeded admin user: %w", err)
	}
	rows, _ := pg.Query(ctx, "SELECT id::text FROM tasks WHERE visibility = 'PUBLIC' ORDER BY id")
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return w, err
	}
	if len(ids) < 100 {
		return w, fmt.Errorf("only %d public tasks", len(ids))
	}
	w.public = ids
	// Words of four letters or more from the titles, one and two at a time.
	rows, _ = pg.Query(ctx, `SELECT DISTINCT lower(w) FROM tasks, regexp_split_to_table(title, '\W+') AS w
		WHERE length(w) >= 4 ORDER BY 1`)
	words, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return w, err
	}
	if len(words) < 10 {
		return w, fmt.Errorf("only %d words in the titles", len(words))
	}
	w.terms = words
	for i := 0; i+7 < len(words); i += 7 {
		w.terms = append(w.terms, words[i]+" "+words[i+7])
	}
	return w, nil
}

// spec is one measured run: a server started fresh with its configuration
// and one scenario.
type spec struct {
	name   string
	server string // "herotasks" or "postgraphile"
	config string
	env    []string // herotasks only
	anon   bool     // send no token
	make   func(ctx context.Context, c *bench.Client) (bench.Scenario, error)
	// restore: put back the tasks as they were before the first such
	// scenario, after it (restoreTasks).
	restore bool
}

var (
	cachesOff   = []string{"ENTITY_CACHE=off", "RESPONSE_CACHE=off"}
	entityCache = []string{"ENTITY_CACHE=on", "RESPONSE_CACHE=off"}
	bothCaches  = []string{"ENTITY_CACHE=on", "RESPONSE_CACHE=on"}
)

func fixed(s bench.Scenario) func(context.Context, *bench.Client) (bench.Scenario, error) {
	return func(context.Context, *bench.Client) (bench.Scenario, error) { return s, nil }
}

// benchRuns are the scenarios of `make bench`.
func benchRuns(w workload) []spec {
	hot := w.public[:100]
	return []spec{
		{name: "nested/caches-off", config: "caches off", env: cachesOff, make: fixed(bench.Nested("nested/caches-off"))},
		{name: "nested/entity-warm", config: "entity cache, warm", env: entityCache, make: fixed(bench.Nested("nested/entity-warm"))},
		{name: "nested/response-warm", config: "entity + response cache, warm", env: bothCaches, make: fixed(bench.Nested("nested/response-warm"))},
		{name: "byid/caches-off", config: "caches off", env: cachesOff, make: fixed(bench.ByID("byid/caches-off", bench.ByIDQuery, "task", w.public))},
		{name: "byid/entity-warm", config: "entity cache, 100 hot tasks", env: entityCache, make: fixed(bench.ByID("byid/entity-warm", bench.ByIDQuery, "task", hot))},
		{name: "detail/caches-off", config: "caches off", env: cachesOff, make: fixed(bench.Detail("detail/caches-off", bench.DetailQuery, bench.DetailShape, w.public))},
		{name: "detail/entity-warm", config: "entity cache, 100 hot tasks", env: entityCache, make: fixed(bench.Detail("detail/entity-warm", bench.DetailQuery, bench.DetailShape, hot))},
		{name: "filtered/caches-off", config: "caches off", env: cachesOff, make: fixed(bench.Filtered("filtered/caches-off"))},
		{name: "deep-page/caches-off", config: "caches off", env: cachesOff, make: func(ctx context.Context, c *bench.Client) (bench.Scenario, error) {
			return bench.DeepPages(ctx, c, "deep-page/caches-off", 9_000)
		}},
		{name: "search/caches-off", config: "caches off", env: cachesOff, make: fixed(bench.Search("search/caches-off", w.terms))},
		{name: "mix-90-10/both-caches", config: "entity + response cache", env: bothCaches, make: fixed(bench.HeroTasksMix(hot).Scenario("mix-90-10/both-caches"))},
		frontendRun(w, "mix-frontend/caches-off", "caches off", cachesOff),
		frontendRun(w, "mix-frontend/entity", "entity cache", entityCache),
		frontendRun(w, "mix-frontend/both-caches", "entity + response cache", bothCaches),
	}
}

// frontendRun is the mix-frontend scenario in one server configuration,
// each mode on the same users and tasks, from a cold cache, and with the
// tasks as the first one found them (restore).
func frontendRun(w workload, name, config string, env []string) spec {
	return spec{name: name, config: config, env: env, restore: true, make: func(ctx context.Context, _ *bench.Client) (bench.Scenario, error) {
		d, err := w.frontend(ctx)
		if err != nil {
			return bench.Scenario{}, err
		}
		return bench.NewFrontend(d).Scenario(name), nil
	}}
}

// peerRuns are the runs of `make bench-peers`, one server at a time on the
// same database: each PostGraphile scenario right after the one of ours it
// is compared with, so the two meet the machine in the same state (this
// VM's speed drifts by a third over minutes).
func peerRuns(w workload) []spec {
	ours := map[string]spec{}
	for _, s := range benchRuns(w) {
		ours[s.name] = s
	}
	return []spec{
		ours["nested/caches-off"],
		{name: "nested/postgraphile", server: "postgraphile", config: "PostGraphile 5, amber preset", anon: true,
			make: fixed(bench.PeerNested("nested/postgraphile"))},
		ours["nested/entity-warm"],
		ours["nested/response-warm"],
		ours["byid/caches-off"],
		{name: "byid/postgraphile", server: "postgraphile", config: "PostGraphile 5, amber preset", anon: true,
			make: fixed(bench.ByID("byid/postgraphile", bench.PeerByIDQuery, "taskByRowId", w.public))},
		ours["detail/caches-off"],
		{name: "detail/postgraphile", server: "postgraphile", config: "PostGraphile 5, amber preset", anon: true,
			make: fixed(bench.Detail("detail/postgraphile", bench.PeerDetailQuery, bench.PeerDetailShape, w.public))},
	}
}

// roundOrder is the order of round's runs: as listed in odd rounds,
// reversed in even ones, so that a drift of the machine's speed over a
// round favours neither server across rounds.
func roundOrder(runs []spec, round int) []spec {
	if round%2 == 1 {
		return runs
	}
	out := slices.Clone(runs)
	slices.Reverse(out)
	return out
}

type runner struct {
	o                              options
	dbURL, redisURL, secret, token string
	probes                         bench.Probes
	stderr                         io.Writer
	n                              int
}

// passThrough are variables of the runner's environment handed to our
// server, to measure their effect (GC and loader settings).
var passThrough = []string{"GOGC", "GOMEMLIMIT", "GOMAXPROCS", "GODEBUG", "LOADER_WAIT", "LOADER_MAX_BATCH", "CACHE_TIMEOUT",
	"RESPONSE_CACHE_MIN_HIT_PERCENT"}

func (r *runner) run(ctx context.Context, s spec) (bench.Result, error) {
	r.n++
	if r.o.idle > 0 {
		busy, waited, err := waitIdle(ctx, r.o.idle, r.o.idleWait)
		if err != nil {
			return bench.Result{}, err
		}
		fmt.Fprintf(r.stderr, "herobench: machine %.0f%% busy after waiting %v\n", busy, waited.Round(time.Second))
	}
	logPath := filepath.Join(r.o.logs, strings.ReplaceAll(s.name, "/", "_")+".log")
	var p *bench.Process
	var err error
	server := s.server
	if server == "" {
		server = "herotasks"
		env := []string{"DATABASE_URL=" + r.dbURL, "REDIS_URL=" + r.redisURL, "JWT_SECRET=" + r.secret,
			fmt.Sprintf("CACHE_PREFIX=ht:bench:%d", r.n), "COST_BUDGET_CAPACITY=0", "MAINTENANCE_INTERVAL=0",
			"LOG_LEVEL=warn", "DB_READ_MAX_CONNS=" + strconv.Itoa(r.o.pool)}
		for _, k := range passThrough {
			if v, ok := os.LookupEnv(k); ok {
				env = append(env, k+"="+v)
			}
		}
		p, err = bench.StartHeroTasks(ctx, r.o.bin, append(env, s.env...), logPath)
	} else {
		node := r.o.node
		if node == "" {
			node = filepath.Join(r.o.postgraphile, "node_modules", ".bin", "node")
		}
		// Beside node_modules: the config's imports resolve from its folder.
		src, rerr := os.ReadFile(r.o.config)
		if rerr != nil {
			return bench.Result{}, rerr
		}
		cfg := filepath.Join(r.o.postgraphile, "herobench.graphile.config.mjs")
		if err := os.WriteFile(cfg, src, 0o644); err != nil {
			return bench.Result{}, err
		}
		p, err = bench.StartPostGraphile(ctx, node, r.o.postgraphile, cfg, r.dbURL, r.o.pool, logPath)
	}
	if err != nil {
		return bench.Result{}, fmt.Errorf("%s: %w", s.name, err)
	}
	defer p.Stop()
	token := r.token
	if s.anon {
		token = ""
	}
	c := bench.NewClient(p.URL, token, r.o.clients)
	defer c.HTTP.CloseIdleConnections()
	sc, err := s.make(ctx, c)
	if err != nil {
		return bench.Result{}, fmt.Errorf("%s: %w", s.name, err)
	}
	sc.Config = s.config
	probes := r.probes
	probes.ServerPID = p.PID
	if server == "herotasks" {
		probes.MetricsURL = strings.TrimSuffix(p.URL, "/graphql") + "/metrics"
	}
	fmt.Fprintf(r.stderr, "herobench: %-24s %s (%s), %d clients, %v warm-up + %v ...", s.name, server, s.config, r.o.clients, r.o.warmup, r.o.duration)
	res, err := bench.Run(ctx, c, sc, bench.Options{Clients: r.o.clients, Warmup: r.o.warmup, Duration: r.o.duration, Probes: &probes})
	if err != nil {
		fmt.Fprintln(r.stderr)
		return res, err
	}
	res.Server = server
	fmt.Fprintf(r.stderr, " %.0f req/s, p99 %.1f ms\n", res.RPS, res.P99)
	return res, nil
}

// waitIdle samples the machine's busy CPU a second at a time until it is
// at most pct percent of all cores, or until max has passed; it returns
// the last sample and how long it waited.
func waitIdle(ctx context.Context, pct float64, max time.Duration) (float64, time.Duration, error) {
	start := time.Now()
	for {
		a, err := bench.MachineTicks()
		if err != nil {
			return 0, 0, err
		}
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-time.After(time.Second):
		}
		b, err := bench.MachineTicks()
		if err != nil {
			return 0, 0, err
		}
		busy := float64(b-a) / float64(runtime.NumCPU()) // ticks in one second, 100 per core
		if busy <= pct || time.Since(start) >= max {
			return busy, time.Since(start), nil
		}
	}
}

// cpuPerReq is the server's and PostgreSQL's CPU per request (0 when
// either is unknown).
func cpuPerReq(r *bench.Result) float64 {
	if r.ServerCPUPerReq == nil || r.PGCPUPerReq == nil {
		return 0
	}
	return *r.ServerCPUPerReq + *r.PGCPUPerReq
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

// compare computes the ratios of the targets from one peers run:
// on the median rounds (results), and the nested p99 round by round
// (rounds: every round's results, empty with one round), since its target
// holds in every round.
func compare(results, rounds []bench.Result) ([]bench.Ratio, []string) {
	find := func(name string) *bench.Result {
		i := slices.IndexFunc(results, func(r bench.Result) bool { return r.Scenario == name })
		if i < 0 {
			return nil
		}
		return &results[i]
	}
	var ratios []bench.Ratio
	var notes []string
	off, entity, resp := find("nested/caches-off"), find("nested/entity-warm"), find("nested/response-warm")
	byID, peerNested, peerByID := find("byid/caches-off"), find("nested/postgraphile"), find("byid/postgraphile")
	if off != nil && peerNested != nil {
		ratios = append(ratios,
			bench.AtLeast("nested, caches off", "req/s", off.RPS, peerNested.RPS, 2),
			bench.AtMost("nested, caches off", "p99 ms", off.P99, peerNested.P99, 0.5))
		// On a machine where the cores are the limit, requests per second
		// follow the CPU each request costs, wherever it is spent.
		ratios = append(ratios, bench.Info("nested, caches off", "CPU ms/req, server + PostgreSQL", cpuPerReq(off), cpuPerReq(peerNested)))
		if off.Shape != peerNested.Shape {
			notes = append(notes, fmt.Sprintf("WARNING: the nested answers differ: ours %q, PostGraphile's %q", off.Shape, peerNested.Shape))
		} else {
			notes = append(notes, "nested answers hold the same data on both servers: "+off.Shape)
		}
	}
	if byID != nil && peerByID != nil {
		ratios = append(ratios, bench.AtLeast("by id, caches off", "req/s", byID.RPS, peerByID.RPS, 2),
			bench.Info("by id, caches off", "p99 ms", byID.P99, peerByID.P99),
			bench.Info("by id, caches off", "CPU ms/req, server + PostgreSQL", cpuPerReq(byID), cpuPerReq(peerByID)))
	}
	for round := 1; ; round++ {
		var ours, theirs *bench.Result
		for i := range rounds {
			if rounds[i].Round == round && rounds[i].Scenario == "nested/caches-off" {
				ours = &rounds[i]
			}
			if rounds[i].Round == round && rounds[i].Scenario == "nested/postgraphile" {
				theirs = &rounds[i]
			}
		}
		if ours == nil || theirs == nil {
			break
		}
		ratios = append(ratios, bench.AtMost(fmt.Sprintf("nested, caches off, round %d", round), "p99 ms", ours.P99, theirs.P99, 0.5))
	}
	detail, peerDetail := find("detail/caches-off"), find("detail/postgraphile")
	if detail != nil && peerDetail != nil {
		ratios = append(ratios, bench.AtLeast("detail, caches off", "req/s", detail.RPS, peerDetail.RPS, 2),
			bench.Info("detail, caches off", "p99 ms", detail.P99, peerDetail.P99),
			bench.Info("detail, caches off", "SQL/req", deref(detail.SQLPerReq), deref(peerDetail.SQLPerReq)),
			bench.Info("detail, caches off", "CPU ms/req, server + PostgreSQL", cpuPerReq(detail), cpuPerReq(peerDetail)))
	}
	if resp != nil && peerNested != nil {
		ratios = append(ratios, bench.AtLeast("nested, response cache warm", "req/s", resp.RPS, peerNested.RPS, 10))
	}
	if entity != nil && off != nil && entity.PGCPUPerReq != nil && off.PGCPUPerReq != nil {
		ratios = append(ratios, bench.AtMost("nested: entity cache warm vs caches off (ours)", "PG CPU ms/req", *entity.PGCPUPerReq, *off.PGCPUPerReq, 0.1))
	}
	return ratios, notes
}
