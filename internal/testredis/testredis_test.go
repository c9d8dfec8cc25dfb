package testredis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herotasks/api/internal/testredis"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain checks, after all tests, that the test binary has no children
// left (running or zombie) and that no redis-server started here survives
// as an orphan.
func TestMain(m *testing.M) {
	code := m.Run()
	if runtime.GOOS == "linux" {
		if leaks := leftovers(); len(leaks) > 0 {
			fmt.Fprintf(os.Stderr, "testredis: processes left behind:\n  %s\n", strings.Join(leaks, "\n  "))
			code = 1
		}
	}
	os.Exit(code)
}

var (
	usedMu    sync.Mutex
	usedAddrs []string
)

func used(addrs ...string) {
	usedMu.Lock()
	defer usedMu.Unlock()
	usedAddrs = append(usedAddrs, addrs...)
}

// leftovers lists children of this process and redis-servers whose title
// names an address used by these tests and whose parent is no test binary.
func leftovers() []string {
	usedMu.Lock()
	defer usedMu.Unlock()
	var out []string
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	self := strconv.Itoa(os.Getpid())
	for _, stat := range stats {
		dir := filepath.Dir(stat)
		b, err := os.ReadFile(stat)
		if err != nil {
			continue
		}
		ppid := parentPID(string(b))
		if ppid == self {
			out = append(out, fmt.Sprintf("child %s: %s", dir, strings.TrimSpace(string(b))))
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
		title := strings.ReplaceAll(string(cmdline), "\x00", " ")
		if !strings.Contains(title, "redis-server") {
			continue
		}
		for _, a := range usedAddrs {
			// Another test binary running at the same time may have
			// reused one of our ports; only an orphan is a leak.
			if strings.Contains(title+" ", a+" ") && !isTestBinary(ppid) {
				out = append(out, fmt.Sprintf("orphan %s: %s", dir, title))
			}
		}
	}
	return out
}

// parentPID parses /proc/<pid>/stat: "pid (comm) state ppid ...".
func parentPID(stat string) string {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

func isTestBinary(pid string) bool {
	cmdline, err := os.ReadFile("/proc/" + pid + "/cmdline")
	if err != nil {
		return false
	}
	argv0, _, _ := strings.Cut(string(cmdline), "\x00")
	return strings.HasSuffix(argv0, ".test")
}

func newClient(t *testing.T, addr string, readTimeout time.Duration) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:        addr,
		DialTimeout: time.Second,
		ReadTimeout: readTimeout,
		MaxRetries:  -1,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	start := time.Now()
	s := testredis.Start(t)
	t.Logf("Start: %v", time.Since(start))
	used(s.Addr())

	host, port, err := net.SplitHostPort(s.Addr())
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", host)
	assert.NotEmpty(t, port)
	assert.Equal(t, "redis://"+s.Addr()+"/0", s.URL())
	opts, err := redis.ParseURL(s.URL())
	require.NoError(t, err)
	assert.Equal(t, s.Addr(), opts.Addr)
	assert.Equal(t, 0, opts.DB)

	c := newClient(t, s.Addr(), time.Second)
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())
	got, err := c.Get(ctx, "k").Result()
	require.NoError(t, err)
	assert.Equal(t, "v", got)

	// No persistence.
	cfg, err := c.ConfigGet(ctx, "save").Result()
	require.NoError(t, err)
	assert.Equal(t, "", cfg["save"])
	cfg, err = c.ConfigGet(ctx, "appendonly").Result()
	require.NoError(t, err)
	assert.Equal(t, "no", cfg["appendonly"])

	start = time.Now()
	s.Stop(t)
	t.Logf("Stop: %v", time.Since(start))
	assert.Error(t, c.Ping(ctx).Err(), "command after Stop")
	_, err = net.DialTimeout("tcp", s.Addr(), time.Second)
	assert.Error(t, err, "dial after Stop")
	s.Stop(t) // a no-op

	start = time.Now()
	s.Restart(t)
	t.Logf("Restart: %v", time.Since(start))
	require.NoError(t, c.Ping(ctx).Err(), "PING after Restart on %s", s.Addr())
	assert.ErrorIs(t, c.Get(ctx, "k").Err(), redis.Nil, "data is gone after Restart")
	require.NoError(t, c.Set(ctx, "k", "v2", 0).Err())
}

func TestRestartWaitsForBusyPort(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testredis.Start(t)
	used(s.Addr())
	s.Stop(t)

	// Someone else holds the port for a while; Restart retries until it is free.
	l, err := net.Listen("tcp", s.Addr())
	require.NoError(t, err)
	const hold = 300 * time.Millisecond
	start := time.Now()
	time.AfterFunc(hold, func() { _ = l.Close() })
	s.Restart(t)
	assert.GreaterOrEqual(t, time.Since(start), hold)
	require.NoError(t, newClient(t, s.Addr(), time.Second).Ping(ctx).Err())
}

func TestPause(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testredis.Start(t)
	used(s.Addr())
	c := newClient(t, s.Addr(), 50*time.Millisecond)
	require.NoError(t, c.Ping(ctx).Err())

	const d = 300 * time.Millisecond
	start := time.Now()
	s.Pause(t, d)
	err := c.Ping(ctx).Err()
	require.Error(t, err, "PING while paused")
	var nerr net.Error
	assert.True(t, errors.As(err, &nerr) && nerr.Timeout(), "want a timeout, got %v", err)

	require.Eventually(t, func() bool { return c.Ping(ctx).Err() == nil }, 5*time.Second, 10*time.Millisecond)
	elapsed := time.Since(start)
	t.Logf("PING answered again %v after Pause(%v)", elapsed, d)
	assert.GreaterOrEqual(t, elapsed, d)

	// Pausing again works, and Restart while paused does not hang.
	s.Pause(t, time.Minute)
	require.Error(t, c.Ping(ctx).Err())
	start = time.Now()
	s.Restart(t)
	assert.Less(t, time.Since(start), 5*time.Second)
	require.NoError(t, c.Ping(ctx).Err())
}

func TestCleanupWhilePaused(t *testing.T) {
	t.Parallel()
	var addr string
	start := time.Now()
	t.Run("paused", func(t *testing.T) {
		s := testredis.Start(t)
		addr = s.Addr()
		used(addr)
		s.Pause(t, time.Hour)
	})
	assert.Less(t, time.Since(start), 5*time.Second)
	_, err := net.DialTimeout("tcp", addr, time.Second)
	assert.Error(t, err, "server still listening after cleanup")
}

func TestCluster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	start := time.Now()
	c := testredis.StartCluster(t)
	t.Logf("StartCluster: %v", time.Since(start))
	addrs := c.Addrs()
	used(addrs...)
	require.Len(t, addrs, 3)

	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { _ = cc.Close() })

	slots := map[int64]bool{}
	for i := range 100 {
		key := fmt.Sprintf("key:%d", i)
		require.NoError(t, cc.Set(ctx, key, i, 0).Err())
		slot, err := cc.ClusterKeySlot(ctx, key).Result()
		require.NoError(t, err)
		slots[slot] = true
	}
	for i := range 100 {
		got, err := cc.Get(ctx, fmt.Sprintf("key:%d", i)).Int()
		require.NoError(t, err)
		assert.Equal(t, i, got)
	}
	assert.Greater(t, len(slots), 90, "keys spread across slots")

	// Every master holds some of the keys.
	var total int64
	for _, a := range addrs {
		n, err := newClient(t, a, time.Second).DBSize(ctx).Result()
		require.NoError(t, err)
		assert.Positive(t, n, "keys on %s", a)
		total += n
	}
	assert.Equal(t, int64(100), total)

	ranges, err := cc.ClusterSlots(ctx).Result()
	require.NoError(t, err)
	covered := make([]bool, 16384)
	masters := map[string]bool{}
	for _, r := range ranges {
		require.Len(t, r.Nodes, 1, "no replicas: %+v", r)
		masters[r.Nodes[0].Addr] = true
		for s := r.Start; s <= r.End; s++ {
			assert.False(t, covered[s], "slot %d twice", s)
			covered[s] = true
		}
	}
	n := 0
	for _, ok := range covered {
		if ok {
			n++
		}
	}
	assert.Equal(t, 16384, n)
	assert.Len(t, masters, 3)
	for _, a := range addrs {
		assert.True(t, masters[a], "master %s in CLUSTER SLOTS %v", a, masters)
	}
}

func TestAvailable(t *testing.T) {
	assert.True(t, testredis.Available(), "redis-server is installed on this machine")
}
