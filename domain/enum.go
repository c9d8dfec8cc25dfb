package domain

import (
	"io"
	"slices"
	"strconv"
)

// The enums are string types whose values are both the GraphQL enum names and
// the PostgreSQL enum labels, so they cross every layer unchanged.

// TaskStatus is where a task stands.
type TaskStatus string

// Task statuses.
const (
	StatusDraft      TaskStatus = "DRAFT"
	StatusReady      TaskStatus = "READY"
	StatusInProgress TaskStatus = "IN_PROGRESS"
	StatusBlocked    TaskStatus = "BLOCKED"
	StatusCompleted  TaskStatus = "COMPLETED"
	StatusCancelled  TaskStatus = "CANCELLED"
)

// TaskStatuses lists every status in declaration order.
var TaskStatuses = []TaskStatus{StatusDraft, StatusReady, StatusInProgress, StatusBlocked, StatusCompleted, StatusCancelled}

// TaskPriority is how urgent a task is; declaration order is sort order.
type TaskPriority string

// Task priorities.
const (
	PriorityCritical TaskPriority = "CRITICAL"
	PriorityHigh     TaskPriority = "HIGH"
	PriorityMedium   TaskPriority = "MEDIUM"
	PriorityLow      TaskPriority = "LOW"
)

// TaskPriorities lists every priority, most urgent first.
var TaskPriorities = []TaskPriority{PriorityCritical, PriorityHigh, PriorityMedium, PriorityLow}

// TaskType is the kind of work a task is.
type TaskType string

// TaskTypes lists every task type.
var TaskTypes = []TaskType{"FEATURE", "BUG_FIX", "REFACTOR", "DOCUMENTATION", "TEST", "SECURITY", "PERFORMANCE",
	"INTEGRATION", "MIGRATION", "MAINTENANCE", "RESEARCH", "PLANNING", "REVIEW", "DEPLOYMENT", "MONITORING"}

// TypeFeature is the default task type.
const TypeFeature TaskType = "FEATURE"

// WorkflowPhase is a task's step in audit → decide → apply → verify.
type WorkflowPhase string

// Workflow phases in order.
const (
	PhaseAudit  WorkflowPhase = "AUDIT"
	PhaseDecide WorkflowPhase = "DECIDE"
	PhaseApply  WorkflowPhase = "APPLY"
	PhaseVerify WorkflowPhase = "VERIFY"
)

// WorkflowPhases lists the phases in order.
var WorkflowPhases = []WorkflowPhase{PhaseAudit, PhaseDecide, PhaseApply, PhaseVerify}

// Visibility says who can see a task.
type Visibility string

// Visibilities.
const (
	VisibilityPublic  Visibility = "PUBLIC"
	VisibilityPrivate Visibility = "PRIVATE"
)

// Visibilities lists both visibilities.
var Visibilities = []Visibility{VisibilityPublic, VisibilityPrivate}

// Role is what a user may do.
type Role string

// Roles.
const (
	RoleViewer Role = "VIEWER"
	RoleEditor Role = "EDITOR"
	RoleAdmin  Role = "ADMIN"
)

// Roles lists every role.
var Roles = []Role{RoleViewer, RoleEditor, RoleAdmin}

// TaskEventKind is what a history entry records.
type TaskEventKind string

// Task event kinds.
const (
	EventCreated           TaskEventKind = "CREATED"
	EventStatusChanged     TaskEventKind = "STATUS_CHANGED"
	EventPhaseChanged      TaskEventKind = "PHASE_CHANGED"
	EventFieldChanged      TaskEventKind = "FIELD_CHANGED" // Field from OldValue to NewValue
	EventTagAdded          TaskEventKind = "TAG_ADDED"     // NewValue: the tag's name
	EventTagRemoved        TaskEventKind = "TAG_REMOVED"   // OldValue: the tag's name
	EventDependencyAdded   TaskEventKind = "DEPENDENCY_ADDED"
	EventDependencyRemoved TaskEventKind = "DEPENDENCY_REMOVED"
	EventDependentAdded    TaskEventKind = "DEPENDENT_ADDED"
	EventDependentRemoved  TaskEventKind = "DEPENDENT_REMOVED"
	EventSubtaskAdded      TaskEventKind = "SUBTASK_ADDED"
	EventSubtaskChanged    TaskEventKind = "SUBTASK_CHANGED"
	EventSubtaskRemoved    TaskEventKind = "SUBTASK_REMOVED"
	EventSubtaskTagAdded   TaskEventKind = "SUBTASK_TAG_ADDED"
	EventSubtaskTagRemoved TaskEventKind = "SUBTASK_TAG_REMOVED"
	EventDeleted           TaskEventKind = "DELETED"
)

// TaskEventKinds lists every event kind.
var TaskEventKinds = []TaskEventKind{EventCreated, EventStatusChanged, EventPhaseChanged, EventFieldChanged,
	EventTagAdded, EventTagRemoved, EventDependencyAdded, EventDependencyRemoved, EventDependentAdded,
	EventDependentRemoved, EventSubtaskAdded, EventSubtaskChanged, EventSubtaskRemoved, EventSubtaskTagAdded,
	EventSubtaskTagRemoved, EventDeleted}

// TaskOrderField is what a task list is sorted by.
type TaskOrderField string

// Task order fields.
const (
	OrderCreatedAt TaskOrderField = "CREATED_AT"
	OrderUpdatedAt TaskOrderField = "UPDATED_AT"
	OrderDueDate   TaskOrderField = "DUE_DATE"
	OrderPriority  TaskOrderField = "PRIORITY"
)

// TaskOrderFields lists every order field.
var TaskOrderFields = []TaskOrderField{OrderCreatedAt, OrderUpdatedAt, OrderDueDate, OrderPriority}

// OrderDirection is ascending or descending.
type OrderDirection string

// Directions.
const (
	Asc  OrderDirection = "ASC"
	Desc OrderDirection = "DESC"
)

// OrderDirections lists both directions.
var OrderDirections = []OrderDirection{Asc, Desc}

// Valid reports whether s is a declared value.
func (s TaskStatus) Valid() bool     { return slices.Contains(TaskStatuses, s) }
func (p TaskPriority) Valid() bool   { return slices.Contains(TaskPriorities, p) }
func (t TaskType) Valid() bool       { return slices.Contains(TaskTypes, t) }
func (p WorkflowPhase) Valid() bool  { return slices.Contains(WorkflowPhases, p) }
func (v Visibility) Valid() bool     { return slices.Contains(Visibilities, v) }
func (r Role) Valid() bool           { return slices.Contains(Roles, r) }
func (k TaskEventKind) Valid() bool  { return slices.Contains(TaskEventKinds, k) }
func (f TaskOrderField) Valid() bool { return slices.Contains(TaskOrderFields, f) }
func (d OrderDirection) Valid() bool { return slices.Contains(OrderDirections, d) }

// unmarshalEnum implements graphql.Unmarshaler for the enums above.
func unmarshalEnum[T ~string](v any, dst *T, name string, valid func(T) bool) error {
	// BAD_USER_INPUT, never an internal error, and without the value: a
	// variable's content is not repeated back.
	s, ok := v.(string)
	if !ok {
		return Invalid("", "%s must be a string", name)
	}
	if !valid(T(s)) {
		return Invalid("", "not a valid %s (enum values are upper case)", name)
	}
	*dst = T(s)
	return nil
}

func marshalEnum[T ~string](w io.Writer, v T) { _, _ = io.WriteString(w, strconv.Quote(string(v))) }

func (s *TaskStatus) UnmarshalGQL(v any) error {
	return unmarshalEnum(v, s, "TaskStatus", TaskStatus.Valid)
}
func (s TaskStatus) MarshalGQL(w io.Writer) { marshalEnum(w, s) }
func (p *TaskPriority) UnmarshalGQL(v any) error {
	return unmarshalEnum(v, p, "TaskPriority", TaskPriority.Valid)
}
func (p TaskPriority) MarshalGQL(w io.Writer) { marshalEnum(w, p) }
func (t *TaskType) UnmarshalGQL(v any) error  { return unmarshalEnum(v, t, "TaskType", TaskType.Valid) }
func (t TaskType) MarshalGQL(w io.Writer)     { marshalEnum(w, t) }
func (p *WorkflowPhase) UnmarshalGQL(v any) error {
	return unmarshalEnum(v, p, "WorkflowPhase", WorkflowPhase.Valid)
}
func (p WorkflowPhase) MarshalGQL(w io.Writer) { marshalEnum(w, p) }
func (v *Visibility) UnmarshalGQL(x any) error {
	return unmarshalEnum(x, v, "Visibility", Visibility.Valid)
}
func (v Visibility) MarshalGQL(w io.Writer) { marshalEnum(w, v) }
func (r *Role) UnmarshalGQL(v any) error    { return unmarshalEnum(v, r, "Role", Role.Valid) }
func (r Role) MarshalGQL(w io.Writer)       { marshalEnum(w, r) }
func (k *TaskEventKind) UnmarshalGQL(v any) error {
	return unmarshalEnum(v, k, "TaskEventKind", TaskEventKind.Valid)
}
func (k TaskEventKind) MarshalGQL(w io.Writer) { marshalEnum(w, k) }
func (f *TaskOrderField) UnmarshalGQL(v any) error {
	return unmarshalEnum(v, f, "TaskOrderField", TaskOrderField.Valid)
}
func (f TaskOrderField) MarshalGQL(w io.Writer) { marshalEnum(w, f) }
func (d *OrderDirection) UnmarshalGQL(v any) error {
	return unmarshalEnum(v, d, "OrderDirection", OrderDirection.Valid)
}
func (d OrderDirection) MarshalGQL(w io.Writer) { marshalEnum(w, d) }
