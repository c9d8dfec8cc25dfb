package graph

import (
	"context"
	"slices"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/herotasks/api/apierror"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/graph/model"
	"github.com/herotasks/api/pubsub"
)

// changes streams the events that match to the subscriber, each checked
// against the task as it is when the event arrives: it is read fresh (the
// writer invalidated the cache before publishing), and an event about a
// task the viewer may not see is dropped. The fields of each delivered
// event resolve through a loader set built for that event (serve.go resets
// the operation's loaders before every subscription response), never one
// that lives as long as the connection.
func (r *Resolver) changes(ctx context.Context, match func(*model.TaskChange) bool) (<-chan *model.TaskChange, error) {
	if r.Events == nil {
		return nil, domain.Errorf(domain.EUNAVAILABLE, "subscriptions are not available on this server")
	}
	sub := r.Events.Subscribe()
	out := make(chan *model.TaskChange)
	v := viewer(ctx)
	go func() {
		defer close(out)
		defer sub.Close()
		for {
			var ev pubsub.Event
			var ok bool
			select {
			case <-ctx.Done():
				return
			case ev, ok = <-sub.C():
			}
			if !ok {
				if sub.Dropped() {
					transport.AddSubscriptionError(ctx, apierror.New(ctx, apierror.ServiceUnavailable,
						"this subscription fell too far behind and was ended; subscribe again and refetch"))
				}
				return
			}
			c, err := r.change(ctx, v, ev)
			if err != nil {
				r.Logger.WarnContext(ctx, "subscription event not delivered", "task_id", ev.TaskID, "err", err)
				continue
			}
			if c == nil || !match(c) {
				continue
			}
			select {
			case out <- c:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// change reads the event's task and decides whether v may see it: nil
// when not (or when the task is gone by now).
func (r *Resolver) change(ctx context.Context, v domain.Viewer, ev pubsub.Event) (*model.TaskChange, error) {
	c := &model.TaskChange{Kind: model.TaskChangeKind(ev.Kind), TaskID: ev.TaskID, At: ev.At}
	if ev.ActorID != "" {
		c.ActorID = &ev.ActorID
	}
	if c.Kind == model.TaskChangeKindDeleted {
		was := &domain.Task{Visibility: domain.VisibilityPublic}
		if ev.Private {
			was.Visibility = domain.VisibilityPrivate
		}
		if ev.CreatedBy != "" {
			was.CreatedByID = &ev.CreatedBy
		}
		if ev.AssigneeID != "" {
			was.AssigneeID = &ev.AssigneeID
		}
		if !was.VisibleTo(v) {
			return nil, nil
		}
		c.Deleted = was
		return c, nil
	}
	tasks, err := r.Store.TasksByIDs(ctx, []string{ev.TaskID})
	if err != nil || len(tasks) == 0 || !tasks[0].VisibleTo(v) {
		return nil, err
	}
	c.Task = tasks[0]
	return c, nil
}

// matchFilter reports whether a change passes a taskEvents filter.
func matchFilter(f *model.TaskChangeFilter) func(*model.TaskChange) bool {
	if f == nil {
		return func(*model.TaskChange) bool { return true }
	}
	kinds, _ := f.Kinds.ValueOK()
	status, _ := f.Status.ValueOK()
	priority, _ := f.Priority.ValueOK()
	types, _ := f.Type.ValueOK()
	phase, _ := f.Phase.ValueOK()
	assignee, creator := value(f.AssigneeID), value(f.CreatedByID)
	return func(c *model.TaskChange) bool {
		if kinds != nil && !slices.Contains(kinds, c.Kind) {
			return false
		}
		t := c.Task
		if t == nil { // deleted: only what the event still knows
			if status != nil || priority != nil || types != nil || phase != nil {
				return false
			}
			t = c.Deleted
		}
		return (status == nil || slices.Contains(status, t.Status)) &&
			(priority == nil || slices.Contains(priority, t.Priority)) &&
			(types == nil || slices.Contains(types, t.Type)) &&
			(phase == nil || slices.Contains(phase, t.Phase)) &&
			(assignee == nil || (t.AssigneeID != nil && *t.AssigneeID == *assignee)) &&
			(creator == nil || (t.CreatedByID != nil && *t.CreatedByID == *creator))
	}
}
