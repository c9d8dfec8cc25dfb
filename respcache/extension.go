package respcache

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/99designs/gqlgen/graphql"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/herotasks/api/apierror"
	"github.com/herotasks/api/domain"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Uncacheable fields make an operation that selects them run every time:
// they change without a write (time, server state) or are for operators.
var Uncacheable = []string{
	"Query.taskStatistics",  // overdue counts move with the clock
	"Task.isOverdue",        // moves with the clock
	"Query.cacheStatistics", // server counters
	"Query.topStatements",   // server counters
}

// Extension is the gqlgen extension of the response cache. Register it
// after the cost extension (so a hit is still costed and charged) and
// before the loaders are made for the operation (so their reads are
// recorded). Scope names the caller's authorization scope.
type Extension struct {
	Cache *Cache
	Scope func(ctx context.Context) string
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
	graphql.ResponseInterceptor
} = Extension{}

func (Extension) ExtensionName() string                   { return "ResponseCache" }
func (Extension) Validate(graphql.ExecutableSchema) error { return nil }

type opState struct {
	shape  string    // the operation, for admission
	key    string    // the caller's scope's entry
	shared string    // the entry of an answer that depends on no one's scope
	at     time.Time // when the operation began, before any of its reads
}

// sharedScope is the scope of answers that never depended on who asked.
const sharedScope = "shared"

type stateKey struct{}

// InterceptOperation decides whether the operation may be cached; if so it
// records its reads and sends them to the primary.
func (e Extension) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if !e.cacheable(oc) {
		return next(ctx)
	}
	shape := oc.OperationName + "\x00" + oc.RawQuery
	if !e.Cache.admit.admit(shape, time.Now()) {
		e.Cache.stats.Bypasses.Add(1)
		return e.bypass(ctx, oc, next)
	}
	st := e.state(ctx, oc)
	st.shape = shape
	rec := &recorder{c: e.Cache, tokens: map[string]string{}}
	ctx = context.WithValue(ctx, stateKey{}, st)
	ctx = context.WithValue(ctx, recorderKey{}, rec)
	ctx = domain.WithViewerDependence(ctx, func() { rec.personal.Store(true) })
	return next(domain.WithRecordedReads(domain.ReadPrimary(ctx)))
}

// state names the operation's entries.
func (e Extension) state(ctx context.Context, oc *graphql.OperationContext) *opState {
	doc := formatted(oc.Doc)
	return &opState{
		key:    Key(e.Scope(ctx), oc.Operation.Name, doc, oc.Variables),
		shared: Key(sharedScope, oc.Operation.Name, doc, oc.Variables),
		at:     time.Now(),
	}
}

// formattedDocs keeps the canonical text of the documents keyed last:
// gqlgen's query cache hands out one parsed document per query text, so
// formatting it again for every lookup (a walk of the whole tree) is
// wasted. A document it dropped is parsed anew and formatted once more.
var formattedDocs, _ = lru.New[*ast.QueryDocument, string](1024)

// formatted is doc's canonical text, which entry keys are made of.
func formatted(doc *ast.QueryDocument) string {
	if s, ok := formattedDocs.Get(doc); ok {
		return s
	}
	var b bytes.Buffer
	formatter.NewFormatter(&b).FormatQueryDocument(doc)
	formattedDocs.Add(doc, b.String())
	return b.String()
}

// bypass runs an operation that admission sent around the cache. It still
// gets its key's last answer, flagged stale, when PostgreSQL is unreachable.
func (e Extension) bypass(ctx context.Context, oc *graphql.OperationContext, next graphql.OperationHandler) graphql.ResponseHandler {
	h := next(ctx)
	if !e.Cache.ServesStale() {
		return h
	}
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		if resp == nil || len(resp.Errors) == 0 || !onlyUnavailable(resp.Errors) {
			return resp
		}
		st := e.state(ctx, oc)
		if last, _, _, _ := e.Cache.lookup(ctx, st.key, st.shared); e.Cache.servableStale(last, time.Now()) {
			return e.Cache.staleAnswer(last)
		}
		return resp
	}
}

// staleAnswer is an entry served while PostgreSQL is unreachable.
func (c *Cache) staleAnswer(last *entry) *graphql.Response {
	c.stats.Stale.Add(1)
	return &graphql.Response{Data: last.Data, Extensions: map[string]any{"responseCache": "stale",
		"staleSince": time.UnixMilli(last.At).UTC().Format(StaleSinceLayout)}}
}

// InterceptResponse answers from the cache when it can, and stores what it
// could not answer.
func (e Extension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	st, _ := ctx.Value(stateKey{}).(*opState)
	if st == nil {
		return next(ctx)
	}
	c := e.Cache
	last, epoch, fresh, current := c.lookup(ctx, st.key, st.shared)
	c.admit.record(st.shape, fresh, time.Now())
	if fresh {
		c.stats.Hits.Add(1)
		return &graphql.Response{Data: last.Data, Extensions: map[string]any{"responseCache": "hit"}}
	}
	c.stats.Misses.Add(1)
	if rec := recorderFrom(ctx); rec != nil && epoch != noStore {
		rec.mu.Lock()
		rec.pretaken = current
		rec.mu.Unlock()
	}
	resp := next(ctx)
	if resp != nil && len(resp.Errors) > 0 && onlyUnavailable(resp.Errors) && c.servableStale(last, time.Now()) {
		// PostgreSQL is unreachable and nothing else went wrong: the
		// key's last answer, flagged, and never stored again.
		return c.staleAnswer(last)
	}
	if resp == nil || len(resp.Errors) > 0 || len(resp.Data) == 0 {
		return resp
	}
	rec := recorderFrom(ctx)
	rec.mu.Lock()
	tokens, failed := rec.tokens, rec.failed
	rec.mu.Unlock()
	if failed || len(tokens) == 0 {
		c.stats.Skips.Add(1)
		return resp
	}
	if h := c.beforeStore.Load(); h != nil {
		(*h)()
	}
	key := st.shared
	if rec.personal.Load() {
		key = st.key
	}
	c.store(ctx, key, epoch, tokens, json.RawMessage(resp.Data), st.at)
	if resp.Extensions == nil {
		resp.Extensions = map[string]any{}
	}
	resp.Extensions["responseCache"] = "miss"
	return resp
}

// StaleSinceLayout is the RFC 3339 form of extensions.staleSince, to the
// millisecond (truncated, so the claim "every write acknowledged before
// it" stays true).
const StaleSinceLayout = "2006-01-02T15:04:05.000Z07:00"

// onlyUnavailable reports whether every error says PostgreSQL (or another
// dependency) is unreachable: the one failure a stale answer may stand in
// for. Anything else (a bad input, a timeout, a bug) is the caller's to see.
func onlyUnavailable(errs gqlerror.List) bool {
	for _, err := range errs {
		if code, _ := err.Extensions["code"].(string); code != apierror.ServiceUnavailable {
			return false
		}
	}
	return true
}

func (e Extension) cacheable(oc *graphql.OperationContext) bool {
	if e.Cache == nil || oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return false
	}
	if !e.Cache.all && !slices.Contains(e.Cache.opts.Operations, oc.Operation.Name) {
		return false
	}
	return selectionCacheable(oc.Operation.SelectionSet, map[string]bool{})
}

func selectionCacheable(ss ast.SelectionSet, seen map[string]bool) bool {
	for _, s := range ss {
		switch s := s.(type) {
		case *ast.Field:
			if s.ObjectDefinition != nil && slices.Contains(Uncacheable, s.ObjectDefinition.Name+"."+s.Name) {
				return false
			}
			if !selectionCacheable(s.SelectionSet, seen) {
				return false
			}
		case *ast.InlineFragment:
			if !selectionCacheable(s.SelectionSet, seen) {
				return false
			}
		case *ast.FragmentSpread:
			if seen[s.Name] || s.Definition == nil {
				continue
			}
			seen[s.Name] = true
			if !selectionCacheable(s.Definition.SelectionSet, seen) {
				return false
			}
		}
	}
	return true
}
