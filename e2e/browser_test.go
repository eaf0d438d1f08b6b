//go:build unix

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
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

	"github.com/rosterhq/roster/app"
)

// oaChromiumPath is Debian's chromium package, which .ci/run installs.
const oaChromiumPath = "/usr/bin/chromium"

// browserPatience bounds a whole browser test. Every step waits on a condition of the page
// (the operations rendered, a response shown), never on a fixed time: on an idle machine the
// test takes seconds, and this is only how long a step may take before the test calls it hung.
const browserPatience = 3 * time.Minute

// TestOpenAPIDocsInBrowser renders GET /docs in headless Chromium, offline, driven over the
// DevTools protocol: every operation of the document is listed on the page, every asset came
// from roster and none failed; the key given to "Authorize" survives a reload
// (persistAuthorization) and then works in "Try it out"; "Try it out" on create account starts
// from the documented example, with no read-only field, and creates the account. It saves a
// screenshot; with ROSTER_UPDATE_SCREENSHOT=1 it writes docs/docs-page.png in the repository.
func TestOpenAPIDocsInBrowser(t *testing.T) {
	if _, err := os.Stat(oaChromiumPath); err != nil {
		t.Skip("no " + oaChromiumPath + ": install Debian's chromium package (.ci/run does) to run the browser test")
	}
	e := start(t, "sqlite")
	d := oaLoad(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), browserPatience)
	defer cancel()

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

	b := startBrowser(t, ctx)
	tab := b.newTab(t, ctx)
	ops := d.Operations()
	rendered := fmt.Sprintf(`document.querySelectorAll(".opblock-summary-path[data-path]").length === %d || !!document.querySelector(".errors-wrapper") || document.body.innerText.includes("Failed to load API definition")`, len(ops))
	tab.navigate(t, ctx, page)
	tab.waitFor(t, ctx, "the operations rendered", rendered)

	dom := tab.evalString(t, ctx, "document.documentElement.outerHTML")
	// Every operation of the document is on the page.
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
		if !slices.Contains(seen[want], http.StatusOK) && !slices.Contains(seen[want], http.StatusNotModified) {
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
	png := tab.screenshot(t, ctx, 1280, 960)
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10<<10 {
		t.Fatalf("the screenshot is %d bytes", len(png))
	}
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d KB)", shot, len(png)>>10)

	// Authorize with the superadmin key as a person does (the Authorize button, the
	// leadr-api-key field of the dialog), reload: the key is still there (persistAuthorization).
	tab.eval(t, ctx, `document.querySelector(".auth-wrapper .btn.authorize").click()`)
	scheme := `[...document.querySelectorAll(".auth-container")].find(c => c.textContent.includes("leadrApiKey"))`
	tab.waitFor(t, ctx, "the Authorize dialog", scheme+`?.querySelector("input") != null`)
	tab.eval(t, ctx, fmt.Sprintf(`(() => {
		const input = %s.querySelector("input");
		Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set.call(input, %q);
		input.dispatchEvent(new Event("input", {bubbles: true}));
		input.closest("form").querySelector("button[type=submit]").click();
	})()`, scheme, e.super))
	tab.waitFor(t, ctx, "the key kept in local storage", fmt.Sprintf(`(localStorage.getItem("authorized") || "").includes(%q)`, e.super))
	tab.navigate(t, ctx, page)
	tab.waitFor(t, ctx, "the operations rendered after a reload", rendered)
	if got := tab.evalString(t, ctx, `JSON.stringify(ui.authSelectors.authorized().toJS())`); !strings.Contains(got, e.super) {
		t.Fatalf("after a reload the page holds no key: %s", got)
	}

	// "Try it out" on create account starts from the example: no read-only field, no slug
	// made up from the pattern; executed, it creates the account with the kept key.
	op := `[...document.querySelectorAll(".opblock-post .opblock-summary-path[data-path='/v1/accounts']")][0].closest(".opblock")`
	tab.eval(t, ctx, op+`.querySelector(".opblock-summary-control").click()`)
	tab.waitFor(t, ctx, "the operation opened", op+`.querySelector(".try-out__btn") !== null`)
	tab.eval(t, ctx, op+`.querySelector(".try-out__btn").click()`)
	tab.waitFor(t, ctx, "the request body editor", op+`.querySelector("textarea.body-param__text") !== null`)
	var body map[string]any
	raw := tab.evalString(t, ctx, op+`.querySelector("textarea.body-param__text").value`)
	if err := json.Unmarshal([]byte(raw), &body); err != nil {
		t.Fatalf("the body Try it out starts from is no JSON object: %q", raw)
	}
	for _, field := range []string{"id", "created_at", "updated_at", "slug"} {
		if _, ok := body[field]; ok {
			t.Errorf("Try it out pre-fills %s: %s", field, raw)
		}
	}
	if body["name"] == nil {
		t.Errorf("Try it out does not start from the example: %s", raw)
	}
	tab.eval(t, ctx, op+`.querySelector(".btn.execute").click()`)
	tab.waitFor(t, ctx, "the answer shown", op+`.querySelector(".live-responses-table tbody .response-col_status") !== null`)
	if status := strings.TrimSpace(tab.evalString(t, ctx, op+`.querySelector(".live-responses-table tbody .response-col_status").textContent`)); status != "201" {
		t.Errorf("Try it out on create account answered %q", status)
	}
	if got := rec.snapshot()["/v1/accounts"]; !slices.Contains(got, http.StatusCreated) {
		t.Errorf("POST /v1/accounts from the page: statuses %v", got)
	}
}

// TestCORSInBrowser: a page on another origin calls the API from a real browser, preflight
// included, when --cors-origins lists that origin, and reads the headers roster exposes; from
// an origin not listed the browser refuses the answer.
func TestCORSInBrowser(t *testing.T) {
	if _, err := os.Stat(oaChromiumPath); err != nil {
		t.Skip("no " + oaChromiumPath + ": install Debian's chromium package (.ci/run does) to run the browser test")
	}
	blank := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<!doctype html><title>client</title>")
	})
	allowed, other := httptest.NewServer(blank), httptest.NewServer(blank)
	defer allowed.Close()
	defer other.Close()
	e := startConfig(t, app.Config{Database: databaseURL(t, "sqlite"), CORSOrigins: []string{allowed.URL}})
	ctx, cancel := context.WithTimeout(context.Background(), browserPatience)
	defer cancel()
	b := startBrowser(t, ctx)

	call := fmt.Sprintf(`fetch(%q + "/v1/accounts", {method: "POST", headers: {"Authorization": "Bearer " + %q,
		"Content-Type": "application/json", "Idempotency-Key": "cors-browser"}, body: JSON.stringify({name: "Browser Co"})})
		.then(r => r.status + " " + (r.headers.get("X-Request-Id") ? "id" : "no-id"), err => "refused: " + err.message)`, e.base, e.super)
	for _, tc := range []struct{ origin, want string }{
		{allowed.URL, "201 id"},
		{other.URL, "refused: Failed to fetch"},
	} {
		tab := b.newTab(t, ctx)
		tab.navigate(t, ctx, tc.origin+"/")
		tab.waitFor(t, ctx, "the client page", `document.title === "client"`)
		if got := tab.evalString(t, ctx, call); got != tc.want {
			t.Errorf("POST /v1/accounts from %s: %q, want %q", tc.origin, got, tc.want)
		}
	}
}

// browser is headless Chromium driven over the DevTools protocol on a pipe
// (--remote-debugging-pipe: JSON messages ended by a NUL byte, on file descriptors 3 and 4).
type browser struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	stderr  *opsLogBuffer // Chromium's stderr, for the failure messages
	mu      sync.Mutex
	next    int
	pending map[int]chan cdpReply
	// thrown collects the page's uncaught exceptions, for the failure messages.
	thrown []string
}

type cdpReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// startBrowser starts Chromium. It may reach only the loopback interface: any other host fails
// to resolve. The browser and its helpers are ended when the test ends.
func startBrowser(t *testing.T, ctx context.Context) *browser {
	t.Helper()
	cmdR, cmdW, err := os.Pipe() // our commands, read by Chromium on fd 3
	if err != nil {
		t.Fatal(err)
	}
	evR, evW, err := os.Pipe() // its answers and events, written on fd 4
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(oaChromiumPath,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir="+t.TempDir(),
		"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
		"--remote-debugging-pipe", "about:blank")
	b := &browser{cmd: cmd, in: cmdW, stderr: &opsLogBuffer{}, pending: map[int]chan cdpReply{}}
	cmd.ExtraFiles = []*os.File{cmdR, evW}
	cmd.Stderr = b.stderr
	// Chromium starts helper processes: a process group of its own, ended as a whole.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	cmdR.Close()
	evW.Close()
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		cmdW.Close()
		evR.Close()
	})
	go b.read(evR)
	return b
}

// read delivers Chromium's answers to the calls waiting for them.
func (b *browser) read(r io.Reader) {
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		msg, err := br.ReadBytes(0)
		if err != nil {
			b.mu.Lock()
			for id, ch := range b.pending {
				close(ch)
				delete(b.pending, id)
			}
			b.pending = nil
			b.mu.Unlock()
			return
		}
		var m struct {
			ID     int             `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
			cdpReply
		}
		if json.Unmarshal(msg[:len(msg)-1], &m) != nil {
			continue
		}
		b.mu.Lock()
		if m.Method == "Runtime.exceptionThrown" {
			b.thrown = append(b.thrown, oaTail(string(m.Params)))
		}
		if ch, ok := b.pending[m.ID]; ok && m.ID != 0 {
			ch <- m.cdpReply
			delete(b.pending, m.ID)
		}
		b.mu.Unlock()
	}
}

// call sends one command (to the browser, or to a tab's session) and waits for its answer.
func (b *browser) call(t *testing.T, ctx context.Context, session, method string, params any) json.RawMessage {
	t.Helper()
	b.mu.Lock()
	if b.pending == nil {
		b.mu.Unlock()
		t.Fatalf("%s: chromium is gone: %s", method, b.tail())
	}
	b.next++
	id := b.next
	ch := make(chan cdpReply, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method, "params": params}
	if session != "" {
		msg["sessionId"] = session
	}
	data, _ := json.Marshal(msg)
	if _, err := b.in.Write(append(data, 0)); err != nil {
		t.Fatalf("%s: %v: %s", method, err, b.tail())
	}
	select {
	case r, ok := <-ch:
		if !ok {
			t.Fatalf("%s: chromium closed the pipe: %s", method, b.tail())
		}
		if r.Error != nil {
			t.Fatalf("%s: %s", method, r.Error.Message)
		}
		return r.Result
	case <-ctx.Done():
		t.Fatalf("%s: no answer within %s: %s", method, browserPatience, b.tail())
	}
	return nil
}

func (b *browser) tail() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := oaTail(b.stderr.String())
	if len(b.thrown) > 0 {
		s += "\npage exceptions: " + strings.Join(b.thrown, "\n")
	}
	return s
}

// tab is one page of the browser.
type tab struct {
	b       *browser
	session string
}

func (b *browser) newTab(t *testing.T, ctx context.Context) *tab {
	t.Helper()
	var created struct {
		TargetID string `json:"targetId"`
	}
	_ = json.Unmarshal(b.call(t, ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}), &created)
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	_ = json.Unmarshal(b.call(t, ctx, "", "Target.attachToTarget", map[string]any{"targetId": created.TargetID, "flatten": true}), &attached)
	tb := &tab{b: b, session: attached.SessionID}
	b.call(t, ctx, tb.session, "Page.enable", map[string]any{})
	b.call(t, ctx, tb.session, "Runtime.enable", map[string]any{})
	return tb
}

// navigate loads url and waits until its document has loaded.
func (tb *tab) navigate(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	_ = json.Unmarshal(tb.b.call(t, ctx, tb.session, "Page.navigate", map[string]any{"url": url}), &nav)
	if nav.ErrorText != "" {
		t.Fatalf("navigate to %s: %s", url, nav.ErrorText)
	}
	tb.waitFor(t, ctx, "the page loaded", `document.readyState === "complete" && location.href === `+jsString(url))
}

// eval runs a JavaScript expression in the page, awaiting it if it is a promise.
func (tb *tab) eval(t *testing.T, ctx context.Context, expr string) json.RawMessage {
	t.Helper()
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	_ = json.Unmarshal(tb.b.call(t, ctx, tb.session, "Runtime.evaluate", map[string]any{
		"expression": expr, "returnByValue": true, "awaitPromise": true}), &r)
	if r.ExceptionDetails != nil {
		t.Fatalf("%s: %s %s", oaTail(expr), r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	return r.Result.Value
}

func (tb *tab) evalString(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(tb.eval(t, ctx, expr), &s); err != nil {
		t.Fatalf("%s: not a string: %v", oaTail(expr), err)
	}
	return s
}

// waitFor polls a JavaScript condition until it holds.
func (tb *tab) waitFor(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	start := time.Now()
	for {
		if v := tb.eval(t, ctx, "!!("+cond+")"); string(v) == "true" {
			if d := time.Since(start); d > 10*time.Second {
				t.Logf("%s took %s", what, d.Round(time.Millisecond))
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: not within %s: %s", what, browserPatience, tb.b.tail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// screenshot captures the page at a viewport of width × height.
func (tb *tab) screenshot(t *testing.T, ctx context.Context, width, height int) []byte {
	t.Helper()
	tb.b.call(t, ctx, tb.session, "Emulation.setDeviceMetricsOverride", map[string]any{
		"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false})
	var r struct {
		Data string `json:"data"`
	}
	_ = json.Unmarshal(tb.b.call(t, ctx, tb.session, "Page.captureScreenshot", map[string]any{"format": "png"}), &r)
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return png
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
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
