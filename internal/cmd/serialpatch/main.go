// Command serialpatch rewrites gqlgen's generated executor (graph/generated.go)
// so that an operation marked serial (graph.WithSerial) resolves its fields
// and list elements one after the other instead of one goroutine each. It
// runs after gqlgen in `go generate` (server.go) and in `make
// check-generated`; every call it rewrites goes through a helper of package
// graph (graph/serial.go) that does exactly what gqlgen's call did for an
// operation that is not marked.
//
// Each rewrite must match at least once: when a gqlgen upgrade changes
// what it generates, this fails instead of leaving the executor half
// rewritten.
package main

import (
	"fmt"
	"os"
	"strings"
)

var rewrites = []struct{ from, to string }{
	// A list's elements.
	{"graphql.MarshalSliceConcurrently(ctx, len(v), ", "marshalSlice(ctx, len(v), "},
	// An object's resolver fields.
	{"out.ResolveConcurrently(ec.OperationContext, &deferred, i,", "resolveConcurrently(ctx, out, ec.OperationContext, &deferred, i,"},
	// The @defer group of every object, whose path gqlgen computes eagerly.
	{"graphql.NewDeferredGroup(ctx)", "newDeferredGroup(ctx)"},
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: serialpatch graph/generated.go")
		os.Exit(2)
	}
	path := os.Args[1]
	src, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "serialpatch:", err)
		os.Exit(1)
	}
	out := string(src)
	for _, r := range rewrites {
		n := strings.Count(out, r.from)
		if n == 0 && !strings.Contains(out, r.to) {
			fmt.Fprintf(os.Stderr, "serialpatch: %s: %q not found: gqlgen's output changed, update internal/cmd/serialpatch and graph/serial.go\n", path, r.from)
			os.Exit(1)
		}
		out = strings.ReplaceAll(out, r.from, r.to)
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "serialpatch:", err)
		os.Exit(1)
	}
}
