package main

import (
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"strings"
)

// gqlgenGraphQL is the import path of the package whose calls are rewritten.
const gqlgenGraphQL = "github.com/99designs/gqlgen/graphql"

// hint closes every error: what a failure means and where to act.
const hint = "gqlgen's generated executor changed: update serialpatch and the helpers of graph/serial.go (with their drift guards) together"

// A kind is one gqlgen call serialpatch rewrites into a helper of package
// graph (graph/serial.go).
type kind int

const (
	marshalSlice  kind = iota // graphql.MarshalSliceConcurrently: a list's elements
	resolveField              // out.ResolveConcurrently: an object's resolver field
	deferredGroup             // graphql.NewDeferredGroup: an object's @defer group
	numKinds
)

var kinds = [numKinds]struct {
	orig   string // the gqlgen call, as messages name it
	name   string // its selector
	helper string // the helper of graph/serial.go it becomes
	args   int    // its argument count in gqlgen's call
	extra  int    // the arguments the helper takes before them (ctx, out)
}{
	marshalSlice:  {"graphql.MarshalSliceConcurrently", "MarshalSliceConcurrently", "marshalSlice", 5, 0},
	resolveField:  {"(*graphql.FieldSet).ResolveConcurrently", "ResolveConcurrently", "resolveConcurrently", 6, 2},
	deferredGroup: {"graphql.NewDeferredGroup", "NewDeferredGroup", "newDeferredGroup", 1, 0},
}

// knownConcurrently are the gqlgen names ending in Concurrently that the
// executor may call: the two rewritten, and the root fields' own, left
// concurrent on purpose (a query has few root fields). Any other is a new
// way to start goroutines that serial execution would not cover.
var knownConcurrently = []string{"MarshalSliceConcurrently", "ResolveConcurrently", "ResolveRootConcurrently"}

// patch rewrites gqlgen's generated executor src: every call of kinds
// becomes a call of its helper, which does what gqlgen's call does unless
// the operation is marked serial. It works on the syntax tree: it finds the
// calls, checks that each has the shape the helper expects, and splices
// the helper's name (and ctx, out for a resolver field) in at their exact
// positions; the result is what gofmt prints. It fails, naming what
// changed, when a kind is found zero times, a call has another shape, an
// original call (or a reference to one) remains afterwards, or gqlgen
// starts goroutines another way. On already-patched code it changes
// nothing and checks the same.
func patch(src []byte) ([]byte, error) {
	before, err := scan(src)
	if err != nil {
		return nil, err
	}
	var errs []error
	errs = append(errs, before.problems...)
	for k := range numKinds {
		if len(before.orig[k])+len(before.helper[k]) == 0 {
			errs = append(errs, fmt.Errorf("%s found 0 times (and no %s): gqlgen no longer generates it", kinds[k].orig, kinds[k].helper))
		}
	}
	if len(errs) > 0 {
		return nil, wrap(errs)
	}

	var edits []edit
	for k := range numKinds {
		for _, c := range before.orig[k] {
			edits = append(edits, c.edit(before.tok, src))
		}
	}
	slices.SortFunc(edits, func(a, b edit) int { return b.from - a.from })
	out := slices.Clone(src)
	for _, e := range edits {
		out = slices.Concat(out[:e.from], []byte(e.text), out[e.to:])
	}
	out, err = format.Source(out)
	if err != nil {
		return nil, fmt.Errorf("the rewritten code does not format: %w", err)
	}

	after, err := scan(out)
	if err != nil {
		return nil, fmt.Errorf("the rewritten code: %w", err)
	}
	if err := verify(before, after); err != nil {
		return nil, err
	}
	return out, nil
}

// verify checks the rewritten code (after) against the code it was
// rewritten from (before): no call of, or reference to, gqlgen's functions
// remains, each helper is called exactly as often as its gqlgen call and
// the helper were before, and every call has the right shape.
func verify(before, after *found) error {
	errs := slices.Clone(after.problems)
	for k := range numKinds {
		if n := len(after.orig[k]) + after.refs[k]; n > 0 {
			errs = append(errs, fmt.Errorf("%d %s remain after rewriting", n, kinds[k].orig))
		}
		if want := len(before.orig[k]) + len(before.helper[k]); len(after.helper[k]) != want {
			errs = append(errs, fmt.Errorf("%d calls of %s after rewriting, want %d", len(after.helper[k]), kinds[k].helper, want))
		}
	}
	if len(errs) > 0 {
		return wrap(errs)
	}
	return nil
}

func wrap(errs []error) error {
	return fmt.Errorf("%w\n%s", errors.Join(errs...), hint)
}

// call is one call found: of gqlgen's function (orig) or of a helper.
type call struct {
	kind kind
	expr *ast.CallExpr
}

// edit replaces src[from:to] with text.
type edit struct {
	from, to int
	text     string
}

// edit turns gqlgen's call c into a call of its helper: the function
// expression (with, for a resolver field, its receiver) gives way to the
// helper's name, and ctx and the receiver lead the arguments.
func (c call) edit(tok *token.File, src []byte) edit {
	fun := c.expr.Fun
	e := edit{from: tok.Offset(fun.Pos()), to: tok.Offset(fun.End()), text: kinds[c.kind].helper}
	if c.kind == resolveField {
		recv := fun.(*ast.SelectorExpr).X
		e.to = tok.Offset(c.expr.Lparen) + 1
		e.text += "(ctx, " + string(src[tok.Offset(recv.Pos()):tok.Offset(recv.End())]) + ", "
	}
	return e
}

// found is what scan finds in one version of the file.
type found struct {
	tok      *token.File
	orig     [numKinds][]call
	helper   [numKinds][]call
	refs     [numKinds]int // references to gqlgen's functions other than calls
	problems []error
}

// scan parses src and finds the calls of gqlgen's functions and of the
// helpers, checking the shape of each, and anything else that starts
// goroutines.
func scan(src []byte) (*found, error) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "generated.go", src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("does not parse: %w", err)
	}
	f := &found{tok: fset.File(file.Pos())}
	gql := importName(file, gqlgenGraphQL)
	if gql == "" {
		return nil, fmt.Errorf("does not import %s: %s", gqlgenGraphQL, hint)
	}
	line := func(n ast.Node) int { return fset.Position(n.Pos()).Line }
	problem := func(n ast.Node, format string, args ...any) {
		f.problems = append(f.problems, fmt.Errorf("line %d: "+format, append([]any{line(n)}, args...)...))
	}

	callee := map[*ast.SelectorExpr]bool{} // selectors called, not merely referred to
	var stack []ast.Node
	ast.Inspect(file, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return false
		}
		stack = append(stack, n)
		switch n := n.(type) {
		case *ast.GoStmt:
			problem(n, "a go statement: gqlgen starts goroutines in a way serial execution does not cover")
		case *ast.CallExpr:
			k, helper, ok := classify(n, gql)
			if !ok {
				break
			}
			c := call{kind: k, expr: n}
			if helper {
				f.helper[k] = append(f.helper[k], c)
			} else {
				callee[n.Fun.(*ast.SelectorExpr)] = true
				f.orig[k] = append(f.orig[k], c)
			}
			if err := c.check(helper, stack); err != nil {
				problem(n, "%v", err)
			}
		case *ast.SelectorExpr:
			name := n.Sel.Name
			if strings.HasSuffix(name, "Concurrently") && !slices.Contains(knownConcurrently, name) {
				problem(n, "%s: a call serialpatch does not know starts goroutines", name)
			}
			if callee[n] {
				break
			}
			for k := range numKinds {
				if name == kinds[k].name && (k == resolveField || isIdent(n.X, gql)) {
					f.refs[k]++
					problem(n, "%s is referred to other than by a call", kinds[k].orig)
				}
			}
		}
		return true
	})
	return f, nil
}

// classify tells whether call is one of gqlgen's rewritten calls or one of
// the helpers, and which kind.
func classify(call *ast.CallExpr, gql string) (k kind, helper, ok bool) {
	switch fun := call.Fun.(type) {
	case *ast.Ident:
		for k := range numKinds {
			if fun.Name == kinds[k].helper {
				return k, true, true
			}
		}
	case *ast.SelectorExpr:
		switch name := fun.Sel.Name; {
		case name == kinds[resolveField].name:
			return resolveField, false, true
		case isIdent(fun.X, gql):
			for k := range numKinds {
				if name == kinds[k].name {
					return k, false, true
				}
			}
		}
	}
	return 0, false, false
}

// check reports whether c has the shape its helper expects (graph/serial.go):
//
//	marshalSlice(ctx, length, workerLimit, omitPanicHandler, func(ctx, i) Marshaler)
//	resolveConcurrently(ctx, out, oc, &deferred, i, recoverFromPanic, nonNull, func(ctx) Marshaler)
//	newDeferredGroup(ctx)
//
// gqlgen's calls have the same arguments, but for resolveConcurrently's
// first two: ctx and the receiver of ResolveConcurrently. stack holds the
// nodes enclosing c, c last.
func (c call) check(helper bool, stack []ast.Node) error {
	k, args := kinds[c.kind], c.expr.Args
	name := k.orig
	want := k.args
	if helper {
		name, want = k.helper, k.args+k.extra
	}
	if c.expr.Ellipsis.IsValid() {
		return fmt.Errorf("%s is called with ...", name)
	}
	if len(args) != want {
		return fmt.Errorf("%s has %d arguments, %s expects %d", name, len(args), k.helper, want)
	}
	var recv string
	if helper {
		if c.kind == resolveField {
			if !isIdent(args[0], "ctx") {
				return fmt.Errorf("%s: argument 1 is not ctx", name)
			}
			recv = identName(args[1])
			if recv == "" {
				return fmt.Errorf("%s: argument 2 is not a variable", name)
			}
		}
		args = args[k.extra:]
	} else if c.kind == resolveField {
		recv = identName(c.expr.Fun.(*ast.SelectorExpr).X)
		if recv == "" {
			return fmt.Errorf("%s: its receiver is not a variable", name)
		}
	}
	switch c.kind {
	case marshalSlice:
		if !isIntLit(args[2]) {
			return fmt.Errorf("%s: argument 3 (workerLimit) is not an integer literal", name)
		}
		if !isBoolLit(args[3]) {
			return fmt.Errorf("%s: argument 4 (omitPanicHandler) is not true or false", name)
		}
		if !isFuncLit(args[4], 2) {
			return fmt.Errorf("%s: argument 5 is not a func(ctx, i) literal returning one result", name)
		}
	case resolveField:
		if u, ok := args[1].(*ast.UnaryExpr); !ok || u.Op != token.AND || identName(u.X) == "" {
			return fmt.Errorf("%s: argument 2 is not &deferred", name)
		}
		if !isBoolLit(args[3]) || !isBoolLit(args[4]) {
			return fmt.Errorf("%s: arguments 4 and 5 (recoverFromPanic, nonNull) are not true or false", name)
		}
		if !isFuncLit(args[5], 1) {
			return fmt.Errorf("%s: argument 6 is not a func(ctx) literal returning one result", name)
		}
		// The helper resolves the field at once with the ctx of the
		// object's function, the context Dispatch would have handed it.
		if err := dispatchesWithCtx(stack, recv); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// dispatchesWithCtx reports whether the function enclosing the last node
// of stack is a function declaration with a parameter ctx context.Context
// that calls recv.Dispatch(ctx).
func dispatchesWithCtx(stack []ast.Node, recv string) error {
	var fn *ast.FuncDecl
	for _, n := range slices.Backward(stack[:len(stack)-1]) {
		if _, ok := n.(*ast.FuncLit); ok {
			return errors.New("called inside a function literal, not in the object's function")
		}
		if d, ok := n.(*ast.FuncDecl); ok {
			fn = d
			break
		}
	}
	if fn == nil {
		return errors.New("called outside a function")
	}
	hasCtx := false
	for _, p := range fn.Type.Params.List {
		if sel, ok := p.Type.(*ast.SelectorExpr); ok && isIdent(sel.X, "context") && sel.Sel.Name == "Context" &&
			slices.ContainsFunc(p.Names, func(n *ast.Ident) bool { return n.Name == "ctx" }) {
			hasCtx = true
		}
	}
	if !hasCtx {
		return fmt.Errorf("%s has no parameter ctx context.Context", fn.Name.Name)
	}
	dispatched := false
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallExpr); ok {
			if sel, ok := c.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Dispatch" && isIdent(sel.X, recv) &&
				len(c.Args) == 1 && isIdent(c.Args[0], "ctx") {
				dispatched = true
			}
		}
		return !dispatched
	})
	if !dispatched {
		return fmt.Errorf("%s does not call %s.Dispatch(ctx)", fn.Name.Name, recv)
	}
	return nil
}

// importName is the name file gives the package of path, or "".
func importName(file *ast.File, path string) string {
	for _, imp := range file.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == path {
			if imp.Name != nil {
				return imp.Name.Name
			}
			return path[strings.LastIndex(path, "/")+1:]
		}
	}
	return ""
}

func identName(e ast.Expr) string {
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

func isIdent(e ast.Expr, name string) bool { return identName(e) == name }

func isBoolLit(e ast.Expr) bool { return isIdent(e, "true") || isIdent(e, "false") }

func isIntLit(e ast.Expr) bool {
	lit, ok := e.(*ast.BasicLit)
	return ok && lit.Kind == token.INT
}

// isFuncLit reports whether e is a function literal of params parameters
// and one result.
func isFuncLit(e ast.Expr, params int) bool {
	lit, ok := e.(*ast.FuncLit)
	return ok && lit.Type.Params.NumFields() == params && lit.Type.Results.NumFields() == 1
}
