package graph_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPrivateTaskUnreachable: another user's private task answers exactly
// like a random id on every path that can reach it; its creator, assignee
// and admins see it.
func TestPrivateTaskUnreachable(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	_, owner := api.User(t, domain.RoleEditor)
	assigneeID, assignee := api.User(t, domain.RoleViewer)
	_, stranger := api.User(t, domain.RoleEditor)
	_, admin := api.User(t, domain.RoleAdmin)

	secret, number := api.NewTask(t, owner, map[string]any{"title": "Rotate the leaked signing key", "visibility": "PRIVATE",
		"assigneeId": assigneeID, "tags": []string{"security"}})
	public, _ := api.NewTask(t, owner, map[string]any{"title": "Rotate the public docs key", "tags": []string{"security"}})
	api.OK(t, owner, `mutation($a: ID!, $b: ID!) { addDependency(taskId: $a, dependsOnId: $b) { id } }`, map[string]any{"a": public, "b": secret})
	sub := apitest.Str(api.OK(t, owner, `mutation($id: ID!) { createSubtask(taskId: $id, input: {title: "Revoke"}) { id } }`, map[string]any{"id": secret}), "createSubtask", "id")
	random := uuid.NewString()

	reads := []struct {
		name, query string
		vars        func(id string) map[string]any
	}{
		{"task", `query($id: ID!) { task(id: $id) { id } }`, func(id string) map[string]any { return map[string]any{"id": id} }},
		{"subtask", `query($id: ID!) { subtask(id: $id) { id } }`, func(id string) map[string]any {
			if id == secret {
				return map[string]any{"id": sub}
			}
			return map[string]any{"id": random}
		}},
	}
	for _, r := range reads {
		t.Run("read "+r.name, func(t *testing.T) {
			hidden := api.Post(t, stranger, r.query, r.vars(secret))
			missing := api.Post(t, stranger, r.query, r.vars(random))
			assert.Equal(t, missing.Data, hidden.Data, "private looks like missing")
			assert.Equal(t, missing.Errors, hidden.Errors)
			assert.Nil(t, apitest.Get(hidden.Data, r.name))
			for _, tok := range []string{owner, assignee, admin} {
				assert.NotNil(t, apitest.Get(api.OK(t, tok, r.query, r.vars(secret)), r.name), "%s visible to entitled users", r.name)
			}
		})
	}

	t.Run("taskByNumber", func(t *testing.T) {
		d := api.OK(t, stranger, `query($n: String!) { taskByNumber(number: $n) { id } }`, map[string]any{"n": number})
		assert.Nil(t, apitest.Get(d, "taskByNumber"))
		d = api.OK(t, "", `query($n: String!) { taskByNumber(number: $n) { id } }`, map[string]any{"n": number})
		assert.Nil(t, apitest.Get(d, "taskByNumber"), "anonymous too")
		d = api.OK(t, assignee, `query($n: String!) { taskByNumber(number: $n) { id } }`, map[string]any{"n": number})
		assert.Equal(t, secret, apitest.Str(d, "taskByNumber", "id"))
	})

	lists := map[string]string{
		"tasks":        `{ x: tasks(first: 50) { totalCount nodes { id } } }`,
		"searchTasks":  `{ x: searchTasks(query: "rotate key", first: 50) { totalCount nodes { id } } }`,
		"Tag.tasks":    `{ tags(first: 10) { tasks(first: 50) { totalCount nodes { id } } } }`,
		"dependencies": `{ x: tasks(first: 50) { nodes { dependencies { id } dependents { id } } } }`,
		"statistics":   `{ taskStatistics { total } }`,
	}
	for name, q := range lists {
		t.Run("list "+name, func(t *testing.T) {
			for _, tok := range []string{stranger, ""} {
				d := api.OK(t, tok, q, nil)
				assert.NotContains(t, apitest.JSON(t, d), secret, "%s hides the private task", name)
			}
			if name != "statistics" {
				assert.Contains(t, apitest.JSON(t, api.OK(t, admin, q, nil)), secret, "admin sees it in %s", name)
			}
		})
	}
	d := api.OK(t, stranger, `{ taskStatistics { total } }`, nil)
	assert.Equal(t, 1, apitest.Num(d, "taskStatistics", "total"), "statistics count only visible tasks")
	d = api.OK(t, owner, `{ taskStatistics { total } }`, nil)
	assert.Equal(t, 2, apitest.Num(d, "taskStatistics", "total"))

	writes := []string{
		`mutation($id: ID!) { updateTask(id: $id, input: {title: "pwned"}) { id } }`,
		`mutation($id: ID!) { transitionTask(id: $id, status: READY) { id } }`,
		`mutation($id: ID!) { createSubtask(taskId: $id, input: {title: "pwned"}) { id } }`,
		`mutation($id: ID!) { addTaskTags(taskId: $id, tags: ["pwned"]) { id } }`,
		`mutation($id: ID!) { removeTaskTags(taskId: $id, tags: ["security"]) { id } }`,
		`mutation($id: ID!) { addDependency(taskId: $id, dependsOnId: "` + public + `") { id } }`,
		`mutation($id: ID!) { removeDependency(taskId: $id, dependsOnId: "` + public + `") { id } }`,
	}
	for _, q := range writes {
		hidden := api.Post(t, stranger, q, map[string]any{"id": secret})
		missing := api.Post(t, stranger, q, map[string]any{"id": random})
		require.NotEmpty(t, hidden.Errors, q)
		assert.Equal(t, "NOT_FOUND", hidden.Code(), q)
		assert.Equal(t, missing.Errors[0].Message, hidden.Errors[0].Message, "same message as a random id: %s", q)
	}
	for _, q := range []string{`mutation($id: ID!) { updateSubtask(id: $id, input: {title: "pwned"}) { id } }`,
		`mutation($id: ID!) { addSubtaskTags(subtaskId: $id, tags: ["pwned"]) { id } }`} {
		assert.Equal(t, "NOT_FOUND", api.Post(t, stranger, q, map[string]any{"id": sub}).Code(), q)
	}
	d = api.OK(t, stranger, `mutation($id: ID!) { deleteTask(id: $id) }`, map[string]any{"id": secret})
	assert.Equal(t, false, apitest.Get(d, "deleteTask"), "a stranger's delete is a no-op like a random id")
	d = api.OK(t, stranger, `mutation($id: ID!) { deleteSubtask(id: $id) }`, map[string]any{"id": sub})
	assert.Equal(t, false, apitest.Get(d, "deleteSubtask"))
	d = api.OK(t, owner, `query($id: ID!) { task(id: $id) { title subtasks { id } tags { name } } }`, map[string]any{"id": secret})
	assert.Equal(t, "Rotate the leaked signing key", apitest.Str(d, "task", "title"), "nothing the stranger sent was applied")
	assert.Len(t, apitest.List(d, "task", "subtasks"), 1)
	assert.Len(t, apitest.List(d, "task", "tags"), 1)
}
