package repository

import (
	"context"

	"github.com/herotasks/api/domain"
	"github.com/jackc/pgx/v5"
)

func scanTaskLink(row pgx.CollectableRow) (domain.Link[*domain.Task], error) {
	l := domain.Link[*domain.Task]{Item: &domain.Task{}}
	err := row.Scan(append([]any{&l.OwnerID}, taskDest(l.Item)...)...)
	return l, err
}

// DependenciesByTaskIDs returns the tasks each task waits for, in one
// statement on the task_dependencies primary key (task_id, depends_on_id).
func (r *Repo) DependenciesByTaskIDs(ctx context.Context, taskIDs []string) ([]domain.Link[*domain.Task], error) {
	return readQuery(ctx, r, byKeys(psql.Select("d.task_id", taskCols).From("task_dependencies d").
		Join("tasks t ON t.id = d.depends_on_id"), "d.task_id", taskIDs).
		OrderBy("d.task_id", "t.number"), scanTaskLink)
}

// DependentsByTaskIDs returns the tasks waiting for each task, in one
// statement on index task_dependencies_depends_on_idx.
func (r *Repo) DependentsByTaskIDs(ctx context.Context, taskIDs []string) ([]domain.Link[*domain.Task], error) {
	return readQuery(ctx, r, byKeys(psql.Select("d.depends_on_id", taskCols).From("task_dependencies d").
		Join("tasks t ON t.id = d.task_id"), "d.depends_on_id", taskIDs).
		OrderBy("d.depends_on_id", "t.number"), scanTaskLink)
}

// dependencyLock is the advisory lock key that serializes dependency
// inserts: two concurrent inserts (A→B, B→A) must not both pass the cycle
// check. Dependency writes are rare, so one lock costs nothing noticeable.
const dependencyLock = 0x4854_6465_7073 // "HTdeps"

// AddDependency records that taskID waits for dependsOnID, refusing with
// CONFLICT an edge that would close a cycle. guard runs on both tasks.
func (r *Repo) AddDependency(ctx context.Context, taskID, dependsOnID string, guard domain.Guard) (*domain.Task, error) {
	if taskID == dependsOnID {
		return nil, domain.Errorf(domain.ECONFLICT, "a task cannot depend on itself")
	}
	var t *domain.Task
	err := r.inTx(ctx, func(tx *writeTx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", dependencyLock); err != nil {
			return translate(err)
		}
		var err error
		if t, _, err = lockTask(ctx, tx, taskID, guard); err != nil {
			return err
		}
		if _, _, err = lockTask(ctx, tx, dependsOnID, guard); err != nil {
			return err
		}
		// Does dependsOnID already reach taskID? UNION (not ALL) stops on
		// revisits, so the walk ends even on bad data.
		var cycle bool
		err = tx.QueryRow(ctx, `WITH RECURSIVE reach(id) AS (
				SELECT depends_on_id FROM task_dependencies WHERE task_id = $1
				UNION
				SELECT d.depends_on_id FROM task_dependencies d JOIN reach ON d.task_id = reach.id)
			SELECT EXISTS (SELECT 1 FROM reach WHERE id = $2)`, dependsOnID, taskID).Scan(&cycle)
		if err != nil {
			return translate(err)
		}
		if cycle {
			return domain.Errorf(domain.ECONFLICT, "this dependency would create a cycle")
		}
		tag, err := tx.Exec(ctx, "INSERT INTO task_dependencies (task_id, depends_on_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", taskID, dependsOnID)
		if err != nil || tag.RowsAffected() == 0 {
			return translate(err)
		}
		return insertEvents(ctx, tx, []domain.TaskEvent{
			{TaskID: taskID, Kind: domain.EventDependencyAdded, NewValue: &dependsOnID},
			{TaskID: dependsOnID, Kind: domain.EventDependentAdded, NewValue: &taskID}})
	})
	return t, err
}

// RemoveDependency deletes the edge taskID → dependsOnID if present.
func (r *Repo) RemoveDependency(ctx context.Context, taskID, dependsOnID string, guard domain.Guard) (*domain.Task, error) {
	var t *domain.Task
	err := r.inTx(ctx, func(tx *writeTx) error {
		var err error
		if t, _, err = lockTask(ctx, tx, taskID, guard); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, "DELETE FROM task_dependencies WHERE task_id = $1 AND depends_on_id = $2", taskID, dependsOnID)
		if err != nil || tag.RowsAffected() == 0 {
			return translate(err)
		}
		return insertEvents(ctx, tx, []domain.TaskEvent{
			{TaskID: taskID, Kind: domain.EventDependencyRemoved, OldValue: &dependsOnID},
			{TaskID: dependsOnID, Kind: domain.EventDependentRemoved, OldValue: &taskID}})
	})
	return t, err
}
