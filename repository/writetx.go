package repository

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// writeTx is a write transaction that spends no round trip of its own: its
// BEGIN goes out in one pipeline with its first statement, and the
// statements whose only outcome is their error (history events, learnt
// search words; atCommit) wait for its COMMIT and go out with it. A write
// that locks a task, updates it and records the change takes three round
// trips instead of five, which shortens the time its row stays locked as
// much as the write's own latency.
//
// Every statement still runs inside the transaction, in the order sent; a
// late statement that fails fails the COMMIT it travels with, and the
// transaction is rolled back.
type writeTx struct {
	conn  *pgxpool.Conn
	begun bool       // BEGIN has been sent
	late  []lateStmt // statements that go out with the COMMIT
}

type lateStmt struct {
	sql  string
	args []any
}

var _ querier = (*writeTx)(nil)

// runWriteTx runs fn in a writeTx on a connection of pool, committing when
// fn returns nil and rolling back otherwise (or when fn panics).
func runWriteTx(ctx context.Context, pool *pgxpool.Pool, fn func(tx *writeTx) error) (err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	tx := &writeTx{conn: conn}
	defer func() {
		if p := recover(); p != nil {
			tx.rollback(ctx)
			conn.Release()
			panic(p)
		}
		if err != nil {
			tx.rollback(ctx)
		}
		conn.Release() // a connection left inside a transaction is destroyed, not reused
	}()
	if err = fn(tx); err != nil {
		return err
	}
	return tx.commit(ctx)
}

// opening is the pipeline of the transaction's first statement: the BEGIN,
// then the statement. The caller reads the BEGIN's result first.
func (tx *writeTx) opening(sql string, args []any) *pgx.Batch {
	b := &pgx.Batch{}
	b.Queue("begin")
	b.Queue(sql, args...)
	tx.begun = true
	return b
}

// Exec runs a statement in the transaction.
func (tx *writeTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if tx.begun {
		return tx.conn.Exec(ctx, sql, args...)
	}
	br := tx.conn.SendBatch(ctx, tx.opening(sql, args))
	_, err := br.Exec()
	var tag pgconn.CommandTag
	if err == nil {
		tag, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

// Query runs a statement in the transaction; the rows must be closed (as
// pgx.CollectRows and every caller here do) before the next statement.
func (tx *writeTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if tx.begun {
		return tx.conn.Query(ctx, sql, args...)
	}
	br := tx.conn.SendBatch(ctx, tx.opening(sql, args))
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

// QueryRow runs a statement that answers at most one row.
func (tx *writeTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if tx.begun {
		return tx.conn.QueryRow(ctx, sql, args...)
	}
	rows, err := tx.Query(ctx, sql, args...)
	return &oneRow{rows: rows, err: err}
}

// atCommit queues a statement whose only outcome is its error, to go out
// with the COMMIT.
func (tx *writeTx) atCommit(sql string, args ...any) {
	tx.late = append(tx.late, lateStmt{sql, args})
}

// commit sends the late statements and the COMMIT in one pipeline (with
// the BEGIN, when nothing else was sent).
func (tx *writeTx) commit(ctx context.Context) error {
	if !tx.begun && len(tx.late) == 0 {
		return nil // nothing was sent: there is nothing to commit
	}
	b := &pgx.Batch{}
	if !tx.begun {
		b.Queue("begin")
	}
	for _, s := range tx.late {
		b.Queue(s.sql, s.args...)
	}
	b.Queue("commit")
	tx.begun, tx.late = true, nil
	br := tx.conn.SendBatch(ctx, b)
	var err error
	var tag pgconn.CommandTag
	for range b.QueuedQueries {
		if tag, err = br.Exec(); err != nil {
			break
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == nil && tag.String() == "ROLLBACK" {
		err = pgx.ErrTxCommitRollback // the COMMIT found the transaction failed
	}
	return err
}

// rollback ends a transaction that is still open; a connection it cannot
// reset is destroyed by Release.
func (tx *writeTx) rollback(ctx context.Context) {
	if tx.conn.Conn().PgConn().TxStatus() == 'I' {
		return
	}
	_, _ = tx.conn.Exec(ctx, "rollback")
}

// batchRows are the rows of a pipeline's last statement: closing them ends
// the pipeline.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
}

func (r *batchRows) Close() {
	r.Rows.Close()
	if r.br != nil {
		_ = r.br.Close() // a failure here leaves the connection broken: the next statement reports it
		r.br = nil
	}
}

// oneRow is pgx.Row over rows, as pgx's own QueryRow answers.
type oneRow struct {
	rows pgx.Rows
	err  error
}

func (r *oneRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}
