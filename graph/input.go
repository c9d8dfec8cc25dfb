package graph

import (
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/graph/model"
)

// The functions here check GraphQL inputs and turn them into domain values.
// Every refusal names the offending field.

func newTask(in model.CreateTaskInput, createdBy string) (domain.NewTask, error) {
	var t domain.NewTask
	var err error
	if t.Title, err = domain.Title("input.title", in.Title); err != nil {
		return t, err
	}
	if t.Description, err = domain.Description("input.description", orDefault(in.Description, "")); err != nil {
		return t, err
	}
	t.Type = orDefault(in.Type, domain.TypeFeature)
	t.Priority = orDefault(in.Priority, domain.PriorityMedium)
	t.Visibility = orDefault(in.Visibility, domain.VisibilityPublic)
	t.DueDate = value(in.DueDate)
	if t.AssigneeID = value(in.AssigneeID); t.AssigneeID != nil {
		if err := checkID("input.assigneeId", *t.AssigneeID); err != nil {
			return t, err
		}
	}
	if t.EstimatedHours = value(in.EstimatedHours); domain.Hours("input.estimatedHours", t.EstimatedHours) != nil {
		return t, domain.Hours("input.estimatedHours", t.EstimatedHours)
	}
	if tags, ok := in.Tags.ValueOK(); ok {
		if t.Tags, err = domain.NormalizeTagNames("input.tags", tags); err != nil {
			return t, err
		}
	}
	t.CreatedByID = &createdBy
	return t, nil
}

func taskPatch(in model.UpdateTaskInput) (domain.TaskPatch, error) {
	var p domain.TaskPatch
	var err error
	if p.Title, p.Description, err = textPatch(in.Title, in.Description); err != nil {
		return p, err
	}
	p.Type, p.Priority, p.Visibility = value(in.Type), value(in.Priority), value(in.Visibility)
	p.DueDate = optional(in.DueDate)
	p.AssigneeID = optional(in.AssigneeID)
	if id := p.AssigneeID.Value; id != nil {
		if err := checkID("input.assigneeId", *id); err != nil {
			return p, err
		}
	}
	p.EstimatedHours = optional(in.EstimatedHours)
	if err := domain.Hours("input.estimatedHours", p.EstimatedHours.Value); err != nil {
		return p, err
	}
	p.ActualHours = optional(in.ActualHours)
	if err := domain.Hours("input.actualHours", p.ActualHours.Value); err != nil {
		return p, err
	}
	return p, nil
}

func newSubtask(in model.CreateSubtaskInput) (domain.NewSubtask, error) {
	var s domain.NewSubtask
	var err error
	if s.Title, err = domain.Title("input.title", in.Title); err != nil {
		return s, err
	}
	if s.Description, err = domain.Description("input.description", orDefault(in.Description, "")); err != nil {
		return s, err
	}
	s.Priority = orDefault(in.Priority, domain.PriorityMedium)
	if s.Position = value(in.Position); s.Position != nil && *s.Position < 0 {
		return s, domain.Invalid("input.position", "must not be negative")
	}
	if tags, ok := in.Tags.ValueOK(); ok {
		if s.Tags, err = domain.NormalizeTagNames("input.tags", tags); err != nil {
			return s, err
		}
	}
	return s, nil
}

func subtaskPatch(in model.UpdateSubtaskInput) (domain.SubtaskPatch, error) {
	var p domain.SubtaskPatch
	var err error
	if p.Title, p.Description, err = textPatch(in.Title, in.Description); err != nil {
		return p, err
	}
	p.Status, p.Priority, p.Position = value(in.Status), value(in.Priority), value(in.Position)
	if p.Position != nil && *p.Position < 0 {
		return p, domain.Invalid("input.position", "must not be negative")
	}
	return p, nil
}

// textPatch checks the optional title and description of an update: a
// title cannot be cleared, a description can be emptied.
func textPatch(t, d graphql.Omittable[*string]) (*string, *string, error) {
	var outT, outD *string
	if s := value(t); s != nil {
		v, err := domain.Title("input.title", *s)
		if err != nil {
			return nil, nil, err
		}
		outT = &v
	} else if t.IsSet() {
		return nil, nil, domain.Invalid("input.title", "cannot be null")
	}
	if s := value(d); s != nil {
		v, err := domain.Description("input.description", *s)
		if err != nil {
			return nil, nil, err
		}
		outD = &v
	}
	return outT, outD, nil
}

// taskFilter checks a filter's ids and tag name.
func taskFilter(f *domain.TaskFilter) (domain.TaskFilter, error) {
	if f == nil {
		return domain.TaskFilter{}, nil
	}
	out := *f
	if out.AssigneeID != nil {
		if err := checkID("filter.assigneeId", *out.AssigneeID); err != nil {
			return out, err
		}
	}
	if out.CreatedByID != nil {
		if err := checkID("filter.createdById", *out.CreatedByID); err != nil {
			return out, err
		}
	}
	if out.Tag != nil {
		tag := strings.ToLower(strings.TrimSpace(*out.Tag))
		out.Tag = &tag
	}
	return out, nil
}

// tagNames checks the names given to the tag mutations.
func tagNames(names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, domain.Invalid("tags", "give at least one tag")
	}
	return domain.NormalizeTagNames("tags", names)
}
