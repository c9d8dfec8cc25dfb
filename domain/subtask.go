package domain

import (
	"fmt"
	"time"
)

// Subtask is a step of a task.
type Subtask struct {
	ID          string
	TaskID      string
	TaskSeq     int64 // the parent's number, for HT-001.2
	Seq         int   // per-task counter, never reused
	Title       string
	Description string
	Status      TaskStatus
	Priority    TaskPriority
	Position    int
	Version     int
	CompletedAt *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// TagIDs are the ids of the subtask's tags, in no order, read with the
	// row in one statement when TagIDsRead (the reads a cache fills from,
	// Reader.SubtasksByIDs): with the row, they name its tags as of the row.
	TagIDs     []string
	TagIDsRead bool
	// Parent is the parent task's row as a write that added, removed or
	// moved this subtask left it (with its children), for caches to write
	// through; nil on reads and on writes that left the list alone. Never
	// cached or sent.
	Parent *Task `msgpack:"-" json:"-"`
}

// Number renders HT-001.2.
func (s *Subtask) Number() string { return fmt.Sprintf("%s.%d", FormatTaskNumber(s.TaskSeq), s.Seq) }

// NewSubtask is what createSubtask stores.
type NewSubtask struct {
	Title       string
	Description string
	Priority    TaskPriority
	Position    *int
	Tags        []string
}

// SubtaskPatch is what updateSubtask changes; nil fields are left alone.
type SubtaskPatch struct {
	Title       *string
	Description *string
	Status      *TaskStatus
	Priority    *TaskPriority
	Position    *int
}
