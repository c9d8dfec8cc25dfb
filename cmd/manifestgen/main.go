// Command manifestgen writes the trusted-documents manifest of the
// operations in a directory of *.graphql files (go generate ./persisted).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	"github.com/herotasks/api/persisted"
)

func main() {
	dir := flag.String("examples", "../examples", "directory of *.graphql operations, one named operation per file")
	out := flag.String("out", "manifest.json", "manifest to write")
	flag.Parse()
	m, err := persisted.Build(os.DirFS(*dir))
	if err != nil {
		fmt.Fprintln(os.Stderr, "manifestgen:", err)
		os.Exit(1)
	}
	b := m.JSON()
	if old, err := os.ReadFile(*out); err == nil && bytes.Equal(old, b) {
		return
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "manifestgen:", err)
		os.Exit(1)
	}
	fmt.Printf("manifestgen: %d operations in %s\n", len(m.Operations), *out)
}
