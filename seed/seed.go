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
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
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

// UserCount is how many users a run of tasks tasks creates: 20, or one per
// 250 tasks beyond 5,000 (a person's year of tasks), so that 10,000 tasks
// have 40 users, about 24 of whom write and own private tasks: enough for
// the 20+ signed-in users of the mix-frontend benchmark (bench/frontend.go).
func UserCount(tasks int) int { return max(20, tasks/250) }

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
	eventCols   = []string{"task_id", "actor_id", "kind", "from_status", "to_status", "from_phase", "to_phase", "reason", "created_at",
		"field", "old_value", "new_value", "subtask_id"}
)

// Run seeds the database behind pool with o.Tasks tasks and everything
// around them (UserCount(Tasks) users, 200 tags), then vacuums and analyzes the
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
func Run(ctx context.Context, pool *pgxpool.Pool, o Options) (res Result, err error) {
	start := time.Now()
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
	bulk := o.Reset && o.Tasks >= bulkMin

	// Connections of our own: the enum types registered on them for COPY
	// and session settings must not leak into the pool.
	nconns := min(workers, (o.Tasks+size-1)/size)
	if bulk {
		nconns = len(bulkGroups)
	}
	conns, err := hijack(ctx, pool, nconns)
	defer closeAll(ctx, conns)
	if err != nil {
		return res, fmt.Errorf("seed: %w", err)
	}
	if bulk {
		// A user-defined INSERT trigger must see the rows arrive as they
		// would one by one (see mode): no bulk load then.
		triggers, err := insertTriggers(ctx, conns[0])
		if err != nil {
			return res, fmt.Errorf("seed: %w", err)
		}
		bulk = triggers == 0
	}
	if !bulk { // finish what a failed bulk run left
		if _, err := rebuild(ctx, conns, prog); err != nil {
			return res, prog.fail(fmt.Errorf("seed: rebuild after an unfinished bulk load: %w", err))
		}
	}

	var g *gen
	err = pgx.BeginFunc(ctx, conns[0], func(tx pgx.Tx) (err error) {
		g, err = setup(ctx, tx, o, now, &res)
		if err == nil && bulk {
			err = dropForBulk(ctx, tx)
		}
		return err
	})
	if err != nil {
		return res, prog.fail(fmt.Errorf("seed: %w", err))
	}
	if bulk {
		// From here on a failure must not leave the tables without their
		// indexes and constraints: rebuild them on fresh connections (the
		// failed ones may be gone) even when ctx is cancelled.
		defer func() {
			if err != nil {
				fmt.Fprintf(prog.writer(), "seed failed; rebuilding indexes and constraints\n")
				if _, rerr := Repair(context.WithoutCancel(ctx), pool); rerr != nil {
					err = fmt.Errorf("%w; and indexes and constraints are still missing (herotasks seed --repair rebuilds them): %w", err, rerr)
				}
			}
		}()
	}
	n, skip, err := mode(ctx, conns)
	if err != nil {
		return res, prog.fail(fmt.Errorf("seed: %w", err))
	}
	prog.add(0)
	if err := write(ctx, conns[:n], g, o.Tasks, size, skip, bulk, prog, &res); err != nil {
		return res, prog.fail(fmt.Errorf("seed: %w", err))
	}

	// VACUUM, not just ANALYZE: it flushes the GIN pending lists that a
	// load into indexed tables fills (until then the planner prices the
	// search indexes so high that it scans tasks sequentially) and marks
	// pages all-visible for index-only scans. A bulk load froze the rows of
	// every table but the partitioned task_events as it wrote them, so only
	// that one needs a VACUUM (before its indexes exist); the others are
	// analyzed before the index builds (whose schedule reads the row
	// counts), and tasks again after (statistics of expression indexes).
	prog.status("vacuuming")
	groups, pre := analyzeGroups, "VACUUM (ANALYZE) "
	if bulk {
		groups = [][]string{{"task_events", "users", "tags"}, {"tasks", "subtasks", "subtask_tags", "task_tags", "task_dependencies"}}
	}
	if err := parallel(ctx, conns, len(groups), func(ctx context.Context, c *pgx.Conn, i int) error {
		stmt := pre + identList(groups[i])
		if bulk && i > 0 {
			stmt = "ANALYZE " + identList(groups[i])
		}
		_, err := c.Exec(ctx, stmt)
		return err
	}); err != nil {
		return res, prog.fail(fmt.Errorf("seed: vacuum: %w", err))
	}
	if bulk {
		if _, err := rebuild(ctx, conns, prog); err != nil {
			return res, prog.fail(fmt.Errorf("seed: %w", err))
		}
		if _, err := conns[0].Exec(ctx, "ANALYZE tasks"); err != nil {
			return res, prog.fail(fmt.Errorf("seed: analyze: %w", err))
		}
	}
	// The search vocabulary (migration 00008) from a sample of the tasks:
	// the seed's words all show up in 20,000 of them.
	if _, err := conns[0].Exec(ctx, "SELECT refresh_search_words(20000)"); err != nil {
		return res, prog.fail(fmt.Errorf("seed: search vocabulary: %w", err))
	}
	res.Elapsed = time.Since(start)
	prog.done()
	return res, nil
}

// hijack takes n connections out of pool, with the enum types registered
// for COPY. On error it returns the ones it took, for closeAll.
func hijack(ctx context.Context, pool *pgxpool.Pool, n int) ([]*pgx.Conn, error) {
	var conns []*pgx.Conn
	for range n {
		pc, err := pool.Acquire(ctx)
		if err != nil {
			return conns, err
		}
		c := pc.Hijack()
		conns = append(conns, c)
		types, err := c.LoadTypes(ctx, enumTypes)
		if err != nil {
			return conns, fmt.Errorf("load enum types: %w", err)
		}
		c.TypeMap().RegisterTypes(types)
	}
	return conns, nil
}

func closeAll(ctx context.Context, conns []*pgx.Conn) {
	for _, c := range conns {
		c.Close(context.WithoutCancel(ctx))
	}
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
	g.makeUsers(UserCount(o.Tasks), taken)
	urows := make([][]any, len(g.users))
	for i, u := range g.users {
		urows[i] = []any{[16]byte(u.id), u.email, u.name, string(u.role), u.createdAt, u.createdAt}
	}
	if res.Users, err = copyRows(ctx, tx, "users", userCols, urows, false); err != nil {
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
	triggers, err := insertTriggers(ctx, conns[0])
	if err != nil {
		return 0, false, err
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

// insertTriggers counts the enabled user-defined INSERT triggers on the
// seeded tables and their partitions.
func insertTriggers(ctx context.Context, c *pgx.Conn) (int, error) {
	var triggers int
	err := c.QueryRow(ctx, `WITH rel AS (SELECT unnest($1::text[])::regclass::oid AS oid)
		SELECT count(*) FROM pg_trigger
		WHERE NOT tgisinternal AND tgenabled <> 'D' AND tgtype & 4 <> 0
			AND tgrelid IN (SELECT oid FROM rel UNION SELECT inhrelid FROM pg_inherits WHERE inhparent IN (SELECT oid FROM rel))`,
		seededTables).Scan(&triggers)
	if err != nil {
		return 0, fmt.Errorf("read triggers: %w", err)
	}
	return triggers, nil
}

// bulkGroups are the tables each connection writes in a bulk load: every
// table is written by one transaction that truncates it first, which lets
// COPY freeze the rows (no VACUUM needed for hint bits or the visibility
// map afterwards). Grouped so the database's work is about even.
var bulkGroups = [][]string{{"tasks", "task_dependencies"}, {"subtasks", "task_tags"}, {"subtask_tags", "task_events"}}

// write generates the tasks batch by batch and copies the batches over the
// connections, one transaction each, committed together at the end. In a
// bulk load connection i writes the tables of bulkGroups[i] of every
// batch; otherwise each connection writes whole batches in turn.
func write(ctx context.Context, conns []*pgx.Conn, g *gen, tasks, size int, skipChecks, bulk bool, prog *progress, res *Result) error {
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
	for i, c := range conns {
		tx, err := c.Begin(ctx)
		if err != nil {
			return err
		}
		txs = append(txs, tx)
		if bulk {
			if _, err := tx.Exec(ctx, "TRUNCATE "+identList(bulkGroups[i])); err != nil {
				return err
			}
		}
		if skipChecks || bulk { // take the locks the skipped checks would have taken
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
	// One channel per connection: a bulk load sends every batch to each,
	// otherwise a batch goes to whichever connection takes it first.
	queues := make([]chan *batch, len(conns))
	for i := range queues {
		queues[i] = make(chan *batch, 2)
		if !bulk && i > 0 {
			queues[i] = queues[0]
		}
	}
	go func() { // generate ahead of the writers
		defer func() {
			for i, q := range queues {
				if bulk || i == 0 {
					close(q)
				}
			}
		}()
		for lo := 0; lo < tasks; lo += size {
			b := g.makeBatch(lo, min(lo+size, tasks))
			for i, q := range queues {
				if !bulk && i > 0 {
					break
				}
				select {
				case q <- b:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	counts := make([]Result, len(txs))
	var wg sync.WaitGroup
	for i, tx := range txs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var only []string
			if bulk {
				only = bulkGroups[i]
			}
			for b := range queues[i] {
				if err := copyBatch(ctx, tx, b, only, &counts[i]); err != nil {
					cancel(err)
					return
				}
				if !bulk || i == 0 {
					prog.add(b.n)
				}
			}
		}()
	}
	wg.Wait()
	for _, q := range queues { // after an error: let the generator finish
		for range q {
		}
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

// copyBatch writes a batch, parents before children; only the tables in
// only, when it is not empty, with COPY FREEZE (the transaction truncated
// them).
func copyBatch(ctx context.Context, tx pgx.Tx, b *batch, only []string, res *Result) error {
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
		if len(only) > 0 && !slices.Contains(only, c.table) {
			continue
		}
		// A partitioned table cannot be copied FREEZE.
		n, err := copyRows(ctx, tx, c.table, c.cols, c.rows, len(only) > 0 && c.table != "task_events")
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

// copyRows writes rows with a binary COPY, encoded here so that FREEZE
// can be asked for (pgx's CopyFrom cannot).
func copyRows(ctx context.Context, tx pgx.Tx, table string, cols []string, rows [][]any, freeze bool) (int, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	c := tx.Conn()
	oids, err := columnTypes(ctx, c, table, cols)
	if err != nil {
		return 0, fmt.Errorf("copy %s: %w", table, err)
	}
	buf := make([]byte, 0, len(rows)*len(cols)*16+32)
	buf = append(buf, "PGCOPY\n\377\r\n\000"...)
	buf = binary.BigEndian.AppendUint32(buf, 0) // flags
	buf = binary.BigEndian.AppendUint32(buf, 0) // header extension
	m := c.TypeMap()
	for _, row := range rows {
		buf = binary.BigEndian.AppendUint16(buf, uint16(len(row)))
		for i, v := range row {
			at := len(buf)
			buf = binary.BigEndian.AppendUint32(buf, 0)
			out, err := m.Encode(oids[i], pgtype.BinaryFormatCode, v, buf)
			if err != nil {
				return 0, fmt.Errorf("copy %s: encode %s: %w", table, cols[i], err)
			}
			if out == nil { // NULL
				binary.BigEndian.PutUint32(buf[at:], math.MaxUint32)
				continue
			}
			binary.BigEndian.PutUint32(out[at:], uint32(len(out)-at-4))
			buf = out
		}
	}
	buf = binary.BigEndian.AppendUint16(buf, math.MaxUint16) // trailer: -1
	quoted := make([]string, len(cols))
	for i, col := range cols {
		quoted[i] = pgx.Identifier{col}.Sanitize()
	}
	opts := "FORMAT binary"
	if freeze {
		opts += ", FREEZE"
	}
	tag, err := c.PgConn().CopyFrom(ctx, bytes.NewReader(buf),
		"COPY "+pgx.Identifier{table}.Sanitize()+" ("+strings.Join(quoted, ", ")+") FROM STDIN ("+opts+")")
	if err != nil {
		return int(tag.RowsAffected()), fmt.Errorf("copy %s: %w", table, err)
	}
	return int(tag.RowsAffected()), nil
}

// columnTypes returns the type oids of a table's columns.
func columnTypes(ctx context.Context, c *pgx.Conn, table string, cols []string) ([]uint32, error) {
	rows, _ := c.Query(ctx, `SELECT a.atttypid FROM unnest($2::text[]) WITH ORDINALITY AS k(name, i)
		JOIN pg_attribute a ON a.attrelid = $1::regclass AND a.attname = k.name AND NOT a.attisdropped ORDER BY k.i`, table, cols)
	oids, err := pgx.CollectRows(rows, pgx.RowTo[uint32])
	if err != nil {
		return nil, err
	}
	if len(oids) != len(cols) {
		return nil, fmt.Errorf("%s has %d of the columns %v", table, len(oids), cols)
	}
	return oids, nil
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
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.line(", " + s + "   ")
}

// writer is where the display goes (io.Discard when silent).
func (p *progress) writer() io.Writer {
	if p == nil || p.w == nil {
		return io.Discard
	}
	return p.w
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
