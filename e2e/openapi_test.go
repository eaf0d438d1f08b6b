package e2e

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/app"
	"github.com/rosterhq/roster/internal/oapi"
)

// The responses roster gives validate against its own OpenAPI document (SPEC §10): a
// representative request for every route and every status the document lists for it, on a
// fresh server, each answer checked against the schema and headers documented for its path,
// method and status.

// oaDoc is the document a server serves, with a record of what the test has validated
// (oapi.Doc.Check's where: "GET /v1/accounts 200", "Native 404").
type oaDoc struct {
	*oapi.Doc
	covered map[string]bool
}

func oaLoad(t *testing.T, e *env) *oaDoc {
	t.Helper()
	r := e.must(e.req("GET", "/openapi.json", nil), 200)
	return oaParse(t, r.Body)
}

func oaParse(t *testing.T, data []byte) *oaDoc {
	t.Helper()
	doc, err := oapi.Parse(data)
	if err != nil {
		t.Fatalf("the OpenAPI document: %v", err)
	}
	return &oaDoc{Doc: doc, covered: map[string]bool{}}
}

// oaDeref follows $ref to the object it names.
func (d *oaDoc) oaDeref(t *testing.T, v any) map[string]any {
	t.Helper()
	m, err := d.Deref(v)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// oaCheck validates one response against the document and records what it covered.
func (d *oaDoc) oaCheck(t *testing.T, method, target string, r resp) {
	t.Helper()
	where, problems := d.Check(method, target, r.Status, r.Header, r.Body)
	for _, p := range problems {
		t.Errorf("%s %s (%s): %s: %s\n  answer: %s", method, target, where, p.Class, p.Msg, r)
	}
	if len(problems) == 0 {
		d.covered[where] = true
	}
}

// oaCheckRequest validates a request body the server accepts against the operation's
// documented requestBody, so the document's request schemas are not stricter than the server.
func (d *oaDoc) oaCheckRequest(t *testing.T, op string, body any) {
	t.Helper()
	method, tpl, _ := strings.Cut(op, " ")
	rb, err := d.RequestBody(d.Operation(method, tpl))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		if rb["required"] == true {
			t.Errorf("%s: the document requires a body the request does not send", op)
		}
		return
	}
	content, _ := rb["content"].(map[string]any)
	media, _ := content["application/json"].(map[string]any)
	if media == nil {
		t.Errorf("%s: the request sends a JSON body the document does not describe", op)
		return
	}
	v, err := oapi.RoundTrip(body)
	if err != nil {
		t.Fatal(err)
	}
	if errs := d.Validate(media["schema"], v); len(errs) > 0 {
		data, _ := json.Marshal(body)
		t.Errorf("%s: a body the server accepts breaks the documented request schema:\n  %s\n  body: %s", op, strings.Join(errs, "\n  "), data)
	}
}

// oaCall is one request: key "" sends none. Keys are presented the way each surface's
// contract does: leadr-api-key on /v1, Bearer on /v0, Basic with the user API at the root.
type oaCall struct {
	key          string
	method, path string
	body         any
	hdr          []string
	want         int
}

// with returns a copy of c with a header set (replacing an earlier value of it) and the
// status it should now get.
func (c oaCall) with(want int, hdr ...string) oaCall {
	out := c
	out.want = want
	out.hdr = nil
	for i := 0; i+1 < len(c.hdr); i += 2 {
		replaced := false
		for j := 0; j+1 < len(hdr); j += 2 {
			if strings.EqualFold(c.hdr[i], hdr[j]) {
				replaced = true
			}
		}
		if !replaced {
			out.hdr = append(out.hdr, c.hdr[i], c.hdr[i+1])
		}
	}
	out.hdr = append(out.hdr, hdr...)
	return out
}

// oaDo sends c, checks its status and validates the answer against the document.
func (d *oaDoc) oaDo(t *testing.T, e *env, c oaCall) resp {
	t.Helper()
	r := e.req(c.method, c.path, c.body, append(authFor(c.path, c.key), c.hdr...)...)
	if r.Status != c.want {
		t.Errorf("%s %s: want %d, got %s", c.method, c.path, c.want, r)
	}
	d.oaCheck(t, c.method, c.path, r)
	return r
}

// oaStream sends a body of n bytes without a Content-Length (chunked), so the server reads
// it up to its limit.
func (d *oaDoc) oaStream(t *testing.T, e *env, key, method, path string, n int) {
	t.Helper()
	body := io.LimitReader(oaZeros{}, int64(n))
	req, err := http.NewRequest(method, e.base+path, io.NopCloser(body))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	h := authFor(path, key)
	for i := 0; i+1 < len(h); i += 2 {
		req.Header.Set(h[i], h[i+1])
	}
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	r := resp{Status: res.StatusCode, Header: res.Header, Body: data}
	if r.Status != 413 {
		t.Errorf("%s %s with %d bytes: want 413, got %s", method, path, n, r)
	}
	d.oaCheck(t, method, path, r)
}

type oaZeros struct{}

func (oaZeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// oaString reads a string field of a decoded body.
func oaString(t *testing.T, r resp, field string) string {
	t.Helper()
	s, ok := r.Obj()[field].(string)
	if !ok {
		t.Fatalf("no %s in %s", field, r)
	}
	return s
}

const (
	oaUnknownHex = "0123456789abcdef01234567" // well formed, names nothing
	oaBogusNonce = "6f1c2b9e-1d2c-4e5f-8a7b-0c1d2e3f4a5b"
	oaReusedKey  = "oa-reused-idempotency-key"
)

func oaEntityBody(name string) map[string]any {
	return map[string]any{"name": name, "module_ids": []string{"leadconduit_default"}, "source": "form", "recipient": nil}
}

func oaFullEntityBody(name string) map[string]any {
	b := oaEntityBody(name)
	b["recipient"] = "crm"
	b["description"] = "every field"
	b["field_suffix"] = "oa1"
	b["invitation_id"] = "5fd4371e940df5a34a3888b2"
	b["flow_ids"] = []string{"5fd4371e940df5a34a3888b2"}
	b["logo_url"] = "https://example.com/logo.png"
	b["website"] = "https://example.com"
	b["time_zone"] = "America/Los Angeles"
	b["trustedform_certified_vendor"] = true
	return b
}

func TestOpenAPIResponsesMatchDocument(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		d := oaLoad(t, e)
		e.client = webNoRedirect(e.client) // a redirect is an answer to check, not to follow
		do := func(c oaCall) resp { t.Helper(); return d.oaDo(t, e, c) }
		fx := oaFixtures(t, e, do)
		specs := oaSuccesses(fx)
		byOp := map[string]oaCall{}
		for _, s := range specs {
			byOp[s.op] = s.c
			d.oaCheckRequest(t, s.op, s.c.body)
			if s.op == "GET /v1/events/stream" {
				d.oaEventStream(t, e, s.c)
				continue
			}
			r := do(s.c)
			switch s.op {
			case "GET /entities":
				if !strings.Contains(r.Header.Get("Link"), `rel="next"`) {
					t.Errorf("GET /entities?limit=1 without a next link: %v", r.Header)
				}
			case "GET /v0/accounts/{id}/entity_relationships":
				if r.Obj()["has_more"] != true || r.Obj()["cursor"] == nil {
					t.Errorf("a first page of one without has_more and cursor: %s", r)
				}
			}
		}
		for _, op := range d.Operations() {
			if _, ok := byOp[op.Method+" "+op.Path]; !ok {
				t.Errorf("no representative request for %s %s", op.Method, op.Path)
			}
		}

		for _, c := range oaErrors(fx) {
			do(c)
		}
		for _, p := range []string{"/v1/accounts", fx.v0 + "/batch", "/entities"} {
			d.oaStream(t, e, fx.kA, "POST", p, api.MaxBody+1)
		}

		oaRefusals(d, fx, specs, do)
		oaRateLimited(t, d)
		oaExpired(t, d, e.database)
		oaCheckCoverage(t, d)
	})
}

// oaFixture is what the requests of TestOpenAPIResponsesMatchDocument name: two tenants, A with
// an admin and a reader key and B with an admin, entities on /v1 and /entities, a managed key.
type oaFixture struct {
	super, aID, bID, bSlug string
	kA, rA, kB             string
	e1, e2, e3, c1, c2     string // e3 and c2 are deleted by the successful requests
	keyID                  string
	rels, v0, bad          string // the /v1 and /v0 relationship paths of A; an account no one has
	batch, v0batch         map[string]any
	// events: an event of A (oaEvents).
	events oaFeed
	// auditID is a record of A's audit trail.
	auditID string
}

// oaFixtures makes the fixture through the document's eyes (each answer validated), with an
// idempotent replay on each caller's scope and a write that spends a nonce.
func oaFixtures(t *testing.T, e *env, do func(oaCall) resp) *oaFixture {
	t.Helper()
	// Fixtures: two tenants with an admin and a reader key each.
	a := do(oaCall{e.super, "POST", "/v1/accounts", map[string]any{"name": "OA Alpha"}, nil, 201})
	b := do(oaCall{e.super, "POST", "/v1/accounts", map[string]any{"name": "OA Beta"}, nil, 201})
	aID, bID := oaString(t, a, "id"), oaString(t, b, "id")
	bSlug := oaString(t, b, "slug")
	kA, rA := e.key(aID, roster.RoleAdmin), e.key(aID, roster.RoleReader)
	kB := e.key(bID, roster.RoleAdmin)

	ent := func(name string) string {
		t.Helper()
		return oaString(t, do(oaCall{kA, "POST", "/v1/entities", oaEntityBody(name), nil, 201}), "id")
	}
	e1, e2, e3 := ent("OA One"), ent("OA Two"), ent("OA Three")
	c1 := oaString(t, do(oaCall{kA, "POST", "/entities", oaEntityBody("OA Conduit One"), nil, 201}), "id")
	c2 := oaString(t, do(oaCall{kA, "POST", "/entities", oaEntityBody("OA Conduit Two"), nil, 201}), "id")

	// Idempotency: a first use and its replay on each caller's scope; later writes reuse
	// the key with other requests (409).
	do(oaCall{e.super, "POST", "/v1/accounts", map[string]any{"name": "OA Gamma"}, []string{"Idempotency-Key", oaReusedKey}, 201})
	if r := do(oaCall{e.super, "POST", "/v1/accounts", map[string]any{"name": "OA Gamma"}, []string{"Idempotency-Key", oaReusedKey}, 201}); r.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay without Idempotent-Replayed: %v", r.Header)
	}
	replayKey := map[string]any{"account_id": aID, "name": "OA replay"}
	do(oaCall{kA, "POST", "/v1/api-keys", replayKey, []string{"Idempotency-Key", oaReusedKey}, 201})
	if r := do(oaCall{kA, "POST", "/v1/api-keys", replayKey, []string{"Idempotency-Key", oaReusedKey}, 201}); r.Obj()["key"] != nil {
		t.Errorf("a replay shows the secret: %s", r)
	}
	keyID := oaString(t, do(oaCall{kA, "POST", "/v1/api-keys",
		map[string]any{"account_id": aID, "name": "OA managed", "expires_at": "2099-01-01T00:00:00Z"}, nil, 201}), "id")
	// A superadmin key has no account (null), in its creation and in lists.
	do(oaCall{e.super, "POST", "/v1/api-keys", map[string]any{"account_id": nil, "name": "OA root", "role": "superadmin"}, nil, 201})
	do(oaCall{e.super, "GET", "/v1/api-keys?limit=100", nil, nil, 200})
	// A write that spends a nonce.
	nonce := oaString(t, do(oaCall{kA, "GET", "/v1/client/nonce", nil, nil, 200}), "nonce_value")
	do(oaCall{kA, "PATCH", "/v1/entities/" + e3, map[string]any{"time_zone": "Europe/Paris"}, []string{"leadr-client-nonce", nonce}, 200})

	rels := "/v1/accounts/" + aID + "/entity_relationships"
	v0 := "/v0/accounts/" + aID + "/entity_relationships"
	auditID := do(oaCall{kA, "GET", "/v1/audit_events?limit=1", nil, nil, 200}).Obj()["data"].([]any)[0].(map[string]any)["id"].(string)
	return &oaFixture{
		auditID: auditID,
		events:  oaEvents(t, e, aID),
		super:   e.super, aID: aID, bID: bID, bSlug: bSlug, kA: kA, rA: rA, kB: kB,
		e1: e1, e2: e2, e3: e3, c1: c1, c2: c2, keyID: keyID,
		rels: rels, v0: v0, bad: "/v1/accounts/account_" + oaUnknownHex,
		batch:   map[string]any{"entity_ids": []string{e1, bareID(e2)}, "relationship_type": "account_holder"},
		v0batch: map[string]any{"entity_ids": []string{e1, e2}, "relationship_type": "authorized_user"},
	}
}

// oaSpec is the representative successful request of an operation, keyed "METHOD template".
type oaSpec struct {
	op string
	c  oaCall
}

// oaSuccesses lists the representative successful request of every operation. Order matters
// where one changes what another sees.
func oaSuccesses(fx *oaFixture) []oaSpec {
	return []oaSpec{
		{"GET /healthz", oaCall{"", "GET", "/healthz", nil, nil, 200}},
		{"GET /readyz", oaCall{"", "GET", "/readyz", nil, nil, 200}},
		{"GET /metrics", oaCall{"", "GET", "/metrics", nil, nil, 200}},
		{"GET /openapi.json", oaCall{"", "GET", "/openapi.json", nil, nil, 200}},
		{"GET /", oaCall{"", "GET", "/", nil, nil, 302}},
		{"GET /docs", oaCall{"", "GET", "/docs", nil, nil, 200}},
		{"GET /docs/", oaCall{"", "GET", "/docs/", nil, nil, 302}},
		{"GET /docs/{file}", oaCall{"", "GET", "/docs/swagger-ui.css", nil, nil, 200}},
		{"POST /v1/accounts", oaCall{fx.super, "POST", "/v1/accounts", map[string]any{"name": "OA Created", "slug": "oa-created"}, nil, 201}},
		{"GET /v1/accounts", oaCall{fx.super, "GET", "/v1/accounts?limit=2", nil, nil, 200}},
		{"GET /v1/accounts/{account_id}", oaCall{fx.kA, "GET", "/v1/accounts/" + fx.aID, nil, nil, 200}},
		{"PATCH /v1/accounts/{account_id}", oaCall{fx.kA, "PATCH", "/v1/accounts/" + fx.aID, map[string]any{"name": "OA Alpha Renamed"}, nil, 200}},
		{"POST /v1/entities", oaCall{fx.kA, "POST", "/v1/entities", oaFullEntityBody("OA Full"), nil, 201}},
		{"GET /v1/entities", oaCall{fx.kA, "GET", "/v1/entities?limit=2", nil, nil, 200}},
		{"GET /v1/entities/{id}", oaCall{fx.kA, "GET", "/v1/entities/" + fx.e1, nil, nil, 200}},
		{"PUT /v1/entities/{id}", oaCall{fx.kA, "PUT", "/v1/entities/" + fx.e1, oaFullEntityBody("OA One Replaced"), nil, 200}},
		{"PATCH /v1/entities/{id}", oaCall{fx.kA, "PATCH", "/v1/entities/" + fx.e2, map[string]any{"deprecated": true, "see": fx.e1}, nil, 200}},
		{"DELETE /v1/entities/{id}", oaCall{fx.kA, "DELETE", "/v1/entities/" + fx.e3, nil, nil, 200}},
		{"POST /v1/accounts/{account_id}/entity_relationships/batch", oaCall{fx.kA, "POST", fx.rels + "/batch", fx.batch, []string{"Idempotency-Key", "oa-batch-v1"}, 200}},
		{"GET /v1/entities/{id}/relationships", oaCall{fx.kA, "GET", "/v1/entities/" + fx.e1 + "/relationships", nil, nil, 200}},
		{"GET /v1/accounts/{account_id}/entity_relationships", oaCall{fx.kA, "GET", fx.rels + "?limit=1", nil, nil, 200}},
		{"DELETE /v1/accounts/{account_id}/entity_relationships/{entity_id}", oaCall{fx.kA, "DELETE", fx.rels + "/" + fx.e2 + "?relationship_type=account_holder", nil, nil, 200}},
		{"POST /v1/api-keys", oaCall{fx.kA, "POST", "/v1/api-keys", map[string]any{"account_id": fx.aID, "name": "OA reader", "role": "reader"}, nil, 201}},
		{"GET /v1/api-keys", oaCall{fx.kA, "GET", "/v1/api-keys", nil, nil, 200}},
		{"GET /v1/api-keys/{key_id}", oaCall{fx.kA, "GET", "/v1/api-keys/" + fx.keyID, nil, nil, 200}},
		{"PATCH /v1/api-keys/{key_id}", oaCall{fx.kA, "PATCH", "/v1/api-keys/" + fx.keyID, map[string]any{"status": "revoked"}, nil, 200}},
		{"GET /v1/client/nonce", oaCall{fx.kA, "GET", "/v1/client/nonce", nil, nil, 200}},
		{"POST /v0/accounts/{id}/entity_relationships/batch", oaCall{fx.kA, "POST", fx.v0 + "/batch", fx.v0batch, []string{"Idempotency-Key", "oa-batch-v0"}, 200}},
		{"GET /v0/accounts/{id}/entity_relationships", oaCall{fx.kA, "GET", fx.v0 + "?limit=1", nil, nil, 200}},
		{"DELETE /v0/accounts/{id}/entity_relationships/{entity_id}", oaCall{fx.kA, "DELETE", fx.v0 + "/" + fx.e2 + "?relationship_type=authorized_user", nil, nil, 200}},
		{"POST /entities", oaCall{fx.kA, "POST", "/entities", oaFullEntityBody("OA Conduit Full"), nil, 201}},
		{"GET /entities", oaCall{fx.kA, "GET", "/entities?limit=1", nil, nil, 200}},
		{"GET /entities/{id}", oaCall{fx.kA, "GET", "/entities/" + fx.c1, nil, nil, 200}},
		{"PUT /entities/{id}", oaCall{fx.kA, "PUT", "/entities/" + fx.c1, oaFullEntityBody("OA Conduit Replaced"), nil, 200}},
		{"PATCH /entities/{id}", oaCall{fx.kA, "PATCH", "/entities/" + fx.c1, map[string]any{"description": nil, "flow_ids": []string{}}, nil, 200}},
		{"DELETE /entities/{id}", oaCall{fx.kA, "DELETE", "/entities/" + fx.c2, nil, nil, 200}},
		{"GET /v1/events", oaCall{fx.kA, "GET", "/v1/events?limit=2", nil, nil, 200}},
		{"GET /v1/events/{id}", oaCall{fx.rA, "GET", "/v1/events/" + fx.events.kept, nil, nil, 200}},
		{"GET /v1/events/stream", oaCall{fx.kA, "GET", "/v1/events/stream", nil, nil, 200}},
		{"GET /v1/audit_events", oaCall{fx.kA, "GET", "/v1/audit_events?limit=2", nil, nil, 200}},
		{"GET /v1/audit_events/{id}", oaCall{fx.kA, "GET", "/v1/audit_events/" + fx.auditID, nil, nil, 200}},
		{"GET /v1/audit_events/verify", oaCall{fx.kA, "GET", "/v1/audit_events/verify", nil, nil, 200}},
	}
}

// oaErrors lists a representative request for each error each operation documents.
func oaErrors(fx *oaFixture) []oaCall {
	return []oaCall{
		{"", "GET", "/docs/nope.js", nil, nil, 404},

		{fx.kA, "POST", "/v1/accounts", map[string]any{"name": "OA Nope"}, nil, 403},
		{fx.super, "POST", "/v1/accounts", map[string]any{"name": "OA Dup", "slug": fx.bSlug}, nil, 409},
		{fx.super, "POST", "/v1/accounts", map[string]any{"name": "x", "slug": "A B", "extra": 1}, nil, 422},
		{fx.super, "POST", "/v1/accounts", "{}", []string{"Content-Type", "text/plain"}, 415},
		{fx.super, "GET", "/v1/accounts?sort=nope:asc", nil, nil, 400},
		{fx.kA, "GET", "/v1/accounts?account_id=" + fx.bID, nil, nil, 403},
		{fx.super, "GET", "/v1/accounts?slug=oa-no-such-slug", nil, nil, 404},
		{fx.super, "GET", "/v1/accounts?limit=0", nil, nil, 422},
		{fx.kA, "GET", "/v1/accounts/" + fx.bID, nil, nil, 403},
		{fx.super, "GET", fx.bad, nil, nil, 404},
		{fx.super, "GET", "/v1/accounts/account_x-y", nil, nil, 422},
		{fx.rA, "PATCH", "/v1/accounts/" + fx.aID, map[string]any{"name": "OA Reader"}, nil, 403},
		{fx.super, "PATCH", fx.bad, map[string]any{"name": "OA Ghost"}, nil, 404},
		{fx.kA, "PATCH", "/v1/accounts/" + fx.aID, map[string]any{"slug": fx.bSlug}, nil, 409},
		{fx.kA, "PATCH", "/v1/accounts/" + fx.aID, map[string]any{"name": "x", "status": "gone"}, nil, 422},

		{fx.rA, "POST", "/v1/entities", oaEntityBody("OA Reader"), nil, 403},
		{fx.kA, "POST", "/v1/entities", map[string]any{"name": ""}, nil, 422},
		{fx.kA, "GET", "/v1/entities?sort=nope:asc", nil, nil, 400},
		{fx.kA, "GET", "/v1/entities?account_id=" + fx.bID, nil, nil, 403},
		{fx.kA, "GET", "/v1/entities?limit=0", nil, nil, 422},
		{fx.kA, "GET", "/v1/entities/" + fx.e1 + "?account_id=" + fx.bID, nil, nil, 403},
		{fx.kA, "GET", "/v1/entities/entity_" + oaUnknownHex, nil, nil, 404},
		{fx.kA, "GET", "/v1/entities/nope", nil, nil, 422},
		{fx.rA, "PUT", "/v1/entities/" + fx.e1, oaEntityBody("OA Reader"), nil, 403},
		{fx.kA, "PUT", "/v1/entities/" + oaUnknownHex, oaEntityBody("OA Ghost"), nil, 404},
		{fx.kA, "PUT", "/v1/entities/" + fx.e1, map[string]any{}, nil, 422},
		{fx.rA, "PATCH", "/v1/entities/" + fx.e1, map[string]any{"description": "x"}, nil, 403},
		{fx.kA, "PATCH", "/v1/entities/entity_" + oaUnknownHex, map[string]any{"description": "x"}, nil, 404},
		{fx.kA, "PATCH", "/v1/entities/" + fx.e1, map[string]any{"name": 5}, nil, 422},
		{fx.rA, "DELETE", "/v1/entities/" + fx.e1, nil, nil, 403},
		{fx.kA, "DELETE", "/v1/entities/" + fx.e3, nil, nil, 404},
		{fx.kA, "DELETE", "/v1/entities/nope", nil, nil, 422},
		{fx.kA, "GET", "/v1/entities/" + fx.e1 + "/relationships?cursor=garbage", nil, nil, 400},
		{fx.kA, "GET", "/v1/entities/" + fx.e1 + "/relationships?account_id=" + fx.bID, nil, nil, 403},
		{fx.kA, "GET", "/v1/entities/" + fx.e3 + "/relationships", nil, nil, 404},
		{fx.kA, "GET", "/v1/entities/nope/relationships", nil, nil, 422},

		{fx.kA, "POST", fx.rels + "/batch", fx.batch, nil, 400},
		{fx.kB, "POST", fx.rels + "/batch", fx.batch, []string{"Idempotency-Key", "oa-batch-b"}, 403},
		{fx.super, "POST", fx.bad + "/entity_relationships/batch", fx.batch, []string{"Idempotency-Key", "oa-batch-ghost"}, 404},
		{fx.kA, "POST", fx.rels + "/batch", map[string]any{"entity_ids": []string{fx.e1, "entity_" + oaUnknownHex}, "relationship_type": "authorized_signer"},
			[]string{"Idempotency-Key", "oa-batch-missing"}, 422},
		{fx.kA, "GET", fx.rels + "?sort=nope:asc", nil, nil, 400},
		{fx.kA, "GET", "/v1/accounts/" + fx.bID + "/entity_relationships", nil, nil, 403},
		{fx.super, "GET", fx.bad + "/entity_relationships", nil, nil, 404},
		{fx.kA, "GET", fx.rels + "?relationship_type=nope", nil, nil, 422},
		{fx.kB, "DELETE", fx.rels + "/" + fx.e1 + "?relationship_type=account_holder", nil, nil, 403},
		{fx.kA, "DELETE", fx.rels + "/" + fx.e1 + "?relationship_type=authorized_signer", nil, nil, 404},
		{fx.kA, "DELETE", fx.rels + "/" + fx.e1, nil, nil, 422},

		{fx.rA, "POST", "/v1/api-keys", map[string]any{"account_id": fx.aID, "name": "OA Reader"}, nil, 403},
		{fx.super, "POST", "/v1/api-keys", map[string]any{"account_id": "account_" + oaUnknownHex, "name": "OA Ghost"}, nil, 404},
		{fx.kA, "POST", "/v1/api-keys", map[string]any{"account_id": fx.aID, "name": "", "role": "owner"}, nil, 422},
		{fx.kA, "GET", "/v1/api-keys?sort=nope:asc", nil, nil, 400},
		{fx.rA, "GET", "/v1/api-keys", nil, nil, 403},
		{fx.kA, "GET", "/v1/api-keys?status=nope", nil, nil, 422},
		{fx.rA, "GET", "/v1/api-keys/" + fx.keyID, nil, nil, 403},
		{fx.kA, "GET", "/v1/api-keys/key_" + oaUnknownHex, nil, nil, 404},
		{fx.kA, "GET", "/v1/api-keys/key_x-y", nil, nil, 422},
		{fx.rA, "PATCH", "/v1/api-keys/" + fx.keyID, map[string]any{"name": "OA"}, nil, 403},
		{fx.kA, "PATCH", "/v1/api-keys/" + oaUnknownHex, map[string]any{"name": "OA"}, nil, 404},
		{fx.kA, "PATCH", "/v1/api-keys/" + fx.keyID, map[string]any{"status": "active"}, nil, 422},
		{fx.kA, "GET", "/v1/client/nonce?account_id=" + fx.bID, nil, nil, 403},

		{fx.kA, "POST", fx.v0 + "/batch", fx.v0batch, nil, 400},
		{fx.kA, "POST", fx.v0 + "/batch", "{", []string{"Idempotency-Key", "oa-v0-malformed"}, 400},
		{fx.kA, "POST", fx.v0 + "/batch", "{}", []string{"Idempotency-Key", "oa-v0-text", "Content-Type", "text/plain"}, 415},
		{fx.kB, "POST", fx.v0 + "/batch", fx.v0batch, []string{"Idempotency-Key", "oa-v0-b"}, 403},
		{fx.super, "POST", "/v0/accounts/" + oaUnknownHex + "/entity_relationships/batch", fx.v0batch, []string{"Idempotency-Key", "oa-v0-ghost"}, 404},
		{fx.kA, "POST", fx.v0 + "/batch", map[string]any{"entity_ids": []string{"entity_" + oaUnknownHex, "nope nope"}, "relationship_type": "authorized_user"},
			[]string{"Idempotency-Key", "oa-v0-missing"}, 422},
		{fx.kA, "GET", fx.v0 + "?starting_after=garbage", nil, nil, 400},
		{fx.kB, "GET", fx.v0, nil, nil, 403},
		{fx.super, "GET", "/v0/accounts/account_" + oaUnknownHex + "/entity_relationships", nil, nil, 404},
		{fx.kA, "GET", fx.v0 + "?limit=0", nil, nil, 400},
		{fx.super, "GET", "/v0/accounts/garbage!/entity_relationships", nil, nil, 422},
		{fx.kB, "DELETE", fx.v0 + "/" + fx.e1 + "?relationship_type=authorized_user", nil, nil, 403},
		{fx.kA, "DELETE", fx.v0 + "/" + fx.e1 + "?relationship_type=authorized_signer", nil, nil, 404},
		{fx.kA, "DELETE", fx.v0 + "/" + fx.e1 + "?relationship_type=nope", nil, nil, 422},

		{fx.rA, "POST", "/entities", oaEntityBody("OA Reader"), nil, 403},
		{fx.kA, "POST", "/entities", map[string]any{"name": "", "source": "mail"}, nil, 422},
		{fx.kA, "POST", "/entities", "{}", []string{"Content-Type", "text/plain"}, 415},
		{fx.kA, "GET", "/entities?cursor=garbage", nil, nil, 400},
		{fx.kA, "GET", "/entities?account_id=" + fx.bID, nil, nil, 403},
		{fx.kA, "GET", "/entities?limit=0", nil, nil, 422},
		{fx.kA, "GET", "/entities/" + oaUnknownHex, nil, nil, 404},
		{fx.kA, "GET", "/entities/nope", nil, nil, 422},
		{fx.rA, "PUT", "/entities/" + fx.c1, oaEntityBody("OA Reader"), nil, 403},
		{fx.kA, "PUT", "/entities/" + oaUnknownHex, oaEntityBody("OA Ghost"), nil, 404},
		{fx.kA, "PUT", "/entities/" + fx.c1, map[string]any{}, nil, 422},
		{fx.rA, "PATCH", "/entities/" + fx.c1, map[string]any{"description": "x"}, nil, 403},
		{fx.kA, "PATCH", "/entities/" + oaUnknownHex, map[string]any{"description": "x"}, nil, 404},
		{fx.kA, "PATCH", "/entities/" + fx.c1, map[string]any{"website": "ftp://example.com"}, nil, 422},
		{fx.rA, "DELETE", "/entities/" + fx.c1, nil, nil, 403},
		{fx.kA, "DELETE", "/entities/" + fx.c2, nil, nil, 404},
		{fx.kA, "DELETE", "/entities/nope", nil, nil, 422},

		{fx.kA, "GET", "/v1/events?cursor=garbage", nil, nil, 400},
		{fx.kA, "GET", "/v1/events?account_id=" + fx.bID, nil, nil, 403},
		{fx.kA, "GET", "/v1/events?wait=61", nil, nil, 422},
		{fx.kA, "GET", "/v1/events/stream?cursor=garbage", nil, nil, 400},
		{fx.kA, "GET", "/v1/events/stream?account_id=" + fx.bID, nil, nil, 403},
		{fx.kA, "GET", "/v1/events/stream?type=nope", nil, nil, 422},
		{fx.kA, "GET", "/v1/events/" + fx.events.kept + "?account_id=" + fx.bID, nil, nil, 403},
		{fx.kB, "GET", "/v1/events/" + fx.events.kept, nil, nil, 404},
		{fx.kA, "GET", "/v1/events/event_x-y", nil, nil, 422},

		{fx.kA, "GET", "/v1/audit_events?cursor=garbage", nil, nil, 400},
		{fx.rA, "GET", "/v1/audit_events", nil, nil, 403},
		{fx.kA, "GET", "/v1/audit_events?limit=0", nil, nil, 422},
		{fx.rA, "GET", "/v1/audit_events/" + fx.auditID, nil, nil, 403},
		{fx.kB, "GET", "/v1/audit_events/" + fx.auditID, nil, nil, 404},
		{fx.kA, "GET", "/v1/audit_events/nope", nil, nil, 422},
		{fx.rA, "GET", "/v1/audit_events/verify", nil, nil, 403},
		{fx.kA, "GET", "/v1/audit_events/verify?head=nope", nil, nil, 422},

		// Paths no route serves: 404 in the shape of the path's surface.
		{fx.super, "GET", "/v1/nope", nil, nil, 404},
		{fx.super, "GET", "/v0/nope", nil, nil, 404},
		{fx.super, "GET", "/nope", nil, nil, 404},
	}
}

// oaRefusals sends every keyed operation without a key (401), every write with a reused
// Idempotency-Key (409) and with a nonce no one issued (412), every path with a method it does
// not serve (405).
func oaRefusals(d *oaDoc, fx *oaFixture, specs []oaSpec, do func(oaCall) resp) {
	for _, s := range specs {
		if s.c.key == "" {
			continue
		}
		do(s.c.with(401, "Authorization", "", "leadr-api-key", ""))
		if s.c.method != "GET" {
			do(s.c.with(409, "Idempotency-Key", oaReusedKey))
			do(s.c.with(412, "Idempotency-Key", "oa-nonce-"+s.op, "leadr-client-nonce", oaBogusNonce))
		}
	}
	for tpl, item := range d.Paths {
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			if item.(map[string]any)[strings.ToLower(m)] == nil {
				do(oaCall{fx.super, m, oaPathParam.ReplaceAllString(tpl, oaUnknownHex), nil, nil, 405})
				break
			}
		}
	}
}

// oaRateLimited sends requests to a server with a one-token bucket (429).
func oaRateLimited(t *testing.T, d *oaDoc) {
	t.Helper()
	le := oaStartLimited(t)
	do2 := func(c oaCall) { t.Helper(); d.oaDo(t, le, c) }
	do2(oaCall{le.super, "GET", "/v1/accounts", nil, nil, 200})
	do2(oaCall{le.super, "GET", "/v1/accounts", nil, nil, 429})
	do2(oaCall{le.super, "GET", "/v0/accounts/" + oaUnknownHex + "/entity_relationships", nil, nil, 429})
	do2(oaCall{le.super, "GET", "/entities", nil, nil, 429})
}

// oaCheckCoverage holds the run to having seen and validated every status each operation
// documents, but 500 and 503 (no request can cause them on purpose); 405, 413, 415 and 429 on
// each surface.
func oaCheckCoverage(t *testing.T, d *oaDoc) {
	t.Helper()
	for _, op := range d.Operations() {
		responses, _ := op.Op["responses"].(map[string]any)
		for status := range responses {
			switch status {
			case "500", "503", "413", "415", "429":
				continue
			}
			if where := op.Method + " " + op.Path + " " + status; !d.covered[where] {
				t.Errorf("not exercised: %s", where)
			}
		}
	}
	for _, surface := range []string{"Native", "LeadBank", "Conduit"} {
		if !d.covered[surface+" 404"] || !d.covered[surface+" 405"] {
			t.Errorf("%s: an unknown path (404) or method (405) was not exercised", surface)
		}
		for _, status := range []string{" 413", " 415", " 429"} {
			seen := false
			for where := range d.covered {
				fields := strings.Fields(where)
				if len(fields) == 3 && strings.HasSuffix(where, status) && oapi.Surface(fields[1]) == surface {
					seen = true
				}
			}
			if !seen {
				t.Errorf("%s: no%s was exercised", surface, status)
			}
		}
	}
}

// oaPathParam matches a parameter of a path template.
var oaPathParam = regexp.MustCompile(`\{[^}]+\}`)

// oaStartLimited starts a second server, on SQLite, whose keys get one request each.
func oaStartLimited(t *testing.T) *env {
	t.Helper()
	return startConfig(t, app.Config{Database: databaseURL(t, "sqlite"), RateLimit: api.RateLimit{Rate: 0.001, Burst: 1}})
}

// oaFeed is what the document test needs of the event feed: the id of an event of a tenant.
type oaFeed struct{ kept string }

// oaEvents takes the first event of account's feed: its creation, which the fixture's writes
// recorded.
func oaEvents(t *testing.T, e *env, account string) oaFeed {
	t.Helper()
	p, r := e.feed(e.key(account, roster.RoleReader), "?limit=1")
	if r.Status != 200 || len(p.Data) != 1 || p.Data[0].Type != roster.EventAccountCreated {
		t.Fatalf("the first event of the account: %s", r)
	}
	return oaFeed{kept: p.Data[0].ID}
}

// oaExpired sends a cursor that pruning left behind (410) to a fresh server on database's
// engine. Pruning takes a prefix of the feed of every account, so the two events past a
// retention of an hour are appended before the server starts: they come before every event
// its writes record (its bootstrap key's first).
func oaExpired(t *testing.T, d *oaDoc, database string) {
	t.Helper()
	engine := "postgres"
	if strings.HasPrefix(database, "sqlite:") {
		engine = "sqlite"
	}
	db := databaseURL(t, engine)
	old := time.Now().Add(-2 * time.Hour)
	account := roster.KindAccount.Prefixed(roster.NewID(old))
	obj := roster.KindEntity.Prefixed(roster.NewID(old))
	pruned := feedAppend(t, relSideStore(t, db), feedRecord(account, roster.EventEntityCreated, obj, old), feedRecord(account, roster.EventEntityUpdated, obj, old))
	xe := startWith(t, db)
	p, r := xe.feed(xe.super, "?limit=1")
	if r.Status != 200 || len(p.Data) != 1 || p.Data[0].ID != roster.KindEvent.Prefixed(pruned[0].ID) {
		t.Fatalf("the first event: %s", r)
	}
	expired := *p.Pagination.NextCursor
	deadline := time.Now().Add(feedPatience)
	for xe.as(xe.super, "GET", "/v1/events/"+roster.KindEvent.Prefixed(pruned[1].ID), nil).Status != 404 {
		if _, err := xe.app.Service.PruneEvents(context.Background(), time.Hour); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the old events were not pruned in %v", feedPatience)
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.oaDo(t, xe, oaCall{xe.super, "GET", "/v1/events?cursor=" + url.QueryEscape(expired), nil, nil, 410})
	d.oaDo(t, xe, oaCall{xe.super, "GET", "/v1/events/stream?cursor=" + url.QueryEscape(expired), nil, nil, 410})
}

// oaEventStream checks the start of an event stream against the document: its status, headers
// and media type, reading its first event and then hanging up (a stream has no end to wait for).
func (d *oaDoc) oaEventStream(t *testing.T, e *env, c oaCall) {
	t.Helper()
	ch, res, cancel := openStream(t, e, c.key, strings.TrimPrefix(c.path, "/v1/events/stream"), "")
	defer cancel()
	if res.StatusCode != c.want {
		t.Fatalf("%s %s: %d", c.method, c.path, res.StatusCode)
	}
	first := nextSSE(t, ch)
	d.oaCheck(t, c.method, c.path, resp{Status: res.StatusCode, Header: res.Header, Body: []byte(first.data)})
}

// TestOpenAPIExamples: every operation has an example of its answer, and of its request body
// when it takes one ("Try it out" on /docs starts from it); each example validates against the
// schema beside it; no request example sets a read-only field; and the request examples that
// name nothing that must exist first are accepted as they are by a real server.
func TestOpenAPIExamples(t *testing.T) {
	t.Parallel()
	e := start(t, "sqlite")
	d := oaLoad(t, e)
	media := func(op map[string]any, where string) []map[string]any {
		var out []map[string]any
		if where == "request" {
			rb := d.oaDeref(t, op["requestBody"])
			content, _ := rb["content"].(map[string]any)
			for _, mt := range slices.Sorted(maps.Keys(content)) {
				out = append(out, content[mt].(map[string]any))
			}
			return out
		}
		responses, _ := op["responses"].(map[string]any)
		for _, status := range slices.Sorted(maps.Keys(responses)) {
			if status[0] != '2' && status[0] != '3' {
				continue
			}
			content, _ := d.oaDeref(t, responses[status])["content"].(map[string]any)
			for _, mt := range slices.Sorted(maps.Keys(content)) {
				out = append(out, content[mt].(map[string]any))
			}
		}
		return out
	}
	for _, o := range d.Operations() {
		where := o.Method + " " + o.Path
		for _, kind := range []string{"request", "response"} {
			list := media(o.Op, kind)
			if kind == "request" && o.Op["requestBody"] == nil {
				continue
			}
			n := 0
			for _, m := range list {
				ex, ok := m["example"]
				if !ok {
					continue
				}
				n++
				if errs := d.Validate(m["schema"], ex); len(errs) > 0 {
					t.Errorf("%s: the %s example breaks its schema:\n  %s", where, kind, strings.Join(errs, "\n  "))
				}
				if kind != "request" {
					continue
				}
				body, _ := ex.(map[string]any)
				props, _ := d.oaDeref(t, m["schema"])["properties"].(map[string]any)
				for name := range body {
					if p, _ := props[name].(map[string]any); p["readOnly"] == true {
						t.Errorf("%s: the request example sets the read-only %s", where, name)
					}
				}
			}
			if n == 0 {
				t.Errorf("%s: no %s example", where, kind)
			}
		}
	}

	// The examples a newcomer tries first work as they are.
	acc := e.must(e.as(e.super, "POST", "/v1/accounts", d.oaExample(t, "POST", "/v1/accounts")), 201)
	admin := e.key(str(acc.Obj(), "id"), roster.RoleAdmin)
	ent := e.must(e.as(admin, "POST", "/v1/entities", d.oaExample(t, "POST", "/v1/entities")), 201)
	id := str(ent.Obj(), "id")
	e.must(e.as(admin, "PUT", "/v1/entities/"+id, d.oaExample(t, "PUT", "/v1/entities/{id}")), 200)
	e.must(e.as(admin, "PATCH", "/v1/entities/"+id, d.oaExample(t, "PATCH", "/v1/entities/{id}")), 200)
	c := e.must(e.as(admin, "POST", "/entities", d.oaExample(t, "POST", "/entities")), 201)
	e.must(e.as(admin, "PUT", "/entities/"+str(c.Obj(), "id"), d.oaExample(t, "PUT", "/entities/{id}")), 200)
	e.must(e.as(admin, "PATCH", "/v1/accounts/"+str(acc.Obj(), "id"), d.oaExample(t, "PATCH", "/v1/accounts/{account_id}")), 200)
}

// oaExample is the JSON request example of an operation.
func (d *oaDoc) oaExample(t *testing.T, method, path string) any {
	t.Helper()
	content, _ := d.oaDeref(t, d.Operation(method, path)["requestBody"])["content"].(map[string]any)
	m, _ := content["application/json"].(map[string]any)
	if m["example"] == nil {
		t.Fatalf("%s %s: no request example", method, path)
	}
	return m["example"]
}
