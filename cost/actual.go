package cost

import (
	"bytes"

	"github.com/vektah/gqlparser/v2/ast"
)

// Actual is the cost of what op returned: the response's data (JSON, as
// gqlgen marshals it) walked with the same weights as Analyze, each list
// counted at its actual length. A null value costs its field's weight; an
// object of an abstract type costs as its __typename says when it was
// selected, else as its costliest possible type. Malformed JSON costs what
// was read of it.
func (a *Analyzer) Actual(doc *ast.QueryDocument, op *ast.OperationDefinition, vars map[string]any, data []byte) int64 {
	root := a.root(op)
	if root == nil {
		return 0
	}
	w := walker{a: a, doc: doc, vars: vars}
	s := scanner{b: data}
	return w.actualObject(root, []ast.SelectionSet{op.SelectionSet}, &s, nil)
}

// plan caches the merged selection of one field's values, per object type,
// so every value of the field (every element of every list) reuses it.
type plan struct {
	types  []*ast.Definition
	groups [][]group
}

func (w *walker) groupsFor(p *plan, obj *ast.Definition, sets []ast.SelectionSet) []group {
	for i, t := range p.types {
		if t == obj {
			return p.groups[i]
		}
	}
	g := w.collect(obj, sets)
	p.types = append(p.types, obj)
	p.groups = append(p.groups, g)
	return g
}

// actualObject costs one JSON value of an object type; p may cache its
// merged selection.
func (w *walker) actualObject(typ *ast.Definition, sets []ast.SelectionSet, s *scanner, p *plan) int64 {
	if p == nil {
		p = &plan{}
	}
	if objs := w.a.objects(typ); objs != nil {
		return w.actualAbstract(objs, sets, s, p)
	}
	return w.actualFields(typ, w.groupsFor(p, typ, sets), s)
}

// actualFields costs a JSON object whose keys are the response keys of groups.
func (w *walker) actualFields(obj *ast.Definition, groups []group, s *scanner) int64 {
	if !s.open('{') {
		s.skip()
		return 0
	}
	var total int64
	for s.next('}') {
		key := s.str()
		if !s.colon() {
			return total
		}
		i := 0
		for i < len(groups) && groups[i].key != string(key) {
			i++
		}
		if i == len(groups) {
			s.skip()
			continue
		}
		total = satAdd(total, w.actualField(obj, &groups[i], s))
	}
	return total
}

func (w *walker) actualField(obj *ast.Definition, g *group, s *scanner) int64 {
	switch g.name {
	case "__typename":
		s.skip()
		return 0
	case "__schema", "__type":
		s.skip()
		return w.a.opts.IntrospectionCost
	}
	if g.plan == nil {
		g.plan = &plan{}
		g.info = w.a.field(obj.Name, g.name)
	}
	info := g.info
	if info == nil {
		s.skip()
		return 0
	}
	if !info.list {
		return w.actualValue(info, g, s)
	}
	if !s.open('[') {
		s.skip() // null: an empty list
		return 0
	}
	var total int64
	for s.next(']') {
		total = satAdd(total, w.actualValue(info, g, s))
	}
	return total
}

// actualValue costs one value (or list element) of a field: its weight and,
// for an object, its children's.
func (w *walker) actualValue(info *fieldInfo, g *group, s *scanner) int64 {
	if len(g.sets) == 0 || s.peek() != '{' {
		s.skip()
		return info.weight
	}
	return satAdd(info.weight, w.actualObject(info.typ, g.sets, s, g.plan))
}

// actualAbstract costs an object of an abstract type: as the type its
// __typename names, else as the costliest of objs.
func (w *walker) actualAbstract(objs []*ast.Definition, sets []ast.SelectionSet, s *scanner, p *plan) int64 {
	start := s.i
	s.skip()
	raw := s.b[start:s.i]
	var best int64
	for _, obj := range objs {
		groups := w.groupsFor(p, obj, sets)
		for i := range groups {
			if groups[i].name == "__typename" && typename(raw, groups[i].key) == obj.Name {
				return w.actualFields(obj, groups, &scanner{b: raw})
			}
		}
	}
	for _, obj := range objs {
		best = max(best, w.actualFields(obj, w.groupsFor(p, obj, sets), &scanner{b: raw}))
	}
	return best
}

// typename returns the string value of key in the JSON object raw.
func typename(raw []byte, key string) string {
	s := scanner{b: raw}
	if !s.open('{') {
		return ""
	}
	for s.next('}') {
		k := s.str()
		if !s.colon() {
			return ""
		}
		if string(k) == key && s.peek() == '"' {
			return string(s.str())
		}
		s.skip()
	}
	return ""
}

// scanner reads JSON as gqlgen writes it, without allocating. On malformed
// input it stops (every method then reports the end).
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) stop() { s.i = len(s.b) }

// open consumes c ('{' or '[') when it comes next.
func (s *scanner) open(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	return false
}

// next reports whether another member or element follows in an object or
// array closed by end, consuming the comma before it or the closing byte.
func (s *scanner) next(end byte) bool {
	switch s.peek() {
	case end:
		s.i++
		return false
	case ',':
		s.i++
		return s.peek() != 0
	case 0:
		return false
	}
	// The first member: only valid right after the opening byte.
	if s.i > 0 && (s.b[s.i-1] == '{' || s.b[s.i-1] == '[' || isSpace(s.b[s.i-1])) {
		return true
	}
	s.stop()
	return false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (s *scanner) colon() bool {
	if s.peek() == ':' {
		s.i++
		return true
	}
	s.stop()
	return false
}

// str consumes a string and returns its raw contents (escapes not decoded;
// response keys and type names have none).
func (s *scanner) str() []byte {
	if s.peek() != '"' {
		s.stop()
		return nil
	}
	s.i++
	start := s.i
	for {
		j := bytes.IndexByte(s.b[s.i:], '"')
		if j < 0 {
			s.stop()
			return nil
		}
		end := s.i + j
		s.i = end + 1
		k := end // a quote after an odd number of backslashes is escaped
		for k > start && s.b[k-1] == '\\' {
			k--
		}
		if (end-k)%2 == 0 {
			return s.b[start:end]
		}
	}
}

// skip consumes one value of any kind.
func (s *scanner) skip() {
	switch s.peek() {
	case '"':
		s.str()
	case '{':
		s.i++
		for s.next('}') {
			s.str()
			if !s.colon() {
				return
			}
			s.skip()
		}
	case '[':
		s.i++
		for s.next(']') {
			s.skip()
		}
	case 0:
	default: // number, true, false, null
		n := bytes.IndexAny(s.b[s.i:], ",}] \t\n\r")
		if n <= 0 {
			s.stop()
			return
		}
		s.i += n
	}
}
