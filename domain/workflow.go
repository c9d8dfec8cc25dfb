package domain

import (
	"slices"
	"time"
)

// statusMoves is the task status state machine: the statuses each status may
// move to. Staying in place is always allowed and records nothing.
var statusMoves = map[TaskStatus][]TaskStatus{
	StatusDraft:      {StatusReady, StatusInProgress, StatusCancelled},
	StatusReady:      {StatusDraft, StatusInProgress, StatusBlocked, StatusCancelled},
	StatusInProgress: {StatusReady, StatusBlocked, StatusCompleted, StatusCancelled},
	StatusBlocked:    {StatusReady, StatusInProgress, StatusCancelled},
	StatusCompleted:  {StatusInProgress},
	StatusCancelled:  {StatusDraft, StatusReady},
}

// CanMove reports whether a task may go from status from to status to.
func CanMove(from, to TaskStatus) bool {
	return from == to || slices.Contains(statusMoves[from], to)
}

// TransitionRequest is a transitionTask call.
type TransitionRequest struct {
	Status  *TaskStatus
	Phase   *WorkflowPhase
	Reason  *string
	ActorID *string
}

// Transition applies req to t at time now (the database's clock) and returns
// the changed task and the history entries to record with it. Phases move
// one step at a time and not at all once the task is closed; the phase is
// checked against the status the task had before this call.
func Transition(t Task, req TransitionRequest, now time.Time) (Task, []TaskEvent, error) {
	if req.Status == nil && req.Phase == nil {
		return t, nil, Invalid("status", "give a status, a phase or both")
	}
	if req.Reason != nil && len([]rune(*req.Reason)) > 2000 {
		return t, nil, Invalid("reason", "at most 2000 characters")
	}
	var events []TaskEvent
	event := func(kind TaskEventKind) TaskEvent {
		return TaskEvent{TaskID: t.ID, ActorID: req.ActorID, Kind: kind, Reason: req.Reason, CreatedAt: now}
	}
	if p := req.Phase; p != nil && *p != t.Phase {
		if !t.Status.Open() {
			return t, nil, Invalid("phase", "a %s task cannot change phase", t.Status)
		}
		from, to := slices.Index(WorkflowPhases, t.Phase), slices.Index(WorkflowPhases, *p)
		if to-from != 1 && from-to != 1 {
			return t, nil, Invalid("phase", "cannot move from %s to %s: phases move one step at a time", t.Phase, *p)
		}
		e := event(EventPhaseChanged)
		e.FromPhase, e.ToPhase = ptr(t.Phase), ptr(*p)
		events = append(events, e)
		t.Phase = *p
	}
	if s := req.Status; s != nil && *s != t.Status {
		if !CanMove(t.Status, *s) {
			return t, nil, Invalid("status", "cannot move from %s to %s", t.Status, *s)
		}
		e := event(EventStatusChanged)
		e.FromStatus, e.ToStatus = ptr(t.Status), ptr(*s)
		events = append(events, e)
		t.Status = *s
		if *s == StatusInProgress && t.StartedAt == nil {
			t.StartedAt = &now
		}
		if *s == StatusCompleted {
			t.CompletedAt = &now
		} else {
			t.CompletedAt = nil
		}
	}
	return t, events, nil
}

func ptr[T any](v T) *T { return &v }
