package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/app"
)

// runCLI runs the command line in-process and returns stdout, stderr and the error.
func runCLI(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errb)
	return out.String(), errb.String(), err
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestKeysCreateListRevoke(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "cli.db")
	env := map[string]string{"ROSTER_DATABASE": db}
	if out, _, err := runCLI(t, env, "migrate"); err != nil || !strings.Contains(out, "migrations applied") {
		t.Fatalf("migrate: %q %v", out, err)
	}
	out, _, err := runCLI(t, env, "keys", "create", "--superadmin", "--name", "ops")
	if err != nil {
		t.Fatal(err)
	}
	secret := lastLine(out)
	if !roster.WellFormedSecret(secret) {
		t.Fatalf("the last line of stdout is not a secret: %q", out)
	}

	// The key works on a server started on the same database, and a key made while it runs
	// works on its next request; a revoked one fails on its next request.
	var notice bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.New(ctx, app.Config{Addr: "127.0.0.1:0", Database: db, Notice: &notice})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(notice.String(), "rk_") {
		t.Fatalf("serve printed a bootstrap key although a key exists: %q", notice.String())
	}
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, func(addr string) { addrc <- addr }) }()
	base := "http://" + <-addrc
	status := func(key string) int {
		req, _ := http.NewRequest("GET", base+"/v1/accounts", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := status(secret); got != 200 {
		t.Fatalf("CLI key on the server: %d", got)
	}
	out, _, err = runCLI(t, env, "keys", "create", "--superadmin")
	if err != nil {
		t.Fatal(err)
	}
	second := lastLine(out)
	if got := status(second); got != 200 {
		t.Fatalf("a key made while the server runs: %d", got)
	}
	id := strings.Fields(out)[1]
	if _, _, err := runCLI(t, env, "keys", "revoke", id); err != nil {
		t.Fatal(err)
	}
	if got := status(second); got != 401 {
		t.Fatalf("a revoked key: %d, want 401", got)
	}
	list, _, err := runCLI(t, env, "keys", "list")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(list, id) || !strings.Contains(list, "revoked") || strings.Contains(list, second) {
		t.Fatalf("keys list: %q", list)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestAccountKeyAndErrors(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "cli.db")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"keys", "create"}, "exactly one of --superadmin or --account"},
		{[]string{"keys", "create", "--superadmin", "--account", "account_0123456789abcdef01234567"}, "exactly one"},
		{[]string{"keys", "create", "--account", "nope"}, "not an account id"},
		{[]string{"keys", "create", "--account", "account_0123456789abcdef01234567", "--role", "superadmin"}, "--role must be"},
		{[]string{"keys", "create", "--account", "account_0123456789abcdef01234567"}, "account not found"},
		{[]string{"keys", "revoke", "garbage"}, "not a key id"},
		{[]string{"keys", "revoke"}, "usage"},
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"serve", "--database", "mysql://x"}, "want sqlite:PATH or a postgres:// URL"},
	}
	for _, c := range cases {
		_, _, err := runCLI(t, map[string]string{"ROSTER_DATABASE": db}, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("roster %v: got %v, want an error containing %q", c.args, err, c.want)
		}
	}
	if out, _, err := runCLI(t, nil, "version"); err != nil || !strings.HasPrefix(out, "roster ") {
		t.Fatalf("version: %q %v", out, err)
	}
}

// TestServeRateLimitFlags: the per-account limit's flags and environment variables; unset, each
// field is left zero for api to make it 4 × the per-key one, and 0 turns the limit off.
func TestServeRateLimitFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		key     api.RateLimit
		account api.RateLimit
		err     string
	}{
		{name: "defaults", key: api.RateLimit{Rate: 100, Burst: 200}},
		{name: "flags", args: []string{"--rate-limit", "10", "--rate-burst", "20", "--rate-limit-account", "25", "--rate-burst-account", "50"},
			key: api.RateLimit{Rate: 10, Burst: 20}, account: api.RateLimit{Rate: 25, Burst: 50}},
		{name: "environment", env: map[string]string{"ROSTER_RATE_LIMIT_ACCOUNT": "2.5", "ROSTER_RATE_BURST_ACCOUNT": "7"},
			key: api.RateLimit{Rate: 100, Burst: 200}, account: api.RateLimit{Rate: 2.5, Burst: 7}},
		{name: "a flag wins over its variable", env: map[string]string{"ROSTER_RATE_LIMIT_ACCOUNT": "2.5"}, args: []string{"--rate-limit-account", "3"},
			key: api.RateLimit{Rate: 100, Burst: 200}, account: api.RateLimit{Rate: 3}},
		{name: "rate only", args: []string{"--rate-limit-account", "40"}, key: api.RateLimit{Rate: 100, Burst: 200}, account: api.RateLimit{Rate: 40}},
		{name: "0 turns it off", args: []string{"--rate-limit-account", "0"}, key: api.RateLimit{Rate: 100, Burst: 200}, account: api.RateLimit{Rate: -1}},
		{name: "negative rate", args: []string{"--rate-limit-account", "-1"}, err: "--rate-limit-account must be a number >= 0"},
		{name: "not a number", env: map[string]string{"ROSTER_RATE_LIMIT_ACCOUNT": "lots"}, err: "--rate-limit-account must be a number >= 0"},
		{name: "zero burst", args: []string{"--rate-burst-account", "0"}, err: "--rate-burst-account must be an integer >= 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &cli{getenv: func(k string) string { return tc.env[k] }, stdout: io.Discard, stderr: io.Discard}
			cfg, err := serveConfig(c.flags("serve", ""), tc.args, c.getenv)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want an error %q, got %v (%+v)", tc.err, err, cfg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.RateLimit != tc.key || cfg.AccountRateLimit != tc.account {
				t.Fatalf("per key %+v, per account %+v; want %+v, %+v", cfg.RateLimit, cfg.AccountRateLimit, tc.key, tc.account)
			}
		})
	}
	// The help names both flags and what they default to; it goes to stdout (SPEC §12).
	stdout, _, err := runCLI(t, nil, "serve", "-h")
	if report(io.Discard, err) != 0 || !strings.Contains(stdout, "-rate-limit-account N") || !strings.Contains(stdout, "default 4 × --rate-limit") ||
		!strings.Contains(stdout, "-rate-burst-account N") {
		t.Fatalf("serve -h: %v\n%s", err, stdout)
	}
}
