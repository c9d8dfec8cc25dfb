// Command herotasks is the Hero Tasks GraphQL API server and its tools:
// serve (the default), migrate, seed, token, maintain and verify. The
// program itself is package app; this file is its entry point.
package main

//go:generate go run github.com/99designs/gqlgen generate
//go:generate go run ./cmd/serialpatch graph/generated.go

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/herotasks/api/app"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] == "serve" {
		app.TuneGC(os.Getenv)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "herotasks:", err)
		os.Exit(1)
	}
}

// run is the whole program: tests call it with their own arguments,
// environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return app.Run(ctx, args, getenv, stdout, stderr)
}
