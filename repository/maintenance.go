package repository

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
)

// MaintenanceOptions say how far ahead and back maintenance looks.
type MaintenanceOptions struct {
	MonthsAhead     int // history partitions to keep ready after the current month
	RetentionMonths int // history months kept; older partitions are dropped (0 keeps all)
	// BloatMinBytes: B-tree indexes smaller than this are not measured
	// for bloat (default 1 MiB; measuring reads the whole index).
	BloatMinBytes int64
	// BloatRatio: an index is reported as bloated when at least this share
	// of its leaf space is empty (default 0.3).
	BloatRatio float64
}

// MaintenanceReport is what one run did and found.
type MaintenanceReport struct {
	Skipped          bool     // another instance held the maintenance lock
	Created          []string // partitions created ahead of time
	Moved            map[string]int64
	Dropped          []string // partitions past retention
	Analyzed         []string
	SearchWords      int64        // words in the search vocabulary after its refresh
	UnusedIndexes    []IndexUsage // never scanned since statistics were reset
	LargestIndexes   []IndexUsage
	BloatedIndexes   []IndexBloat
	BloatUnavailable string // why no bloat report was made ("" when it was)
	DefaultPartition int64  // rows left in the default partition (should be 0)
}

// IndexBloat is a B-tree index with much empty leaf space: pages that
// deletes and updates emptied and that only REINDEX gives back.
type IndexBloat struct {
	Table, Index string
	Bytes        int64
	LeafDensity  float64 // percent of leaf space in use (pgstatindex)
	WastedBytes  int64   // estimate: leaf space above the 90% fill a fresh index has
}

// IndexUsage describes one index.
type IndexUsage struct {
	Table, Index string
	Scans        int64
	Bytes        int64
}

// maintenanceLock is the advisory lock that lets one instance at a time run
// maintenance.
const maintenanceLock = 0x4854_6d61_696e // "HTmain"

var partitionName = regexp.MustCompile(`^task_events_(\d{4})_(\d{2})$`)

// searchWordsSample is how many tasks a refresh of the search vocabulary
// reads at most (a block sample beyond): about 2 s at a million tasks.
const searchWordsSample = 100000

// hotTables are analyzed by every run.
var hotTables = []string{"tasks", "subtasks", "task_tags", "subtask_tags", "task_dependencies", "task_events"}

// Maintain keeps the partitioned history healthy: it creates the coming
// months' partitions, moves rows that landed in the default partition into
// partitions of their own, drops months past retention, analyzes the hot
// tables and reports unused and large indexes. Only one instance runs it at
// a time (a session advisory lock); the others skip.
func (r *Repo) Maintain(ctx context.Context, o MaintenanceOptions, now time.Time) (*MaintenanceReport, error) {
	conn, err := r.pools.Analytics.Acquire(ctx)
	if err != nil {
		return nil, translate(err)
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", maintenanceLock).Scan(&locked); err != nil {
		return nil, translate(err)
	}
	rep := &MaintenanceReport{Moved: map[string]int64{}}
	if !locked {
		rep.Skipped = true
		return rep, nil
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", maintenanceLock) //nolint:errcheck
	c := conn.Conn()

	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	// Rows in the default partition first: a month's partition cannot be
	// created while the default holds rows of that month.
	var stray []time.Time
	rows, err := c.Query(ctx, "SELECT DISTINCT date_trunc('month', created_at AT TIME ZONE 'UTC') FROM task_events_default")
	if err != nil {
		return nil, translate(err)
	}
	if stray, err = pgx.CollectRows(rows, pgx.RowTo[time.Time]); err != nil {
		return nil, translate(err)
	}
	for _, m := range stray {
		name, n, err := movePartition(ctx, c, m)
		if err != nil {
			return nil, err
		}
		rep.Moved[name] = n
	}
	for i := 0; i <= o.MonthsAhead; i++ {
		m := month.AddDate(0, i, 0)
		var created bool
		err := c.QueryRow(ctx, `SELECT to_regclass($1) IS NULL`, partitionFor(m)).Scan(&created)
		if err != nil {
			return nil, translate(err)
		}
		if _, err := c.Exec(ctx, "SELECT ensure_task_events_partition($1::date)", m); err != nil {
			return nil, translate(err)
		}
		if created {
			rep.Created = append(rep.Created, partitionFor(m))
		}
	}
	if o.RetentionMonths > 0 {
		oldest := month.AddDate(0, -o.RetentionMonths+1, 0)
		rows, err := c.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = 'task_events'::regclass ORDER BY 1`)
		if err != nil {
			return nil, translate(err)
		}
		parts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, translate(err)
		}
		for _, p := range parts {
			mm := partitionName.FindStringSubmatch(p)
			if mm == nil {
				continue
			}
			start, err := time.Parse("2006-01", mm[1]+"-"+mm[2])
			if err != nil || !start.Before(oldest) {
				continue
			}
			if _, err := c.Exec(ctx, fmt.Sprintf("ALTER TABLE task_events DETACH PARTITION %s", pgx.Identifier{p}.Sanitize())); err != nil {
				return nil, translate(err)
			}
			if _, err := c.Exec(ctx, fmt.Sprintf("DROP TABLE %s", pgx.Identifier{p}.Sanitize())); err != nil {
				return nil, translate(err)
			}
			rep.Dropped = append(rep.Dropped, p)
		}
	}
	for _, t := range hotTables {
		if _, err := c.Exec(ctx, "ANALYZE "+pgx.Identifier{t}.Sanitize()); err != nil {
			return nil, translate(err)
		}
		rep.Analyzed = append(rep.Analyzed, t)
	}
	// The search vocabulary (repository/search.go): recounted, and words no
	// task holds any more dropped.
	if err := c.QueryRow(ctx, "SELECT refresh_search_words($1)", searchWordsSample).Scan(&rep.SearchWords); err != nil {
		return nil, translate(err)
	}
	if err := c.QueryRow(ctx, "SELECT count(*) FROM task_events_default").Scan(&rep.DefaultPartition); err != nil {
		return nil, translate(err)
	}
	if rep.UnusedIndexes, err = indexUsage(ctx, c, `s.idx_scan = 0 AND NOT i.indisunique`, "pg_relation_size(s.indexrelid) DESC"); err != nil {
		return nil, err
	}
	if rep.LargestIndexes, err = indexUsage(ctx, c, "TRUE", "pg_relation_size(s.indexrelid) DESC LIMIT 5"); err != nil {
		return nil, err
	}
	if rep.BloatedIndexes, rep.BloatUnavailable, err = indexBloat(ctx, c, o); err != nil {
		return nil, err
	}
	return rep, nil
}

func partitionFor(m time.Time) string {
	return fmt.Sprintf("task_events_%04d_%02d", m.Year(), int(m.Month()))
}

// movePartition moves the default partition's rows of month m into a new
// partition for m, in one transaction: copy them into a standalone table,
// delete them from the default, attach the table (PostgreSQL builds its
// indexes and foreign keys on attach).
func movePartition(ctx context.Context, c *pgx.Conn, m time.Time) (string, int64, error) {
	name := partitionFor(m)
	id := pgx.Identifier{name}.Sanitize()
	lo, hi := m, m.AddDate(0, 1, 0)
	var moved int64
	err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "CREATE TABLE "+id+" (LIKE task_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `WITH moved AS (DELETE FROM task_events_default WHERE created_at >= $1 AND created_at < $2 RETURNING *)
			INSERT INTO `+id+` SELECT * FROM moved`, lo, hi)
		if err != nil {
			return err
		}
		moved = tag.RowsAffected()
		_, err = tx.Exec(ctx, fmt.Sprintf("ALTER TABLE task_events ATTACH PARTITION %s FOR VALUES FROM ('%s') TO ('%s')",
			id, lo.Format("2006-01-02"), hi.Format("2006-01-02")))
		return err
	})
	return name, moved, translate(err)
}

func indexUsage(ctx context.Context, c *pgx.Conn, where, order string) ([]IndexUsage, error) {
	rows, err := c.Query(ctx, `SELECT s.relname, s.indexrelname, s.idx_scan, pg_relation_size(s.indexrelid)
		FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
		WHERE `+where+` ORDER BY `+order)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (IndexUsage, error) {
		var u IndexUsage
		err := row.Scan(&u.Table, &u.Index, &u.Scans, &u.Bytes)
		return u, err
	})
	return out, translate(err)
}

// indexBloat measures the leaf density of every B-tree index of at least
// o.BloatMinBytes with pgstatindex (extension pgstattuple, migration 00006)
// and returns those with at least o.BloatRatio of their leaf space empty,
// measured against the 90% a freshly built index fills (B-tree fillfactor).
func indexBloat(ctx context.Context, c *pgx.Conn, o MaintenanceOptions) ([]IndexBloat, string, error) {
	if o.BloatMinBytes <= 0 {
		o.BloatMinBytes = 1 << 20
	}
	if o.BloatRatio <= 0 {
		o.BloatRatio = 0.3
	}
	var have bool
	if err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pgstattuple')").Scan(&have); err != nil {
		return nil, "", translate(err)
	}
	if !have {
		return nil, "extension pgstattuple is not installed (needs superuser; see migration 00006)", nil
	}
	rows, err := c.Query(ctx, `SELECT t.relname, i.relname, pg_relation_size(i.oid), s.avg_leaf_density
		FROM pg_index x
		JOIN pg_class i ON i.oid = x.indexrelid
		JOIN pg_class t ON t.oid = x.indrelid
		JOIN pg_namespace n ON n.oid = i.relnamespace
		JOIN pg_am a ON a.oid = i.relam
		CROSS JOIN LATERAL pgstatindex(i.oid) s
		WHERE n.nspname = 'public' AND a.amname = 'btree' AND i.relkind = 'i' AND x.indisvalid
		  AND pg_relation_size(i.oid) >= $1
		ORDER BY pg_relation_size(i.oid) DESC`, o.BloatMinBytes)
	if err != nil {
		return nil, "", translate(err)
	}
	all, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (IndexBloat, error) {
		var b IndexBloat
		err := row.Scan(&b.Table, &b.Index, &b.Bytes, &b.LeafDensity)
		return b, err
	})
	if err != nil {
		return nil, "", translate(err)
	}
	var out []IndexBloat
	for _, b := range all {
		empty := 1 - b.LeafDensity/90
		if b.LeafDensity > 0 && empty >= o.BloatRatio {
			b.WastedBytes = int64(empty * float64(b.Bytes))
			out = append(out, b)
		}
	}
	return out, "", nil
}
