package seed

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A bulk load (Reset with at least bulkMin tasks) writes into tables without
// their indexes and constraints and builds those afterwards: sorting a
// million keys once is far cheaper than keeping twenty indexes (two of them
// GIN) up to date row by row, and the keys of the rows are random uuids,
// whose B-tree inserts land all over indexes larger than shared_buffers.
//
// What is dropped is read from the catalog, not written down here, so the
// rebuild is exactly what the migrations made (names included). It is
// recorded in seed_deferred_ddl in the same transaction as the drops: a run
// that fails rebuilds before it returns, and a run that is killed leaves
// the rows behind, which the next run (or Repair) rebuilds from and
// `herotasks verify` reports.

// bulkTables are the large tables a bulk load strips; users and tags stay
// as they are (they are small, and setup upserts tags by name).
var bulkTables = []string{"tasks", "subtasks", "task_tags", "subtask_tags", "task_dependencies", "task_events"}

// bulkMin is the smallest Reset run that loads in bulk: below it, the
// rebuild costs more than the row-by-row maintenance it saves.
var bulkMin = 20000

// deferCapture records, for the bulk tables, every foreign key that
// involves them (either side), their primary keys and unique constraints,
// and their other valid indexes (an invalid one, a failed concurrent build,
// is left for the migrations to clean up). Constraint and index children of
// task_events' partitions go with their parents. A partitioned parent's
// index is recorded without ONLY, so the rebuild covers the partitions.
const deferCapture = `
WITH rel AS (SELECT unnest($1::text[])::regclass AS oid),
found AS (
	SELECT 'fkey' AS kind, c.conrelid::regclass::text AS table_name, c.conname::text AS name,
		pg_get_constraintdef(c.oid) AS definition, NULL AS index_definition
	FROM pg_constraint c
	WHERE c.contype = 'f' AND c.conparentid = 0 AND (c.conrelid IN (SELECT oid FROM rel) OR c.confrelid IN (SELECT oid FROM rel))
	UNION ALL
	SELECT 'key', c.conrelid::regclass::text, c.conname::text, pg_get_constraintdef(c.oid),
		CASE WHEN t.relkind = 'r' THEN pg_get_indexdef(c.conindid) END
	FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
	WHERE c.contype IN ('p', 'u') AND c.conparentid = 0 AND c.conrelid IN (SELECT oid FROM rel)
	UNION ALL
	SELECT 'index', i.indrelid::regclass::text, ic.relname::text, replace(pg_get_indexdef(i.indexrelid), ' ON ONLY ', ' ON '), NULL
	FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
	WHERE i.indrelid IN (SELECT oid FROM rel) AND i.indisvalid
		AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x'))
)
INSERT INTO seed_deferred_ddl (kind, table_name, name, definition, index_definition)
SELECT * FROM found
ON CONFLICT DO NOTHING`

// deferred is one row of seed_deferred_ddl.
type deferred struct {
	kind, table, name, def string
	indexDef               *string // a key's own index (not for partitioned tables)
	partitioned            bool
	cost                   float64 // estimated build cost, for scheduling
}

// dropForBulk records and drops, inside tx, the indexes and constraints of
// the bulk tables (see deferCapture); foreign keys first, then the keys
// they reference, then the indexes. Rows left by an earlier run that did
// not finish stay recorded: what they name is already gone.
func dropForBulk(ctx context.Context, tx pgx.Tx) error {
	before, err := pendingDDL(ctx, tx)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, deferCapture, bulkTables); err != nil {
		return fmt.Errorf("record indexes and constraints: %w", err)
	}
	all, err := pendingDDL(ctx, tx)
	if err != nil {
		return err
	}
	old := make(map[[2]string]bool, len(before))
	for _, d := range before {
		old[[2]string{d.table, d.name}] = true
	}
	order := map[string]int{"fkey": 0, "key": 1, "index": 2}
	slices.SortStableFunc(all, func(a, b deferred) int { return cmp.Compare(order[a.kind], order[b.kind]) })
	for _, d := range all {
		if old[[2]string{d.table, d.name}] {
			continue
		}
		stmt := "ALTER TABLE " + d.table + " DROP CONSTRAINT " + pgx.Identifier{d.name}.Sanitize()
		if d.kind == "index" {
			stmt = "DROP INDEX " + indexIdent(d)
		}
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("drop %s %s: %w", d.kind, d.name, err)
		}
	}
	return nil
}

// indexIdent names d's index in its table's schema.
func indexIdent(d deferred) string {
	if schema, _, ok := strings.Cut(d.table, "."); ok {
		return schema + "." + pgx.Identifier{d.name}.Sanitize()
	}
	return pgx.Identifier{d.name}.Sanitize()
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// pendingDDL reads seed_deferred_ddl, with each entry's estimated cost:
// the table's row estimate, weighted for GIN builds.
func pendingDDL(ctx context.Context, q querier) ([]deferred, error) {
	rows, _ := q.Query(ctx, "SELECT to_regclass('seed_deferred_ddl') IS NOT NULL")
	migrated, err := pgx.CollectExactlyOneRow(rows, pgx.RowTo[bool])
	if err != nil || !migrated { // before migration 00007 nothing can be pending
		return nil, err
	}
	rows, _ = q.Query(ctx, `SELECT d.kind, d.table_name, d.name, d.definition, d.index_definition, coalesce(c.relkind = 'p', false),
			greatest(c.reltuples, 0) * CASE WHEN d.definition LIKE '% USING gin %' THEN 12 ELSE 1 END
		FROM seed_deferred_ddl d LEFT JOIN pg_class c ON c.oid = to_regclass(d.table_name)
		ORDER BY d.table_name, d.name`)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (deferred, error) {
		var d deferred
		err := r.Scan(&d.kind, &d.table, &d.name, &d.def, &d.indexDef, &d.partitioned, &d.cost)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("read seed_deferred_ddl: %w", err)
	}
	return out, nil
}

// Pending lists the indexes and constraints a bulk seed dropped and has not
// rebuilt yet (as "table.name"): empty unless a run failed or was killed.
func Pending(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	ds, err := pendingDDL(ctx, pool)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.table + "." + d.name
	}
	return out, nil
}

// Repair rebuilds whatever a failed bulk seed left dropped, and returns how
// many indexes and constraints it rebuilt.
func Repair(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	conns, err := hijack(ctx, pool, workers)
	defer closeAll(ctx, conns)
	if err != nil {
		return 0, fmt.Errorf("seed: %w", err)
	}
	n, err := rebuild(ctx, conns, nil)
	if err != nil {
		return n, fmt.Errorf("seed: %w", err)
	}
	return n, nil
}

// rebuild runs what seed_deferred_ddl holds over the connections: keys and
// indexes first, longest first, then the foreign keys (added NOT VALID one
// at a time, which is instant, then validated in parallel: validation locks
// do not conflict with each other). Each entry is deleted once its object
// exists, and an object that already exists is not built again, so a
// rebuild that stops half-way can simply be run again.
func rebuild(ctx context.Context, conns []*pgx.Conn, prog *progress) (int, error) {
	all, err := pendingDDL(ctx, conns[0])
	if err != nil || len(all) == 0 {
		return 0, err
	}
	for _, c := range conns {
		// Session settings for the builds: sorts in memory, no parallel
		// workers (the connections already keep the cores busy), and wait
		// for locks: a partitioned table's key locks it against the other
		// builds on it until done.
		if _, err := c.Exec(ctx, "SET maintenance_work_mem = '512MB'; SET max_parallel_maintenance_workers = 0; SET lock_timeout = 0"); err != nil {
			return 0, err
		}
	}
	var builds, fkeys []deferred
	for _, d := range all {
		if d.kind == "fkey" {
			fkeys = append(fkeys, d)
		} else {
			builds = append(builds, d)
		}
	}
	// Longest first, except that a key of a partitioned table goes before
	// everything: it locks its table until done, so it must not wait
	// behind (and then hold up) the other builds on that table.
	first := func(d deferred) bool { return d.kind == "key" && d.indexDef == nil }
	slices.SortStableFunc(builds, func(a, b deferred) int {
		if first(a) != first(b) {
			if first(a) {
				return -1
			}
			return 1
		}
		return cmp.Compare(b.cost, a.cost)
	})
	var done atomic.Int64
	finished := func(ctx context.Context, c *pgx.Conn, d deferred) error {
		if _, err := c.Exec(ctx, "DELETE FROM seed_deferred_ddl WHERE table_name = $1 AND name = $2", d.table, d.name); err != nil {
			return err
		}
		prog.status(fmt.Sprintf("indexes and constraints %d/%d", done.Add(1), len(all)))
		return nil
	}
	err = queue(ctx, conns, len(builds), func(ctx context.Context, c *pgx.Conn, i int) error {
		d := builds[i]
		exists, err := ddlExists(ctx, c, d)
		if err != nil {
			return err
		}
		if !exists {
			if err := build(ctx, c, d); err != nil {
				return fmt.Errorf("rebuild %s: %w", d.name, err)
			}
		}
		return finished(ctx, c, d)
	})
	if err != nil {
		return int(done.Load()), err
	}
	// A partitioned table cannot take a NOT VALID foreign key: it is added
	// (and validated) in one step, in the parallel queue.
	for _, d := range fkeys {
		if d.partitioned {
			continue
		}
		exists, err := ddlExists(ctx, conns[0], d)
		if err != nil {
			return int(done.Load()), err
		}
		if !exists {
			stmt := "ALTER TABLE " + d.table + " ADD CONSTRAINT " + pgx.Identifier{d.name}.Sanitize() + " " + d.def + " NOT VALID"
			if _, err := conns[0].Exec(ctx, stmt); err != nil {
				return int(done.Load()), fmt.Errorf("rebuild %s: %w", d.name, err)
			}
		}
	}
	slices.SortStableFunc(fkeys, func(a, b deferred) int { return cmp.Compare(b.cost, a.cost) })
	err = queue(ctx, conns, len(fkeys), func(ctx context.Context, c *pgx.Conn, i int) error {
		d := fkeys[i]
		stmt := "ALTER TABLE " + d.table + " VALIDATE CONSTRAINT " + pgx.Identifier{d.name}.Sanitize()
		if d.partitioned {
			exists, err := ddlExists(ctx, c, d)
			if err != nil {
				return err
			}
			if exists {
				return finished(ctx, c, d)
			}
			stmt = "ALTER TABLE " + d.table + " ADD CONSTRAINT " + pgx.Identifier{d.name}.Sanitize() + " " + d.def
		}
		if _, err := c.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("validate %s: %w", d.name, err)
		}
		return finished(ctx, c, d)
	})
	return int(done.Load()), err
}

// build makes an index or key. A key on a plain table is built as a unique
// index first (a SHARE lock, which lets the table's other indexes build at
// the same time) and then attached, which is instant; on a partitioned
// table, where that is not supported, it is added directly.
func build(ctx context.Context, c *pgx.Conn, d deferred) error {
	if d.kind == "index" {
		_, err := c.Exec(ctx, d.def)
		return err
	}
	add := "ALTER TABLE " + d.table + " ADD CONSTRAINT " + pgx.Identifier{d.name}.Sanitize() + " "
	if d.indexDef == nil {
		_, err := c.Exec(ctx, add+d.def)
		return err
	}
	kind, _, _ := strings.Cut(d.def, " (") // PRIMARY KEY or UNIQUE
	var have bool
	if err := c.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", indexIdent(d)).Scan(&have); err != nil {
		return err
	}
	if !have {
		if _, err := c.Exec(ctx, *d.indexDef); err != nil {
			return err
		}
	}
	_, err := c.Exec(ctx, add+kind+" USING INDEX "+pgx.Identifier{d.name}.Sanitize())
	return err
}

// ddlExists reports whether d's object is already there.
func ddlExists(ctx context.Context, c *pgx.Conn, d deferred) (bool, error) {
	var ok bool
	var err error
	if d.kind == "index" {
		err = c.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", indexIdent(d)).Scan(&ok)
	} else {
		err = c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $2)", d.table, d.name).Scan(&ok)
	}
	return ok, err
}

// queue runs fn(i) for i in [0, n) in order over the connections, each
// taking the next item when it is free, and returns the first error.
func queue(ctx context.Context, conns []*pgx.Conn, n int, fn func(context.Context, *pgx.Conn, int) error) error {
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	return parallel(ctx, conns, len(conns), func(ctx context.Context, c *pgx.Conn, _ int) error {
		for i := range next {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			if err := fn(ctx, c, i); err != nil {
				return err
			}
		}
		return nil
	})
}
