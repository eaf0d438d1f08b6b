package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// entSeedPut is the example request body of LeadConduit's "Update a entity" page
// (seeds/002), with the "<string>" placeholders of logo_url and website replaced by absolute
// https URLs, as SPEC §8 requires; module_ids and description keep theirs.
const entSeedPut = `{
  "name": "A Corporation",
  "module_ids": [
    "<string>"
  ],
  "source": "form",
  "recipient": "buyer",
  "description": "<string>",
  "deprecated": false,
  "field_suffix": "acorp",
  "invitation_id": "5fd4371e940df5a34a3888b2",
  "flow_ids": [
    "5fd4371e940df5a34a3888b2"
  ],
  "logo_url": "https://cdn.acorp.example/logo.png",
  "time_zone": "America/Los Angeles",
  "trustedform_certified_vendor": true,
  "website": "https://www.acorp.example/"
}`

// entSeedResponse is the example response of the same page, for its set of fields.
const entSeedResponse = `{
  "name": "A Corporation",
  "module_ids": ["<string>"],
  "source": "form",
  "recipient": "buyer",
  "id": "5fd4371e940df5a34a3888b2",
  "description": "<string>",
  "standard": false,
  "account": true,
  "pending": true,
  "connected": "seller",
  "connected_account_id": "5fd4371e940df5a34a3888b2",
  "deprecated": false,
  "see": "5fd4371e940df5a34a3888b2",
  "field_suffix": "acorp",
  "invitation_id": "5fd4371e940df5a34a3888b2",
  "invitation_expires_at": "2025-11-07T00:00:00Z",
  "expired": false,
  "flow_ids": ["5fd4371e940df5a34a3888b2"],
  "logo_url": "<string>",
  "time_zone": "America/Los Angeles",
  "trustedform_certified_vendor": true,
  "website": "<string>",
  "created_at": "2023-11-07T05:31:56Z",
  "updated_at": "2023-11-07T05:31:56Z"
}`

func TestConduitSeedRoundTrip(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		acct := e.account("A Corporation Buyer")["id"].(string)
		admin := e.key(acct, "admin")

		c := mustStatus(t, entConduit(e, admin, "POST", "/entities", entMin("Placeholder")), 201)
		created := c.Obj()
		entShape(t, created, true)
		id := created["id"].(string)

		// The page's PUT, Basic auth with the user API.
		r := entConduit(e, admin, "PUT", "/entities/"+id, entSeedPut)
		mustStatus(t, r, 200)
		got := r.Obj()
		entShape(t, got, true)

		// Every field of the page's example response is there.
		var example map[string]any
		if err := json.Unmarshal([]byte(entSeedResponse), &example); err != nil {
			t.Fatal(err)
		}
		for k := range example {
			if _, ok := got[k]; !ok {
				t.Fatalf("field %q of the example response is missing: %s", k, r.Body)
			}
		}
		// The values sent come back as sent, field by field.
		sent := resp{Body: []byte(entSeedPut)}.Obj()
		if len(sent) != 13 {
			t.Fatalf("seed body has %d fields", len(sent))
		}
		entExpect(t, got, sent)
		// roster's ids bare lower-case hex; the read-only fields at SPEC §8's defaults.
		entExpect(t, got, map[string]any{
			"id": id, "account_id": bareID(acct), "see": nil,
			"standard": false, "account": false, "pending": true, "connected": nil, "connected_account_id": nil,
			"invitation_expires_at": nil, "expired": false, "created_at": created["created_at"],
		})
		if !entLater(t, got["updated_at"], created["updated_at"]) {
			t.Fatalf("updated_at did not move: %v → %v", created["updated_at"], got["updated_at"])
		}

		// The same entity on /v1, with prefixed ids, the id given prefixed.
		n := mustStatus(t, e.as(admin, "GET", "/v1/entities/entity_"+id, nil), 200).Obj()
		entShape(t, n, false)
		entSame(t, n, got, "id", "account_id")
		entExpect(t, n, map[string]any{"id": "entity_" + id, "account_id": acct})

		// The path id in any accepted form, on both surfaces.
		for _, form := range []string{id, strings.ToUpper(id), "entity_" + id, "entity_" + strings.ToUpper(id)} {
			entSame(t, mustStatus(t, entConduit(e, admin, "GET", "/entities/"+form, nil), 200).Obj(), got)
			entSame(t, mustStatus(t, e.as(admin, "GET", "/v1/entities/"+form, nil), 200).Obj(), n)
		}
		// The same PUT again changes nothing, updated_at included; with the id in upper case.
		entSame(t, mustStatus(t, entConduit(e, admin, "PUT", "/entities/"+strings.ToUpper(id), entSeedPut), 200).Obj(), got)

		// see: another entity of the account, named in any accepted form; answered bare here,
		// prefixed on /v1.
		other := mustStatus(t, entConduit(e, admin, "POST", "/entities", entMin("Successor")), 201).Obj()["id"].(string)
		for _, form := range []string{strings.ToUpper(other), "entity_" + strings.ToUpper(other), "entity_" + other, other} {
			body := resp{Body: []byte(entSeedPut)}.Obj()
			body["deprecated"], body["see"] = true, form
			p := mustStatus(t, entConduit(e, admin, "PUT", "/entities/"+id, body), 200).Obj()
			entShape(t, p, true)
			entExpect(t, p, map[string]any{"see": other, "deprecated": true})
		}
		entExpect(t, mustStatus(t, e.as(admin, "GET", "/v1/entities/"+id, nil), 200).Obj(), map[string]any{"see": "entity_" + other})
		// Another account's entity is not a usable see.
		foreign := e.account("Another Tenant")["id"].(string)
		theirs := entCreate(t, e, e.key(foreign, "admin"), entMin("Theirs"))["id"].(string)
		body := resp{Body: []byte(entSeedPut)}.Obj()
		body["deprecated"], body["see"] = true, bareID(theirs)
		entWantConduitProblems(t, entConduit(e, admin, "PUT", "/entities/"+id, body), `["body","see"] not_found`)

		// The Basic user is not checked; Bearer and leadr-api-key work on the root too.
		mustStatus(t, e.req("GET", "/entities/"+id, nil, "Authorization", basic("someone", admin)), 200)
		mustStatus(t, e.as(admin, "GET", "/entities/"+id, nil), 200)
		mustStatus(t, e.req("GET", "/entities/"+id, nil, "leadr-api-key", admin), 200)
	})
}

var entLinkRE = regexp.MustCompile(`^<([^>]+)>; rel="next"$`)

// entConduitWalk follows the Link headers of GET /entities from path and returns every page.
func entConduitWalk(t *testing.T, e *env, key, path string) [][]map[string]any {
	t.Helper()
	var pages [][]map[string]any
	for path != "" {
		if len(pages) > 200 {
			t.Fatal("the Link walk does not end")
		}
		r := mustStatus(t, entConduit(e, key, "GET", path, nil), 200)
		pages = append(pages, entArray(t, r))
		links := r.Header.Values("Link")
		if len(links) == 0 {
			break
		}
		m := entLinkRE.FindStringSubmatch(links[0])
		if len(links) != 1 || m == nil {
			t.Fatalf("Link header %q is not one <url>; rel=\"next\"", links)
		}
		base, _ := url.Parse(e.base + path)
		next, err := base.Parse(m[1])
		if err != nil {
			t.Fatalf("Link URL %q: %v", m[1], err)
		}
		if next.Path != "/entities" {
			t.Fatalf("Link URL %q leaves /entities", m[1])
		}
		path = next.RequestURI()
	}
	return pages
}

// entAscending checks that items are in ascending created_at, id order.
func entAscending(t *testing.T, items []map[string]any) {
	t.Helper()
	for i := 1; i < len(items); i++ {
		a, b := items[i-1], items[i]
		ka := a["created_at"].(string) + " " + a["id"].(string)
		kb := b["created_at"].(string) + " " + b["id"].(string)
		if entLater(t, a["created_at"], b["created_at"]) || a["created_at"] == b["created_at"] && ka >= kb {
			t.Fatalf("not in ascending created_at,id order at %d: %s then %s", i, ka, kb)
		}
	}
}

func TestConduitList(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		acct := e.account("Conduit List")["id"].(string)
		admin := e.key(acct, "admin")
		other := e.account("Conduit List Other")["id"].(string)
		theirs := entCreate(t, e, e.key(other, "admin"), entMin("not mine"))["id"].(string)

		// An empty list is an empty array, without a Link.
		r := mustStatus(t, entConduit(e, admin, "GET", "/entities", nil), 200)
		if strings.TrimSpace(string(r.Body)) != "[]" || r.Header.Get("Link") != "" {
			t.Fatalf("empty list: %s, Link %q", r, r.Header.Get("Link"))
		}

		const total = 101
		var want []string
		for i := 0; i < total; i++ {
			source := []any{"form", "seller", nil}[i%3]
			c := mustStatus(t, entConduit(e, admin, "POST", "/entities", with(entMin("E"+strings.Repeat("x", i%5)), "source", source)), 201)
			want = append(want, c.Obj()["id"].(string))
		}

		// Default limit 100: a full first page with a Link, then the last one without.
		pages := entConduitWalk(t, e, admin, "/entities")
		if len(pages) != 2 || len(pages[0]) != 100 || len(pages[1]) != 1 {
			var sizes []int
			for _, p := range pages {
				sizes = append(sizes, len(p))
			}
			t.Fatalf("default limit: page sizes %v, want [100 1]", sizes)
		}
		var all []map[string]any
		for _, p := range pages {
			all = append(all, p...)
		}
		for _, it := range all {
			entShape(t, it, true)
		}
		entAscending(t, all)
		if got := entIDs(all); strings.Join(sorted(got), ",") != strings.Join(sorted(want), ",") {
			t.Fatalf("default walk saw %d entities, want the account's %d", len(got), total)
		}
		if entHas(entIDs(all), bareID(theirs)) {
			t.Fatal("another account's entity is listed")
		}
		// The list is the same entities the native API shows.
		one := mustStatus(t, e.as(admin, "GET", "/v1/entities/"+all[7]["id"].(string), nil), 200).Obj()
		entSame(t, all[7], one, "id", "account_id")

		// Any limit walks the same rows in the same order, each once.
		for _, limit := range []string{"7", "50", "100", "101", "1000"} {
			pages := entConduitWalk(t, e, admin, "/entities?limit="+limit)
			var ids []string
			for i, p := range pages {
				// Every page but the last is full; the last is not empty.
				if n := len(p); n == 0 || i < len(pages)-1 && fmt.Sprint(n) != limit {
					t.Fatalf("limit %s: page %d has %d entities", limit, i, n)
				}
				ids = append(ids, entIDs(p)...)
			}
			if strings.Join(ids, ",") != strings.Join(entIDs(all), ",") {
				t.Fatalf("limit %s: walk of %d pages saw %d ids, not the %d in order", limit, len(pages), len(ids), len(all))
			}
		}
		// limit=1: one entity a page, the Link leading to the next one.
		r1 := mustStatus(t, entConduit(e, admin, "GET", "/entities?limit=1", nil), 200)
		if p := entArray(t, r1); len(p) != 1 || p[0]["id"] != all[0]["id"] {
			t.Fatalf("limit=1 first page: %s", r1)
		}
		m := entLinkRE.FindStringSubmatch(r1.Header.Get("Link"))
		if m == nil {
			t.Fatalf("limit=1: Link %q", r1.Header.Get("Link"))
		}
		next, _ := url.Parse(m[1])
		if p := entArray(t, mustStatus(t, entConduit(e, admin, "GET", "/entities?"+next.RawQuery, nil), 200)); len(p) != 1 || p[0]["id"] != all[1]["id"] {
			t.Fatalf("limit=1 second page: %v", p)
		}
		if n := len(entConduitWalk(t, e, admin, "/entities?limit=1000")); n != 1 {
			t.Fatalf("limit=1000: %d pages", n)
		}
		if n := len(entConduitWalk(t, e, admin, "/entities?limit=101")); n != 1 {
			t.Fatalf("limit=101: %d pages (no Link on the last page)", n)
		}

		// A filtered walk keeps its filter across pages.
		var forms []string
		for _, p := range entConduitWalk(t, e, admin, "/entities?source=form&limit=4") {
			for _, it := range p {
				if it["source"] != "form" {
					t.Fatalf("source=form walk shows %v", it)
				}
				forms = append(forms, it["id"].(string))
			}
		}
		if len(forms) != 34 {
			t.Fatalf("source=form walk saw %d, want 34", len(forms))
		}

		// The superadmin sees every account's entities.
		var superIDs []string
		for _, p := range entConduitWalk(t, e, e.super, "/entities?limit=1000") {
			superIDs = append(superIDs, entIDs(p)...)
		}
		if len(superIDs) != total+1 || !entHas(superIDs, bareID(theirs)) {
			t.Fatalf("superadmin list: %d entities", len(superIDs))
		}

		// limit outside 1–1,000 is a 422 in LeadConduit's shape.
		for _, l := range []struct{ limit, typ string }{{"0", "greater_than_equal"}, {"-3", "greater_than_equal"},
			{"1001", "less_than_equal"}, {"abc", "int_parsing"}, {"1.5", "int_parsing"}} {
			entWantConduitProblems(t, entConduit(e, admin, "GET", "/entities?limit="+l.limit, nil), `["query","limit"] `+l.typ)
		}
		// A garbage cursor is a 400.
		entWantConduitError(t, entConduit(e, admin, "GET", "/entities?cursor=garbage", nil), 400, "invalid_cursor")
	})
}

func TestConduitErrors(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		acct := e.account("Conduit Errors")["id"].(string)
		admin := e.key(acct, "admin")
		id := bareID(entCreate(t, e, admin, entMin("Here"))["id"].(string))
		seed := entSeedPut

		// 401: LeadConduit's message, on every entity route.
		routes := []struct{ method, path string }{{"GET", "/entities"}, {"POST", "/entities"}, {"GET", "/entities/" + id},
			{"PUT", "/entities/" + id}, {"PATCH", "/entities/" + id}, {"DELETE", "/entities/" + id}}
		for _, rt := range routes {
			var body any
			if rt.method == "POST" || rt.method == "PUT" || rt.method == "PATCH" {
				body = seed
			}
			for _, auth := range [][]string{
				nil,
				{"Authorization", basic("API", "rk_notakey")},
				{"Authorization", basic("API", "")},
				{"Authorization", "Basic !!!"},
				{"Authorization", "Bearer " + admin + "x"},
			} {
				r := e.req(rt.method, rt.path, body, auth...)
				entWantConduitError(t, r, 401, "unauthorized")
				if r.Obj()["error"] != "authentication failed" {
					t.Fatalf("%s %s: 401 error message %v", rt.method, rt.path, r.Obj()["error"])
				}
				if r.Header.Get("WWW-Authenticate") == "" {
					t.Fatalf("%s %s: 401 without WWW-Authenticate", rt.method, rt.path)
				}
			}
		}

		// 404: a well-formed id that names nothing.
		for _, missing := range []string{"000000000000000000000000", "entity_000000000000000000000000", "entity_abc"} {
			entWantConduitError(t, entConduit(e, admin, "GET", "/entities/"+missing, nil), 404, "not_found")
			entWantConduitError(t, entConduit(e, admin, "PUT", "/entities/"+missing, seed), 404, "not_found")
			entWantConduitError(t, entConduit(e, admin, "PATCH", "/entities/"+missing, map[string]any{"name": "x"}), 404, "not_found")
			entWantConduitError(t, entConduit(e, admin, "DELETE", "/entities/"+missing, nil), 404, "not_found")
		}
		// Other paths at the root are 404 in LeadConduit's shape; other methods 405 with Allow.
		entWantConduitError(t, entConduit(e, admin, "GET", "/entities/"+id+"/flows", nil), 404, "not_found")
		entWantConduitError(t, entConduit(e, admin, "GET", "/entity", nil), 404, "not_found")
		r := entConduit(e, admin, "POST", "/entities/"+id, seed)
		entWantConduitError(t, r, 405, "method_not_allowed")
		if allow := r.Header.Get("Allow"); !strings.Contains(allow, "PUT") || !strings.Contains(allow, "DELETE") || strings.Contains(allow, "POST") {
			t.Fatalf("Allow: %q", allow)
		}

		// 422: the detail list and an error message; path and body problems together.
		entWantConduitProblems(t, entConduit(e, admin, "GET", "/entities/not-an-id", nil), `["path","id"] string_pattern_mismatch`)
		entWantConduitProblems(t, entConduit(e, admin, "PUT", "/entities/"+id+"0", map[string]any{"name": "x"}),
			`["path","id"] string_pattern_mismatch`, `["body","module_ids"] missing`, `["body","source"] missing`, `["body","recipient"] missing`)
		entWantConduitProblems(t, entConduit(e, admin, "PUT", "/entities/"+id, strings.Replace(seed, `"https://www.acorp.example/"`, `"<string>"`, 1)),
			`["body","website"] url_parsing`)
		entWantConduitProblems(t, entConduit(e, admin, "POST", "/entities", `{"name":`), `["body",8] json_invalid`)
		entWantConduitProblems(t, entConduit(e, admin, "PATCH", "/entities/"+id, map[string]any{"source": "web", "color": 1}),
			`["body","source"] enum`, `["body","color"] extra_forbidden`)
		entWantConduitProblems(t, entConduit(e, admin, "PUT", "/entities/"+id, nil), `["body"] missing`)
		// 415 without a JSON content type.
		entWantConduitError(t, entConduit(e, admin, "PUT", "/entities/"+id, seed, "Content-Type", "text/plain"), 415, "unsupported_media_type")

		// Nothing changed.
		entExpect(t, mustStatus(t, entConduit(e, admin, "GET", "/entities/"+id, nil), 200).Obj(), with(entDefaults, "name", "Here"))
	})
}
