// Command serialpatch rewrites gqlgen's generated executor (graph/generated.go)
// so that an operation marked serial (graph.Serialize) resolves its fields
// and list elements one after the other instead of one goroutine each. It
// runs after gqlgen in `go generate` (server.go) and in `make
// check-generated`; every call it rewrites goes through a helper of package
// graph (graph/serial.go) that does exactly what gqlgen's call did for an
// operation that is not marked.
//
// gqlgen (v0.17.98) has no supported switch for this: exec.worker_limit in
// gqlgen.yml is fixed at generation for every operation and only bounds
// the goroutines of lists, FieldSet.Dispatch starts one per resolver field
// regardless, and field middleware runs inside those goroutines. So the
// executor is patched, on its syntax tree (patch.go): each call is found
// and its shape checked before it is rewritten, and any difference from
// what the helpers expect (a call gone or renamed, other arguments, an
// original call left over, a new way to start goroutines) fails with a
// message naming it instead of leaving the executor half rewritten.
// Running it on its own output changes nothing and checks the same.
package main

import (
	"bytes"
	"fmt"
	"os"
)

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
	out, err := patch(src)
	if err != nil {
		fmt.Fprintf(os.Stderr, "serialpatch: %s: %v\n", path, err)
		os.Exit(1)
	}
	if bytes.Equal(out, src) {
		return
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "serialpatch:", err)
		os.Exit(1)
	}
}
