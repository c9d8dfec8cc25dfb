package domain

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TaskEvent is one entry of a task's history: one change, written in the
// same transaction as the change.
type TaskEvent struct {
	ID         int64
	TaskID     string
	ActorID    *string
	Kind       TaskEventKind
	FromStatus *TaskStatus
	ToStatus   *TaskStatus
	FromPhase  *WorkflowPhase
	ToPhase    *WorkflowPhase
	Reason     *string
	// Field, OldValue and NewValue say what changed for FIELD_CHANGED and
	// SUBTASK_CHANGED (the field's GraphQL name; values as text, null when
	// unset); a tag's name, a dependency's task id or a subtask's title for
	// the kinds that add or remove one.
	Field              *string
	OldValue, NewValue *string
	SubtaskID          *string // the subtask, for SUBTASK_* kinds
	CreatedAt          time.Time
	Tx                 uint64 // the writing transaction (its position in the log)
	// Was is who could see the task when it was deleted (DELETED only).
	Was *Task
}

// Cursor is the event's position in the log and in its task's history.
func (e *TaskEvent) Cursor() string {
	return EventCursor{Tx: e.Tx, ID: e.ID, At: e.CreatedAt}.String()
}

// EventCursor is a position in the history: the log orders events by
// (Tx, ID); a task's history by (At, ID), newest first.
type EventCursor struct {
	Tx uint64
	ID int64
	At time.Time
}

const cursorPrefix = "ev1:"

func (c EventCursor) String() string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%s%d:%d:%d", cursorPrefix, c.Tx, c.ID, c.At.UnixMicro()))
}

// Before reports whether c comes before d in the log.
func (c EventCursor) Before(d EventCursor) bool {
	return c.Tx < d.Tx || c.Tx == d.Tx && c.ID < d.ID
}

// ParseEventCursor reads a cursor; a malformed one is EINVALID on field.
func ParseEventCursor(field, s string) (EventCursor, error) {
	bad := Invalid(field, "is not a history cursor")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || !strings.HasPrefix(string(b), cursorPrefix) {
		return EventCursor{}, bad
	}
	parts := strings.Split(strings.TrimPrefix(string(b), cursorPrefix), ":")
	if len(parts) != 3 {
		return EventCursor{}, bad
	}
	tx, err1 := strconv.ParseUint(parts[0], 10, 64)
	id, err2 := strconv.ParseInt(parts[1], 10, 64)
	at, err3 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || id <= 0 {
		return EventCursor{}, bad
	}
	return EventCursor{Tx: tx, ID: id, At: time.UnixMicro(at).UTC()}, nil
}

// ErrCursorExpired refuses a cursor whose event is no longer kept (its
// month was dropped by retention): the client refetches and starts anew.
var ErrCursorExpired = &Error{Code: EINVALID, Field: "after",
	Message: "this cursor is older than the history the server keeps; refetch and subscribe without after"}

type actorKey struct{}

// WithActor records who makes the writes through ctx: their history
// events name them.
func WithActor(ctx context.Context, userID string) context.Context {
	if userID == "" {
		return ctx
	}
	return context.WithValue(ctx, actorKey{}, userID)
}

// ActorFrom is the user WithActor recorded, nil when none.
func ActorFrom(ctx context.Context) *string {
	if id, ok := ctx.Value(actorKey{}).(string); ok {
		return &id
	}
	return nil
}

// LogSnapshot is which writes had committed at one moment: a subscription
// without a cursor starts there, and delivers exactly the changes whose
// transaction it did not see.
type LogSnapshot struct {
	Xmin, Xmax uint64   // every transaction below Xmin had ended; none from Xmax on had
	Running    []uint64 // the transactions in between still running then
}

// Saw reports whether the writes of transaction tx had committed (or
// failed) when the snapshot was taken.
func (s LogSnapshot) Saw(tx uint64) bool {
	if tx < s.Xmin {
		return true
	}
	if tx >= s.Xmax {
		return false
	}
	for _, r := range s.Running {
		if r == tx {
			return false
		}
	}
	return true
}

// ParseLogSnapshot reads PostgreSQL's text form of a snapshot,
// "xmin:xmax:xip,xip,...".
func ParseLogSnapshot(s string) (LogSnapshot, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return LogSnapshot{}, fmt.Errorf("snapshot %q: not xmin:xmax:xip", s)
	}
	var snap LogSnapshot
	var err error
	if snap.Xmin, err = strconv.ParseUint(parts[0], 10, 64); err != nil {
		return snap, err
	}
	if snap.Xmax, err = strconv.ParseUint(parts[1], 10, 64); err != nil {
		return snap, err
	}
	for _, x := range strings.Split(parts[2], ",") {
		if x == "" {
			continue
		}
		v, err := strconv.ParseUint(x, 10, 64)
		if err != nil {
			return snap, err
		}
		snap.Running = append(snap.Running, v)
	}
	return snap, nil
}
