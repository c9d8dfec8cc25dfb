package repository

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/jackc/pgx/v5"
)

// taskBundleSQL holds one statement per TaskRef kind and combination of
// TaskWith's flags, each built on first use: a fixed text, so pgx prepares
// it once per connection and pg_stat_statements shows each shape
// separately. The subtask limit is a parameter ($2), not part of the text.
var taskBundleSQL [2][1 << 7]struct {
	once sync.Once
	sql  string
}

func withIndex(w domain.TaskWith) int {
	i := 0
	for bit, on := range []bool{w.Tags, w.Assignee, w.Creator, w.Subtasks, w.Subtasks && w.SubtaskTags, w.Dependencies, w.Dependents} {
		if on {
			i |= 1 << bit
		}
	}
	return i
}

func bundleSQL(byID bool, w domain.TaskWith) string {
	k := 0
	if byID {
		k = 1
	}
	e := &taskBundleSQL[k][withIndex(w)]
	e.once.Do(func() { e.sql = buildTaskBundleSQL(byID, w) })
	return e.sql
}

// arrayAgg is the select list of one LATERAL level: one array per column
// of the level's sorted subquery x, named c0, c1, ... in cols' order.
//
// The aggregates carry no ORDER BY of their own: each would sort the
// level's rows again (PostgreSQL 15 sorts once per ordered aggregate, so a
// level of 19 columns sorted 19 times). They read x instead, which sorts
// once. All aggregates of a level consume the same input rows in the same
// sequence, so the arrays are parallel whatever happens; their order is
// x's because x is a subquery with ORDER BY, which the planner never
// flattens, and nothing sits between it and the aggregate (PostgreSQL's
// documented "sorted subquery" form). TestTaskBundle compares every
// level's order with the batch reads' and fails when a level loses it.
func arrayAgg(cols ...string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = "array_agg(x." + c + ") AS c" + strconv.Itoa(i)
	}
	return strings.Join(out, ", ")
}

// taskArrayCols are the columns of another task (a dependency or a
// dependent) aggregated as parallel arrays, scanned by taskArrays; the
// level's subquery selects the task's row as x.
var taskArrayCols = []string{"id", "number", "title", "description", "status::text", "priority::text",
	"type::text", "phase::text", "visibility::text", "due_date", "started_at", "completed_at",
	"estimated_hours::float8", "actual_hours::float8", "assignee_id", "created_by", "version",
	"created_at", "updated_at"}

// buildTaskBundleSQL reads the task row and, as w asks, one LATERAL
// subquery per level that aggregates the level's rows into parallel
// arrays: one row whatever the number of subtasks, tags and dependencies,
// and no task column repeated per child. Each level walks the index its
// batch read walks (task_tags and subtask_tags primary keys,
// subtasks_task_position_idx, the task_dependencies primary key and
// task_dependencies_depends_on_idx) and returns the same rows in the same
// order. The subtasks' tags are those of the subtasks the limit kept.
func buildTaskBundleSQL(byID bool, w domain.TaskWith) string {
	sel, from := "SELECT "+taskCols, " FROM tasks t"
	if w.Assignee {
		sel += ", a.id, a.email, a.name, a.role, a.created_at"
		from += " LEFT JOIN users a ON a.id = t.assignee_id"
	}
	if w.Creator {
		sel += ", c.id, c.email, c.name, c.role, c.created_at"
		from += " LEFT JOIN users c ON c.id = t.created_by"
	}
	if w.Tags {
		// The same rows and order as TagsByTaskIDs (task_tags primary key).
		sel += ", g.*"
		from += " LEFT JOIN LATERAL (SELECT " + arrayAgg("id", "name", "color", "created_at") +
			" FROM (SELECT g.* FROM task_tags tt JOIN tags g ON g.id = tt.tag_id WHERE tt.task_id = t.id" +
			" ORDER BY g.name) x) g ON true"
	}
	if w.Subtasks {
		// SubtasksByTaskIDs: position order, at most $2 (NULL: all).
		sel += ", s.*"
		from += " LEFT JOIN LATERAL (SELECT " + arrayAgg("id", "number", "title", "description",
			"status::text", "priority::text", "position", "version", "completed_at", "created_at", "updated_at") +
			" FROM (SELECT * FROM subtasks s WHERE s.task_id = t.id ORDER BY s.position, s.number LIMIT $2) x) s ON true"
		if w.SubtaskTags {
			// TagsBySubtaskIDs of those subtasks: by subtask, then name.
			sel += ", sg.*"
			from += " LEFT JOIN LATERAL (SELECT " + arrayAgg("subtask_id", "id", "name", "color", "created_at") +
				" FROM (SELECT st.subtask_id, g.* FROM subtask_tags st JOIN tags g ON g.id = st.tag_id" +
				" WHERE st.subtask_id = ANY(s.c0) ORDER BY st.subtask_id, g.name) x) sg ON true"
		}
	}
	if w.Dependencies {
		// DependenciesByTaskIDs: by number.
		sel += ", dp.*"
		from += " LEFT JOIN LATERAL (SELECT " + arrayAgg(taskArrayCols...) +
			" FROM (SELECT d.* FROM task_dependencies td JOIN tasks d ON d.id = td.depends_on_id" +
			" WHERE td.task_id = t.id ORDER BY d.number) x) dp ON true"
	}
	if w.Dependents {
		// DependentsByTaskIDs: by number.
		sel += ", dn.*"
		from += " LEFT JOIN LATERAL (SELECT " + arrayAgg(taskArrayCols...) +
			" FROM (SELECT d.* FROM task_dependencies td JOIN tasks d ON d.id = td.task_id" +
			" WHERE td.depends_on_id = t.id ORDER BY d.number) x) dn ON true"
	}
	where := " WHERE t.number = $1"
	if byID {
		where = " WHERE t.id = $1"
	}
	return sel + from + where
}

// nullableUser scans a LEFT JOINed user, nil when the join found none.
type nullableUser struct {
	id, email, name *string
	role            *domain.Role
	createdAt       *time.Time
}

func (u *nullableUser) dest() []any { return []any{&u.id, &u.email, &u.name, &u.role, &u.createdAt} }

func (u *nullableUser) user() *domain.User {
	if u.id == nil {
		return nil
	}
	return &domain.User{ID: *u.id, Email: *u.email, Name: *u.name, Role: *u.role, CreatedAt: *u.createdAt}
}

// tagArrays scans a level of tags aggregated as parallel arrays (all NULL
// when there are none).
type tagArrays struct {
	ids, names, colors []string
	created            []time.Time
}

func (a *tagArrays) dest() []any { return []any{&a.ids, &a.names, &a.colors, &a.created} }

func (a *tagArrays) tag(i int) *domain.Tag {
	return &domain.Tag{ID: a.ids[i], Name: a.names[i], Color: a.colors[i], CreatedAt: a.created[i]}
}

func (a *tagArrays) tags() []*domain.Tag {
	out := make([]*domain.Tag, len(a.ids))
	for i := range a.ids {
		out[i] = a.tag(i)
	}
	return out
}

// subtaskArrays scans a task's subtasks aggregated as parallel arrays.
type subtaskArrays struct {
	ids                                 []string
	seqs, positions, versions           []int
	titles, descs, statuses, priorities []string
	completed                           []*time.Time
	created, updated                    []time.Time
}

func (a *subtaskArrays) dest() []any {
	return []any{&a.ids, &a.seqs, &a.titles, &a.descs, &a.statuses, &a.priorities, &a.positions, &a.versions,
		&a.completed, &a.created, &a.updated}
}

func (a *subtaskArrays) subtasks(t *domain.Task) []*domain.Subtask {
	out := make([]*domain.Subtask, len(a.ids))
	for i := range a.ids {
		out[i] = &domain.Subtask{ID: a.ids[i], TaskID: t.ID, TaskSeq: t.Seq, Seq: a.seqs[i], Title: a.titles[i],
			Description: a.descs[i], Status: domain.TaskStatus(a.statuses[i]), Priority: domain.TaskPriority(a.priorities[i]),
			Position: a.positions[i], Version: a.versions[i], CompletedAt: a.completed[i], CreatedAt: a.created[i],
			UpdatedAt: a.updated[i]}
	}
	return out
}

// taskArrays scans other tasks (taskArrayCols) aggregated as parallel
// arrays.
type taskArrays struct {
	ids                                        []string
	seqs                                       []int64
	titles, descs, statuses, priorities, types []string
	phases, visibilities                       []string
	due, started, completed                    []*time.Time
	estimated, actual                          []*float64
	assignees, creators                        []*string
	versions                                   []int
	created, updated                           []time.Time
}

func (a *taskArrays) dest() []any {
	return []any{&a.ids, &a.seqs, &a.titles, &a.descs, &a.statuses, &a.priorities, &a.types, &a.phases, &a.visibilities,
		&a.due, &a.started, &a.completed, &a.estimated, &a.actual, &a.assignees, &a.creators, &a.versions,
		&a.created, &a.updated}
}

func (a *taskArrays) tasks() []*domain.Task {
	out := make([]*domain.Task, len(a.ids))
	for i := range a.ids {
		out[i] = &domain.Task{ID: a.ids[i], Seq: a.seqs[i], Title: a.titles[i], Description: a.descs[i],
			Status: domain.TaskStatus(a.statuses[i]), Priority: domain.TaskPriority(a.priorities[i]),
			Type: domain.TaskType(a.types[i]), Phase: domain.WorkflowPhase(a.phases[i]),
			Visibility: domain.Visibility(a.visibilities[i]), DueDate: a.due[i], StartedAt: a.started[i],
			CompletedAt: a.completed[i], EstimatedHours: a.estimated[i], ActualHours: a.actual[i],
			AssigneeID: a.assignees[i], CreatedByID: a.creators[i], Version: a.versions[i],
			CreatedAt: a.created[i], UpdatedAt: a.updated[i]}
	}
	return out
}

// TaskBundle reads a task and, in the same statement, what w asks for of
// its tags, assignee and creator, its subtasks and their tags, its
// dependencies and dependents: the one round trip a query for a single
// task needs when its levels are known ahead. The rows are those
// TasksByIDs, TagsByTaskIDs, UsersByIDs, SubtasksByTaskIDs,
// TagsBySubtaskIDs, DependenciesByTaskIDs and DependentsByTaskIDs return,
// in their order; a missing task is a nil Task, not an error.
func (r *Repo) TaskBundle(ctx context.Context, ref domain.TaskRef, w domain.TaskWith) (*domain.TaskBundle, error) {
	w.SubtaskTags = w.SubtaskTags && w.Subtasks
	args := []any{ref.Seq}
	if ref.ID != "" {
		args[0] = ref.ID
	}
	if w.Subtasks {
		args = append(args, w.SubtaskLimit)
	}
	b, err := readRow(ctx, r, bundleSQL(ref.ID != "", w), args, func(row pgx.CollectableRow) (*domain.TaskBundle, error) {
		var t domain.Task
		var assignee, creator nullableUser
		var tags tagArrays
		var subs subtaskArrays
		var subTags struct {
			owners []string
			tagArrays
		}
		var deps, dependents taskArrays
		dest := taskDest(&t)
		if w.Assignee {
			dest = append(dest, assignee.dest()...)
		}
		if w.Creator {
			dest = append(dest, creator.dest()...)
		}
		if w.Tags {
			dest = append(dest, tags.dest()...)
		}
		if w.Subtasks {
			dest = append(dest, subs.dest()...)
		}
		if w.SubtaskTags {
			dest = append(dest, &subTags.owners)
			dest = append(dest, subTags.dest()...)
		}
		if w.Dependencies {
			dest = append(dest, deps.dest()...)
		}
		if w.Dependents {
			dest = append(dest, dependents.dest()...)
		}
		if err := row.Scan(dest...); err != nil {
			return nil, err
		}
		b := &domain.TaskBundle{Task: &t, Assignee: assignee.user(), Creator: creator.user()}
		if w.Tags {
			b.Tags = tags.tags()
		}
		if w.Subtasks {
			b.Subtasks = subs.subtasks(&t)
		}
		if w.SubtaskTags {
			b.SubtaskTags = make(map[string][]*domain.Tag, len(subs.ids))
			for _, id := range subs.ids {
				b.SubtaskTags[id] = []*domain.Tag{}
			}
			for i, owner := range subTags.owners {
				b.SubtaskTags[owner] = append(b.SubtaskTags[owner], subTags.tag(i))
			}
		}
		if w.Dependencies {
			b.Dependencies = deps.tasks()
		}
		if w.Dependents {
			b.Dependents = dependents.tasks()
		}
		return b, nil
	})
	if errors.Is(err, domain.ErrNotFound) {
		return &domain.TaskBundle{}, nil
	}
	return b, err
}
