package domain

import "time"

// TaskEvent is one entry of a task's workflow history.
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
	CreatedAt  time.Time
}
