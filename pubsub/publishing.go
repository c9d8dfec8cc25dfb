package pubsub

import (
	"context"
	"log/slog"
	"time"

	"github.com/herotasks/api/auth"
	"github.com/herotasks/api/domain"
)

// The kinds of change, the values of the schema's TaskChangeKind.
const (
	KindCreated             = "CREATED"
	KindUpdated             = "UPDATED"
	KindTransitioned        = "TRANSITIONED"
	KindDeleted             = "DELETED"
	KindSubtasksChanged     = "SUBTASKS_CHANGED"
	KindTagsChanged         = "TAGS_CHANGED"
	KindDependenciesChanged = "DEPENDENCIES_CHANGED"
)

// Kinds lists every kind.
var Kinds = []string{KindCreated, KindUpdated, KindTransitioned, KindDeleted, KindSubtasksChanged,
	KindTagsChanged, KindDependenciesChanged}

// publishing decorates a Store: each write that succeeded publishes what it
// changed after the inner store returns, that is after commit and after the
// cache invalidation, so a subscriber that reads the task on receipt reads
// the change. A failed publish is logged; the write stands.
type publishing struct {
	domain.Store
	pub *Publisher
	log *slog.Logger
}

// Publishing returns s, publishing its writes through p.
func Publishing(s domain.Store, p *Publisher, log *slog.Logger) domain.Store {
	return &publishing{Store: s, pub: p, log: log}
}

func (s *publishing) publish(ctx context.Context, kind string, taskID string, snapshot *domain.Task) {
	ev := Event{Kind: kind, TaskID: taskID, ActorID: auth.ViewerFrom(ctx).UserID, At: time.Now().UTC()}
	if snapshot != nil {
		ev.Private = snapshot.Visibility == domain.VisibilityPrivate
		ev.CreatedBy, ev.AssigneeID = deref(snapshot.CreatedByID), deref(snapshot.AssigneeID)
	}
	if err := s.pub.Publish(ctx, ev); err != nil {
		s.log.WarnContext(ctx, "task change not published", "kind", kind, "task_id", taskID, "err", err)
	}
}

func (s *publishing) CreateTask(ctx context.Context, in domain.NewTask) (*domain.Task, error) {
	t, err := s.Store.CreateTask(ctx, in)
	if err == nil {
		s.publish(ctx, KindCreated, t.ID, nil)
	}
	return t, err
}

func (s *publishing) UpdateTask(ctx context.Context, id string, p domain.TaskPatch, guard domain.Guard) (*domain.Task, error) {
	t, err := s.Store.UpdateTask(ctx, id, p, guard)
	if err == nil {
		s.publish(ctx, KindUpdated, id, nil)
	}
	return t, err
}

func (s *publishing) TransitionTask(ctx context.Context, id string, req domain.TransitionRequest, guard domain.Guard) (*domain.Task, error) {
	t, err := s.Store.TransitionTask(ctx, id, req, guard)
	if err == nil {
		s.publish(ctx, KindTransitioned, id, nil)
	}
	return t, err
}

// DeleteTask publishes who could see the task, since nobody can read it
// any more.
func (s *publishing) DeleteTask(ctx context.Context, id string, guard domain.Guard) (*domain.DeletedTask, error) {
	d, err := s.Store.DeleteTask(ctx, id, guard)
	if err == nil && d != nil && d.Task != nil {
		s.publish(ctx, KindDeleted, id, d.Task)
		for _, other := range append(d.DependsOnIDs, d.DependentIDs...) {
			s.publish(ctx, KindDependenciesChanged, other, nil)
		}
	}
	return d, err
}

func (s *publishing) CreateSubtask(ctx context.Context, taskID string, in domain.NewSubtask, guard domain.Guard) (*domain.Subtask, error) {
	st, err := s.Store.CreateSubtask(ctx, taskID, in, guard)
	return st, s.subtaskChanged(ctx, st, err)
}

func (s *publishing) UpdateSubtask(ctx context.Context, id string, p domain.SubtaskPatch, expectedVersion *int, guard domain.Guard) (*domain.Subtask, error) {
	st, err := s.Store.UpdateSubtask(ctx, id, p, expectedVersion, guard)
	return st, s.subtaskChanged(ctx, st, err)
}

func (s *publishing) DeleteSubtask(ctx context.Context, id string, guard domain.Guard) (*domain.Subtask, error) {
	st, err := s.Store.DeleteSubtask(ctx, id, guard)
	return st, s.subtaskChanged(ctx, st, err)
}

func (s *publishing) AddSubtaskTags(ctx context.Context, subtaskID string, names []string, guard domain.Guard) (*domain.Subtask, error) {
	st, err := s.Store.AddSubtaskTags(ctx, subtaskID, names, guard)
	return st, s.subtaskChanged(ctx, st, err)
}

func (s *publishing) RemoveSubtaskTags(ctx context.Context, subtaskID string, names []string, guard domain.Guard) (*domain.Subtask, error) {
	st, err := s.Store.RemoveSubtaskTags(ctx, subtaskID, names, guard)
	return st, s.subtaskChanged(ctx, st, err)
}

// subtaskChanged publishes a subtask write as a change to its task and
// returns err unchanged.
func (s *publishing) subtaskChanged(ctx context.Context, st *domain.Subtask, err error) error {
	if err == nil && st != nil {
		s.publish(ctx, KindSubtasksChanged, st.TaskID, nil)
	}
	return err
}

func (s *publishing) AddTaskTags(ctx context.Context, taskID string, names []string, guard domain.Guard) (*domain.Task, error) {
	t, err := s.Store.AddTaskTags(ctx, taskID, names, guard)
	if err == nil {
		s.publish(ctx, KindTagsChanged, taskID, nil)
	}
	return t, err
}

func (s *publishing) RemoveTaskTags(ctx context.Context, taskID string, names []string, guard domain.Guard) (*domain.Task, error) {
	t, err := s.Store.RemoveTaskTags(ctx, taskID, names, guard)
	if err == nil {
		s.publish(ctx, KindTagsChanged, taskID, nil)
	}
	return t, err
}

func (s *publishing) AddDependency(ctx context.Context, taskID, dependsOnID string, guard domain.Guard) (*domain.Task, error) {
	t, err := s.Store.AddDependency(ctx, taskID, dependsOnID, guard)
	if err == nil {
		s.publish(ctx, KindDependenciesChanged, taskID, nil)
		s.publish(ctx, KindDependenciesChanged, dependsOnID, nil)
	}
	return t, err
}

func (s *publishing) RemoveDependency(ctx context.Context, taskID, dependsOnID string, guard domain.Guard) (*domain.Task, error) {
	t, err := s.Store.RemoveDependency(ctx, taskID, dependsOnID, guard)
	if err == nil {
		s.publish(ctx, KindDependenciesChanged, taskID, nil)
		s.publish(ctx, KindDependenciesChanged, dependsOnID, nil)
	}
	return t, err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
