package repository

import (
	"context"

	"github.com/herotasks/api/domain"
	"github.com/jackc/pgx/v5"
)

func scanEvent(row pgx.CollectableRow) (*domain.TaskEvent, error) {
	var e domain.TaskEvent
	err := row.Scan(&e.ID, &e.TaskID, &e.ActorID, &e.Kind, &e.FromStatus, &e.ToStatus, &e.FromPhase, &e.ToPhase, &e.Reason, &e.CreatedAt)
	return &e, err
}

// EventsByTaskIDs returns each task's history, newest first, at most limit
// per task, in one statement: a LATERAL subquery per task walks index
// task_events_task_created_idx on every partition and stops at the limit.
func (r *Repo) EventsByTaskIDs(ctx context.Context, taskIDs []string, limit int) ([]*domain.TaskEvent, error) {
	return readRows(ctx, r, `SELECT e.id, e.task_id, e.actor_id, e.kind, e.from_status, e.to_status,
			e.from_phase, e.to_phase, e.reason, e.created_at
		FROM unnest($1::uuid[]) AS k(task_id)
		CROSS JOIN LATERAL (
			SELECT * FROM task_events e WHERE e.task_id = k.task_id ORDER BY e.created_at DESC, e.id DESC LIMIT $2
		) e`, []any{taskIDs, limit}, scanEvent)
}
