package respcache

import (
	"reflect"
	"testing"

	"github.com/herotasks/api/domain"
	"github.com/stretchr/testify/assert"
)

// TestListTagsKnowEveryFilterField: listTags decides, for each field of a
// filter, which tag covers it (a partition, or the partition's field tag)
// and moved which writes replace it. A field added to domain.TaskFilter
// fails this test until both decide, since a list filtered by a field no
// tag covers would keep its entry across the writes that change it.
func TestListTagsKnowEveryFilterField(t *testing.T) {
	var names []string
	for f := range reflect.TypeFor[domain.TaskFilter]().Fields() {
		names = append(names, f.Name)
	}
	assert.ElementsMatch(t, []string{"Status", "Priority", "Type", "Phase", "AssigneeID", "Unassigned", "Tag",
		"DueBefore", "DueAfter", "Overdue", "Active", "Visibility", "CreatedByID"}, names)
	var fields []string
	for f := range reflect.TypeFor[domain.Task]().Fields() {
		fields = append(fields, f.Name)
	}
	assert.Subset(t, fields, []string{"Status", "Priority", "Type", "Phase", "DueDate", "AssigneeID", "CreatedByID", "Visibility"})
	assert.ElementsMatch(t, []domain.TaskOrderField{domain.OrderCreatedAt, domain.OrderUpdatedAt, domain.OrderDueDate,
		domain.OrderPriority}, domain.TaskOrderFields, "orderKeyMoved knows each order's keys")
}
