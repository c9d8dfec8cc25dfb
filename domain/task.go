package domain

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Task is a unit of work.
type Task struct {
	ID             string
	Seq            int64 // the N of HT-N
	Title          string
	Description    string
	Status         TaskStatus
	Priority       TaskPriority
	Type           TaskType
	Phase          WorkflowPhase
	Visibility     Visibility
	DueDate        *time.Time
	StartedAt      *time.Time
	CompletedAt    *time.Time
	EstimatedHours *float64
	ActualHours    *float64
	AssigneeID     *string
	CreatedByID    *string
	Version        int
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// TagsVersion counts the changes to the task's tag set, and
	// SubtasksVersion those to its subtask list (one added, removed or
	// moved). Each write to a task, its tags or its subtask list takes the
	// task's row lock and grows one of them, which orders the copies of a
	// row that writers write through to a cache (RowStamp).
	TagsVersion     int
	SubtasksVersion int
	// TagIDs (the task's tags, in no order) and SubtaskIDs (its subtasks, in
	// position order) are read with the row in one statement when
	// ChildrenRead: the reads a cache fills from (Reader.TasksWithChildren)
	// and the rows writes return. With the row they name its tags and
	// subtasks as of the row. Like every field, never modified once read:
	// a cache hands the same value to every reader.
	TagIDs       []string
	SubtaskIDs   []string
	ChildrenRead bool
}

// RowStamp orders the committed states of one task's row: every write to
// the task, its tag set or its subtask list makes it larger.
func (t *Task) RowStamp() int64 {
	return int64(t.Version) + int64(t.TagsVersion) + int64(t.SubtasksVersion)
}

// Number is the task's human-readable number, HT-001 onwards.
func (t *Task) Number() string { return FormatTaskNumber(t.Seq) }

// IsOverdue reports whether the task is open and past its due date.
func (t *Task) IsOverdue() bool {
	return t.DueDate != nil && t.DueDate.Before(time.Now()) && t.Status.Open()
}

// VisibleTo reports whether v may see the task: public tasks are seen by
// everyone, private ones by their creator, their assignee and admins.
func (t *Task) VisibleTo(v Viewer) bool {
	if t.Visibility == VisibilityPublic || v.Role == RoleAdmin {
		return true
	}
	if v.UserID == "" {
		return false
	}
	return (t.CreatedByID != nil && *t.CreatedByID == v.UserID) ||
		(t.AssigneeID != nil && *t.AssigneeID == v.UserID)
}

// Open reports whether a task in this status still needs work.
func (s TaskStatus) Open() bool { return s != StatusCompleted && s != StatusCancelled }

// Active reports whether work on the task is under way or imminent.
func (s TaskStatus) Active() bool {
	return s == StatusReady || s == StatusInProgress || s == StatusBlocked
}

// FormatTaskNumber renders HT-001 ... HT-999, HT-1000, ...
func FormatTaskNumber(seq int64) string { return fmt.Sprintf("HT-%03d", seq) }

// ParseTaskNumber parses "HT-042" (case-insensitive prefix, leading zeros
// allowed) into 42.
func ParseTaskNumber(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if len(s) < 4 || !strings.EqualFold(s[:3], "HT-") {
		return 0, Invalid("number", "must look like HT-042")
	}
	digits := s[3:]
	if len(digits) > 18 || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, Invalid("number", "must look like HT-042")
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n < 1 {
		return 0, Invalid("number", "must look like HT-042")
	}
	return n, nil
}

// TaskFilter narrows a task list. Nil and empty fields do not filter.
type TaskFilter struct {
	Status      []TaskStatus
	Priority    []TaskPriority
	Type        []TaskType
	Phase       []WorkflowPhase
	AssigneeID  *string
	Unassigned  *bool
	Tag         *string
	DueBefore   *time.Time
	DueAfter    *time.Time
	Overdue     *bool
	Active      *bool
	Visibility  *Visibility
	CreatedByID *string
}

// TaskOrder sorts a task list.
type TaskOrder struct {
	Field     TaskOrderField
	Direction OrderDirection
}

// DefaultTaskOrder is newest first.
var DefaultTaskOrder = TaskOrder{Field: OrderCreatedAt, Direction: Desc}

// TaskQuery is one page request of a task list.
type TaskQuery struct {
	Viewer Viewer
	Filter TaskFilter
	Order  TaskOrder
	First  int
	After  string // an opaque cursor, "" for the first page
	// Backward pages towards the start of the list (last/before): the Last
	// tasks just before the Before cursor (or the end), in list order.
	Backward bool
	Last     int
	Before   string
}

// TaskEdge is a task with its cursor in a list. A store that knows the
// cursor gives it (NewTaskEdge); one that would encode every row's cursor
// for a page whose client asks for none or one gives the encoder instead
// (LazyTaskEdge), run when the cursor is read.
type TaskEdge struct {
	Node   *Task
	cursor string
	encode func(*Task) string
}

// NewTaskEdge is node at cursor.
func NewTaskEdge(cursor string, node *Task) TaskEdge { return TaskEdge{Node: node, cursor: cursor} }

// LazyTaskEdge is node at the cursor encode gives it, encoded each time it
// is read (a page's fields resolve concurrently, so nothing is stored).
func LazyTaskEdge(node *Task, encode func(*Task) string) TaskEdge {
	return TaskEdge{Node: node, encode: encode}
}

// Cursor is the edge's cursor.
func (e *TaskEdge) Cursor() string {
	if e.encode != nil {
		return e.encode(e.Node)
	}
	return e.cursor
}

// TaskPage is one page of a task list.
type TaskPage struct {
	Edges           []TaskEdge
	HasNextPage     bool
	HasPreviousPage bool
	// Total is the list's size when the store learned it with the page
	// (the list index reads both at once); nil otherwise.
	Total *int
}

// Nodes returns the page's tasks.
func (p *TaskPage) Nodes() []*Task {
	out := make([]*Task, len(p.Edges))
	for i, e := range p.Edges {
		out[i] = e.Node
	}
	return out
}

// EndCursor is the cursor of the last task, nil on an empty page.
func (p *TaskPage) EndCursor() *string {
	if len(p.Edges) == 0 {
		return nil
	}
	c := p.Edges[len(p.Edges)-1].Cursor()
	return &c
}

// NewTask is what createTask stores.
type NewTask struct {
	Title          string
	Description    string
	Type           TaskType
	Priority       TaskPriority
	Visibility     Visibility
	DueDate        *time.Time
	AssigneeID     *string
	EstimatedHours *float64
	Tags           []string
	CreatedByID    *string
}

// TaskPatch is what updateTask changes; a nil field is left alone, and the
// Clear* flags set the nullable columns to NULL.
type TaskPatch struct {
	Title          *string
	Description    *string
	Type           *TaskType
	Priority       *TaskPriority
	Visibility     *Visibility
	DueDate        Optional[time.Time]
	AssigneeID     Optional[string]
	EstimatedHours Optional[float64]
	ActualHours    Optional[float64]
}

// Optional is a field that may be left alone, set to a value, or cleared.
type Optional[T any] struct {
	Set   bool
	Value *T // nil with Set clears
}

// Some returns an Optional that sets v (or clears when v is nil).
func Some[T any](v *T) Optional[T] { return Optional[T]{Set: true, Value: v} }

// TaskStatistics are counts over the tasks a viewer can see.
type TaskStatistics struct {
	Total                  int
	Active                 int
	Completed              int
	Overdue                int
	ByStatus               map[TaskStatus]int
	ByPriority             map[TaskPriority]int
	ByType                 map[TaskType]int
	AverageCompletionHours *float64
}
