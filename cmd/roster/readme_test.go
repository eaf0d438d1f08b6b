package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadme follows the README as a newcomer does: the shell blocks (```sh) of its sections
// readmeSections, in order, in one bash session, with the binary this package builds first on
// PATH, in an empty folder, on 127.0.0.1 (a free port in place of 8080: the only change made to
// the text; ROSTER_ADDR makes it serve's default). Build commands (lines starting with "go ") are the test's own build. Every block
// must succeed, every curl must answer the status its comment claims ("# 404"; a comment line
// right after a command claims for it), or a 2xx when none is claimed, and every curl command of
// those sections must have run.
func TestReadme(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the README's walk-through needs %s, which is not installed", tool)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmds, err := readmeCommands(string(readme))
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	statusLog := filepath.Join(dir, ".statuses")
	var script strings.Builder
	script.WriteString(`set -euo pipefail
__line=0
trap 'echo "README line $__line failed (exit $?)" >&2' ERR
# curl answers as written, and the test learns each answer's status.
curl() {
  local out
  out=$(command curl -sS -w '\n%{http_code}' "$@") || { echo "$__line failed" >>` + statusLog + `; return 1; }
  printf '%s\n' "${out%$'\n'*}"
  echo "$__line ${out##*$'\n'}" >>` + statusLog + `
}
`)
	for _, c := range cmds {
		if strings.HasPrefix(c.text, "go ") {
			continue
		}
		fmt.Fprintf(&script, "__line=%d\n%s\n", c.line, strings.ReplaceAll(c.text, "127.0.0.1:8080", addr))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// roster serve's default address is the free port too (ROSTER_ADDR).
	cmd.Env = []string{"PATH=" + filepath.Dir(binary(t)) + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + dir, "ROSTER_ADDR=" + addr}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	// The server the README starts in the background, and anything else left of the session.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	if err != nil {
		serveLog, _ := os.ReadFile(filepath.Join(dir, "roster.log"))
		t.Fatalf("the README's blocks failed: %v\n%s\nroster.log:\n%s", err, tail(out.String(), 4000), tail(string(serveLog), 2000))
	}

	logged, err := os.ReadFile(statusLog)
	if err != nil {
		t.Fatal(err)
	}
	ran := map[int]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(logged)), "\n") {
		lineNo, status, _ := strings.Cut(l, " ")
		n, _ := strconv.Atoi(lineNo)
		ran[n] = true
		c := byLine(cmds, n)
		if c == nil || strings.HasPrefix(c.text, "until ") {
			continue
		}
		switch {
		case c.status != "" && status != c.status:
			t.Errorf("README line %d: status %s, its comment says %s: %s", n, status, c.status, c.text)
		case c.status == "" && !strings.HasPrefix(status, "2"):
			t.Errorf("README line %d: status %s: %s", n, status, c.text)
		}
	}
	for _, c := range cmds {
		if c.curl && !ran[c.line] {
			t.Errorf("README line %d never ran its curl: %s", c.line, c.text)
		}
	}
	if t.Failed() {
		t.Logf("the session's output:\n%s", tail(out.String(), 4000))
	}
}

// readmeSections are the sections of the README whose shell blocks the test runs.
var readmeSections = []string{"## Quick start", "## Authentication", "## The API, endpoint by endpoint"}

// readmeCommand is one command of a README shell block: its first line's number, its text
// (continuation lines included), the status its comment claims, and whether it runs curl.
type readmeCommand struct {
	line   int
	text   string
	status string
	curl   bool
}

var statusComment = regexp.MustCompile(`^#\s*([1-5]\d\d)\b`)

// readmeCommands splits the ```sh blocks of readmeSections into commands: a command goes on
// over a line ending in a backslash and over a quote left open.
func readmeCommands(readme string) ([]readmeCommand, error) {
	var cmds []readmeCommand
	found := map[string]bool{}
	inSection, inBlock := false, false
	var cur *readmeCommand
	var quote byte
	for i, line := range strings.Split(readme, "\n") {
		n := i + 1
		switch {
		case !inBlock && strings.HasPrefix(line, "## "):
			inSection = false
			for _, s := range readmeSections {
				if strings.HasPrefix(line, s) {
					inSection, found[s] = true, true
				}
			}
			continue
		case !inBlock && line == "```sh":
			inBlock = inSection
			continue
		case inBlock && line == "```":
			if cur != nil || quote != 0 {
				return nil, fmt.Errorf("README line %d: a shell block ends inside a command", n)
			}
			inBlock = false
			continue
		case !inBlock:
			continue
		}
		code, comment := splitComment(line, &quote)
		if cur == nil {
			if strings.TrimSpace(code) == "" {
				// A comment line: a status it starts with is the previous command's.
				if m := statusComment.FindStringSubmatch(strings.TrimSpace(comment)); m != nil && len(cmds) > 0 && cmds[len(cmds)-1].status == "" {
					cmds[len(cmds)-1].status = m[1]
				}
				continue
			}
			cur = &readmeCommand{line: n}
		} else {
			cur.text += "\n"
		}
		cur.text += line
		if regexp.MustCompile(`(^|[\s$(|;])curl\s`).MatchString(code) {
			cur.curl = true
		}
		if m := statusComment.FindStringSubmatch(strings.TrimSpace(comment)); m != nil {
			cur.status = m[1]
		}
		if quote == 0 && !strings.HasSuffix(strings.TrimRight(code, " "), "\\") {
			cmds = append(cmds, *cur)
			cur = nil
		}
	}
	for _, s := range readmeSections {
		if !found[s] {
			return nil, fmt.Errorf("the README has no section %q", s)
		}
	}
	return cmds, nil
}

// splitComment splits a line into its code and its comment, following quotes, which may be
// left open for the next line (*quote).
func splitComment(line string, quote *byte) (code, comment string) {
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case *quote != 0:
			if ch == '\\' && *quote == '"' {
				i++
			} else if ch == *quote {
				*quote = 0
			}
		case ch == '\\':
			i++
		case ch == '\'' || ch == '"':
			*quote = ch
		case ch == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return line[:i], line[i:]
		}
	}
	return line, ""
}

func byLine(cmds []readmeCommand, n int) *readmeCommand {
	for i := range cmds {
		if cmds[i].line == n {
			return &cmds[i]
		}
	}
	return nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
