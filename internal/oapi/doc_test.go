package oapi

import (
	"net/http"
	"os"
	"strings"
	"testing"
)

func loadRoster(t *testing.T) *Doc {
	t.Helper()
	data, err := os.ReadFile("../../api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestCheck holds Check to what it must catch: undocumented statuses, bodies that break their
// schema, and the path-level 404 and 405 of components/responses.
func TestCheck(t *testing.T) {
	d := loadRoster(t)
	hdr := func(ct string) http.Header {
		h := http.Header{"X-Request-Id": {"rz"}, "Allow": {"GET, POST"}}
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		return h
	}
	notFound := `{"detail":"no such path","code":"not_found"}`
	page := `{"data":[],"pagination":{"count":0,"has_next":false,"has_prev":false,"next_cursor":null,"prev_cursor":null}}`
	for _, c := range []struct {
		method, target string
		status         int
		ct, body       string
		want           string // the class of the first problem, "" for none
		where          string
	}{
		{"GET", "/v1/accounts", 200, "application/json", page, "", "GET /v1/accounts 200"},
		{"GET", "/v1/accounts?limit=1", 200, "application/json", page, "", "GET /v1/accounts 200"},
		{"GET", "/v1/accounts", 418, "application/json", notFound, "undocumented", "GET /v1/accounts 418"},
		{"GET", "/v1/accounts", 200, "application/json", `{"data":"x"}`, "schema", "GET /v1/accounts 200"},
		{"GET", "/v1/accounts", 200, "text/plain", page, "schema", "GET /v1/accounts 200"},
		{"GET", "/v1/accounts", 200, "application/json", "{", "schema", "GET /v1/accounts 200"},
		{"GET", "/v1/nope", 404, "application/json", notFound, "", "Native 404"},
		{"GET", "/v1/nope", 404, "application/json", `{"detail":"x"}`, "schema", "Native 404"},
		{"GET", "/v1/nope", 200, "application/json", page, "undocumented", "Native 404"},
		{"GET", "/v0/nope", 404, "application/json", notFound, "schema", "LeadBank 404"},
		{"GET", "/v1/entities/a%2F..%2Fb", 404, "application/json", notFound, "", "Native 404"},
		{"GET", "/v1/entities/a%2F..%2Fb", 422, "application/json", `{"detail":[]}`, "undocumented", "Native 404"},
		{"GET", "/v1/entities/a%2Fb", 404, "application/json", notFound, "", "GET /v1/entities/{id} 404"},
		{"PUT", "/v1/accounts", 405, "application/json", `{"detail":"no","code":"method_not_allowed"}`, "", "Native 405"},
		{"PUT", "/v1/accounts", 404, "application/json", notFound, "undocumented", "Native 405"},
		{"GET", "/v1/client/nonce", 200, "application/json", `{"nonce_value":"nope"}`, "schema", "GET /v1/client/nonce 200"},
		{"GET", "/healthz", 200, "application/json", `{"status":"ok"}`, "", "GET /healthz 200"},
		{"GET", "/healthz", 200, "", "", "schema", "GET /healthz 200"},
	} {
		where, got := d.Check(c.method, c.target, c.status, hdr(c.ct), []byte(c.body))
		switch {
		case c.want == "" && len(got) > 0:
			t.Errorf("%s %s → %d %s: want no problem, got %v", c.method, c.target, c.status, c.body, got)
		case c.want != "" && (len(got) == 0 || got[0].Class != c.want):
			t.Errorf("%s %s → %d %s: want a problem of class %s, got %v", c.method, c.target, c.status, c.body, c.want, got)
		}
		if where != c.where {
			t.Errorf("%s %s → %d: where %q, want %q", c.method, c.target, c.status, where, c.where)
		}
	}
}

func TestTemplate(t *testing.T) {
	d := &Doc{Paths: map[string]any{"/v1/entities/{id}": nil, "/v1/entities/batch": nil, "/v1/{x}/relationships": nil, "/docs": nil}}
	for path, want := range map[string]string{
		"/v1/entities/e1":            "/v1/entities/{id}",
		"/v1/entities/batch":         "/v1/entities/batch",
		"/v1/entities/":              "",
		"/v1/entities/relationships": "/v1/entities/{id}",
		"/v1/e1/relationships":       "/v1/{x}/relationships",
		"/docs":                      "/docs",
		"/docs/x":                    "",
	} {
		if got := d.Template(path); got != want {
			t.Errorf("Template(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestOperationsAndParams(t *testing.T) {
	d := loadRoster(t)
	ops := d.Operations()
	if len(ops) < 30 {
		t.Fatalf("%d operations, want the document's 30 or more", len(ops))
	}
	for i := 1; i < len(ops); i++ {
		if ops[i-1].Path > ops[i].Path {
			t.Fatalf("operations out of order: %s before %s", ops[i-1].Path, ops[i].Path)
		}
	}
	for _, op := range ops {
		ps, err := d.Params(op)
		if err != nil {
			t.Fatalf("%s %s: %v", op.Method, op.Path, err)
		}
		for _, seg := range strings.Split(op.Path, "/") {
			name, ok := strings.CutPrefix(seg, "{")
			if !ok {
				continue
			}
			name = strings.TrimSuffix(name, "}")
			found := false
			for _, p := range ps {
				found = found || p.P["in"] == "path" && p.P["name"] == name
			}
			if !found {
				t.Errorf("%s %s: no path parameter %s", op.Method, op.Path, name)
			}
		}
	}
	schema, err := d.RequestSchema(d.Operation("POST", "/v1/accounts"))
	if err != nil || schema == nil {
		t.Fatalf("POST /v1/accounts: no request schema (%v)", err)
	}
	if errs := d.Validate(schema, map[string]any{"name": "x", "nope": true}); len(errs) == 0 {
		t.Errorf("an account creation with an unknown field passes its request schema")
	}
	if schema, _ := d.RequestSchema(d.Operation("GET", "/v1/accounts")); schema != nil {
		t.Errorf("GET /v1/accounts has a request schema: %v", schema)
	}
}
