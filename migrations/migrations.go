// Package migrations owns the database schema: versioned SQL files embedded
// in the binary and applied with goose's Provider API.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

// Files holds the migration SQL.
//
//go:embed *.sql
var Files embed.FS

// Provider opens a goose provider over the embedded migrations. Close the
// returned *sql.DB when done.
func Provider(pool *pgxpool.Pool) (*goose.Provider, *sql.DB, error) {
	db := stdlib.OpenDBFromPool(pool)
	// Out of order: migration numbers are handed out to parallel branches, so
	// a database may have a later one applied before an earlier one lands.
	p, err := goose.NewProvider(goose.DialectPostgres, db, Files, goose.WithAllowOutofOrder(true))
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("migrations: %w", err)
	}
	return p, db, nil
}

// Up applies every pending migration; with nothing pending it does nothing.
func Up(ctx context.Context, pool *pgxpool.Pool) ([]*goose.MigrationResult, error) {
	p, db, err := Provider(pool)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return p.Up(ctx)
}
