package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/app"
)

// The responses roster gives validate against its own OpenAPI document (SPEC §10): a
// representative request for every route and every status the document lists for it, on a
// fresh server, each answer checked against the schema and headers documented for its path,
// method and status.

// oaDoc is the document a server serves, with a record of the (operation, status) pairs the
// test has validated.
type oaDoc struct {
	oaSchemas
	paths   map[string]any
	covered map[string]bool
}

func oaLoad(t *testing.T, e *env) *oaDoc {
	t.Helper()
	r := e.must(e.req("GET", "/openapi.json", nil), 200)
	root, ok := r.JSON().(map[string]any)
	if !ok {
		t.Fatalf("/openapi.json is not a JSON object")
	}
	paths, _ := root["paths"].(map[string]any)
	return &oaDoc{oaSchemas: oaSchemas{root: root}, paths: paths, covered: map[string]bool{}}
}

// oaSurface names the components/responses prefix of the error shape a path gets.
func oaSurface(path string) string {
	switch {
	case path == "/v1" || strings.HasPrefix(path, "/v1/"):
		return "Native"
	case path == "/v0" || strings.HasPrefix(path, "/v0/"):
		return "LeadBank"
	default:
		return "Conduit"
	}
}

// oaTemplate returns the document's path template the server routes path to, "" for none.
// Like the server's mux, a literal segment wins over a parameter at the first place they differ.
func (d *oaDoc) oaTemplate(path string) string {
	segs := strings.Split(path, "/")
	best := ""
	var bestSegs []string
	for tpl := range d.paths {
		ts := strings.Split(tpl, "/")
		if len(ts) != len(segs) {
			continue
		}
		ok := true
		for i, s := range ts {
			param := strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}")
			if param && segs[i] == "" || !param && s != segs[i] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		if best == "" || oaMoreSpecific(ts, bestSegs) {
			best, bestSegs = tpl, ts
		}
	}
	return best
}

func oaMoreSpecific(a, b []string) bool {
	for i := range a {
		pa, pb := strings.HasPrefix(a[i], "{"), strings.HasPrefix(b[i], "{")
		if pa != pb {
			return !pa
		}
	}
	return false
}

// oaDeref follows $ref to the object it names.
func (d *oaDoc) oaDeref(t *testing.T, v any) map[string]any {
	t.Helper()
	for range 10 {
		m, _ := v.(map[string]any)
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		var err error
		if v, err = d.oaResolve(ref); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("$ref chain too long")
	return nil
}

// oaCheck validates one response against the document and records what it covered.
func (d *oaDoc) oaCheck(t *testing.T, method, target string, r resp) {
	t.Helper()
	path, _, _ := strings.Cut(target, "?")
	status := strconv.Itoa(r.Status)
	surface := oaSurface(path)
	var response any
	var where string
	tpl := d.oaTemplate(path)
	item, _ := d.paths[tpl].(map[string]any)
	op, _ := item[strings.ToLower(method)].(map[string]any)
	switch {
	case tpl == "":
		if r.Status != 404 {
			t.Errorf("%s %s: no documented path, yet the answer is %s", method, target, r)
			return
		}
		where = surface + " 404"
		response = map[string]any{"$ref": "#/components/responses/" + surface + "404"}
	case op == nil:
		if r.Status != 405 {
			t.Errorf("%s %s: %s does not document %s, yet the answer is %s", method, target, tpl, method, r)
			return
		}
		where = surface + " 405"
		response = map[string]any{"$ref": "#/components/responses/" + surface + "405"}
	default:
		where = method + " " + tpl + " " + status
		responses, _ := op["responses"].(map[string]any)
		if response = responses[status]; response == nil {
			t.Errorf("%s %s: the document lists no %s for %s %s: %s", method, target, status, method, tpl, r)
			return
		}
	}
	res := d.oaDeref(t, response)

	headers, _ := res["headers"].(map[string]any)
	for name, h := range headers {
		if hm := d.oaDeref(t, h); hm["required"] == true && r.Header.Get(name) == "" {
			t.Errorf("%s %s (%s): no %s header, which the document requires", method, target, where, name)
		}
	}

	content, _ := res["content"].(map[string]any)
	if len(content) == 0 {
		if len(r.Body) != 0 {
			t.Errorf("%s %s (%s): the document describes no body, yet there is one: %s", method, target, where, r)
		}
		d.covered[where] = true
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		t.Errorf("%s %s (%s): Content-Type %q: %v", method, target, where, r.Header.Get("Content-Type"), err)
		return
	}
	media, ok := content[mt].(map[string]any)
	if !ok {
		t.Errorf("%s %s (%s): Content-Type %s is not among the documented %v", method, target, where, mt, oaKeys(content))
		return
	}
	if mt == "application/json" {
		dec := json.NewDecoder(bytes.NewReader(r.Body))
		dec.UseNumber()
		var body any
		if err := dec.Decode(&body); err != nil {
			t.Errorf("%s %s (%s): the body is not JSON: %s", method, target, where, r)
			return
		}
		if errs := d.oaValidate(media["schema"], body, "$"); len(errs) > 0 {
			t.Errorf("%s %s (%s): the body breaks the documented schema:\n  %s\n  body: %s", method, target, where,
				strings.Join(errs, "\n  "), r.Body)
			return
		}
	}
	d.covered[where] = true
}

// oaCheckRequest validates a request body the server accepts against the operation's
// documented requestBody, so the document's request schemas are not stricter than the server.
func (d *oaDoc) oaCheckRequest(t *testing.T, op string, body any) {
	t.Helper()
	method, tpl, _ := strings.Cut(op, " ")
	item, _ := d.paths[tpl].(map[string]any)
	o, _ := item[strings.ToLower(method)].(map[string]any)
	rb := d.oaDeref(t, o["requestBody"])
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
	data, _ := json.Marshal(body)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	_ = dec.Decode(&v)
	if errs := d.oaValidate(media["schema"], v, "$"); len(errs) > 0 {
		t.Errorf("%s: a body the server accepts breaks the documented request schema:\n  %s\n  body: %s", op, strings.Join(errs, "\n  "), data)
	}
}

// oaOperation is one operation of the document.
type oaOperation struct {
	method, path string
	op           map[string]any
}

// oaOperations lists the document's operations in a stable order.
func (d *oaDoc) oaOperations() []oaOperation {
	var out []oaOperation
	for _, tpl := range oaKeys(d.paths) {
		item, _ := d.paths[tpl].(map[string]any)
		for _, m := range []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"} {
			if op, ok := item[m].(map[string]any); ok {
				out = append(out, oaOperation{strings.ToUpper(m), tpl, op})
			}
		}
	}
	return out
}

func oaKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
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

func oaAuth(key, path string) []string {
	if key == "" {
		return nil
	}
	switch oaSurface(path) {
	case "Native":
		return []string{"leadr-api-key", key}
	case "LeadBank":
		return []string{"Authorization", "Bearer " + key}
	default:
		return []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("API:"+key))}
	}
}

// oaDo sends c, checks its status and validates the answer against the document.
func (d *oaDoc) oaDo(t *testing.T, e *env, c oaCall) resp {
	t.Helper()
	r := e.req(c.method, c.path, c.body, append(oaAuth(c.key, c.path), c.hdr...)...)
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
	h := oaAuth(key, path)
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
		super := e.super
		do := func(c oaCall) resp { t.Helper(); return d.oaDo(t, e, c) }

		// Fixtures: two tenants with an admin and a reader key each.
		a := do(oaCall{super, "POST", "/v1/accounts", map[string]any{"name": "OA Alpha"}, nil, 201})
		b := do(oaCall{super, "POST", "/v1/accounts", map[string]any{"name": "OA Beta"}, nil, 201})
		aID, bID := oaString(t, a, "id"), oaString(t, b, "id")
		bSlug := oaString(t, b, "slug")
		kA, rA := e.key(aID, roster.RoleAdmin), e.key(aID, roster.RoleReader)
		kB := e.key(bID, roster.RoleAdmin)

		ent := func(name string) string {
			t.Helper()
			return oaString(t, do(oaCall{kA, "POST", "/v1/entities", oaEntityBody(name), nil, 201}), "id")
		}
		e1, e2, e3 := ent("OA One"), ent("OA Two"), ent("OA Three")
		hex := func(id string) string { _, h, _ := strings.Cut(id, "_"); return h }
		c1 := oaString(t, do(oaCall{kA, "POST", "/entities", oaEntityBody("OA Conduit One"), nil, 201}), "id")
		c2 := oaString(t, do(oaCall{kA, "POST", "/entities", oaEntityBody("OA Conduit Two"), nil, 201}), "id")

		// Idempotency: a first use and its replay on each caller's scope; later writes reuse
		// the key with other requests (409).
		do(oaCall{super, "POST", "/v1/accounts", map[string]any{"name": "OA Gamma"}, []string{"Idempotency-Key", oaReusedKey}, 201})
		if r := do(oaCall{super, "POST", "/v1/accounts", map[string]any{"name": "OA Gamma"}, []string{"Idempotency-Key", oaReusedKey}, 201}); r.Header.Get("Idempotent-Replayed") != "true" {
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
		do(oaCall{super, "POST", "/v1/api-keys", map[string]any{"account_id": nil, "name": "OA root", "role": "superadmin"}, nil, 201})
		do(oaCall{super, "GET", "/v1/api-keys?limit=100", nil, nil, 200})
		// A write that spends a nonce.
		nonce := oaString(t, do(oaCall{kA, "GET", "/v1/client/nonce", nil, nil, 200}), "nonce_value")
		do(oaCall{kA, "PATCH", "/v1/entities/" + e3, map[string]any{"time_zone": "Europe/Paris"}, []string{"leadr-client-nonce", nonce}, 200})

		// The representative successful request of every operation, keyed "METHOD template".
		// Order matters where one changes what another sees.
		rels := "/v1/accounts/" + aID + "/entity_relationships"
		v0 := "/v0/accounts/" + aID + "/entity_relationships"
		batch := map[string]any{"entity_ids": []string{e1, hex(e2)}, "relationship_type": "account_holder"}
		v0batch := map[string]any{"entity_ids": []string{e1, e2}, "relationship_type": "authorized_user"}
		specs := []struct {
			op string
			c  oaCall
		}{
			{"GET /healthz", oaCall{"", "GET", "/healthz", nil, nil, 200}},
			{"GET /readyz", oaCall{"", "GET", "/readyz", nil, nil, 200}},
			{"GET /metrics", oaCall{"", "GET", "/metrics", nil, nil, 200}},
			{"GET /openapi.json", oaCall{"", "GET", "/openapi.json", nil, nil, 200}},
			{"GET /", oaCall{"", "GET", "/", nil, nil, 302}},
			{"GET /docs", oaCall{"", "GET", "/docs", nil, nil, 200}},
			{"GET /docs/", oaCall{"", "GET", "/docs/", nil, nil, 302}},
			{"GET /docs/{file}", oaCall{"", "GET", "/docs/swagger-ui.css", nil, nil, 200}},
			{"POST /v1/accounts", oaCall{super, "POST", "/v1/accounts", map[string]any{"name": "OA Created", "slug": "oa-created"}, nil, 201}},
			{"GET /v1/accounts", oaCall{super, "GET", "/v1/accounts?limit=2", nil, nil, 200}},
			{"GET /v1/accounts/{account_id}", oaCall{kA, "GET", "/v1/accounts/" + aID, nil, nil, 200}},
			{"PATCH /v1/accounts/{account_id}", oaCall{kA, "PATCH", "/v1/accounts/" + aID, map[string]any{"name": "OA Alpha Renamed"}, nil, 200}},
			{"POST /v1/entities", oaCall{kA, "POST", "/v1/entities", oaFullEntityBody("OA Full"), nil, 201}},
			{"GET /v1/entities", oaCall{kA, "GET", "/v1/entities?limit=2", nil, nil, 200}},
			{"GET /v1/entities/{id}", oaCall{kA, "GET", "/v1/entities/" + e1, nil, nil, 200}},
			{"PUT /v1/entities/{id}", oaCall{kA, "PUT", "/v1/entities/" + e1, oaFullEntityBody("OA One Replaced"), nil, 200}},
			{"PATCH /v1/entities/{id}", oaCall{kA, "PATCH", "/v1/entities/" + e2, map[string]any{"deprecated": true, "see": e1}, nil, 200}},
			{"DELETE /v1/entities/{id}", oaCall{kA, "DELETE", "/v1/entities/" + e3, nil, nil, 200}},
			{"POST /v1/accounts/{account_id}/entity_relationships/batch", oaCall{kA, "POST", rels + "/batch", batch, []string{"Idempotency-Key", "oa-batch-v1"}, 200}},
			{"GET /v1/entities/{id}/relationships", oaCall{kA, "GET", "/v1/entities/" + e1 + "/relationships", nil, nil, 200}},
			{"GET /v1/accounts/{account_id}/entity_relationships", oaCall{kA, "GET", rels + "?limit=1", nil, nil, 200}},
			{"DELETE /v1/accounts/{account_id}/entity_relationships/{entity_id}", oaCall{kA, "DELETE", rels + "/" + e2 + "?relationship_type=account_holder", nil, nil, 200}},
			{"POST /v1/api-keys", oaCall{kA, "POST", "/v1/api-keys", map[string]any{"account_id": aID, "name": "OA reader", "role": "reader"}, nil, 201}},
			{"GET /v1/api-keys", oaCall{kA, "GET", "/v1/api-keys", nil, nil, 200}},
			{"GET /v1/api-keys/{key_id}", oaCall{kA, "GET", "/v1/api-keys/" + keyID, nil, nil, 200}},
			{"PATCH /v1/api-keys/{key_id}", oaCall{kA, "PATCH", "/v1/api-keys/" + keyID, map[string]any{"status": "revoked"}, nil, 200}},
			{"GET /v1/client/nonce", oaCall{kA, "GET", "/v1/client/nonce", nil, nil, 200}},
			{"POST /v0/accounts/{id}/entity_relationships/batch", oaCall{kA, "POST", v0 + "/batch", v0batch, []string{"Idempotency-Key", "oa-batch-v0"}, 200}},
			{"GET /v0/accounts/{id}/entity_relationships", oaCall{kA, "GET", v0 + "?limit=1", nil, nil, 200}},
			{"DELETE /v0/accounts/{id}/entity_relationships/{entity_id}", oaCall{kA, "DELETE", v0 + "/" + e2 + "?relationship_type=authorized_user", nil, nil, 200}},
			{"POST /entities", oaCall{kA, "POST", "/entities", oaFullEntityBody("OA Conduit Full"), nil, 201}},
			{"GET /entities", oaCall{kA, "GET", "/entities?limit=1", nil, nil, 200}},
			{"GET /entities/{id}", oaCall{kA, "GET", "/entities/" + c1, nil, nil, 200}},
			{"PUT /entities/{id}", oaCall{kA, "PUT", "/entities/" + c1, oaFullEntityBody("OA Conduit Replaced"), nil, 200}},
			{"PATCH /entities/{id}", oaCall{kA, "PATCH", "/entities/" + c1, map[string]any{"description": nil, "flow_ids": []string{}}, nil, 200}},
			{"DELETE /entities/{id}", oaCall{kA, "DELETE", "/entities/" + c2, nil, nil, 200}},
		}
		byOp := map[string]oaCall{}
		for _, s := range specs {
			byOp[s.op] = s.c
			d.oaCheckRequest(t, s.op, s.c.body)
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
		for _, op := range d.oaOperations() {
			if _, ok := byOp[op.method+" "+op.path]; !ok {
				t.Errorf("no representative request for %s %s", op.method, op.path)
			}
		}

		// The errors each operation documents, one representative request each.
		bad := "/v1/accounts/account_" + oaUnknownHex
		for _, c := range []oaCall{
			{"", "GET", "/docs/nope.js", nil, nil, 404},

			{kA, "POST", "/v1/accounts", map[string]any{"name": "OA Nope"}, nil, 403},
			{super, "POST", "/v1/accounts", map[string]any{"name": "OA Dup", "slug": bSlug}, nil, 409},
			{super, "POST", "/v1/accounts", map[string]any{"name": "x", "slug": "A B", "extra": 1}, nil, 422},
			{super, "POST", "/v1/accounts", "{}", []string{"Content-Type", "text/plain"}, 415},
			{super, "GET", "/v1/accounts?sort=nope:asc", nil, nil, 400},
			{kA, "GET", "/v1/accounts?account_id=" + bID, nil, nil, 403},
			{super, "GET", "/v1/accounts?slug=oa-no-such-slug", nil, nil, 404},
			{super, "GET", "/v1/accounts?limit=0", nil, nil, 422},
			{kA, "GET", "/v1/accounts/" + bID, nil, nil, 403},
			{super, "GET", bad, nil, nil, 404},
			{super, "GET", "/v1/accounts/account_x-y", nil, nil, 422},
			{rA, "PATCH", "/v1/accounts/" + aID, map[string]any{"name": "OA Reader"}, nil, 403},
			{super, "PATCH", bad, map[string]any{"name": "OA Ghost"}, nil, 404},
			{kA, "PATCH", "/v1/accounts/" + aID, map[string]any{"slug": bSlug}, nil, 409},
			{kA, "PATCH", "/v1/accounts/" + aID, map[string]any{"name": "x", "status": "gone"}, nil, 422},

			{rA, "POST", "/v1/entities", oaEntityBody("OA Reader"), nil, 403},
			{kA, "POST", "/v1/entities", map[string]any{"name": ""}, nil, 422},
			{kA, "GET", "/v1/entities?sort=nope:asc", nil, nil, 400},
			{kA, "GET", "/v1/entities?account_id=" + bID, nil, nil, 403},
			{kA, "GET", "/v1/entities?limit=0", nil, nil, 422},
			{kA, "GET", "/v1/entities/" + e1 + "?account_id=" + bID, nil, nil, 403},
			{kA, "GET", "/v1/entities/entity_" + oaUnknownHex, nil, nil, 404},
			{kA, "GET", "/v1/entities/nope", nil, nil, 422},
			{rA, "PUT", "/v1/entities/" + e1, oaEntityBody("OA Reader"), nil, 403},
			{kA, "PUT", "/v1/entities/" + oaUnknownHex, oaEntityBody("OA Ghost"), nil, 404},
			{kA, "PUT", "/v1/entities/" + e1, map[string]any{}, nil, 422},
			{rA, "PATCH", "/v1/entities/" + e1, map[string]any{"description": "x"}, nil, 403},
			{kA, "PATCH", "/v1/entities/entity_" + oaUnknownHex, map[string]any{"description": "x"}, nil, 404},
			{kA, "PATCH", "/v1/entities/" + e1, map[string]any{"name": 5}, nil, 422},
			{rA, "DELETE", "/v1/entities/" + e1, nil, nil, 403},
			{kA, "DELETE", "/v1/entities/" + e3, nil, nil, 404},
			{kA, "DELETE", "/v1/entities/nope", nil, nil, 422},
			{kA, "GET", "/v1/entities/" + e1 + "/relationships?cursor=garbage", nil, nil, 400},
			{kA, "GET", "/v1/entities/" + e1 + "/relationships?account_id=" + bID, nil, nil, 403},
			{kA, "GET", "/v1/entities/" + e3 + "/relationships", nil, nil, 404},
			{kA, "GET", "/v1/entities/nope/relationships", nil, nil, 422},

			{kA, "POST", rels + "/batch", batch, nil, 400},
			{kB, "POST", rels + "/batch", batch, []string{"Idempotency-Key", "oa-batch-b"}, 403},
			{super, "POST", bad + "/entity_relationships/batch", batch, []string{"Idempotency-Key", "oa-batch-ghost"}, 404},
			{kA, "POST", rels + "/batch", map[string]any{"entity_ids": []string{e1, "entity_" + oaUnknownHex}, "relationship_type": "authorized_signer"},
				[]string{"Idempotency-Key", "oa-batch-missing"}, 422},
			{kA, "GET", rels + "?sort=nope:asc", nil, nil, 400},
			{kA, "GET", "/v1/accounts/" + bID + "/entity_relationships", nil, nil, 403},
			{super, "GET", bad + "/entity_relationships", nil, nil, 404},
			{kA, "GET", rels + "?relationship_type=nope", nil, nil, 422},
			{kB, "DELETE", rels + "/" + e1 + "?relationship_type=account_holder", nil, nil, 403},
			{kA, "DELETE", rels + "/" + e1 + "?relationship_type=authorized_signer", nil, nil, 404},
			{kA, "DELETE", rels + "/" + e1, nil, nil, 422},

			{rA, "POST", "/v1/api-keys", map[string]any{"account_id": aID, "name": "OA Reader"}, nil, 403},
			{super, "POST", "/v1/api-keys", map[string]any{"account_id": "account_" + oaUnknownHex, "name": "OA Ghost"}, nil, 404},
			{kA, "POST", "/v1/api-keys", map[string]any{"account_id": aID, "name": "", "role": "owner"}, nil, 422},
			{kA, "GET", "/v1/api-keys?sort=nope:asc", nil, nil, 400},
			{rA, "GET", "/v1/api-keys", nil, nil, 403},
			{kA, "GET", "/v1/api-keys?status=nope", nil, nil, 422},
			{rA, "GET", "/v1/api-keys/" + keyID, nil, nil, 403},
			{kA, "GET", "/v1/api-keys/key_" + oaUnknownHex, nil, nil, 404},
			{kA, "GET", "/v1/api-keys/key_x-y", nil, nil, 422},
			{rA, "PATCH", "/v1/api-keys/" + keyID, map[string]any{"name": "OA"}, nil, 403},
			{kA, "PATCH", "/v1/api-keys/" + oaUnknownHex, map[string]any{"name": "OA"}, nil, 404},
			{kA, "PATCH", "/v1/api-keys/" + keyID, map[string]any{"status": "active"}, nil, 422},
			{kA, "GET", "/v1/client/nonce?account_id=" + bID, nil, nil, 403},

			{kA, "POST", v0 + "/batch", v0batch, nil, 400},
			{kA, "POST", v0 + "/batch", "{", []string{"Idempotency-Key", "oa-v0-malformed"}, 400},
			{kA, "POST", v0 + "/batch", "{}", []string{"Idempotency-Key", "oa-v0-text", "Content-Type", "text/plain"}, 415},
			{kB, "POST", v0 + "/batch", v0batch, []string{"Idempotency-Key", "oa-v0-b"}, 403},
			{super, "POST", "/v0/accounts/" + oaUnknownHex + "/entity_relationships/batch", v0batch, []string{"Idempotency-Key", "oa-v0-ghost"}, 404},
			{kA, "POST", v0 + "/batch", map[string]any{"entity_ids": []string{"entity_" + oaUnknownHex, "nope nope"}, "relationship_type": "authorized_user"},
				[]string{"Idempotency-Key", "oa-v0-missing"}, 422},
			{kA, "GET", v0 + "?starting_after=garbage", nil, nil, 400},
			{kB, "GET", v0, nil, nil, 403},
			{super, "GET", "/v0/accounts/account_" + oaUnknownHex + "/entity_relationships", nil, nil, 404},
			{kA, "GET", v0 + "?limit=0", nil, nil, 400},
			{super, "GET", "/v0/accounts/garbage!/entity_relationships", nil, nil, 422},
			{kB, "DELETE", v0 + "/" + e1 + "?relationship_type=authorized_user", nil, nil, 403},
			{kA, "DELETE", v0 + "/" + e1 + "?relationship_type=authorized_signer", nil, nil, 404},
			{kA, "DELETE", v0 + "/" + e1 + "?relationship_type=nope", nil, nil, 422},

			{rA, "POST", "/entities", oaEntityBody("OA Reader"), nil, 403},
			{kA, "POST", "/entities", map[string]any{"name": "", "source": "mail"}, nil, 422},
			{kA, "POST", "/entities", "{}", []string{"Content-Type", "text/plain"}, 415},
			{kA, "GET", "/entities?cursor=garbage", nil, nil, 400},
			{kA, "GET", "/entities?account_id=" + bID, nil, nil, 403},
			{kA, "GET", "/entities?limit=0", nil, nil, 422},
			{kA, "GET", "/entities/" + oaUnknownHex, nil, nil, 404},
			{kA, "GET", "/entities/nope", nil, nil, 422},
			{rA, "PUT", "/entities/" + c1, oaEntityBody("OA Reader"), nil, 403},
			{kA, "PUT", "/entities/" + oaUnknownHex, oaEntityBody("OA Ghost"), nil, 404},
			{kA, "PUT", "/entities/" + c1, map[string]any{}, nil, 422},
			{rA, "PATCH", "/entities/" + c1, map[string]any{"description": "x"}, nil, 403},
			{kA, "PATCH", "/entities/" + oaUnknownHex, map[string]any{"description": "x"}, nil, 404},
			{kA, "PATCH", "/entities/" + c1, map[string]any{"website": "ftp://example.com"}, nil, 422},
			{rA, "DELETE", "/entities/" + c1, nil, nil, 403},
			{kA, "DELETE", "/entities/" + c2, nil, nil, 404},
			{kA, "DELETE", "/entities/nope", nil, nil, 422},

			// Paths no route serves: 404 in the shape of the path's surface.
			{super, "GET", "/v1/nope", nil, nil, 404},
			{super, "GET", "/v0/nope", nil, nil, 404},
			{super, "GET", "/nope", nil, nil, 404},
		} {
			do(c)
		}
		for _, p := range []string{"/v1/accounts", v0 + "/batch", "/entities"} {
			d.oaStream(t, e, kA, "POST", p, api.MaxBody+1)
		}

		// Every keyed operation without a key (401), every write with a reused
		// Idempotency-Key (409) and with a nonce no one issued (412), every path with a method
		// it does not serve (405).
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
		for tpl, item := range d.paths {
			for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
				if item.(map[string]any)[strings.ToLower(m)] == nil {
					do(oaCall{super, m, oaPathParam.ReplaceAllString(tpl, oaUnknownHex), nil, nil, 405})
					break
				}
			}
		}

		// 429 on a server with a one-token bucket.
		le := oaStartLimited(t)
		do2 := func(c oaCall) { t.Helper(); d.oaDo(t, le, c) }
		do2(oaCall{le.super, "GET", "/v1/accounts", nil, nil, 200})
		do2(oaCall{le.super, "GET", "/v1/accounts", nil, nil, 429})
		do2(oaCall{le.super, "GET", "/v0/accounts/" + oaUnknownHex + "/entity_relationships", nil, nil, 429})
		do2(oaCall{le.super, "GET", "/entities", nil, nil, 429})

		// Coverage: every status each operation documents was seen and validated, but 500 and
		// 503 (no request can cause them on purpose); 405, 413, 415 and 429 on each surface.
		for _, op := range d.oaOperations() {
			responses, _ := op.op["responses"].(map[string]any)
			for status := range responses {
				switch status {
				case "500", "503", "413", "415", "429":
					continue
				}
				if where := op.method + " " + op.path + " " + status; !d.covered[where] {
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
					if len(fields) == 3 && strings.HasSuffix(where, status) && oaSurface(fields[1]) == surface {
						seen = true
					}
				}
				if !seen {
					t.Errorf("%s: no%s was exercised", surface, status)
				}
			}
		}
	})
}

// oaPathParam matches a parameter of a path template.
var oaPathParam = regexp.MustCompile(`\{[^}]+\}`)

// oaStartLimited starts a second server, on SQLite, whose keys get one request each.
func oaStartLimited(t *testing.T) *env {
	t.Helper()
	return startConfig(t, app.Config{Database: databaseURL(t, "sqlite"), RateLimit: api.RateLimit{Rate: 0.001, Burst: 1}})
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
			for _, mt := range oaKeys(content) {
				out = append(out, content[mt].(map[string]any))
			}
			return out
		}
		responses, _ := op["responses"].(map[string]any)
		for _, status := range oaKeys(responses) {
			if status[0] != '2' && status[0] != '3' {
				continue
			}
			content, _ := d.oaDeref(t, responses[status])["content"].(map[string]any)
			for _, mt := range oaKeys(content) {
				out = append(out, content[mt].(map[string]any))
			}
		}
		return out
	}
	for _, o := range d.oaOperations() {
		where := o.method + " " + o.path
		for _, kind := range []string{"request", "response"} {
			list := media(o.op, kind)
			if kind == "request" && o.op["requestBody"] == nil {
				continue
			}
			n := 0
			for _, m := range list {
				ex, ok := m["example"]
				if !ok {
					continue
				}
				n++
				if errs := d.oaValidate(m["schema"], ex, "$"); len(errs) > 0 {
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
	item, _ := d.paths[path].(map[string]any)
	op, _ := item[strings.ToLower(method)].(map[string]any)
	content, _ := d.oaDeref(t, op["requestBody"])["content"].(map[string]any)
	m, _ := content["application/json"].(map[string]any)
	if m["example"] == nil {
		t.Fatalf("%s %s: no request example", method, path)
	}
	return m["example"]
}
