package testredis

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	clusterNodes       = 3
	clusterCreateLimit = 60 * time.Second // redis-cli --cluster create
	clusterOKTimeout   = 30 * time.Second // until every node reports cluster_state:ok
)

// Cluster is a three-node Redis Cluster (masters only, no replicas) owned
// by one test.
type Cluster struct {
	nodes []*Server
}

// StartCluster launches three cluster-enabled redis-server processes on
// free ports (each with its own directory and cluster config file, and a
// separately chosen free cluster bus port), joins them with `redis-cli
// --cluster create <addrs> --cluster-replicas 0 --cluster-yes`, and waits
// until every node reports cluster_state:ok with all 16384 slots assigned
// and all three nodes known. t.Cleanup stops them all.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	bin := lookPath(t, "redis-server")
	cli := lookPath(t, "redis-cli")

	c := &Cluster{}
	for range clusterNodes {
		c.nodes = append(c.nodes, newServer(t, bin, true))
	}

	out, err := c.create(cli)
	if err != nil {
		t.Fatalf("testredis: %v\n%s\n%s", err, out, c.logTails())
	}
	if err := c.waitOK(clusterOKTimeout); err != nil {
		t.Fatalf("testredis: cluster %v: %v\n--- redis-cli output ---\n%s\n%s", c.Addrs(), err, out, c.logTails())
	}
	return c
}

// create runs redis-cli --cluster create and returns its output.
//
// redis-cli only makes nodes 2 and 3 MEET node 1 and then polls once a
// second until every node has learnt, by gossip, of all the others; that
// takes one to ten seconds. When its first poll fails, every node is told
// to MEET every other one, so they all know each other within milliseconds
// and redis-cli's next poll, a second later, succeeds.
func (c *Cluster) create(cli string) (string, error) {
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), clusterCreateLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli, args...)
	r, w, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer r.Close()
	cmd.Stdout = w
	cmd.Stderr = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		return "", fmt.Errorf("redis-cli: %w", err)
	}
	var out strings.Builder
	sc := bufio.NewScanner(r)
	sc.Split(scanLinesOrDots)
	waiting, met := false, false
	for sc.Scan() {
		tok := sc.Text()
		out.WriteString(tok)
		switch {
		case strings.Contains(tok, "Waiting for the cluster to join"):
			waiting = true
		case waiting && !met && strings.HasPrefix(tok, "."):
			// The first poll failed (stdout is a pipe, so redis-cli's
			// output arrives with the dot it flushes after that poll).
			met = true
			if err := c.meetAll(); err != nil {
				fmt.Fprintf(&out, "\n[testredis: extra CLUSTER MEET: %v]\n", err)
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		return out.String(), fmt.Errorf("redis-cli %s: %w", strings.Join(args, " "), err)
	}
	return out.String(), nil
}

// scanLinesOrDots is bufio.ScanLines keeping the newline, except that it
// also stops after a line that does not end yet: redis-cli prints
// "Waiting for the cluster to join\n" and then dots without a newline.
func scanLinesOrDots(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i+1], nil
	}
	if len(data) > 0 && (atEOF || data[len(data)-1] == '.') {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// meetAll makes every node MEET every other node.
func (c *Cluster) meetAll() error {
	for _, a := range c.nodes {
		for _, b := range c.nodes {
			if a == b {
				continue
			}
			_, err := command(a.Addr(), 5*time.Second, "CLUSTER", "MEET", "127.0.0.1",
				strconv.Itoa(b.port), strconv.Itoa(b.busPort))
			if err != nil {
				return fmt.Errorf("%s MEET %s: %w", a.Addr(), b.Addr(), err)
			}
		}
	}
	return nil
}

// Addrs returns the nodes' "127.0.0.1:port" addresses.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.Addr()
	}
	return addrs
}

func (c *Cluster) waitOK(timeout time.Duration) error {
	want := []string{
		"cluster_state:ok",
		"cluster_slots_assigned:16384",
		fmt.Sprintf("cluster_known_nodes:%d", len(c.nodes)),
	}
	deadline := time.Now().Add(timeout)
	for _, n := range c.nodes {
		for {
			info, err := command(n.Addr(), time.Second, "CLUSTER", "INFO")
			if err == nil {
				err = lacks(info, want)
			}
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("node %s not ready after %v: %v\n%s", n.Addr(), timeout, err, info)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// lacks reports the first of want that is not a line of CLUSTER INFO.
func lacks(info string, want []string) error {
	lines := strings.Split(info, "\r\n")
	for _, w := range want {
		if !slices.Contains(lines, w) {
			return fmt.Errorf("CLUSTER INFO lacks %q", w)
		}
	}
	return nil
}

func (c *Cluster) logTails() string {
	var b strings.Builder
	for _, n := range c.nodes {
		fmt.Fprintf(&b, "=== node %s ===\n%s\n", n.Addr(), n.logTail())
	}
	return b.String()
}
