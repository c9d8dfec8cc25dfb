// Package testredis starts private redis-server processes for tests: a
// standalone Server (which a test can stop, restart on the same port, or
// freeze with SIGSTOP) and a three-master Redis Cluster.
//
// Every process listens on a free 127.0.0.1 port, keeps its files in a
// t.TempDir(), writes its output to a log file there (whose tail is quoted
// in failure messages), persists nothing, and is killed and reaped by
// t.Cleanup. On Linux the processes also get SIGKILL if the test binary
// dies, so a crashed or timed-out `go test` leaves no redis-server behind.
//
// When redis-server is not on PATH, Start and StartCluster skip the test,
// unless the environment variable CI is set, in which case they fail it.
package testredis

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	readyTimeout   = 15 * time.Second // redis-server start until PING answers
	refusedTimeout = 5 * time.Second  // Stop: until the port refuses connections
	rebindTimeout  = 10 * time.Second // Restart: retrying while the port is busy
	portAttempts   = 20               // Start: fresh ports to try on bind races
)

// Available reports whether redis-server is on PATH.
func Available() bool {
	_, err := exec.LookPath("redis-server")
	return err == nil
}

// lookPath returns the absolute path of a Redis binary, or skips t (fails
// it when CI is set) when it is missing.
func lookPath(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("testredis: %s not found on PATH; install Redis (Debian: apt-get install redis-server) to run this test", name)
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set, so the test fails instead of skipping)")
	}
	t.Skip(msg)
	return ""
}

// Server is a standalone redis-server owned by one test.
type Server struct {
	bin     string
	dir     string
	conf    string
	logPath string
	port    int
	busPort int // cluster bus port; 0 when not a cluster node

	mu       sync.Mutex
	proc     *process // nil while stopped
	paused   bool
	pauseGen int
	resume   *time.Timer
}

// Start launches a redis-server on a free 127.0.0.1 port with no
// persistence (save "", appendonly no), in t.TempDir(), and waits until it
// answers PING. t.Cleanup stops it.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := lookPath(t, "redis-server")
	return newServer(t, bin, false)
}

func newServer(t testing.TB, bin string, cluster bool) *Server {
	t.Helper()
	// TempDir before t.Cleanup below: cleanups run last-in first-out, so
	// the process is gone before its directory is removed.
	dir := t.TempDir()
	s := &Server{
		bin:     bin,
		dir:     dir,
		conf:    filepath.Join(dir, "redis.conf"),
		logPath: filepath.Join(dir, "redis.log"),
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("testredis: cleanup of %s: %v", s.Addr(), err)
		}
	})
	if err := s.startFresh(cluster); err != nil {
		t.Fatalf("testredis: start redis-server: %v", err)
	}
	return s
}

// Addr returns "127.0.0.1:port".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL returns "redis://127.0.0.1:port/0".
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Stop kills the server (SIGKILL, resuming it first if paused) and waits
// until its port refuses connections. Stopping a stopped server is a no-op.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if err := s.stop(); err != nil {
		t.Fatalf("testredis: stop %s: %v", s.Addr(), err)
	}
}

// Restart starts the server again on the same port and waits until it
// answers PING; the data is gone. A running server is stopped first. While
// another process holds the port, Restart retries for up to 10 s.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.stop(); err != nil {
		t.Fatalf("testredis: restart %s: %v", s.Addr(), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	deadline := time.Now().Add(rebindTimeout)
	for {
		err := s.launchLocked()
		if err == nil {
			return
		}
		if !errors.Is(err, errPortBusy) || time.Now().After(deadline) {
			t.Fatalf("testredis: restart %s: %v", s.Addr(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Pause makes the server unresponsive for d without closing connections:
// it sends SIGSTOP, waits until the process is stopped, and returns; a
// timer sends SIGCONT after d. Pausing a paused server restarts the
// countdown. Stop, Restart and t.Cleanup resume a paused server first.
func (s *Server) Pause(t testing.TB, d time.Duration) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	if p == nil {
		t.Fatalf("testredis: pause %s: server is not running", s.Addr())
	}
	if s.resume != nil {
		s.resume.Stop()
	}
	if err := signalStop(p.cmd.Process); err != nil {
		t.Fatalf("testredis: pause %s: %v", s.Addr(), err)
	}
	s.paused = true
	if err := waitStopped(p.cmd.Process.Pid, p.done, 5*time.Second); err != nil {
		t.Fatalf("testredis: pause %s: %v\n%s", s.Addr(), err, s.logTail())
	}
	s.pauseGen++
	gen := s.pauseGen
	s.resume = time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.proc == p && s.paused && s.pauseGen == gen {
			_ = signalCont(p.cmd.Process)
			s.paused = false
		}
	})
}

// stop kills and reaps the process, then waits until the port refuses
// connections.
func (s *Server) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil
	}
	if s.resume != nil {
		s.resume.Stop()
		s.resume = nil
	}
	if s.paused {
		_ = signalCont(s.proc.cmd.Process)
		s.paused = false
	}
	s.proc.kill()
	s.proc = nil
	return waitRefused(s.Addr(), refusedTimeout)
}

// startFresh picks free ports and launches, retrying with new ports when
// another process grabbed one in the meantime.
func (s *Server) startFresh(cluster bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 1
	if cluster {
		n = 2 // client port and cluster bus port
	}
	var err error
	for range portAttempts {
		var ports []int
		if ports, err = freePorts(n); err != nil {
			return err
		}
		s.port = ports[0]
		if cluster {
			s.busPort = ports[1]
		}
		if err = s.launchLocked(); err == nil || !errors.Is(err, errPortBusy) {
			return err
		}
	}
	return fmt.Errorf("no free port after %d attempts: %w", portAttempts, err)
}

func (s *Server) config() string {
	var b strings.Builder
	fmt.Fprintf(&b, "bind 127.0.0.1\nport %d\n", s.port)
	fmt.Fprintf(&b, "dir %q\n", s.dir)
	b.WriteString("daemonize no\nlogfile \"\"\nprotected-mode yes\n")
	b.WriteString("save \"\"\nappendonly no\n")
	if s.busPort != 0 {
		b.WriteString("cluster-enabled yes\ncluster-config-file nodes.conf\n")
		fmt.Fprintf(&b, "cluster-port %d\n", s.busPort)
	}
	return b.String()
}

// launchLocked starts redis-server on s.port and waits until it answers
// PING. It returns an error wrapping errPortBusy when a port was taken.
func (s *Server) launchLocked() error {
	if err := os.WriteFile(s.conf, []byte(s.config()), 0o600); err != nil {
		return err
	}
	logOffset := fileSize(s.logPath)
	p, err := startProcess(s.bin, []string{s.conf}, s.dir, s.logPath)
	if err != nil {
		return err
	}
	if err := waitReady(s.Addr(), p, readyTimeout); err != nil {
		p.kill()
		out := readFrom(s.logPath, logOffset)
		if strings.Contains(out, "Address already in use") {
			return fmt.Errorf("%s: %w", s.Addr(), errPortBusy)
		}
		return fmt.Errorf("%s: %w\n%s", s.Addr(), err, tail(out))
	}
	s.proc = p
	return nil
}

func (s *Server) logTail() string { return tail(readFrom(s.logPath, 0)) }
