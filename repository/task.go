package repository

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	sq "github.com/Masterminds/squirrel"
	"github.com/herotasks/api/domain"
	"github.com/jackc/pgx/v5"
)

// taskColumns is the select list scanTask reads, for a table alias.
func taskColumns(alias string) string {
	cols := []string{"id", "number", "title", "description", "status", "priority", "type", "phase", "visibility",
		"due_date", "started_at", "completed_at", "estimated_hours::float8", "actual_hours::float8",
		"assignee_id", "created_by", "version", "created_at", "updated_at", "tags_version", "subtasks_version"}
	for i, c := range cols {
		cols[i] = alias + "." + c
	}
	return strings.Join(cols, ", ")
}

var taskCols = taskColumns("t")

func taskDest(t *domain.Task) []any {
	return []any{&t.ID, &t.Seq, &t.Title, &t.Description, &t.Status, &t.Priority, &t.Type, &t.Phase, &t.Visibility,
		&t.DueDate, &t.StartedAt, &t.CompletedAt, &t.EstimatedHours, &t.ActualHours,
		&t.AssigneeID, &t.CreatedByID, &t.Version, &t.CreatedAt, &t.UpdatedAt, &t.TagsVersion, &t.SubtasksVersion}
}

// taskTagIDs and taskSubtaskIDs are the arrays of a task row's tag ids and
// subtask ids (in position order), read in the row's statement (indexes:
// task_tags primary key and subtasks_task_position_idx, their leading
// column).
const (
	taskTagIDs     = "ARRAY(SELECT tt.tag_id::text FROM task_tags tt WHERE tt.task_id = t.id)"
	taskSubtaskIDs = "ARRAY(SELECT s.id::text FROM subtasks s WHERE s.task_id = t.id ORDER BY s.position, s.number)"
)

// taskWithChildrenCols is taskCols and the children's ids, which
// scanTaskWithChildren reads.
var taskWithChildrenCols = taskCols + ", " + taskTagIDs + ", " + taskSubtaskIDs

func scanTaskWithChildren(row pgx.CollectableRow) (*domain.Task, error) {
	return scanTaskWithChildrenAnd(row)
}

// scanTaskWithChildrenAnd is scanTaskWithChildren for a row with more
// columns after the task's, scanned into extra.
func scanTaskWithChildrenAnd(row pgx.CollectableRow, extra ...any) (*domain.Task, error) {
	var t domain.Task
	err := row.Scan(append(append(taskDest(&t), &t.TagIDs, &t.SubtaskIDs), extra...)...)
	if t.TagIDs == nil {
		t.TagIDs = []string{}
	}
	if t.SubtaskIDs == nil {
		t.SubtaskIDs = []string{}
	}
	t.ChildrenRead = err == nil
	return &t, err
}

func scanTask(row pgx.CollectableRow) (*domain.Task, error) {
	var t domain.Task
	err := row.Scan(taskDest(&t)...)
	return &t, err
}

// TasksByIDs returns the tasks with these ids, in any order; unknown ids are
// absent. One statement on the primary key.
func (r *Repo) TasksByIDs(ctx context.Context, ids []string) ([]*domain.Task, error) {
	return readQuery(ctx, r, byKeys(psql.Select(taskCols).From("tasks t"), "t.id", ids), scanTask)
}

// TasksWithChildren returns the tasks with these ids and their tag and
// subtask ids, in one statement on the primary key.
func (r *Repo) TasksWithChildren(ctx context.Context, ids []string) ([]*domain.Task, error) {
	return readQuery(ctx, r, byKeys(psql.Select(taskWithChildrenCols).From("tasks t"), "t.id", ids), scanTaskWithChildren)
}

// TaskBySeq returns the task numbered HT-seq (index tasks_number_key).
func (r *Repo) TaskBySeq(ctx context.Context, seq int64) (*domain.Task, error) {
	return readRow(ctx, r, "SELECT "+taskCols+" FROM tasks t WHERE t.number = $1", []any{seq}, scanTask)
}

// visibleTo restricts tasks to what v may see; admins see everything.
func visibleTo(v domain.Viewer) sq.Sqlizer {
	switch {
	case v.IsAdmin():
		return sq.Expr("TRUE")
	case v.Anonymous():
		return sq.Expr("t.visibility = 'PUBLIC'")
	default:
		return sq.Expr("(t.visibility = 'PUBLIC' OR t.created_by = ?::uuid OR t.assignee_id = ?::uuid)", v.UserID, v.UserID)
	}
}

// taskFilter turns a filter into WHERE conditions on alias t. Predicates that
// select a partial index are literal SQL, not parameters, so the planner can
// prove the index applies even with a generic plan.
func taskFilter(v domain.Viewer, f domain.TaskFilter, tagID string) sq.And {
	w := sq.And{visibleTo(v)}
	// A single value is an equality, so the composite index on (column,
	// created_at, id) also yields the order; = ANY(array) would not.
	// index: tasks_status_created_idx
	w = appendIn(w, "t.status", "task_status", f.Status)
	// index: tasks_priority_keyset_idx
	w = appendIn(w, "t.priority", "task_priority", f.Priority)
	// index: tasks_type_created_idx
	w = appendIn(w, "t.type", "task_type", f.Type)
	w = appendIn(w, "t.phase", "workflow_phase", f.Phase)
	if f.AssigneeID != nil {
		// index: tasks_assignee_status_due_idx (partial on assignee_id IS NOT NULL;
		// "my work" by status, ordered by due date)
		w = append(w, sq.Expr("t.assignee_id = ?::uuid", *f.AssigneeID))
	}
	if f.Unassigned != nil {
		if *f.Unassigned {
			w = append(w, sq.Expr("t.assignee_id IS NULL"))
		} else {
			w = append(w, sq.Expr("t.assignee_id IS NOT NULL"))
		}
	}
	if f.CreatedByID != nil {
		// index: tasks_created_by_idx (created_by, created_at DESC, id DESC)
		w = append(w, sq.Expr("t.created_by = ?::uuid", *f.CreatedByID))
	}
	if f.Tag != nil {
		// index: task_tags_tag_task_idx, tags_name_key
		w = append(w, sq.Expr("t.id IN (SELECT tt.task_id FROM task_tags tt JOIN tags g ON g.id = tt.tag_id WHERE g.name = ?)", *f.Tag))
	}
	if tagID != "" {
		// index: task_tags_tag_task_idx
		w = append(w, sq.Expr("t.id IN (SELECT tt.task_id FROM task_tags tt WHERE tt.tag_id = ?::uuid)", tagID))
	}
	// Due-date ranges are written on the expression of tasks_due_keyset_idx
	// (a missing due date sorts as infinity), so that index serves them.
	if f.DueBefore != nil {
		w = append(w, sq.Expr("COALESCE(t.due_date, 'infinity'::timestamptz) < ?", *f.DueBefore))
	}
	if f.DueAfter != nil {
		w = append(w, sq.Expr("COALESCE(t.due_date, 'infinity'::timestamptz) >= ? AND t.due_date IS NOT NULL", *f.DueAfter))
	}
	if f.Overdue != nil {
		// index: tasks_open_due_idx (partial on open tasks with a due date,
		// in due-date order)
		const open = "t.status NOT IN ('COMPLETED', 'CANCELLED') AND t.due_date IS NOT NULL"
		if *f.Overdue {
			// The index's expression, so that now() bounds a range of it
			// (equal to due_date here, which is not null).
			w = append(w, sq.Expr(open+" AND COALESCE(t.due_date, 'infinity'::timestamptz) < now()"))
		} else {
			w = append(w, sq.Expr("NOT ("+open+" AND t.due_date < now())"))
		}
	}
	if f.Active != nil {
		// index: tasks_active_created_idx (partial on the active statuses)
		const active = "t.status IN ('READY', 'IN_PROGRESS', 'BLOCKED')"
		if *f.Active {
			w = append(w, sq.Expr(active))
		} else {
			w = append(w, sq.Expr("NOT "+active))
		}
	}
	if f.Visibility != nil {
		// index: tasks_private_created_by_idx for PRIVATE (with createdById: "my private tasks")
		switch {
		case *f.Visibility == domain.VisibilityPrivate && v.Anonymous():
			w = append(w, sq.Expr("FALSE")) // anonymous callers see no private task
		case *f.Visibility == domain.VisibilityPrivate:
			w = append(w, sq.Expr("t.visibility = 'PRIVATE'"))
		default:
			w = append(w, sq.Expr("t.visibility = 'PUBLIC'"))
		}
	}
	return w
}

// appendIn adds "col = value" for one value, "col = ANY(values)" for more.
func appendIn[T ~string](w sq.And, col, typ string, values []T) sq.And {
	switch len(values) {
	case 0:
		return w
	case 1:
		return append(w, sq.Expr(col+" = ?::text::"+typ, string(values[0])))
	}
	return append(w, sq.Expr(col+" = ANY(?::text[]::"+typ+"[])", strs(values)))
}

func strs[T ~string](in []T) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}

// orderKey is one sort key of an ordering: its SQL expression, the cast a
// cursor value needs, the column a page of ids reads for it, where that
// column goes in a task, and its value in a cursor.
type orderKey struct {
	expr, cast, col string
	dest            func(t *domain.Task) any
	text            func(t *domain.Task) string
}

var (
	keyID        = orderKey{"t.id", "uuid", "t.id", func(t *domain.Task) any { return &t.ID }, func(t *domain.Task) string { return t.ID }}
	keyCreatedAt = orderKey{"t.created_at", "timestamptz", "t.created_at", func(t *domain.Task) any { return &t.CreatedAt },
		func(t *domain.Task) string { return pgTime(t.CreatedAt) }}
)

// orderKeys describe each ordering once: its sort keys, all in one direction
// so a row comparison expresses the keyset condition. The last key is
// always the id, which makes the order total. Each comment names the index
// that serves the ordering.
var orderKeys = map[domain.TaskOrderField][]orderKey{
	// tasks_created_keyset_idx (scanned backwards for ASC); a page of ids in
	// this order, the default, is an index-only scan.
	domain.OrderCreatedAt: {keyCreatedAt, keyID},
	// tasks_updated_keyset_idx
	domain.OrderUpdatedAt: {{"t.updated_at", "timestamptz", "t.updated_at", func(t *domain.Task) any { return &t.UpdatedAt },
		func(t *domain.Task) string { return pgTime(t.UpdatedAt) }}, keyID},
	// tasks_due_keyset_idx (tasks without a due date sort as infinity)
	domain.OrderDueDate: {{"COALESCE(t.due_date, 'infinity'::timestamptz)", "timestamptz", "t.due_date",
		func(t *domain.Task) any { return &t.DueDate }, func(t *domain.Task) string {
			if t.DueDate == nil {
				return "infinity"
			}
			return pgTime(*t.DueDate)
		}}, keyID},
	// tasks_priority_keyset_idx
	domain.OrderPriority: {{"t.priority", "task_priority", "t.priority", func(t *domain.Task) any { return &t.Priority },
		func(t *domain.Task) string { return string(t.Priority) }}, keyCreatedAt, keyID},
}

// cursorValues are the keyset values of t for an ordering, as text.
func cursorValues(t *domain.Task, f domain.TaskOrderField) []string {
	keys, ok := orderKeys[f]
	if !ok {
		keys = orderKeys[domain.DefaultTaskOrder.Field]
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.text(t)
	}
	return out
}

func pgTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// ListTasks returns one page of the tasks q.Viewer may see, by keyset: the
// cursor holds the sort key of the last row, so a page costs an index range
// scan whatever its depth, and concurrent inserts never shift rows between
// pages. tagID, when set, restricts to tasks carrying that tag (Tag.tasks).
func (r *Repo) ListTasks(ctx context.Context, q domain.TaskQuery, tagID string) (*domain.TaskPage, error) {
	p, err := listPage(ctx, r, q, tagID, taskCols, scanTask)
	if err != nil {
		return nil, err
	}
	page := &domain.TaskPage{HasNextPage: p.next, HasPreviousPage: p.prev, Edges: make([]domain.TaskEdge, len(p.rows))}
	encode := func(t *domain.Task) string { return r.TaskCursor(t, p.order) }
	for i, t := range p.rows {
		page.Edges[i] = domain.LazyTaskEdge(t, encode)
	}
	return page, nil
}

// taskStateCols are what ListTaskStates reads of each task.
const taskStateCols = `t.id, t.status, t.priority, t.visibility, t.due_date, t.assignee_id, t.created_by, t.version,
	t.created_at, t.updated_at`

func scanTaskState(row pgx.CollectableRow) (*domain.Task, error) {
	var t domain.Task
	err := row.Scan(&t.ID, &t.Status, &t.Priority, &t.Visibility, &t.DueDate, &t.AssigneeID, &t.CreatedByID, &t.Version,
		&t.CreatedAt, &t.UpdatedAt)
	return &t, err
}

// ListTaskStates is ListTasks's first page reduced to each task's state
// (domain.Store): the same statement with narrow columns.
func (r *Repo) ListTaskStates(ctx context.Context, q domain.TaskQuery) ([]*domain.Task, bool, error) {
	q.After, q.Backward = "", false
	p, err := listPage(ctx, r, q, "", taskStateCols, scanTaskState)
	if err != nil {
		return nil, false, err
	}
	return p.rows, p.next, nil
}

// keysetPage is a page's rows in list order, the order they are in (a row's
// cursor follows from it, TaskCursor), and whether there are rows after
// and before it.
type keysetPage struct {
	rows       []*domain.Task
	order      domain.TaskOrder
	next, prev bool
}

// listPage runs the keyset page statement of ListTasks selecting cols and
// scans each row (a whole task, or its state) with scan.
func listPage(ctx context.Context, r *Repo, q domain.TaskQuery, tagID, cols string,
	scan pgx.RowToFunc[*domain.Task]) (*keysetPage, error) {
	order := q.Order
	if !order.Field.Valid() {
		order = domain.DefaultTaskOrder
	}
	if !order.Direction.Valid() {
		order.Direction = domain.Desc
	}
	keys := orderKeys[order.Field]
	where := taskFilter(q.Viewer, q.Filter, tagID)
	// Backward, the scan runs the other way from the cursor and the page
	// is turned round afterwards.
	dir, from, size, field := order.Direction, q.After, q.First, "after"
	if q.Backward {
		dir, from, size, field = domain.Asc, q.Before, q.Last, "before"
		if order.Direction == domain.Asc {
			dir = domain.Desc
		}
	}
	if from != "" {
		casts := make([]string, len(keys))
		for i, k := range keys {
			casts[i] = k.cast
		}
		c, err := decodeCursor(from, orderName(order), casts)
		if err != nil {
			if field == "before" {
				return nil, domain.Invalid("before", "not a cursor of this list; pass a startCursor returned with the same arguments")
			}
			return nil, err
		}
		lhs := make([]string, len(keys))
		rhs := make([]string, len(keys))
		args := make([]any, len(keys))
		for i, k := range keys {
			lhs[i], rhs[i], args[i] = k.expr, "?::"+k.cast, c[i]
		}
		op := "<"
		if dir == domain.Asc {
			op = ">"
		}
		where = append(where, sq.Expr(fmt.Sprintf("(%s) %s (%s)", strings.Join(lhs, ", "), op, strings.Join(rhs, ", ")), args...))
	}
	orderBy := make([]string, len(keys))
	for i, k := range keys {
		orderBy[i] = k.expr + " " + string(dir)
	}
	b := psql.Select(cols).From("tasks t").Where(where).OrderBy(orderBy...).Limit(uint64(size) + 1)
	tasks, err := readQuery(ctx, r, b, scan)
	if err != nil {
		return nil, err
	}
	more := len(tasks) > size
	if more {
		tasks = tasks[:size]
	}
	page := &keysetPage{rows: tasks, order: order, next: more, prev: q.After != ""}
	if q.Backward {
		slices.Reverse(tasks)
		page.next, page.prev = q.Before != "", more
	}
	return page, nil
}

// TaskCursor is the cursor ListTasks gives t in a list in order o, so a
// cache that answers a first page itself hands out the same cursors.
func (r *Repo) TaskCursor(t *domain.Task, o domain.TaskOrder) string {
	return encodeCursor(orderName(o), cursorValues(t, o.Field))
}

func orderName(o domain.TaskOrder) string { return string(o.Field) + ":" + string(o.Direction) }

// CountTasks counts the tasks a list with this filter would walk through.
func (r *Repo) CountTasks(ctx context.Context, v domain.Viewer, f domain.TaskFilter, tagID string) (int, error) {
	sql, args, err := psql.Select("count(*)").From("tasks t").Where(taskFilter(v, f, tagID)).ToSql()
	if err != nil {
		return 0, fmt.Errorf("build count: %w", err)
	}
	var n int
	err = r.read(ctx, func(q querier) error { return translate(q.QueryRow(ctx, sql, args...).Scan(&n)) })
	return n, err
}

// TasksByTagIDs returns the first page (newest first) of the tasks v may see
// under each tag, for many tags in one statement: a LATERAL subquery per tag
// reads its links on index task_tags_tag_task_idx and stops at first+1.
func (r *Repo) TasksByTagIDs(ctx context.Context, v domain.Viewer, tagIDs []string, first int) (map[string]*domain.TaskPage, error) {
	vis, vargs, err := visibleTo(v).ToSql()
	if err != nil {
		return nil, err
	}
	sql, err := sq.Dollar.ReplacePlaceholders(`SELECT k.tag_id, ` + taskCols + `
		FROM unnest(?::uuid[]) AS k(tag_id)
		CROSS JOIN LATERAL (
			SELECT t.* FROM task_tags tt JOIN tasks t ON t.id = tt.task_id
			WHERE tt.tag_id = k.tag_id AND ` + vis + `
			ORDER BY t.created_at DESC, t.id DESC LIMIT ?
		) t`)
	if err != nil {
		return nil, err
	}
	args := append(append([]any{tagIDs}, vargs...), first+1)
	linked, err := readRows(ctx, r, sql, args, scanTaskLink)
	if err != nil {
		return nil, err
	}
	// The statement's order; a cursor is encoded only if the client reads it.
	encode := func(t *domain.Task) string { return r.TaskCursor(t, domain.DefaultTaskOrder) }
	pages := make(map[string]*domain.TaskPage, len(tagIDs))
	for _, id := range tagIDs {
		pages[id] = &domain.TaskPage{Edges: []domain.TaskEdge{}}
	}
	for _, l := range linked {
		p := pages[l.OwnerID]
		if len(p.Edges) == first {
			p.HasNextPage = true
			continue
		}
		p.Edges = append(p.Edges, domain.LazyTaskEdge(l.Item, encode))
	}
	return pages, nil
}

// CountTasksByTagIDs counts the tasks v may see under each tag, in one
// statement.
func (r *Repo) CountTasksByTagIDs(ctx context.Context, v domain.Viewer, tagIDs []string) (map[string]int, error) {
	sql, args, err := psql.Select("tt.tag_id", "count(*)").From("task_tags tt").Join("tasks t ON t.id = tt.task_id").
		Where(sq.And{sq.Expr("tt.tag_id = ANY(?::uuid[])", tagIDs), visibleTo(v)}).GroupBy("tt.tag_id").ToSql()
	if err != nil {
		return nil, err
	}
	counts := make(map[string]int, len(tagIDs))
	err = r.read(ctx, func(q querier) error {
		for _, id := range tagIDs {
			counts[id] = 0 // also undoes a failed replica attempt's partial counts
		}
		rows, err := q.Query(ctx, sql, args...)
		if err != nil {
			return translate(err)
		}
		var tag string
		var n int
		_, err = pgx.ForEachRow(rows, []any{&tag, &n}, func() error { counts[tag] = n; return nil })
		return translate(err)
	})
	if err != nil {
		return nil, err
	}
	return counts, nil
}
