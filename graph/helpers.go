package graph

import (
	"context"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/herotasks/api/auth"
	"github.com/herotasks/api/domain"
	"github.com/vektah/gqlparser/v2"
)

// viewer returns who asks; the answer now depends on it (see
// domain.DependsOnViewer), so call it only where the answer does.
func viewer(ctx context.Context) domain.Viewer {
	domain.DependsOnViewer(ctx)
	return auth.ViewerFrom(ctx)
}

// canSee reports whether the viewer may see t. A public task is seen by
// everyone, an answer that does not depend on who asks.
func canSee(ctx context.Context, t *domain.Task) bool {
	return t.Visibility == domain.VisibilityPublic || t.VisibleTo(viewer(ctx))
}

// writer returns the viewer if it may create and change tasks.
func writer(ctx context.Context) (domain.Viewer, error) {
	v := viewer(ctx)
	switch {
	case v.Anonymous():
		return v, domain.ErrUnauthenticated
	case !v.CanWrite():
		return v, domain.ErrForbidden
	}
	return v, nil
}

// checkID refuses an id that cannot name anything (ids are UUIDs).
func checkID(field, id string) error {
	// Only the canonical form: uuid.Parse also takes "urn:uuid:..." and
	// "{...}", which PostgreSQL does not, and an id must never reach SQL
	// unless PostgreSQL will take it.
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return domain.Invalid(field, "is not a valid id")
	}
	return nil
}

// pageArgs checks a connection's paging arguments: first (with after) or
// last (with before), exactly one of them.
func pageArgs(first *int, after *string, last *int, before *string) (domain.TaskQuery, error) {
	var q domain.TaskQuery
	switch {
	case (first == nil) == (last == nil):
		return q, domain.Invalid("first", "give exactly one of first and last")
	case first != nil && before != nil:
		return q, domain.Invalid("before", "pages forwards with first take after, not before")
	case last != nil && after != nil:
		return q, domain.Invalid("after", "pages backwards with last take before, not after")
	case first != nil:
		q.First, q.After = *first, deref(after)
		return q, domain.PageSize("first", q.First)
	}
	q.Backward, q.Last, q.Before = true, *last, deref(before)
	return q, domain.PageSize("last", q.Last)
}

// guard lets a write through only on a task the viewer can see (others get
// the same NOT_FOUND as a random id) and, when given, at the expected version.
func guard(v domain.Viewer, expectedVersion *int) domain.Guard {
	return func(t *domain.Task) error {
		if !t.VisibleTo(v) {
			return domain.ErrNotFound
		}
		if expectedVersion != nil && *expectedVersion != t.Version {
			return domain.ErrConflict
		}
		return nil
	}
}

// visible drops the tasks the viewer may not see.
func visible(ctx context.Context, tasks []*domain.Task) []*domain.Task {
	out := tasks[:0:0]
	for _, t := range tasks {
		if canSee(ctx, t) {
			out = append(out, t)
		}
	}
	return out
}

// value returns an omittable's value, or nil when absent or null.
func value[T any](o graphql.Omittable[*T]) *T {
	v, _ := o.ValueOK()
	return v
}

// orDefault returns an omittable's value, or def when absent or null.
func orDefault[T any](o graphql.Omittable[*T], def T) T {
	if v := value(o); v != nil {
		return *v
	}
	return def
}

// optional converts an omittable into a patch field: absent leaves alone,
// null clears.
func optional[T any](o graphql.Omittable[*T]) domain.Optional[T] {
	v, ok := o.ValueOK()
	if !ok {
		return domain.Optional[T]{}
	}
	return domain.Some(v)
}

// selects reports whether the current field's selection asks for a child
// field of that name (fragments included).
func selects(ctx context.Context, name string) bool {
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		if f.Name == name {
			return true
		}
	}
	return false
}

// trustedDocument checks a document before it is registered: it must parse
// and validate against the schema. It returns the operation's name when the
// document has exactly one named operation.
func trustedDocument(doc string) (*string, error) {
	if n := len(doc); n == 0 || n > 100000 || strings.TrimSpace(doc) == "" {
		return nil, domain.Invalid("document", "must be 1 to 100000 characters")
	}
	q, errs := gqlparser.LoadQuery(parsedSchema, doc)
	if len(errs) > 0 {
		return nil, domain.Invalid("document", "is not a valid operation for this schema: %s", errs[0].Message)
	}
	if len(q.Operations) == 1 && q.Operations[0].Name != "" {
		return &q.Operations[0].Name, nil
	}
	return nil, nil
}
