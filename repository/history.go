package repository

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/pubsub"
	"github.com/jackc/pgx/v5"
)

// The history is the log of every change. Each write appends its events
// (insertEvents) in its own transaction and notifies pubsub.Channel, which
// PostgreSQL delivers at commit. Readers of the log (TaskEventsAfter) go
// in (txid, id) order and only below the oldest transaction still
// writing: an event whose transaction is still open can have a smaller
// position than one already committed, and the reader waits for it rather
// than pass it by.

const eventCols = `e.id, e.task_id, e.actor_id, e.kind, e.from_status, e.to_status, e.from_phase, e.to_phase, e.reason,
	e.field, e.old_value, e.new_value, e.subtask_id, e.created_at, e.txid::text, e.task_private, e.task_created_by, e.task_assignee`

func scanEvent(row pgx.CollectableRow) (*domain.TaskEvent, error) {
	var e domain.TaskEvent
	var tx string
	var private *bool
	var createdBy, assignee *string
	err := row.Scan(&e.ID, &e.TaskID, &e.ActorID, &e.Kind, &e.FromStatus, &e.ToStatus, &e.FromPhase, &e.ToPhase, &e.Reason,
		&e.Field, &e.OldValue, &e.NewValue, &e.SubtaskID, &e.CreatedAt, &tx, &private, &createdBy, &assignee)
	if err != nil {
		return nil, err
	}
	if e.Tx, err = strconv.ParseUint(tx, 10, 64); err != nil {
		return nil, err
	}
	if e.Kind == domain.EventDeleted {
		e.Was = &domain.Task{ID: e.TaskID, Visibility: domain.VisibilityPublic, CreatedByID: createdBy, AssigneeID: assignee}
		if private != nil && *private {
			e.Was.Visibility = domain.VisibilityPrivate
		}
	}
	return &e, nil
}

// EventsByTaskIDs returns each task's history, newest first, at most limit
// per task, in one statement: a LATERAL subquery per task walks index
// task_events_task_created_idx on every partition and stops at the limit.
func (r *Repo) EventsByTaskIDs(ctx context.Context, taskIDs []string, limit int) ([]*domain.TaskEvent, error) {
	// DISTINCT: keys repeats a short batch's first id (see byKeys).
	return readRows(ctx, r, `SELECT `+eventCols+`
		FROM (SELECT DISTINCT unnest($1::uuid[])) AS k(task_id)
		CROSS JOIN LATERAL (
			SELECT * FROM task_events e WHERE e.task_id = k.task_id ORDER BY e.created_at DESC, e.id DESC LIMIT $2
		) e`, []any{keys(taskIDs), limit}, scanEvent)
}

// TaskHistory returns a task's events older than before (a cursor of its
// history; all when empty), newest first, at most limit.
func (r *Repo) TaskHistory(ctx context.Context, taskID, before string, limit int) ([]*domain.TaskEvent, error) {
	at, id := time.Now().Add(time.Hour), int64(1<<62)
	if before != "" {
		c, err := domain.ParseEventCursor("after", before)
		if err != nil {
			return nil, err
		}
		at, id = c.At, c.ID
	}
	return readRows(ctx, r, `SELECT `+eventCols+` FROM task_events e
		WHERE e.task_id = $1 AND (e.created_at, e.id) < ($2, $3)
		ORDER BY e.created_at DESC, e.id DESC LIMIT $4`, []any{taskID, at, id, limit}, scanEvent)
}

// cursorKept tests that an event cursor's own event is still kept, given
// the placeholders of its id and creation time.
const cursorKept = "EXISTS (SELECT 1 FROM task_events k WHERE k.id = $%d AND k.created_at = $%d)"

// TaskEventsAfter returns the events of every task after the cursor after
// ("": from the start) in log order, at most limit, up to the oldest transaction still writing
// (index task_events_log_idx). A cursor whose event is no longer kept is
// domain.ErrCursorExpired.
func (r *Repo) TaskEventsAfter(ctx context.Context, after string, limit int) ([]*domain.TaskEvent, error) {
	var c domain.EventCursor // "": from the start
	if after != "" {
		var err error
		if c, err = domain.ParseEventCursor("after", after); err != nil {
			return nil, err
		}
	}
	var out []*domain.TaskEvent
	err := r.primary(func(q querier) error {
		// The cursor's own event must still be kept, or retention dropped
		// events after it too. The test has no column, so it is a one-time
		// filter of the read: rows come back only when it holds, and only
		// an empty read asks which way it was.
		kept, args := "true", []any{strconv.FormatUint(c.Tx, 10), c.ID, limit}
		if after != "" {
			kept, args = fmt.Sprintf(cursorKept, 4, 5), append(args, c.ID, c.At)
		}
		rows, err := q.Query(ctx, `SELECT `+eventCols+` FROM task_events e
			WHERE (e.txid, e.id) > ($1::text::xid8, $2) AND e.txid < pg_snapshot_xmin(pg_current_snapshot()) AND `+kept+`
			ORDER BY e.txid, e.id LIMIT $3`, args...)
		if err != nil {
			return translate(err)
		}
		if out, err = pgx.CollectRows(rows, scanEvent); err != nil || len(out) > 0 || after == "" {
			return translate(err)
		}
		var still bool
		if err := q.QueryRow(ctx, "SELECT "+fmt.Sprintf(cursorKept, 1, 2), c.ID, c.At).Scan(&still); err != nil {
			return translate(err)
		}
		if !still {
			return domain.ErrCursorExpired
		}
		return nil
	})
	return out, err
}

// TaskEventsHead returns the cursor of the last event a reader of the log
// may pass now, "" when the log is empty.
func (r *Repo) TaskEventsHead(ctx context.Context) (string, error) {
	var head string
	err := r.primary(func(q querier) error {
		rows, err := q.Query(ctx, `SELECT `+eventCols+` FROM task_events e
			WHERE e.txid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY e.txid DESC, e.id DESC LIMIT 1`)
		if err != nil {
			return translate(err)
		}
		evs, err := pgx.CollectRows(rows, scanEvent)
		if err != nil {
			return translate(err)
		}
		if len(evs) > 0 {
			head = evs[0].Cursor()
		}
		return nil
	})
	return head, err
}

// TaskEventsSnapshot returns which writes have committed now, on the
// primary.
func (r *Repo) TaskEventsSnapshot(ctx context.Context) (domain.LogSnapshot, error) {
	var text string
	if err := r.pools.Write.QueryRow(ctx, "SELECT pg_current_snapshot()::text").Scan(&text); err != nil {
		return domain.LogSnapshot{}, translate(err)
	}
	return domain.ParseLogSnapshot(text)
}

// eventColumns are the columns insertEvents writes, in its parameters' order.
const eventColumns = `(task_id, actor_id, kind, from_status, to_status, from_phase, to_phase, reason, field,
	old_value, new_value, subtask_id, task_private, task_created_by, task_assignee, created_at)`

// insertEvents appends history rows, with the actor of ctx where an event
// names none, and wakes every instance's subscription broker at commit, in
// one statement (a data-modifying CTE runs whether or not it is read).
func insertEvents(ctx context.Context, tx *writeTx, events []domain.TaskEvent) error {
	if len(events) == 0 {
		return nil
	}
	n := len(events)
	taskIDs, actors, kinds := make([]string, n), make([]*string, n), make([]string, n)
	fromS, toS, fromP, toP := make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
	reasons, fields, olds, news, subs := make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
	private, createdBy, assignee := make([]*bool, n), make([]*string, n), make([]*string, n)
	at := make([]*time.Time, n)
	actor := domain.ActorFrom(ctx)
	for i, e := range events {
		taskIDs[i], actors[i], kinds[i], reasons[i] = e.TaskID, e.ActorID, string(e.Kind), e.Reason
		if actors[i] == nil {
			actors[i] = actor
		}
		if !e.CreatedAt.IsZero() {
			at[i] = &e.CreatedAt
		}
		fromS[i], toS[i], fromP[i], toP[i] = strp(e.FromStatus), strp(e.ToStatus), strp(e.FromPhase), strp(e.ToPhase)
		fields[i], olds[i], news[i], subs[i] = e.Field, e.OldValue, e.NewValue, e.SubtaskID
		if e.Was != nil {
			p := e.Was.Visibility == domain.VisibilityPrivate
			private[i], createdBy[i], assignee[i] = &p, e.Was.CreatedByID, e.Was.AssigneeID
		}
	}
	if n == 1 {
		// Most writes record one event: a row of values costs PostgreSQL
		// about a quarter less than unnesting sixteen one-element arrays.
		tx.atCommit(`WITH ins AS (INSERT INTO task_events `+eventColumns+`
		VALUES ($1::uuid, $2::uuid, $3::text::task_event_kind, $4::text::task_status, $5::text::task_status,
			$6::text::workflow_phase, $7::text::workflow_phase, $8::text, $9::text, $10::text, $11::text,
			$12::uuid, $13::boolean, $14::uuid, $15::uuid, COALESCE($16::timestamptz, now())))
		SELECT pg_notify($17, '')`,
			taskIDs[0], actors[0], kinds[0], fromS[0], toS[0], fromP[0], toP[0], reasons[0], fields[0], olds[0], news[0],
			subs[0], private[0], createdBy[0], assignee[0], at[0], pubsub.Channel)
		return nil
	}
	tx.atCommit(`WITH ins AS (INSERT INTO task_events `+eventColumns+`
		SELECT k.task_id, k.actor_id, k.kind, k.from_status, k.to_status, k.from_phase, k.to_phase, k.reason,
			k.field, k.old_value, k.new_value, k.subtask_id, k.private, k.created_by, k.assignee, COALESCE(k.at, now())
		FROM unnest($1::uuid[], $2::uuid[], $3::text[]::task_event_kind[], $4::text[]::task_status[], $5::text[]::task_status[],
			$6::text[]::workflow_phase[], $7::text[]::workflow_phase[], $8::text[], $9::text[], $10::text[], $11::text[],
			$12::uuid[], $13::boolean[], $14::uuid[], $15::uuid[], $16::timestamptz[])
			AS k(task_id, actor_id, kind, from_status, to_status, from_phase, to_phase, reason, field, old_value, new_value,
				subtask_id, private, created_by, assignee, at))
		SELECT pg_notify($17, '')`,
		taskIDs, actors, kinds, fromS, toS, fromP, toP, reasons, fields, olds, news, subs, private, createdBy, assignee, at,
		pubsub.Channel)
	return nil
}

func strp[T ~string](p *T) *string {
	if p == nil {
		return nil
	}
	s := string(*p)
	return &s
}

func text(s string) *string { return &s }

// change is a FIELD_CHANGED (or, with subtaskID, SUBTASK_CHANGED) event when
// old and new differ.
func change(events []domain.TaskEvent, taskID string, subtaskID *string, field string, old, new *string) []domain.TaskEvent {
	if old == nil && new == nil || old != nil && new != nil && *old == *new {
		return events
	}
	kind := domain.EventFieldChanged
	if subtaskID != nil {
		kind = domain.EventSubtaskChanged
	}
	return append(events, domain.TaskEvent{TaskID: taskID, Kind: kind, Field: text(field), OldValue: old, NewValue: new, SubtaskID: subtaskID})
}

func timeText(t *time.Time) *string {
	if t == nil {
		return nil
	}
	return text(t.UTC().Format(time.RFC3339Nano))
}

func floatText(f *float64) *string {
	if f == nil {
		return nil
	}
	return text(strconv.FormatFloat(*f, 'f', -1, 64))
}

// taskChanges are the FIELD_CHANGED events from a to b.
func taskChanges(a, b *domain.Task) []domain.TaskEvent {
	var ev []domain.TaskEvent
	ev = change(ev, a.ID, nil, "title", &a.Title, &b.Title)
	ev = change(ev, a.ID, nil, "description", &a.Description, &b.Description)
	ev = change(ev, a.ID, nil, "type", strp(&a.Type), strp(&b.Type))
	ev = change(ev, a.ID, nil, "priority", strp(&a.Priority), strp(&b.Priority))
	ev = change(ev, a.ID, nil, "visibility", strp(&a.Visibility), strp(&b.Visibility))
	ev = change(ev, a.ID, nil, "dueDate", timeText(a.DueDate), timeText(b.DueDate))
	ev = change(ev, a.ID, nil, "assigneeId", a.AssigneeID, b.AssigneeID)
	ev = change(ev, a.ID, nil, "estimatedHours", floatText(a.EstimatedHours), floatText(b.EstimatedHours))
	return change(ev, a.ID, nil, "actualHours", floatText(a.ActualHours), floatText(b.ActualHours))
}

// subtaskChanges are the SUBTASK_CHANGED events from a to b.
func subtaskChanges(a, b *domain.Subtask) []domain.TaskEvent {
	var ev []domain.TaskEvent
	ev = change(ev, a.TaskID, &a.ID, "title", &a.Title, &b.Title)
	ev = change(ev, a.TaskID, &a.ID, "description", &a.Description, &b.Description)
	ev = change(ev, a.TaskID, &a.ID, "status", strp(&a.Status), strp(&b.Status))
	ev = change(ev, a.TaskID, &a.ID, "priority", strp(&a.Priority), strp(&b.Priority))
	pa, pb := fmt.Sprint(a.Position), fmt.Sprint(b.Position)
	return change(ev, a.TaskID, &a.ID, "position", &pa, &pb)
}

// tagEvents are the events of tag names attached (added) or detached.
func tagEvents(taskID string, subtaskID *string, names []string, added bool) []domain.TaskEvent {
	kind := map[[2]bool]domain.TaskEventKind{{false, true}: domain.EventTagAdded, {false, false}: domain.EventTagRemoved,
		{true, true}: domain.EventSubtaskTagAdded, {true, false}: domain.EventSubtaskTagRemoved}[[2]bool{subtaskID != nil, added}]
	out := make([]domain.TaskEvent, len(names))
	for i, name := range names {
		e := domain.TaskEvent{TaskID: taskID, Kind: kind, SubtaskID: subtaskID}
		if added {
			e.NewValue = text(name)
		} else {
			e.OldValue = text(name)
		}
		out[i] = e
	}
	return out
}

// primary runs fn on the primary's write pool: the log's watermark (the
// oldest transaction still writing) is the primary's, whatever a replica
// has replayed.
func (r *Repo) primary(fn func(q querier) error) error { return fn(r.pools.Write) }
