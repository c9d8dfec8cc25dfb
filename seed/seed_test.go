package seed_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/migrations"
	"github.com/herotasks/api/seed"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testTasks = 300

// scratchDB creates a migrated database on DATABASE_URL's server, dropped
// when the test ends.
func scratchDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		t.Skip("DATABASE_URL is not set: start PostgreSQL (make test brings it up) to run the seed tests")
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	name := "seedtest_" + strings.ToLower(rand.Text()[:16])
	_, err = admin.Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)

	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	cfg.ConnConfig.Database = name
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		pool.Close()
		_, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		assert.NoError(t, err)
		admin.Close(ctx)
	})
	_, err = migrations.Up(ctx, pool)
	require.NoError(t, err)
	return pool
}

// today is the reference time of every run in these tests: fixed once so
// two runs agree even across midnight.
var today = time.Now().UTC().Truncate(24 * time.Hour)

func run(t *testing.T, pool *pgxpool.Pool, o seed.Options) seed.Result {
	t.Helper()
	if o.Tasks == 0 {
		o.Tasks = testTasks
	}
	if o.Now.IsZero() {
		o.Now = today
	}
	res, err := seed.Run(context.Background(), pool, o)
	require.NoError(t, err)
	return res
}

func count(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), sql, args...).Scan(&n), sql)
	return n
}

var tables = []string{"users", "tasks", "subtasks", "tags", "task_tags", "subtask_tags", "task_dependencies", "task_events"}

func TestRun(t *testing.T) {
	pool := scratchDB(t)
	ctx := context.Background()

	empty, err := seed.Empty(ctx, pool)
	require.NoError(t, err)
	assert.True(t, empty)

	var progress bytes.Buffer
	res := run(t, pool, seed.Options{Seed: 42, Progress: &progress})
	t.Logf("%+v", res)
	assert.Contains(t, progress.String(), "\rtasks 300/300 (100%)")
	assert.True(t, strings.HasSuffix(progress.String(), "\n"))

	empty, err = seed.Empty(ctx, pool)
	require.NoError(t, err)
	assert.False(t, empty)

	// The result counts what is in the database.
	assert.Equal(t, 20, res.Users)
	assert.Equal(t, testTasks, res.Tasks)
	assert.Equal(t, 200, res.Tags)
	for table, n := range map[string]int{"users": res.Users, "tasks": res.Tasks, "subtasks": res.Subtasks, "tags": res.Tags,
		"task_tags": res.TaskTags, "subtask_tags": res.SubtaskTags, "task_dependencies": res.Dependencies, "task_events": res.Events} {
		assert.Equal(t, n, count(t, pool, "SELECT count(*) FROM "+table), table)
	}
	assert.Positive(t, res.Elapsed)

	t.Run("users", func(t *testing.T) {
		assert.Equal(t, 1, count(t, pool, "SELECT count(*) FROM users WHERE role = 'ADMIN' AND email = 'admin@herotasks.local'"))
		assert.Equal(t, 1, count(t, pool, "SELECT count(*) FROM users WHERE role = 'ADMIN'"))
		assert.GreaterOrEqual(t, count(t, pool, "SELECT count(*) FROM users WHERE role = 'EDITOR'"), 4)
		assert.GreaterOrEqual(t, count(t, pool, "SELECT count(*) FROM users WHERE role = 'VIEWER'"), 2)
		assert.Zero(t, count(t, pool, "SELECT count(*) FROM users WHERE email !~ '^[a-z0-9.]+@herotasks\\.local$'"))
		// Tasks are created by and assigned to people who can write.
		assert.Zero(t, count(t, pool, `SELECT count(*) FROM tasks t JOIN users u ON u.id IN (t.created_by, t.assignee_id) WHERE u.role = 'VIEWER'`))
		assert.Zero(t, count(t, pool, "SELECT count(*) FROM tasks WHERE created_by IS NULL"))
		assigned := count(t, pool, "SELECT count(*) FROM tasks WHERE assignee_id IS NOT NULL")
		assert.InDelta(t, 0.8*testTasks, assigned, 0.1*testTasks)
	})

	t.Run("tasks", func(t *testing.T) {
		// Numbers 1..N from the sequence, which continues after them.
		assert.Equal(t, testTasks, count(t, pool, "SELECT count(DISTINCT number) FROM tasks WHERE number BETWEEN 1 AND $1", testTasks))
		assert.Equal(t, testTasks+1, count(t, pool, "SELECT nextval('task_number_seq')"))
		assert.Equal(t, testTasks, count(t, pool, "SELECT count(DISTINCT id) FROM tasks"))
		// Numbers follow creation time.
		assert.Zero(t, count(t, pool, `SELECT count(*) FROM tasks a JOIN tasks b ON b.number = a.number + 1 WHERE b.created_at < a.created_at`))

		assert.Zero(t, count(t, pool, "SELECT count(*) FROM tasks WHERE created_at NOT BETWEEN $1::timestamptz - interval '366 days' AND $1", today))
		assert.Zero(t, count(t, pool, "SELECT count(*) FROM tasks WHERE updated_at < created_at OR updated_at > $1", today))
		assert.Zero(t, count(t, pool, "SELECT count(*) FROM tasks WHERE (status = 'COMPLETED') <> (completed_at IS NOT NULL)"))
		assert.Zero(t, count(t, pool, "SELECT count(*) FROM tasks WHERE status IN ('COMPLETED', 'IN_PROGRESS') AND started_at IS NULL"))
		assert.Zero(t, count(t, pool, "SELECT count(*) FROM tasks WHERE title = '' OR description = ''"))
		assert.Greater(t, count(t, pool, "SELECT count(DISTINCT title) FROM tasks"), testTasks*2/3)
		assert.Positive(t, count(t, pool, "SELECT count(*) FROM tasks WHERE description LIKE '%`%' OR description LIKE '%**%' OR description LIKE '%](%'"))

		// Realistic spreads.
		byPriority := map[string]int{}
		for _, p := range domain.TaskPriorities {
			byPriority[string(p)] = count(t, pool, "SELECT count(*) FROM tasks WHERE priority = $1", p)
		}
		assert.Greater(t, byPriority["MEDIUM"], byPriority["HIGH"])
		assert.Greater(t, byPriority["HIGH"], byPriority["CRITICAL"])
		assert.GreaterOrEqual(t, count(t, pool, "SELECT count(DISTINCT status) FROM tasks"), 5)
		assert.GreaterOrEqual(t, count(t, pool, "SELECT count(DISTINCT type) FROM tasks"), 10)
		assert.GreaterOrEqual(t, count(t, pool, "SELECT count(DISTINCT phase) FROM tasks"), 4)
		private := count(t, pool, "SELECT count(*) FROM tasks WHERE visibility = 'PRIVATE'")
		assert.InDelta(t, 0.05*testTasks, private, 0.04*testTasks)
		assert.Greater(t, count(t, pool, "SELECT count(*) FROM tasks WHERE due_date IS NOT NULL"), testTasks*7/10)
		assert.Positive(t, count(t, pool, "SELECT count(*) FROM tasks WHERE due_date < $1 AND status NOT IN ('COMPLETED', 'CANCELLED')", today), "overdue tasks")
		assert.Positive(t, count(t, pool, "SELECT count(*) FROM tasks WHERE estimated_hours > 0"))
		assert.Positive(t, count(t, pool, "SELECT count(*) FROM tasks WHERE actual_hours > 0 AND status = 'COMPLETED'"))
		assert.Positive(t, count(t, pool, "SELECT count(*) FROM tasks WHERE search @@ plainto_tsquery('english', 'fix')"))
	})

	t.Run("subtasks", func(t *testing.T) {
		assert.Zero(t, count(t, pool, `SELECT count(*) FROM (SELECT FROM tasks t LEFT JOIN subtasks s ON s.task_id = t.id
			GROUP BY t.id HAVING count(s.id) NOT BETWEEN 3 AND 7) x`))
		// Numbers 1..n (unique per task by constraint), positions a
		// permutation of 0..n-1, subtask_counter = n.
		assert.Zero(t, count(t, pool, `SELECT count(*) FROM tasks t CROSS JOIN LATERAL (
				SELECT count(*) AS n, min(number) AS lo, max(number) AS hi,
					count(DISTINCT position) AS dp, min(position) AS plo, max(position) AS phi
				FROM subtasks WHERE task_id = t.id) s
			WHERE NOT (s.lo = 1 AND s.hi = s.n AND s.dp = s.n AND s.plo = 0 AND s.phi = s.n - 1 AND t.subtask_counter = s.n)`))
		assert.Zero(t, count(t, pool, "SELECT count(*) FROM subtasks WHERE (status = 'COMPLETED') <> (completed_at IS NOT NULL)"))
		assert.Zero(t, count(t, pool, "SELECT count(*) FROM subtasks WHERE updated_at < created_at OR created_at > $1", today))
		// A completed task's subtasks are done; a draft's are drafts.
		assert.Zero(t, count(t, pool, `SELECT count(*) FROM subtasks s JOIN tasks t ON t.id = s.task_id
			WHERE (t.status = 'COMPLETED' AND s.status NOT IN ('COMPLETED', 'CANCELLED')) OR (t.status = 'DRAFT' AND s.status <> 'DRAFT')`))
	})

	t.Run("tags", func(t *testing.T) {
		rows, _ := pool.Query(ctx, "SELECT name, color FROM tags")
		tags, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Name, Color string }])
		require.NoError(t, err)
		require.Len(t, tags, 200)
		valid := regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,49}$`)
		for _, tag := range tags {
			assert.Regexp(t, valid, tag.Name)
			assert.Equal(t, domain.TagColor(tag.Name), tag.Color, tag.Name)
		}
		assert.Zero(t, count(t, pool, `SELECT count(*) FROM (SELECT FROM tasks t LEFT JOIN task_tags x ON x.task_id = t.id
			GROUP BY t.id HAVING count(x.tag_id) NOT BETWEEN 1 AND 5) x`))
		assert.Zero(t, count(t, pool, `SELECT count(*) FROM (SELECT FROM subtasks s LEFT JOIN subtask_tags x ON x.subtask_id = s.id
			GROUP BY s.id HAVING count(x.tag_id) > 4) x`))
		assert.Positive(t, count(t, pool, `SELECT count(*) FROM subtasks s WHERE NOT EXISTS (SELECT 1 FROM subtask_tags x WHERE x.subtask_id = s.id)`))
		assert.Greater(t, count(t, pool, "SELECT count(DISTINCT tag_id) FROM task_tags"), 50)
	})

	t.Run("dependencies", func(t *testing.T) {
		deps := count(t, pool, "SELECT count(DISTINCT task_id) FROM task_dependencies")
		assert.InDelta(t, 0.3*testTasks, deps, 0.1*testTasks)
		assert.Zero(t, count(t, pool, `SELECT count(*) FROM task_dependencies d JOIN tasks a ON a.id = d.task_id
			JOIN tasks b ON b.id = d.depends_on_id WHERE b.number >= a.number`))
		assert.Zero(t, count(t, pool, `WITH RECURSIVE walk(cur, path, cycle) AS (
				SELECT depends_on_id, ARRAY[task_id, depends_on_id], task_id = depends_on_id FROM task_dependencies
				UNION ALL
				SELECT d.depends_on_id, w.path || d.depends_on_id, d.depends_on_id = ANY(w.path)
				FROM walk w JOIN task_dependencies d ON d.task_id = w.cur WHERE NOT w.cycle)
			SELECT count(*) FROM walk WHERE cycle`))
	})

	t.Run("history", func(t *testing.T) { checkHistory(t, pool) })
	t.Run("references", func(t *testing.T) { checkReferences(t, pool) })
}

// checkReferences checks every foreign key of the schema by hand: the seed
// may write with the checks switched off.
func checkReferences(t *testing.T, pool *pgxpool.Pool) {
	rows, _ := pool.Query(context.Background(), `SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text, fa.attname
		FROM pg_constraint c
		JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
		JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1]
		WHERE c.contype = 'f' AND c.conparentid = 0 AND c.connamespace = 'public'::regnamespace
			AND cardinality(c.conkey) = 1`)
	fks, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Table, Column, RefTable, RefColumn string }])
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(fks), 11)
	for _, fk := range fks {
		sql := "SELECT count(*) FROM " + fk.Table + " c WHERE c." + fk.Column + " IS NOT NULL AND NOT EXISTS (SELECT FROM " +
			fk.RefTable + " p WHERE p." + fk.RefColumn + " = c." + fk.Column + ")"
		assert.Zero(t, count(t, pool, sql), sql)
	}
}

// checkHistory replays every task's events through the workflow rules and
// compares where they end with the task row.
func checkHistory(t *testing.T, pool *pgxpool.Pool) {
	ctx := context.Background()
	type task struct {
		ID                     string
		Status                 domain.TaskStatus
		Phase                  domain.WorkflowPhase
		CreatedAt              time.Time
		StartedAt, CompletedAt *time.Time
		CreatedBy              string
	}
	rows, _ := pool.Query(ctx, "SELECT id, status, phase, created_at, started_at, completed_at, created_by FROM tasks")
	tasks, err := pgx.CollectRows(rows, pgx.RowToStructByPos[task])
	require.NoError(t, err)
	type event struct {
		TaskID               string
		ActorID              *string
		Kind                 domain.TaskEventKind
		FromStatus, ToStatus *domain.TaskStatus
		FromPhase, ToPhase   *domain.WorkflowPhase
		CreatedAt            time.Time
	}
	rows, _ = pool.Query(ctx, `SELECT task_id, actor_id, kind, from_status, to_status, from_phase, to_phase, created_at
		FROM task_events ORDER BY task_id, created_at, id`)
	events, err := pgx.CollectRows(rows, pgx.RowToStructByPos[event])
	require.NoError(t, err)
	// The workflow's events in order; the edits and the subtasks' history
	// beside them, checked on their own.
	byTask := map[string][]event{}
	other := map[domain.TaskEventKind]int{}
	for _, e := range events {
		switch e.Kind {
		case domain.EventCreated, domain.EventStatusChanged, domain.EventPhaseChanged:
			byTask[e.TaskID] = append(byTask[e.TaskID], e)
		default:
			other[e.Kind]++
			assert.Contains(t, []domain.TaskEventKind{domain.EventFieldChanged, domain.EventSubtaskAdded, domain.EventSubtaskChanged}, e.Kind)
			assert.False(t, e.CreatedAt.After(today))
		}
	}
	assert.Positive(t, other[domain.EventFieldChanged], "the seed's history has edits")
	assert.Positive(t, other[domain.EventSubtaskAdded], "and its subtasks")
	assert.Positive(t, other[domain.EventSubtaskChanged], "and their changes")

	changes := 0
	for _, tk := range tasks {
		evs := byTask[tk.ID]
		require.NotEmpty(t, evs, tk.ID)
		first := evs[0]
		require.Equal(t, domain.EventCreated, first.Kind, tk.ID)
		require.NotNil(t, first.ToStatus)
		assert.Contains(t, []domain.TaskStatus{domain.StatusDraft, domain.StatusReady}, *first.ToStatus)
		assert.Equal(t, domain.PhaseAudit, *first.ToPhase)
		assert.Nil(t, first.FromStatus)
		assert.True(t, first.CreatedAt.Equal(tk.CreatedAt))
		assert.Equal(t, tk.CreatedBy, *first.ActorID)

		status, phase := *first.ToStatus, *first.ToPhase
		var started, completed *time.Time
		prev := first.CreatedAt
		for _, e := range evs[1:] {
			changes++
			require.NotNil(t, e.ActorID)
			assert.True(t, e.CreatedAt.After(prev), "events strictly after one another")
			assert.False(t, e.CreatedAt.After(today))
			prev = e.CreatedAt
			switch e.Kind {
			case domain.EventStatusChanged:
				require.Equal(t, status, *e.FromStatus, tk.ID)
				require.NotEqual(t, status, *e.ToStatus)
				require.True(t, domain.CanMove(status, *e.ToStatus), "%s: %s -> %s", tk.ID, status, *e.ToStatus)
				status = *e.ToStatus
				if status == domain.StatusInProgress && started == nil {
					started = &e.CreatedAt
				}
				if status == domain.StatusCompleted {
					completed = &e.CreatedAt
				}
			case domain.EventPhaseChanged:
				require.True(t, status.Open(), "%s: phase change while %s", tk.ID, status)
				require.Equal(t, phase, *e.FromPhase)
				from, to := slices.Index(domain.WorkflowPhases, phase), slices.Index(domain.WorkflowPhases, *e.ToPhase)
				require.True(t, to-from == 1 || from-to == 1, "%s: %s -> %s", tk.ID, phase, *e.ToPhase)
				phase = *e.ToPhase
			default:
				t.Fatalf("%s: unexpected %s event", tk.ID, e.Kind)
			}
		}
		assert.Equal(t, tk.Status, status, tk.ID)
		assert.Equal(t, tk.Phase, phase, tk.ID)
		assert.Equal(t, started, tk.StartedAt, tk.ID)
		assert.Equal(t, completed, tk.CompletedAt, tk.ID)
	}
	assert.Greater(t, changes, len(tasks))
}

// fingerprint digests every row of every seeded table.
func fingerprint(t *testing.T, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, table := range tables {
		row := "x::text"
		if table == "task_events" { // ids (insertion order) and transaction ids vary
			row = "(to_jsonb(x) - 'id' - 'txid')::text"
		}
		var sum string
		require.NoError(t, pool.QueryRow(context.Background(),
			"SELECT md5(coalesce(string_agg("+row+", '|' ORDER BY "+row+"), '')) FROM "+table+" x").Scan(&sum))
		out[table] = sum
	}
	return out
}

func TestDeterministic(t *testing.T) {
	a, b := scratchDB(t), scratchDB(t)
	ra := run(t, a, seed.Options{Seed: 7})
	rb := run(t, b, seed.Options{Seed: 7})
	ra.Elapsed, rb.Elapsed = 0, 0
	assert.Equal(t, ra, rb)
	want := fingerprint(t, a)
	assert.Equal(t, want, fingerprint(t, b))

	// Another seed gives other data; Reset then the first seed again gives
	// the same data as a fresh database (identities and numbers restart).
	run(t, b, seed.Options{Seed: 8, Reset: true})
	other := fingerprint(t, b)
	for _, table := range tables {
		assert.NotEqual(t, want[table], other[table], table)
	}
	assert.Equal(t, testTasks, count(t, b, "SELECT count(*) FROM tasks"))
	run(t, b, seed.Options{Seed: 7, Reset: true})
	assert.Equal(t, want, fingerprint(t, b))
}

func TestAppend(t *testing.T) {
	pool := scratchDB(t)
	first := run(t, pool, seed.Options{Seed: 3})
	// Same seed again without Reset: new rows, nothing collides.
	second := run(t, pool, seed.Options{Seed: 3})
	assert.Equal(t, first.Users, second.Users)
	assert.Zero(t, second.Tags, "existing tags are reused")
	assert.Equal(t, 2*testTasks, count(t, pool, "SELECT count(*) FROM tasks"))
	assert.Equal(t, 2*first.Users, count(t, pool, "SELECT count(*) FROM users"))
	assert.Equal(t, 200, count(t, pool, "SELECT count(*) FROM tags"))
	assert.Equal(t, 2*testTasks, count(t, pool, "SELECT count(DISTINCT number) FROM tasks WHERE number BETWEEN 1 AND $1", 2*testTasks))
	assert.Equal(t, 1, count(t, pool, "SELECT count(*) FROM users WHERE email = 'admin@herotasks.local'"))
	assert.Equal(t, first.Subtasks+second.Subtasks, count(t, pool, "SELECT count(*) FROM subtasks"))
	assert.Equal(t, first.TaskTags+second.TaskTags, count(t, pool, "SELECT count(*) FROM task_tags"))
	// The second run's dependencies stay within its own tasks.
	assert.Zero(t, count(t, pool, `SELECT count(*) FROM task_dependencies d JOIN tasks a ON a.id = d.task_id
		JOIN tasks b ON b.id = d.depends_on_id WHERE a.number > $1 AND b.number <= $1`, testTasks))
	checkHistory(t, pool)
	checkReferences(t, pool)
}

// TestModes writes the same data with the foreign-key checks skipped (the
// default for a superuser), with them on, and with a user-defined INSERT
// trigger, which makes the seed keep the checks and fire the trigger.
func TestModes(t *testing.T) {
	ctx := context.Background()
	fast := scratchDB(t)
	run(t, fast, seed.Options{Seed: 5})
	want := fingerprint(t, fast)

	checked := scratchDB(t)
	restore := seed.SetSkipChecksAllowed(false)
	run(t, checked, seed.Options{Seed: 5})
	restore()
	assert.Equal(t, want, fingerprint(t, checked))

	triggered := scratchDB(t)
	_, err := triggered.Exec(ctx, `CREATE TABLE dependency_log (task_id uuid NOT NULL);
		CREATE FUNCTION log_dependency() RETURNS trigger LANGUAGE plpgsql AS
			'BEGIN INSERT INTO dependency_log VALUES (NEW.task_id); RETURN NEW; END';
		CREATE TRIGGER log_dependency AFTER INSERT ON task_dependencies FOR EACH ROW EXECUTE FUNCTION log_dependency()`)
	require.NoError(t, err)
	res := run(t, triggered, seed.Options{Seed: 5})
	assert.Equal(t, want, fingerprint(t, triggered))
	assert.Positive(t, res.Dependencies)
	assert.Equal(t, res.Dependencies, count(t, triggered, "SELECT count(*) FROM dependency_log"))
	for _, pool := range []*pgxpool.Pool{fast, checked, triggered} {
		checkReferences(t, pool)
	}
}

func TestUserCount(t *testing.T) {
	for tasks, want := range map[int]int{1: 20, 300: 20, 5000: 20, 10_000: 40, 1_000_000: 4000} {
		assert.Equal(t, want, seed.UserCount(tasks), "%d tasks", tasks)
	}
}

func TestRunRejectsNegativeTasks(t *testing.T) {
	_, err := seed.Run(context.Background(), nil, seed.Options{Tasks: -1})
	require.Error(t, err)
}
