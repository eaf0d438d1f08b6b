package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// --- helpers shared by the entity tests (conduit_test.go, entity_tenancy_test.go) ---

// entFields is every field of an entity response, on both surfaces (SPEC §8, and account_id).
var entFields = []string{"name", "module_ids", "source", "recipient", "id", "account_id", "description",
	"standard", "account", "pending", "connected", "connected_account_id", "deprecated", "see", "field_suffix",
	"invitation_id", "invitation_expires_at", "expired", "flow_ids", "logo_url", "time_zone",
	"trustedform_certified_vendor", "website", "created_at", "updated_at"}

var entHexRE = regexp.MustCompile(`^[0-9a-f]{24}$`)

const (
	entInvitation = "5fd4371e940df5a34a3888b2"
	entFlow1      = "5fd4371e940df5a34a3888b3"
	entFlow2      = "5FD4371E940DF5A34A3888B4" // not roster's: returned as sent
)

// entConduit sends a request the way a LeadConduit client does, with Basic auth.
func entConduit(e *env, key, method, path string, body any, headers ...string) resp {
	e.t.Helper()
	return e.req(method, path, body, append([]string{"Authorization", basic("API", key)}, headers...)...)
}

// entMin is the smallest valid entity body: the four required keys.
func entMin(name string) map[string]any {
	return map[string]any{"name": name, "module_ids": []any{}, "source": nil, "recipient": nil}
}

// entFull sets every writable field but see (and deprecated false).
func entFull(name string) map[string]any {
	return map[string]any{
		"name": name, "module_ids": []any{"mod-a", "mod-b"}, "source": "seller", "recipient": "crm",
		"description": "full " + name, "deprecated": false, "field_suffix": "Ab12", "invitation_id": entInvitation,
		"flow_ids": []any{entFlow1, entFlow2}, "logo_url": "https://cdn.example.com/logo.png",
		"website": "http://www.example.com/path?q=1", "time_zone": "Europe/Paris", "trustedform_certified_vendor": true,
	}
}

// entCreate creates an entity on /v1 and returns it.
func entCreate(t *testing.T, e *env, key string, body any) map[string]any {
	t.Helper()
	r := e.as(key, "POST", "/v1/entities", body)
	if r.Status != 201 {
		t.Fatalf("create entity: want 201, got %s", r)
	}
	return r.Obj()
}

// entJSON turns a Go value into what resp.JSON() yields for it.
func entJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return resp{Body: b}.JSON()
}

// entShape checks that obj is a whole entity in the form of its surface: every field and no
// other, roster's ids bare (LeadConduit) or prefixed (native) lower-case hex, RFC 3339 times.
func entShape(t *testing.T, obj map[string]any, bare bool) {
	t.Helper()
	if obj == nil {
		t.Fatal("entity: not an object")
	}
	var keys []string
	for k := range obj {
		keys = append(keys, k)
	}
	if got, want := strings.Join(sorted(keys), ","), strings.Join(sorted(entFields), ","); got != want {
		t.Fatalf("entity fields:\n got  %s\n want %s", got, want)
	}
	checkID := func(field, prefix string) {
		s, ok := obj[field].(string)
		if !ok {
			t.Fatalf("%s is not a string: %v", field, obj)
		}
		if bare {
			prefix = ""
		}
		if !strings.HasPrefix(s, prefix) || !entHexRE.MatchString(s[len(prefix):]) {
			t.Fatalf("%s = %q, want %q + 24 lower-case hex", field, s, prefix)
		}
	}
	checkID("id", "entity_")
	checkID("account_id", "account_")
	if obj["see"] != nil {
		checkID("see", "entity_")
	}
	for _, f := range []string{"created_at", "updated_at"} {
		s, _ := obj[f].(string)
		if _, err := time.Parse(time.RFC3339, s); err != nil || !strings.HasSuffix(s, "Z") {
			t.Fatalf("%s = %v is not an RFC 3339 UTC time", f, obj[f])
		}
	}
}

// entSame compares two entities field by field, except the skipped fields.
func entSame(t *testing.T, got, want map[string]any, skip ...string) {
	t.Helper()
	var diffs []string
	for _, f := range entFields {
		if entHas(skip, f) {
			continue
		}
		if !reflect.DeepEqual(got[f], want[f]) {
			diffs = append(diffs, fmt.Sprintf("%s: got %#v, want %#v", f, got[f], want[f]))
		}
	}
	if len(diffs) > 0 {
		t.Fatalf("entity differs:\n %s", strings.Join(diffs, "\n "))
	}
}

// entExpect checks the given fields of obj.
func entExpect(t *testing.T, obj map[string]any, want map[string]any) {
	t.Helper()
	var diffs []string
	for k, w := range want {
		w = entJSON(t, w)
		if !reflect.DeepEqual(obj[k], w) {
			diffs = append(diffs, fmt.Sprintf("%s: got %#v, want %#v", k, obj[k], w))
		}
	}
	if len(diffs) > 0 {
		t.Fatalf("entity fields differ:\n %s\n body %v", strings.Join(sorted(diffs), "\n "), obj)
	}
}

func entHas(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// entDefaults are the values of every optional and read-only field of a fresh entity.
var entDefaults = map[string]any{
	"description": nil, "deprecated": false, "see": nil, "field_suffix": nil, "invitation_id": nil,
	"flow_ids": []any{}, "logo_url": nil, "website": nil, "time_zone": nil, "trustedform_certified_vendor": false,
	"standard": false, "account": false, "pending": false, "connected": nil, "connected_account_id": nil,
	"invitation_expires_at": nil, "expired": false,
}

// entLater reports whether RFC 3339 time a is strictly after b.
func entLater(t *testing.T, a, b any) bool {
	t.Helper()
	ta, err1 := time.Parse(time.RFC3339, fmt.Sprint(a))
	tb, err2 := time.Parse(time.RFC3339, fmt.Sprint(b))
	if err1 != nil || err2 != nil {
		t.Fatalf("bad times %v, %v", a, b)
	}
	return ta.After(tb)
}

// entWantConduitError checks a LeadConduit error body: the native code and detail plus an
// "error" message.
func entWantConduitError(t *testing.T, r resp, status int, code string) {
	t.Helper()
	wantError(t, r, status, code)
	o := r.Obj()
	if d, ok := o["detail"].(string); !ok || d == "" {
		t.Fatalf("no detail message: %s", r)
	}
	if m, ok := o["error"].(string); !ok || m == "" {
		t.Fatalf("no error message: %s", r)
	}
}

// entWantConduitProblems checks a LeadConduit 422: the detail list plus an "error" message.
func entWantConduitProblems(t *testing.T, r resp, want ...string) {
	t.Helper()
	wantProblems(t, r, want...)
	if m, ok := r.Obj()["error"].(string); !ok || m == "" {
		t.Fatalf("422 without an error message: %s", r)
	}
}

// entData returns the data list of a native page.
func entData(t *testing.T, r resp) []map[string]any {
	t.Helper()
	data, ok := r.Obj()["data"].([]any)
	if !ok {
		t.Fatalf("no data list: %s", r)
	}
	out := make([]map[string]any, len(data))
	for i, d := range data {
		out[i] = d.(map[string]any)
	}
	return out
}

// entArray returns the items of a LeadConduit list (a bare JSON array).
func entArray(t *testing.T, r resp) []map[string]any {
	t.Helper()
	arr, ok := r.JSON().([]any)
	if !ok {
		t.Fatalf("not a bare JSON array: %s", r)
	}
	out := make([]map[string]any, len(arr))
	for i, d := range arr {
		out[i] = d.(map[string]any)
	}
	return out
}

// entIDs returns the ids of a list of entities.
func entIDs(items []map[string]any) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it["id"].(string)
	}
	return out
}

// entListAll reads every entity a key sees on /v1 (at most 100).
func entListAll(t *testing.T, e *env, key, query string) []map[string]any {
	t.Helper()
	r := mustStatus(t, e.as(key, "GET", "/v1/entities?limit=100&"+query, nil), 200)
	if r.Obj()["pagination"].(map[string]any)["has_next"] != false {
		t.Fatalf("more than 100 entities: %s", r)
	}
	return entData(t, r)
}

// --- native /v1 tests ---

func TestEntitiesCreateDefaults(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		a := e.account("Entity Defaults")
		acct := a["id"].(string)
		admin := e.key(acct, "admin")

		r := e.as(admin, "POST", "/v1/entities", entMin("Bare Minimum"))
		mustStatus(t, r, 201)
		got := r.Obj()
		entShape(t, got, false)
		entExpect(t, got, entDefaults)
		entExpect(t, got, map[string]any{"name": "Bare Minimum", "module_ids": []any{}, "source": nil, "recipient": nil, "account_id": acct})
		if got["created_at"] != got["updated_at"] {
			t.Fatalf("a new entity has created_at != updated_at: %v", got)
		}
		// GET shows the same entity.
		entSame(t, mustStatus(t, e.as(admin, "GET", "/v1/entities/"+got["id"].(string), nil), 200).Obj(), got)

		// Every writable field given: returned as sent; pending follows invitation_id.
		full := mustStatus(t, e.as(admin, "POST", "/v1/entities", entFull("Full")), 201).Obj()
		entShape(t, full, false)
		entExpect(t, full, entFull("Full"))
		entExpect(t, full, map[string]any{"pending": true, "standard": false, "account": false, "expired": false,
			"connected": nil, "connected_account_id": nil, "invitation_expires_at": nil, "see": nil})

		// The LeadConduit surface creates the same way, with bare ids.
		c := entConduit(e, admin, "POST", "/entities", entMin("Via Conduit"))
		mustStatus(t, c, 201)
		entShape(t, c.Obj(), true)
		entExpect(t, c.Obj(), entDefaults)
		entExpect(t, c.Obj(), map[string]any{"account_id": bareID(acct)})

		// An account key's own account is implied, and may be named in any accepted form.
		for _, own := range []string{acct, bareID(acct), strings.ToUpper(bareID(acct)), "account_" + strings.ToUpper(bareID(acct))} {
			got := entCreate(t, e, admin, with(entMin("Own "+own), "account_id", own))
			entExpect(t, got, map[string]any{"account_id": acct})
		}
		// Another account's id in the body is 403, whether it exists, and even malformed.
		other := e.account("Entity Defaults Other")["id"].(string)
		for _, foreign := range []any{other, bareID(other), "account_000000000000000000000000", "account_nope", "garbage!", ""} {
			wantError(t, e.as(admin, "POST", "/v1/entities", with(entMin("Foreign"), "account_id", foreign)), 403, "forbidden")
			entWantConduitError(t, entConduit(e, admin, "POST", "/entities", with(entMin("Foreign"), "account_id", foreign)), 403, "forbidden")
		}

		// A superadmin must name the account.
		wantProblems(t, e.as(e.super, "POST", "/v1/entities", entMin("No Account")), `["body","account_id"] missing`)
		wantProblems(t, e.as(e.super, "POST", "/v1/entities", with(entMin("Null Account"), "account_id", nil)), `["body","account_id"] missing`)
		wantProblems(t, e.as(e.super, "POST", "/v1/entities", map[string]any{"account_id": acct}),
			`["body","name"] missing`, `["body","module_ids"] missing`, `["body","source"] missing`, `["body","recipient"] missing`)
		// A problem already reported at account_id (or a body that is no object) is not also "missing".
		wantProblems(t, e.as(e.super, "POST", "/v1/entities", with(entMin("Number Account"), "account_id", 5)), `["body","account_id"] string_type`)
		wantProblems(t, e.as(e.super, "POST", "/v1/entities", []any{1}), `["body"] model_attributes_type`)
		wantProblems(t, e.as(e.super, "POST", "/v1/entities", with(entMin("Bad Account"), "account_id", "acct-1")),
			`["body","account_id"] string_pattern_mismatch`)
		wantProblems(t, e.as(e.super, "POST", "/v1/entities", with(entMin("Unknown Account"), "account_id", "account_000000000000000000000000")),
			`["body","account_id"] not_found`)
		wantProblems(t, e.as(e.super, "POST", "/v1/entities", with(entMin("Unknown Account"), "account_id", "account_nothex")),
			`["body","account_id"] not_found`)
		for _, form := range []string{other, bareID(other), strings.ToUpper(bareID(other))} {
			got := entCreate(t, e, e.super, with(entMin("Super"), "account_id", form))
			entExpect(t, got, map[string]any{"account_id": other})
		}
		sc := entConduit(e, e.super, "POST", "/entities", with(entMin("Super Conduit"), "account_id", other))
		mustStatus(t, sc, 201)
		entExpect(t, sc.Obj(), map[string]any{"account_id": bareID(other)})
	})
}

func TestEntitiesValidation(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		acct := e.account("Entity Validation")["id"].(string)
		admin := e.key(acct, "admin")
		otherAcct := e.account("Entity Validation Other")["id"].(string)
		foreign := entCreate(t, e, e.key(otherAcct, "admin"), entMin("Foreign"))["id"].(string)
		mine := entCreate(t, e, admin, entMin("Mine"))["id"].(string)
		m := entMin("V")
		long := strings.Repeat("n", 201)

		cases := []struct {
			name string
			body any
			want []string
		}{
			{"empty object", map[string]any{}, []string{`["body","name"] missing`, `["body","module_ids"] missing`, `["body","source"] missing`, `["body","recipient"] missing`}},
			{"source and recipient keys required even when null", map[string]any{"name": "x", "module_ids": []any{}}, []string{`["body","source"] missing`, `["body","recipient"] missing`}},
			{"enums", with(m, "source", "web", "recipient", "seller"), []string{`["body","source"] enum`, `["body","recipient"] enum`}},
			{"enum types", with(m, "source", 1, "recipient", true), []string{`["body","source"] string_type`, `["body","recipient"] string_type`}},
			{"name empty", with(m, "name", ""), []string{`["body","name"] string_too_short`}},
			{"name too long", with(m, "name", long), []string{`["body","name"] string_too_long`}},
			{"name null", with(m, "name", nil), []string{`["body","name"] string_type`}},
			{"name not a string", with(m, "name", 12), []string{`["body","name"] string_type`}},
			{"module_ids not a list", with(m, "module_ids", "mod"), []string{`["body","module_ids"] list_type`}},
			{"module_ids null", with(m, "module_ids", nil), []string{`["body","module_ids"] list_type`}},
			{"module_ids items", with(m, "module_ids", []any{"ok", 3, nil}), []string{`["body","module_ids",1] string_type`, `["body","module_ids",2] string_type`}},
			{"field_suffix short", with(m, "field_suffix", "ab"), []string{`["body","field_suffix"] string_too_short`}},
			{"field_suffix long", with(m, "field_suffix", "abcdef"), []string{`["body","field_suffix"] string_too_long`}},
			{"field_suffix pattern", with(m, "field_suffix", "ab_c"), []string{`["body","field_suffix"] string_pattern_mismatch`}},
			{"field_suffix unicode", with(m, "field_suffix", "abcé"), []string{`["body","field_suffix"] string_pattern_mismatch`}},
			{"invitation_id", with(m, "invitation_id", "5fd4371e940df5a34a3888bz"), []string{`["body","invitation_id"] string_pattern_mismatch`}},
			{"invitation_id prefixed", with(m, "invitation_id", "entity_"+entInvitation), []string{`["body","invitation_id"] string_pattern_mismatch`}},
			{"flow_ids items", with(m, "flow_ids", []any{entFlow1, "nothex", entFlow1 + "0"}), []string{`["body","flow_ids",1] string_pattern_mismatch`, `["body","flow_ids",2] string_pattern_mismatch`}},
			{"flow_ids not a list", with(m, "flow_ids", entFlow1), []string{`["body","flow_ids"] list_type`}},
			{"logo_url javascript", with(m, "logo_url", "javascript:alert(1)"), []string{`["body","logo_url"] url_scheme`}},
			{"website ftp", with(m, "website", "ftp://x"), []string{`["body","website"] url_scheme`}},
			{"logo_url relative", with(m, "logo_url", "/relative/path.png"), []string{`["body","logo_url"] url_parsing`}},
			{"website relative", with(m, "website", "www.example.com"), []string{`["body","website"] url_parsing`}},
			{"website no host", with(m, "website", "https://"), []string{`["body","website"] url_parsing`}},
			{"time_zone unknown", with(m, "time_zone", "Mars/Olympus"), []string{`["body","time_zone"] value_error`}},
			{"time_zone Local", with(m, "time_zone", "Local"), []string{`["body","time_zone"] value_error`}},
			{"time_zone path", with(m, "time_zone", "../etc/passwd"), []string{`["body","time_zone"] value_error`}},
			{"booleans", with(m, "deprecated", "yes", "trustedform_certified_vendor", 1), []string{`["body","deprecated"] bool_type`, `["body","trustedform_certified_vendor"] bool_type`}},
			{"description type", with(m, "description", 5), []string{`["body","description"] string_type`}},
			{"see without deprecated", with(m, "see", mine), []string{`["body","see"] value_error`}},
			{"see with deprecated false", with(m, "see", mine, "deprecated", false), []string{`["body","see"] value_error`}},
			{"see malformed", with(m, "see", "not an id", "deprecated", true), []string{`["body","see"] string_pattern_mismatch`}},
			{"see unknown", with(m, "see", "000000000000000000000000", "deprecated", true), []string{`["body","see"] not_found`}},
			{"see well formed, names nothing", with(m, "see", "entity_xyz", "deprecated", true), []string{`["body","see"] not_found`}},
			{"see of another account", with(m, "see", foreign, "deprecated", true), []string{`["body","see"] not_found`}},
			{"see of another account, bare", with(m, "see", bareID(foreign), "deprecated", true), []string{`["body","see"] not_found`}},
			{"unknown fields", with(m, "color", "red", "Name", "x"), []string{`["body","color"] extra_forbidden`, `["body","Name"] extra_forbidden`}},
			{"not an object", []any{m}, []string{`["body"] model_attributes_type`}},
			{"malformed JSON", `{"name": "x",`, []string{`["body",13] json_invalid`}},
			{"all problems at once", map[string]any{
				"name": "", "module_ids": []any{1}, "source": "web", "description": 5, "deprecated": false, "see": mine,
				"field_suffix": "a-b", "invitation_id": "x", "flow_ids": []any{"y"}, "logo_url": "javascript:alert(1)",
				"website": "ftp://x", "time_zone": "Mars/Olympus", "trustedform_certified_vendor": "no", "extra": 1,
			}, []string{
				`["body","name"] string_too_short`, `["body","module_ids",0] string_type`, `["body","source"] enum`,
				`["body","recipient"] missing`, `["body","description"] string_type`, `["body","see"] value_error`,
				`["body","field_suffix"] string_pattern_mismatch`, `["body","invitation_id"] string_pattern_mismatch`,
				`["body","flow_ids",0] string_pattern_mismatch`, `["body","logo_url"] url_scheme`, `["body","website"] url_scheme`,
				`["body","time_zone"] value_error`, `["body","trustedform_certified_vendor"] bool_type`, `["body","extra"] extra_forbidden`,
			}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				wantProblems(t, e.as(admin, "POST", "/v1/entities", c.body), c.want...)
				// PUT validates the same body the same way, on both surfaces.
				wantProblems(t, e.as(admin, "PUT", "/v1/entities/"+mine, c.body), c.want...)
				entWantConduitProblems(t, entConduit(e, admin, "PUT", "/entities/"+bareID(mine), c.body), c.want...)
			})
		}
		// Nothing was written by any of them.
		if n := len(entListAll(t, e, admin, "")); n != 1 {
			t.Fatalf("want 1 entity after the refused requests, got %d", n)
		}
		entExpect(t, mustStatus(t, e.as(admin, "GET", "/v1/entities/"+mine, nil), 200).Obj(), entMin("Mine"))

		// The limits are inclusive and the accepted forms are kept as sent.
		ok := entCreate(t, e, admin, with(m, "name", strings.Repeat("é", 200), "field_suffix", "ABC", "time_zone", "America/Los Angeles",
			"logo_url", "https://example.com/a.png", "website", "http://localhost:8080/", "invitation_id", strings.ToUpper(entInvitation),
			"module_ids", []any{"m", "<string>"}, "description", ""))
		entExpect(t, ok, map[string]any{"name": strings.Repeat("é", 200), "field_suffix": "ABC", "time_zone": "America/Los Angeles",
			"logo_url": "https://example.com/a.png", "website": "http://localhost:8080/", "invitation_id": strings.ToUpper(entInvitation),
			"module_ids": []any{"m", "<string>"}, "description": "", "pending": true})
		for _, tz := range []string{"America/New_York", "America/New York", "UTC", "Asia/Kolkata"} {
			entExpect(t, entCreate(t, e, admin, with(m, "time_zone", tz)), map[string]any{"time_zone": tz})
		}
		entExpect(t, entCreate(t, e, admin, with(m, "field_suffix", "a1B2c")), map[string]any{"field_suffix": "a1B2c"})
		// see: deprecated true, naming an entity of the same account, in any accepted form.
		for _, form := range []string{mine, bareID(mine), strings.ToUpper(bareID(mine)), "entity_" + strings.ToUpper(bareID(mine))} {
			entExpect(t, entCreate(t, e, admin, with(m, "deprecated", true, "see", form)), map[string]any{"see": mine, "deprecated": true})
		}
		// deprecated without see is fine; see null is unset.
		entExpect(t, entCreate(t, e, admin, with(m, "deprecated", true, "see", nil)), map[string]any{"see": nil, "deprecated": true})
	})
}

func TestEntitiesReadOnlyRoundTrip(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		acct := e.account("Entity Round Trip")["id"].(string)
		admin := e.key(acct, "admin")
		target := entCreate(t, e, admin, entMin("Target"))["id"].(string)
		created := entCreate(t, e, admin, with(entFull("Round"), "deprecated", true, "see", target))
		id := created["id"].(string)

		for _, sf := range []struct {
			name string
			path string
			do   func(method, path string, body any) resp
		}{
			{"native", "/v1/entities/" + id, func(m, p string, b any) resp { return e.as(admin, m, p, b) }},
			{"leadconduit", "/entities/" + bareID(id), func(m, p string, b any) resp { return entConduit(e, admin, m, p, b) }},
		} {
			t.Run(sf.name, func(t *testing.T) {
				got := sf.do("GET", sf.path, nil)
				mustStatus(t, got, 200)
				before := got.Obj()
				// What was read goes back as it is: PUT and PATCH accept it and change nothing.
				for _, method := range []string{"PUT", "PATCH"} {
					r := sf.do(method, sf.path, got.Body)
					mustStatus(t, r, 200)
					entSame(t, r.Obj(), before)
				}
				// Read-only fields are ignored whatever their value.
				odd := with(before, "id", "entity_000000000000000000000000", "account_id", "account_000000000000000000000000",
					"created_at", "yesterday", "updated_at", 7, "standard", true, "account", nil, "pending", "no",
					"connected", "both", "connected_account_id", "zz", "invitation_expires_at", "2025-11-07T00:00:00Z", "expired", true)
				for _, method := range []string{"PUT", "PATCH"} {
					r := sf.do(method, sf.path, odd)
					mustStatus(t, r, 200)
					entSame(t, r.Obj(), before)
				}
				entSame(t, sf.do("GET", sf.path, nil).Obj(), before)
			})
		}
	})
}

func TestEntitiesPutReplacesPatchChanges(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		acct := e.account("Entity Updates")["id"].(string)
		admin := e.key(acct, "admin")
		other := entCreate(t, e, admin, entMin("Other"))["id"].(string)
		full := with(entFull("Full"), "deprecated", true, "see", other)

		// PUT replaces: what is omitted returns to its default.
		x := entCreate(t, e, admin, full)
		id := x["id"].(string)
		r := mustStatus(t, e.as(admin, "PUT", "/v1/entities/"+id, map[string]any{"name": "Replaced", "module_ids": []any{"m"}, "source": nil, "recipient": "esp"}), 200)
		put := r.Obj()
		entShape(t, put, false)
		entExpect(t, put, entDefaults)
		entExpect(t, put, map[string]any{"name": "Replaced", "module_ids": []any{"m"}, "source": nil, "recipient": "esp",
			"id": id, "account_id": acct, "created_at": x["created_at"]})
		if !entLater(t, put["updated_at"], x["updated_at"]) {
			t.Fatalf("updated_at did not move: %v → %v", x["updated_at"], put["updated_at"])
		}
		entSame(t, mustStatus(t, e.as(admin, "GET", "/v1/entities/"+id, nil), 200).Obj(), put)
		// PUT needs the required keys, as POST does.
		wantProblems(t, e.as(admin, "PUT", "/v1/entities/"+id, map[string]any{"description": "d"}),
			`["body","name"] missing`, `["body","module_ids"] missing`, `["body","source"] missing`, `["body","recipient"] missing`)
		// PUT of the same values changes nothing, updated_at included.
		same := mustStatus(t, e.as(admin, "PUT", "/v1/entities/"+id, map[string]any{"name": "Replaced", "module_ids": []any{"m"}, "source": nil, "recipient": "esp"}), 200).Obj()
		entSame(t, same, put)
		// see may not name the entity itself.
		wantProblems(t, e.as(admin, "PUT", "/v1/entities/"+id, with(entMin("Self"), "deprecated", true, "see", id)), `["body","see"] not_found`)

		// PATCH changes only the fields given.
		y := entCreate(t, e, admin, full)
		yid := y["id"].(string)
		p := mustStatus(t, e.as(admin, "PATCH", "/v1/entities/"+yid, map[string]any{"description": "new words", "module_ids": []any{"z"}}), 200).Obj()
		entSame(t, p, y, "description", "module_ids", "updated_at")
		entExpect(t, p, map[string]any{"description": "new words", "module_ids": []any{"z"}})
		if !entLater(t, p["updated_at"], y["updated_at"]) {
			t.Fatalf("updated_at did not move on PATCH")
		}
		// An empty PATCH, and null for the fields that cannot be null, change nothing.
		for _, body := range []map[string]any{{}, {"name": nil, "module_ids": nil, "deprecated": nil, "flow_ids": nil, "trustedform_certified_vendor": nil}, {"description": "new words"}} {
			entSame(t, mustStatus(t, e.as(admin, "PATCH", "/v1/entities/"+yid, body), 200).Obj(), p)
		}
		// null clears the nullable fields.
		cleared := mustStatus(t, e.as(admin, "PATCH", "/v1/entities/"+yid, map[string]any{"source": nil, "recipient": nil, "description": nil,
			"see": nil, "field_suffix": nil, "invitation_id": nil, "logo_url": nil, "website": nil, "time_zone": nil}), 200).Obj()
		entExpect(t, cleared, map[string]any{"source": nil, "recipient": nil, "description": nil, "see": nil, "field_suffix": nil,
			"invitation_id": nil, "pending": false, "logo_url": nil, "website": nil, "time_zone": nil,
			"name": "Full", "module_ids": []any{"z"}, "deprecated": true, "flow_ids": full["flow_ids"], "trustedform_certified_vendor": true})
		if !entLater(t, cleared["updated_at"], p["updated_at"]) {
			t.Fatalf("updated_at did not move on a clearing PATCH")
		}
		// PATCH validates what it is given, and the see rules hold against the stored entity.
		wantProblems(t, e.as(admin, "PATCH", "/v1/entities/"+yid, map[string]any{"name": "", "source": "web", "time_zone": "Mars/Olympus", "bogus": 1}),
			`["body","name"] string_too_short`, `["body","source"] enum`, `["body","time_zone"] value_error`, `["body","bogus"] extra_forbidden`)
		see := mustStatus(t, e.as(admin, "PATCH", "/v1/entities/"+yid, map[string]any{"see": strings.ToUpper(bareID(other))}), 200).Obj()
		entExpect(t, see, map[string]any{"see": other, "deprecated": true})
		wantProblems(t, e.as(admin, "PATCH", "/v1/entities/"+yid, map[string]any{"deprecated": false}), `["body","see"] value_error`)
		wantProblems(t, e.as(admin, "PATCH", "/v1/entities/"+yid, map[string]any{"see": yid}), `["body","see"] not_found`)
		undep := mustStatus(t, e.as(admin, "PATCH", "/v1/entities/"+yid, map[string]any{"deprecated": false, "see": nil}), 200).Obj()
		entExpect(t, undep, map[string]any{"see": nil, "deprecated": false})
		wantProblems(t, e.as(admin, "PATCH", "/v1/entities/"+yid, map[string]any{"see": other}), `["body","see"] value_error`)
		entSame(t, mustStatus(t, e.as(admin, "GET", "/v1/entities/"+yid, nil), 200).Obj(), undep)

		// The LeadConduit surface PATCHes the same way.
		c := mustStatus(t, entConduit(e, admin, "PATCH", "/entities/"+strings.ToUpper(bareID(yid)), map[string]any{"deprecated": true, "see": "entity_" + bareID(other)}), 200).Obj()
		entShape(t, c, true)
		entExpect(t, c, map[string]any{"see": bareID(other), "id": bareID(yid), "deprecated": true})
	})
}

func TestEntitiesDelete(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		acct := e.account("Entity Delete")["id"].(string)
		admin := e.key(acct, "admin")
		e1 := entCreate(t, e, admin, entFull("One"))
		e2 := entCreate(t, e, admin, entMin("Two"))
		e3 := entCreate(t, e, admin, entMin("Three"))
		id1, id2, id3 := e1["id"].(string), e2["id"].(string), e3["id"].(string)

		batch := func(key string, ids []string, typ string) {
			t.Helper()
			mustStatus(t, e.as(admin, "POST", "/v1/accounts/"+acct+"/entity_relationships/batch",
				map[string]any{"entity_ids": ids, "relationship_type": typ}, "Idempotency-Key", key), 200)
		}
		batch("ent-delete-1", []string{id1, id2}, "account_holder")
		batch("ent-delete-2", []string{bareID(id1)}, "authorized_signer")
		rels := entData(t, mustStatus(t, e.as(admin, "GET", "/v1/entities/"+id1+"/relationships", nil), 200))
		if len(rels) != 2 {
			t.Fatalf("want 2 relationships of %s before the delete, got %v", id1, rels)
		}
		for _, rel := range rels {
			if rel["entity_id"] != id1 || rel["account_id"] != acct {
				t.Fatalf("relationship %v", rel)
			}
		}

		// DELETE answers the entity as it was, then it is gone everywhere.
		before := mustStatus(t, e.as(admin, "GET", "/v1/entities/"+id1, nil), 200).Obj()
		d := mustStatus(t, e.as(admin, "DELETE", "/v1/entities/"+id1, nil), 200).Obj()
		entShape(t, d, false)
		entSame(t, d, before)
		wantError(t, e.as(admin, "GET", "/v1/entities/"+id1, nil), 404, "not_found")
		wantError(t, e.as(admin, "DELETE", "/v1/entities/"+id1, nil), 404, "not_found")
		wantError(t, e.as(admin, "PUT", "/v1/entities/"+id1, entMin("Back")), 404, "not_found")
		wantError(t, e.as(admin, "PATCH", "/v1/entities/"+id1, map[string]any{"name": "Back"}), 404, "not_found")
		wantError(t, e.as(admin, "GET", "/v1/entities/"+id1+"/relationships", nil), 404, "not_found")
		entWantConduitError(t, entConduit(e, admin, "GET", "/entities/"+bareID(id1), nil), 404, "not_found")
		if ids := entIDs(entListAll(t, e, admin, "")); entHas(ids, id1) || len(ids) != 2 {
			t.Fatalf("list after delete: %v", ids)
		}
		// Its relationships went with it; the others stay.
		left := entData(t, mustStatus(t, e.as(admin, "GET", "/v1/accounts/"+acct+"/entity_relationships", nil), 200))
		if len(left) != 1 || left[0]["entity_id"] != id2 || left[0]["relationship_type"] != "account_holder" {
			t.Fatalf("relationships after delete: %v", left)
		}
		// An entity id that was deleted is a not_found in a batch body.
		wantProblems(t, e.as(admin, "POST", "/v1/accounts/"+acct+"/entity_relationships/batch",
			map[string]any{"entity_ids": []string{id1}, "relationship_type": "authorized_user"}, "Idempotency-Key", "ent-delete-3"),
			`["body","entity_ids",0] not_found`)

		// An entity whose see named the deleted one can still be written: a PATCH of another field
		// and a PUT of what was read succeed; a new see must name a live entity.
		dep := entCreate(t, e, admin, with(entMin("Deprecated"), "deprecated", true, "see", id2))
		depID := dep["id"].(string)
		mustStatus(t, e.as(admin, "DELETE", "/v1/entities/"+id2, nil), 200)
		read := mustStatus(t, e.as(admin, "GET", "/v1/entities/"+depID, nil), 200)
		entSame(t, mustStatus(t, e.as(admin, "PUT", "/v1/entities/"+depID, read.Body), 200).Obj(), read.Obj())
		entExpect(t, mustStatus(t, e.as(admin, "PATCH", "/v1/entities/"+depID, map[string]any{"name": "Still Deprecated"}), 200).Obj(),
			map[string]any{"name": "Still Deprecated", "see": id2, "deprecated": true})
		wantProblems(t, e.as(admin, "PATCH", "/v1/entities/"+depID, map[string]any{"see": id1}), `["body","see"] not_found`)
		wantProblems(t, e.as(admin, "PATCH", "/v1/entities/"+depID, map[string]any{"deprecated": false}), `["body","see"] value_error`)
		entExpect(t, mustStatus(t, e.as(admin, "PATCH", "/v1/entities/"+depID, map[string]any{"see": id3}), 200).Obj(), map[string]any{"see": id3})
		mustStatus(t, e.as(admin, "DELETE", "/v1/entities/"+depID, nil), 200)

		// On the LeadConduit surface: bare ids, any case, and its error shape after.
		before3 := mustStatus(t, entConduit(e, admin, "GET", "/entities/"+bareID(id3), nil), 200).Obj()
		c := mustStatus(t, entConduit(e, admin, "DELETE", "/entities/"+strings.ToUpper(bareID(id3)), nil), 200).Obj()
		entShape(t, c, true)
		entSame(t, c, before3)
		entWantConduitError(t, entConduit(e, admin, "DELETE", "/entities/"+bareID(id3), nil), 404, "not_found")
		wantError(t, e.as(admin, "GET", "/v1/entities/"+id3, nil), 404, "not_found")
		// Malformed ids are 422, well-formed ids naming nothing 404.
		wantProblems(t, e.as(admin, "DELETE", "/v1/entities/nope", nil), `["path","id"] string_pattern_mismatch`)
		wantError(t, e.as(admin, "DELETE", "/v1/entities/entity_nothex", nil), 404, "not_found")
		if ids := entIDs(entListAll(t, e, admin, "")); len(ids) != 0 {
			t.Fatalf("list after every delete: %v", ids)
		}
		if left := entData(t, mustStatus(t, e.as(admin, "GET", "/v1/accounts/"+acct+"/entity_relationships", nil), 200)); len(left) != 0 {
			t.Fatalf("relationships after every delete: %v", left)
		}
	})
}

func TestEntitiesListFilters(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		a := e.account("Entity Filters A")["id"].(string)
		b := e.account("Entity Filters B")["id"].(string)
		adminA, adminB := e.key(a, "admin"), e.key(b, "admin")
		mk := func(key, name string, source, recipient any, deprecated bool) string {
			return entCreate(t, e, key, with(entMin(name), "source", source, "recipient", recipient, "deprecated", deprecated))["id"].(string)
		}
		a1 := mk(adminA, "a1", "form", "buyer", false)
		a2 := mk(adminA, "a2", "form", "crm", true)
		a3 := mk(adminA, "a3", "seller", nil, false)
		a4 := mk(adminA, "a4", nil, "crm", true)
		b1 := mk(adminB, "b1", "form", "crm", false)

		set := func(ids []string) string { return strings.Join(sorted(ids), ",") }
		cases := []struct {
			key, query string
			want       []string
		}{
			{adminA, "", []string{a1, a2, a3, a4}},
			{adminA, "source=form", []string{a1, a2}},
			{adminA, "recipient=crm", []string{a2, a4}},
			{adminA, "deprecated=true", []string{a2, a4}},
			{adminA, "deprecated=false", []string{a1, a3}},
			{adminA, "source=form&recipient=crm&deprecated=true", []string{a2}},
			{adminA, "source=other", nil},
			{adminA, "account_id=" + a, []string{a1, a2, a3, a4}},
			{adminA, "account_id=" + strings.ToUpper(bareID(a)), []string{a1, a2, a3, a4}},
			{adminA, "unknown=1&source=", []string{a1, a2, a3, a4}},
			{adminB, "", []string{b1}},
			{adminB, "source=form", []string{b1}},
			{e.super, "", []string{a1, a2, a3, a4, b1}},
			{e.super, "source=form", []string{a1, a2, b1}},
			{e.super, "account_id=" + a, []string{a1, a2, a3, a4}},
			{e.super, "account_id=" + bareID(b) + "&recipient=crm", []string{b1}},
			{e.super, "account_id=account_000000000000000000000000", nil},
		}
		for _, c := range cases {
			if got := entIDs(entListAll(t, e, c.key, c.query)); set(got) != set(c.want) {
				t.Fatalf("GET /v1/entities?%s: got %v, want %v", c.query, got, c.want)
			}
		}
		// The LeadConduit list filters the same way.
		bare := func(ids ...string) []string {
			out := make([]string, len(ids))
			for i, id := range ids {
				out[i] = bareID(id)
			}
			return out
		}
		if got := entIDs(entArray(t, mustStatus(t, entConduit(e, adminA, "GET", "/entities?recipient=crm", nil), 200))); set(got) != set(bare(a2, a4)) {
			t.Fatalf("conduit recipient=crm: %v", got)
		}
		if got := entIDs(entArray(t, mustStatus(t, entConduit(e, e.super, "GET", "/entities?source=form&account_id="+a, nil), 200))); set(got) != set(bare(a1, a2)) {
			t.Fatalf("conduit super source=form account_id: %v", got)
		}
		// Bad filter values are 422 at their query loc; another account's id is 403.
		wantProblems(t, e.as(adminA, "GET", "/v1/entities?source=web&recipient=seller&deprecated=maybe", nil),
			`["query","source"] enum`, `["query","recipient"] enum`, `["query","deprecated"] bool_parsing`)
		entWantConduitProblems(t, entConduit(e, adminA, "GET", "/entities?source=web", nil), `["query","source"] enum`)
		wantProblems(t, e.as(e.super, "GET", "/v1/entities?account_id=acct!", nil), `["query","account_id"] string_pattern_mismatch`)
		for _, q := range []string{b, bareID(b), "account_000000000000000000000000", "garbage!"} {
			wantError(t, e.as(adminA, "GET", "/v1/entities?account_id="+url.QueryEscape(q), nil), 403, "forbidden")
			entWantConduitError(t, entConduit(e, adminA, "GET", "/entities?account_id="+url.QueryEscape(q), nil), 403, "forbidden")
		}
		// limit is 1–100 on /v1.
		for _, l := range []string{"0", "101", "x", "-1"} {
			r := e.as(adminA, "GET", "/v1/entities?limit="+l, nil)
			if r.Status != 422 || !strings.Contains(string(r.Body), `["query","limit"]`) {
				t.Fatalf("limit=%s: %s", l, r)
			}
		}
		// A filtered walk keeps its filters in the cursor.
		r := mustStatus(t, e.as(adminA, "GET", "/v1/entities?limit=1&recipient=crm&sort=name:asc", nil), 200)
		first := entData(t, r)
		next := r.Obj()["pagination"].(map[string]any)["next_cursor"].(string)
		r2 := mustStatus(t, e.as(adminA, "GET", "/v1/entities?limit=1&cursor="+next, nil), 200)
		second := entData(t, r2)
		if len(first) != 1 || len(second) != 1 || first[0]["id"] != a2 || second[0]["id"] != a4 || r2.Obj()["pagination"].(map[string]any)["has_next"] != false {
			t.Fatalf("filtered walk: %v then %s", first, r2)
		}
		// Repeating the filters exactly is fine; other filters are a cursor_mismatch.
		mustStatus(t, e.as(adminA, "GET", "/v1/entities?limit=1&recipient=crm&cursor="+next, nil), 200)
		wantError(t, e.as(adminA, "GET", "/v1/entities?limit=1&recipient=buyer&cursor="+next, nil), 400, "cursor_mismatch")
		wantError(t, e.as(adminB, "GET", "/v1/entities?limit=1&cursor="+next, nil), 400, "cursor_mismatch")
	})
}

// entOrder sorts entities by a sort spec the way SPEC §6 says: the fields in order, bytewise,
// then id ascending.
func entOrder(items []map[string]any, spec string) []string {
	type key struct {
		field string
		desc  bool
	}
	var keys []key
	for _, term := range strings.Split(spec, ",") {
		f, dir, _ := strings.Cut(term, ":")
		keys = append(keys, key{f, dir == "desc"})
	}
	keys = append(keys, key{"id", false})
	out := append([]map[string]any(nil), items...)
	sort.SliceStable(out, func(i, j int) bool {
		for _, k := range keys {
			a, b := out[i][k.field].(string), out[j][k.field].(string)
			if a == b {
				continue
			}
			return (a < b) != k.desc
		}
		return false
	})
	return entIDs(out)
}

// entWalk walks a native entity list with limit 2 forward from the first page, then back from
// the last page, and returns the ids seen each way (the backward walk in list order).
func entWalk(t *testing.T, e *env, key string, query url.Values) (fwd, back []string) {
	t.Helper()
	page := func(q url.Values) ([]string, map[string]any) {
		t.Helper()
		r := mustStatus(t, e.as(key, "GET", "/v1/entities?"+q.Encode(), nil), 200)
		items := entData(t, r)
		pg := r.Obj()["pagination"].(map[string]any)
		if n, _ := pg["count"].(json.Number).Int64(); int(n) != len(items) || len(items) > 2 {
			t.Fatalf("count %v for %d items (limit 2): %s", pg["count"], len(items), r)
		}
		if (pg["next_cursor"] != nil) != (pg["has_next"] == true) || (pg["prev_cursor"] != nil) != (pg["has_prev"] == true) {
			t.Fatalf("cursors and has_* disagree: %v", pg)
		}
		return entIDs(items), pg
	}
	q := url.Values{"limit": {"2"}}
	for k, v := range query {
		q[k] = v
	}
	ids, pg := page(q)
	if pg["has_prev"] != false {
		t.Fatalf("first page has a previous page: %v", pg)
	}
	fwd = append(fwd, ids...)
	var last map[string]any
	for pg["has_next"] == true {
		if len(fwd) > 200 {
			t.Fatal("walk does not end")
		}
		ids, pg = page(url.Values{"limit": {"2"}, "cursor": {pg["next_cursor"].(string)}})
		if pg["has_prev"] != true {
			t.Fatalf("a later page has no previous page: %v", pg)
		}
		fwd = append(fwd, ids...)
	}
	last = pg
	back = ids
	for pg = last; pg["has_prev"] == true; {
		if len(back) > 200 {
			t.Fatal("backward walk does not end")
		}
		ids, pg = page(url.Values{"limit": {"2"}, "cursor": {pg["prev_cursor"].(string)}})
		if pg["has_next"] != true {
			t.Fatalf("a page walked back to has no next page: %v", pg)
		}
		back = append(append([]string(nil), ids...), back...)
	}
	return fwd, back
}

func TestEntitiesSortWalk(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		a := e.account("Entity Sort")["id"].(string)
		b := e.account("Entity Sort B")["id"].(string)
		admin := e.key(a, "admin")
		// Duplicate names, case and non-ASCII to test the tie-breaker and bytewise order.
		names := []string{"b", "B", "a", "b", "Zed", "éclair", "a", "_x", "b"}
		var ids []string
		for _, n := range names {
			ids = append(ids, entCreate(t, e, admin, entMin(n))["id"].(string))
		}
		entCreate(t, e, e.key(b, "admin"), entMin("not mine"))
		// Touch some in reverse order so updated_at differs from created_at order.
		for i := len(ids) - 1; i >= 0; i -= 2 {
			mustStatus(t, e.as(admin, "PATCH", "/v1/entities/"+ids[i], map[string]any{"description": fmt.Sprint("touch ", i)}), 200)
		}
		all := entListAll(t, e, admin, "")
		if len(all) != len(names) {
			t.Fatalf("want %d entities, got %d", len(names), len(all))
		}
		if got, want := entIDs(all), entOrder(all, "created_at:desc"); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("default order:\n got  %v\n want %v", got, want)
		}
		specs := []string{"", "id:asc", "id:desc", "name:asc", "name:desc", "created_at:asc", "created_at:desc",
			"updated_at:asc", "updated_at:desc", "name:asc,updated_at:desc", "name"}
		for _, spec := range specs {
			t.Run("sort="+spec, func(t *testing.T) {
				q := url.Values{}
				want := entOrder(all, "created_at:desc")
				if spec != "" {
					q.Set("sort", spec)
					s := spec
					if !strings.Contains(s, ":") {
						s += ":asc"
					}
					want = entOrder(all, s)
				}
				fwd, back := entWalk(t, e, admin, q)
				if strings.Join(fwd, ",") != strings.Join(want, ",") {
					t.Fatalf("forward walk:\n got  %v\n want %v", fwd, want)
				}
				if strings.Join(back, ",") != strings.Join(want, ",") {
					t.Fatalf("backward walk:\n got  %v\n want %v", back, want)
				}
			})
		}
		// The superadmin walks everything, each row once.
		fwd, back := entWalk(t, e, e.super, url.Values{"sort": {"name:desc"}})
		if len(fwd) != len(names)+1 || strings.Join(fwd, ",") != strings.Join(back, ",") {
			t.Fatalf("superadmin walk: %v / %v", fwd, back)
		}
		// Unknown fields and directions are invalid_sort.
		for _, s := range []string{"color:asc", "name:up", "source", "account_id", "name:asc,name:desc"} {
			wantError(t, e.as(admin, "GET", "/v1/entities?sort="+url.QueryEscape(s), nil), 400, "invalid_sort")
		}
		wantError(t, e.as(admin, "GET", "/v1/entities?cursor=garbage", nil), 400, "invalid_cursor")
	})
}
