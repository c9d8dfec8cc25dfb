package domain

import (
	"context"
	"errors"
	"time"
)

// The storage contract. The repository (PostgreSQL) implements Store; the
// decorators around it (the entity cache, the response cache's read
// tagging, the publishing of committed changes) implement it too, each
// holding the next one, so the resolvers and loaders never know which
// they have. A method added here must be added to each of them: the
// compiler lists them.
//
// Error contract, for every method unless it says otherwise: a nil error
// and a nil or empty result for what does not exist (reads never return
// ErrNotFound for a missing row); *Error with EINVALID, ENOTFOUND,
// ECONFLICT or EFORBIDDEN for what the caller can fix; an error with code
// EUNAVAILABLE when PostgreSQL is unreachable and ETIMEOUT when the
// context's deadline passed; anything else is EINTERNAL. Errors never
// carry SQL or driver text in their message (it is kept for the log
// through Unwrap).

// Store is everything the GraphQL layer reads and writes.
type Store interface {
	Reader
	Writer
}

// Reader is the read half. Batch reads ("ByIDs", "ByTaskIDs") are one
// statement on an index whatever the number of keys, return rows in any
// order, and leave unknown keys out. Reads of what a viewer may see take
// the viewer and filter by visibility in SQL; batch reads by id do not
// (the caller checks Task.VisibleTo).
type Reader interface {
	// TasksByIDs returns the tasks with these ids.
	TasksByIDs(ctx context.Context, ids []string) ([]*Task, error)
	// TasksWithChildren returns the tasks with these ids as TasksByIDs does,
	// each with its tag and subtask ids read in the same statement
	// (Task.ChildrenRead).
	TasksWithChildren(ctx context.Context, ids []string) ([]*Task, error)
	// TaskBySeq returns the task numbered HT-seq, nil when there is none.
	TaskBySeq(ctx context.Context, seq int64) (*Task, error)
	// TaskBundle returns a task and, as with asks, its tags, assignee,
	// creator, subtasks with their tags, dependencies and dependents, read
	// together (one statement on PostgreSQL). A missing task is a bundle
	// with a nil Task.
	TaskBundle(ctx context.Context, ref TaskRef, with TaskWith) (*TaskBundle, error)
	// UsersByIDs returns the users with these ids.
	UsersByIDs(ctx context.Context, ids []string) ([]*User, error)
	// SubtasksByIDs returns the subtasks with these ids, each with its tag
	// ids read in the same statement (Subtask.TagIDsRead).
	SubtasksByIDs(ctx context.Context, ids []string) ([]*Subtask, error)
	// SubtasksByTaskIDs returns each task's subtasks in position order, at
	// most *limit per task (all when limit is nil).
	SubtasksByTaskIDs(ctx context.Context, taskIDs []string, limit *int) ([]*Subtask, error)
	// SubtasksOfTasks returns each task's subtasks as SubtasksByTaskIDs
	// does for their ids; a task whose row carries its subtask ids
	// (ChildrenRead) is answered from them, as of that row.
	SubtasksOfTasks(ctx context.Context, tasks []*Task, limit *int) ([]*Subtask, error)
	// SubtaskIDsByTaskID returns the ids of one task's subtasks.
	SubtaskIDsByTaskID(ctx context.Context, taskID string) ([]string, error)
	// TagsByIDs returns the tags with these ids.
	TagsByIDs(ctx context.Context, ids []string) ([]*Tag, error)
	// TagsByTaskIDs returns each task's tags, by name.
	TagsByTaskIDs(ctx context.Context, taskIDs []string) ([]Link[*Tag], error)
	// TagsOfTasks returns each task's tags, by name, as TagsByTaskIDs does
	// for their ids; a task whose row carries its tag ids (ChildrenRead) is
	// answered from them, as of that row.
	TagsOfTasks(ctx context.Context, tasks []*Task) ([]Link[*Tag], error)
	// TagsBySubtaskIDs returns each subtask's tags, by name.
	TagsBySubtaskIDs(ctx context.Context, subtaskIDs []string) ([]Link[*Tag], error)
	// TagsOfSubtasks returns each subtask's tags, by name, as
	// TagsBySubtaskIDs does for their ids; a subtask whose row carries its
	// tag ids (TagIDsRead) is answered from them, as of that row.
	TagsOfSubtasks(ctx context.Context, subtasks []*Subtask) ([]Link[*Tag], error)
	// DependenciesByTaskIDs returns the tasks each task waits for.
	DependenciesByTaskIDs(ctx context.Context, taskIDs []string) ([]Link[*Task], error)
	// DependentsByTaskIDs returns the tasks waiting for each task.
	DependentsByTaskIDs(ctx context.Context, taskIDs []string) ([]Link[*Task], error)
	// EventsByTaskIDs returns each task's history, newest first, at most
	// limit per task.
	EventsByTaskIDs(ctx context.Context, taskIDs []string, limit int) ([]*TaskEvent, error)
	// TaskHistory returns one task's events older than the history cursor
	// before (from the newest when ""), newest first, at most limit. A
	// cursor that does not decode is EINVALID on "after".
	TaskHistory(ctx context.Context, taskID, before string, limit int) ([]*TaskEvent, error)
	// TaskEventsAfter returns the events of every task after the log cursor
	// after, in log order (commit order per task), at most limit; only
	// events no open transaction can still precede. EINVALID on "after"
	// for a cursor that does not decode; ErrCursorExpired for one whose
	// event is no longer kept. Always read on the primary, never cached.
	TaskEventsAfter(ctx context.Context, after string, limit int) ([]*TaskEvent, error)
	// TaskEventsHead returns the cursor TaskEventsAfter reads on from to see
	// only events after now, "" when the log is empty.
	TaskEventsHead(ctx context.Context) (string, error)
	// TaskEventsSnapshot returns which writes have committed now, on the
	// primary: a subscription starts there.
	TaskEventsSnapshot(ctx context.Context) (LogSnapshot, error)

	// ListTasks returns one keyset page of the tasks q.Viewer may see, in
	// q's filter and order; tagID, when set, keeps those carrying that tag.
	// A cursor that does not decode is EINVALID on "after" or "before".
	ListTasks(ctx context.Context, q TaskQuery, tagID string) (*TaskPage, error)
	// ListTaskStates returns the first page of ListTasks(q, "") with each
	// task holding only what orders it and places it in lists (id, version,
	// status, priority, visibility, due date, assignee, creator, creation
	// and last change), and whether more follow: what a list index is
	// filled from, without the text of thousands of rows.
	ListTaskStates(ctx context.Context, q TaskQuery) ([]*Task, bool, error)
	// CountTasks counts the tasks that ListTasks with this filter walks.
	CountTasks(ctx context.Context, v Viewer, f TaskFilter, tagID string) (int, error)
	// TasksByTagIDs returns, per tag, the first page (newest first) of the
	// tasks v may see under it.
	TasksByTagIDs(ctx context.Context, v Viewer, tagIDs []string, first int) (map[string]*TaskPage, error)
	// CountTasksByTagIDs counts, per tag, the tasks v may see under it.
	CountTasksByTagIDs(ctx context.Context, v Viewer, tagIDs []string) (map[string]int, error)
	// SearchTasks returns one page of the tasks v may see that match text,
	// best first. A cursor that does not decode is EINVALID on "after".
	SearchTasks(ctx context.Context, v Viewer, text string, first int, after string) (*TaskPage, error)
	// CountSearch counts the tasks a search for text can return to v.
	CountSearch(ctx context.Context, v Viewer, text string) (int, error)
	// ListTags returns tags by name, first of them after afterName.
	ListTags(ctx context.Context, first int, afterName string) ([]*Tag, error)
	// TaskStatistics counts the tasks v may see by status, priority and type.
	TaskStatistics(ctx context.Context, v Viewer) (*TaskStatistics, error)
	// TopStatements returns the database's n heaviest statements by mean or
	// (byTotal) total execution time; an error when pg_stat_statements is
	// not installed.
	TopStatements(ctx context.Context, byTotal bool, n int) ([]StatementStats, error)
	// APITokens lists API tokens newest first, revoked ones included.
	APITokens(ctx context.Context, first int) ([]*APIToken, error)
}

// TaskCursors encodes list cursors. The repository implements it, so a
// cache that answers a list page itself hands out the cursors the
// repository's next page expects.
type TaskCursors interface {
	TaskCursor(t *Task, o TaskOrder) string
}

// UnknownEffect reports whether a failed write may nevertheless have
// committed: the database was unreachable, timed out or failed in a way no
// domain rule explains (a COMMIT can fail after it applied).
func UnknownEffect(err error) bool {
	if err == nil {
		return false
	}
	var de *Error
	if !errors.As(err, &de) {
		return true
	}
	switch de.Code {
	case EUNAVAILABLE, ETIMEOUT, EINTERNAL:
		return true
	}
	return false
}

// Writer is the write half. Each method is one transaction; the history
// event a change records commits with it. Writes to an existing task lock
// it first and run guard on it: guard's error (ENOTFOUND for a task the
// caller may not see, ECONFLICT for a stale version) refuses the write with
// nothing applied. A task or subtask that does not exist is ENOTFOUND.
type Writer interface {
	// CreateTask stores a new task, its tags and its CREATED event; the
	// number comes from a sequence. An unknown assignee is EINVALID.
	CreateTask(ctx context.Context, in NewTask) (*Task, error)
	// UpdateTask applies p and increments the task's version.
	UpdateTask(ctx context.Context, id string, p TaskPatch, guard Guard) (*Task, error)
	// TransitionTask moves status and phase by the workflow rules
	// (Transition); a move they forbid is ECONFLICT. A request that
	// changes nothing writes nothing.
	TransitionTask(ctx context.Context, id string, req TransitionRequest, guard Guard) (*Task, error)
	// DeleteTask deletes a task with its subtasks, links and history and
	// reports what the deletion touched.
	DeleteTask(ctx context.Context, id string, guard Guard) (*DeletedTask, error)
	// CreateSubtask adds a subtask at the end; numbers are never reused.
	CreateSubtask(ctx context.Context, taskID string, in NewSubtask, guard Guard) (*Subtask, error)
	// UpdateSubtask changes a subtask; guard sees its parent task and a
	// stale expectedVersion of the subtask is ECONFLICT.
	UpdateSubtask(ctx context.Context, id string, p SubtaskPatch, expectedVersion *int, guard Guard) (*Subtask, error)
	// DeleteSubtask removes a subtask, keeps positions dense and returns it.
	DeleteSubtask(ctx context.Context, id string, guard Guard) (*Subtask, error)
	// AddTaskTags attaches tags by name, creating unknown ones.
	AddTaskTags(ctx context.Context, taskID string, names []string, guard Guard) (*Task, error)
	// RemoveTaskTags detaches tags by name; names not attached are ignored.
	RemoveTaskTags(ctx context.Context, taskID string, names []string, guard Guard) (*Task, error)
	// AddSubtaskTags attaches tags to a subtask by name, creating unknown ones.
	AddSubtaskTags(ctx context.Context, subtaskID string, names []string, guard Guard) (*Subtask, error)
	// RemoveSubtaskTags detaches tags from a subtask by name.
	RemoveSubtaskTags(ctx context.Context, subtaskID string, names []string, guard Guard) (*Subtask, error)
	// AddDependency records that taskID waits for dependsOnID; guard runs
	// on both. An edge that would close a cycle is ECONFLICT.
	AddDependency(ctx context.Context, taskID, dependsOnID string, guard Guard) (*Task, error)
	// RemoveDependency deletes the edge taskID → dependsOnID if present.
	RemoveDependency(ctx context.Context, taskID, dependsOnID string, guard Guard) (*Task, error)
	// CreateAPIToken stores a token's hash; an unknown user is EINVALID
	// on userId.
	CreateAPIToken(ctx context.Context, in NewAPIToken) (*APIToken, error)
	// RevokeAPIToken revokes a token; false when there is no such live token.
	RevokeAPIToken(ctx context.Context, id string) (bool, error)
}

// Guard decides, with the task locked, whether a write may go ahead
// (authorization, expected version). It returns an *Error to refuse.
type Guard func(t *Task) error

// Link is a row related to an owner: a task's tag, a task's dependency.
// Batch reads return links so the loaders can group them by owner.
type Link[T any] struct {
	OwnerID string
	Item    T
}

// TaskRef names one task by its id or, when ID is empty, by its number
// (HT-Seq).
type TaskRef struct {
	ID  string
	Seq int64
}

// TaskWith says which rows around a task a TaskBundle read brings along.
type TaskWith struct {
	Tags, Assignee, Creator bool
	// Subtasks brings the task's subtasks (SubtasksByTaskIDs with
	// SubtaskLimit: at most that many, all when nil), and SubtaskTags, with
	// Subtasks only, their tags (TagsBySubtaskIDs).
	Subtasks, SubtaskTags bool
	SubtaskLimit          *int
	// Dependencies and Dependents bring the tasks the task waits for and
	// those waiting for it (DependenciesByTaskIDs, DependentsByTaskIDs).
	Dependencies, Dependents bool
}

// Deep reports whether w asks for more than the task's own row, tags and
// users: levels whose rows are other tasks and subtasks.
func (w TaskWith) Deep() bool { return w.Subtasks || w.Dependencies || w.Dependents }

// TaskBundle is a task with the rows around it that a query selects. Every
// list is non-nil when asked for and the task exists, and holds exactly the
// rows (and order) of the batch read named on its TaskWith flag.
type TaskBundle struct {
	Task     *Task  // nil: no such task (the rest is then empty)
	Tags     []*Tag // by name
	Assignee *User  // nil when not asked for, or unassigned
	Creator  *User  // nil when not asked for, or no creator
	Subtasks []*Subtask
	// SubtaskTags holds, for each of Subtasks, its tags by name (an empty
	// list for a subtask without tags).
	SubtaskTags map[string][]*Tag
	// Dependencies and Dependents are by number, hidden tasks included: as
	// with the batch reads, the caller checks Task.VisibleTo.
	Dependencies, Dependents []*Task
}

// DeletedTask is a deleted task and the ids of what its deletion touched:
// its subtasks (gone with it) and the tasks it was linked to by dependencies.
type DeletedTask struct {
	Task         *Task
	SubtaskIDs   []string
	DependsOnIDs []string // tasks it waited for: their dependents changed
	DependentIDs []string // tasks waiting for it: their dependencies changed
}

// StatementStats is one pg_stat_statements entry.
type StatementStats struct {
	Query    string
	Calls    float64
	MeanMs   float64
	TotalMs  float64
	Rows     float64
	HitRatio *float64
}

// PersistedQuery is a trusted document registered at run time.
type PersistedQuery struct {
	Hash      string
	Seq       int64
	Name      *string
	Document  string
	CreatedBy *string
	CreatedAt time.Time
}
