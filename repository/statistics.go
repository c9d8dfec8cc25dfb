package repository

import (
	"context"

	"github.com/herotasks/api/domain"
)

// TaskStatistics counts the tasks v may see in one grouped scan.
func (r *Repo) TaskStatistics(ctx context.Context, v domain.Viewer) (*domain.TaskStatistics, error) {
	sql, args, err := psql.Select("t.status", "t.priority", "t.type", "count(*)",
		"count(*) FILTER (WHERE t.status NOT IN ('COMPLETED', 'CANCELLED') AND t.due_date < now())",
		"COALESCE(sum(extract(epoch FROM t.completed_at - t.created_at)) FILTER (WHERE t.status = 'COMPLETED'), 0)::float8").
		From("tasks t").Where(visibleTo(v)).GroupBy("1", "2", "3").ToSql()
	if err != nil {
		return nil, err
	}
	rows, err := r.pools.Analytics.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	s := &domain.TaskStatistics{
		ByStatus: map[domain.TaskStatus]int{}, ByPriority: map[domain.TaskPriority]int{}, ByType: map[domain.TaskType]int{},
	}
	var completedSeconds float64
	for rows.Next() {
		var st domain.TaskStatus
		var pr domain.TaskPriority
		var ty domain.TaskType
		var n, overdue int
		var secs float64
		if err := rows.Scan(&st, &pr, &ty, &n, &overdue, &secs); err != nil {
			return nil, translate(err)
		}
		s.Total += n
		s.Overdue += overdue
		s.ByStatus[st] += n
		s.ByPriority[pr] += n
		s.ByType[ty] += n
		if st.Active() {
			s.Active += n
		}
		if st == domain.StatusCompleted {
			s.Completed += n
			completedSeconds += secs
		}
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err)
	}
	if s.Completed > 0 {
		h := completedSeconds / 3600 / float64(s.Completed)
		s.AverageCompletionHours = &h
	}
	return s, nil
}
