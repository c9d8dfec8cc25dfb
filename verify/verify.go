// Package verify proves on a live deployment what the project claims about
// its database and cache: migrations current, every index present and valid
// and used by the queries it serves, history partitions ready, pools healthy
// with their timeouts in effect, pg_stat_statements available, Redis
// reachable with a sane eviction policy.
package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/migrations"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// Check is one verified claim.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Options name what to verify against.
type Options struct {
	Pool *pgxpool.Pool // the primary: schema, plans, partitions, statements
	// Pools are the server's pools by name (write, read, analytics, and
	// replica when one is configured), each checked for health and
	// timeouts; nil checks Pool alone as "primary".
	Pools       map[string]*pgxpool.Pool
	Redis       redis.UniversalClient // nil: Redis is reported as not configured, which is not a failure
	MonthsAhead int                   // history partitions that must exist after the current month
	ExpectRedis bool                  // fail when Redis is not configured
	MinPlanRows float64               // below this many tasks, EXPLAIN checks that indexes are usable rather than chosen
	Now         time.Time
	// Store is the repository over a pool: the plan check runs its hot
	// queries on a pool it records, so it needs the real statements.
	Store func(pool *pgxpool.Pool) domain.Reader
	// PendingSeedDDL lists the indexes and constraints an interrupted bulk
	// seed left dropped (seed.Pending); nil skips that check.
	PendingSeedDDL func(ctx context.Context, pool *pgxpool.Pool) ([]string, error)
}

// Indexes are the indexes the repository's queries rely on.
var Indexes = []string{
	"tasks_pkey", "tasks_number_key", "tasks_created_keyset_idx", "tasks_updated_keyset_idx", "tasks_due_keyset_idx",
	"tasks_priority_keyset_idx", "tasks_status_created_idx", "tasks_type_created_idx", "tasks_assignee_status_due_idx",
	"tasks_active_created_idx", "tasks_open_due_idx", "tasks_private_created_by_idx", "tasks_private_assignee_idx", "tasks_created_by_idx",
	"tasks_search_idx", "search_words_word_trgm_idx", "subtasks_task_position_idx", "subtasks_task_number_key",
	"task_tags_pkey", "task_tags_tag_task_idx", "subtask_tags_pkey", "subtask_tags_tag_subtask_idx",
	"task_dependencies_pkey", "task_dependencies_depends_on_idx", "task_events_task_created_idx", "task_events_log_idx", "tags_name_key",
	"users_email_key",
}

// Run performs every check.
func Run(ctx context.Context, o Options) []Check {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.MinPlanRows == 0 {
		o.MinPlanRows = 10000
	}
	if o.Pools == nil {
		o.Pools = map[string]*pgxpool.Pool{"primary": o.Pool}
	}
	checks := []func(context.Context, Options) Check{checkPool, checkTimeouts, checkReplica, checkMigrations, checkIndexes,
		checkPlans, checkPartitions, checkStatements, checkRedis}
	out := make([]Check, 0, len(checks))
	for _, c := range checks {
		out = append(out, c(ctx, o))
	}
	return out
}

// Failed reports whether any check failed.
func Failed(checks []Check) bool {
	return slices.ContainsFunc(checks, func(c Check) bool { return !c.OK })
}

// Print writes the checks as a table, or as JSON.
func Print(w io.Writer, checks []Check, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"ok": !Failed(checks), "checks": checks})
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tDETAIL")
	for _, c := range checks {
		res := "ok"
		if !c.OK {
			res = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, res, c.Detail)
	}
	return tw.Flush()
}

func result(name string, ok bool, format string, args ...any) Check {
	return Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)}
}

// checkPool pings every pool and reports its use.
func checkPool(ctx context.Context, o Options) Check {
	var parts []string
	ok := true
	for _, name := range slices.Sorted(maps.Keys(o.Pools)) {
		p := o.Pools[name]
		start := time.Now()
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := p.Ping(c)
		cancel()
		if err != nil {
			ok = false
			parts = append(parts, fmt.Sprintf("%s unreachable: %v", name, err))
			continue
		}
		st := p.Stat()
		parts = append(parts, fmt.Sprintf("%s ping %s, %d/%d in use", name, time.Since(start).Round(time.Microsecond),
			st.AcquiredConns(), st.MaxConns()))
	}
	return result("pools", ok, "%s", strings.Join(parts, "; "))
}

// checkTimeouts reads each pool's session timeouts: none may be 0 (off).
func checkTimeouts(ctx context.Context, o Options) Check {
	var parts []string
	ok := true
	for _, name := range slices.Sorted(maps.Keys(o.Pools)) {
		var stmt, lock, idle string
		err := o.Pools[name].QueryRow(ctx, "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'), current_setting('idle_in_transaction_session_timeout')").
			Scan(&stmt, &lock, &idle)
		if err != nil {
			ok = false
			parts = append(parts, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		ok = ok && stmt != "0" && lock != "0" && idle != "0"
		parts = append(parts, fmt.Sprintf("%s statement=%s lock=%s idle_in_tx=%s", name, stmt, lock, idle))
	}
	return result("timeouts", ok, "%s", strings.Join(parts, "; "))
}

// checkReplica, when a replica pool is configured, checks that it is a
// standby that is streaming from the primary, and reports its lag.
func checkReplica(ctx context.Context, o Options) Check {
	p, ok := o.Pools["replica"]
	if !ok {
		return result("replica", true, "not configured (reads use the primary)")
	}
	var recovery bool
	var status *string
	var lagBytes *int64
	err := p.QueryRow(ctx, `SELECT pg_is_in_recovery(),
			(SELECT status FROM pg_stat_wal_receiver LIMIT 1),
			pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::int8`).Scan(&recovery, &status, &lagBytes)
	switch {
	case err != nil:
		return result("replica", false, "unreachable: %v", err)
	case !recovery:
		return result("replica", false, "not in recovery: DATABASE_READ_URL points at a primary")
	case status == nil || *status != "streaming":
		return result("replica", false, "standby is not streaming from the primary (wal receiver: %s)", deref(status, "none"))
	}
	return result("replica", true, "streaming; %d bytes received but not yet replayed", deref(lagBytes, 0))
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func checkMigrations(ctx context.Context, o Options) Check {
	p, db, err := migrations.Provider(o.Pool)
	if err != nil {
		return result("migrations", false, "%v", err)
	}
	defer db.Close()
	st, err := p.Status(ctx)
	if err != nil {
		return result("migrations", false, "%v", err)
	}
	var pending []string
	for _, s := range st {
		if s.State != "applied" {
			pending = append(pending, s.Source.Path)
		}
	}
	if len(pending) > 0 {
		return result("migrations", false, "pending: %s", strings.Join(pending, ", "))
	}
	return result("migrations", true, "%d applied, none pending", len(st))
}

func checkIndexes(ctx context.Context, o Options) Check {
	rows, err := o.Pool.Query(ctx, `SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY($1)`, Indexes)
	if err != nil {
		return result("indexes", false, "%v", err)
	}
	valid := map[string]bool{}
	var name string
	var ok bool
	if _, err := pgx.ForEachRow(rows, []any{&name, &ok}, func() error { valid[name] = ok; return nil }); err != nil {
		return result("indexes", false, "%v", err)
	}
	var problems []string
	for _, ix := range Indexes {
		v, found := valid[ix]
		switch {
		case !found:
			problems = append(problems, ix+" missing")
		case !v:
			problems = append(problems, ix+" INVALID (a failed CREATE INDEX CONCURRENTLY: re-run migrate)")
		}
	}
	// A bulk seed drops every index and constraint of the large tables
	// (foreign keys too, which the list above does not name) and records
	// them until they are rebuilt.
	var pending []string
	if o.PendingSeedDDL != nil {
		var err error
		if pending, err = o.PendingSeedDDL(ctx, o.Pool); err != nil {
			return result("indexes", false, "%v", err)
		}
	}
	if len(pending) > 0 {
		problems = append(problems, fmt.Sprintf("an interrupted bulk seed left %d indexes and constraints dropped (%s): run `herotasks seed --repair`",
			len(pending), strings.Join(pending, ", ")))
	}
	if len(problems) > 0 {
		return result("indexes", false, "%s", strings.Join(problems, "; "))
	}
	return result("indexes", true, "%d present and valid, no bulk seed pending", len(Indexes))
}

// Recorder is a pgx.QueryTracer that keeps every statement sent, with its
// arguments, so the statements can be EXPLAINed as they were sent.
type Recorder struct {
	mu    sync.Mutex
	stmts []Statement
}

// Statement is one recorded statement.
type Statement struct {
	SQL  string
	Args []any
}

// TraceQueryStart records the statement.
func (r *Recorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.mu.Lock()
	r.stmts = append(r.stmts, Statement{d.SQL, d.Args})
	r.mu.Unlock()
	return ctx
}

// TraceQueryEnd does nothing.
func (r *Recorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TraceBatchStart records each statement of a pipeline.
func (r *Recorder) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	r.mu.Lock()
	for _, q := range d.Batch.QueuedQueries {
		r.stmts = append(r.stmts, Statement{q.SQL, q.Arguments})
	}
	r.mu.Unlock()
	return ctx
}

// TraceBatchQuery does nothing.
func (r *Recorder) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

// TraceBatchEnd does nothing.
func (r *Recorder) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// Statements returns what was recorded so far.
func (r *Recorder) Statements() []Statement {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.stmts)
}

// Reset forgets what was recorded.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.stmts = r.stmts[:0]
	r.mu.Unlock()
}

// checkPlans runs the hot read paths through the repository, records the
// statements they send, and EXPLAINs each against its index. On a small
// database the planner rightly prefers sequential scans, so there the check
// proves the index is usable (sequential scans disabled for the EXPLAIN).
func checkPlans(ctx context.Context, o Options) Check {
	cfg := o.Pool.Config().Copy()
	rec := &Recorder{}
	cfg.ConnConfig.Tracer = rec
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return result("query plans", false, "%v", err)
	}
	defer pool.Close()
	repo := o.Store(pool)
	var rows float64
	var taskID string
	if err := o.Pool.QueryRow(ctx, "SELECT reltuples FROM pg_class WHERE relname = 'tasks'").Scan(&rows); err != nil {
		return result("query plans", false, "%v", err)
	}
	_ = o.Pool.QueryRow(ctx, "SELECT id::text FROM tasks LIMIT 1").Scan(&taskID)
	if taskID == "" {
		taskID = "00000000-0000-0000-0000-000000000000"
	}
	admin := domain.Viewer{UserID: "00000000-0000-0000-0000-000000000000", Role: domain.RoleAdmin}
	paths := []struct {
		index string
		run   func() error
	}{
		{"tasks_created_keyset_idx", func() error {
			_, err := repo.ListTasks(ctx, domain.TaskQuery{Viewer: admin, Order: domain.DefaultTaskOrder, First: 20}, "")
			return err
		}},
		{"tasks_status_created_idx", func() error {
			_, err := repo.ListTasks(ctx, domain.TaskQuery{Viewer: admin, Order: domain.DefaultTaskOrder, First: 20,
				Filter: domain.TaskFilter{Status: []domain.TaskStatus{domain.StatusBlocked}}}, "")
			return err
		}},
		{"tasks_due_keyset_idx", func() error {
			_, err := repo.ListTasks(ctx, domain.TaskQuery{Viewer: admin, Order: domain.TaskOrder{Field: domain.OrderDueDate, Direction: domain.Asc}, First: 20}, "")
			return err
		}},
		{"tasks_number_key", func() error {
			_, err := repo.TaskBySeq(ctx, 1)
			if err != nil && domain.ErrorCode(err) == domain.ENOTFOUND {
				return nil
			}
			return err
		}},
		{"subtasks_task_position_idx", func() error { _, err := repo.SubtasksByTaskIDs(ctx, []string{taskID}, nil); return err }},
		{"task_events_task_created_idx", func() error { _, err := repo.EventsByTaskIDs(ctx, []string{taskID}, 20); return err }},
		{"tasks_search_idx", func() error { _, err := repo.SearchTasks(ctx, admin, "cache invalidation", 20, ""); return err }},
		// A user's private search candidates (the entity cache's), both sides by index.
		{"tasks_private_assignee_idx", func() error {
			ts, ok := repo.(domain.TaskSearcher)
			if !ok {
				return nil
			}
			_, err := ts.SearchCandidates(ctx, "u:"+admin.UserID, "cache invalidation")
			return err
		}},
	}
	var problems []string
	for _, p := range paths {
		rec.Reset()
		if err := p.run(); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", p.index, err))
			continue
		}
		stmts := rec.Statements()
		if len(stmts) == 0 {
			continue
		}
		// The index must serve one of the path's statements (a search
		// first walks the newest tasks, then asks the GIN index).
		var used []string
		for _, s := range stmts {
			u, _, err := Explain(ctx, o.Pool, s, rows < o.MinPlanRows)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", p.index, err))
				break
			}
			used = append(used, u...)
		}
		if !slices.Contains(used, p.index) {
			problems = append(problems, fmt.Sprintf("expected %s, plan uses %v", p.index, used))
		}
	}
	mode := "chosen by the planner"
	if rows < o.MinPlanRows {
		mode = fmt.Sprintf("usable (only %.0f tasks: sequential scans disabled for the check)", rows)
	}
	if len(problems) > 0 {
		return result("query plans", false, "%s", strings.Join(problems, "; "))
	}
	return result("query plans", true, "%d hot queries use their index, %s", len(paths), mode)
}

// Explain EXPLAINs a recorded statement and returns the indexes its plan
// uses (a partitioned index by its root's name) and the plan as JSON. With
// forceIndex, sequential scans are disabled for it, which proves an index is
// usable on a database too small for the planner to prefer it.
func Explain(ctx context.Context, pool *pgxpool.Pool, s Statement, forceIndex bool) ([]string, []byte, error) {
	var raw []byte
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if forceIndex {
			if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+s.SQL, s.Args...).Scan(&raw)
	})
	if err != nil {
		return nil, nil, err
	}
	var plan []map[string]any
	if err := json.Unmarshal(raw, &plan); err != nil {
		return nil, nil, err
	}
	var names []string
	var walk func(any)
	walk = func(n any) {
		m, _ := n.(map[string]any)
		if name, ok := m["Index Name"].(string); ok {
			names = append(names, name)
		}
		children, _ := m["Plans"].([]any)
		for _, c := range children {
			walk(c)
		}
	}
	walk(plan[0]["Plan"])
	// A partitioned index shows up as its partitions' indexes: name the root.
	rows, err := pool.Query(ctx, `SELECT DISTINCT coalesce(pg_partition_root(c.oid)::regclass::text, c.relname)
		FROM pg_class c WHERE c.relname = ANY($1)`, names)
	if err != nil {
		return nil, nil, err
	}
	used, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return used, raw, err
}

func checkPartitions(ctx context.Context, o Options) Check {
	month := time.Date(o.Now.Year(), o.Now.Month(), 1, 0, 0, 0, 0, time.UTC)
	var missing []string
	for i := 0; i <= o.MonthsAhead; i++ {
		name := fmt.Sprintf("task_events_%s", month.AddDate(0, i, 0).Format("2006_01"))
		var ok bool
		if err := o.Pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", name).Scan(&ok); err != nil {
			return result("partitions", false, "%v", err)
		}
		if !ok {
			missing = append(missing, name)
		}
	}
	var stray int64
	if err := o.Pool.QueryRow(ctx, "SELECT count(*) FROM task_events_default").Scan(&stray); err != nil {
		return result("partitions", false, "%v", err)
	}
	if len(missing) > 0 {
		return result("partitions", false, "missing %s (run herotasks maintain)", strings.Join(missing, ", "))
	}
	return result("partitions", true, "current month and %d ahead ready; %d rows in the default partition", o.MonthsAhead, stray)
}

func checkStatements(ctx context.Context, o Options) Check {
	repo := o.Store(o.Pool)
	byMean, err := repo.TopStatements(ctx, false, 1)
	if err != nil {
		return result("pg_stat_statements", false, "not available: %v", err)
	}
	byTotal, err := repo.TopStatements(ctx, true, 1)
	if err != nil || len(byMean) == 0 || len(byTotal) == 0 {
		return result("pg_stat_statements", true, "available; nothing recorded for this database yet")
	}
	m, t := byMean[0], byTotal[0]
	return result("pg_stat_statements", true, "slowest mean %.2f ms × %.0f calls: %s; most total %.0f ms: %s",
		m.MeanMs, m.Calls, shorten(m.Query), t.TotalMs, shorten(t.Query))
}

func shorten(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if len(q) > 60 {
		return q[:57] + "..."
	}
	return q
}

func checkRedis(ctx context.Context, o Options) Check {
	if o.Redis == nil {
		return result("redis", !o.ExpectRedis, "not configured")
	}
	start := time.Now()
	if err := o.Redis.Ping(ctx).Err(); err != nil {
		return result("redis", false, "unreachable: %v", err)
	}
	rtt := time.Since(start)
	policy, err := o.Redis.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		return result("redis", false, "round trip %s; CONFIG GET failed: %v", rtt.Round(time.Microsecond), err)
	}
	p := policy["maxmemory-policy"]
	sane := strings.HasPrefix(p, "allkeys-") || strings.HasPrefix(p, "volatile-")
	return result("redis", sane, "round trip %s; maxmemory-policy %s%s", rtt.Round(time.Microsecond), p,
		map[bool]string{true: "", false: " (a cache must evict: use allkeys-lru or a volatile- policy)"}[sane])
}
