package repository

import (
	"context"

	sq "github.com/Masterminds/squirrel"
	"github.com/herotasks/api/domain"
	"github.com/jackc/pgx/v5"
)

const subtaskCols = `s.id, s.task_id, t.number, s.number, s.title, s.description, s.status, s.priority, s.position,
	s.version, s.completed_at, s.created_at, s.updated_at`

func scanSubtask(row pgx.CollectableRow) (*domain.Subtask, error) {
	var s domain.Subtask
	err := row.Scan(&s.ID, &s.TaskID, &s.TaskSeq, &s.Seq, &s.Title, &s.Description, &s.Status, &s.Priority,
		&s.Position, &s.Version, &s.CompletedAt, &s.CreatedAt, &s.UpdatedAt)
	return &s, err
}

// SubtasksByTaskIDs returns the subtasks of each task in position order, at
// most limit per task (all when limit is nil), in one statement: a LATERAL
// subquery per parent walks index subtasks_task_position_idx and stops at
// the limit.
func (r *Repo) SubtasksByTaskIDs(ctx context.Context, taskIDs []string, limit *int) ([]*domain.Subtask, error) {
	return readRows(ctx, r, `SELECT `+subtaskCols+`
		FROM (SELECT DISTINCT unnest($1::uuid[])) AS k(id)
		JOIN tasks t ON t.id = k.id
		CROSS JOIN LATERAL (
			SELECT * FROM subtasks s WHERE s.task_id = t.id ORDER BY s.position, s.number LIMIT $2
		) s`, []any{keys(taskIDs), limit}, scanSubtask)
}

// SubtasksOfTasks returns the subtasks of each task as SubtasksByTaskIDs
// does: the ids a row carries are as of that row, and the statement reads
// the current ones, which are never older.
func (r *Repo) SubtasksOfTasks(ctx context.Context, tasks []*domain.Task, limit *int) ([]*domain.Subtask, error) {
	ids := make([]string, len(tasks))
	for i, t := range tasks {
		ids[i] = t.ID
	}
	return r.SubtasksByTaskIDs(ctx, ids, limit)
}

// SubtaskIDsByTaskID returns the ids of a task's subtasks (index
// subtasks_task_position_idx).
func (r *Repo) SubtaskIDsByTaskID(ctx context.Context, taskID string) ([]string, error) {
	return readRows(ctx, r, "SELECT id::text FROM subtasks WHERE task_id = $1", []any{taskID}, pgx.RowTo[string])
}

// subtaskByKeyCols are subtaskCols with the parent's number read per row by
// primary key. Joined, a batch of a few hundred keys (a page's subtasks
// filling the entity cache) was hash-joined against the whole tasks table
// (the planner expects every parent to differ); a correlated subquery
// cannot be planned that way. The foreign key guarantees the parent.
// The tag ids follow (index: subtask_tags primary key, its leading column).
const subtaskByKeyCols = `s.id, s.task_id, (SELECT t.number FROM tasks t WHERE t.id = s.task_id), s.number, s.title,
	s.description, s.status, s.priority, s.position, s.version, s.completed_at, s.created_at, s.updated_at,
	ARRAY(SELECT st.tag_id::text FROM subtask_tags st WHERE st.subtask_id = s.id)`

func scanSubtaskWithTagIDs(row pgx.CollectableRow) (*domain.Subtask, error) {
	var s domain.Subtask
	err := row.Scan(&s.ID, &s.TaskID, &s.TaskSeq, &s.Seq, &s.Title, &s.Description, &s.Status, &s.Priority,
		&s.Position, &s.Version, &s.CompletedAt, &s.CreatedAt, &s.UpdatedAt, &s.TagIDs)
	if s.TagIDs == nil {
		s.TagIDs = []string{}
	}
	s.TagIDsRead = err == nil
	return &s, err
}

// SubtasksByIDs returns the subtasks with these ids and their tag ids
// (primary key).
func (r *Repo) SubtasksByIDs(ctx context.Context, ids []string) ([]*domain.Subtask, error) {
	return readQuery(ctx, r, byKeys(psql.Select(subtaskByKeyCols).From("subtasks s"), "s.id", ids), scanSubtaskWithTagIDs)
}

// lockSubtaskParent locks the task a subtask belongs to (see lockTask) and
// returns its id. Subtask writes serialize on their parent.
func lockSubtaskParent(ctx context.Context, tx *writeTx, subtaskID string, guard domain.Guard) (string, error) {
	var taskID string
	if err := tx.QueryRow(ctx, "SELECT task_id FROM subtasks WHERE id = $1", subtaskID).Scan(&taskID); err != nil {
		return "", translate(err)
	}
	_, _, err := lockTask(ctx, tx, taskID, guard)
	return taskID, err
}

// subtaskByID reads one subtask inside a transaction.
func subtaskByID(ctx context.Context, tx *writeTx, id string) (*domain.Subtask, error) {
	return queryRow(ctx, tx, "SELECT "+subtaskCols+" FROM subtasks s JOIN tasks t ON t.id = s.task_id WHERE s.id = $1", []any{id}, scanSubtask)
}

// CreateSubtask adds a subtask under the parent's row lock: the lock bumps
// the parent's subtask counter (so concurrent calls get distinct numbers that
// are never reused) and keeps positions dense (0..n-1).
func (r *Repo) CreateSubtask(ctx context.Context, taskID string, in domain.NewSubtask, guard domain.Guard) (*domain.Subtask, error) {
	var s *domain.Subtask
	err := r.inTx(ctx, func(tx *writeTx) error {
		if _, _, err := lockTask(ctx, tx, taskID, guard); err != nil {
			return err
		}
		var seq, count int
		err := tx.QueryRow(ctx, `UPDATE tasks SET subtask_counter = subtask_counter + 1 WHERE id = $1
			RETURNING subtask_counter, (SELECT count(*) FROM subtasks WHERE task_id = $1)`, taskID).Scan(&seq, &count)
		if err != nil {
			return translate(err)
		}
		pos := count
		if in.Position != nil && *in.Position < count {
			pos = *in.Position
			if _, err := tx.Exec(ctx, "UPDATE subtasks SET position = position + 1 WHERE task_id = $1 AND position >= $2", taskID, pos); err != nil {
				return translate(err)
			}
		}
		s, err = queryRow(ctx, tx, `WITH s AS (
				INSERT INTO subtasks (task_id, number, title, description, priority, position)
				VALUES ($1, $2, $3, $4, $5, $6) RETURNING *)
			SELECT `+subtaskCols+` FROM s JOIN tasks t ON t.id = s.task_id`,
			[]any{taskID, seq, in.Title, in.Description, in.Priority, pos}, scanSubtask)
		if err != nil {
			return err
		}
		if _, err := linkTags(ctx, tx, "subtask_tags", "subtask_id", s.ID, in.Tags); err != nil {
			return err
		}
		if s.Parent, err = subtasksChanged(ctx, tx, taskID); err != nil {
			return err
		}
		return insertEvents(ctx, tx, []domain.TaskEvent{{TaskID: taskID, Kind: domain.EventSubtaskAdded, SubtaskID: &s.ID, NewValue: &s.Title}})
	})
	return s, err
}

// subtasksChanged counts a change of a locked task's subtask list in its
// subtasks_version and returns its row with its children's ids, for the
// caches to write through (Subtask.Parent). It runs after the list changed,
// under the row lock: the ids are those this transaction commits.
func subtasksChanged(ctx context.Context, tx *writeTx, taskID string) (*domain.Task, error) {
	return queryRow(ctx, tx, "UPDATE tasks AS t SET subtasks_version = t.subtasks_version + 1 WHERE t.id = $1 RETURNING "+taskWithChildrenCols,
		[]any{taskID}, scanTaskWithChildren)
}

// UpdateSubtask changes a subtask under its parent's row lock. guard sees the
// parent task; expectedVersion, when set, must match the subtask's version.
func (r *Repo) UpdateSubtask(ctx context.Context, id string, p domain.SubtaskPatch, expectedVersion *int, guard domain.Guard) (*domain.Subtask, error) {
	var s *domain.Subtask
	err := r.inTx(ctx, func(tx *writeTx) error {
		taskID, err := lockSubtaskParent(ctx, tx, id, guard)
		if err != nil {
			return err
		}
		var version, pos, count int
		err = tx.QueryRow(ctx, `SELECT version, position, (SELECT count(*) FROM subtasks WHERE task_id = $2)
			FROM subtasks WHERE id = $1 AND task_id = $2`, id, taskID).Scan(&version, &pos, &count)
		if err != nil {
			return translate(err)
		}
		if expectedVersion != nil && *expectedVersion != version {
			return domain.ErrConflict
		}
		old, err := subtaskByID(ctx, tx, id)
		if err != nil {
			return err
		}
		b := psql.Update("subtasks").Where("id = ?", id).Set("version", sq.Expr("version + 1"))
		if p.Title != nil {
			b = b.Set("title", *p.Title)
		}
		if p.Description != nil {
			b = b.Set("description", *p.Description)
		}
		if p.Priority != nil {
			b = b.Set("priority", string(*p.Priority))
		}
		if p.Status != nil {
			b = b.Set("status", string(*p.Status))
			if *p.Status == domain.StatusCompleted {
				b = b.Set("completed_at", sq.Expr("COALESCE(completed_at, now())"))
			} else {
				b = b.Set("completed_at", nil)
			}
		}
		if p.Position != nil {
			to := min(*p.Position, count-1)
			if to != pos {
				// Move the others one step towards the gap the subtask leaves.
				shift := "UPDATE subtasks SET position = position - 1 WHERE task_id = $1 AND position > $2 AND position <= $3"
				if to < pos {
					shift = "UPDATE subtasks SET position = position + 1 WHERE task_id = $1 AND position >= $3 AND position < $2"
				}
				if _, err := tx.Exec(ctx, shift, taskID, pos, to); err != nil {
					return translate(err)
				}
				b = b.Set("position", to)
			}
		}
		sql, args, err := b.ToSql()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sql, args...); err != nil {
			return translate(err)
		}
		if s, err = subtaskByID(ctx, tx, id); err != nil {
			return err
		}
		if s.Position != old.Position {
			if s.Parent, err = subtasksChanged(ctx, tx, taskID); err != nil {
				return err
			}
		}
		return insertEvents(ctx, tx, subtaskChanges(old, s))
	})
	return s, err
}

// DeleteSubtask removes a subtask and closes the gap in positions. It
// returns the deleted subtask.
func (r *Repo) DeleteSubtask(ctx context.Context, id string, guard domain.Guard) (*domain.Subtask, error) {
	var s *domain.Subtask
	err := r.inTx(ctx, func(tx *writeTx) error {
		taskID, err := lockSubtaskParent(ctx, tx, id, guard)
		if err != nil {
			return err
		}
		s, err = queryRow(ctx, tx, `WITH s AS (DELETE FROM subtasks WHERE id = $1 RETURNING *)
			SELECT `+subtaskCols+` FROM s JOIN tasks t ON t.id = s.task_id`, []any{id}, scanSubtask)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "UPDATE subtasks SET position = position - 1 WHERE task_id = $1 AND position > $2", taskID, s.Position)
		if err != nil {
			return translate(err)
		}
		if s.Parent, err = subtasksChanged(ctx, tx, taskID); err != nil {
			return err
		}
		return insertEvents(ctx, tx, []domain.TaskEvent{{TaskID: taskID, Kind: domain.EventSubtaskRemoved, SubtaskID: &s.ID, OldValue: &s.Title}})
	})
	return s, err
}
