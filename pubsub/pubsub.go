// Package pubsub carries task changes from the history (task_events, the
// log every write appends to in its own transaction) to the subscribers of
// every server instance: one LISTEN session per instance wakes the broker
// when a write commits, the broker reads the log on from where it was, and
// an in-process fan-out hands each change to every subscriber with a
// bounded buffer each.
//
// Reading the log instead of trusting notifications makes delivery
// complete and resumable. A notification missed while the listener
// reconnects costs nothing: the next read picks the events up. Every
// change carries its cursor (its position in the log), and a subscriber
// that reconnects, to this instance or another, reads what it missed from
// the log and then goes on live without a gap or a duplicate at the seam:
// the live stream and the log are in the same order, and the subscriber
// skips what it has already seen. The log is read in (transaction, id)
// order below the oldest transaction still writing, so a reader never
// passes an event that commits later with a smaller position; per task,
// that is commit order (writes to a task hold its row lock).
//
// Why PostgreSQL and not Redis pub/sub: PostgreSQL is the one service every
// instance needs (Redis is optional and its client fails open), the log is
// written in the same transaction as the change, and NOTIFY reaches exactly
// the instances on the same database. LISTEN needs a session of its own,
// never a pooled or transaction-pooled (PgBouncer) connection, and to the
// primary, not a replica.
package pubsub

import (
	"context"
	"time"

	"github.com/herotasks/api/domain"
)

// Channel is the NOTIFY channel that wakes the brokers when a write that
// appended to the log commits.
const Channel = "ht_task_changes"

// The kinds of change, the values of the schema's TaskChangeKind.
const (
	KindCreated             = "CREATED"
	KindUpdated             = "UPDATED"
	KindTransitioned        = "TRANSITIONED"
	KindDeleted             = "DELETED"
	KindSubtasksChanged     = "SUBTASKS_CHANGED"
	KindTagsChanged         = "TAGS_CHANGED"
	KindDependenciesChanged = "DEPENDENCIES_CHANGED"
)

// Kinds lists every kind.
var Kinds = []string{KindCreated, KindUpdated, KindTransitioned, KindDeleted, KindSubtasksChanged,
	KindTagsChanged, KindDependenciesChanged}

// kindOf is the change a history event is part of.
var kindOf = map[domain.TaskEventKind]string{
	domain.EventCreated:           KindCreated,
	domain.EventFieldChanged:      KindUpdated,
	domain.EventStatusChanged:     KindTransitioned,
	domain.EventPhaseChanged:      KindTransitioned,
	domain.EventDeleted:           KindDeleted,
	domain.EventTagAdded:          KindTagsChanged,
	domain.EventTagRemoved:        KindTagsChanged,
	domain.EventDependencyAdded:   KindDependenciesChanged,
	domain.EventDependencyRemoved: KindDependenciesChanged,
	domain.EventDependentAdded:    KindDependenciesChanged,
	domain.EventDependentRemoved:  KindDependenciesChanged,
	domain.EventSubtaskAdded:      KindSubtasksChanged,
	domain.EventSubtaskChanged:    KindSubtasksChanged,
	domain.EventSubtaskRemoved:    KindSubtasksChanged,
	domain.EventSubtaskTagAdded:   KindSubtasksChanged,
	domain.EventSubtaskTagRemoved: KindSubtasksChanged,
}

// Event is one committed change to a task: the history events one write
// recorded for one task of one kind of change.
type Event struct {
	Kind    string // a TaskChangeKind value
	TaskID  string
	ActorID string
	At      time.Time
	Cursor  string             // the position of its last history event
	Pos     domain.EventCursor // Cursor, decoded
	// Was is who could see the task when it was deleted (DELETED only).
	Was *domain.Task
}

// Changes groups history events, in log order, into changes: consecutive
// events of one transaction, task and kind of change are one change.
func Changes(events []*domain.TaskEvent) []Event {
	var out []Event
	for _, e := range events {
		kind := kindOf[e.Kind]
		if kind == "" {
			continue
		}
		pos := domain.EventCursor{Tx: e.Tx, ID: e.ID, At: e.CreatedAt}
		if n := len(out); n > 0 && out[n-1].Pos.Tx == e.Tx && out[n-1].TaskID == e.TaskID && out[n-1].Kind == kind {
			out[n-1].Pos, out[n-1].Cursor = pos, pos.String()
			continue
		}
		ev := Event{Kind: kind, TaskID: e.TaskID, At: e.CreatedAt, Pos: pos, Cursor: pos.String(), Was: e.Was}
		if e.ActorID != nil {
			ev.ActorID = *e.ActorID
		}
		out = append(out, ev)
	}
	return out
}

// Log is where the broker reads the changes: the history.
type Log interface {
	TaskEventsAfter(ctx context.Context, after string, limit int) ([]*domain.TaskEvent, error)
	TaskEventsHead(ctx context.Context) (string, error)
}
