package persisted

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// Manifest lists trusted documents in the format of Apollo's persisted-query
// manifest (apollo-persisted-query-manifest, version 1), so client tooling
// that reads or writes that format works with it.
type Manifest struct {
	Format     string      `json:"format"`
	Version    int         `json:"version"`
	Operations []Operation `json:"operations"`
}

// Operation is one trusted document: its hash, the name and type of its
// operation, and the exact text whose hash it is.
type Operation struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
	Body string `json:"body"`
}

//go:embed manifest.json
var builtin []byte

// Builtin returns the manifest embedded at build time (go generate
// ./persisted builds it from examples/).
func Builtin() (Manifest, error) { return ParseManifest(builtin) }

// ParseManifest reads a manifest and checks that every id is its body's hash.
func ParseManifest(b []byte) (Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("persisted-query manifest: %w", err)
	}
	if m.Format != "apollo-persisted-query-manifest" || m.Version != 1 {
		return m, errors.New("persisted-query manifest: want format apollo-persisted-query-manifest, version 1")
	}
	for _, op := range m.Operations {
		if Hash(op.Body) != op.ID {
			return m, fmt.Errorf("persisted-query manifest: operation %s: id is not the sha256 of its body", op.Name)
		}
	}
	return m, nil
}

// Build makes the manifest of every *.graphql file in fsys: one named
// operation per file, its body the file's text without surrounding
// whitespace (send exactly that text, or its hash). A missing directory
// gives an empty manifest.
func Build(fsys fs.FS) (Manifest, error) {
	m := Manifest{Format: "apollo-persisted-query-manifest", Version: 1, Operations: []Operation{}}
	files, err := fs.Glob(fsys, "*.graphql")
	if err != nil {
		return m, err
	}
	sort.Strings(files)
	names := map[string]string{}
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return m, err
		}
		body := strings.TrimSpace(string(b))
		doc, perr := parser.ParseQuery(&ast.Source{Name: f, Input: body})
		if perr != nil {
			return m, fmt.Errorf("%s: %w", f, perr)
		}
		if len(doc.Operations) != 1 || doc.Operations[0].Name == "" {
			return m, fmt.Errorf("%s: want exactly one named operation", f)
		}
		op := doc.Operations[0]
		if other, ok := names[op.Name]; ok {
			return m, fmt.Errorf("%s: operation %s is also in %s", f, op.Name, other)
		}
		names[op.Name] = f
		m.Operations = append(m.Operations, Operation{ID: Hash(body), Name: op.Name, Type: string(op.Operation), Body: body})
	}
	return m, nil
}

// JSON renders the manifest as committed: indented, ending in a newline.
func (m Manifest) JSON() []byte {
	b, _ := json.MarshalIndent(m, "", "  ") // only strings and ints
	return append(b, '\n')
}
