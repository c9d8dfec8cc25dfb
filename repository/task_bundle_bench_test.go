package repository_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/repository"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// detailJSONSQL is the detail read (a task with its assignee, tags,
// subtasks and their tags, dependencies) as one statement that nests the
// levels as JSON instead of TaskBundle's parallel arrays: the alternative
// BenchmarkTaskDetail measures against.
const detailJSONSQL = `SELECT t.id, t.number, t.title, t.description, t.status, t.priority, t.type, t.phase, t.visibility,
	t.due_date, t.started_at, t.completed_at, t.estimated_hours::float8, t.actual_hours::float8, t.assignee_id, t.created_by,
	t.version, t.created_at, t.updated_at,
	a.id, a.email, a.name, a.role, a.created_at,
	(SELECT coalesce(json_agg(json_build_object('id', g.id, 'name', g.name, 'color', g.color, 'created_at', g.created_at) ORDER BY g.name), '[]')
		FROM task_tags tt JOIN tags g ON g.id = tt.tag_id WHERE tt.task_id = t.id),
	(SELECT coalesce(json_agg(json_build_object('id', s.id, 'number', s.number, 'title', s.title, 'description', s.description,
		'status', s.status, 'priority', s.priority, 'position', s.position, 'version', s.version, 'completed_at', s.completed_at,
		'created_at', s.created_at, 'updated_at', s.updated_at,
		'tags', (SELECT coalesce(json_agg(json_build_object('id', g.id, 'name', g.name, 'color', g.color, 'created_at', g.created_at) ORDER BY g.name), '[]')
			FROM subtask_tags st JOIN tags g ON g.id = st.tag_id WHERE st.subtask_id = s.id)) ORDER BY s.position, s.number), '[]')
		FROM (SELECT * FROM subtasks s WHERE s.task_id = t.id ORDER BY s.position, s.number LIMIT $2) s),
	(SELECT coalesce(json_agg(json_build_object('id', d.id, 'number', d.number, 'title', d.title, 'description', d.description,
		'status', d.status, 'priority', d.priority, 'type', d.type, 'phase', d.phase, 'visibility', d.visibility,
		'due_date', d.due_date, 'started_at', d.started_at, 'completed_at', d.completed_at,
		'estimated_hours', d.estimated_hours::float8, 'actual_hours', d.actual_hours::float8, 'assignee_id', d.assignee_id,
		'created_by', d.created_by, 'version', d.version, 'created_at', d.created_at, 'updated_at', d.updated_at) ORDER BY d.number), '[]')
		FROM task_dependencies td JOIN tasks d ON d.id = td.depends_on_id WHERE td.task_id = t.id)
	FROM tasks t LEFT JOIN users a ON a.id = t.assignee_id WHERE t.id = $1`

type jsonTag struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Color     string    `json:"color"`
	CreatedAt time.Time `json:"created_at"`
}

func (g jsonTag) tag() *domain.Tag {
	return &domain.Tag{ID: g.ID, Name: g.Name, Color: g.Color, CreatedAt: g.CreatedAt}
}

// detailJSON runs detailJSONSQL and decodes it into a bundle, as TaskBundle
// would return it.
func detailJSON(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, id string) (*domain.TaskBundle, error) {
	var t domain.Task
	var aID, aEmail, aName *string
	var aRole *domain.Role
	var aCreated *time.Time
	var tagsJSON, subsJSON, depsJSON []byte
	dest := []any{&t.ID, &t.Seq, &t.Title, &t.Description, &t.Status, &t.Priority, &t.Type, &t.Phase, &t.Visibility,
		&t.DueDate, &t.StartedAt, &t.CompletedAt, &t.EstimatedHours, &t.ActualHours, &t.AssigneeID, &t.CreatedByID,
		&t.Version, &t.CreatedAt, &t.UpdatedAt, &aID, &aEmail, &aName, &aRole, &aCreated, &tagsJSON, &subsJSON, &depsJSON}
	if err := q.QueryRow(ctx, detailJSONSQL, id, nil).Scan(dest...); err != nil {
		return nil, err
	}
	b := &domain.TaskBundle{Task: &t}
	if aID != nil {
		b.Assignee = &domain.User{ID: *aID, Email: *aEmail, Name: *aName, Role: *aRole, CreatedAt: *aCreated}
	}
	var tags []jsonTag
	var subs []struct {
		ID          string              `json:"id"`
		Number      int                 `json:"number"`
		Title       string              `json:"title"`
		Description string              `json:"description"`
		Status      domain.TaskStatus   `json:"status"`
		Priority    domain.TaskPriority `json:"priority"`
		Position    int                 `json:"position"`
		Version     int                 `json:"version"`
		CompletedAt *time.Time          `json:"completed_at"`
		CreatedAt   time.Time           `json:"created_at"`
		UpdatedAt   time.Time           `json:"updated_at"`
		Tags        []jsonTag           `json:"tags"`
	}
	var deps []struct {
		ID             string               `json:"id"`
		Number         int64                `json:"number"`
		Title          string               `json:"title"`
		Description    string               `json:"description"`
		Status         domain.TaskStatus    `json:"status"`
		Priority       domain.TaskPriority  `json:"priority"`
		Type           domain.TaskType      `json:"type"`
		Phase          domain.WorkflowPhase `json:"phase"`
		Visibility     domain.Visibility    `json:"visibility"`
		DueDate        *time.Time           `json:"due_date"`
		StartedAt      *time.Time           `json:"started_at"`
		CompletedAt    *time.Time           `json:"completed_at"`
		EstimatedHours *float64             `json:"estimated_hours"`
		ActualHours    *float64             `json:"actual_hours"`
		AssigneeID     *string              `json:"assignee_id"`
		CreatedBy      *string              `json:"created_by"`
		Version        int                  `json:"version"`
		CreatedAt      time.Time            `json:"created_at"`
		UpdatedAt      time.Time            `json:"updated_at"`
	}
	for _, x := range []struct {
		raw []byte
		v   any
	}{{tagsJSON, &tags}, {subsJSON, &subs}, {depsJSON, &deps}} {
		if err := json.Unmarshal(x.raw, x.v); err != nil {
			return nil, err
		}
	}
	b.Tags = make([]*domain.Tag, len(tags))
	for i, g := range tags {
		b.Tags[i] = g.tag()
	}
	b.Subtasks = make([]*domain.Subtask, len(subs))
	b.SubtaskTags = make(map[string][]*domain.Tag, len(subs))
	for i, s := range subs {
		b.Subtasks[i] = &domain.Subtask{ID: s.ID, TaskID: t.ID, TaskSeq: t.Seq, Seq: s.Number, Title: s.Title,
			Description: s.Description, Status: s.Status, Priority: s.Priority, Position: s.Position, Version: s.Version,
			CompletedAt: s.CompletedAt, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
		st := make([]*domain.Tag, len(s.Tags))
		for j, g := range s.Tags {
			st[j] = g.tag()
		}
		b.SubtaskTags[s.ID] = st
	}
	b.Dependencies = make([]*domain.Task, len(deps))
	for i, d := range deps {
		b.Dependencies[i] = &domain.Task{ID: d.ID, Seq: d.Number, Title: d.Title, Description: d.Description,
			Status: d.Status, Priority: d.Priority, Type: d.Type, Phase: d.Phase, Visibility: d.Visibility,
			DueDate: d.DueDate, StartedAt: d.StartedAt, CompletedAt: d.CompletedAt, EstimatedHours: d.EstimatedHours,
			ActualHours: d.ActualHours, AssigneeID: d.AssigneeID, CreatedByID: d.CreatedBy, Version: d.Version,
			CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	}
	return b, nil
}

// BenchmarkTaskDetail reads the detail of random tasks (those with subtasks
// and dependencies) three ways: TaskBundle's one statement of parallel
// arrays, the same levels nested as JSON in one statement, and the task
// bundle followed by the batch reads (subtasks, then their tags, and the
// dependencies), as the loaders read them before bundles had these levels.
// With HT_BENCH_DATABASE_URL (e.g. make bench's herotasks_bench), on that
// database; otherwise on 2,000 freshly seeded tasks.
func BenchmarkTaskDetail(b *testing.B) {
	ctx := context.Background()
	pool := openSeeded(b, 2000)
	repo := repository.New(pool)
	var ids []string
	require.NoError(b, pool.QueryRow(ctx, `SELECT array_agg(id::text) FROM (SELECT id FROM tasks t
		WHERE EXISTS (SELECT 1 FROM task_dependencies d WHERE d.task_id = t.id)
		AND EXISTS (SELECT 1 FROM subtasks s WHERE s.task_id = t.id) ORDER BY number LIMIT 200) x`).Scan(&ids))
	require.NotEmpty(b, ids)
	with := domain.TaskWith{Tags: true, Assignee: true, Subtasks: true, SubtaskTags: true, Dependencies: true}
	// The two single statements read the same.
	for _, id := range ids[:20] {
		want, err := repo.TaskBundle(ctx, domain.TaskRef{ID: id}, with)
		require.NoError(b, err)
		got, err := detailJSON(ctx, pool, id)
		require.NoError(b, err)
		require.Equal(b, len(want.Subtasks), len(got.Subtasks))
		require.Equal(b, len(want.Dependencies), len(got.Dependencies))
		for i := range want.Dependencies {
			require.Equal(b, want.Dependencies[i].ID, got.Dependencies[i].ID)
			require.Equal(b, want.Dependencies[i].UpdatedAt.UnixMicro(), got.Dependencies[i].UpdatedAt.UnixMicro())
		}
		for _, s := range want.Subtasks {
			require.Equal(b, len(want.SubtaskTags[s.ID]), len(got.SubtaskTags[s.ID]))
		}
	}
	run := func(name string, read func(id string) error) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := read(ids[i%len(ids)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
	run("arrays", func(id string) error {
		_, err := repo.TaskBundle(ctx, domain.TaskRef{ID: id}, with)
		return err
	})
	run("json", func(id string) error {
		_, err := detailJSON(ctx, pool, id)
		return err
	})
	run("batch-reads", func(id string) error {
		_, err := repo.TaskBundle(ctx, domain.TaskRef{ID: id}, with.Shallow())
		if err != nil {
			return err
		}
		subs, err := repo.SubtasksByTaskIDs(ctx, []string{id}, nil)
		if err != nil {
			return err
		}
		sids := make([]string, len(subs))
		for i, s := range subs {
			sids[i] = s.ID
		}
		if _, err := repo.TagsBySubtaskIDs(ctx, sids); err != nil {
			return err
		}
		_, err = repo.DependenciesByTaskIDs(ctx, []string{id})
		return err
	})
}
