package repository_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/herotasks/api/repository"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLookupsKeepGenericPlans: an entity cache miss reads one or two keys
// at a time. Each batch read by key must settle on PostgreSQL's generic
// plan after its five custom ones, instead of being planned on every call,
// and still return each row once. The subscriptions' log read is planned
// once per connection.
func TestLookupsKeepGenericPlans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := seeded(t, 200, 3)
	// With statistics, as autovacuum leaves a live database: "col = ANY($1)"
	// was estimated from the very keys asked for, and one subtask's tags
	// stayed on custom plans.
	_, err := pool.Exec(context.Background(), "ANALYZE")
	require.NoError(t, err)
	one, err := repository.Open(ctx, pool.Config().ConnString(), repository.PoolOptions{MaxConns: 1})
	require.NoError(t, err)
	t.Cleanup(one.Close)
	r := repository.New(one)

	var task, subtask, tag, user string
	require.NoError(t, pool.QueryRow(ctx, `SELECT s.task_id::text, s.id::text, tt.tag_id::text, t.created_by::text
		FROM subtasks s JOIN tasks t ON t.id = s.task_id JOIN task_tags tt ON tt.task_id = t.id
		WHERE (SELECT count(*) FROM subtasks x WHERE x.task_id = t.id) >= 2
		  AND EXISTS (SELECT 1 FROM task_dependencies d WHERE d.task_id = t.id)
		  AND EXISTS (SELECT 1 FROM subtask_tags g WHERE g.subtask_id = s.id)
		ORDER BY t.number, s.number LIMIT 1`).Scan(&task, &subtask, &tag, &user))
	var subtasks, tags, deps, events int
	require.NoError(t, pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM subtasks WHERE task_id = $1),
		(SELECT count(*) FROM task_tags WHERE task_id = $1), (SELECT count(*) FROM task_dependencies WHERE task_id = $1),
		(SELECT least(count(*), 100) FROM task_events WHERE task_id = $1)`, task).
		Scan(&subtasks, &tags, &deps, &events))
	require.True(t, subtasks >= 2 && tags >= 1 && deps >= 1 && events >= 1, "a task with rows at every level")

	lookups := map[string]func() (int, error){
		"tt.task_id = k.key_id": func() (int, error) { l, err := r.TagsByTaskIDs(ctx, []string{task}); return len(l), err },
		"st.subtask_id = k.key_id": func() (int, error) {
			l, err := r.TagsBySubtaskIDs(ctx, []string{subtask})
			return min(len(l), 1), err
		},
		"g.id = k.key_id": func() (int, error) { l, err := r.TagsByIDs(ctx, []string{tag}); return len(l), err },
		"ORDER BY s.position, s.number LIMIT": func() (int, error) {
			l, err := r.SubtasksByTaskIDs(ctx, []string{task}, nil)
			return len(l), err
		},
		"s.id = k.key_id":      func() (int, error) { l, err := r.SubtasksByIDs(ctx, []string{subtask}); return len(l), err },
		"ON t.id = k.key_id":   func() (int, error) { l, err := r.TasksByIDs(ctx, []string{task}); return len(l), err },
		"users.id = k.key_id":  func() (int, error) { l, err := r.UsersByIDs(ctx, []string{user}); return len(l), err },
		"d.task_id = k.key_id": func() (int, error) { l, err := r.DependenciesByTaskIDs(ctx, []string{task}); return len(l), err },
		"e.task_id = k.task_id": func() (int, error) {
			l, err := r.EventsByTaskIDs(ctx, []string{task}, 100)
			return len(l), err
		},
		"d.depends_on_id = k.key_id": func() (int, error) {
			_, err := r.DependentsByTaskIDs(ctx, []string{task})
			return 0, err
		},
	}
	want := map[string]int{"tt.task_id = k.key_id": tags, "st.subtask_id = k.key_id": 1, "g.id = k.key_id": 1,
		"ORDER BY s.position, s.number LIMIT": subtasks, "s.id = k.key_id": 1, "ON t.id = k.key_id": 1, "users.id = k.key_id": 1,
		"d.task_id = k.key_id": deps, "d.depends_on_id = k.key_id": 0, "e.task_id = k.task_id": events}
	for range 8 {
		for name, lookup := range lookups {
			n, err := lookup()
			require.NoError(t, err, name)
			require.Equal(t, want[name], n, "%s: each row once", name)
		}
	}
	plans := preparedPlans(t, one)
	for name := range lookups {
		p, ok := findPlan(plans, name)
		require.True(t, ok, "%s: not prepared on the connection", name)
		assert.Equal(t, 5, p.custom, "%s: planned for its arguments after its fifth run", name)
		assert.Equal(t, 3, p.generic, name)
	}

	// A batch of many keys is one index scan over them ("= ANY"), on its
	// generic plan too.
	var many []string
	rows, err := pool.Query(ctx, "SELECT id::text FROM tasks ORDER BY number LIMIT 40")
	require.NoError(t, err)
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		many = append(many, id)
	}
	require.NoError(t, rows.Err())
	for range 8 {
		got, err := r.TasksByIDs(ctx, many)
		require.NoError(t, err)
		require.Len(t, got, len(many))
	}
	p, ok := findPlan(preparedPlans(t, one), "t.id = ANY")
	require.True(t, ok)
	assert.Equal(t, 5, p.custom)
	assert.Equal(t, 3, p.generic)

	// The broker's pool plans the log read once.
	logPool, err := repository.Open(ctx, pool.Config().ConnString(), repository.PoolOptions{MaxConns: 1, GenericPlans: true})
	require.NoError(t, err)
	t.Cleanup(logPool.Close)
	log := repository.New(logPool)
	head, err := log.TaskEventsHead(ctx)
	require.NoError(t, err)
	for range 3 {
		_, err := log.TaskEventsAfter(ctx, head, 100)
		require.NoError(t, err)
	}
	p, ok = findPlan(preparedPlans(t, logPool), "(e.txid, e.id) >")
	require.True(t, ok)
	assert.Equal(t, 0, p.custom)
	assert.Equal(t, 3, p.generic)
}

type plan struct {
	statement       string
	generic, custom int
}

// preparedPlans lists the statements prepared on the pool's one connection.
func preparedPlans(t *testing.T, pool *pgxpool.Pool) []plan {
	t.Helper()
	rows, err := pool.Query(context.Background(), "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
	require.NoError(t, err)
	var out []plan
	for rows.Next() {
		var p plan
		require.NoError(t, rows.Scan(&p.statement, &p.generic, &p.custom))
		out = append(out, p)
	}
	require.NoError(t, rows.Err())
	return out
}

func findPlan(plans []plan, fragment string) (plan, bool) {
	for _, p := range plans {
		if strings.Contains(p.statement, fragment) {
			return p, true
		}
	}
	return plan{}, false
}

// TestLongSubtaskBatchProbesParents: a page's subtasks filling the entity
// cache are a batch of hundreds of keys. Reading each one's task number must
// probe the task by primary key, not hash the whole tasks table (which the
// planner chose for a join of 250 keys), and still give every subtask its
// own task's number.
func TestLongSubtaskBatchProbesParents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := seeded(t, 2000, 11)
	_, err := pool.Exec(ctx, "ANALYZE")
	require.NoError(t, err)
	one, err := repository.Open(ctx, pool.Config().ConnString(), repository.PoolOptions{MaxConns: 1})
	require.NoError(t, err)
	t.Cleanup(one.Close)
	r := repository.New(one)

	want := map[string]int64{}
	var ids []string
	rows, err := pool.Query(ctx, `SELECT s.id::text, t.number FROM subtasks s JOIN tasks t ON t.id = s.task_id
		ORDER BY md5(s.id::text) LIMIT 250`)
	require.NoError(t, err)
	for rows.Next() {
		var id string
		var n int64
		require.NoError(t, rows.Scan(&id, &n))
		want[id] = n
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	require.Len(t, ids, 250)

	got, err := r.SubtasksByIDs(ctx, ids)
	require.NoError(t, err)
	require.Len(t, got, len(ids))
	for _, s := range got {
		assert.Equal(t, want[s.ID], s.TaskSeq, "subtask %s: its own task's number", s.ID)
	}

	p, ok := findPlan(preparedPlans(t, one), "s.id = ANY")
	require.True(t, ok, "the long batch's statement")
	var raw []byte
	require.NoError(t, pool.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+p.statement, ids).Scan(&raw))
	var plans []map[string]any
	require.NoError(t, json.Unmarshal(raw, &plans))
	assert.NotContains(t, seqScans(plans[0]["Plan"]), "tasks", "%s", raw)
}
