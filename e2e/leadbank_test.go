package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// The Lead Bank surface (/v0): SPEC §1, §5 and §9, and the contract in
// testdata/leadbank-entity-relationships.openapi.json (a verbatim copy of the published subset).
// Every /v0 response these tests get goes through relV0, which validates it against the
// contract's schema for that operation and status (APIError for any error).

// relSeedRequest and relSeedResponse are the example of the Lead Bank page for
// POST /v0/accounts/{id}/entity_relationships/batch, verbatim.
const relSeedRequest = `
{
  "entity_ids": [
    "entity_8kL9jH7gF6dS5aQ4wE3rT2yU1iO",
    "entity_2mN3bV4cX5zL6kwdJ7hG8fD9sA0",
    "entity_1qW2eR3tY4uI5oP6aS7dF8gH9jK",
    "entity_9pLuO8iK7yJ6hT5gR4fE3dD2sS1",
    "entity_5zX4cV3bN2m1qW0eR9tY8uI7oP6"
  ],
  "relationship_type": "authorized_user"
}
`

const relSeedResponse = `{
  "account_id": "account_9h8g7f6e5d4c3b2a1z0y9x8w7v6",
  "relationship_type": "authorized_user",
  "entity_ids": [
    "entity_8kL9jH7gF6dS5aQ4wE3rT2yU1iO",
    "entity_2mN3bV4cX5zL6kwdJ7hG8fD9sA0",
    "entity_1qW2eR3tY4uI5oP6aS7dF8gH9jK",
    "entity_9pLuO8iK7yJ6hT5gR4fE3dD2sS1",
    "entity_5zX4cV3bN2m1qW0eR9tY8uI7oP6"
  ]
}`

var relSeedEntities = []string{
	"entity_8kL9jH7gF6dS5aQ4wE3rT2yU1iO",
	"entity_2mN3bV4cX5zL6kwdJ7hG8fD9sA0",
	"entity_1qW2eR3tY4uI5oP6aS7dF8gH9jK",
	"entity_9pLuO8iK7yJ6hT5gR4fE3dD2sS1",
	"entity_5zX4cV3bN2m1qW0eR9tY8uI7oP6",
}

const relSeedAccount = "account_9h8g7f6e5d4c3b2a1z0y9x8w7v6"

// relSeed replaces the page's ids with real ones, in order.
func relSeed(text, account string, entities []string) string {
	text = strings.ReplaceAll(text, relSeedAccount, account)
	for i, id := range relSeedEntities {
		text = strings.ReplaceAll(text, id, entities[i])
	}
	return text
}

// --- a JSON Schema checker for the subset the contract uses -----------------------------------

var (
	relContractOnce sync.Once
	relContract     map[string]any
	relContractErr  error
)

func relLoadContract(t *testing.T) map[string]any {
	t.Helper()
	relContractOnce.Do(func() {
		data, err := os.ReadFile("testdata/leadbank-entity-relationships.openapi.json")
		if err != nil {
			relContractErr = err
			return
		}
		relContractErr = json.Unmarshal(data, &relContract)
	})
	if relContractErr != nil {
		t.Fatalf("Lead Bank contract: %v", relContractErr)
	}
	return relContract
}

// relSchemaCheck validates v (decoded with UseNumber) against schema and returns every problem.
// It knows type, properties, required, items, enum, pattern, minLength/maxLength,
// minItems/maxItems, minimum/maximum and $ref to #/components/schemas. closed also refuses
// properties the schema does not declare (roster adds none to Lead Bank's bodies).
func relSchemaCheck(doc map[string]any, schema map[string]any, v any, at string, closed bool) []string {
	if ref, ok := schema["$ref"].(string); ok {
		name, found := strings.CutPrefix(ref, "#/components/schemas/")
		target, _ := doc["components"].(map[string]any)["schemas"].(map[string]any)[name].(map[string]any)
		if !found || target == nil {
			return []string{at + ": unresolvable $ref " + ref}
		}
		return relSchemaCheck(doc, target, v, at, closed)
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	if typ, ok := schema["type"].(string); ok {
		good := false
		switch typ {
		case "object":
			_, good = v.(map[string]any)
		case "array":
			_, good = v.([]any)
		case "string":
			_, good = v.(string)
		case "boolean":
			_, good = v.(bool)
		case "integer":
			n, isNum := v.(json.Number)
			_, err := strconv.ParseInt(string(n), 10, 64)
			good = isNum && err == nil
		case "number":
			_, good = v.(json.Number)
		default:
			fail("the checker does not know type %q", typ)
		}
		if !good {
			fail("want %s, got %#v", typ, v)
			return errs
		}
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.ContainsFunc(enum, func(x any) bool { return reflect.DeepEqual(x, v) }) {
		fail("%#v is not one of %v", v, enum)
	}
	if s, ok := v.(string); ok {
		if p, ok := schema["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(s) {
			fail("%q does not match %s", s, p)
		}
		if n, ok := schema["maxLength"].(float64); ok && utf8.RuneCountInString(s) > int(n) {
			fail("longer than %v", n)
		}
		if n, ok := schema["minLength"].(float64); ok && utf8.RuneCountInString(s) < int(n) {
			fail("shorter than %v", n)
		}
	}
	if num, ok := v.(json.Number); ok {
		f, _ := num.Float64()
		if n, ok := schema["maximum"].(float64); ok && f > n {
			fail("%v above %v", f, n)
		}
		if n, ok := schema["minimum"].(float64); ok && f < n {
			fail("%v below %v", f, n)
		}
	}
	if list, ok := v.([]any); ok {
		if n, ok := schema["maxItems"].(float64); ok && len(list) > int(n) {
			fail("%d items, at most %v", len(list), n)
		}
		if n, ok := schema["minItems"].(float64); ok && len(list) < int(n) {
			fail("%d items, at least %v", len(list), n)
		}
		if items, ok := schema["items"].(map[string]any); ok {
			for i, it := range list {
				errs = append(errs, relSchemaCheck(doc, items, it, fmt.Sprintf("%s[%d]", at, i), closed)...)
			}
		}
	}
	if m, ok := v.(map[string]any); ok {
		props, _ := schema["properties"].(map[string]any)
		required, _ := schema["required"].([]any)
		for _, req := range required {
			if _, has := m[req.(string)]; !has {
				fail("required property %q is missing", req)
			}
		}
		for k, val := range m {
			ps, declared := props[k].(map[string]any)
			if !declared {
				if closed {
					fail("property %q is not in the schema", k)
				}
				continue
			}
			errs = append(errs, relSchemaCheck(doc, ps, val, at+"."+k, closed)...)
		}
	}
	return errs
}

// relV0Ops maps a request to the contract's operation (path template).
var relV0Ops = []struct {
	method, template string
	re               *regexp.Regexp
}{
	{"POST", "/v0/accounts/{id}/entity_relationships/batch", regexp.MustCompile(`^/v0/accounts/[^/]+/entity_relationships/batch$`)},
	{"GET", "/v0/accounts/{id}/entity_relationships", regexp.MustCompile(`^/v0/accounts/[^/]+/entity_relationships$`)},
	{"DELETE", "/v0/accounts/{id}/entity_relationships/{entity_id}", regexp.MustCompile(`^/v0/accounts/[^/]+/entity_relationships/[^/]+$`)},
}

// relCheckV0 validates a /v0 response against the contract: the operation's schema for that
// status, else APIError for an error; an error's "status" is its HTTP status as a string.
func relCheckV0(t *testing.T, method, path string, r resp) {
	t.Helper()
	doc := relLoadContract(t)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: Content-Type %q on %s", method, path, ct, r)
	}
	if r.Header.Get("X-Request-Id") == "" {
		t.Fatalf("%s %s: no X-Request-Id", method, path)
	}
	p, _, _ := strings.Cut(path, "?")
	var schema map[string]any
	for _, op := range relV0Ops {
		if op.method == method && op.re.MatchString(p) && !(op.method == "DELETE" && strings.HasSuffix(p, "/batch")) {
			o := doc["paths"].(map[string]any)[op.template].(map[string]any)[strings.ToLower(method)].(map[string]any)
			if rs, ok := o["responses"].(map[string]any)[strconv.Itoa(r.Status)].(map[string]any); ok {
				schema = rs["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
			}
		}
	}
	if r.Status >= 400 {
		// The contract does not list every status roster may answer (405, 412, 413, 415...):
		// every error is an APIError.
		schema = map[string]any{"$ref": "#/components/schemas/APIError"}
	}
	if schema == nil {
		t.Fatalf("%s %s: status %d is not in the contract: %s", method, path, r.Status, r)
	}
	v := relDecode(t, r.Body)
	if errs := relSchemaCheck(doc, schema, v, "body", true); len(errs) > 0 {
		t.Fatalf("%s %s: %d response does not match the contract:\n  %s\nbody %s", method, path, r.Status,
			strings.Join(errs, "\n  "), r.Body)
	}
	if r.Status >= 400 {
		m := v.(map[string]any)
		for _, k := range []string{"code", "title", "detail", "status"} {
			if s, _ := m[k].(string); s == "" {
				t.Fatalf("%s %s: APIError without %s: %s", method, path, k, r.Body)
			}
		}
		if m["status"] != strconv.Itoa(r.Status) {
			t.Fatalf("%s %s: APIError status %v for HTTP %d", method, path, m["status"], r.Status)
		}
	}
}

// relV0 sends a /v0 request (with key as a Bearer token unless key is "") and checks the
// response against the contract.
func relV0(t *testing.T, e *env, key, method, path string, body any, headers ...string) resp {
	t.Helper()
	var r resp
	if key == "" {
		r = relFor(e, t).req(method, path, body, headers...)
	} else {
		r = relFor(e, t).as(key, method, path, body, headers...)
	}
	relCheckV0(t, method, path, r)
	return r
}

// relWantAPIError checks an APIError's status, code and invalid_parameters ("param reason",
// in order); none means the body must not carry invalid_parameters.
func relWantAPIError(t *testing.T, r resp, status int, code string, params ...string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("want %d %s, got %s", status, code, r)
	}
	m := r.Obj()
	if m["code"] != code {
		t.Fatalf("want code %q, got %s", code, r)
	}
	raw, has := m["invalid_parameters"]
	if len(params) == 0 {
		if has {
			t.Fatalf("unexpected invalid_parameters: %s", r)
		}
		return
	}
	list, _ := raw.([]any)
	var got []string
	for _, it := range list {
		p := it.(map[string]any)
		if len(p) != 2 {
			t.Fatalf("invalid_parameters item must be exactly {parameter, reason}: %s", r)
		}
		got = append(got, fmt.Sprint(p["parameter"])+" "+fmt.Sprint(p["reason"]))
	}
	if !slices.Equal(got, params) {
		t.Fatalf("invalid_parameters:\n got  %v\n want %v\n body %s", got, params, r.Body)
	}
}

// relLB is one Lead Bank list page.
type relLB struct {
	Objects []struct {
		EntityID         string `json:"entity_id"`
		RelationshipType string `json:"relationship_type"`
	} `json:"objects"`
	HasMore bool    `json:"has_more"`
	Cursor  *string `json:"cursor"`
}

func (p relLB) pairs() []string {
	out := make([]string, len(p.Objects))
	for i, o := range p.Objects {
		out[i] = o.EntityID + " " + o.RelationshipType
	}
	return out
}

func relLBList(t *testing.T, e *env, key, path string) relLB {
	t.Helper()
	r := relV0(t, e, key, "GET", path, nil)
	if r.Status != 200 {
		t.Fatalf("GET %s: %s", path, r)
	}
	var p relLB
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatal(err)
	}
	// cursor is present exactly when has_more is true.
	if _, has := r.Obj()["cursor"]; has != p.HasMore || (p.Cursor != nil && *p.Cursor == "") {
		t.Fatalf("cursor present=%v with has_more=%v: %s", has, p.HasMore, r.Body)
	}
	return p
}

// relLBWalk walks the Lead Bank list with limit (0: the default) and returns the page sizes
// and every pair in order.
func relLBWalk(t *testing.T, e *env, key, account string, limit int) ([]int, []string) {
	t.Helper()
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var sizes []int
	var pairs []string
	for {
		p := relLBList(t, e, key, "/v0/accounts/"+account+"/entity_relationships?"+q.Encode())
		sizes = append(sizes, len(p.Objects))
		pairs = append(pairs, p.pairs()...)
		relNoRepeats(t, pairs)
		if !p.HasMore {
			return sizes, pairs
		}
		if len(sizes) > 50 {
			t.Fatal("the walk does not end")
		}
		q.Set("starting_after", *p.Cursor)
	}
}

// relLBBatch posts a /v0 batch that must succeed and checks its exact body.
func relLBBatch(t *testing.T, e *env, key, account, typ string, ids ...string) {
	t.Helper()
	r := relV0(t, e, key, "POST", "/v0/accounts/"+account+"/entity_relationships/batch",
		map[string]any{"entity_ids": ids, "relationship_type": typ}, "Idempotency-Key", relIdem("lb"))
	relWantJSON(t, r, 200, map[string]any{"account_id": account, "relationship_type": typ, "entity_ids": ids})
}

// ---------------------------------------------------------------------------------------------

func TestLeadBankSeedExample(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := relNewTenant(e, "Lead Bank Seed")
		ents := relEntities(e, a.admin, 5)
		path := "/v0/accounts/" + a.id + "/entity_relationships/batch"

		// The page's request, as the page sends it, with the real ids in the same order and the
		// contract's example Idempotency-Key.
		body := relSeed(relSeedRequest, a.id, ents)
		r := relV0(t, e, "", "POST", path, body,
			"Authorization", "Bearer "+a.admin, "Content-Type", "application/json", "Idempotency-Key", "batch-entity-rel-12345-abc")
		var want bytes.Buffer
		if err := json.Compact(&want, []byte(relSeed(relSeedResponse, a.id, ents))); err != nil {
			t.Fatal(err)
		}
		if r.Status != 200 || !bytes.Equal(r.Body, want.Bytes()) {
			t.Fatalf("seed example:\n got  %s\n want 200 %s", r, want.Bytes())
		}
		if r.Header.Get("Idempotent-Replayed") != "" {
			t.Fatal("first response marked as a replay")
		}
		// A retry of the same request is the same response, replayed.
		again := relV0(t, e, a.admin, "POST", path, body, "Idempotency-Key", "batch-entity-rel-12345-abc")
		if again.Status != 200 || !bytes.Equal(again.Body, want.Bytes()) || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay: %s %v", again, again.Header)
		}

		// The five are listed, in list order (one batch: by entity id).
		if _, pairs := relLBWalk(t, e, a.admin, a.id, 0); !slices.Equal(pairs, relBatchOrder("authorized_user", ents...)) {
			t.Fatalf("list after the seed batch: %v", pairs)
		}

		// Bare hex ids (any case) and a bare account id in the path come back prefixed, lower case.
		bare := []string{strings.ToUpper(bareID(ents[3])), bareID(ents[0]), ents[4]}
		r = relV0(t, e, a.admin, "POST", "/v0/accounts/"+bareID(a.id)+"/entity_relationships/batch",
			map[string]any{"entity_ids": bare, "relationship_type": "account_holder"}, "Idempotency-Key", relIdem("bare"))
		wantBody := fmt.Sprintf(`{"account_id":%q,"relationship_type":"account_holder","entity_ids":[%q,%q,%q]}`, a.id, ents[3], ents[0], ents[4])
		if r.Status != 200 || string(r.Body) != wantBody {
			t.Fatalf("bare ids:\n got  %s\n want 200 %s", r, wantBody)
		}
	})
}

func TestLeadBankListAndDelete(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := relNewTenant(e, "Lead Bank Lists")
		ents := relEntities(e, a.admin, 35)
		// 105 relationships (at least 101 must remain after one delete): six batches (at most 20 ids each), each its own created_at.
		var want []string
		for _, typ := range []string{"authorized_user", "account_holder", "authorized_signer"} {
			relLBBatch(t, e, a.admin, a.id, typ, ents[:20]...)
			relLBBatch(t, e, a.admin, a.id, typ, ents[20:]...)
			want = append(want, relBatchOrder(typ, ents[:20]...)...)
			want = append(want, relBatchOrder(typ, ents[20:]...)...)
		}

		// Default limit 25; has_more and the cursor (only while has_more) lead through all.
		for _, c := range []struct {
			limit int
			sizes []int
		}{{0, []int{25, 25, 25, 25, 5}}, {40, []int{40, 40, 25}}, {100, []int{100, 5}}} {
			sizes, pairs := relLBWalk(t, e, a.reader, a.id, c.limit)
			if !slices.Equal(pairs, want) {
				t.Fatalf("limit %d: the walk does not see every row once in order", c.limit)
			}
			if !slices.Equal(sizes, c.sizes) {
				t.Fatalf("limit %d: page sizes %v, want %v", c.limit, sizes, c.sizes)
			}
		}
		// The superadmin and a bare account id see the same; sort and native cursors are not
		// Lead Bank parameters and change nothing.
		if _, pairs := relLBWalk(t, e, e.super, bareID(a.id), 100); !slices.Equal(pairs, want) {
			t.Fatal("superadmin walk differs")
		}
		if p := relLBList(t, e, a.admin, "/v0/accounts/"+a.id+"/entity_relationships?sort=created_at:desc&cursor=x"); !slices.Equal(p.pairs(), want[:25]) {
			t.Fatalf("sort/cursor changed the Lead Bank list: %v", p.pairs())
		}

		list := "/v0/accounts/" + a.id + "/entity_relationships"
		// The list declares 400, not 422, for bad parameters (SPEC §5).
		relWantAPIError(t, relV0(t, e, a.admin, "GET", list+"?limit=0", nil), 400, "parameters_invalid", "limit greater_than_equal")
		relWantAPIError(t, relV0(t, e, a.admin, "GET", list+"?limit=101", nil), 400, "parameters_invalid", "limit less_than_equal")
		relWantAPIError(t, relV0(t, e, a.admin, "GET", list+"?limit=ten", nil), 400, "parameters_invalid", "limit int_parsing")
		relWantAPIError(t, relV0(t, e, a.admin, "GET", list+"?starting_after=garbage!", nil), 400, "parameters_invalid", "starting_after invalid_cursor")

		// DELETE answers {"objects": the account's remaining relationships, first 100, in list
		// order} and nothing else.
		gone := ents[7] + " authorized_user"
		r := relV0(t, e, a.admin, "DELETE", list+"/"+ents[7]+"?relationship_type=authorized_user", nil)
		rest := slices.DeleteFunc(slices.Clone(want), func(s string) bool { return s == gone })
		objects := make([]map[string]string, 100)
		for i, p := range rest[:100] {
			id, typ, _ := strings.Cut(p, " ")
			objects[i] = map[string]string{"entity_id": id, "relationship_type": typ}
		}
		relWantJSON(t, r, 200, map[string]any{"objects": objects})
		if _, pairs := relLBWalk(t, e, a.admin, a.id, 100); !slices.Equal(pairs, rest) {
			t.Fatal("list after delete")
		}
		// The same again is 404 (Lead Bank's APIError with the native code).
		relWantAPIError(t, relV0(t, e, a.admin, "DELETE", list+"/"+ents[7]+"?relationship_type=authorized_user", nil), 404, "not_found")
		relWantAPIError(t, relV0(t, e, a.admin, "DELETE", list+"/"+relUnknownEntity()+"?relationship_type=authorized_user", nil), 404, "not_found")
		relWantAPIError(t, relV0(t, e, a.admin, "DELETE", list+"/"+ents[7], nil), 422, "parameters_invalid", "relationship_type missing")
		relWantAPIError(t, relV0(t, e, a.admin, "DELETE", list+"/"+ents[7]+"?relationship_type=owner", nil), 422, "parameters_invalid", "relationship_type enum")
		relWantAPIError(t, relV0(t, e, a.admin, "DELETE", list+"/nope?relationship_type=owner", nil), 422, "parameters_invalid",
			"entity_id string_pattern_mismatch", "relationship_type enum")

		// A short remainder comes back whole; the entity is named by its bare id, in upper case.
		s := relNewTenant(e, "Lead Bank Short")
		few := relEntities(e, s.admin, 3)
		relLBBatch(t, e, s.admin, s.id, "authorized_signer", few...)
		order := relBatchOrder("authorized_signer", few...)
		id, _, _ := strings.Cut(order[1], " ")
		r = relV0(t, e, s.admin, "DELETE", "/v0/accounts/"+s.id+"/entity_relationships/"+strings.ToUpper(bareID(id))+"?relationship_type=authorized_signer", nil)
		var short []map[string]string
		for _, p := range []string{order[0], order[2]} {
			id, typ, _ := strings.Cut(p, " ")
			short = append(short, map[string]string{"entity_id": id, "relationship_type": typ})
		}
		relWantJSON(t, r, 200, map[string]any{"objects": short})
		if p := relLBList(t, e, s.admin, "/v0/accounts/"+s.id+"/entity_relationships"); !slices.Equal(p.pairs(), []string{order[0], order[2]}) || p.HasMore {
			t.Fatalf("final list: %v", p.pairs())
		}
		// The last one: an empty list, not null.
		for _, p := range []string{order[0], order[2]} {
			id, typ, _ := strings.Cut(p, " ")
			r = relV0(t, e, s.admin, "DELETE", "/v0/accounts/"+s.id+"/entity_relationships/"+id+"?relationship_type="+typ, nil)
		}
		if r.Status != 200 || string(r.Body) != `{"objects":[]}` {
			t.Fatalf("last delete: %s", r)
		}
		if r := relV0(t, e, s.admin, "GET", "/v0/accounts/"+s.id+"/entity_relationships", nil); r.Status != 200 || string(r.Body) != `{"objects":[],"has_more":false}` {
			t.Fatalf("empty list: %s", r)
		}
	})
}

func TestLeadBankErrors(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := relNewTenant(e, "Lead Bank Errors")
		b := relNewTenant(e, "Lead Bank Other")
		ents := relEntities(e, a.admin, 4)
		foreign := relEntity(e, b.admin, "foreign")
		path := "/v0/accounts/" + a.id + "/entity_relationships/batch"
		list := "/v0/accounts/" + a.id + "/entity_relationships"
		ok := map[string]any{"entity_ids": ents[:2], "relationship_type": "authorized_user"}

		// payload_invalid: malformed JSON, 400.
		relWantAPIError(t, relV0(t, e, a.admin, "POST", path, `{"entity_ids": [`, "Idempotency-Key", relIdem("e")), 400, "payload_invalid")
		relWantAPIError(t, relV0(t, e, a.admin, "POST", path, `{"entity_ids": []} trailing`, "Idempotency-Key", relIdem("e")), 400, "payload_invalid")
		// idempotency_error: no Idempotency-Key (or an empty one), 400.
		relWantAPIError(t, relV0(t, e, a.admin, "POST", path, ok), 400, "idempotency_error")
		relWantAPIError(t, relV0(t, e, a.admin, "POST", path, ok, "Idempotency-Key", ""), 400, "idempotency_error")
		// parameters_invalid: 422, one invalid_parameters item per problem.
		key := relIdem("e")
		missing := map[string]any{"entity_ids": []string{ents[0], ents[1], ents[2], relUnknownEntity()}, "relationship_type": "authorized_user"}
		relWantAPIError(t, relV0(t, e, a.admin, "POST", path, missing, "Idempotency-Key", key), 422, "parameters_invalid",
			"entity_ids[3] not_found")
		relWantAPIError(t, relV0(t, e, a.admin, "POST", path, map[string]any{"entity_ids": []string{foreign, ents[0], "entity_abc"},
			"relationship_type": "authorized_user"}, "Idempotency-Key", relIdem("e")), 422, "parameters_invalid",
			"entity_ids[0] not_found", "entity_ids[2] not_found")
		relWantAPIError(t, relV0(t, e, a.admin, "POST", path, map[string]any{"entity_ids": []string{ents[0], "bad id", ents[0]},
			"relationship_type": "owner"}, "Idempotency-Key", relIdem("e")), 422, "parameters_invalid",
			"entity_ids[1] string_pattern_mismatch", "entity_ids[2] duplicate", "relationship_type enum")
		many := make([]string, 21)
		for i := range many {
			many[i] = relUnknownEntity()
		}
		relWantAPIError(t, relV0(t, e, a.admin, "POST", path, map[string]any{"entity_ids": many, "relationship_type": "authorized_user"},
			"Idempotency-Key", relIdem("e")), 422, "parameters_invalid", "entity_ids too_long")
		relWantAPIError(t, relV0(t, e, a.admin, "POST", path, map[string]any{}, "Idempotency-Key", relIdem("e")), 422, "parameters_invalid",
			"entity_ids missing", "relationship_type missing")
		relWantAPIError(t, relV0(t, e, a.admin, "POST", path, ok, "Idempotency-Key", strings.Repeat("x", 256)), 422, "parameters_invalid",
			"Idempotency-Key string_too_long")
		// Nothing was written by any of them.
		if p := relLBList(t, e, a.admin, list); len(p.Objects) != 0 {
			t.Fatalf("failed batches wrote %v", p.pairs())
		}

		// The failed key was released: the fixed request runs under it; then another body under
		// it is idempotency_request_inconsistent (409), on /v1 too (another fingerprint).
		fixed := map[string]any{"entity_ids": ents[:3], "relationship_type": "authorized_user"}
		relWantJSON(t, relV0(t, e, a.admin, "POST", path, fixed, "Idempotency-Key", key), 200,
			map[string]any{"account_id": a.id, "relationship_type": "authorized_user", "entity_ids": ents[:3]})
		relWantAPIError(t, relV0(t, e, a.admin, "POST", path, ok, "Idempotency-Key", key), 409, "idempotency_request_inconsistent")
		relWantAPIError(t, relV0(t, e, a.admin, "POST", path, missing, "Idempotency-Key", key), 409, "idempotency_request_inconsistent")
		relNativeError(t, e.as(a.admin, "POST", "/v1/accounts/"+a.id+"/entity_relationships/batch", fixed, "Idempotency-Key", key),
			409, "idempotency_key_reused")

		// Authentication, roles and tenancy, in APIError shape.
		r := relV0(t, e, "", "GET", list, nil)
		relWantAPIError(t, r, 401, "unauthorized")
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Fatal("401 without WWW-Authenticate")
		}
		relWantAPIError(t, relV0(t, e, "rk_not-a-key", "POST", path, ok, "Idempotency-Key", relIdem("e")), 401, "unauthorized")
		relWantAPIError(t, relV0(t, e, b.admin, "POST", path, ok, "Idempotency-Key", relIdem("e")), 403, "forbidden")
		relWantAPIError(t, relV0(t, e, b.admin, "GET", list, nil), 403, "forbidden")
		relWantAPIError(t, relV0(t, e, b.admin, "DELETE", list+"/"+ents[0]+"?relationship_type=authorized_user", nil), 403, "forbidden")
		relWantAPIError(t, relV0(t, e, a.reader, "POST", path, ok, "Idempotency-Key", relIdem("e")), 403, "forbidden")
		relWantAPIError(t, relV0(t, e, a.reader, "DELETE", list+"/"+ents[0]+"?relationship_type=authorized_user", nil), 403, "forbidden")
		relWantAPIError(t, relV0(t, e, e.super, "GET", "/v0/accounts/account_bad-id/entity_relationships", nil), 422, "parameters_invalid",
			"id string_pattern_mismatch")
		nowhere := "account_" + bareID(relUnknownEntity())
		relWantAPIError(t, relV0(t, e, e.super, "GET", "/v0/accounts/"+nowhere+"/entity_relationships", nil), 404, "not_found")
		relWantAPIError(t, relV0(t, e, e.super, "POST", "/v0/accounts/"+nowhere+"/entity_relationships/batch", ok, "Idempotency-Key", relIdem("e")), 404, "not_found")
		// Media type and size keep their native codes.
		relWantAPIError(t, relV0(t, e, a.admin, "POST", path, "entity_ids=x", "Content-Type", "application/x-www-form-urlencoded",
			"Idempotency-Key", relIdem("e")), 415, "unsupported_media_type")

		// Every other /v0 path is 404, and a known path with another method 405 with Allow, both
		// as APIError, with or without a key.
		for _, key := range []string{"", a.admin} {
			for _, c := range []struct{ method, path string }{
				{"GET", "/v0"}, {"GET", "/v0/"}, {"GET", "/v0/accounts"}, {"GET", "/v0/accounts/" + a.id},
				{"GET", "/v0/applications/application_xyz123/entity_relationships"},
				{"GET", "/v0/accounts/" + a.id + "/entity_relationships/batch/more"},
				{"GET", "/v0/entities"}, {"POST", "/v0/entities"}, {"GET", "/v0/client/nonce"},
				{"GET", "/v0/accounts/" + a.id + "/entity_relationships/" + ents[0] + "/x"},
			} {
				relWantAPIError(t, relV0(t, e, key, c.method, c.path, nil), 404, "not_found")
			}
			r := relV0(t, e, key, "GET", path, nil)
			relWantAPIError(t, r, 405, "method_not_allowed")
			if r.Header.Get("Allow") != "POST" {
				t.Fatalf("Allow %q", r.Header.Get("Allow"))
			}
			r = relV0(t, e, key, "PUT", list, nil)
			relWantAPIError(t, r, 405, "method_not_allowed")
			if r.Header.Get("Allow") != "GET, HEAD" {
				t.Fatalf("Allow %q", r.Header.Get("Allow"))
			}
		}
	})
}
