package roster_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

const (
	flow1      = "5fd4371e940df5a34a3888b1"
	invitation = "5fd4371e940df5a34a3888ff"
)

// minimal is the smallest entity body: the required keys.
func minimal(name string) map[string]any {
	return map[string]any{"name": name, "module_ids": []any{}, "source": nil, "recipient": nil}
}

// full is an entity body with every writable field but see.
func full(name string) map[string]any {
	return map[string]any{"name": name, "module_ids": []any{"m1", "m2"}, "source": "seller", "recipient": "crm",
		"description": "words", "deprecated": true, "field_suffix": "Ab1", "invitation_id": invitation,
		"flow_ids": []any{flow1}, "logo_url": "https://example.com/logo.png", "website": "http://example.com/",
		"time_zone": "America/Los Angeles", "trustedform_certified_vendor": true}
}

func ptr(s string) *string { return &s }

// fullEntity is what full stores.
func fullEntity(name string) roster.Entity {
	return roster.Entity{Name: name, ModuleIDs: []string{"m1", "m2"}, Source: ptr("seller"), Recipient: ptr("crm"),
		Description: ptr("words"), Deprecated: true, FieldSuffix: ptr("Ab1"), InvitationID: ptr(invitation),
		FlowIDs: []string{flow1}, LogoURL: ptr("https://example.com/logo.png"), Website: ptr("http://example.com/"),
		TimeZone: ptr("America/Los Angeles"), TrustedFormCertifiedVendor: true}
}

// sameEntity fails the test when got is not want, ignoring what want leaves zero of id,
// account and timestamps.
func sameEntity(t *testing.T, got, want roster.Entity) {
	t.Helper()
	if want.ID == "" {
		want.ID = got.ID
	}
	if want.AccountID == "" {
		want.AccountID = got.AccountID
	}
	if want.CreatedAt.IsZero() {
		want.CreatedAt, want.UpdatedAt = got.CreatedAt, got.UpdatedAt
	}
	if want.ModuleIDs == nil {
		want.ModuleIDs = []string{}
	}
	if want.FlowIDs == nil {
		want.FlowIDs = []string{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("entity\n got  %s\n want %s", entityText(got), entityText(want))
	}
}

// wantStoredEntity fails the test when the stored entity, read by p, is not want.
func wantStoredEntity(t *testing.T, f *fixture, p roster.Principal, want roster.Entity) {
	t.Helper()
	stored, err := f.svc.Entity(f.ctx, p, want.ID)
	wantOutcome(t, err, success...)
	sameEntity(t, stored, want)
}

func entityText(e roster.Entity) string {
	var b strings.Builder
	v := reflect.ValueOf(e)
	for i := range v.NumField() {
		x := v.Field(i)
		if x.Kind() == reflect.Pointer && !x.IsNil() {
			x = x.Elem()
		}
		b.WriteString(v.Type().Field(i).Name + "=" + strings.TrimSpace(fmt.Sprint(x.Interface())) + " ")
	}
	return b.String()
}

// TestEntityValidation: every rule of an entity body (SPEC §8), each a 422 at its loc, all
// reported at once; a create and a PUT judge a body the same way and write nothing.
func TestEntityValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	acct := f.account("Entity Validation")
	admin := f.key(acct.ID, roster.RoleAdmin)
	foreign := f.entity(f.key(f.account("Elsewhere").ID, roster.RoleAdmin), minimal("Foreign"))
	mine := f.entity(admin, minimal("Mine"))
	m := minimal("V")
	for _, tc := range []struct {
		name string
		body any
		want []string
	}{
		{"empty object", map[string]any{}, []string{`["body","name"] missing`, `["body","module_ids"] missing`, `["body","source"] missing`, `["body","recipient"] missing`}},
		{"source and recipient keys required even when null", map[string]any{"name": "x", "module_ids": []any{}}, []string{`["body","source"] missing`, `["body","recipient"] missing`}},
		{"enums", with(m, "source", "web", "recipient", "seller"), []string{`["body","source"] enum`, `["body","recipient"] enum`}},
		{"enum types", with(m, "source", 1, "recipient", true), []string{`["body","source"] string_type`, `["body","recipient"] string_type`}},
		{"name empty", with(m, "name", ""), []string{`["body","name"] string_too_short`}},
		{"name of 201", with(m, "name", strings.Repeat("é", 201)), []string{`["body","name"] string_too_long`}},
		{"name null", with(m, "name", nil), []string{`["body","name"] string_type`}},
		{"module_ids not a list", with(m, "module_ids", "mod"), []string{`["body","module_ids"] list_type`}},
		{"module_ids null", with(m, "module_ids", nil), []string{`["body","module_ids"] list_type`}},
		{"module_ids items", with(m, "module_ids", []any{"ok", 3, nil}), []string{`["body","module_ids",1] string_type`, `["body","module_ids",2] string_type`}},
		{"module_ids item empty", with(m, "module_ids", []any{""}), []string{`["body","module_ids",0] string_too_short`}},
		{"module_ids item of 65", with(m, "module_ids", []any{"a", strings.Repeat("é", 65)}), []string{`["body","module_ids",1] string_too_long`}},
		{"module_ids of 51", with(m, "module_ids", strs(51, "m")), []string{`["body","module_ids"] too_long`}},
		{"module_ids of 51, items not judged", with(m, "module_ids", append(strs(50, "m"), 5)), []string{`["body","module_ids"] too_long`}},
		{"description of 5001", with(m, "description", strings.Repeat("d", 5001)), []string{`["body","description"] string_too_long`}},
		{"description a number", with(m, "description", 5), []string{`["body","description"] string_type`}},
		{"field_suffix of 2", with(m, "field_suffix", "ab"), []string{`["body","field_suffix"] string_too_short`}},
		{"field_suffix of 6", with(m, "field_suffix", "abcdef"), []string{`["body","field_suffix"] string_too_long`}},
		{"field_suffix pattern", with(m, "field_suffix", "ab_c"), []string{`["body","field_suffix"] string_pattern_mismatch`}},
		{"field_suffix accent", with(m, "field_suffix", "abcé"), []string{`["body","field_suffix"] string_pattern_mismatch`}},
		{"invitation_id", with(m, "invitation_id", "5fd4371e940df5a34a3888bz"), []string{`["body","invitation_id"] string_pattern_mismatch`}},
		{"invitation_id prefixed", with(m, "invitation_id", "entity_"+invitation), []string{`["body","invitation_id"] string_pattern_mismatch`}},
		{"flow_ids items", with(m, "flow_ids", []any{flow1, "nothex", flow1 + "0"}), []string{`["body","flow_ids",1] string_pattern_mismatch`, `["body","flow_ids",2] string_pattern_mismatch`}},
		{"flow_ids of 501", with(m, "flow_ids", strs(501, flow1)), []string{`["body","flow_ids"] too_long`}},
		{"flow_ids not a list", with(m, "flow_ids", flow1), []string{`["body","flow_ids"] list_type`}},
		{"logo_url javascript", with(m, "logo_url", "javascript:alert(1)"), []string{`["body","logo_url"] url_scheme`}},
		{"website ftp", with(m, "website", "ftp://x"), []string{`["body","website"] url_scheme`}},
		{"logo_url relative", with(m, "logo_url", "/relative/path.png"), []string{`["body","logo_url"] url_parsing`}},
		{"website without scheme", with(m, "website", "www.example.com"), []string{`["body","website"] url_parsing`}},
		{"website no host", with(m, "website", "https://"), []string{`["body","website"] url_parsing`}},
		{"logo_url of 2049", with(m, "logo_url", "https://example.com/"+strings.Repeat("a", 2029)), []string{`["body","logo_url"] string_too_long`}},
		{"time_zone unknown", with(m, "time_zone", "Mars/Olympus"), []string{`["body","time_zone"] value_error`}},
		{"time_zone Local", with(m, "time_zone", "Local"), []string{`["body","time_zone"] value_error`}},
		{"time_zone localtime", with(m, "time_zone", "localtime"), []string{`["body","time_zone"] value_error`}},
		{"time_zone posixrules", with(m, "time_zone", "posixrules"), []string{`["body","time_zone"] value_error`}},
		{"time_zone ./UTC", with(m, "time_zone", "./UTC"), []string{`["body","time_zone"] value_error`}},
		{"time_zone Etc//UTC", with(m, "time_zone", "Etc//UTC"), []string{`["body","time_zone"] value_error`}},
		{"time_zone a path", with(m, "time_zone", "../etc/passwd"), []string{`["body","time_zone"] value_error`}},
		{"booleans", with(m, "deprecated", "yes", "trustedform_certified_vendor", 1), []string{`["body","deprecated"] bool_type`, `["body","trustedform_certified_vendor"] bool_type`}},
		{"see without deprecated", with(m, "see", mine.ID), []string{`["body","see"] value_error`}},
		{"see with deprecated false", with(m, "see", mine.ID, "deprecated", false), []string{`["body","see"] value_error`}},
		{"see malformed", with(m, "see", "not an id", "deprecated", true), []string{`["body","see"] string_pattern_mismatch`}},
		{"see unknown", with(m, "see", strings.Repeat("0", 24), "deprecated", true), []string{`["body","see"] not_found`}},
		{"see well formed, names nothing", with(m, "see", "entity_xyz", "deprecated", true), []string{`["body","see"] not_found`}},
		{"see of another account", with(m, "see", "entity_"+foreign.ID, "deprecated", true), []string{`["body","see"] not_found`}},
		{"unknown fields", with(m, "color", "red", "Name", "x"), []string{`["body","color"] extra_forbidden`, `["body","Name"] extra_forbidden`}},
		{"a NUL", with(m, "description", "a\x00b"), []string{`["body","description"] string_nul`}},
		{"a lone surrogate", `{"name":"\ud800","module_ids":[],"source":null,"recipient":null}`, []string{`["body","name"] string_unicode`}},
		{"not an object", []any{m}, []string{`["body"] model_attributes_type`}},
		{"malformed JSON", `{"name": "x",`, []string{`["body",13] json_invalid`}},
		{"not UTF-8", "{\"name\":\"\xff\"}", []string{`["body",9] json_invalid`}},
		{"all problems at once", map[string]any{
			"name": "", "module_ids": []any{1}, "source": "web", "description": 5, "deprecated": false, "see": mine.ID,
			"field_suffix": "a-b", "invitation_id": "x", "flow_ids": []any{"y"}, "logo_url": "javascript:alert(1)",
			"website": "ftp://x", "time_zone": "Mars/Olympus", "trustedform_certified_vendor": "no", "extra": 1,
		}, []string{
			`["body","name"] string_too_short`, `["body","module_ids",0] string_type`, `["body","source"] enum`,
			`["body","recipient"] missing`, `["body","description"] string_type`, `["body","see"] value_error`,
			`["body","field_suffix"] string_pattern_mismatch`, `["body","invitation_id"] string_pattern_mismatch`,
			`["body","flow_ids",0] string_pattern_mismatch`, `["body","logo_url"] url_scheme`, `["body","website"] url_scheme`,
			`["body","time_zone"] value_error`, `["body","trustedform_certified_vendor"] bool_type`, `["body","extra"] extra_forbidden`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.CreateEntity(f.ctx, f.req(admin), jsonBody(tc.body))
			wantOutcome(t, err, tc.want...)
			_, err = f.svc.UpdateEntity(f.ctx, f.req(admin), mine.ID, jsonBody(tc.body), roster.EntityReplace)
			wantOutcome(t, err, tc.want...)
		})
	}
	page, err := f.svc.ListEntities(f.ctx, admin, roster.EntityListing, roster.PageRequest{Limit: 100, Filters: map[string]string{}})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("%d entities (%v) after the refused requests, want 1", len(page.Items), err)
	}
	sameEntity(t, page.Items[0], mine)
}

// strs is n copies of s, as a JSON list.
func strs(n int, s string) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// TestEntityCreate: what a create body stores: defaults for what it leaves out, every accepted
// form as sent, limits inclusive, see on a deprecated entity of the same account (SPEC §8).
func TestEntityCreate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	acct := f.account("Entity Create")
	admin := f.key(acct.ID, roster.RoleAdmin)
	target := f.entity(admin, minimal("Target"))
	m := minimal("V")
	long := func(n int) string { return strings.Repeat("é", n) }
	for _, tc := range []struct {
		name string
		body map[string]any
		want roster.Entity
	}{
		{"minimal: defaults", m, roster.Entity{Name: "V"}},
		{"every field", full("Full"), fullEntity("Full")},
		{"null for the nullable fields", with(m, "description", nil, "see", nil, "field_suffix", nil, "invitation_id", nil,
			"logo_url", nil, "website", nil, "time_zone", nil), roster.Entity{Name: "V"}},
		{"null for the fields that cannot be null", with(m, "deprecated", nil, "flow_ids", nil, "trustedform_certified_vendor", nil), roster.Entity{Name: "V"}},
		{"read-only fields ignored", with(m, "id", "entity_"+strings.Repeat("0", 24), "created_at", "yesterday", "updated_at", 7,
			"standard", true, "account", nil, "pending", "no", "connected", "both", "connected_account_id", "zz",
			"invitation_expires_at", "2025-11-07T00:00:00Z", "expired", true), roster.Entity{Name: "V"}},
		{"name of 200", with(m, "name", long(200)), roster.Entity{Name: long(200)}},
		{"description of 5000, and empty module id list", with(m, "description", strings.Repeat("d", 5000)), roster.Entity{Name: "V", Description: ptr(strings.Repeat("d", 5000))}},
		{"50 module ids of 64", with(m, "module_ids", strs(50, long(64))), roster.Entity{Name: "V", ModuleIDs: strings.Split(strings.TrimSuffix(strings.Repeat(long(64)+",", 50), ","), ",")}},
		{"500 flow ids", with(m, "flow_ids", strs(500, flow1)), roster.Entity{Name: "V", FlowIDs: strings.Split(strings.TrimSuffix(strings.Repeat(flow1+",", 500), ","), ",")}},
		{"URL of 2048", with(m, "logo_url", "https://example.com/"+strings.Repeat("a", 2028)), roster.Entity{Name: "V", LogoURL: ptr("https://example.com/" + strings.Repeat("a", 2028))}},
		{"upper-case scheme", with(m, "website", "HTTPS://example.com"), roster.Entity{Name: "V", Website: ptr("HTTPS://example.com")}},
		{"time zone with an underscore", with(m, "time_zone", "America/New_York"), roster.Entity{Name: "V", TimeZone: ptr("America/New_York")}},
		{"time zone UTC", with(m, "time_zone", "UTC"), roster.Entity{Name: "V", TimeZone: ptr("UTC")}},
		{"field suffix of 5", with(m, "field_suffix", "a1B2c"), roster.Entity{Name: "V", FieldSuffix: ptr("a1B2c")}},
		{"invitation kept as sent", with(m, "invitation_id", strings.ToUpper(invitation)), roster.Entity{Name: "V", InvitationID: ptr(strings.ToUpper(invitation))}},
		{"deprecated without see", with(m, "deprecated", true), roster.Entity{Name: "V", Deprecated: true}},
		{"see, prefixed", with(m, "deprecated", true, "see", "entity_"+target.ID), roster.Entity{Name: "V", Deprecated: true, See: ptr(target.ID)}},
		{"see, bare upper-case", with(m, "deprecated", true, "see", strings.ToUpper(target.ID)), roster.Entity{Name: "V", Deprecated: true, See: ptr(target.ID)}},
		{"see null", with(m, "deprecated", true, "see", nil), roster.Entity{Name: "V", Deprecated: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := f.svc.CreateEntity(f.ctx, f.req(admin), jsonBody(tc.body))
			wantOutcome(t, err, success...)
			want := tc.want
			want.AccountID = acct.ID
			sameEntity(t, e, want)
			if !e.CreatedAt.Equal(e.UpdatedAt) || e.Pending() != (e.InvitationID != nil) {
				t.Fatalf("timestamps or pending: %+v", e)
			}
			wantStoredEntity(t, f, admin, e)
		})
	}
}

// TestEntityAccount: the account of a new entity: an account key's own is implied, and naming
// another (or a malformed id) is 403 with no existence oracle; a superadmin must name a live one
// (SPEC §3, §8).
func TestEntityAccount(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, b := f.account("Owner A"), f.account("Owner B")
	gone := f.account("Owner Gone")
	f.patchAccount(gone.ID, map[string]any{"deleted": true})
	admin := f.key(a.ID, roster.RoleAdmin)
	m := minimal("E")
	for _, tc := range []struct {
		name    string
		p       roster.Principal
		body    any
		want    []string
		account string
	}{
		{"admin, implied", admin, m, success, a.ID},
		{"admin, its own prefixed", admin, with(m, "account_id", "account_"+a.ID), success, a.ID},
		{"admin, its own bare upper-case", admin, with(m, "account_id", strings.ToUpper(a.ID)), success, a.ID},
		{"admin, null", admin, with(m, "account_id", nil), success, a.ID},
		{"admin, another", admin, with(m, "account_id", b.ID), refused(roster.CodeForbidden), ""},
		{"admin, unknown", admin, with(m, "account_id", unknownAccount), refused(roster.CodeForbidden), ""},
		{"admin, names nothing", admin, with(m, "account_id", "account_nope"), refused(roster.CodeForbidden), ""},
		{"admin, malformed", admin, with(m, "account_id", "garbage!"), refused(roster.CodeForbidden), ""},
		{"admin, empty", admin, with(m, "account_id", ""), refused(roster.CodeForbidden), ""},
		{"admin, another, with a bad body: 403 first", admin, with(m, "account_id", b.ID, "name", ""), refused(roster.CodeForbidden), ""},
		{"superadmin, named", f.super, with(m, "account_id", b.ID), success, b.ID},
		{"superadmin, bare upper-case", f.super, with(m, "account_id", strings.ToUpper(b.ID)), success, b.ID},
		{"superadmin, missing", f.super, m, []string{`["body","account_id"] missing`}, ""},
		{"superadmin, null", f.super, with(m, "account_id", nil), []string{`["body","account_id"] missing`}, ""},
		{"superadmin, a number", f.super, with(m, "account_id", 5), []string{`["body","account_id"] string_type`}, ""},
		{"superadmin, malformed", f.super, with(m, "account_id", "acct-1"), []string{`["body","account_id"] string_pattern_mismatch`}, ""},
		{"superadmin, missing and a bad body", f.super, map[string]any{"name": ""},
			[]string{`["body","account_id"] missing`, `["body","name"] string_too_short`, `["body","module_ids"] missing`, `["body","source"] missing`, `["body","recipient"] missing`}, ""},
		{"superadmin, not an object", f.super, []any{1}, []string{`["body"] model_attributes_type`}, ""},
		{"superadmin, unknown", f.super, with(m, "account_id", unknownAccount), []string{`["body","account_id"] not_found`}, ""},
		{"superadmin, names nothing", f.super, with(m, "account_id", "account_nothex"), []string{`["body","account_id"] not_found`}, ""},
		{"superadmin, deleted", f.super, with(m, "account_id", gone.ID), []string{`["body","account_id"] not_found`}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := f.svc.CreateEntity(f.ctx, f.req(tc.p), jsonBody(tc.body))
			wantOutcome(t, err, tc.want...)
			if err == nil && e.AccountID != tc.account {
				t.Fatalf("account %s, want %s", e.AccountID, tc.account)
			}
		})
	}
}

// TestEntityUpdate: PUT replaces every writable field (what it omits returns to its default),
// PATCH changes only what it gives, null clears what can be null and means "not given" for the
// rest; see is judged against the stored entity; updated_at moves on a change only (SPEC §5, §8).
func TestEntityUpdate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	acct := f.account("Entity Updates")
	admin := f.key(acct.ID, roster.RoleAdmin)
	other := f.entity(admin, minimal("Other"))
	foreign := f.entity(f.key(f.account("Other Tenant").ID, roster.RoleAdmin), minimal("Foreign"))
	start := with(full("Full"), "see", other.ID)
	started := fullEntity("Full")
	started.See = ptr(other.ID)
	put, patchMode := roster.EntityReplace, roster.EntityPatch
	for _, tc := range []struct {
		name  string
		mode  roster.EntityMode
		body  any
		want  []string
		after func(e *roster.Entity) // the entity after, from started; nil: unchanged
	}{
		{"PUT replaces", put, map[string]any{"name": "Replaced", "module_ids": []any{"m"}, "source": nil, "recipient": "esp"}, success,
			func(e *roster.Entity) {
				*e = roster.Entity{Name: "Replaced", ModuleIDs: []string{"m"}, Recipient: ptr("esp")}
			}},
		{"PUT, null for the fields that cannot be null: their defaults", put,
			with(full("Full"), "see", nil, "deprecated", nil, "flow_ids", nil, "trustedform_certified_vendor", nil), success,
			func(e *roster.Entity) {
				e.See, e.Deprecated, e.FlowIDs, e.TrustedFormCertifiedVendor = nil, false, []string{}, false
			}},
		{"PUT needs the required keys", put, map[string]any{"description": "d"},
			[]string{`["body","name"] missing`, `["body","module_ids"] missing`, `["body","source"] missing`, `["body","recipient"] missing`}, nil},
		{"PUT of what was read", put, start, success, nil},
		{"PUT may not name itself in see", put, with(minimal("Self"), "deprecated", true, "see", "%self"), []string{`["body","see"] not_found`}, nil},
		{"PUT, see without deprecated", put, with(start, "deprecated", false), []string{`["body","see"] value_error`}, nil},
		{"PATCH changes what it gives", patchMode, map[string]any{"description": "new words", "module_ids": []any{"z"}}, success,
			func(e *roster.Entity) { e.Description, e.ModuleIDs = ptr("new words"), []string{"z"} }},
		{"PATCH, empty", patchMode, map[string]any{}, success, nil},
		{"PATCH, the same values", patchMode, map[string]any{"description": "words", "name": "Full"}, success, nil},
		{"PATCH, null for the fields that cannot be null", patchMode,
			map[string]any{"name": nil, "module_ids": nil, "deprecated": nil, "flow_ids": nil, "trustedform_certified_vendor": nil}, success, nil},
		{"PATCH, null clears", patchMode, map[string]any{"source": nil, "recipient": nil, "description": nil, "see": nil, "field_suffix": nil,
			"invitation_id": nil, "logo_url": nil, "website": nil, "time_zone": nil}, success,
			func(e *roster.Entity) {
				e.Source, e.Recipient, e.Description, e.See, e.FieldSuffix, e.InvitationID, e.LogoURL, e.Website, e.TimeZone = nil, nil, nil, nil, nil, nil, nil, nil, nil
			}},
		{"PATCH, read-only fields and account_id ignored", patchMode, map[string]any{"account_id": unknownAccount, "id": "x", "pending": 3}, success, nil},
		{"PATCH validates what it gives", patchMode, map[string]any{"name": "", "source": "web", "time_zone": "Mars/Olympus", "bogus": 1},
			[]string{`["body","name"] string_too_short`, `["body","source"] enum`, `["body","time_zone"] value_error`, `["body","bogus"] extra_forbidden`}, nil},
		{"PATCH, not deprecated while see is set", patchMode, map[string]any{"deprecated": false}, []string{`["body","see"] value_error`}, nil},
		{"PATCH, not deprecated and no see", patchMode, map[string]any{"deprecated": false, "see": nil}, success,
			func(e *roster.Entity) { e.Deprecated, e.See = false, nil }},
		{"PATCH, see to itself", patchMode, map[string]any{"see": "%self"}, []string{`["body","see"] not_found`}, nil},
		{"PATCH, see to another tenant's", patchMode, map[string]any{"see": foreign.ID}, []string{`["body","see"] not_found`}, nil},
		{"PATCH, see to a bare upper-case id", patchMode, map[string]any{"see": "%target"}, success, func(e *roster.Entity) { e.See = ptr("%target") }},
		{"PATCH, a NUL", patchMode, map[string]any{"name": "a\x00"}, []string{`["body","name"] string_nul`}, nil},
		{"PATCH, no body", patchMode, nil, []string{`["body"] missing`}, nil},
		{"PATCH, malformed id", patchMode, map[string]any{"name": "y"}, []string{`["path","id"] string_pattern_mismatch`}, nil},
		{"PATCH, malformed id and a bad body", patchMode, map[string]any{"name": ""}, []string{`["path","id"] string_pattern_mismatch`, `["body","name"] string_too_short`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := f.entity(admin, start)
			target := f.entity(admin, minimal("Target"))
			id := "entity_" + e.ID
			if strings.Contains(tc.name, "malformed id") {
				id = "entity_ no"
			}
			fill := strings.NewReplacer("%self", e.ID, "%target", strings.ToUpper(target.ID))
			f.advance(time.Second)
			got, err := f.svc.UpdateEntity(f.ctx, f.req(admin), id, requestBody(tc.body, fill), tc.mode)
			wantOutcome(t, err, tc.want...)
			want := e
			if tc.after != nil {
				want = started
				tc.after(&want)
				if want.See != nil {
					want.See = ptr(strings.ToLower(fill.Replace(*want.See)))
				}
				want.ID, want.AccountID, want.CreatedAt, want.UpdatedAt = e.ID, e.AccountID, e.CreatedAt, f.clock()
			}
			if err == nil {
				sameEntity(t, got, want)
			}
			wantStoredEntity(t, f, admin, want)
		})
	}
}

// TestEntitySeeKept: a see kept as it was, on an entity still deprecated, is not judged again:
// the entity it names may be gone, and a write that leaves see alone must not fail for it.
func TestEntitySeeKept(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin := f.key(f.account("See Kept").ID, roster.RoleAdmin)
	target := f.entity(admin, minimal("Target"))
	e := f.entity(admin, with(minimal("Pointer"), "deprecated", true, "see", target.ID))
	if _, err := f.svc.DeleteEntity(f.ctx, f.req(admin), target.ID); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		mode roster.EntityMode
		body map[string]any
		want []string
	}{
		{"PATCH of another field", roster.EntityPatch, map[string]any{"description": "still here"}, success},
		{"PATCH repeating see", roster.EntityPatch, map[string]any{"see": strings.ToUpper(target.ID)}, success},
		{"PUT of what was read", roster.EntityReplace, with(minimal("Pointer"), "deprecated", true, "see", target.ID), success},
		{"PUT without deprecated", roster.EntityReplace, with(minimal("Pointer"), "see", target.ID), []string{`["body","see"] value_error`}},
		{"PATCH no longer deprecated", roster.EntityPatch, map[string]any{"deprecated": false}, []string{`["body","see"] value_error`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.UpdateEntity(f.ctx, f.req(admin), e.ID, jsonBody(tc.body), tc.mode)
			wantOutcome(t, err, tc.want...)
		})
	}
	// A new entity may not name it.
	_, err := f.svc.CreateEntity(f.ctx, f.req(admin), jsonBody(with(minimal("New"), "deprecated", true, "see", target.ID)))
	wantOutcome(t, err, `["body","see"] not_found`)
}

// TestEntityTenancy: another tenant's entity, named by its id in any form, is 404 for every
// operation; a malformed id is 422; a superadmin reaches every account's (SPEC §2, §3).
func TestEntityTenancy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	adminA := f.key(f.account("Tenant A").ID, roster.RoleAdmin)
	readerA := f.key(adminA.AccountID, roster.RoleReader)
	adminB := f.key(f.account("Tenant B").ID, roster.RoleAdmin)
	mine := f.entity(adminA, minimal("Mine"))
	theirs := f.entity(adminB, minimal("Theirs"))
	type op func(p roster.Principal, id string) error
	read := func(p roster.Principal, id string) error { _, err := f.svc.Entity(f.ctx, p, id); return err }
	put := func(p roster.Principal, id string) error {
		_, err := f.svc.UpdateEntity(f.ctx, f.req(p), id, jsonBody(minimal("Put")), roster.EntityReplace)
		return err
	}
	patch := func(p roster.Principal, id string) error {
		_, err := f.svc.UpdateEntity(f.ctx, f.req(p), id, []byte(`{"description":"x"}`), roster.EntityPatch)
		return err
	}
	del := func(p roster.Principal, id string) error {
		_, err := f.svc.DeleteEntity(f.ctx, f.req(p), id)
		return err
	}
	rels := func(p roster.Principal, id string) error {
		_, err := f.svc.EntityRelationships(f.ctx, p, id, roster.PageRequest{Limit: 10, Filters: map[string]string{}})
		return err
	}
	ops := map[string]op{"read": read, "PUT": put, "PATCH": patch, "relationships": rels}
	for _, tc := range []struct {
		name string
		p    roster.Principal
		id   string
		want []string
	}{
		{"own", adminA, "entity_" + mine.ID, success},
		{"own, bare upper-case", adminA, strings.ToUpper(mine.ID), success},
		{"another tenant's", adminA, "entity_" + theirs.ID, refused(roster.CodeNotFound)},
		{"another tenant's, bare", adminA, theirs.ID, refused(roster.CodeNotFound)},
		{"unknown", adminA, strings.Repeat("0", 24), refused(roster.CodeNotFound)},
		{"well formed, names nothing", adminA, "entity_xyz", refused(roster.CodeNotFound)},
		{"malformed", adminA, "entity_a b", []string{`["path","id"] string_pattern_mismatch`}},
		{"another prefix", adminA, "account_" + mine.ID, []string{`["path","id"] string_pattern_mismatch`}},
		{"superadmin, any account's", f.super, theirs.ID, success},
	} {
		for name, do := range ops {
			t.Run(tc.name+"/"+name, func(t *testing.T) { wantOutcome(t, do(tc.p, tc.id), tc.want...) })
		}
	}
	// A reader reads; its writes are the route's to refuse (Writer), not the operation's.
	wantOutcome(t, read(readerA, mine.ID), success...)
	// Deletion: the entity as it was, then 404; another tenant's is 404 and stays.
	wantOutcome(t, del(adminA, theirs.ID), refused(roster.CodeNotFound)...)
	wantOutcome(t, read(adminB, theirs.ID), success...)
	gone, err := f.svc.DeleteEntity(f.ctx, f.req(adminA), mine.ID)
	wantOutcome(t, err, success...)
	if gone.ID != mine.ID || gone.Name != "Put" {
		t.Fatalf("deleted %+v, want the entity as it was", gone)
	}
	for _, do := range ops {
		wantOutcome(t, do(adminA, mine.ID), refused(roster.CodeNotFound)...)
	}
	wantOutcome(t, del(adminA, mine.ID), refused(roster.CodeNotFound)...)
}
