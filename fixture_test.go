package roster_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// fixture is one core over one fresh SQLite store, with a clock the test moves and a
// superadmin that holds a real key: the cast of the core's table tests.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	st    roster.Store
	svc   *roster.Service
	super roster.Principal

	mu  sync.Mutex
	now time.Time
}

// newFixture opens a store and makes a superadmin key in it. The clock stands still unless the
// test moves it (advance), so updated_at moves only when a test says time passed.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), st: coreStore(t), now: time.Now().UTC().Truncate(time.Second)}
	f.svc = roster.NewService(f.st, f.clock, nil)
	f.super = f.keyFor(`{"name":"super","role":"superadmin"}`)
	return f
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// advance moves the clock on by d.
func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// account makes an account as the operator would.
func (f *fixture) account(name string) roster.Account {
	f.t.Helper()
	a, err := f.svc.CreateAccount(f.ctx, roster.Operator(), jsonBody(map[string]any{"name": name}))
	if err != nil {
		f.t.Fatalf("account %q: %v", name, err)
	}
	return a
}

// key makes a key of the account with the role and returns its principal, as authentication
// gives it.
func (f *fixture) key(accountID string, role roster.Role) roster.Principal {
	f.t.Helper()
	return f.keyFor(string(jsonBody(map[string]any{"name": string(role), "role": role, "account_id": accountID})))
}

func (f *fixture) keyFor(body string) roster.Principal {
	f.t.Helper()
	ck, err := f.svc.CreateKey(f.ctx, roster.Operator(), []byte(body))
	if err != nil {
		f.t.Fatalf("key %s: %v", body, err)
	}
	p, err := f.svc.Authenticate(f.ctx, ck.Secret)
	if err != nil {
		f.t.Fatalf("authenticate %s: %v", body, err)
	}
	return p
}

// patchAccount changes an account as a superadmin would, failing the test on any error.
func (f *fixture) patchAccount(id string, body map[string]any) roster.Account {
	f.t.Helper()
	a, err := f.svc.PatchAccount(f.ctx, f.req(f.super), id, jsonBody(body))
	if err != nil {
		f.t.Fatalf("patch account %v: %v", body, err)
	}
	return a
}

// entity makes an entity as p, failing the test on any error.
func (f *fixture) entity(p roster.Principal, body map[string]any) roster.Entity {
	f.t.Helper()
	e, err := f.svc.CreateEntity(f.ctx, f.req(p), jsonBody(body))
	if err != nil {
		f.t.Fatalf("entity %v: %v", body, err)
	}
	return e
}

// req is a request of p without idempotency key or nonce. Its responses render as JSON.
func (f *fixture) req(p roster.Principal) *roster.Request {
	return &roster.Request{Principal: p, Render: func(v any) (int, []byte, error) {
		b, err := json.Marshal(v)
		return 200, b, err
	}}
}

// idem is req with an Idempotency-Key and a fingerprint.
func (f *fixture) idem(p roster.Principal, key, fingerprint string) *roster.Request {
	r := f.req(p)
	r.IdempotencyKey, r.Fingerprint = key, fingerprint
	return r
}

// jsonBody encodes a body as a client sends it.
func jsonBody(v any) []byte {
	if s, ok := v.(string); ok {
		return []byte(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// requestBody encodes a table row's body: nil is a request without a body; in a map, each
// string value goes through fill (when given), for rows that name what only the test knows.
func requestBody(v any, fill *strings.Replacer) []byte {
	if v == nil {
		return nil
	}
	if m, isMap := v.(map[string]any); isMap && fill != nil {
		m = with(m)
		for k, x := range m {
			if s, isStr := x.(string); isStr {
				m[k] = fill.Replace(s)
			}
		}
		v = m
	}
	return jsonBody(v)
}

// with copies body and sets the given key, value pairs on the copy.
func with(body map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(body)+len(kv)/2)
	for k, v := range body {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// without copies body without the given keys.
func without(body map[string]any, keys ...string) map[string]any {
	out := with(body)
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// outcome describes an error as the tables state it: nil for success; for a validation error
// each problem as `["body","name"] string_too_short`, sorted (SPEC §5 reports them all, in no
// stated order); for any other error its code alone.
func outcome(err error) []string {
	if err == nil {
		return nil
	}
	var e *roster.Error
	if !errors.As(err, &e) {
		return []string{"internal: " + err.Error()}
	}
	if e.Code != roster.CodeInvalid && e.Code != roster.CodePayloadInvalid {
		return []string{string(e.Code)}
	}
	var out []string
	for _, p := range e.Problems {
		loc, _ := json.Marshal(p.Loc)
		out = append(out, string(loc)+" "+p.Type)
	}
	slices.Sort(out)
	return out
}

// wantOutcome fails the test when err is not the outcome want (nil: success).
func wantOutcome(t *testing.T, err error, want ...string) {
	t.Helper()
	got := outcome(err)
	w := slices.Clone(want)
	slices.Sort(w)
	if !slices.Equal(got, w) {
		t.Fatalf("outcome:\n got  %s\n want %s", show(got), show(w))
	}
}

func show(s []string) string {
	if s == nil {
		return "success"
	}
	return strings.Join(s, " | ")
}

// refused is the outcome of a refusal with a code.
func refused(c roster.Code) []string { return []string{string(c)} }

// success is the outcome of a request that succeeds.
var success []string

// unknownAccount is a well-formed account id that names nothing.
var unknownAccount = "account_" + strings.Repeat("0", 24)
