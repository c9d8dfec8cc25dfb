// Package seed fills a Hero Tasks database with realistic demo data: users,
// tasks that read like real engineering work, subtasks, tags, dependencies
// and workflow history, all consistent with the schema's constraints and
// the workflow rules of package domain.
//
// The data is deterministic: the same Options.Seed, Options.Tasks and
// Options.Now written into databases in the same state (for example two
// fresh ones, or after Reset) give identical rows, uuids and task numbers
// included; only task_events.id, an identity assigned in insertion order,
// may differ (see Run). Every timestamp is derived from Options.Now, which
// defaults to the start of the current UTC day, so runs on different days
// differ unless Now is set.
//
// Rows are written with COPY, in batches, over two connections.
package seed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Options for a seed run.
type Options struct {
	Tasks    int       // number of tasks (default 1000)
	Seed     int64     // RNG seed: the same seed gives the same data (ids included)
	Reset    bool      // truncate all Hero Tasks tables (and restart task_number_seq) first
	Progress io.Writer // nil = silent; otherwise a progress display ("\rtasks 45000/100000 (45%) 1.2s")
	// Now is the reference time every timestamp is derived from: tasks are
	// created over the year before it, due dates fall around it. The zero
	// value means time.Now().UTC().Truncate(24h), so runs on the same UTC
	// day agree; set it for data that is identical on any day.
	Now time.Time
}

// Result counts the rows a run wrote. Tags counts the tags it created: tags
// that already existed (same name) are reused, not counted.
type Result struct {
	Users, Tasks, Subtasks, Tags, TaskTags, SubtaskTags, Dependencies, Events int
	Elapsed                                                                   time.Duration
}

// workers is how many connections write batches at once. Each has its own
// transaction holding whole batches, so every foreign key a batch needs is
// either in the same transaction or committed before (users and tags).
const workers = 2

// batchSize is how many tasks (with their subtasks, links and history) are
// generated and copied at a time: a function of the run size only (batch
// boundaries shape the data), small enough that small runs still use
// every worker.
func batchSize(tasks int) int { return min(5000, max(100, (tasks+15)/16)) }

// enumTypes are registered on the connections so COPY can encode Go
// strings into them in the binary format.
var enumTypes = []string{"user_role", "task_status", "task_priority", "task_type", "workflow_phase", "visibility", "task_event_kind"}

// seededTables are the Hero Tasks tables, in the order Reset names them.
var seededTables = []string{"task_events", "task_dependencies", "subtask_tags", "task_tags", "subtasks", "tags", "tasks", "users"}

// analyzeGroups split the closing VACUUM (ANALYZE) over two connections in
// about equal halves. VACUUM, not just ANALYZE: it flushes the GIN pending
// lists that a bulk load fills (until then the planner prices the search
// indexes so high that it scans tasks sequentially) and marks pages
// all-visible for index-only scans.
var analyzeGroups = [][]string{{"tasks", "task_events", "users"}, {"subtasks", "subtask_tags", "task_tags", "task_dependencies", "tags"}}

var (
	userCols    = []string{"id", "email", "name", "role", "created_at", "updated_at"}
	taskCols    = []string{"id", "number", "title", "description", "status", "priority", "type", "phase", "visibility", "due_date", "started_at", "completed_at", "estimated_hours", "actual_hours", "assignee_id", "created_by", "version", "subtask_counter", "created_at", "updated_at"}
	subtaskCols = []string{"id", "task_id", "number", "title", "description", "status", "priority", "position", "version", "completed_at", "created_at", "updated_at"}
	eventCols   = []string{"task_id", "actor_id", "kind", "from_status", "to_status", "from_phase", "to_phase", "reason", "created_at"}
)

// Run seeds the database behind pool with o.Tasks tasks and everything
// around them (max(20, Tasks/500) users, 200 tags), then vacuums and analyzes the
// tables. Without Reset it appends to existing data: new ids, new task
// numbers from task_number_seq, emails that do not collide, existing tags
// reused by name.
//
// Writing happens in two steps. First one transaction resets (with Reset),
// reserves the task numbers and writes the users and tags. Then the tasks
// are generated in batches and written over two connections, each in one
// transaction holding whole batches (a batch references only its own rows,
// the users and the tags), and the two commit at the end; on error or
// cancellation both roll back, so a failed run leaves at most the first
// step behind (and Empty still reports true). task_events ids come from an
// identity column in insertion order, which interleaves between the two
// transactions: they are the only values that differ between two otherwise
// identical runs.
//
// When the role may set session_replication_role and no user-defined
// INSERT trigger exists on the seeded tables, the writing transactions run
// with session_replication_role = replica, which skips the per-row
// foreign-key checks: about half of the database's work. Integrity holds by
// construction, and each transaction first locks the run's users and tags
// FOR KEY SHARE, as the checks would have. With such a trigger, the tasks
// are written in a single transaction with the checks (see mode).
func Run(ctx context.Context, pool *pgxpool.Pool, o Options) (Result, error) {
	start := time.Now()
	var res Result
	if o.Tasks < 0 {
		return res, errors.New("seed: Tasks must not be negative")
	}
	if o.Tasks == 0 {
		o.Tasks = 1000
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now().UTC().Truncate(day)
	}
	now = now.UTC().Truncate(time.Second)
	prog := &progress{w: o.Progress, start: start, total: o.Tasks}
	size := batchSize(o.Tasks)

	// Connections of our own: the enum types registered on them for COPY
	// and session settings must not leak into the pool.
	var conns []*pgx.Conn
	defer func() {
		for _, c := range conns {
			c.Close(context.WithoutCancel(ctx))
		}
	}()
	for range min(workers, (o.Tasks+size-1)/size) {
		pc, err := pool.Acquire(ctx)
		if err != nil {
			return res, fmt.Errorf("seed: %w", err)
		}
		c := pc.Hijack()
		conns = append(conns, c)
		types, err := c.LoadTypes(ctx, enumTypes)
		if err != nil {
			return res, fmt.Errorf("seed: load enum types: %w", err)
		}
		c.TypeMap().RegisterTypes(types)
	}

	var g *gen
	err := pgx.BeginFunc(ctx, conns[0], func(tx pgx.Tx) (err error) {
		g, err = setup(ctx, tx, o, now, &res)
		return err
	})
	if err != nil {
		return res, prog.fail(fmt.Errorf("seed: %w", err))
	}
	n, skip, err := mode(ctx, conns)
	if err != nil {
		return res, prog.fail(fmt.Errorf("seed: %w", err))
	}
	prog.add(0)
	if err := write(ctx, conns[:n], g, o.Tasks, size, skip, prog, &res); err != nil {
		return res, prog.fail(fmt.Errorf("seed: %w", err))
	}

	prog.status("vacuuming")
	if err := parallel(ctx, conns, len(analyzeGroups), func(ctx context.Context, c *pgx.Conn, i int) error {
		_, err := c.Exec(ctx, "VACUUM (ANALYZE) "+identList(analyzeGroups[i]))
		return err
	}); err != nil {
		return res, prog.fail(fmt.Errorf("seed: analyze: %w", err))
	}
	res.Elapsed = time.Since(start)
	prog.done()
	return res, nil
}

// setup resets (with Reset), reserves the task numbers, writes the users
// and the tags, and returns the generator for the tasks.
func setup(ctx context.Context, tx pgx.Tx, o Options, now time.Time, res *Result) (*gen, error) {
	if o.Reset {
		if _, err := tx.Exec(ctx, "TRUNCATE "+identList(seededTables)+" RESTART IDENTITY CASCADE"); err != nil {
			return nil, fmt.Errorf("reset: %w", err)
		}
		if _, err := tx.Exec(ctx, "ALTER SEQUENCE task_number_seq RESTART"); err != nil {
			return nil, fmt.Errorf("reset: %w", err)
		}
	}

	// Task numbers: a block from the sequence. Concurrent createTask calls
	// may interleave, but every number is unique.
	rows, _ := tx.Query(ctx, "SELECT nextval('task_number_seq') FROM generate_series(1, $1)", o.Tasks)
	numbers, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("reserve task numbers: %w", err)
	}
	slices.Sort(numbers)

	// The first number keys the random stream, so appending to a database
	// with the same seed never repeats ids.
	g := newGen(o.Seed, numbers[0], now)
	g.numbers = numbers

	// Users.
	rows, _ = tx.Query(ctx, "SELECT lower(email) FROM users")
	emails, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	taken := make(map[string]bool, len(emails))
	for _, e := range emails {
		taken[e] = true
	}
	g.makeUsers(max(20, o.Tasks/500), taken)
	urows := make([][]any, len(g.users))
	for i, u := range g.users {
		urows[i] = []any{[16]byte(u.id), u.email, u.name, string(u.role), u.createdAt, u.createdAt}
	}
	if res.Users, err = copyRows(ctx, tx, "users", userCols, urows); err != nil {
		return nil, err
	}

	// Tags: insert the missing ones, then use the stored ids.
	tags := g.makeTags()
	ids, names, colors, created := make([][16]byte, len(tags)), make([]string, len(tags)), make([]string, len(tags)), make([]time.Time, len(tags))
	for i, t := range tags {
		ids[i], names[i], colors[i], created[i] = t.id, t.name, domain.TagColor(t.name), t.createdAt
	}
	tag, err := tx.Exec(ctx, `INSERT INTO tags (id, name, color, created_at)
		SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[])
		ON CONFLICT (name) DO NOTHING`, ids, names, colors, created)
	if err != nil {
		return nil, fmt.Errorf("insert tags: %w", err)
	}
	res.Tags = int(tag.RowsAffected())
	rows, _ = tx.Query(ctx, "SELECT id, name, created_at FROM tags WHERE name = ANY($1)", names)
	stored, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tagRef, error) {
		var t tagRef
		err := r.Scan(&t.id, &t.name, &t.createdAt)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("read tags: %w", err)
	}
	byName := make(map[string]tagRef, len(stored))
	for _, t := range stored {
		byName[t.name] = t
	}
	for i, t := range tags {
		s, ok := byName[t.name]
		if !ok {
			return nil, fmt.Errorf("tag %q missing after insert", t.name)
		}
		tags[i] = s
	}
	g.useTags(tags)
	g.makeCreated(o.Tasks)
	return g, nil
}

// skipChecksAllowed lets Run skip foreign-key checks when it safely can;
// tests switch it off to exercise the checked path.
var skipChecksAllowed = true

// mode decides how the tasks are written: over how many of the connections
// and whether with session_replication_role = replica, which skips the
// per-row foreign-key checks. With a user-defined INSERT trigger on a
// seeded table (or a partition) it keeps the checks, since replica mode
// would skip the trigger too, and uses one transaction, since the trigger
// might lock rows the other transaction would then wait for until the
// end. Otherwise it switches to replica mode if the role may (a superuser
// or, from PostgreSQL 16, a role granted SET on the parameter).
func mode(ctx context.Context, conns []*pgx.Conn) (n int, skip bool, err error) {
	var triggers int
	err = conns[0].QueryRow(ctx, `WITH rel AS (SELECT unnest($1::text[])::regclass::oid AS oid)
		SELECT count(*) FROM pg_trigger
		WHERE NOT tgisinternal AND tgenabled <> 'D' AND tgtype & 4 <> 0
			AND tgrelid IN (SELECT oid FROM rel UNION SELECT inhrelid FROM pg_inherits WHERE inhparent IN (SELECT oid FROM rel))`,
		seededTables).Scan(&triggers)
	if err != nil {
		return 0, false, fmt.Errorf("read triggers: %w", err)
	}
	if triggers > 0 {
		return 1, false, nil
	}
	if !skipChecksAllowed {
		return len(conns), false, nil
	}
	for i, c := range conns {
		if _, err := c.Exec(ctx, "SET session_replication_role = replica"); err != nil {
			// Not allowed: undo on the others and keep the checks.
			for _, c := range conns[:i] {
				if _, err := c.Exec(ctx, "RESET session_replication_role"); err != nil {
					return 0, false, err
				}
			}
			return len(conns), false, nil
		}
	}
	return len(conns), true, nil
}

// write generates the tasks batch by batch and copies the batches over the
// connections, one transaction each, committed together at the end.
func write(ctx context.Context, conns []*pgx.Conn, g *gen, tasks, size int, skipChecks bool, prog *progress, res *Result) error {
	txs := make([]pgx.Tx, 0, len(conns))
	defer func() {
		for _, tx := range txs {
			_ = tx.Rollback(context.WithoutCancel(ctx)) // no-op once committed
		}
	}()
	userIDs := make([][16]byte, len(g.users))
	for i, u := range g.users {
		userIDs[i] = u.id
	}
	tagIDs := make([][16]byte, len(g.tags))
	for i, t := range g.tags {
		tagIDs[i] = t.id
	}
	for _, c := range conns {
		tx, err := c.Begin(ctx)
		if err != nil {
			return err
		}
		txs = append(txs, tx)
		if skipChecks { // take the locks the skipped checks would have taken
			for _, l := range []struct {
				table string
				ids   [][16]byte
			}{{"users", userIDs}, {"tags", tagIDs}} {
				ct, err := tx.Exec(ctx, "SELECT FROM "+l.table+" WHERE id = ANY($1) FOR KEY SHARE", l.ids)
				if err != nil {
					return fmt.Errorf("lock %s: %w", l.table, err)
				}
				if int(ct.RowsAffected()) != len(l.ids) {
					return fmt.Errorf("lock %s: some were deleted while seeding", l.table)
				}
			}
		}
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	batches := make(chan *batch, len(conns))
	go func() { // generate one batch ahead of each writer
		defer close(batches)
		for lo := 0; lo < tasks; lo += size {
			b := g.makeBatch(lo, min(lo+size, tasks))
			select {
			case batches <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	counts := make([]Result, len(txs))
	var wg sync.WaitGroup
	for i, tx := range txs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				if err := copyBatch(ctx, tx, b, &counts[i]); err != nil {
					cancel(err)
					return
				}
				prog.add(b.n)
			}
		}()
	}
	wg.Wait()
	for range batches { // after an error: let the generator finish
	}
	if err := context.Cause(ctx); err != nil {
		return err
	}

	prog.status("committing")
	for i, tx := range txs {
		if err := tx.Commit(ctx); err != nil {
			if i > 0 {
				return fmt.Errorf("commit: %w (%d of %d transactions had committed: the data is incomplete)", err, i, len(txs))
			}
			return fmt.Errorf("commit: %w", err)
		}
	}
	for _, c := range counts {
		res.Tasks += c.Tasks
		res.Subtasks += c.Subtasks
		res.TaskTags += c.TaskTags
		res.SubtaskTags += c.SubtaskTags
		res.Dependencies += c.Dependencies
		res.Events += c.Events
	}
	return nil
}

// copyBatch writes a batch, parents before children.
func copyBatch(ctx context.Context, tx pgx.Tx, b *batch, res *Result) error {
	for _, c := range []struct {
		table string
		cols  []string
		rows  [][]any
		n     *int
	}{
		{"tasks", taskCols, b.tasks, &res.Tasks},
		{"subtasks", subtaskCols, b.subtasks, &res.Subtasks},
		{"task_tags", []string{"task_id", "tag_id", "created_at"}, b.taskTags, &res.TaskTags},
		{"subtask_tags", []string{"subtask_id", "tag_id", "created_at"}, b.subtaskTags, &res.SubtaskTags},
		{"task_dependencies", []string{"task_id", "depends_on_id", "created_at"}, b.deps, &res.Dependencies},
		{"task_events", eventCols, b.events, &res.Events},
	} {
		n, err := copyRows(ctx, tx, c.table, c.cols, c.rows)
		if err != nil {
			return err
		}
		*c.n += n
	}
	return nil
}

// parallel runs fn(i) for i in [0, n) over the connections, at most one
// call per connection at a time, and returns the first error.
func parallel(ctx context.Context, conns []*pgx.Conn, n int, fn func(context.Context, *pgx.Conn, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for w, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += len(conns) {
				if err := fn(ctx, c, i); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return context.Cause(ctx)
}

func copyRows(ctx context.Context, tx pgx.Tx, table string, cols []string, rows [][]any) (int, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
	if err != nil {
		return int(n), fmt.Errorf("copy %s: %w", table, err)
	}
	return int(n), nil
}

func identList(names []string) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = pgx.Identifier{n}.Sanitize()
	}
	return strings.Join(s, ", ")
}

// Empty reports whether the tasks table has no rows (make run seeds only an
// empty database).
func Empty(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	var empty bool
	if err := pool.QueryRow(ctx, "SELECT NOT EXISTS (SELECT 1 FROM tasks)").Scan(&empty); err != nil {
		return false, fmt.Errorf("seed: %w", err)
	}
	return empty, nil
}

// progress draws a one-line progress display, at most every 100ms.
type progress struct {
	w     io.Writer
	start time.Time
	total int

	mu    sync.Mutex
	count int
	last  time.Time
}

func (p *progress) line(suffix string) {
	fmt.Fprintf(p.w, "\rtasks %d/%d (%d%%) %.1fs%s", p.count, p.total, p.count*100/p.total,
		time.Since(p.start).Seconds(), suffix)
}

// add counts n more tasks written.
func (p *progress) add(n int) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.count += n
	if p.count < p.total && time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.line("")
}

func (p *progress) status(s string) {
	if p.w != nil {
		p.line(", " + s + "   ")
	}
}

func (p *progress) done() {
	if p.w != nil {
		p.line(", done         \n")
	}
}

// fail ends the display and returns err.
func (p *progress) fail(err error) error {
	if p.w != nil {
		p.line(", failed       \n")
	}
	return err
}
