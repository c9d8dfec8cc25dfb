//go:build tools

// Package tools pins the code generator's version in go.mod so that
// `go generate ./...` regenerates graph/ with exactly this gqlgen.
package tools

import _ "github.com/99designs/gqlgen"
