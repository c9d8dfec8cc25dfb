package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/herotasks/api/auth"
	"github.com/herotasks/api/config"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/migrations"
	"github.com/herotasks/api/repository"
	"github.com/herotasks/api/seed"
	"github.com/herotasks/api/verify"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// flags returns a FlagSet whose --help prints to stdout and is not an error.
func flags(name, usage string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "usage: herotasks %s\n\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, turning --help into a clean exit.
func parse(fs *flag.FlagSet, args []string) (help bool, err error) {
	err = fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return true, nil
	}
	return false, err
}

// openDB loads the configuration and connects to the primary.
func openDB(ctx context.Context, getenv func(string) string) (config.Config, *pgxpool.Pool, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return cfg, nil, err
	}
	pool, err := repository.Open(ctx, cfg.DatabaseURL, repository.PoolOptions{Name: "tool", MaxConns: cfg.DB.WriteMaxConns, StatementTimeout: 10 * time.Minute})
	return cfg, pool, err
}

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flags("migrate", "migrate up|down|status\n\n  up      apply every pending migration (a no-op when none)\n  down    roll back the latest migration\n  status  list migrations and whether each is applied", stdout)
	if help, err := parse(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("migrate needs one of up, down, status")
	}
	_, pool, err := openDB(ctx, getenv)
	if err != nil {
		return err
	}
	defer pool.Close()
	p, db, err := migrations.Provider(pool)
	if err != nil {
		return err
	}
	defer db.Close()
	switch fs.Arg(0) {
	case "up":
		res, err := p.Up(ctx)
		for _, r := range res {
			fmt.Fprintf(stdout, "applied %s (%s)\n", r.Source.Path, r.Duration.Round(time.Millisecond))
		}
		if err == nil && len(res) == 0 {
			fmt.Fprintln(stdout, "up to date")
		}
		return err
	case "down":
		r, err := p.Down(ctx)
		if r != nil {
			fmt.Fprintf(stdout, "rolled back %s\n", r.Source.Path)
		}
		return err
	case "status":
		st, err := p.Status(ctx)
		for _, s := range st {
			fmt.Fprintf(stdout, "%-8s %s\n", s.State, s.Source.Path)
		}
		return err
	}
	return fmt.Errorf("unknown migrate action %q", fs.Arg(0))
}

func token(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flags("token", "token --user ID --role viewer|editor|admin [--ttl 24h]", stdout)
	user := fs.String("user", "", "user id (a UUID): the token's subject")
	role := fs.String("role", "viewer", "viewer, editor or admin")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token is valid")
	if help, err := parse(fs, args); help || err != nil {
		return err
	}
	if _, err := uuid.Parse(*user); err != nil {
		return errors.New("--user must be a user id (UUID)")
	}
	r := domain.Role(strings.ToUpper(*role))
	if !r.Valid() {
		return errors.New("--role must be viewer, editor or admin")
	}
	if *ttl <= 0 {
		return errors.New("--ttl must be positive")
	}
	secret := getenv("JWT_SECRET")
	if secret == "" {
		return errors.New("JWT_SECRET is not set: a token needs the server's secret")
	}
	tok, err := auth.New([]byte(secret), getenv("JWT_ISSUER"), getenv("JWT_AUDIENCE")).Sign(*user, r, *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// newLogger builds the structured logger the configuration asks for.
func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func maintain(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flags("maintain", "maintain [--retention-months N] [--months-ahead N]", stdout)
	retention := fs.Int("retention-months", -1, "history months to keep (default $HISTORY_RETENTION_MONTHS or 24; 0 keeps all)")
	ahead := fs.Int("months-ahead", -1, "history partitions to create after the current month (default $PARTITION_MONTHS_AHEAD or 3)")
	if help, err := parse(fs, args); help || err != nil {
		return err
	}
	cfg, pool, err := openDB(ctx, getenv)
	if err != nil {
		return err
	}
	defer pool.Close()
	o := repository.MaintenanceOptions{MonthsAhead: cfg.PartitionMonthsAhead, RetentionMonths: cfg.HistoryRetentionMonths}
	if *retention >= 0 {
		o.RetentionMonths = *retention
	}
	if *ahead >= 0 {
		o.MonthsAhead = *ahead
	}
	rep, err := repository.New(pool).Maintain(ctx, o, time.Now())
	if err != nil {
		return err
	}
	printMaintenance(stdout, rep)
	return nil
}

func printMaintenance(w io.Writer, rep *repository.MaintenanceReport) {
	if rep.Skipped {
		fmt.Fprintln(w, "another instance is running maintenance; skipped")
		return
	}
	fmt.Fprintf(w, "partitions created:  %v\n", rep.Created)
	for name, n := range rep.Moved {
		fmt.Fprintf(w, "moved from default:  %d rows into %s\n", n, name)
	}
	fmt.Fprintf(w, "partitions dropped:  %v\n", rep.Dropped)
	fmt.Fprintf(w, "analyzed:            %v\n", rep.Analyzed)
	fmt.Fprintf(w, "search vocabulary:   %d words\n", rep.SearchWords)
	fmt.Fprintf(w, "default partition:   %d rows\n", rep.DefaultPartition)
	for _, u := range rep.UnusedIndexes {
		fmt.Fprintf(w, "unused index:        %s on %s (%d bytes, never scanned since statistics reset)\n", u.Index, u.Table, u.Bytes)
	}
	for _, u := range rep.LargestIndexes {
		fmt.Fprintf(w, "large index:         %s on %s (%d bytes, %d scans)\n", u.Index, u.Table, u.Bytes, u.Scans)
	}
	if rep.BloatUnavailable != "" {
		fmt.Fprintf(w, "bloated indexes:     not measured: %s\n", rep.BloatUnavailable)
	}
	for _, b := range rep.BloatedIndexes {
		fmt.Fprintf(w, "bloated index:       %s on %s (%d bytes, leaf density %.0f%%, ~%d bytes wasted; REINDEX INDEX CONCURRENTLY %s)\n",
			b.Index, b.Table, b.Bytes, b.LeafDensity, b.WastedBytes, b.Index)
	}
}

func verifyCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flags("verify", "verify [--json]", stdout)
	asJSON := fs.Bool("json", false, "print the checks as JSON")
	if help, err := parse(fs, args); help || err != nil {
		return err
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	pools, err := repository.OpenPools(ctx, poolsConfig(cfg, nil))
	if err != nil {
		return err
	}
	defer pools.Close()
	rdb, err := newRedis(cfg)
	if err != nil {
		return err
	}
	if rdb != nil {
		defer rdb.Close()
	}
	checks := verify.Run(ctx, verifyOptions(cfg, pools, rdb))
	if err := verify.Print(stdout, checks, *asJSON); err != nil {
		return err
	}
	if verify.Failed(checks) {
		return errors.New("verification failed")
	}
	return nil
}

// Garbage-collector defaults of the server, applied to serve when GOGC /
// GOMEMLIMIT are not set (set either and the Go runtime's own handling
// applies, as always). The executor allocates many small objects per
// request, so collecting less often buys throughput; the memory limit
// keeps a burst of concurrent requests from growing the heap past the RSS
// budget (near it the collector runs as often as it must). It leaves room
// for the caches' live heap (decoded entities, tags, rendered tasks): a
// limit close to it makes every request pay for marking it again. The other
// commands keep Go's defaults: the bulk seed holds a few hundred MB of rows
// and would collect without pause near the limit. bench/README.md has the
// measurements behind the numbers.
const (
	defaultGOGC       = 400
	defaultGOMEMLIMIT = 256 << 20 // bytes
)

// TuneGC applies the server's garbage-collector defaults where the
// environment sets none. It changes the whole process: call it from main.
func TuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGOGC)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultGOMEMLIMIT)
	}
}

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"serve":   {"run the GraphQL server (the default)", serve},
	"migrate": {"apply or roll back database migrations: up | down | status", migrate},
	"seed":    {"fill the database with realistic demo data", seedCmd},
	"token":   {"print a signed JWT for a user and role", token},
	"maintain": {"create history partitions ahead, empty the default partition, apply retention, analyze, report indexes",
		maintain},
	"verify": {"check migrations, indexes, query plans, partitions, pools, timeouts, pg_stat_statements and Redis",
		verifyCmd},
}

// Run runs the subcommand args[1] (serve when none) with its flags
// args[2:], reading the configuration through getenv.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	name, rest := "serve", []string{}
	if len(args) > 1 {
		name, rest = args[1], args[2:]
	}
	if name == "-h" || name == "--help" || name == "help" {
		usage(stdout)
		return nil
	}
	cmd, ok := commands[name]
	if !ok {
		usage(stderr)
		return fmt.Errorf("unknown command %q", name)
	}
	return cmd.run(ctx, rest, getenv, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: herotasks <command> [flags]\n\ncommands:")
	for _, name := range []string{"serve", "migrate", "seed", "token", "maintain", "verify"} {
		fmt.Fprintf(w, "  %-8s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w, "\nRun 'herotasks <command> --help' for a command's flags. Configuration comes from the environment (see README).")
}

// verifyOptions points verify at the server's pools and Redis, with the
// repository whose statements it explains.
func verifyOptions(cfg config.Config, pools *repository.Pools, rdb redis.UniversalClient) verify.Options {
	return verify.Options{Pool: pools.Write, Pools: pools.Named(), Redis: rdb, MonthsAhead: cfg.PartitionMonthsAhead,
		Store:          Reader,
		PendingSeedDDL: seed.Pending}
}
