// Package limits holds the abuse limits on a GraphQL document that the cost
// analyzer does not cover: how many directives it may carry, whether it may
// introspect the schema, whether validation errors suggest names ("Did you
// mean ...?", which lets a caller map a schema without introspection), and
// how many errors one response may list. The token, depth and alias limits
// live with the parser and the cost analyzer.
package limits

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// Options are the limits on one document.
type Options struct {
	Suggestions   bool // name near matches in validation errors (development)
	Introspection bool // allow __schema and __type
	MaxDirectives int  // directives in one document; 0 means no limit
	// MaxFields bounds the fields one operation selects, counting a
	// fragment's fields at every spread; 0 means no limit. gqlparser's
	// OverlappingFieldsCanBeMerged compares the fields of a selection
	// pairwise: 14,000 copies of __typename, within the token limit, keep a
	// core busy for 20 s. Past the limit that rule is not run at all.
	MaxFields int
}

// Rules returns gqlparser's default validation rules with these limits
// applied, for handler.Server.SetValidationRulesFn. Without suggestions every
// rule that would suggest a name (fields, arguments, enum values, input
// fields, types, scalar leaves) is swapped for its silent twin; set
// SetDisableSuggestion to the same value, as gqlgen swaps the field rule on
// its own.
func Rules(o Options) func() *rules.Rules {
	return func() *rules.Rules {
		r := rules.NewDefaultRules()
		if !o.Suggestions {
			for _, swap := range []struct {
				old  string
				rule core.Rule
			}{
				{rules.FieldsOnCorrectTypeRule.Name, rules.FieldsOnCorrectTypeRuleWithoutSuggestions},
				{rules.KnownArgumentNamesRule.Name, rules.KnownArgumentNamesRuleWithoutSuggestions},
				{rules.KnownTypeNamesRule.Name, rules.KnownTypeNamesRuleWithoutSuggestions},
				{rules.ValuesOfCorrectTypeRule.Name, rules.ValuesOfCorrectTypeRuleWithoutSuggestions},
				{rules.ScalarLeafsRule.Name, rules.ScalarLeafsRuleWithoutSuggestions},
			} {
				r.RemoveRule(swap.old)
				r.AddRule(swap.rule.Name, swap.rule.RuleFunc)
			}
		}
		if !o.Introspection {
			r.AddRule("NoIntrospection", noIntrospection)
		}
		if o.MaxDirectives > 0 {
			r.AddRule("MaxDirectives", maxDirectives(o.MaxDirectives))
		}
		if o.MaxFields > 0 {
			r.RemoveRule(rules.OverlappingFieldsCanBeMergedRule.Name)
			r.AddRule("MaxFieldsThenOverlappingFieldsCanBeMerged", maxFields(o.MaxFields))
		}
		return r
	}
}

// noIntrospection refuses __schema and __type anywhere in the document
// (__typename stays: clients need it to read unions).
func noIntrospection(observers *core.Events, addError core.AddErrFunc) {
	reported := false
	observers.OnField(func(_ *core.Walker, f *ast.Field) {
		if reported || (f.Name != "__schema" && f.Name != "__type") {
			return
		}
		reported = true
		addError(core.Message("introspection is disabled on this server"), core.At(f.Position))
	})
}

func maxDirectives(limit int) core.RuleFunc {
	return func(observers *core.Events, addError core.AddErrFunc) {
		n := 0
		observers.OnDirective(func(_ *core.Walker, d *ast.Directive) {
			if n++; n == limit+1 {
				addError(core.Message("the document has more than %d directives", limit), core.At(d.Position))
			}
		})
	}
}

// maxFields refuses a document whose operations select more than limit
// fields, and otherwise runs OverlappingFieldsCanBeMerged in a walk of its
// own, so that rule's quadratic work only ever sees bounded input.
func maxFields(limit int) core.RuleFunc {
	return func(observers *core.Events, addError core.AddErrFunc) {
		done := false
		check := func(w *core.Walker) {
			if done {
				return
			}
			done = true
			frags := map[string]*ast.FragmentDefinition{}
			for _, f := range w.Document.Fragments {
				if _, ok := frags[f.Name]; !ok {
					frags[f.Name] = f
				}
			}
			c := fieldCounter{frags: frags, sizes: map[string]int{}, limit: limit}
			for _, op := range w.Document.Operations {
				if n := c.count(op.SelectionSet); n > limit {
					addError(core.Message("the operation selects more than %d fields (a fragment counts at each spread)", limit),
						core.At(op.Position))
					return
				}
			}
			inner := &core.Events{}
			rules.OverlappingFieldsCanBeMergedRule.RuleFunc(inner, addError)
			core.Walk(w.Schema, w.Document, inner)
		}
		observers.OnOperation(func(w *core.Walker, _ *ast.OperationDefinition) { check(w) })
		observers.OnFragment(func(w *core.Walker, _ *ast.FragmentDefinition) { check(w) })
	}
}

// fieldCounter counts fields with fragments expanded, saturating just past
// the limit (spreads can multiply without bound) and treating a fragment
// cycle, which another rule reports, as empty.
type fieldCounter struct {
	frags map[string]*ast.FragmentDefinition
	sizes map[string]int // -1 while being counted
	limit int
}

func (c *fieldCounter) count(set ast.SelectionSet) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			n += 1 + c.count(s.SelectionSet)
		case *ast.InlineFragment:
			n += c.count(s.SelectionSet)
		case *ast.FragmentSpread:
			size, seen := c.sizes[s.Name]
			if !seen {
				c.sizes[s.Name] = -1
				if f := c.frags[s.Name]; f != nil {
					size = c.count(f.SelectionSet)
				}
				c.sizes[s.Name] = size
			}
			n += max(size, 0)
		}
		if n > c.limit {
			return c.limit + 1
		}
	}
	return n
}

// ErrorCap is a gqlgen extension that keeps at most Max errors in a
// response (a field-duplication or directive bomb can make thousands): the
// first Max-1, and one that says how many were left out, with the code of
// the first.
type ErrorCap struct{ Max int }

var (
	_ graphql.HandlerExtension    = ErrorCap{}
	_ graphql.ResponseInterceptor = ErrorCap{}
)

// ExtensionName implements graphql.HandlerExtension.
func (ErrorCap) ExtensionName() string { return "ErrorCap" }

// Validate implements graphql.HandlerExtension.
func (c ErrorCap) Validate(graphql.ExecutableSchema) error {
	if c.Max < 2 {
		return fmt.Errorf("ErrorCap.Max must be at least 2, not %d", c.Max)
	}
	return nil
}

// InterceptResponse implements graphql.ResponseInterceptor.
func (c ErrorCap) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil || len(resp.Errors) <= c.Max {
		return resp
	}
	first := resp.Errors[0]
	omitted := len(resp.Errors) - (c.Max - 1)
	ext := map[string]any{}
	for _, k := range []string{"code", "requestId"} {
		if v, ok := first.Extensions[k]; ok {
			ext[k] = v
		}
	}
	resp.Errors = append(resp.Errors[:c.Max-1:c.Max-1], &gqlerror.Error{
		Message: fmt.Sprintf("%d more errors were left out", omitted), Extensions: ext})
	return resp
}
