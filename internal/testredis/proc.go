package testredis

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

var errPortBusy = errors.New("port already in use")

// process is a started child; done is closed once it has been reaped.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // from cmd.Wait, valid after done
}

// startProcess starts bin with args in dir, stdout and stderr appended to
// logPath, and reaps it in the background.
//
// Start and Wait run on one goroutine locked to its OS thread: on Linux the
// child gets SIGKILL when the thread that forked it exits (Pdeathsig), so
// that thread must live as long as the child does. It is also how the
// child dies with a killed test binary.
func startProcess(bin string, args []string, dir, logPath string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own copy

	p := &process{done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Stdout = logFile
		cmd.Stderr = logFile
		cmd.SysProcAttr = sysProcAttr()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		p.cmd = cmd
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL (which also ends a stopped process) and waits until
// the process has been reaped.
func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// waitReady waits until addr answers and is served by p: another process
// may have bound the port first, in which case p exits.
func waitReady(addr string, p *process, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	want := "process_id:" + strconv.Itoa(p.cmd.Process.Pid) + "\r\n"
	var lastErr error
	for {
		if p.exited() {
			return fmt.Errorf("redis-server exited before answering PING: %v", p.err)
		}
		info, err := command(addr, time.Second, "INFO", "server")
		if err == nil {
			if strings.Contains(info, want) {
				return nil
			}
			err = errors.New("another process answers on this port")
		}
		lastErr = err
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server not ready after %v: %v", timeout, lastErr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitRefused waits until connecting to addr fails.
func waitRefused(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return nil
		}
		c.Close()
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still accepts connections %v after the kill", addr, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// freePorts returns n distinct ports that were free on 127.0.0.1 a moment
// ago. The listeners are held until all are chosen so the kernel cannot
// hand out the same port twice.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// command sends one command over a fresh connection and returns a
// simple-string, integer or bulk-string reply.
func command(addr string, timeout time.Duration, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("redis: %s", line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("unexpected reply %q", line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	default:
		return "", fmt.Errorf("unexpected reply %q", line)
	}
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readFrom returns the file's contents from offset on (at most the last
// 64 KiB of them).
func readFrom(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if size := fileSize(path); size-offset > 64<<10 {
		offset = size - 64<<10
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// tail formats the last lines of a log for a failure message.
func tail(log string) string {
	const maxLines = 30
	log = strings.TrimRight(log, "\n")
	if log == "" {
		return "--- redis-server log is empty ---"
	}
	lines := strings.Split(log, "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return "--- redis-server log (tail) ---\n" + strings.Join(lines, "\n")
}
