package cost

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/herotasks/api/apierror"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Result is what an operation may cost.
type Result struct {
	Cost     int64         // the requested cost, saturated at MaxCost
	Depth    int           // deepest field; root fields are at depth 1
	Aliases  int           // aliased fields after merging
	Heaviest []Path        // the costliest fields, costliest first
	Errors   gqlerror.List // every limit the operation breaks, each with its code; empty when it may run
}

// Path is one field of an operation with what it adds to the operation's
// cost: its own and its children's, times its list size and the sizes of
// the lists above it.
type Path struct {
	Path string `json:"path"` // response keys from the root, dot-separated
	Cost int64  `json:"cost"`
}

// Analyze costs op (an operation of doc that passed validation) with the
// coerced variables vars, and checks it against the limits.
func (a *Analyzer) Analyze(doc *ast.QueryDocument, op *ast.OperationDefinition, vars map[string]any) *Result {
	w := walker{a: a, doc: doc, vars: vars, top: make([]Path, 0, a.opts.HeaviestPaths), factor: 1}
	root := a.root(op)
	res := &Result{}
	if root != nil {
		st := w.selection(root, []ast.SelectionSet{op.SelectionSet}, 0, sizing{})
		res.Cost, res.Depth, res.Aliases = st.cost, st.depth, st.aliases
	}
	res.Heaviest = w.top
	var at []gqlerror.Location
	if op.Position != nil {
		at = []gqlerror.Location{{Line: op.Position.Line, Column: op.Position.Column}}
	}
	var limits gqlerror.List
	check := func(code, key, format string, got, limit int64) {
		if got > limit {
			limits = append(limits, &gqlerror.Error{Locations: at, Message: fmt.Sprintf(format, got, limit),
				Extensions: map[string]any{"code": code, key: got, "limit": limit}})
		}
	}
	check(apierror.CostLimitExceeded, "cost", "the operation costs %d, more than the limit of %d", res.Cost, a.opts.Limit)
	check(apierror.DepthLimitExceeded, "depth", "the operation nests fields %d deep, more than the limit of %d", int64(res.Depth), int64(a.opts.MaxDepth))
	check(apierror.AliasLimitExceeded, "aliases", "the operation uses %d aliases, more than the limit of %d", int64(res.Aliases), int64(a.opts.MaxAliases))
	res.Errors = append(limits, w.errs...)
	return res
}

// stats are what a selection contributes.
type stats struct {
	cost    int64
	depth   int
	aliases int
}

// sizing carries a connection's size down to its sized fields (edges, nodes).
type sizing struct {
	fields []string
	n      int64
}

func (s sizing) applies(name string) bool {
	for _, f := range s.fields {
		if f == name {
			return true
		}
	}
	return false
}

// group is one response key of a selection set after merging: every field
// with that key, and the sub-selections of them all.
type group struct {
	key   string
	name  string
	field *ast.Field // the first; merged fields have the same name and arguments
	sets  []ast.SelectionSet
	plan  *plan      // Actual: the merged selection of this field's values, built once
	info  *fieldInfo // Actual: the field, looked up once
}

type walker struct {
	a      *Analyzer
	doc    *ast.QueryDocument
	vars   map[string]any
	path   []string
	factor int64  // product of the list sizes above the current field
	top    []Path // the heaviest fields so far, costliest first
	errs   gqlerror.List
}

// selection costs the sub-selections sets on a value of type typ: for an
// abstract type, the costliest of its object types.
func (w *walker) selection(typ *ast.Definition, sets []ast.SelectionSet, depth int, sized sizing) stats {
	objs := w.a.objects(typ)
	if objs == nil {
		return w.object(typ, sets, depth, sized)
	}
	var best stats
	for _, obj := range objs {
		st := w.object(obj, sets, depth, sized)
		best.cost = max(best.cost, st.cost)
		best.depth = max(best.depth, st.depth)
		best.aliases = max(best.aliases, st.aliases)
	}
	return best
}

func (w *walker) object(obj *ast.Definition, sets []ast.SelectionSet, depth int, sized sizing) stats {
	groups := w.collect(obj, sets)
	st := stats{depth: depth}
	for i := range groups {
		f := w.field(obj, &groups[i], depth+1, sized)
		st.cost = satAdd(st.cost, f.cost)
		st.depth = max(st.depth, f.depth)
		st.aliases += f.aliases
	}
	return st
}

func (w *walker) field(obj *ast.Definition, g *group, depth int, sized sizing) stats {
	st := stats{depth: depth}
	if g.key != g.name {
		st.aliases = 1
	}
	switch g.name {
	case "__typename":
		return st
	case "__schema", "__type":
		st.cost = w.a.opts.IntrospectionCost
		w.record(g.key, satMul(w.factor, st.cost))
		return st
	}
	info := w.a.field(obj.Name, g.name)
	if info == nil { // not in the schema: validation let nothing like it through
		return st
	}
	w.path = append(w.path, g.key)
	m := int64(1)
	n, given := w.slice(info, g.field)
	if info.list {
		m = w.size(info, n, given)
	}
	if sized.applies(g.name) {
		m = sized.n
	}
	var child sizing
	if info.size != nil && len(info.size.sized) > 0 {
		child = sizing{fields: info.size.sized, n: w.size(info, n, given)}
	}
	var sub stats
	factor := w.factor
	if len(g.sets) > 0 {
		w.factor = satMul(factor, m)
		sub = w.selection(info.typ, g.sets, depth, child)
		w.factor = factor
	}
	st.cost = satMul(m, satAdd(info.weight, sub.cost))
	st.depth = max(depth, sub.depth)
	st.aliases += sub.aliases
	w.path = w.path[:len(w.path)-1]
	w.record(g.key, satMul(factor, st.cost))
	return st
}

// size is a list's size: the slicing argument's value, else assumedSize,
// else the default.
func (w *walker) size(info *fieldInfo, n int64, given bool) int64 {
	switch {
	case given:
		return n
	case info.size != nil && info.size.assumed >= 0:
		return info.size.assumed
	}
	return w.a.opts.DefaultListSize
}

// slice returns the largest value given to the field's slicing arguments
// (a null or absent argument takes its default), reporting missing and
// out-of-range values.
func (w *walker) slice(info *fieldInfo, f *ast.Field) (int64, bool) {
	if info.size == nil || len(info.size.slicing) == 0 {
		return 0, false
	}
	var n int64
	count := 0
	for i := range info.size.slicing {
		sa := &info.size.slicing[i]
		v, ok := w.intArg(f, sa)
		if !ok {
			continue
		}
		count++
		if v < 0 || v > w.a.opts.MaxSlice {
			w.fail(f, apierror.SlicingArgumentOutOfRange, map[string]any{"field": sa.name, "value": v, "min": 0, "max": w.a.opts.MaxSlice},
				"%s must be between 0 and %d, got %d", sa.display, w.a.opts.MaxSlice, v)
		}
		n = max(n, min(max(v, 0), MaxCost))
	}
	if info.size.requireOne && count != 1 {
		names := make([]string, len(info.size.slicing))
		for i, sa := range info.size.slicing {
			names[i] = sa.name
		}
		w.fail(f, apierror.SlicingArgumentRequired, map[string]any{"field": strings.Join(names, ",")},
			"%s needs exactly one of the slicing arguments %s, got %d", info.size.field, strings.Join(names, ", "), count)
	}
	return n, count > 0
}

// intArg returns the value of a slicing argument of f: a literal, a
// variable or the argument's default (also for an explicit null, which the
// resolvers treat as absent).
func (w *walker) intArg(f *ast.Field, sa *slicingArg) (int64, bool) {
	if arg := f.Arguments.ForName(sa.name); arg != nil && arg.Value != nil {
		switch v := arg.Value; v.Kind {
		case ast.IntValue:
			n, err := strconv.ParseInt(v.Raw, 10, 64)
			if err == nil {
				return n, true
			}
		case ast.Variable:
			if n, ok := toInt(w.vars[v.Raw]); ok {
				return n, true
			}
		}
	}
	return sa.def, sa.hasDef
}

func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case float64:
		if n >= math.MinInt64 && n <= math.MaxInt64 {
			return int64(n), true
		}
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

// fail records a violation once per position and code (an abstract field is
// walked once per object type, a fragment once per use).
func (w *walker) fail(f *ast.Field, code string, ext map[string]any, format string, args ...any) {
	var at []gqlerror.Location
	if f.Position != nil {
		at = []gqlerror.Location{{Line: f.Position.Line, Column: f.Position.Column}}
	}
	for _, e := range w.errs {
		if e.Extensions["code"] == code && (len(at) == 0 || len(e.Locations) > 0 && e.Locations[0] == at[0]) {
			return
		}
	}
	ext["code"] = code
	w.errs = append(w.errs, &gqlerror.Error{Message: fmt.Sprintf(format, args...), Locations: at, Extensions: ext})
}

// record keeps the field at the current path (plus key) when it is among
// the heaviest so far.
func (w *walker) record(key string, cost int64) {
	k := cap(w.top)
	if cost == 0 || len(w.top) == k && (k == 0 || cost <= w.top[k-1].Cost) {
		return
	}
	n := len(key)
	for _, p := range w.path {
		n += len(p) + 1
	}
	var b strings.Builder
	b.Grow(n)
	for _, p := range w.path {
		b.WriteString(p)
		b.WriteByte('.')
	}
	b.WriteString(key)
	p := Path{Path: b.String(), Cost: cost}
	if len(w.top) < k {
		w.top = append(w.top, p)
	} else {
		w.top[k-1] = p
	}
	for i := len(w.top) - 1; i > 0 && w.top[i].Cost > w.top[i-1].Cost; i-- {
		w.top[i], w.top[i-1] = w.top[i-1], w.top[i]
	}
}

// collect merges the fields of sets that apply to an object of type obj,
// by response key, in order (GraphQL's CollectFields, with CollectSubfields
// over several sets): @skip and @include are honoured, a fragment is
// expanded once, and a type condition that does not match obj is skipped.
func (w *walker) collect(obj *ast.Definition, sets []ast.SelectionSet) []group {
	n := 0
	for _, set := range sets {
		n += len(set)
	}
	groups := make([]group, 0, n)
	var visited []string
	for _, set := range sets {
		groups = w.collectSet(obj, set, groups, &visited)
	}
	return groups
}

func (w *walker) collectSet(obj *ast.Definition, set ast.SelectionSet, groups []group, visited *[]string) []group {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if !w.included(s.Directives) {
				continue
			}
			i := 0
			for i < len(groups) && groups[i].key != s.Alias {
				i++
			}
			if i == len(groups) {
				groups = append(groups, group{key: s.Alias, name: s.Name, field: s})
			}
			if len(s.SelectionSet) > 0 {
				if groups[i].sets == nil {
					groups[i].sets = make([]ast.SelectionSet, 0, 1)
				}
				groups[i].sets = append(groups[i].sets, s.SelectionSet)
			}
		case *ast.InlineFragment:
			if w.included(s.Directives) && w.a.fragmentApplies(obj, s.TypeCondition) {
				groups = w.collectSet(obj, s.SelectionSet, groups, visited)
			}
		case *ast.FragmentSpread:
			if !w.included(s.Directives) || contains(*visited, s.Name) {
				continue
			}
			*visited = append(*visited, s.Name)
			def := s.Definition
			if def == nil && w.doc != nil {
				def = w.doc.Fragments.ForName(s.Name)
			}
			if def != nil && w.a.fragmentApplies(obj, def.TypeCondition) {
				groups = w.collectSet(obj, def.SelectionSet, groups, visited)
			}
		}
	}
	return groups
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// included applies @skip(if:) and @include(if:).
func (w *walker) included(dirs ast.DirectiveList) bool {
	for _, d := range dirs {
		switch d.Name {
		case "skip":
			if w.boolArg(d) {
				return false
			}
		case "include":
			if !w.boolArg(d) {
				return false
			}
		}
	}
	return true
}

func (w *walker) boolArg(d *ast.Directive) bool {
	arg := d.Arguments.ForName("if")
	if arg == nil || arg.Value == nil {
		return false
	}
	switch arg.Value.Kind {
	case ast.BooleanValue:
		return arg.Value.Raw == "true"
	case ast.Variable:
		b, _ := w.vars[arg.Value.Raw].(bool)
		return b
	}
	return false
}
