package cache

// Kind is a type of cached item; each has its own key space, TTL and
// statistics.
type Kind int

// The kinds of cached items.
const (
	KindTask Kind = iota
	KindSubtask
	KindTag
	KindUser
	KindTaskSubtasks
	KindTaskTags
	KindSubtaskTags
	KindTaskDeps
	KindTaskDependents
	KindTaskHistory
	KindStatistics // id: the visibility scope, "all" or "public"
	KindSearch     // id: a hash of the audience, the query and its generations (search.go)
	KindList       // the list index (lists.go): counters only, its keys are its own
	kinds
)

var kindNames = [kinds]string{"task", "subtask", "tag", "user", "task_subtasks", "task_tags", "subtask_tags",
	"task_dependencies", "task_dependents", "task_history", "statistics", "search", "task_list"}

func (k Kind) String() string { return kindNames[k] }

// Relation reports whether the kind is a list hanging off an entity.
func (k Kind) Relation() bool { return k >= KindTaskSubtasks && k <= KindTaskHistory }

// Keys names Redis keys: versioned and hierarchical, so a task's lists live
// beside it (ht:v1:task:{id}:subtasks) but under their own keys, and a title
// change drops ht:v1:task:{id} without touching the lists that hold the task.
type Keys struct{ prefix string }

// For returns the key of an item of kind k.
func (k Keys) For(kind Kind, id string) string {
	switch kind {
	case KindTask:
		return k.prefix + ":task:" + id
	case KindSubtask:
		return k.prefix + ":subtask:" + id
	case KindTag:
		return k.prefix + ":tag:" + id
	case KindUser:
		return k.prefix + ":user:" + id
	case KindTaskSubtasks:
		return k.prefix + ":task:" + id + ":subtasks"
	case KindTaskTags:
		return k.prefix + ":task:" + id + ":tags"
	case KindSubtaskTags:
		return k.prefix + ":subtask:" + id + ":tags"
	case KindTaskDeps:
		return k.prefix + ":task:" + id + ":dependencies"
	case KindTaskDependents:
		return k.prefix + ":task:" + id + ":dependents"
	case KindTaskHistory:
		return k.prefix + ":task:" + id + ":history"
	case KindStatistics:
		return k.prefix + ":stats:" + id
	case KindSearch:
		return k.prefix + ":search:" + id
	case KindList:
		return k.prefix + ":li:" + id
	}
	panic("cache: unknown kind")
}

// Epoch is the key of the counter every stored value is checked against.
func (k Keys) Epoch() string { return k.prefix + ":epoch" }
