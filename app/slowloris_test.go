package app_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/herotasks/api/app"
	"github.com/herotasks/api/internal/apitest"
	"github.com/herotasks/api/internal/testdb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSlowHeaderConnections: 1,000 connections that send half a request
// header and stall do not keep the server from answering others, and the
// server closes them once its header timeout (10 s) passes. It runs the
// real program (run, as main does), since the timeouts live on its
// http.Server.
func TestSlowHeaderConnections(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": testdb.New(t), "JWT_SECRET": apitest.Secret, "MAINTENANCE_INTERVAL": "0"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, []string{"herotasks", "serve", "--addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, w, io.Discard)
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	addr := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	go io.Copy(io.Discard, stdout) //nolint:errcheck

	const n = 1000
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		require.NoError(t, err)
		_, err = c.Write([]byte("POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: app"))
		require.NoError(t, err)
		conns = append(conns, c)
	}
	start := time.Now()
	res, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/graphql?query=%7B__typename%7D")
	require.NoError(t, err, "served beside 1,000 stalled connections")
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	t.Logf("a request beside %d stalled connections took %v", n, time.Since(start))

	closed := 0
	deadline := time.Now().Add(20 * time.Second)
	buf := make([]byte, 64)
	for _, c := range conns {
		_ = c.SetReadDeadline(deadline)
		_, err := c.Read(buf) // the server answers 408 or hangs up
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			continue // still open when our own deadline passed
		}
		closed++
	}
	assert.Equal(t, n, closed, "the server ends every stalled connection after its header timeout")
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return")
	}
}
