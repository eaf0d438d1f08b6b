//go:build unix

package e2e

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// oaChromiumPath is Debian's chromium package, which .ci/run installs.
const oaChromiumPath = "/usr/bin/chromium"

// TestOpenAPIDocsInBrowser renders GET /docs in headless Chromium, offline: every operation of
// the document is listed on the page, every asset came from roster and none failed. It saves a
// screenshot; with ROSTER_UPDATE_SCREENSHOT=1 it writes docs/docs-page.png in the repository.
func TestOpenAPIDocsInBrowser(t *testing.T) {
	if _, err := os.Stat(oaChromiumPath); err != nil {
		t.Skip("no " + oaChromiumPath + ": install Debian's chromium package (.ci/run does) to run the browser test")
	}
	e := start(t, "sqlite")
	d := oaLoad(t, e)

	// The browser talks to roster through a recording proxy, so the test knows every request
	// the page made and what it got.
	target, err := url.Parse(e.base)
	if err != nil {
		t.Fatal(err)
	}
	rec := &oaRecorder{}
	proxy := httptest.NewServer(rec.wrap(httputil.NewSingleHostReverseProxy(target)))
	defer proxy.Close()
	page := proxy.URL + "/docs"

	dom := oaChromium(t, "--dump-dom", page)

	// Every operation of the document is on the page.
	ops := d.Operations()
	for _, op := range ops {
		if !strings.Contains(dom, `data-path="`+op.Path+`"`) {
			t.Errorf("the page does not list %s %s", op.Method, op.Path)
		}
	}
	if n := strings.Count(dom, `class="opblock-summary-path" data-path=`); n != len(ops) {
		t.Errorf("the page lists %d operations, the document has %d", n, len(ops))
	}
	for _, bad := range []string{"Failed to load API definition", "errors-wrapper", "Fetch error", "Resolver error"} {
		if strings.Contains(dom, bad) {
			t.Errorf("the page shows an error (%q)", bad)
		}
	}

	// Everything the page loaded came from roster, and nothing failed.
	seen := rec.snapshot()
	for _, want := range []string{"/docs", "/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/roster-docs.js", "/openapi.json"} {
		if !slices.Contains(seen[want], http.StatusOK) {
			t.Errorf("GET %s: statuses %v, want 200 (requests seen: %v)", want, seen[want], seen)
		}
	}
	for p, statuses := range seen {
		for _, status := range statuses {
			if (p == "/openapi.json" || p == "/docs" || strings.HasPrefix(p, "/docs/")) && status >= 400 {
				t.Errorf("GET %s failed with %d", p, status)
			}
		}
	}

	// A screenshot of the first screen.
	shot := filepath.Join(t.TempDir(), "docs-page.png")
	if os.Getenv("ROSTER_UPDATE_SCREENSHOT") != "" {
		if shot, err = filepath.Abs(filepath.Join("..", "docs", "docs-page.png")); err != nil {
			t.Fatal(err)
		}
	}
	oaChromium(t, "--screenshot="+shot, "--window-size=1280,960", "--hide-scrollbars", page)
	png, err := os.ReadFile(shot)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10<<10 {
		t.Fatalf("no screenshot at %s (%d bytes, %v)", shot, len(png), err)
	}
	t.Logf("screenshot: %s (%d KB)", shot, len(png)>>10)
}

// oaChromium runs headless Chromium on args for at most 30 s and returns its standard output.
// It may reach only the loopback interface: any other host fails to resolve.
func oaChromium(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	flags := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir(),
		"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
		"--virtual-time-budget=15000",
	}
	cmd := exec.CommandContext(ctx, oaChromiumPath, append(flags, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Chromium starts helper processes: give it a process group of its own and end the whole
	// group if it outlives the deadline.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("chromium did not finish within 30 s: %s", oaTail(stderr.String()))
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("chromium: %v", err)
	}
	if err != nil {
		t.Fatalf("chromium: %v: %s", err, oaTail(stderr.String()))
	}
	return stdout.String()
}

func oaTail(s string) string {
	if len(s) > 2000 {
		return "…" + s[len(s)-2000:]
	}
	return s
}

// oaRecorder remembers the statuses a handler answered, by path.
type oaRecorder struct {
	mu   sync.Mutex
	seen map[string][]int
}

func (r *oaRecorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		sw := &oaStatusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, req)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.seen == nil {
			r.seen = map[string][]int{}
		}
		r.seen[req.URL.Path] = append(r.seen[req.URL.Path], sw.status)
	})
}

func (r *oaRecorder) snapshot() map[string][]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string][]int, len(r.seen))
	for k, v := range r.seen {
		out[k] = slices.Clone(v)
	}
	return out
}

type oaStatusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *oaStatusWriter) WriteHeader(status int) {
	if !w.wrote {
		w.status, w.wrote = status, true
	}
	w.ResponseWriter.WriteHeader(status)
}
