package repository

import (
	"context"
	"errors"
	"net"

	"github.com/herotasks/api/domain"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// constraintErrors maps constraint names to the input field and message a
// client should see. Anything not listed is an internal error.
var constraintErrors = map[string]*domain.Error{
	"tasks_title_length":                   domain.Invalid("input.title", "must be 1 to %d characters", domain.MaxTitle),
	"subtasks_title_length":                domain.Invalid("input.title", "must be 1 to %d characters", domain.MaxTitle),
	"tasks_description_length":             domain.Invalid("input.description", "must be at most %d characters", domain.MaxDescription),
	"subtasks_description_length":          domain.Invalid("input.description", "must be at most %d characters", domain.MaxDescription),
	"tasks_estimated_hours_range":          domain.Invalid("input.estimatedHours", "must not be negative"),
	"tasks_actual_hours_range":             domain.Invalid("input.actualHours", "must not be negative"),
	"tasks_assignee_id_fkey":               domain.Invalid("input.assigneeId", "no such user"),
	"tasks_created_by_fkey":                domain.Invalid("createdBy", "no such user"),
	"tags_name_format":                     domain.Invalid("tags", "tag names are 1 to 50 lowercase letters, digits, '.', '_' or '-'"),
	"task_dependencies_no_self":            domain.Errorf(domain.ECONFLICT, "a task cannot depend on itself"),
	"task_dependencies_task_id_fkey":       domain.ErrNotFound,
	"task_dependencies_depends_on_id_fkey": domain.ErrNotFound,
	"subtasks_task_id_fkey":                domain.ErrNotFound,
	"task_tags_task_id_fkey":               domain.ErrNotFound,
	"subtask_tags_subtask_id_fkey":         domain.ErrNotFound,
	"users_email_key":                      domain.Errorf(domain.ECONFLICT, "a user with this email exists"),
	"api_tokens_user_id_fkey":              domain.Invalid("input.userId", "no such user"),
	"tasks_started_after_created":          domain.Invalid("startedAt", "cannot be before the task was created"),
	"tasks_completed_after_created":        domain.Invalid("completedAt", "cannot be before the task was created"),
}

// translate turns driver errors into domain errors by SQLSTATE and
// constraint name, never by message text. Domain errors and nil pass through.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var de *domain.Error
	if errors.As(err, &de) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.ErrNotFound
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &wrapped{domain.Errorf(domain.ETIMEOUT, "the request took too long"), err}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if e, ok := constraintErrors[pgErr.ConstraintName]; ok {
			return &wrapped{e, err}
		}
		switch pgErr.Code {
		case "23505": // unique_violation
			return &wrapped{domain.Errorf(domain.ECONFLICT, "already exists"), err}
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return &wrapped{domain.Errorf(domain.ECONFLICT, "a concurrent change got in the way; retry"), err}
		case "57014": // query_canceled (statement_timeout or cancel)
			return &wrapped{domain.Errorf(domain.ETIMEOUT, "the request took too long"), err}
		case "55P03": // lock_not_available (lock_timeout)
			return &wrapped{domain.Errorf(domain.ETIMEOUT, "the data is busy; retry"), err}
		case "57P01", "57P02", "57P03", "53300": // shutdown, crash, cannot connect now, too many connections
			return &wrapped{domain.Errorf(domain.EUNAVAILABLE, "the database is unavailable; retry shortly"), err}
		}
		if len(pgErr.Code) == 2+3 && pgErr.Code[:2] == "08" { // connection exceptions
			return &wrapped{domain.Errorf(domain.EUNAVAILABLE, "the database is unavailable; retry shortly"), err}
		}
		return err
	}
	var netErr net.Error
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err) {
		return &wrapped{domain.Errorf(domain.EUNAVAILABLE, "the database is unavailable; retry shortly"), err}
	}
	return err
}

// wrapped keeps the driver error for logs while errors.As finds the domain
// error for the client.
type wrapped struct {
	public *domain.Error
	cause  error
}

func (w *wrapped) Error() string { return w.public.Error() + ": " + w.cause.Error() }
func (w *wrapped) Unwrap() []error {
	return []error{w.public, w.cause}
}

// pgCode returns err's SQLSTATE, or "" when it is not a server error.
func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}
