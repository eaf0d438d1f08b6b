package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rosterhq/roster/cmd/roster/internal/bench"
)

// TestBenchCheck: with --check, a run that misses a target is an error naming it.
func TestBenchCheck(t *testing.T) {
	met := bench.Target{Target: "get entity", Wanted: "≥ 0.60 × floor", Measured: "0.71 ×", Met: true}
	missed := bench.Target{Target: "create entity", Wanted: "≥ 3,000 acknowledged writes/s", Measured: "1,200/s", Met: false}
	if err := checkTargets(&bench.Report{Targets: []bench.Target{met}}); err != nil {
		t.Errorf("all met: %v", err)
	}
	err := checkTargets(&bench.Report{Targets: []bench.Target{met, missed}})
	if err == nil || !strings.Contains(err.Error(), "1 of 2 targets missed") || !strings.Contains(err.Error(), "create entity") {
		t.Errorf("one missed: %v", err)
	}
}

// TestBenchRoundsFlag: --rounds below 1 is refused before anything is seeded, saying why.
func TestBenchRoundsFlag(t *testing.T) {
	for _, n := range []string{"0", "-2"} {
		var stdout, stderr bytes.Buffer
		err := benchCmd(context.Background(), []string{"--rounds", n, "--out", ""}, nil, &stdout, &stderr)
		if err == nil || err.Error() != "--rounds must be at least 1 (1: the normal pass alone), got "+n {
			t.Errorf("--rounds %s: %v", n, err)
		}
	}
}

// TestBenchHelpAndInterrupt runs the built binary: `roster bench --help` states the targets on
// stdout; Ctrl-C (SIGINT) during a run says it was interrupted, never "context canceled",
// exits non-zero and leaves no temporary database behind.
func TestBenchHelpAndInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds roster")
	}
	bin := opsBuild(t)
	out, err := exec.Command(bin, "bench", "--help").Output()
	if err != nil && !strings.Contains(err.Error(), "exit status") {
		t.Fatal(err)
	}
	for _, want := range []string{"Targets (set for SQLite", "≥ 0.60 × the one-SELECT floor's req/s", "-check"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("bench --help lacks %q:\n%s", want, out)
		}
	}
	if bytes.Contains(out, []byte("issue")) {
		t.Errorf("bench --help speaks of issues:\n%s", out)
	}

	tmp := t.TempDir()
	cmd := exec.Command(bin, "bench", "--accounts", "50", "--entities", "400000", "--relationships", "0", "--out", "")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var stderr lockedBuffer // read while the process writes it
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once the seeding is under way.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stderr.String(), "roster bench: sqlite database") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("roster bench did not stop within 60 s of SIGINT:\n%s", stderr.String())
	}
	if err == nil {
		t.Fatalf("an interrupted bench exited 0:\n%s", stderr.String())
	}
	text := stderr.String()
	if !strings.Contains(text, "bench interrupted") || strings.Contains(text, "context canceled") {
		t.Errorf("stderr after SIGINT:\n%s", text)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left behind in TMPDIR: %v", left)
	}
}

// lockedBuffer is a bytes.Buffer one goroutine writes while another reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestBenchDefaultRounds: rounds are on by default, but a run whose --scenarios pick nothing to
// compare runs as before, where an explicit --rounds is refused for it.
func TestBenchDefaultRounds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds roster")
	}
	bin := binary(t)
	args := []string{"bench", "--accounts", "2", "--entities", "10", "--relationships", "0", "--duration", "100ms", "--scenarios", "get-entity", "--out", ""}
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("bench of get-entity alone, default rounds: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, append(args, "--rounds", "3")...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--rounds repeats the compared scenarios") {
		t.Fatalf("bench of get-entity alone with --rounds 3: %v\n%s", err, out)
	}
}
