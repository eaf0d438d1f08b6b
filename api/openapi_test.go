package api

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
)

// The OpenAPI document is hand-written; these tests hold it to the route table and to itself.

var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(openAPIDocument))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("api/openapi.json does not parse: %v", err)
	}
	if dec.More() {
		t.Fatal("api/openapi.json has trailing data")
	}
	return doc
}

// pointer resolves a local JSON pointer ("#/components/schemas/X").
func pointer(doc map[string]any, ref string) (any, bool) {
	rest, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, false
	}
	var cur any = doc
	if rest == "" {
		return cur, true
	}
	if !strings.HasPrefix(rest, "/") {
		return nil, false
	}
	for _, tok := range strings.Split(rest[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, isMap := cur.(map[string]any)
		if !isMap {
			return nil, false
		}
		if cur, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// deref follows $ref until it reaches an object without one.
func deref(t *testing.T, doc map[string]any, v any) map[string]any {
	t.Helper()
	for i := 0; i < 10; i++ {
		m, _ := v.(map[string]any)
		ref, isRef := m["$ref"].(string)
		if !isRef {
			return m
		}
		var ok bool
		if v, ok = pointer(doc, ref); !ok {
			t.Fatalf("unresolved $ref %q", ref)
		}
	}
	t.Fatal("$ref chain too long")
	return nil
}

// walk calls fn on every object of the document with its JSON path.
func walk(v any, path string, fn func(path string, m map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		fn(path, x)
		for k, c := range x {
			walk(c, path+"/"+k, fn)
		}
	case []any:
		for i, c := range x {
			walk(c, path+"/"+strconv.Itoa(i), fn)
		}
	}
}

var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// normalisePath blanks the names of path parameters: {account_id} and {id} compare equal. The
// route table's end-of-path anchor ({$}) is no parameter: "/{$}" is the document's "/".
func normalisePath(p string) string {
	return pathParam.ReplaceAllString(strings.TrimSuffix(p, "{$}"), "{}")
}

type operation struct {
	method, path string
	op           map[string]any
	pathItem     map[string]any
}

func operations(t *testing.T, doc map[string]any) []operation {
	t.Helper()
	paths, _ := doc["paths"].(map[string]any)
	var out []operation
	for p, item := range paths {
		pi, _ := item.(map[string]any)
		for _, m := range openAPIMethods {
			if op, ok := pi[m].(map[string]any); ok {
				out = append(out, operation{method: strings.ToUpper(m), path: p, op: op, pathItem: pi})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path+out[i].method < out[j].path+out[j].method })
	return out
}

// params merges the path item's and the operation's parameters, resolved.
func (o operation) params(t *testing.T, doc map[string]any) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, src := range []any{o.pathItem["parameters"], o.op["parameters"]} {
		list, _ := src.([]any)
		for _, p := range list {
			out = append(out, deref(t, doc, p))
		}
	}
	return out
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc := loadOpenAPI(t)
	if v, _ := doc["openapi"].(string); !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(v) {
		t.Errorf("openapi = %q, want 3.1.x", v)
	}
	info, _ := doc["info"].(map[string]any)
	if s, _ := info["title"].(string); s == "" {
		t.Error("info.title is missing")
	}
	if s, _ := info["version"].(string); s == "" {
		t.Error("info.version is missing")
	}

	// Every $ref resolves, and every pattern is a regular expression Go (and so the e2e
	// validator) understands.
	refs := 0
	walk(doc, "#", func(path string, m map[string]any) {
		if ref, ok := m["$ref"].(string); ok {
			refs++
			if _, ok := pointer(doc, ref); !ok {
				t.Errorf("%s: $ref %q does not resolve", path, ref)
			}
		}
		if p, ok := m["pattern"].(string); ok {
			if _, err := regexp.Compile(p); err != nil {
				t.Errorf("%s: pattern %q: %v", path, p, err)
			}
		}
	})
	if refs == 0 {
		t.Error("no $ref at all: the walk is broken")
	}

	// Security schemes: Bearer, Basic and the leadr-api-key header, and nothing else referred to.
	comps, _ := doc["components"].(map[string]any)
	schemes, _ := comps["securitySchemes"].(map[string]any)
	var bearer, basic, header bool
	for _, s := range schemes {
		m := s.(map[string]any)
		switch {
		case m["type"] == "http" && strings.EqualFold(m["scheme"].(string), "bearer"):
			bearer = true
		case m["type"] == "http" && strings.EqualFold(m["scheme"].(string), "basic"):
			basic = true
		case m["type"] == "apiKey" && m["in"] == "header" && m["name"] == "leadr-api-key":
			header = true
		}
	}
	if !bearer || !basic || !header {
		t.Errorf("security schemes: bearer %v, basic %v, leadr-api-key header %v", bearer, basic, header)
	}
	checkRequirements := func(where string, v any) {
		list, _ := v.([]any)
		for _, req := range list {
			for name := range req.(map[string]any) {
				if _, ok := schemes[name]; !ok {
					t.Errorf("%s: security requirement names unknown scheme %q", where, name)
				}
			}
		}
	}
	checkRequirements("document", doc["security"])

	ids := map[string]string{}
	for _, o := range operations(t, doc) {
		where := o.method + " " + o.path
		checkRequirements(where, o.op["security"])
		// Operation ids stay distinct once a generator camel-cases them (create_entity and
		// createEntity are one function name to orval and hey-api).
		id, _ := o.op["operationId"].(string)
		folded := strings.ToLower(strings.NewReplacer("_", "", "-", "", ".", "", " ", "").Replace(id))
		if id == "" {
			t.Errorf("%s: no operationId", where)
		} else if prev, dup := ids[folded]; dup {
			t.Errorf("%s: operationId %q is %s's once camel-cased", where, id, prev)
		}
		ids[folded] = where

		// Path parameters: each {name} of the template is declared in: path and required, and
		// nothing else is declared in: path; no parameter is declared twice.
		inTemplate := map[string]bool{}
		for _, m := range pathParam.FindAllString(o.path, -1) {
			inTemplate[strings.Trim(m, "{}")] = true
		}
		seen := map[string]bool{}
		for _, p := range o.params(t, doc) {
			name, _ := p["name"].(string)
			in, _ := p["in"].(string)
			if seen[in+" "+strings.ToLower(name)] {
				t.Errorf("%s: parameter %s in %s declared twice", where, name, in)
			}
			seen[in+" "+strings.ToLower(name)] = true
			if p["schema"] == nil {
				t.Errorf("%s: parameter %s has no schema", where, name)
			}
			if in != "path" {
				continue
			}
			if !inTemplate[name] {
				t.Errorf("%s: path parameter %q is not in the template", where, name)
			}
			if p["required"] != true {
				t.Errorf("%s: path parameter %q is not required", where, name)
			}
			delete(inTemplate, name)
		}
		for name := range inTemplate {
			t.Errorf("%s: {%s} is not declared as a path parameter", where, name)
		}

		// Responses: at least one 2xx (or, for a redirect, 3xx); each has a description once
		// resolved; every JSON response has a schema.
		responses, _ := o.op["responses"].(map[string]any)
		success := false
		for status, r := range responses {
			if strings.HasPrefix(status, "2") || strings.HasPrefix(status, "3") {
				success = true
			}
			rm := deref(t, doc, r)
			if s, _ := rm["description"].(string); s == "" {
				t.Errorf("%s %s: response without a description", where, status)
			}
			content, _ := rm["content"].(map[string]any)
			for mt, c := range content {
				if cm, _ := c.(map[string]any); cm["schema"] == nil {
					t.Errorf("%s %s: %s without a schema", where, status, mt)
				}
			}
		}
		if !success {
			t.Errorf("%s: no 2xx response", where)
		}
	}

	// Every component is used, except the surface-wide 405 responses (no operation can
	// answer 405: the server does for methods a path does not serve).
	raw := string(openAPIDocument)
	for kind, v := range comps {
		if kind == "securitySchemes" {
			continue
		}
		for name := range v.(map[string]any) {
			if kind == "responses" && strings.HasSuffix(name, "405") {
				continue
			}
			if !strings.Contains(raw, `"#/components/`+kind+`/`+name+`"`) {
				t.Errorf("components/%s/%s is never referred to", kind, name)
			}
		}
	}
}

// surfacePrefix names the components/responses of a surface's errors.
func surfacePrefix(path string) string {
	switch surfaceFor(path) {
	case native:
		return "Native"
	case leadBank:
		return "LeadBank"
	default:
		return "Conduit"
	}
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	s := New(nil, nil, Options{})

	type key struct{ method, path string }
	served := map[key]Route{}
	for _, rt := range s.Routes() {
		served[key{rt.Method, normalisePath(rt.Pattern)}] = rt
	}
	documented := map[key]operation{}
	for _, o := range operations(t, doc) {
		documented[key{o.method, normalisePath(o.path)}] = o
	}
	for k, rt := range served {
		if _, ok := documented[k]; !ok {
			t.Errorf("route %s %s is served but not in api/openapi.json", rt.Method, rt.Pattern)
		}
	}
	for k, o := range documented {
		if _, ok := served[k]; !ok {
			t.Errorf("%s %s is in api/openapi.json but Routes() does not serve it", o.method, o.path)
		}
	}
	// Paths compare equal as a whole too: a path item holds exactly the methods served there.
	servedPaths := map[string][]string{}
	for k := range served {
		servedPaths[k.path] = append(servedPaths[k.path], k.method)
	}
	docPaths := map[string][]string{}
	for k := range documented {
		docPaths[k.path] = append(docPaths[k.path], k.method)
	}
	for p, ms := range servedPaths {
		slices.Sort(ms)
		dm := docPaths[p]
		slices.Sort(dm)
		if !slices.Equal(ms, dm) {
			t.Errorf("%s: served methods %v, documented %v", p, ms, dm)
		}
	}

	globalSecurity, _ := doc["security"].([]any)
	for k, rt := range served {
		o, ok := documented[k]
		if !ok {
			continue
		}
		where := rt.Method + " " + rt.Pattern
		security := globalSecurity
		if v, has := o.op["security"]; has {
			security, _ = v.([]any)
		}
		responses, _ := o.op["responses"].(map[string]any)
		switch rt.Access {
		case roster.Public:
			if len(security) != 0 {
				t.Errorf("%s is public but the document requires a key", where)
			}
			if responses["401"] != nil {
				t.Errorf("%s is public but documents a 401", where)
			}
		default:
			if len(security) == 0 {
				t.Errorf("%s needs a key but the document has no security for it", where)
			}
			for _, st := range []string{"401", "429", "500"} {
				if responses[st] == nil {
					t.Errorf("%s needs a key but documents no %s", where, st)
				}
			}
		}

		// Error responses are in the shape of the path's surface, as the server renders them.
		prefix := surfacePrefix(rt.Pattern)
		for status, r := range responses {
			if status < "400" {
				continue
			}
			ref, _ := r.(map[string]any)["$ref"].(string)
			// A route may name a narrower response of its surface for a status, named
			// <surface>…<status> (Lead Bank's list has its own 400, SPEC §5).
			name, _ := strings.CutPrefix(ref, "#/components/responses/")
			if want := "#/components/responses/" + prefix + status; ref != want &&
				(!strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, status)) {
				t.Errorf("%s %s: response is %q, want %q (the %s surface's error)", where, status, ref, want, surfaceFor(rt.Pattern).name)
			}
		}

		// Header parameters: the key headers on every keyed route; on writes the nonce and an
		// Idempotency-Key, required exactly on the batch routes.
		headers := map[string]map[string]any{}
		for _, p := range o.params(t, doc) {
			if p["in"] == "header" {
				headers[strings.ToLower(p["name"].(string))] = p
			}
		}
		// The key travels in headers the security schemes describe; as parameters too,
		// generators would add them to every call (and OpenAPI ignores an Authorization one).
		for _, h := range []string{"leadr-api-key", "authorization"} {
			if headers[h] != nil {
				t.Errorf("%s: %s is a header parameter; the security schemes cover it", where, h)
			}
		}
		write := rt.Method != "GET"
		if write != (headers["idempotency-key"] != nil) || write != (headers["leadr-client-nonce"] != nil) {
			t.Errorf("%s: Idempotency-Key %v and leadr-client-nonce %v, want both only on writes", where,
				headers["idempotency-key"] != nil, headers["leadr-client-nonce"] != nil)
		}
		if ik := headers["idempotency-key"]; ik != nil {
			batch := strings.HasSuffix(rt.Pattern, "/entity_relationships/batch")
			if (ik["required"] == true) != batch {
				t.Errorf("%s: Idempotency-Key required = %v, want %v", where, ik["required"], batch)
			}
		}
		if body := o.op["requestBody"]; body != nil && rt.Access != roster.Public {
			for _, st := range []string{"413", "415", "422"} {
				if responses[st] == nil {
					t.Errorf("%s takes a body but documents no %s", where, st)
				}
			}
		}
	}

	// Each surface has its 404 and 405 responses for paths and methods the server does not serve.
	comps := doc["components"].(map[string]any)["responses"].(map[string]any)
	for _, prefix := range []string{"Native", "LeadBank", "Conduit"} {
		for _, st := range []string{"404", "405"} {
			if comps[prefix+st] == nil {
				t.Errorf("components/responses/%s%s is missing", prefix, st)
			}
		}
	}
}

func TestOpenAPIAndDocsAreServed(t *testing.T) {
	srv := httptest.NewServer(New(nil, nil, Options{}))
	defer srv.Close()
	get := func(path string, headers ...string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}

	res, body := get("/openapi.json")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" || !bytes.Equal(body, openAPIDocument) {
		t.Fatalf("GET /openapi.json: %d %s, %d bytes", res.StatusCode, res.Header.Get("Content-Type"), len(body))
	}
	if res, _ := get("/openapi.json", "If-None-Match", res.Header.Get("ETag")); res.StatusCode != http.StatusNotModified {
		t.Errorf("GET /openapi.json with its ETag: %d, want 304", res.StatusCode)
	}
	// Compressed for clients that ask, the same bytes once inflated; plain for the others.
	res, gz := get("/openapi.json", "Accept-Encoding", "br, gzip;q=0.8")
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if res.Header.Get("Content-Encoding") != "gzip" || err != nil {
		t.Fatalf("GET /openapi.json accepting gzip: Content-Encoding %q, %v", res.Header.Get("Content-Encoding"), err)
	}
	if plain, err := io.ReadAll(zr); err != nil || !bytes.Equal(plain, openAPIDocument) || len(gz) >= len(plain) {
		t.Errorf("GET /openapi.json gzipped: %d bytes inflate to %d (%v)", len(gz), len(plain), err)
	}
	for _, ae := range []string{"identity", "gzip;q=0"} {
		if res, b := get("/openapi.json", "Accept-Encoding", ae); res.Header.Get("Content-Encoding") != "" || !bytes.Equal(b, openAPIDocument) {
			t.Errorf("GET /openapi.json with Accept-Encoding %q: Content-Encoding %q", ae, res.Header.Get("Content-Encoding"))
		}
	}

	res, page := get("/docs")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /docs: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if res.Header.Get("Content-Security-Policy") == "" {
		t.Error("GET /docs: no Content-Security-Policy")
	}
	// Every asset the page names is served from this origin with a fitting media type.
	base, _ := url.Parse(srv.URL + "/docs")
	assets := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(string(page), -1)
	if len(assets) < 3 {
		t.Fatalf("the page names %d assets: %s", len(assets), page)
	}
	wantType := map[string]string{".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".json": "application/json"}
	for _, m := range assets {
		u, err := base.Parse(m[1])
		if err != nil || u.Host != base.Host {
			t.Errorf("asset %q is not served by roster", m[1])
			continue
		}
		res, b := get(u.Path)
		ext := u.Path[strings.LastIndex(u.Path, "."):]
		if res.StatusCode != 200 || len(b) == 0 || !strings.HasPrefix(res.Header.Get("Content-Type"), wantType[ext]) {
			t.Errorf("GET %s: %d %s, %d bytes", u.Path, res.StatusCode, res.Header.Get("Content-Type"), len(b))
		}
	}
	if _, js := get("/docs/roster-docs.js"); !bytes.Contains(js, []byte(`url: "openapi.json"`)) {
		t.Error("roster-docs.js does not load openapi.json")
	}

	// Unknown assets are 404 in the LeadConduit shape; other methods are 405.
	res, body = get("/docs/nope.js")
	var e map[string]any
	_ = json.Unmarshal(body, &e)
	if res.StatusCode != 404 || e["code"] != "not_found" || e["error"] == nil {
		t.Errorf("GET /docs/nope.js: %d %s", res.StatusCode, body)
	}
	for _, p := range []string{"/openapi.json", "/docs", "/docs/swagger-ui.css"} {
		r, err := http.Post(srv.URL+p, "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 405 || r.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST %s: %d Allow %q", p, r.StatusCode, r.Header.Get("Allow"))
		}
	}
}

// TestOpenAPIRequestsHaveNoDefaults: no schema a request body uses declares a default.
// openapi-typescript (and others) read a default as "always present" and make the field
// required in the request type; what the server does with an omitted field is said in words.
func TestOpenAPIRequestsHaveNoDefaults(t *testing.T) {
	doc := loadOpenAPI(t)
	seen := map[string]bool{}
	var visit func(where string, v any)
	visit = func(where string, v any) {
		walk(v, where, func(path string, m map[string]any) {
			if _, ok := m["default"]; ok {
				t.Errorf("%s: default %v in a request schema", path, m["default"])
			}
			if ref, ok := m["$ref"].(string); ok && !seen[ref] {
				seen[ref] = true
				target, _ := pointer(doc, ref)
				visit(ref, target)
			}
		})
	}
	n := 0
	for _, o := range operations(t, doc) {
		if body, ok := o.op["requestBody"]; ok {
			n++
			visit(o.method+" "+o.path+" requestBody", body)
		}
	}
	if n == 0 || len(seen) == 0 {
		t.Fatalf("%d request bodies, %d schemas visited: the walk is broken", n, len(seen))
	}
}
