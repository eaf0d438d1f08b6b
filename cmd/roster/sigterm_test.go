package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The lifecycle of `roster serve` (SPEC §10, §12): SIGTERM stops accepting, drains the requests
// in flight, closes the store and exits 0; nothing acknowledged is lost.

// opsBuild builds the roster binary into a temporary directory. GOFLAGS is inherited, so a run
// under GOFLAGS=-race also checks the server's shutdown path for races (a race exits 66).
func opsBuild(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "roster")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, goBin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built roster in %s", time.Since(start).Round(time.Millisecond))
	return bin
}

// opsStderr follows what `roster serve` writes to stderr: the bootstrap key (kept out of the
// transcript) and the listening address.
type opsStderr struct {
	mu     sync.Mutex
	rest   []byte
	lines  []string
	key    string
	listen chan string
}

func (s *opsStderr) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rest = append(s.rest, p...)
	for {
		i := bytes.IndexByte(s.rest, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(s.rest[:i])
		s.rest = s.rest[i+1:]
		if strings.HasPrefix(line, "rk_") {
			s.key, line = line, "rk_… (the bootstrap key)"
		}
		if addr, ok := strings.CutPrefix(line, "roster: listening on http://"); ok {
			select {
			case s.listen <- addr:
			default:
			}
		}
		s.lines = append(s.lines, line)
	}
}

func (s *opsStderr) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n") + "\n" + string(s.rest)
}

// opsLocked is a buffer safe for the process's writes and the test's reads.
type opsLocked struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *opsLocked) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *opsLocked) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// opsProc is a running `roster serve`.
type opsProc struct {
	cmd    *exec.Cmd
	stderr *opsStderr
	stdout *opsLocked
	base   string
	key    string
	done   chan struct{}
	err    error
}

// opsServe starts `roster serve` on database and waits until it listens.
func opsServe(t *testing.T, bin, database string, args ...string) *opsProc {
	t.Helper()
	p := &opsProc{stderr: &opsStderr{listen: make(chan string, 1)}, stdout: &opsLocked{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--database", database, "--rate-limit", "0"}, args...)...)
	p.cmd.Env = append(os.Environ(), "ROSTER_DATABASE=", "ROSTER_ADDR=")
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case addr := <-p.stderr.listen:
		p.base = "http://" + addr
	case <-p.done:
		t.Fatalf("roster serve exited before listening: %v\n%s", p.err, p.stderr)
	case <-time.After(20 * time.Second):
		t.Fatalf("roster serve did not listen within 20 s\n%s", p.stderr)
	}
	p.stderr.mu.Lock()
	p.key = p.stderr.key
	p.stderr.mu.Unlock()
	return p
}

// opsOutcome is one request of the load: its status, or the transport error it failed with.
type opsOutcome struct {
	name       string
	id         string
	status     int
	body       string
	err        error
	start, end time.Time
}

// opsCreate posts one account.
func opsCreate(client *http.Client, base, key, name string, body io.Reader) opsOutcome {
	o := opsOutcome{name: name, start: time.Now()}
	defer func() { o.end = time.Now() }()
	if body == nil {
		b, _ := json.Marshal(map[string]string{"name": name})
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest("POST", base+"/v1/accounts", body)
	if err != nil {
		o.err = err
		return o
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		o.err, o.end = err, time.Now()
		return o
	}
	data, err := io.ReadAll(res.Body)
	res.Body.Close()
	o.end = time.Now()
	if err != nil {
		o.err = err
		return o
	}
	o.status, o.body = res.StatusCode, string(data)
	var v struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(data, &v)
	o.id = v.ID
	return o
}

// opsAccounts walks GET /v1/accounts and returns name by id.
func opsAccounts(t *testing.T, client *http.Client, base, key string) map[string]string {
	t.Helper()
	out := map[string]string{}
	q := "limit=100"
	for range 1000 {
		req, _ := http.NewRequest("GET", base+"/v1/accounts?"+q, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Data []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"data"`
			Pagination struct {
				HasNext    bool   `json:"has_next"`
				NextCursor string `json:"next_cursor"`
			} `json:"pagination"`
		}
		err = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		if res.StatusCode != 200 || err != nil {
			t.Fatalf("list accounts: %d %v", res.StatusCode, err)
		}
		for _, a := range page.Data {
			if _, dup := out[a.ID]; dup {
				t.Fatalf("account %s listed twice", a.ID)
			}
			out[a.ID] = a.Name
		}
		if !page.Pagination.HasNext {
			return out
		}
		q = "limit=100&cursor=" + url.QueryEscape(page.Pagination.NextCursor)
	}
	t.Fatal("the account list does not end")
	return nil
}

// opsExit waits for p to end and returns its exit code, failing after limit.
func opsExit(t *testing.T, p *opsProc, limit time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		t.Fatalf("roster serve did not exit within %s of SIGTERM\n%s", limit, p.stderr)
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		return ee.ExitCode()
	default:
		t.Fatalf("wait: %v", p.err)
		return -1
	}
}

// TestSigterm, drains writes: concurrent account creations, SIGTERM in the middle. The process exits
// 0 within its shutdown timeout; every request in flight either completed (2xx) or failed at the
// transport level, never with a 5xx; a request whose body was still arriving at SIGTERM is
// drained to completion; after a restart on the same database every acknowledged account is
// there.
func TestSigterm(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGTERM is POSIX")
	}
	bin := opsBuild(t)
	t.Run("drains writes", func(t *testing.T) { opsDrainsWrites(t, bin) })
	t.Run("bounded drain", func(t *testing.T) { opsBoundedDrain(t, bin) })
}

func opsDrainsWrites(t *testing.T, bin string) {
	began := time.Now()
	db := "sqlite:" + filepath.Join(t.TempDir(), "roster.db")
	const drain = 10 * time.Second
	p := opsServe(t, bin, db, "--shutdown-timeout", drain.String())
	if p.key == "" {
		t.Fatalf("no bootstrap key on stderr:\n%s", p.stderr)
	}

	load := opsStartLoad(p, began)

	// One request is certainly in flight at SIGTERM: its body is still arriving.
	pr, pw := io.Pipe()
	defer pw.CloseWithError(errors.New("the test ended"))
	slow := make(chan opsOutcome, 1)
	go func() {
		slow <- opsCreate(&http.Client{Timeout: 20 * time.Second}, p.base, p.key, "Sig slow", pr)
	}()
	if _, err := io.WriteString(pw, `{"name":`); err != nil {
		t.Fatal(err)
	}

	// SIGTERM once the load is well under way.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && load.ackedSoFar() < 40; {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the slow request's headers have long arrived
	sigAt := time.Now()
	close(load.sigSent) // first, so that a worker refused at once stops there
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	// The slow request finishes its body after SIGTERM and must still be served.
	time.Sleep(300 * time.Millisecond)
	select {
	case <-p.done:
		t.Fatalf("roster exited with a request still arriving (%v)\n%s", p.err, p.stderr)
	default:
	}
	if _, err := io.WriteString(pw, `"Sig slow"}`); err != nil {
		t.Fatalf("the server stopped reading an in-flight body: %v", err)
	}
	pw.Close()
	so := <-slow
	if so.err != nil || so.status != 201 {
		t.Fatalf("the request in flight at SIGTERM: %d %s %v", so.status, so.body, so.err)
	}

	if code := opsExit(t, p, drain+5*time.Second); code != 0 {
		t.Fatalf("roster serve exited %d after SIGTERM\n%s", code, p.stderr)
	}
	t.Logf("exited %s after SIGTERM", time.Since(sigAt).Round(time.Millisecond))
	load.wg.Wait()
	if strings.Contains(p.stdout.String(), "rk_") {
		t.Fatal("a secret is in the request log")
	}
	ackedIDs := opsJudge(t, append([]opsOutcome{so}, load.outcomes...), sigAt)
	opsCheckRestart(t, bin, db, p.key, ackedIDs, drain)
	if took := time.Since(began); took > 30*time.Second {
		t.Fatalf("the scenario took %s", took)
	}
}

// opsLoad is workers creating accounts with distinct names until the server is gone.
type opsLoad struct {
	mu       sync.Mutex
	outcomes []opsOutcome
	acked    int
	sigSent  chan struct{} // closed when SIGTERM is sent
	wg       sync.WaitGroup
}

func opsStartLoad(p *opsProc, began time.Time) *opsLoad {
	const workers = 6
	l := &opsLoad{sigSent: make(chan struct{})}
	for w := range workers {
		l.wg.Go(func() {
			client := &http.Client{Timeout: 20 * time.Second}
			defer client.CloseIdleConnections()
			for i := 0; ; i++ {
				o := opsCreate(client, p.base, p.key, fmt.Sprintf("Sig %d-%d", w, i), nil)
				l.mu.Lock()
				l.outcomes = append(l.outcomes, o)
				if o.status/100 == 2 {
					l.acked++
				}
				l.mu.Unlock()
				select {
				case <-l.sigSent:
					if o.err != nil {
						return // the server is gone for this worker
					}
				default:
				}
				select {
				case <-p.done:
					return
				default:
				}
				if time.Since(began) > 25*time.Second {
					return
				}
			}
		})
	}
	return l
}

func (l *opsLoad) ackedSoFar() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acked
}

// opsJudge holds every outcome to a 201, or a transport error at or after SIGTERM; never
// another status. It returns the acknowledged accounts' names by id.
func opsJudge(t *testing.T, all []opsOutcome, sigAt time.Time) map[string]string {
	t.Helper()
	inFlight, failed := 0, 0
	ackedIDs := map[string]string{}
	for _, o := range all {
		if !o.start.After(sigAt) && o.end.After(sigAt) {
			inFlight++
		}
		switch {
		case o.err != nil:
			failed++
			if o.end.Before(sigAt) {
				t.Fatalf("%s failed before SIGTERM: %v", o.name, o.err)
			}
		case o.status == 201:
			if !strings.HasPrefix(o.id, "account_") {
				t.Fatalf("%s: 201 without an id: %s", o.name, o.body)
			}
			ackedIDs[o.id] = o.name
		default:
			t.Fatalf("%s: %d %s (started %s, ended %s relative to SIGTERM)", o.name, o.status, o.body,
				o.start.Sub(sigAt), o.end.Sub(sigAt))
		}
	}
	t.Logf("%d requests: %d acknowledged, %d failed at the transport level, %d in flight at SIGTERM", len(all), len(ackedIDs), failed, inFlight)
	if len(ackedIDs) < 40 {
		t.Fatalf("only %d acknowledged writes: the load did not get going", len(ackedIDs))
	}
	return ackedIDs
}

// opsCheckRestart restarts on the same database: every acknowledged account is there, with its
// name.
func opsCheckRestart(t *testing.T, bin, db, key string, ackedIDs map[string]string, drain time.Duration) {
	t.Helper()
	q := opsServe(t, bin, db)
	if q.key != "" {
		t.Fatal("a second bootstrap key was printed on a database that has keys")
	}
	client := &http.Client{Timeout: 20 * time.Second}
	stored := opsAccounts(t, client, q.base, key)
	for id, name := range ackedIDs {
		if stored[id] != name {
			t.Fatalf("acknowledged account %s (%s) is missing after the restart (got %q)", id, name, stored[id])
		}
	}
	client.CloseIdleConnections()
	if err := q.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := opsExit(t, q, drain+5*time.Second); code != 0 {
		t.Fatalf("roster serve exited %d after SIGINT\n%s", code, q.stderr)
	}
}

// opsBoundedDrain: a request that never completes does not hold the process: it exits once the
// shutdown timeout has passed.
func opsBoundedDrain(t *testing.T, bin string) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "roster.db")
	const drain = time.Second
	p := opsServe(t, bin, db, "--shutdown-timeout", drain.String())
	pr, pw := io.Pipe()
	defer pw.Close()
	stuck := make(chan opsOutcome, 1)
	go func() {
		stuck <- opsCreate(&http.Client{Timeout: 20 * time.Second}, p.base, p.key, "Stuck", pr)
	}()
	if _, err := io.WriteString(pw, `{"name":`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	sigAt := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code := opsExit(t, p, drain+5*time.Second)
	took := time.Since(sigAt)
	if took < drain {
		t.Fatalf("exited %s after SIGTERM, before the %s drain was over", took, drain)
	}
	// The process is gone; the stuck client sees its connection end (the pipe is closed so that
	// the client's body writer lets go).
	pw.CloseWithError(errors.New("the server is gone"))
	if o := <-stuck; o.err == nil {
		t.Fatalf("the stuck request got an answer: %d %s", o.status, o.body)
	}
	// A drain cut short is still a clean stop: roster says so and exits 0.
	if code != 0 || !strings.Contains(p.stderr.String(), "shutdown timeout") {
		t.Fatalf("exit status %d after a drain cut short, stderr:\n%s", code, p.stderr.String())
	}
}
