package graph

import (
	"context"
	"log/slog"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/graph/model"
	"github.com/herotasks/api/pubsub"
	"github.com/herotasks/api/repository"
)

// Publisher sends a committed change to every instance's subscribers.
type Publisher interface {
	Publish(ctx context.Context, ev pubsub.Event) error
}

// publishing decorates a Store: each write that succeeded publishes what it
// changed after the inner store returns, that is after commit and after the
// cache invalidation, so a subscriber that reads the task on receipt reads
// the change. A failed publish is logged; the write stands.
type publishing struct {
	Store
	pub Publisher
	log *slog.Logger
}

// Publishing returns s, publishing its writes through p.
func Publishing(s Store, p Publisher, log *slog.Logger) Store {
	return &publishing{Store: s, pub: p, log: log}
}

func (s *publishing) publish(ctx context.Context, kind model.TaskChangeKind, taskID string, snapshot *domain.Task) {
	ev := pubsub.Event{Kind: string(kind), TaskID: taskID, ActorID: viewer(ctx).UserID, At: time.Now().UTC()}
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
		s.publish(ctx, model.TaskChangeKindCreated, t.ID, nil)
	}
	return t, err
}

func (s *publishing) UpdateTask(ctx context.Context, id string, p domain.TaskPatch, guard repository.Guard) (*domain.Task, error) {
	t, err := s.Store.UpdateTask(ctx, id, p, guard)
	if err == nil {
		s.publish(ctx, model.TaskChangeKindUpdated, id, nil)
	}
	return t, err
}

func (s *publishing) TransitionTask(ctx context.Context, id string, req domain.TransitionRequest, guard repository.Guard) (*domain.Task, error) {
	t, err := s.Store.TransitionTask(ctx, id, req, guard)
	if err == nil {
		s.publish(ctx, model.TaskChangeKindTransitioned, id, nil)
	}
	return t, err
}

// DeleteTask publishes who could see the task, since nobody can read it
// any more.
func (s *publishing) DeleteTask(ctx context.Context, id string, guard repository.Guard) (*repository.DeletedTask, error) {
	d, err := s.Store.DeleteTask(ctx, id, guard)
	if err == nil && d != nil && d.Task != nil {
		s.publish(ctx, model.TaskChangeKindDeleted, id, d.Task)
		for _, other := range append(d.DependsOnIDs, d.DependentIDs...) {
			s.publish(ctx, model.TaskChangeKindDependenciesChanged, other, nil)
		}
	}
	return d, err
}

func (s *publishing) CreateSubtask(ctx context.Context, taskID string, in domain.NewSubtask, guard repository.Guard) (*domain.Subtask, error) {
	st, err := s.Store.CreateSubtask(ctx, taskID, in, guard)
	return st, s.subtaskChanged(ctx, st, err)
}

func (s *publishing) UpdateSubtask(ctx context.Context, id string, p domain.SubtaskPatch, expectedVersion *int, guard repository.Guard) (*domain.Subtask, error) {
	st, err := s.Store.UpdateSubtask(ctx, id, p, expectedVersion, guard)
	return st, s.subtaskChanged(ctx, st, err)
}

func (s *publishing) DeleteSubtask(ctx context.Context, id string, guard repository.Guard) (*domain.Subtask, error) {
	st, err := s.Store.DeleteSubtask(ctx, id, guard)
	return st, s.subtaskChanged(ctx, st, err)
}

func (s *publishing) AddSubtaskTags(ctx context.Context, subtaskID string, names []string, guard repository.Guard) (*domain.Subtask, error) {
	st, err := s.Store.AddSubtaskTags(ctx, subtaskID, names, guard)
	return st, s.subtaskChanged(ctx, st, err)
}

func (s *publishing) RemoveSubtaskTags(ctx context.Context, subtaskID string, names []string, guard repository.Guard) (*domain.Subtask, error) {
	st, err := s.Store.RemoveSubtaskTags(ctx, subtaskID, names, guard)
	return st, s.subtaskChanged(ctx, st, err)
}

// subtaskChanged publishes a subtask write as a change to its task and
// returns err unchanged.
func (s *publishing) subtaskChanged(ctx context.Context, st *domain.Subtask, err error) error {
	if err == nil && st != nil {
		s.publish(ctx, model.TaskChangeKindSubtasksChanged, st.TaskID, nil)
	}
	return err
}

func (s *publishing) AddTaskTags(ctx context.Context, taskID string, names []string, guard repository.Guard) (*domain.Task, error) {
	t, err := s.Store.AddTaskTags(ctx, taskID, names, guard)
	if err == nil {
		s.publish(ctx, model.TaskChangeKindTagsChanged, taskID, nil)
	}
	return t, err
}

func (s *publishing) RemoveTaskTags(ctx context.Context, taskID string, names []string, guard repository.Guard) (*domain.Task, error) {
	t, err := s.Store.RemoveTaskTags(ctx, taskID, names, guard)
	if err == nil {
		s.publish(ctx, model.TaskChangeKindTagsChanged, taskID, nil)
	}
	return t, err
}

func (s *publishing) AddDependency(ctx context.Context, taskID, dependsOnID string, guard repository.Guard) (*domain.Task, error) {
	t, err := s.Store.AddDependency(ctx, taskID, dependsOnID, guard)
	if err == nil {
		s.publish(ctx, model.TaskChangeKindDependenciesChanged, taskID, nil)
		s.publish(ctx, model.TaskChangeKindDependenciesChanged, dependsOnID, nil)
	}
	return t, err
}

func (s *publishing) RemoveDependency(ctx context.Context, taskID, dependsOnID string, guard repository.Guard) (*domain.Task, error) {
	t, err := s.Store.RemoveDependency(ctx, taskID, dependsOnID, guard)
	if err == nil {
		s.publish(ctx, model.TaskChangeKindDependenciesChanged, taskID, nil)
		s.publish(ctx, model.TaskChangeKindDependenciesChanged, dependsOnID, nil)
	}
	return t, err
}
