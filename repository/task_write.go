package repository

import (
	"context"
	"time"

	sq "github.com/Masterminds/squirrel"
	"github.com/herotasks/api/domain"
	"github.com/jackc/pgx/v5"
)

// lockTask reads a task FOR UPDATE with the transaction's clock and runs
// guard on it. Every write to a task or its children takes this lock first,
// which serializes subtask numbering and positions, dependency checks and
// version checks per task.
func lockTask(ctx context.Context, tx *writeTx, id string, guard domain.Guard) (*domain.Task, time.Time, error) {
	return lockTaskText(ctx, tx, id, guard, nil)
}

// lockTaskText is lockTask that also reports the row's searched text to w,
// when w is not nil.
func lockTaskText(ctx context.Context, tx *writeTx, id string, guard domain.Guard, w *domain.WrittenTexts) (*domain.Task, time.Time, error) {
	var t domain.Task
	var now time.Time
	var text []string
	sql, dest := "SELECT "+taskCols+", now() FROM tasks t WHERE t.id = $1 FOR UPDATE", append(taskDest(&t), &now)
	if w != nil {
		sql, dest = "SELECT "+taskCols+", now(), "+searchTextCol+" FROM tasks t WHERE t.id = $1 FOR UPDATE", append(dest, &text)
	}
	if err := tx.QueryRow(ctx, sql, id).Scan(dest...); err != nil {
		return nil, now, translate(err)
	}
	domain.NotePrior(ctx, &t)
	noteText(w, &t, text, nil, nil)
	if guard != nil {
		if err := guard(&t); err != nil {
			return nil, now, err
		}
	}
	return &t, now, nil
}

// noteText reports row t's searched text (searchTextCol, and
// searchScoreCols when read) to w. One that does not read is left out: the
// cache then reads the texts itself.
func noteText(w *domain.WrittenTexts, t *domain.Task, text, lexemes []string, scores []float64) {
	if w == nil {
		return
	}
	st, err := searchTextOf(text)
	if err != nil {
		return
	}
	if lexemes != nil {
		st.Scores = scoresOf(lexemes, scores)
	}
	w.Note(t.ID, t.Version, st)
}

// searchWrite is the collector of a write of task fields in p, nil when
// no one asked or p changes nothing a search depends on.
func searchWrite(ctx context.Context, p domain.TaskPatch) *domain.WrittenTexts {
	if p.Title == nil && p.Description == nil && p.Visibility == nil && !p.AssigneeID.Set {
		return nil
	}
	return domain.WrittenTextsOf(ctx)
}

// CreateTask stores a new task with its tags and its CREATED history entry in
// one transaction. The number comes from task_number_seq.
func (r *Repo) CreateTask(ctx context.Context, in domain.NewTask) (*domain.Task, error) {
	var t *domain.Task
	err := r.inTx(ctx, func(tx *writeTx) error {
		var err error
		sql := `INSERT INTO tasks AS t (title, description, type, priority, visibility, due_date,
				assignee_id, estimated_hours, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ` + taskCols
		args := []any{in.Title, in.Description, in.Type, in.Priority, in.Visibility, in.DueDate,
			in.AssigneeID, in.EstimatedHours, in.CreatedByID}
		// With a collector, the row's searched text (and its scores) too.
		w := domain.WrittenTextsOf(ctx)
		var text, lexemes []string
		var scores []float64
		var extra []any
		if w != nil {
			sql, extra = sql+", "+searchTextCol, []any{&text}
			if w.Scores() {
				sql, extra = sql+", "+searchScoreCols, append(extra, &lexemes, &scores)
			}
		}
		t, err = queryRow(ctx, tx, sql, args, func(row pgx.CollectableRow) (*domain.Task, error) {
			var t domain.Task
			return &t, row.Scan(append(taskDest(&t), extra...)...)
		})
		if err != nil {
			return err
		}
		noteText(w, t, text, lexemes, scores)
		if _, err := linkTags(ctx, tx, "task_tags", "task_id", t.ID, in.Tags); err != nil {
			return err
		}
		// A new task's tags are those just linked; without any, there is
		// nothing to read.
		t.TagIDs, t.SubtaskIDs, t.ChildrenRead = []string{}, []string{}, true
		if len(in.Tags) > 0 {
			if t.TagIDs, err = tagIDsOf(ctx, tx, t.ID); err != nil {
				return err
			}
		}
		if err := learnSearchWords(ctx, tx, t.ID); err != nil {
			return err
		}
		return insertEvents(ctx, tx, []domain.TaskEvent{{
			TaskID: t.ID, ActorID: in.CreatedByID, Kind: domain.EventCreated,
			ToStatus: &t.Status, ToPhase: &t.Phase, CreatedAt: t.CreatedAt,
		}})
	})
	if err != nil {
		return nil, err // rolled back: the row read from the insert does not exist
	}
	return t, nil
}

// UpdateTask applies p to the task under its row lock after guard agrees,
// and increments its version.
func (r *Repo) UpdateTask(ctx context.Context, id string, p domain.TaskPatch, guard domain.Guard) (*domain.Task, error) {
	var t *domain.Task
	err := r.inTx(ctx, func(tx *writeTx) error {
		w := searchWrite(ctx, p)
		old, _, err := lockTaskText(ctx, tx, id, guard, w)
		if err != nil {
			return err
		}
		b := psql.Update("tasks AS t").Where("t.id = ?", id).Set("version", sq.Expr("t.version + 1"))
		if p.Title != nil {
			b = b.Set("title", *p.Title)
		}
		if p.Description != nil {
			b = b.Set("description", *p.Description)
		}
		if p.Type != nil {
			b = b.Set("type", string(*p.Type))
		}
		if p.Priority != nil {
			b = b.Set("priority", string(*p.Priority))
		}
		if p.Visibility != nil {
			b = b.Set("visibility", string(*p.Visibility))
		}
		if p.DueDate.Set {
			b = b.Set("due_date", p.DueDate.Value)
		}
		if p.AssigneeID.Set {
			b = b.Set("assignee_id", p.AssigneeID.Value)
		}
		if p.EstimatedHours.Set {
			b = b.Set("estimated_hours", p.EstimatedHours.Value)
		}
		if p.ActualHours.Set {
			b = b.Set("actual_hours", p.ActualHours.Value)
		}
		scan := scanTaskWithChildren
		returning := "RETURNING " + taskWithChildrenCols
		if w != nil {
			returning += ", " + searchTextCol
			scan = func(row pgx.CollectableRow) (*domain.Task, error) {
				var text []string
				t, err := scanTaskWithChildrenAnd(row, &text)
				if err == nil {
					noteText(w, t, text, nil, nil)
				}
				return t, err
			}
		}
		rows, err := query(ctx, tx, b.Suffix(returning), scan)
		if err != nil {
			return err
		}
		t = rows[0]
		if err := insertEvents(ctx, tx, taskChanges(old, t)); err != nil {
			return err
		}
		if p.Title != nil || p.Description != nil {
			return learnSearchWords(ctx, tx, id)
		}
		return nil
	})
	return t, err
}

// TransitionTask moves a task's status and phase by the workflow rules of
// domain.Transition, recording each change in task_events in the same
// transaction. A request that changes nothing writes nothing.
func (r *Repo) TransitionTask(ctx context.Context, id string, req domain.TransitionRequest, guard domain.Guard) (*domain.Task, error) {
	var out *domain.Task
	err := r.inTx(ctx, func(tx *writeTx) error {
		cur, now, err := lockTask(ctx, tx, id, guard)
		if err != nil {
			return err
		}
		next, events, err := domain.Transition(*cur, req, now)
		if err != nil {
			return err
		}
		if len(events) == 0 {
			out = cur
			return nil
		}
		out, err = queryRow(ctx, tx, `UPDATE tasks AS t SET status = $2, phase = $3, started_at = $4, completed_at = $5,
				version = t.version + 1 WHERE t.id = $1 RETURNING `+taskWithChildrenCols,
			[]any{id, next.Status, next.Phase, next.StartedAt, next.CompletedAt}, scanTaskWithChildren)
		if err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
	return out, err
}

// DeleteTask deletes a task and, by cascade, its subtasks and links,
// reporting what the deletion touched. Its history stays, ending with a
// DELETED event that says who could see the task, and the tasks it was
// linked to record the lost dependency.
func (r *Repo) DeleteTask(ctx context.Context, id string, guard domain.Guard) (*domain.DeletedTask, error) {
	d := &domain.DeletedTask{}
	err := r.inTx(ctx, func(tx *writeTx) error {
		var err error
		if d.Task, _, err = lockTaskText(ctx, tx, id, guard, domain.WrittenTextsOf(ctx)); err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `SELECT
				ARRAY(SELECT id::text FROM subtasks WHERE task_id = $1),
				ARRAY(SELECT depends_on_id::text FROM task_dependencies WHERE task_id = $1),
				ARRAY(SELECT task_id::text FROM task_dependencies WHERE depends_on_id = $1)`, id).
			Scan(&d.SubtaskIDs, &d.DependsOnIDs, &d.DependentIDs)
		if err != nil {
			return translate(err)
		}
		events := []domain.TaskEvent{{TaskID: id, Kind: domain.EventDeleted, OldValue: text(d.Task.Title), Was: d.Task}}
		for _, other := range d.DependsOnIDs {
			events = append(events, domain.TaskEvent{TaskID: other, Kind: domain.EventDependentRemoved, OldValue: text(id)})
		}
		for _, other := range d.DependentIDs {
			events = append(events, domain.TaskEvent{TaskID: other, Kind: domain.EventDependencyRemoved, OldValue: text(id)})
		}
		if err := insertEvents(ctx, tx, events); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "DELETE FROM tasks WHERE id = $1", id)
		return translate(err)
	})
	return d, err
}
