package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// forT returns a copy of e whose helpers (req, as, must, account, key) report to t, so they
// can be used inside subtests.
func (e *env) forT(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// obj is an expected JSON object: the body must have exactly these keys, each matching.
type obj map[string]any

// arr is an expected JSON array: exactly these items, in order.
type arr []any

// matcher checks one decoded JSON value and says what it expected when it does not match.
type matcher struct {
	what string
	ok   func(v any) bool
}

var (
	// anyText is any non-empty string.
	anyText = matcher{"a non-empty string", func(v any) bool { s, ok := v.(string); return ok && s != "" }}
	// anyStamp is an RFC 3339 UTC timestamp as roster writes them.
	anyStamp = matcher{"an RFC 3339 UTC timestamp", func(v any) bool {
		s, ok := v.(string)
		return ok && stampPattern.MatchString(s)
	}}
	// accountID is a native account id.
	accountID = matcher{"account_ + 24 lower-case hex", func(v any) bool {
		s, ok := v.(string)
		return ok && accountIDPattern.MatchString(s)
	}}
)

var (
	stampPattern     = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$`)
	accountIDPattern = regexp.MustCompile(`^account_[0-9a-f]{24}$`)
)

// match compares a decoded body (numbers as json.Number) with an expectation built from obj,
// arr, matcher, nil, strings, bools and ints.
func match(got, want any, at string) error {
	switch w := want.(type) {
	case matcher:
		if !w.ok(got) {
			return fmt.Errorf("%s: want %s, got %#v", at, w.what, got)
		}
	case obj:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, got %#v", at, got)
		}
		for k, wv := range w {
			gv, has := g[k]
			if !has {
				return fmt.Errorf("%s: missing key %q", at, k)
			}
			if err := match(gv, wv, at+"."+k); err != nil {
				return err
			}
		}
		for k := range g {
			if _, has := w[k]; !has {
				return fmt.Errorf("%s: unexpected key %q", at, k)
			}
		}
	case arr:
		g, ok := got.([]any)
		if !ok {
			return fmt.Errorf("%s: want an array, got %#v", at, got)
		}
		if len(g) != len(w) {
			return fmt.Errorf("%s: want %d items, got %d", at, len(w), len(g))
		}
		for i := range w {
			if err := match(g[i], w[i], at+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	case int:
		n, ok := got.(json.Number)
		if !ok || n.String() != strconv.Itoa(w) {
			return fmt.Errorf("%s: want %d, got %#v", at, w, got)
		}
	case nil:
		if got != nil {
			return fmt.Errorf("%s: want null, got %#v", at, got)
		}
	case string, bool:
		if got != w {
			return fmt.Errorf("%s: want %#v, got %#v", at, w, got)
		}
	default:
		return fmt.Errorf("%s: unsupported expectation %T", at, want)
	}
	return nil
}

// wantBody checks the status and that the body matches want exactly.
func wantBody(t *testing.T, r resp, status int, want any) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("want status %d, got %s", status, r)
	}
	var v any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("body is not JSON: %s", r)
	}
	if err := match(r.JSON(), want, "body"); err != nil {
		t.Fatalf("%v\nresponse: %s", err, r)
	}
	if id := r.Header.Get("X-Request-Id"); id == "" {
		t.Fatalf("no X-Request-Id on %s", r)
	}
}

// nativeErr is the body of a native error with code.
func nativeErr(code string) obj { return obj{"detail": anyText, "code": code} }

// conduitErr is the body of a LeadConduit error with code.
func conduitErr(code string) obj { return obj{"detail": anyText, "code": code, "error": anyText} }

// leadBankErr is the body of a Lead Bank APIError.
func leadBankErr(code, title string, status int) obj {
	return obj{"code": code, "title": title, "detail": anyText, "status": strconv.Itoa(status)}
}

// wantNative checks a native error: status, exact body {detail, code}.
func wantNative(t *testing.T, r resp, status int, code string) {
	t.Helper()
	wantBody(t, r, status, nativeErr(code))
	if code == "unauthorized" {
		if got := r.Header.Get("WWW-Authenticate"); got != `Bearer realm="roster", Basic realm="roster"` {
			t.Fatalf("WWW-Authenticate: %q", got)
		}
	}
}

// wantUnauthorized checks a native 401.
func wantUnauthorized(t *testing.T, r resp) {
	t.Helper()
	wantNative(t, r, 401, "unauthorized")
}

// accountBody is the exact expected body of an account.
func accountBody(id any, name, slug, status string) obj {
	return obj{"id": id, "name": name, "slug": slug, "status": status, "created_at": anyStamp, "updated_at": anyStamp}
}

// ids returns the ids of a native list body's data, in order.
func ids(t *testing.T, r resp) []string {
	t.Helper()
	data, ok := r.Obj()["data"].([]any)
	if !ok {
		t.Fatalf("no data list: %s", r)
	}
	out := make([]string, len(data))
	for i, d := range data {
		out[i], _ = d.(map[string]any)["id"].(string)
	}
	return out
}

// sameIDs fails unless got and want hold the same ids in the same order.
func sameIDs(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("ids:\n got  %v\n want %v", got, want)
	}
}

// sameIDSet fails unless got and want hold the same ids in any order.
func sameIDSet(t *testing.T, got, want []string) {
	t.Helper()
	g, w := append([]string(nil), got...), append([]string(nil), want...)
	sort.Strings(g)
	sort.Strings(w)
	sameIDs(t, g, w)
}

// str reads a string field of an object.
func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}
