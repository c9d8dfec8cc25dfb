package app

import (
	"context"

	"github.com/herotasks/api/domain"
)

// shallowBundles sits above the response cache's read tagging
// (respcache.Tagging), which records what a TaskBundle depends on from its
// task and users only. A bundle's deep levels (subtasks and their tags,
// dependencies, dependents) depend on more: the subtasks' own tags, and
// other tasks' rows, which only the "tasks" tag covers. So with the
// response cache on, a bundle reads the task with its tags and users in one
// statement and the deep levels through the batch reads, each recorded as
// the tagging records it, as they were read before bundles had deep
// levels. With the response cache off the whole bundle is one statement.
type shallowBundles struct{ domain.Store }

func (s shallowBundles) TaskBundle(ctx context.Context, ref domain.TaskRef, with domain.TaskWith) (*domain.TaskBundle, error) {
	b, err := s.Store.TaskBundle(ctx, ref, with.Shallow())
	if err != nil || b.Task == nil || !with.Deep() {
		return b, err
	}
	if err := domain.ReadDeepLevels(ctx, s.Store, b, with); err != nil {
		return nil, err
	}
	return b, nil
}
