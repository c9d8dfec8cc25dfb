package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Process is a server the runner started: its pid is what the probes read.
type Process struct {
	Name string
	URL  string // the GraphQL endpoint (servers) or redis:// URL
	PID  int
	cmd  *exec.Cmd
	done chan error
	log  *os.File
}

// Stop ends the process (SIGTERM, then SIGKILL after 10 s) and waits.
func (p *Process) Stop() error {
	if p == nil || p.cmd == nil {
		return nil
	}
	defer p.log.Close()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil // ended by the signal
		}
		return err
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within 10 s of SIGTERM: killed", p.Name)
	}
}

// start runs cmd with its output in logPath; stdout lines also go to lines
// when it is not nil.
func start(name string, cmd *exec.Cmd, logPath string, lines chan<- string) (*Process, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = log
	if lines != nil {
		out, err := cmd.StdoutPipe()
		if err != nil {
			log.Close()
			return nil, err
		}
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				fmt.Fprintln(log, sc.Text())
				select {
				case lines <- sc.Text():
				default:
				}
			}
			_, _ = io.Copy(log, out)
		}()
	} else {
		cmd.Stdout = log
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the runner
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, PID: cmd.Process.Pid, cmd: cmd, done: make(chan error, 1), log: log}
	go func() { p.done <- cmd.Wait() }()
	return p, nil
}

// logTail is the end of a log file, for start-up errors.
func logTail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// StartHeroTasks runs `bin serve` on a free local port with env (the whole
// environment of the server: nothing is inherited but PATH and HOME) and
// waits until /readyz answers 200.
func StartHeroTasks(ctx context.Context, bin string, env []string, logPath string) (*Process, error) {
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	lines := make(chan string, 16)
	p, err := start("herotasks", cmd, logPath, lines)
	if err != nil {
		return nil, err
	}
	deadline := time.After(60 * time.Second)
	for p.URL == "" {
		select {
		case line := <-lines:
			if addr, ok := strings.CutPrefix(line, "listening on "); ok {
				p.URL = "http://" + strings.TrimSpace(addr) + "/graphql"
			}
		case err := <-p.done:
			return nil, fmt.Errorf("herotasks serve exited: %v\n%s", err, logTail(logPath))
		case <-deadline:
			_ = p.Stop()
			return nil, fmt.Errorf("herotasks serve did not listen within 60 s\n%s", logTail(logPath))
		case <-ctx.Done():
			_ = p.Stop()
			return nil, ctx.Err()
		}
	}
	ready := strings.TrimSuffix(p.URL, "/graphql") + "/readyz"
	if err := waitHTTP(ctx, p, ready, http.MethodGet, "", logPath); err != nil {
		return nil, err
	}
	return p, nil
}

// StartPostGraphile runs PostGraphile's CLI (cli-run.js of the postgraphile
// package under dir/node_modules) with node and the config file, on a free
// port, and waits until it answers { __typename }.
func StartPostGraphile(ctx context.Context, node, dir, config, databaseURL string, poolMax int, logPath string) (*Process, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(node, dir+"/node_modules/postgraphile/dist/cli-run.js", "-C", config)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "NODE_ENV=production",
		"DATABASE_URL=" + databaseURL, "PORT=" + strconv.Itoa(port), "PG_POOL_MAX=" + strconv.Itoa(poolMax)}
	p, err := start("postgraphile", cmd, logPath, nil)
	if err != nil {
		return nil, err
	}
	p.URL = fmt.Sprintf("http://127.0.0.1:%d/graphql", port)
	if err := waitHTTP(ctx, p, p.URL, http.MethodPost, `{"query":"{ __typename }"}`, logPath); err != nil {
		return nil, err
	}
	return p, nil
}

// waitHTTP polls url until it answers 200 (60 s at most).
func waitHTTP(ctx context.Context, p *Process, url, method, body, logPath string) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-p.done:
			return fmt.Errorf("%s exited: %v\n%s", p.Name, err, logTail(logPath))
		case <-ctx.Done():
			_ = p.Stop()
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = p.Stop()
			return fmt.Errorf("%s not ready at %s within 60 s\n%s", p.Name, url, logTail(logPath))
		}
	}
}

// StartRedis runs a private redis-server (no persistence) on a free port in
// dir, so INFO commandstats counts only the benchmark's commands.
func StartRedis(ctx context.Context, dir, logPath string) (*Process, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "",
		"--appendonly", "no", "--dir", dir, "--protected-mode", "no")
	p, err := start("redis-server", cmd, logPath, nil)
	if err != nil {
		return nil, err
	}
	p.URL = fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer rdb.Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if err := rdb.Ping(ctx).Err(); err == nil {
			return p, nil
		}
		if time.Now().After(deadline) {
			_ = p.Stop()
			return nil, fmt.Errorf("redis-server not answering PING within 10 s\n%s", logTail(logPath))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// FreePort asks the kernel for a free local TCP port.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
