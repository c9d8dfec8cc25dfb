// Package testdb gives each test its own PostgreSQL database, cloned from a
// template that is migrated once per migration set (CREATE DATABASE ...
// TEMPLATE copies files, so a fresh database costs milliseconds).
package testdb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herotasks/api/migrations"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// URL returns the server to create test databases on (DATABASE_URL), or
// skips the test when none is configured. `make test` always sets it.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("DATABASE_URL")
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("DATABASE_URL is not set; run the tests with `make test`")
		}
		t.Skip("DATABASE_URL is not set; run the tests with `make test`")
	}
	return u
}

var counter atomic.Int64

// New creates a migrated database for t, dropped when t ends, and returns
// its connection string.
func New(t testing.TB) string {
	t.Helper()
	base := URL(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("testdb: connect: %v", err)
	}
	defer admin.Close(ctx)

	tpl := templateName()
	if err := ensureTemplate(ctx, admin, base, tpl); err != nil {
		t.Fatalf("testdb: template: %v", err)
	}
	name := fmt.Sprintf("ht_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, counter.Add(1))
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tpl)); err != nil {
		t.Fatalf("testdb: create: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
	})
	return withDatabase(t, base, name)
}

// Pool is New plus a pool on it, closed when t ends.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), New(t))
	if err != nil {
		t.Fatalf("testdb: pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// withDatabase returns base with its database name replaced.
func withDatabase(t testing.TB, base, name string) string {
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatalf("testdb: parse url: %v", err)
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
}

// templateName depends on the migration files, so a changed migration gets a
// fresh template.
func templateName() string {
	h := sha256.New()
	entries, _ := fs.Glob(migrations.Files, "*.sql")
	for _, e := range entries {
		b, _ := fs.ReadFile(migrations.Files, e)
		h.Write([]byte(e))
		h.Write(b)
	}
	return "ht_tpl_" + hex.EncodeToString(h.Sum(nil))[:16]
}

// ensureTemplate creates and migrates the template once; concurrent test
// processes wait on an advisory lock.
func ensureTemplate(ctx context.Context, admin *pgx.Conn, base, tpl string) error {
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock(7261)"); err != nil {
		return err
	}
	defer admin.Exec(ctx, "SELECT pg_advisory_unlock(7261)") //nolint:errcheck
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", tpl).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	building := tpl + "_building"
	_, _ = admin.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", building))
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+building); err != nil {
		return err
	}
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		return err
	}
	url := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, building)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return err
	}
	_, err = migrations.Up(ctx, pool)
	pool.Close()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	// Templates of other migration sets are kept: test runs of several
	// branches share one cluster, and each template is a few megabytes.
	// Under the advisory lock no other process can have created tpl meanwhile.
	_, err = admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", building, tpl))
	return err
}
