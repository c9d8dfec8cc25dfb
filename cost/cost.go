// Package cost decides what a GraphQL operation may cost before it runs,
// and what it did cost after: the static analyzer (weights and list sizes
// read from the schema's @cost and @listSize directives, the IBM cost
// specification's names), the limits on cost, depth, aliases and slicing
// arguments, the cost of a response actually returned, a per-client token
// bucket in Redis shared by every server instance, and the gqlgen extension
// and HTTP middleware that put them in front of the executor.
//
// The model: cost(field) = m(field) × (weight + Σ cost(children)), where m
// is the list size (a slicing argument's value, else assumedSize, else 10;
// 1 for a field that is not a list) and the weight comes from @cost, else 1
// for objects, 0 for scalars and enums and 10 for root mutation fields.
// Fields are merged as GraphQL's CollectFields merges them, so a fragment
// spread twice counts once and every alias counts on its own; an abstract
// field costs the most of its possible types. All arithmetic saturates at
// MaxCost. docs/cost.md has the weights and a worked example.
package cost

import (
	"fmt"
	"strconv"

	"github.com/herotasks/api/domain"
	"github.com/vektah/gqlparser/v2/ast"
)

// MaxCost is where costs saturate: the largest integer a JSON number keeps
// exactly in every client (2^53 - 1).
const MaxCost int64 = 1<<53 - 1

// Options are the analyzer's limits and default weights. A zero field takes
// the default named beside it.
type Options struct {
	Limit             int64 // largest cost an operation may have (10,000)
	MaxDepth          int   // deepest field nesting; root fields are at depth 1 (10)
	MaxAliases        int   // aliased fields in the operation, after merging (30)
	MaxSlice          int64 // largest value of a slicing argument (domain.MaxPage); the smallest is 0
	DefaultListSize   int64 // size of a list without @listSize (10)
	MutationWeight    int64 // weight of a root mutation field without @cost (10)
	IntrospectionCost int64 // flat cost of __schema and __type, whatever they select (10)
	HeaviestPaths     int   // how many of the heaviest paths a Result lists (5)
}

func (o Options) withDefaults() Options {
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Limit, 10_000)
	def(&o.MaxSlice, domain.MaxPage)
	def(&o.DefaultListSize, 10)
	def(&o.MutationWeight, 10)
	def(&o.IntrospectionCost, 10)
	if o.MaxDepth <= 0 {
		o.MaxDepth = 10
	}
	if o.MaxAliases <= 0 {
		o.MaxAliases = 30
	}
	if o.HeaviestPaths <= 0 {
		o.HeaviestPaths = 5
	}
	return o
}

// Analyzer costs operations against one schema. It is safe for concurrent
// use; the schema's directives are read once, by New.
type Analyzer struct {
	schema   *ast.Schema
	opts     Options
	fields   map[typeField]*fieldInfo
	applies  map[typeField]bool // {object, fragment type condition} → the fragment applies
	possible map[string][]*ast.Definition
}

type typeField struct{ typ, field string }

// fieldInfo is what the analyzer needs of one field of one object type.
type fieldInfo struct {
	typ    *ast.Definition // the named type it returns
	list   bool
	weight int64
	size   *listSize // nil without @listSize
}

type listSize struct {
	field      string // "Query.tasks", for messages
	assumed    int64  // -1 when not given
	slicing    []slicingArg
	sized      []string
	requireOne bool
}

type slicingArg struct {
	name    string
	def     int64 // the argument's default value, when hasDef
	hasDef  bool
	argDef  *ast.ArgumentDefinition
	display string // "Query.tasks(first:)"
}

// New reads the weights and list sizes of every field of schema. It fails
// when a directive names an argument or child field that does not exist, so
// a typo in the schema is caught when the server starts, not by a client.
func New(schema *ast.Schema, o Options) (*Analyzer, error) {
	a := &Analyzer{schema: schema, opts: o.withDefaults(), fields: map[typeField]*fieldInfo{},
		applies: map[typeField]bool{}, possible: map[string][]*ast.Definition{}}
	for _, def := range schema.Types {
		switch def.Kind {
		case ast.Interface, ast.Union:
			a.possible[def.Name] = schema.GetPossibleTypes(def)
			for _, obj := range a.possible[def.Name] {
				a.applies[typeField{obj.Name, def.Name}] = true
			}
		case ast.Object:
			if err := a.readObject(def); err != nil {
				return nil, err
			}
		}
	}
	return a, nil
}

func (a *Analyzer) readObject(obj *ast.Definition) error {
	mutation := a.schema.Mutation != nil && obj.Name == a.schema.Mutation.Name
	for _, f := range obj.Fields {
		if len(f.Name) > 1 && f.Name[:2] == "__" {
			continue
		}
		typ := a.schema.Types[f.Type.Name()]
		if typ == nil {
			return fmt.Errorf("cost: %s.%s: unknown type %s", obj.Name, f.Name, f.Type.Name())
		}
		info := &fieldInfo{typ: typ, list: f.Type.Elem != nil}
		w, ok, err := weightOf(f.Directives)
		if err != nil {
			return fmt.Errorf("cost: %s.%s: %w", obj.Name, f.Name, err)
		}
		switch {
		case ok:
			info.weight = w
		case mutation:
			info.weight = a.opts.MutationWeight
		default:
			tw, ok, err := weightOf(typ.Directives)
			switch {
			case err != nil:
				return fmt.Errorf("cost: type %s: %w", typ.Name, err)
			case ok:
				info.weight = tw
			case typ.Kind == ast.Object || typ.Kind == ast.Interface || typ.Kind == ast.Union:
				info.weight = 1
			}
		}
		if d := f.Directives.ForName("listSize"); d != nil {
			size, err := a.readListSize(obj, f, typ, d)
			if err != nil {
				return fmt.Errorf("cost: %s.%s: @listSize: %w", obj.Name, f.Name, err)
			}
			info.size = size
		}
		a.fields[typeField{obj.Name, f.Name}] = info
	}
	return nil
}

func weightOf(dirs ast.DirectiveList) (int64, bool, error) {
	d := dirs.ForName("cost")
	if d == nil {
		return 0, false, nil
	}
	arg := d.Arguments.ForName("weight")
	if arg == nil || arg.Value == nil {
		return 0, false, fmt.Errorf("@cost needs a weight")
	}
	w, err := strconv.ParseInt(arg.Value.Raw, 10, 64)
	if err != nil || w < 0 {
		return 0, false, fmt.Errorf("@cost(weight: %s) must be a non-negative integer", arg.Value.Raw)
	}
	return w, true, nil
}

func (a *Analyzer) readListSize(obj *ast.Definition, f *ast.FieldDefinition, typ *ast.Definition, d *ast.Directive) (*listSize, error) {
	s := &listSize{field: obj.Name + "." + f.Name, assumed: -1, requireOne: true}
	for _, arg := range d.Arguments {
		v := arg.Value
		switch arg.Name {
		case "assumedSize":
			if v.Kind == ast.NullValue {
				continue
			}
			n, err := strconv.ParseInt(v.Raw, 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("assumedSize %q must be a non-negative integer", v.Raw)
			}
			s.assumed = n
		case "requireOneSlicingArgument":
			s.requireOne = v.Raw != "false"
		case "slicingArguments":
			for _, c := range v.Children {
				ad := f.Arguments.ForName(c.Value.Raw)
				if ad == nil {
					return nil, fmt.Errorf("slicing argument %q is not an argument of the field", c.Value.Raw)
				}
				sa := slicingArg{name: ad.Name, argDef: ad, display: fmt.Sprintf("%s.%s(%s:)", obj.Name, f.Name, ad.Name)}
				if ad.DefaultValue != nil && ad.DefaultValue.Kind == ast.IntValue {
					sa.def, _ = strconv.ParseInt(ad.DefaultValue.Raw, 10, 64)
					sa.hasDef = true
				}
				s.slicing = append(s.slicing, sa)
			}
		case "sizedFields":
			for _, c := range v.Children {
				if typ.Fields.ForName(c.Value.Raw) == nil {
					return nil, fmt.Errorf("sized field %q is not a field of %s", c.Value.Raw, typ.Name)
				}
				s.sized = append(s.sized, c.Value.Raw)
			}
		}
	}
	if len(s.sized) > 0 && f.Type.Elem != nil {
		return nil, fmt.Errorf("sizedFields is for a connection, not a list")
	}
	return s, nil
}

// Limit returns the largest cost an operation may have.
func (a *Analyzer) Limit() int64 { return a.opts.Limit }

// Schema returns the schema the analyzer reads.
func (a *Analyzer) Schema() *ast.Schema { return a.schema }

func (a *Analyzer) field(typ, name string) *fieldInfo { return a.fields[typeField{typ, name}] }

// fragmentApplies reports whether a fragment with type condition cond
// applies to an object of type obj (GraphQL's DoesFragmentTypeApply).
func (a *Analyzer) fragmentApplies(obj *ast.Definition, cond string) bool {
	return cond == "" || cond == obj.Name || a.applies[typeField{obj.Name, cond}]
}

// objects returns the object types a value of typ can have.
func (a *Analyzer) objects(typ *ast.Definition) []*ast.Definition {
	if typ.Kind == ast.Object {
		return nil
	}
	return a.possible[typ.Name]
}

// root returns the root type of an operation.
func (a *Analyzer) root(op *ast.OperationDefinition) *ast.Definition {
	switch op.Operation {
	case ast.Mutation:
		return a.schema.Mutation
	case ast.Subscription:
		return a.schema.Subscription
	}
	return a.schema.Query
}

func satAdd(a, b int64) int64 {
	if a > MaxCost-b {
		return MaxCost
	}
	return a + b
}

func satMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > MaxCost/b {
		return MaxCost
	}
	return a * b
}
