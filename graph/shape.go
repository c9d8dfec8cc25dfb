package graph

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// Operation shapes.
//
// Serial (serial.go) and the memo's plans (memo.go) walk an operation's
// selections, and what they conclude follows from the parsed document and
// the values of the few variables that decide which fields are collected
// or how they are planned: those of @skip, @include and @defer, and the
// subtasks' first:. gqlgen keeps parsed documents (its query cache), so a
// client sending the same text sends the same *ast.OperationDefinition;
// the walks are made once per shape (the operation and those values) and
// shared by every request of that shape, instead of once per request.

// shapeEntries bounds the shapes (and the operations' variable lists) an
// instance keeps.
const shapeEntries = 1024

type shapeKey struct {
	op   *ast.OperationDefinition
	vars string // the values of the variables the shape reads
}

type shape struct {
	serial bool
	state  *serialState // the memo's plans, shared by the operations of this shape
}

var (
	shapeVarNames, _ = lru.New[*ast.OperationDefinition, []string](shapeEntries)
	shapes, _        = lru.New[shapeKey, *shape](shapeEntries)
)

// Serialize is Serial and WithSerial through the shape cache: whether oc
// may run serially and, if so, ctx marked for it, with the plans of the
// operations of its shape.
func Serialize(ctx context.Context, oc *graphql.OperationContext) (context.Context, bool) {
	if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return ctx, false
	}
	key := shapeKey{op: oc.Operation, vars: shapeValues(oc)}
	s, ok := shapes.Get(key)
	if !ok {
		s = &shape{serial: Serial(oc), state: &serialState{}}
		shapes.Add(key, s)
	}
	if !s.serial {
		return ctx, false
	}
	return context.WithValue(ctx, serialKey{}, s.state), true
}

// shapeValues encodes the values of the variables oc's shape reads, each
// with its Go type (gqlgen has coerced them to the operation's types).
func shapeValues(oc *graphql.OperationContext) string {
	names, ok := shapeVarNames.Get(oc.Operation)
	if !ok {
		names = shapeVariables(oc.Doc, oc.Operation)
		shapeVarNames.Add(oc.Operation, names)
	}
	if len(names) == 0 {
		return ""
	}
	var b strings.Builder
	for _, n := range names {
		v := oc.Variables[n]
		b.WriteString(strconv.Quote(fmt.Sprintf("%s=%T:%v", n, v, v)))
	}
	return b.String()
}

// shapeVariables lists, sorted, the variables read by the directives of
// op's selections and fragments and by the arguments of its subtasks
// fields.
func shapeVariables(doc *ast.QueryDocument, op *ast.OperationDefinition) []string {
	seen := map[string]bool{}
	frags := map[string]bool{}
	var value func(v *ast.Value)
	value = func(v *ast.Value) {
		if v == nil {
			return
		}
		if v.Kind == ast.Variable {
			seen[v.Raw] = true
		}
		for _, c := range v.Children {
			value(c.Value)
		}
	}
	directives := func(ds ast.DirectiveList) {
		for _, d := range ds {
			for _, a := range d.Arguments {
				value(a.Value)
			}
		}
	}
	var walk func(sel ast.SelectionSet)
	walk = func(sel ast.SelectionSet) {
		for _, s := range sel {
			switch s := s.(type) {
			case *ast.Field:
				directives(s.Directives)
				if s.Name == "subtasks" {
					for _, a := range s.Arguments {
						value(a.Value)
					}
				}
				walk(s.SelectionSet)
			case *ast.InlineFragment:
				directives(s.Directives)
				walk(s.SelectionSet)
			case *ast.FragmentSpread:
				directives(s.Directives)
				if frags[s.Name] {
					continue
				}
				frags[s.Name] = true
				if doc != nil {
					if f := doc.Fragments.ForName(s.Name); f != nil {
						directives(f.Directives)
						walk(f.SelectionSet)
					}
				}
			}
		}
	}
	walk(op.SelectionSet)
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
