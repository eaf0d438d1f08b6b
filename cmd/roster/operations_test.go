package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSystemdUnit: the service unit of docs/operations.md parses: systemd-analyze verify
// accepts it without a word, ExecStart pointing at the binary this package builds (verify checks
// that the program exists).
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: the unit in docs/operations.md is not checked")
	}
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "`/etc/systemd/system/roster.service`:\n\n```ini\n")
	unit, _, ok2 := strings.Cut(rest, "```\n")
	if !ok || !ok2 || !strings.Contains(unit, "ExecStart=/usr/local/bin/roster serve") {
		t.Fatal("docs/operations.md has no roster.service block with ExecStart=/usr/local/bin/roster serve")
	}
	unit = strings.ReplaceAll(unit, "/usr/local/bin/roster", binary(t))
	path := filepath.Join(t.TempDir(), "roster.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, analyze, "verify", path).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
