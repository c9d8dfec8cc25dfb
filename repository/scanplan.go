package repository

import (
	"reflect"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// pgx plans how to scan each column (pgtype.Map.PlanScan) again for every
// result set, and keeps the plans only until the rows close. A plan
// depends on nothing but the column's type and format, the destination's
// Go type and the connection's type map, yet finding it walks pgx's chain
// of wrappers with reflection: for a one-row read of a few dozen columns,
// such as a task with its levels as parallel arrays, planning costs more
// of the server's CPU than the scanning itself. plannedRows keeps the
// plans per connection instead, for the connection's lifetime.

// planKey is what a scan plan depends on, besides the type map.
type planKey struct {
	oid    uint32
	format int16
	typ    reflect.Type
}

// scanPlans are the plans made with one connection's type map, kept in
// the connection's custom data so that they live and go with it. Only the
// goroutine holding the connection reads or writes them, so they need no
// lock.
type scanPlans map[planKey]pgtype.ScanPlan

const scanPlansKey = "herotasks.scanPlans"

func plansFor(c *pgx.Conn) scanPlans {
	data := c.PgConn().CustomData()
	p, ok := data[scanPlansKey].(scanPlans)
	if !ok {
		p = scanPlans{}
		data[scanPlansKey] = p
	}
	return p
}

// plannedRows is pgx.Rows whose Scan takes its plans from the
// connection's scanPlans. It keeps pgx's own per-result-set shortcut (the
// plans of the previous row, reused while the destinations' types stay
// the same) and its errors.
type plannedRows struct {
	pgx.Rows
	m     *pgtype.Map
	known scanPlans
	plans []pgtype.ScanPlan
	types []reflect.Type
}

// planned wraps rows for CollectRows and the like.
func planned(rows pgx.Rows) pgx.Rows {
	c := rows.Conn()
	if c == nil {
		return rows
	}
	return &plannedRows{Rows: rows, m: c.TypeMap(), known: plansFor(c)}
}

func (r *plannedRows) plan(fd int, oid uint32, format int16, dst any) {
	t := reflect.TypeOf(dst)
	k := planKey{oid: oid, format: format, typ: t}
	p, ok := r.known[k]
	if !ok {
		p = r.m.PlanScan(oid, format, dst)
		r.known[k] = p
	}
	r.plans[fd], r.types[fd] = p, t
}

func (r *plannedRows) Scan(dest ...any) error {
	fds, values := r.FieldDescriptions(), r.RawValues()
	if len(dest) != len(fds) || len(values) != len(fds) || len(dest) == 1 {
		// pgx reports the mismatch, and handles a single RowScanner.
		return r.Rows.Scan(dest...)
	}
	if r.plans == nil {
		r.plans, r.types = make([]pgtype.ScanPlan, len(dest)), make([]reflect.Type, len(dest))
	}
	for i, dst := range dest {
		if dst == nil {
			continue
		}
		if r.plans[i] == nil || r.types[i] != reflect.TypeOf(dst) {
			r.plan(i, fds[i].DataTypeOID, fds[i].Format, dst)
		}
		if err := r.plans[i].Scan(values[i], dst); err != nil {
			return pgx.ScanArgError{ColumnIndex: i, FieldName: fds[i].Name, Err: err}
		}
	}
	return nil
}
