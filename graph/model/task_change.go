package model

import (
	"time"

	"github.com/herotasks/api/domain"
)

// TaskChange is one delivered subscription event: the task as read for
// this event (nil after DELETED) and the actor, loaded when asked for.
type TaskChange struct {
	Kind    TaskChangeKind
	TaskID  string
	Task    *domain.Task
	ActorID *string
	At      time.Time
	Cursor  string // its position in the history
	// Deleted is, after DELETED, what the event recorded of the task: its
	// visibility, creator and assignee.
	Deleted *domain.Task
}
