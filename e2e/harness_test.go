// Package e2e starts the real roster server on 127.0.0.1:0 against a temporary database, on
// SQLite and (when ROSTER_TEST_POSTGRES is set) on PostgreSQL, and talks to it over HTTP.
package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/app"
	"github.com/rosterhq/roster/internal/oapi"
	"github.com/rosterhq/roster/internal/pgtest"
)

// engines runs fn once per engine as a subtest.
func engines(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, start(t, "sqlite")) })
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv("ROSTER_TEST_POSTGRES") == "" {
			t.Skip("ROSTER_TEST_POSTGRES is not set; skipping the PostgreSQL run")
		}
		fn(t, start(t, "postgres"))
	})
}

// env is one running server with its superadmin key.
type env struct {
	t      *testing.T
	base   string
	super  string
	app    *app.App
	client *http.Client
	// database is the URL of the server's database, for what a test does beside the server.
	database string
}

// databaseURL makes a fresh database for one test.
func databaseURL(t *testing.T, engine string) string {
	t.Helper()
	if engine == "sqlite" {
		return "sqlite:" + filepath.Join(t.TempDir(), "roster.db")
	}
	return pgtest.Schema(t, "e2e")
}

func start(t *testing.T, engine string) *env {
	t.Helper()
	return startWith(t, databaseURL(t, engine))
}

func startWith(t *testing.T, database string) *env {
	t.Helper()
	e := startConfig(t, app.Config{Database: database})
	if e.super == "" {
		t.Fatal("no bootstrap key printed")
	}
	return e
}

// startConfig starts roster with cfg (Addr defaults to 127.0.0.1:0) and stops it when the test
// ends. env.super is the bootstrap key, "" when the database already had keys.
func startConfig(t *testing.T, cfg app.Config) *env {
	t.Helper()
	e, _ := startStoppable(t, cfg)
	return e
}

// startStoppable is startConfig that also returns the function that shuts the server down (as
// SIGTERM does), for a test that stops it before it ends.
func startStoppable(t *testing.T, cfg app.Config) (*env, func()) {
	t.Helper()
	var notice bytes.Buffer
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	cfg.Notice = &notice
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("start roster: %v", err)
	}
	super := ""
	for _, line := range strings.Split(notice.String(), "\n") {
		if strings.HasPrefix(line, "rk_") {
			super = line
		}
	}
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, func(addr string) { addrc <- addr }) }()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve ended with %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return &env{t: t, base: "http://" + addr, super: super, app: a, client: &http.Client{Timeout: 30 * time.Second}, database: cfg.Database}, stop
}

// pageMeta is the "pagination" object of a native list page.
type pageMeta struct {
	Count      int     `json:"count"`
	HasNext    bool    `json:"has_next"`
	HasPrev    bool    `json:"has_prev"`
	NextCursor *string `json:"next_cursor"`
	PrevCursor *string `json:"prev_cursor"`
}

// resp is a response read whole.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic value.
func (r resp) JSON() any {
	var v any
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	_ = dec.Decode(&v)
	return v
}

// Obj decodes the body as an object.
func (r resp) Obj() map[string]any {
	m, _ := r.JSON().(map[string]any)
	return m
}

func (r resp) String() string { return fmt.Sprintf("%d %s", r.Status, r.Body) }

// req is a request to send: headers as name, value pairs. body may be nil, a string (sent
// raw), []byte (raw) or anything else (encoded as JSON).
func (e *env) req(method, path string, body any, headers ...string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	r, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" && headers[i] == "Content-Type" {
			r.Header.Del("Content-Type")
			continue
		}
		r.Header.Set(headers[i], headers[i+1])
	}
	return e.send(r)
}

// send sends a prepared request and reads the whole response.
func (e *env) send(r *http.Request) resp {
	e.t.Helper()
	res, err := e.client.Do(r)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.Method, r.URL.Path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{Status: res.StatusCode, Header: res.Header, Body: data}
}

// as sends a request with key as a Bearer token.
func (e *env) as(key, method, path string, body any, headers ...string) resp {
	e.t.Helper()
	return e.req(method, path, body, append([]string{"Authorization", "Bearer " + key}, headers...)...)
}

// must fails the test unless the response has the status.
func (e *env) must(r resp, status int) resp {
	e.t.Helper()
	if r.Status != status {
		e.t.Fatalf("want status %d, got %s", status, r)
	}
	return r
}

// mustStatus fails t unless r has the status (e.must reports on the engine's t, not a
// subtest's).
func mustStatus(t *testing.T, r resp, status int) resp {
	t.Helper()
	if r.Status != status {
		t.Fatalf("want status %d, got %s", status, r)
	}
	return r
}

// account creates an account as the superadmin and returns its response.
func (e *env) account(name string) map[string]any {
	e.t.Helper()
	return e.must(e.as(e.super, "POST", "/v1/accounts", map[string]any{"name": name}), 201).Obj()
}

// expiredKey makes a key of the account (bare hex) that expired an hour ago. The API refuses a
// past expires_at, so a service whose clock is two hours behind makes it beside the server, as
// the operator, on the same database.
func (e *env) expiredKey(account string, role roster.Role, name string) roster.CreatedKey {
	e.t.Helper()
	past := time.Now().Add(-time.Hour).UTC()
	behind := relSideService(e.t, e.database, -2*time.Hour)
	ck, err := behind.CreateKey(context.Background(), roster.Operator(), roster.KeyCreate{AccountID: account, Role: role, Name: name, ExpiresAt: &past}.Body())
	if err != nil {
		e.t.Fatalf("create an expired key: %v", err)
	}
	return ck
}

// key makes a key of role for account (a prefixed or bare id) and returns its secret.
func (e *env) key(account string, role roster.Role) string {
	e.t.Helper()
	id, _ := roster.ParseID(roster.KindAccount, account)
	ck, err := e.app.Service.CreateKey(context.Background(), roster.Operator(), roster.KeyCreate{AccountID: id, Role: role, Name: string(role)}.Body())
	secret := ck.Secret
	if err != nil {
		e.t.Fatalf("create key: %v", err)
	}
	return secret
}

// wantError checks a native error body.
func wantError(t *testing.T, r resp, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("want %d %s, got %s", status, code, r)
	}
	if got := r.Obj()["code"]; got != code {
		t.Fatalf("want code %q, got %s", code, r)
	}
	if r.Header.Get("X-Request-Id") == "" {
		t.Fatalf("no X-Request-Id on %s", r)
	}
}

// wantProblems checks a 422 body has exactly these (loc, type) items, in any order.
func wantProblems(t *testing.T, r resp, want ...string) {
	t.Helper()
	if r.Status != 422 {
		t.Fatalf("want 422, got %s", r)
	}
	detail, ok := r.Obj()["detail"].([]any)
	if !ok {
		t.Fatalf("422 without a detail list: %s", r)
	}
	var got []string
	for _, d := range detail {
		item := d.(map[string]any)
		loc, _ := json.Marshal(item["loc"])
		if _, ok := item["msg"].(string); !ok {
			t.Fatalf("problem without msg: %s", r)
		}
		got = append(got, string(loc)+" "+fmt.Sprint(item["type"]))
	}
	if strings.Join(sorted(got), "\n") != strings.Join(sorted(want), "\n") {
		t.Fatalf("problems:\n got  %v\n want %v\n body %s", got, want, r.Body)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// ---------------------------------------------------------------------------------------------
// Helpers every test file may use: keys by surface, bodies, ids, list pages, rate limits.

// surfaceOf names the surface of a path as the route table does: "native" (/v1), "leadbank"
// (/v0) or "leadconduit" (the rest).
func surfaceOf(path string) string {
	return map[string]string{"Native": "native", "LeadBank": "leadbank", "Conduit": "leadconduit"}[oapi.Surface(path)]
}

// authFor presents key the way the surface of path documents it (SPEC §3): leadr-api-key on
// /v1, Bearer on /v0, Basic with the user API on LeadConduit's paths; no key, no header.
func authFor(path, key string) []string {
	switch {
	case key == "":
		return nil
	case surfaceOf(path) == "leadconduit":
		return []string{"Authorization", basic("API", key)}
	case surfaceOf(path) == "leadbank":
		return []string{"Authorization", "Bearer " + key}
	default:
		return []string{"leadr-api-key", key}
	}
}

// basic is an Authorization header of the Basic scheme.
func basic(user, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))
}

// with copies a body and sets fields on the copy: with(body, "name", "x", "slug", nil).
func with(body map[string]any, kv ...any) map[string]any {
	out := maps.Clone(body)
	if out == nil {
		out = map[string]any{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// bareID strips the kind prefix of an id ("entity_0123…" → "0123…"); a bare id stays as it is.
func bareID(id string) string {
	if _, rest, ok := strings.Cut(id, "_"); ok {
		return rest
	}
	return id
}

// nativePage is one native list page, its envelope checked.
type nativePage struct {
	ids              []string // the rows' ids
	rows             []map[string]any
	hasNext, hasPrev bool
	next, prev       string
}

// getPage reads one native list page of path (which holds its query) and checks the envelope:
// exactly data and pagination, count the page's size, a cursor a string exactly when its flag
// is true.
func getPage(t *testing.T, e *env, key, path string) nativePage {
	t.Helper()
	r := mustStatus(t, e.as(key, "GET", path, nil), 200)
	body := r.Obj()
	data, ok := body["data"].([]any)
	if !ok || len(body) != 2 {
		t.Fatalf("not a list envelope: %s", r)
	}
	pg, _ := body["pagination"].(map[string]any)
	var p nativePage
	p.hasNext, _ = pg["has_next"].(bool)
	p.hasPrev, _ = pg["has_prev"].(bool)
	cursor := func(has bool) any {
		if has {
			return anyText
		}
		return nil
	}
	if err := match(pg, obj{"count": len(data), "has_next": p.hasNext, "has_prev": p.hasPrev,
		"next_cursor": cursor(p.hasNext), "prev_cursor": cursor(p.hasPrev)}, "pagination"); err != nil {
		t.Fatalf("%v: %s", err, r)
	}
	p.next, p.prev = str(pg, "next_cursor"), str(pg, "prev_cursor")
	for _, d := range data {
		m := d.(map[string]any)
		p.rows = append(p.rows, m)
		p.ids = append(p.ids, str(m, "id"))
	}
	return p
}

// rlHeader is the RateLimit header of an answer.
var rlHeader = regexp.MustCompile(`^"(per-key|per-account)";r=(\d+);t=(\d+)$`)

// rlState reads the RateLimit header: the policy it names, the tokens left and the reset.
func rlState(t *testing.T, r resp) (policy string, remaining, reset int) {
	t.Helper()
	m := rlHeader.FindStringSubmatch(r.Header.Get("RateLimit"))
	if m == nil {
		t.Fatalf("RateLimit %q is not well formed (%s)", r.Header.Get("RateLimit"), r)
	}
	remaining, _ = strconv.Atoi(m[2])
	reset, _ = strconv.Atoi(m[3])
	return m[1], remaining, reset
}
