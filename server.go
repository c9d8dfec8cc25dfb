// Command herotasks is the Hero Tasks GraphQL API server and its tools:
// serve (the default), migrate, seed, token, maintain and verify.
package main

//go:generate go run github.com/99designs/gqlgen generate
//go:generate go run ./internal/cmd/serialpatch graph/generated.go

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// Garbage-collector defaults of the server, applied to `serve` when GOGC /
// GOMEMLIMIT are not set (set either and the Go runtime's own handling
// applies, as always). The other commands keep Go's: near a 100 MiB limit
// the million-task seed, which holds a few hundred MB of rows, collected
// without pause (146 s of CPU instead of 49). The
// nested 50-task query allocates about 2.8 MB in 44,000 objects, almost all
// in gqlgen's executor; at Go's GOGC=100 the collector took 16% of the
// process's CPU, at 400 4%, which raised throughput by about a quarter
// (README, "Tuning the executor path"). The memory limit keeps a burst of
// concurrent requests from growing the heap past what the RSS budget
// allows: near it the collector runs as often as it must.
const (
	defaultGOGC       = 400
	defaultGOMEMLIMIT = 100 << 20 // bytes
)

func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGOGC)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultGOMEMLIMIT)
	}
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "serve" {
		tuneGC(os.Getenv)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "herotasks:", err)
		os.Exit(1)
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

// run is the whole program: tests call it with their own arguments,
// environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
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
