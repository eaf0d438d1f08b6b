package oapi

import (
	"fmt"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Doc is an OpenAPI document, decoded with Decode.
type Doc struct {
	Root  map[string]any
	Paths map[string]any // path template → path item
	*schemas
}

// Parse decodes a document.
func Parse(data []byte) (*Doc, error) {
	v, err := Decode(data)
	if err != nil {
		return nil, err
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the document is not a JSON object")
	}
	paths, _ := root["paths"].(map[string]any)
	return &Doc{Root: root, Paths: paths, schemas: newSchemas(root)}, nil
}

// Surface names a path's surface as the document's components/responses prefix it: "Native"
// (/v1), "LeadBank" (/v0) or "Conduit" (the rest).
func Surface(path string) string {
	switch {
	case path == "/v1" || strings.HasPrefix(path, "/v1/"):
		return "Native"
	case path == "/v0" || strings.HasPrefix(path, "/v0/"):
		return "LeadBank"
	default:
		return "Conduit"
	}
}

// Resolve follows a local JSON pointer ("#/components/schemas/X").
func (d *Doc) Resolve(ref string) (any, error) {
	rest, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, fmt.Errorf("only local $ref are supported: %q", ref)
	}
	var cur any = d.Root
	if rest == "" {
		return cur, nil
	}
	for _, tok := range strings.Split(strings.TrimPrefix(rest, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, isMap := cur.(map[string]any)
		if !isMap {
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
	}
	return cur, nil
}

// Deref follows $ref until it reaches the object it names (nil for a value that is not an
// object).
func (d *Doc) Deref(v any) (map[string]any, error) {
	for range 10 {
		m, _ := v.(map[string]any)
		ref, ok := m["$ref"].(string)
		if !ok {
			return m, nil
		}
		var err error
		if v, err = d.Resolve(ref); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("$ref chain too long")
}

// Template returns the document's path template the server routes path to, "" for none.
// Like the server's mux, a literal segment wins over a parameter at the first place they differ.
func (d *Doc) Template(path string) string {
	segs := strings.Split(path, "/")
	best := ""
	var bestSegs []string
	for tpl := range d.Paths {
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
		if ok && (best == "" || moreSpecific(ts, bestSegs)) {
			best, bestSegs = tpl, ts
		}
	}
	return best
}

func moreSpecific(a, b []string) bool {
	for i := range a {
		pa, pb := strings.HasPrefix(a[i], "{"), strings.HasPrefix(b[i], "{")
		if pa != pb {
			return !pa
		}
	}
	return false
}

// Methods are the HTTP methods a path item may hold, in the document's order.
var Methods = []string{"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"}

// Operation is one operation of the document.
type Operation struct {
	Method, Path string
	Op           map[string]any
}

// Operation returns the operation for method on the path template tpl, nil for none.
func (d *Doc) Operation(method, tpl string) map[string]any {
	item, _ := d.Paths[tpl].(map[string]any)
	op, _ := item[strings.ToLower(method)].(map[string]any)
	return op
}

// Operations lists the document's operations in a stable order.
func (d *Doc) Operations() []Operation {
	var out []Operation
	for _, tpl := range slices.Sorted(maps.Keys(d.Paths)) {
		for _, m := range Methods {
			if op := d.Operation(m, tpl); op != nil {
				out = append(out, Operation{m, tpl, op})
			}
		}
	}
	return out
}

// Param is a parameter of an operation, resolved, with the name of its component ("" for an
// inline one).
type Param struct {
	Ref string
	P   map[string]any
}

// Params lists op's parameters, the path item's first.
func (d *Doc) Params(op Operation) ([]Param, error) {
	var out []Param
	item, _ := d.Paths[op.Path].(map[string]any)
	for _, l := range []any{item["parameters"], op.Op["parameters"]} {
		ps, _ := l.([]any)
		for _, p := range ps {
			m, _ := p.(map[string]any)
			ref, _ := m["$ref"].(string)
			resolved, err := d.Deref(p)
			if err != nil {
				return nil, err
			}
			out = append(out, Param{Ref: RefName(ref), P: resolved})
		}
	}
	return out, nil
}

// RefName is the last segment of a $ref ("#/components/schemas/X" → "X"); of a schema value,
// the component it names, "" for an inline one.
func RefName(v any) string {
	ref, ok := v.(string)
	if !ok {
		m, _ := v.(map[string]any)
		ref, _ = m["$ref"].(string)
	}
	return ref[strings.LastIndex(ref, "/")+1:]
}

// RequestBody returns op's request body, resolved (nil for none).
func (d *Doc) RequestBody(op map[string]any) (map[string]any, error) {
	return d.Deref(op["requestBody"])
}

// RequestSchema is the JSON schema of op's request body, nil for none.
func (d *Doc) RequestSchema(op map[string]any) (any, error) {
	rb, err := d.RequestBody(op)
	if err != nil {
		return nil, err
	}
	content, _ := rb["content"].(map[string]any)
	media, _ := content["application/json"].(map[string]any)
	if media == nil {
		return nil, nil
	}
	return media["schema"], nil
}

// Problem is one way an answer departs from the document.
type Problem struct {
	Class string // undocumented (status), header, schema, document (the document is broken)
	Msg   string
}

// Check holds an answer to method target (escaped path and query) to the document: its status
// must be one the operation lists, its headers those the document requires, its body of a
// documented media type and, when JSON, valid by the documented schema. A path the server does
// not route (none in the document, or not in clean form) must get its surface's 404 of
// components/responses; a documented path with an undocumented method its surface's 405.
// where names what the answer exercised ("GET /v1/accounts 200", "Native 404").
func (d *Doc) Check(method, target string, status int, header http.Header, body []byte) (where string, problems []Problem) {
	fail := func(class, format string, args ...any) {
		problems = append(problems, Problem{class, fmt.Sprintf(format, args...)})
	}
	rawPath, _, _ := strings.Cut(target, "?")
	decoded, err := url.PathUnescape(rawPath)
	if err != nil {
		decoded = rawPath
	}
	surface := Surface(decoded)
	tpl := d.Template(rawPath)
	if c := path.Clean(decoded); c != decoded && c+"/" != decoded { // as the server: a trailing slash is clean
		tpl = ""
	}
	op := d.Operation(method, tpl)
	var response any
	switch {
	case tpl == "":
		where = surface + " 404"
		if status != 404 {
			fail("undocumented", "no documented path, yet the answer is %d", status)
			return where, problems
		}
		response = map[string]any{"$ref": "#/components/responses/" + surface + "404"}
	case op == nil:
		where = surface + " 405"
		if status != 405 {
			fail("undocumented", "%s does not document %s, yet the answer is %d", tpl, method, status)
			return where, problems
		}
		response = map[string]any{"$ref": "#/components/responses/" + surface + "405"}
	default:
		where = method + " " + tpl + " " + strconv.Itoa(status)
		responses, _ := op["responses"].(map[string]any)
		if response = responses[strconv.Itoa(status)]; response == nil {
			fail("undocumented", "the document lists no %d for %s %s", status, method, tpl)
			return where, problems
		}
	}
	res, err := d.Deref(response)
	if err != nil {
		fail("document", "(%s) %v", where, err)
		return where, problems
	}
	headers, _ := res["headers"].(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(headers)) {
		hm, err := d.Deref(headers[name])
		if err != nil {
			fail("document", "(%s) header %s: %v", where, name, err)
		} else if hm["required"] == true && header.Get(name) == "" {
			fail("header", "(%s) no %s header, which the document requires", where, name)
		}
	}
	content, _ := res["content"].(map[string]any)
	if len(content) == 0 {
		if len(body) != 0 {
			fail("schema", "(%s) the document describes no body, yet there is one", where)
		}
		return where, problems
	}
	mt, _, err := mime.ParseMediaType(header.Get("Content-Type"))
	if err != nil {
		fail("schema", "(%s) Content-Type %q: %v", where, header.Get("Content-Type"), err)
		return where, problems
	}
	media, ok := content[mt].(map[string]any)
	if !ok {
		fail("schema", "(%s) Content-Type %s is not among the documented %v", where, mt, slices.Sorted(maps.Keys(content)))
		return where, problems
	}
	if mt == "application/json" {
		v, err := Decode(body)
		if err != nil {
			fail("schema", "(%s) the body is not JSON", where)
			return where, problems
		}
		if errs := d.Validate(media["schema"], v); len(errs) > 0 {
			fail("schema", "(%s) the body breaks the documented schema: %s", where, strings.Join(errs, "; "))
		}
	}
	return where, problems
}
