package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
)

// The command line as SPEC §12 states it, run as a user runs it: a built binary, its exit
// status, stdout and stderr.

var (
	builtOnce sync.Once
	builtBin  string
	builtErr  error
	builtDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

// binary builds roster once for the tests of this package that run it as a process.
func binary(t *testing.T) string {
	t.Helper()
	builtOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		if builtDir, builtErr = os.MkdirTemp("", "roster-cli-"); builtErr != nil {
			return
		}
		builtBin = filepath.Join(builtDir, "roster")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, goBin, "build", "-o", builtBin, ".").CombinedOutput(); err != nil {
			builtErr = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if builtErr != nil {
		t.Fatal(builtErr)
	}
	return builtBin
}

// runBin runs the binary with args in dir and an environment without ROSTER_ variables but
// extra, and returns its stdout, stderr and exit status.
func runBin(t *testing.T, dir string, extra []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ROSTER_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, extra...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestHelpAndExitStatus(t *testing.T) {
	dir := t.TempDir()
	// --help on every command and subcommand: its help on stdout, nothing on stderr, exit 0.
	for _, args := range [][]string{{"--help"}, {"help"}, {"-h"}, {"help", "keys"}, {"serve", "--help"}, {"migrate", "-h"},
		{"keys", "--help"}, {"keys", "create", "--help"}, {"keys", "list", "-h"}, {"keys", "revoke", "--help"},
		{"accounts", "--help"}, {"accounts", "create", "--help"}, {"version", "--help"}, {"bench", "--help"},
		{"backup", "--help"}, {"restore", "--help"}, {"copy", "--help"}, {"export", "--help"}, {"import", "--help"},
	} {
		out, errOut, code := runBin(t, dir, nil, args...)
		if code != 0 || !strings.Contains(out, "usage: roster") || errOut != "" {
			t.Errorf("roster %s: exit %d, stdout %q, stderr %q; want its help on stdout and 0", strings.Join(args, " "), code, out, errOut)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("help created files: %v", entries)
	}
	// A command line roster cannot read: 2, one line on stderr.
	for _, args := range [][]string{{}, {"frobnicate"}, {"keys"}, {"keys", "frob"}, {"serve", "--nope"}, {"keys", "create"},
		{"keys", "create", "--account", "nope"}, {"keys", "revoke"}, {"accounts", "create"}, {"version", "extra"},
		{"serve", "--rate-limit", "-1"}, {"serve", "--tls-cert", "c.pem"}, {"backup"}, {"restore", "a", "b"}, {"copy"}, {"export", "extra"}, {"import"},
		{"export", "--account", "nope"}} {
		_, errOut, code := runBin(t, dir, nil, args...)
		if code != 2 || !strings.HasPrefix(lastLine(errOut), "roster: ") {
			t.Errorf("roster %s: exit %d, stderr %q; want 2", strings.Join(args, " "), code, errOut)
		}
	}
	out, _, code := runBin(t, dir, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "roster ") || strings.Contains(out, "dev\n") {
		t.Errorf("version: %d %q", code, out)
	}
}

func TestErrorsNameTheirCause(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notDB, []byte("hello, this is not a database at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	locked := filepath.Join(dir, "locked")
	if err := os.Mkdir(locked, 0o555); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "nope", "roster.db")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--database", "sqlite:" + missing}, "the folder " + filepath.Join(dir, "nope") + " does not exist"},
		{[]string{"migrate", "--database", "sqlite:" + notDB}, notDB + " is not a SQLite database"},
		{[]string{"keys", "list", "--database", "sqlite:" + filepath.Join(dir, "typo.db")}, "typo.db does not exist"},
		{[]string{"export", "--database", "sqlite:" + filepath.Join(dir, "typo.db")}, "typo.db does not exist"},
		{[]string{"copy", "--to", "sqlite:" + filepath.Join(dir, "t.db"), "--database", "sqlite:" + filepath.Join(dir, "typo.db")}, "typo.db does not exist"},
		{[]string{"backup", "--database", "sqlite:" + filepath.Join(dir, "typo.db"), filepath.Join(dir, "b.db")}, "typo.db does not exist"},
		{[]string{"keys", "list", "--database", "postgres://postgres@127.0.0.1:1/x?sslmode=disable"}, "is not answering"},
		{[]string{"serve", "--database", "mysql://x"}, "want sqlite:PATH or a postgres:// URL"},
	}
	if os.Geteuid() != 0 { // root writes anywhere
		cases = append(cases, struct {
			args []string
			want string
		}{[]string{"accounts", "create", "--name", "Acme", "--database", "sqlite:" + filepath.Join(locked, "r.db")}, "the folder " + locked + " is not writable"})
	}
	for _, c := range cases {
		_, errOut, code := runBin(t, dir, nil, c.args...)
		if code != 1 || !strings.Contains(errOut, c.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("roster %s: exit %d, stderr %q; want 1 and one line containing %q", strings.Join(c.args, " "), code, errOut, c.want)
		}
	}
	for _, name := range []string{"typo.db", "typo.db-wal"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("a command that only reads created %s", name)
		}
	}
}

func TestAccountsCreateThenKey(t *testing.T) {
	dir := t.TempDir()
	env := []string{"ROSTER_DATABASE=sqlite:" + filepath.Join(dir, "r.db")}
	out, errOut, code := runBin(t, dir, env, "accounts", "create", "--name", "Acme Corp", "--slug", "acme")
	if code != 0 {
		t.Fatalf("accounts create: %d %s", code, errOut)
	}
	id := lastLine(out)
	if !strings.HasPrefix(id, "account_") || len(id) != len("account_")+24 {
		t.Fatalf("the last line is not an account id: %q", out)
	}
	out, errOut, code = runBin(t, dir, env, "keys", "create", "--account", id)
	if code != 0 || !strings.HasPrefix(lastLine(out), "rk_") {
		t.Fatalf("keys create --account: %d %q %s", code, out, errOut)
	}
	// The slug is taken now: a refusal of the core, exit 1, one line.
	_, errOut, code = runBin(t, dir, env, "accounts", "create", "--name", "Other", "--slug", "acme")
	if code != 1 || !strings.Contains(errOut, "slug") {
		t.Fatalf("a taken slug: %d %q", code, errOut)
	}
}

func TestVersionFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.time", Value: "2026-12-06T19:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	if got, want := version(bi), "v1.4.0 rev 0123456789abcdef 2026-12-06T19:00:00Z modified go1.26.8"; got != want {
		t.Fatalf("version: %q, want %q", got, want)
	}
	if got := version(&debug.BuildInfo{GoVersion: "go1.26.8"}); got != "(devel) go1.26.8" {
		t.Fatalf("a build without module or VCS information: %q", got)
	}
}
