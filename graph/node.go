package graph

import (
	"context"
	"errors"
	"fmt"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/graph/model"
	"github.com/herotasks/api/loaders"
	"github.com/vikstrous/dataloadgen"
)

// Global ids. Relay's Global Object Identification asks that an id be
// unique across types and enough to refetch the object. Our ids are UUIDs
// (gen_random_uuid), unique across every table, so they are global ids as
// they are: no client, cache key, URL or test has to change, and task(id:)
// and node(id:) take the same value. The price is that an id does not say
// its type, so node() asks the loaders: tasks first, then the
// other types for what is left, one indexed statement per type for any
// number of ids (nodes()), none for rows in the Redis cache.

// nodes resolves global ids in order: nil for an id that names nothing, or
// something the viewer may not see (a private task, or a subtask of one),
// exactly as for an id that does not exist. Tasks are asked for first, as
// nearly every id a client refetches is a task's; only the ids that are not
// tasks go on to the other types, all of them at once.
func (r *Resolver) nodes(ctx context.Context, ids []string) ([]model.Node, error) {
	l := loaders.For(ctx)
	out := make([]model.Node, len(ids))
	// Round 1: tasks, one batch.
	tasks := make([]func() (*domain.Task, error), len(ids))
	for i, id := range ids {
		tasks[i] = l.TaskByID().LoadThunk(ctx, id)
	}
	var rest []int
	for i, load := range tasks {
		t, err := found(load())
		switch {
		case err != nil:
			return nil, err
		case t == nil:
			rest = append(rest, i)
		case canSee(ctx, t):
			out[i] = t
		}
	}
	if len(rest) == 0 {
		return out, nil
	}
	// Round 2: the other types for the remaining ids, queued before any is
	// awaited so each loader gets them in one batch.
	type others struct {
		subtask func() (*domain.Subtask, error)
		tag     func() (*domain.Tag, error)
		user    func() (*domain.User, error)
	}
	pending := make([]others, len(rest))
	for j, i := range rest {
		pending[j] = others{l.SubtaskByID().LoadThunk(ctx, ids[i]), l.TagByID().LoadThunk(ctx, ids[i]), l.UserByID().LoadThunk(ctx, ids[i])}
	}
	parents := map[int]func() (*domain.Task, error){}
	for j, i := range rest {
		p := pending[j]
		st, err := found(p.subtask())
		g, gerr := found(p.tag())
		u, uerr := found(p.user())
		if err = errors.Join(err, gerr, uerr); err != nil {
			return nil, err
		}
		switch {
		case st != nil:
			out[i] = st
			parents[i] = l.TaskByID().LoadThunk(ctx, st.TaskID)
		case g != nil:
			out[i] = g
		case u != nil:
			out[i] = u
		}
	}
	// Round 3: a subtask is visible with its task; the parents in one batch.
	for i, load := range parents {
		t, err := found(load())
		if err != nil {
			return nil, err
		}
		if t == nil || !canSee(ctx, t) {
			out[i] = nil
		}
	}
	return out, nil
}

// found turns a loader's not-found into nil.
func found[V any](v *V, err error) (*V, error) {
	if errors.Is(err, dataloadgen.ErrNotFound) {
		return nil, nil
	}
	return v, err
}

// checkIDs bounds and checks the ids of nodes().
func checkIDs(ids []string) error {
	if len(ids) > domain.MaxPage {
		return domain.Invalid("ids", "at most %d ids", domain.MaxPage)
	}
	for i, id := range ids {
		if err := checkID(fmt.Sprintf("ids[%d]", i), id); err != nil {
			return err
		}
	}
	return nil
}
