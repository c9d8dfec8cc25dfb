package domain

import (
	"context"
	"errors"
	"sync"
)

// ReadDeepLevels fills what with asks of b's deep levels (subtasks and
// their tags, dependencies, dependents) through r's batch reads, the
// independent ones at the same time: for a store that cannot read them in
// the same statement as the task (the entity cache reads them kind by kind
// through Redis; the response cache's tagging records them read by read).
// b.Task must be set.
func ReadDeepLevels(ctx context.Context, r Reader, b *TaskBundle, with TaskWith) error {
	id := []string{b.Task.ID}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	if with.Subtasks {
		wg.Go(func() {
			subs, err := r.SubtasksOfTasks(ctx, []*Task{b.Task}, with.SubtaskLimit)
			if err != nil {
				errs[0] = err
				return
			}
			b.Subtasks = append(make([]*Subtask, 0, len(subs)), subs...)
			if !with.SubtaskTags {
				return
			}
			b.SubtaskTags = make(map[string][]*Tag, len(subs))
			for _, st := range subs {
				b.SubtaskTags[st.ID] = []*Tag{}
			}
			if len(subs) == 0 {
				return
			}
			ls, err := r.TagsOfSubtasks(ctx, subs)
			for _, l := range ls {
				b.SubtaskTags[l.OwnerID] = append(b.SubtaskTags[l.OwnerID], l.Item)
			}
			errs[0] = err
		})
	}
	linked := func(i int, dst *[]*Task, read func(context.Context, []string) ([]Link[*Task], error)) {
		wg.Go(func() {
			ls, err := read(ctx, id)
			*dst = make([]*Task, len(ls))
			for j, l := range ls {
				(*dst)[j] = l.Item
			}
			errs[i] = err
		})
	}
	if with.Dependencies {
		linked(1, &b.Dependencies, r.DependenciesByTaskIDs)
	}
	if with.Dependents {
		linked(2, &b.Dependents, r.DependentsByTaskIDs)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Shallow is w without its deep levels: the task with its tags and users.
func (w TaskWith) Shallow() TaskWith {
	return TaskWith{Tags: w.Tags, Assignee: w.Assignee, Creator: w.Creator}
}
