package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is a server the bench started: roster serve, or a floor.
type child struct {
	name string
	cmd  *exec.Cmd
	base string // http://ADDR
	done chan struct{}
	err  error // of Wait, once done is closed

	mu   sync.Mutex
	tail []string // the last lines of its stderr
}

// startChild runs exe with args, waits until it announces "listening on http://ADDR" on stderr
// and answers 200 on readyPath, and returns it. Its stdout (roster's request log) is discarded.
func startChild(ctx context.Context, name, exe string, args, env []string, readyPath string) (*child, error) {
	c := &child{name: name, done: make(chan struct{})}
	c.cmd = exec.Command(exe, args...)
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stdout = nil // the null device
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	addr := make(chan string, 1)
	go c.readStderr(stderr, addr)
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	timeout := time.NewTimer(60 * time.Second)
	defer timeout.Stop()
	select {
	case a := <-addr:
		c.base = "http://" + a
	case <-c.done:
		return nil, fmt.Errorf("%s exited before listening (%v): %s", name, c.err, c.stderrTail())
	case <-timeout.C:
		c.stop()
		return nil, fmt.Errorf("%s did not start listening within 60 s: %s", name, c.stderrTail())
	case <-ctx.Done():
		c.stop()
		return nil, ctx.Err()
	}
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if resp, err := client.Get(c.base + readyPath); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
		select {
		case <-c.done:
			return nil, fmt.Errorf("%s exited before it was ready (%v): %s", name, c.err, c.stderrTail())
		case <-timeout.C:
			c.stop()
			return nil, fmt.Errorf("%s was not ready within 60 s: %s", name, c.stderrTail())
		case <-ctx.Done():
			c.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *child) readStderr(r io.Reader, addr chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	announced := false
	for sc.Scan() {
		line := sc.Text()
		if !announced {
			if _, a, ok := strings.Cut(line, "listening on http://"); ok {
				announced = true
				addr <- strings.TrimSpace(a)
			}
		}
		c.mu.Lock()
		c.tail = append(c.tail, line)
		if len(c.tail) > 20 {
			c.tail = c.tail[1:]
		}
		c.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r)
}

func (c *child) stderrTail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.tail, "\n")
}

// alive reports whether the child still runs.
func (c *child) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// cpu is the CPU time the child has used so far (user and system, from /proc/PID/stat, in
// clock ticks of 10 ms); 0 where the system does not say.
func (c *child) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces and parentheses; the fields after it are fixed.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// memory reads the child's peak and current resident set from /proc, in bytes; 0 where the
// system does not say.
func (c *child) memory() (peak, current int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		field, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch field {
		case "VmHWM":
			peak = n << 10
		case "VmRSS":
			current = n << 10
		}
	}
	return peak, current
}

// stop asks the child to drain and exit (SIGTERM), then kills it if it has not within 20 s.
func (c *child) stop() error {
	if !c.alive() {
		return nil
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("%s did not stop within 20 s of SIGTERM and was killed", c.name)
	}
	if c.err != nil {
		return fmt.Errorf("%s: %v: %s", c.name, c.err, c.stderrTail())
	}
	return nil
}
