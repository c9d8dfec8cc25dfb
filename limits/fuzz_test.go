package limits_test

import (
	"context"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/herotasks/api/apierror"
	"github.com/herotasks/api/graph"
	"github.com/herotasks/api/limits"
	"github.com/vektah/gqlparser/v2/ast"
)

// FuzzRules: any document, parsed and validated against the real schema as
// the server does (gqlgen's executor with limits.Rules, the token limit and
// suggestions set together), under any combination of the options, never
// panics, every error it reports carries extensions.code, a parse or
// validation failure, and with introspection off no document that passes
// selects __schema or __type. `go test` runs the seeds; make test explores for a
// few seconds (`go test -run '^$' -fuzz '^FuzzRules$' ./limits`).
func FuzzRules(f *testing.F) {
	deep := "{ tags(first: 1) {" + strings.Repeat(" tasks(first: 1) { nodes { tags {", 4) + " id" + strings.Repeat(" } } }", 4) + " } }"
	for _, q := range []string{
		`{ me { id } }`,
		`{ tasks(first: 5) { nodes { number title tags { name } subtasks(first: 2) { number } } } }`,
		`{ __schema { types { name } } }`,
		`{ __type(name: "Task") { fields { name } } __typename }`,
		`{ me @include(if: true) @skip(if: false) { id @include(if: true) } }`,
		`{ tasks(first: 1) { nodes { ...F } } } fragment F on Task { id ...G } fragment G on Task { ...F }`,
		`{ a: me { id } a: me { name } }`,
		`{ tasks(first: 1) { nodes { titl } } }`,
		`{ tasks(first: 1, filter: {status: [DONE]}) { totalCount } }`,
		`query($n: Int!) { tasks(first: $n) { totalCount } }`,
		`mutation { createTask(input: {title: "x", typo: 1}) { id } }`,
		`subscription { taskChanged { kind } taskEvents { kind } }`,
		`{ ` + strings.Repeat("__typename ", 200) + `}`,
		`{ tasks(first: 1) { nodes { ...F ...F ...F } } } fragment F on Task { ` + strings.Repeat("id ", 50) + `}`,
		deep,
		`{`, `}`, ``, `query query`, `fragment F on Task { id }`, "{ me { id } } # \u0000",
	} {
		f.Add(q, uint8(0))
		f.Add(q, uint8(0xff))
	}
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}})
	f.Fuzz(func(t *testing.T, query string, flags uint8) {
		o := limits.Options{
			Suggestions:   flags&1 != 0,
			Introspection: flags&2 != 0,
			MaxDirectives: int(flags>>2&3) * 2, // 0 (no limit), 2, 4, 6
			MaxFields:     int(flags>>4&3) * 20,
		}
		exec := executor.New(schema)
		exec.SetDefaultRulesFn(limits.Rules(o))
		exec.SetDisableSuggestion(!o.Suggestions)
		exec.SetParserTokenLimit(2000)
		ctx := graphql.StartOperationTrace(context.Background())
		rc, errs := exec.CreateOperationContext(ctx, &graphql.RawParams{Query: query})
		for _, e := range errs {
			switch code := e.Extensions["code"]; code {
			case apierror.ParseFailed, apierror.ValidationFailed:
			default:
				t.Fatalf("%q with %+v: error %q has code %v", query, o, e.Message, code)
			}
		}
		if len(errs) == 0 && !o.Introspection {
			for _, op := range rc.Doc.Operations {
				if f := introspects(op.SelectionSet, rc.Doc.Fragments, map[string]bool{}); f != "" {
					t.Fatalf("%q with %+v: %s passed with introspection off", query, o, f)
				}
			}
		}
	})
}

// introspects returns the first __schema or __type field that set selects,
// fragments included, or "".
func introspects(set ast.SelectionSet, frags ast.FragmentDefinitionList, seen map[string]bool) string {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" {
				return s.Name
			}
			if f := introspects(s.SelectionSet, frags, seen); f != "" {
				return f
			}
		case *ast.InlineFragment:
			if f := introspects(s.SelectionSet, frags, seen); f != "" {
				return f
			}
		case *ast.FragmentSpread:
			if def := frags.ForName(s.Name); def != nil && !seen[s.Name] {
				seen[s.Name] = true
				if f := introspects(def.SelectionSet, frags, seen); f != "" {
					return f
				}
			}
		}
	}
	return ""
}
