// Package testpg starts private PostgreSQL servers for tests that must stop,
// restart or replicate a server: the shared cluster of `make test` is never
// touched. A server is a fresh initdb in a temporary directory on a free
// loopback port, run as the system user "postgres" when the test runs as
// root (PostgreSQL refuses root). Replica makes a streaming standby of a
// running server with `pg_basebackup -R`.
package testpg

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is one private PostgreSQL server owned by a test.
type Server struct {
	bin  string // directory holding initdb, pg_ctl, postgres, pg_basebackup
	dir  string // parent of data/ and the socket; removed at cleanup
	port int
	uid  int // -1 when the test is not root
	gid  int
}

// Start initialises and starts a server; t.Cleanup stops it and removes
// its files. The superuser is "postgres" with trust authentication on
// loopback; the database "postgres" exists.
func Start(t testing.TB) *Server {
	t.Helper()
	s := newServer(t)
	if out, err := s.run("initdb", "-D", s.data(), "-U", "postgres", "--auth=trust",
		"--no-sync", "--locale=C", "--encoding=UTF8"); err != nil {
		t.Fatalf("testpg: initdb: %v\n%s", err, out)
	}
	s.configure(t)
	s.Start(t)
	return s
}

// Replica makes a streaming replica of s (which must be running) with
// pg_basebackup -R and starts it on its own port. Reads on it see the
// primary's commits after replication lag; writes fail (read-only).
func (s *Server) Replica(t testing.TB) *Server {
	t.Helper()
	r := newServer(t)
	r.bin = s.bin
	if out, err := r.run("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(s.port),
		"-U", "postgres", "-D", r.data(), "-R", "-X", "stream", "--checkpoint=fast", "--no-sync"); err != nil {
		t.Fatalf("testpg: pg_basebackup: %v\n%s", err, out)
	}
	r.configure(t)
	r.Start(t)
	r.waitStreaming(t)
	return r
}

// waitStreaming waits until the standby's WAL receiver streams from its
// primary: pg_ctl start returns once the standby accepts read-only
// connections, which on a loaded machine can be before the receiver has
// connected, and a test that checks replication would see "none".
func (s *Server) waitStreaming(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		t.Fatalf("testpg: connect to replica: %v", err)
	}
	defer c.Close(context.Background())
	for {
		var streaming bool
		err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')").Scan(&streaming)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("testpg: replica not streaming after 60s")
			}
			t.Fatalf("testpg: replica's wal receiver: %v", err)
		}
		if streaming {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("testpg: replica not streaming after 60s")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// URL is a connection string for database db on this server.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// Port is the server's TCP port (the same across Stop and Start).
func (s *Server) Port() int { return s.port }

// Start starts a stopped server on its port and waits until it accepts
// connections (a replica: until it accepts read-only connections).
func (s *Server) Start(t testing.TB) {
	t.Helper()
	if out, err := s.run("pg_ctl", "-D", s.data(), "-l", filepath.Join(s.dir, "log"),
		"-w", "-t", "60", "-s", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		t.Fatalf("testpg: start: %v\n%s\n%s", err, out, log)
	}
}

// Stop stops the server with a fast shutdown (open sessions are ended).
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if out, err := s.run("pg_ctl", "-D", s.data(), "-m", "fast", "-w", "-t", "60", "-s", "stop"); err != nil {
		t.Fatalf("testpg: stop: %v\n%s", err, out)
	}
}

// CreateDatabase creates database name and returns its URL.
func (s *Server) CreateDatabase(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		t.Fatalf("testpg: connect: %v", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("testpg: create database: %v", err)
	}
	return s.URL(name)
}

func newServer(t testing.TB) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("testpg: starts a PostgreSQL server")
	}
	bin, err := binDir()
	if err != nil {
		t.Skipf("testpg: %v", err)
	}
	s := &Server{bin: bin, port: freePort(t), uid: -1, gid: -1}
	s.dir, err = os.MkdirTemp("", "testpg-")
	if err != nil {
		t.Fatalf("testpg: %v", err)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("testpg: running as root needs a system user postgres: %v", err)
		}
		s.uid, _ = strconv.Atoi(u.Uid)
		s.gid, _ = strconv.Atoi(u.Gid)
		if err := os.Chown(s.dir, s.uid, s.gid); err != nil {
			t.Fatalf("testpg: %v", err)
		}
	}
	t.Cleanup(func() {
		// Stop whatever is still running; errors mean it already stopped.
		_, _ = s.run("pg_ctl", "-D", s.data(), "-m", "immediate", "-w", "-t", "30", "-s", "stop")
		_ = os.RemoveAll(s.dir)
	})
	return s
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

// configure appends the test settings; later lines win over initdb's (and
// over the primary's settings that pg_basebackup copied).
func (s *Server) configure(t testing.TB) {
	t.Helper()
	conf := fmt.Sprintf(`
# testpg
port = %d
listen_addresses = '127.0.0.1'
unix_socket_directories = '%s'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 60
shared_buffers = '32MB'
max_wal_senders = 5
wal_level = replica
hot_standby = on
wal_receiver_status_interval = '1s'
shared_preload_libraries = 'pg_stat_statements'
`, s.port, s.dir)
	f, err := os.OpenFile(filepath.Join(s.data(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("testpg: %v", err)
	}
	defer f.Close()
	if _, err := f.WriteString(conf); err != nil {
		t.Fatalf("testpg: %v", err)
	}
}

// run runs one of the server programs, as postgres when the test is root.
func (s *Server) run(prog string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	path := filepath.Join(s.bin, prog)
	var cmd *exec.Cmd
	if s.uid >= 0 {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = "/"
	// The postmaster outlives pg_ctl: it must not hold our pipes open.
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// binDir finds the directory of the server binaries: the one pg_ctl
// resolves to (so initdb, postgres and pg_basebackup share its version).
func binDir() (string, error) {
	p, err := exec.LookPath("pg_ctl")
	if err != nil {
		return "", fmt.Errorf("pg_ctl not on PATH: %w", err)
	}
	p, err = filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(p)
	for _, prog := range []string{"initdb", "postgres", "pg_basebackup"} {
		if _, err := os.Stat(filepath.Join(dir, prog)); err != nil {
			return "", fmt.Errorf("%s not beside pg_ctl in %s", prog, dir)
		}
	}
	return dir, nil
}

func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testpg: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
