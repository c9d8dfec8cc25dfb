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

// replayBatch is how many history events one read of a resumed
// subscription's backlog takes.
const replayBatch = 200

// changes streams the changes that match to the subscriber, each checked
// against the task as it is when the change is delivered: it is read fresh
// (past the caches, from the primary), and a change to a task the viewer
// may not see is dropped. With after (a cursor), the changes since it come
// first, read from the history up to where the live stream starts, then
// the live ones; any change at or before the last one sent is skipped, so
// the seam has no gap and no duplicate whichever instance the subscriber
// reconnected to. The fields of each delivered change resolve through a
// loader set built for it (app resets the operation's loaders before every
// subscription response), never one that lives as long as the connection.
func (r *Resolver) changes(ctx context.Context, after *string, match func(*model.TaskChange) bool) (<-chan *model.TaskChange, error) {
	if r.Events == nil {
		return nil, domain.Errorf(domain.EUNAVAILABLE, "subscriptions are not available on this server")
	}
	// Subscribe first: whatever commits from here on reaches the live
	// stream, and what the start below counts as seen is skipped there.
	sub, err := r.Events.Subscribe(ctx)
	if err != nil {
		return nil, err
	}
	var last domain.EventCursor // the last change sent (zero: none)
	var backlog []*domain.TaskEvent
	var seen func(tx uint64) bool // without a cursor: the writes committed when it started
	if after == nil {
		var snap domain.LogSnapshot
		snap, err = r.Store.TaskEventsSnapshot(ctx)
		seen = snap.Saw
	} else if last, err = domain.ParseEventCursor("after", *after); err == nil {
		// Read the first batch now: a cursor the history no longer keeps
		// is refused before the subscription starts.
		backlog, err = r.Store.TaskEventsAfter(ctx, *after, replayBatch)
	}
	if err != nil {
		sub.Close()
		return nil, err
	}
	out := make(chan *model.TaskChange)
	v := viewer(ctx)
	ctx = domain.ReadFresh(ctx)
	send := func(ev pubsub.Event) bool {
		if !last.Before(ev.Pos) || seen != nil && seen(ev.Pos.Tx) {
			return true // sent already (the backlog and the live stream overlap), or from before
		}
		last = ev.Pos
		c, err := r.change(ctx, v, ev)
		if err != nil {
			r.Logger.WarnContext(ctx, "subscription event not delivered", "task_id", ev.TaskID, "err", err)
			return true
		}
		if c == nil || !match(c) {
			return true
		}
		select {
		case out <- c:
			return true
		case <-ctx.Done():
			return false
		}
	}
	go func() {
		defer close(out)
		defer sub.Close()
		if after != nil && !r.replay(ctx, backlog, sub.From, send) {
			return
		}
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
						"this subscription fell too far behind and was ended; subscribe again with the last cursor"))
				}
				return
			}
			if !send(ev) {
				return
			}
		}
	}()
	return out, nil
}

// replay sends the changes of the history from backlog on, batch after
// batch, up to until (the cursor the live stream starts after; "" when it
// starts at the beginning). It reports false when the subscriber went away
// or the history could not be read (the subscription then ends with the
// error).
func (r *Resolver) replay(ctx context.Context, backlog []*domain.TaskEvent, until string, send func(pubsub.Event) bool) bool {
	var end domain.EventCursor
	if until != "" {
		var err error
		if end, err = domain.ParseEventCursor("after", until); err != nil {
			return false
		}
	}
	for len(backlog) > 0 {
		for _, ev := range pubsub.Changes(backlog) {
			if end.Before(ev.Pos) {
				return true // the live stream has it
			}
			if !send(ev) {
				return false
			}
		}
		next := backlog[len(backlog)-1].Cursor()
		if len(backlog) < replayBatch {
			return true
		}
		var err error
		if backlog, err = r.Store.TaskEventsAfter(ctx, next, replayBatch); err != nil {
			transport.AddSubscriptionError(ctx, apierror.New(ctx, apierror.FromDomain(domain.ErrorCode(err)),
				"the history could not be read; subscribe again with the last cursor"))
			return false
		}
	}
	return true
}

// change reads the change's task and decides whether v may see it: nil
// when not (or when the task is gone by now).
func (r *Resolver) change(ctx context.Context, v domain.Viewer, ev pubsub.Event) (*model.TaskChange, error) {
	c := &model.TaskChange{Kind: model.TaskChangeKind(ev.Kind), TaskID: ev.TaskID, At: ev.At, Cursor: ev.Cursor}
	if ev.ActorID != "" {
		c.ActorID = &ev.ActorID
	}
	if c.Kind == model.TaskChangeKindDeleted {
		if ev.Was == nil || !ev.Was.VisibleTo(v) {
			return nil, nil
		}
		c.Deleted = ev.Was
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
