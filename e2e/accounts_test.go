package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// stampOf parses a timestamp field of an object.
func stampOf(t *testing.T, m map[string]any, k string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, str(m, k))
	if err != nil {
		t.Fatalf("%s: %v in %v", k, err, m)
	}
	if _, off := v.Zone(); off != 0 || !strings.HasSuffix(str(m, k), "Z") {
		t.Fatalf("%s is not UTC: %v", k, m)
	}
	return v
}

// TestAccountsCreate: 201 with the full account, name trimmed, slug given or derived (SPEC §7).
func TestAccountsCreate(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		for _, tc := range []struct {
			name string
			body map[string]any
			want obj // without id and timestamps
		}{
			{"derived", map[string]any{"name": "Acme Corp!"}, obj{"name": "Acme Corp!", "slug": "acme-corp"}},
			{"accents folded", map[string]any{"name": "Café Déjà Vu"}, obj{"name": "Café Déjà Vu", "slug": "cafe-deja-vu"}},
			{"more accents", map[string]any{"name": "Crème brûlée Ltd"}, obj{"name": "Crème brûlée Ltd", "slug": "creme-brulee-ltd"}},
			{"upper-case accents", map[string]any{"name": "ÅNGSTRÖM Labs"}, obj{"name": "ÅNGSTRÖM Labs", "slug": "angstrom-labs"}},
			{"more diacritics", map[string]any{"name": "Ünïcödé Ñame"}, obj{"name": "Ünïcödé Ñame", "slug": "unicode-name"}},
			{"compatibility forms", map[string]any{"name": "ＷＩＤＥ ﬁnance"}, obj{"name": "ＷＩＤＥ ﬁnance", "slug": "wide-finance"}},
			{"letters without a plain form separate", map[string]any{"name": "Rock日本Roll"}, obj{"name": "Rock日本Roll", "slug": "rock-roll"}},
			{"leading letters without a plain form", map[string]any{"name": "日本 Trading"}, obj{"name": "日本 Trading", "slug": "trading"}},
			{"name trimmed, runs collapsed", map[string]any{"name": "  Spaced   Out  "}, obj{"name": "Spaced   Out", "slug": "spaced-out"}},
			{"tabs and newlines trimmed", map[string]any{"name": "\tTabbed\nName \n"}, obj{"name": "Tabbed\nName", "slug": "tabbed-name"}},
			{"punctuation runs", map[string]any{"name": "O'Reilly & Sons, Inc."}, obj{"name": "O'Reilly & Sons, Inc.", "slug": "o-reilly-sons-inc"}},
			{"leading and trailing separators", map[string]any{"name": "__Under__score__"}, obj{"name": "__Under__score__", "slug": "under-score"}},
			{"digits", map[string]any{"name": "123 Go"}, obj{"name": "123 Go", "slug": "123-go"}},
			{"long name cut at a dash", map[string]any{"name": strings.TrimSpace(strings.Repeat("abcdefghij ", 9))},
				obj{"name": strings.TrimSpace(strings.Repeat("abcdefghij ", 9)), "slug": "abcdefghij-abcdefghij-abcdefghij-abcdefghij"}},
			{"long name, dash right after 50", map[string]any{"name": strings.Repeat("x", 24) + " " + strings.Repeat("y", 25) + " zz"},
				obj{"name": strings.Repeat("x", 24) + " " + strings.Repeat("y", 25) + " zz", "slug": strings.Repeat("x", 24) + "-" + strings.Repeat("y", 25)}},
			{"long name, dash at 50", map[string]any{"name": strings.Repeat("q", 49) + " rrr"},
				obj{"name": strings.Repeat("q", 49) + " rrr", "slug": strings.Repeat("q", 49)}},
			{"long name without a dash", map[string]any{"name": strings.Repeat("w", 60)}, obj{"name": strings.Repeat("w", 60), "slug": strings.Repeat("w", 50)}},
			{"name of 2", map[string]any{"name": "ab"}, obj{"name": "ab", "slug": "ab"}},
			{"name of 100", map[string]any{"name": strings.Repeat("N", 100)}, obj{"name": strings.Repeat("N", 100), "slug": strings.Repeat("n", 50)}},
			{"name of 100 characters, 200 bytes", map[string]any{"name": strings.Repeat("é", 100)}, obj{"name": strings.Repeat("é", 100), "slug": strings.Repeat("e", 50)}},
			{"name of 100 after trimming", map[string]any{"name": "  " + strings.Repeat("m", 100) + "  "}, obj{"name": strings.Repeat("m", 100), "slug": strings.Repeat("m", 50)}},
			{"name of 2 characters, 4 bytes", map[string]any{"name": "Éé"}, obj{"name": "Éé", "slug": "ee"}},
			{"slug given", map[string]any{"name": "Given Slug", "slug": "a1-b2-c3"}, obj{"name": "Given Slug", "slug": "a1-b2-c3"}},
			{"slug null is derived", map[string]any{"name": "Null Slug", "slug": nil}, obj{"name": "Null Slug", "slug": "null-slug"}},
			{"slug of 2", map[string]any{"name": "Short Slug", "slug": "zz"}, obj{"name": "Short Slug", "slug": "zz"}},
			{"slug of 50", map[string]any{"name": "Long Slug", "slug": strings.Repeat("s", 25) + "-" + strings.Repeat("t", 24)},
				obj{"name": "Long Slug", "slug": strings.Repeat("s", 25) + "-" + strings.Repeat("t", 24)}},
			{"slug that differs from the name", map[string]any{"name": "Acme Corp!", "slug": "acme-corp-2"}, obj{"name": "Acme Corp!", "slug": "acme-corp-2"}},
			{"read-only fields are ignored", map[string]any{"name": "Echo Co", "id": "account_" + strings.Repeat("0", 24), "created_at": "1999-01-01T00:00:00Z", "updated_at": 5},
				obj{"name": "Echo Co", "slug": "echo-co"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := e.forT(t)
				before := time.Now().UTC().Add(-time.Second)
				r := e.as(e.super, "POST", "/v1/accounts", tc.body)
				want := obj{"id": accountID, "status": "active", "created_at": anyStamp, "updated_at": anyStamp}
				for k, v := range tc.want {
					want[k] = v
				}
				wantBody(t, r, 201, want)
				a := r.Obj()
				if str(a, "id") == "account_"+strings.Repeat("0", 24) {
					t.Fatalf("the id was taken from the body: %s", r)
				}
				created, updated := stampOf(t, a, "created_at"), stampOf(t, a, "updated_at")
				if !created.Equal(updated) || created.Before(before) || created.After(time.Now().Add(time.Second)) {
					t.Fatalf("timestamps: %s", r)
				}
				// What was created is what is read back, by both id forms.
				wantBody(t, e.as(e.super, "GET", "/v1/accounts/"+str(a, "id"), nil), 200, obj(a))
				wantBody(t, e.as(e.super, "GET", "/v1/accounts/"+strings.TrimPrefix(str(a, "id"), "account_"), nil), 200, obj(a))
			})
		}
	})
}

// TestAccountsCreateValidation: every rule of a create body, each a 422 at its loc, nothing
// created.
func TestAccountsCreateValidation(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		for _, tc := range []struct {
			name string
			body any
			want []string
		}{
			{"name missing", map[string]any{}, []string{`["body","name"] missing`}},
			{"name null", map[string]any{"name": nil}, []string{`["body","name"] string_type`}},
			{"name a number", map[string]any{"name": 5}, []string{`["body","name"] string_type`}},
			{"name a bool", map[string]any{"name": true}, []string{`["body","name"] string_type`}},
			{"name an object", map[string]any{"name": map[string]any{}}, []string{`["body","name"] string_type`}},
			{"name empty", map[string]any{"name": ""}, []string{`["body","name"] string_too_short`}},
			{"name blank", map[string]any{"name": "     "}, []string{`["body","name"] string_too_short`}},
			{"name of 1", map[string]any{"name": "a"}, []string{`["body","name"] string_too_short`}},
			{"name of 1 after trimming", map[string]any{"name": "   a   "}, []string{`["body","name"] string_too_short`}},
			{"name of 101", map[string]any{"name": strings.Repeat("n", 101)}, []string{`["body","name"] string_too_long`}},
			{"name of 101 characters", map[string]any{"name": strings.Repeat("é", 101)}, []string{`["body","name"] string_too_long`}},
			{"derived slug empty", map[string]any{"name": "!!"}, []string{`["body","slug"] string_too_short`}},
			{"derived slug of 1", map[string]any{"name": "A!"}, []string{`["body","slug"] string_too_short`}},
			{"derived slug of 1 again", map[string]any{"name": "¡É!"}, []string{`["body","slug"] string_too_short`}},
			{"derived slug from letters without a plain form", map[string]any{"name": "日本"}, []string{`["body","slug"] string_too_short`}},
			{"derived slug, slug null", map[string]any{"name": "??", "slug": nil}, []string{`["body","slug"] string_too_short`}},
			{"slug empty", map[string]any{"name": "Valid Name", "slug": ""}, []string{`["body","slug"] string_too_short`}},
			{"slug of 1", map[string]any{"name": "Valid Name", "slug": "a"}, []string{`["body","slug"] string_too_short`}},
			{"slug of 51", map[string]any{"name": "Valid Name", "slug": strings.Repeat("s", 51)}, []string{`["body","slug"] string_too_long`}},
			{"slug a number", map[string]any{"name": "Valid Name", "slug": 12}, []string{`["body","slug"] string_type`}},
			{"slug upper case", map[string]any{"name": "Valid Name", "slug": "Abc"}, []string{`["body","slug"] string_pattern_mismatch`}},
			{"slug double dash", map[string]any{"name": "Valid Name", "slug": "a--b"}, []string{`["body","slug"] string_pattern_mismatch`}},
			{"slug leading dash", map[string]any{"name": "Valid Name", "slug": "-ab"}, []string{`["body","slug"] string_pattern_mismatch`}},
			{"slug trailing dash", map[string]any{"name": "Valid Name", "slug": "ab-"}, []string{`["body","slug"] string_pattern_mismatch`}},
			{"slug underscore", map[string]any{"name": "Valid Name", "slug": "a_b"}, []string{`["body","slug"] string_pattern_mismatch`}},
			{"slug space", map[string]any{"name": "Valid Name", "slug": "a b"}, []string{`["body","slug"] string_pattern_mismatch`}},
			{"slug newline", map[string]any{"name": "Valid Name", "slug": "ab\n"}, []string{`["body","slug"] string_pattern_mismatch`}},
			{"slug accent", map[string]any{"name": "Valid Name", "slug": "café"}, []string{`["body","slug"] string_pattern_mismatch`}},
			{"slug dot", map[string]any{"name": "Valid Name", "slug": "ab.c"}, []string{`["body","slug"] string_pattern_mismatch`}},
			{"name and slug", map[string]any{"name": "x", "slug": "A"}, []string{`["body","name"] string_too_short`, `["body","slug"] string_too_short`}},
			{"bad name, no slug problem", map[string]any{"name": "a", "slug": nil}, []string{`["body","name"] string_too_short`}},
			{"extra field", map[string]any{"name": "Valid Name", "extra": 1}, []string{`["body","extra"] extra_forbidden`}},
			{"extra fields", map[string]any{"name": "Valid Name", "Name": "x", "deleted_at": nil}, []string{`["body","Name"] extra_forbidden`, `["body","deleted_at"] extra_forbidden`}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := e.forT(t)
				wantProblems(t, e.as(e.super, "POST", "/v1/accounts", tc.body), tc.want...)
			})
		}
		// One exact body, to hold the shape: detail is a list of {loc, msg, type}.
		wantBody(t, e.as(e.super, "POST", "/v1/accounts", map[string]any{}), 422,
			obj{"detail": arr{obj{"loc": arr{"body", "name"}, "msg": anyText, "type": "missing"}}})
		wantBody(t, e.as(e.super, "GET", "/v1/accounts", nil), 200, obj{"data": arr{},
			"pagination": obj{"count": 0, "has_next": false, "has_prev": false, "next_cursor": nil, "prev_cursor": nil}})
	})
}

// TestAccountsSlugTaken: a slug, given or derived, is unique among accounts not deleted.
func TestAccountsSlugTaken(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		owner := e.must(e.as(e.super, "POST", "/v1/accounts", map[string]any{"name": "First Owner", "slug": "taken"}), 201).Obj()
		other := e.account("Other Owner")
		for _, body := range []map[string]any{
			{"name": "Second Owner", "slug": "taken"},
			{"name": "Taken"},
			{"name": " TAKEN!! "},
			{"name": "Tâkén"},
		} {
			wantNative(t, e.as(e.super, "POST", "/v1/accounts", body), 409, "slug_taken")
		}
		wantNative(t, e.as(e.super, "PATCH", "/v1/accounts/"+str(other, "id"), map[string]any{"slug": "taken"}), 409, "slug_taken")
		admin := e.key(str(other, "id"), roster.RoleAdmin)
		wantNative(t, e.as(admin, "PATCH", "/v1/accounts/"+str(other, "id"), map[string]any{"name": "Renamed Other", "slug": "taken"}), 409, "slug_taken")
		// Nothing was written by the refused requests.
		wantBody(t, e.as(e.super, "GET", "/v1/accounts/"+str(other, "id"), nil), 200, obj(other))
		sameIDSet(t, ids(t, e.must(e.as(e.super, "GET", "/v1/accounts", nil), 200)), []string{str(owner, "id"), str(other, "id")})
		// Its own slug is not a conflict.
		wantBody(t, e.as(e.super, "PATCH", "/v1/accounts/"+str(owner, "id"), map[string]any{"slug": "taken"}), 200, obj(owner))
		// Renaming frees the old slug.
		e.must(e.as(e.super, "PATCH", "/v1/accounts/"+str(owner, "id"), map[string]any{"slug": "was-taken"}), 200)
		wantBody(t, e.as(e.super, "POST", "/v1/accounts", map[string]any{"name": "Taken"}), 201, accountBody(accountID, "Taken", "taken", "active"))
		wantNative(t, e.as(e.super, "POST", "/v1/accounts", map[string]any{"name": "Was Taken"}), 409, "slug_taken")
	})
}

// TestAccountsGet: an account is read by its prefixed or bare id, the hex in any case.
func TestAccountsGet(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := e.account("Get Me")
		id := str(a, "id")
		hex := strings.TrimPrefix(id, "account_")
		reader := e.key(id, roster.RoleReader)
		for _, form := range []string{id, hex, strings.ToUpper(hex), "account_" + strings.ToUpper(hex), hex[:12] + strings.ToUpper(hex[12:])} {
			t.Run(form, func(t *testing.T) {
				e := e.forT(t)
				wantBody(t, e.as(e.super, "GET", "/v1/accounts/"+form, nil), 200, obj(a))
				wantBody(t, e.as(reader, "GET", "/v1/accounts/"+form, nil), 200, obj(a))
			})
		}
		// The prefix itself is case-sensitive, as the documented pattern is.
		wantProblems(t, e.as(e.super, "GET", "/v1/accounts/ACCOUNT_"+hex, nil), `["path","account_id"] string_pattern_mismatch`)
	})
}

// TestAccountsPatch: name, slug and status change; updated_at moves on every change and only
// then; created_at never moves.
func TestAccountsPatch(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := e.account("Patch Me")
		id := str(a, "id")
		created := str(a, "created_at")
		last := a
		step := func(body any, want obj, moves bool) {
			t.Helper()
			r := e.as(e.super, "PATCH", "/v1/accounts/"+id, body)
			wantBody(t, r, 200, want)
			got := r.Obj()
			if str(got, "created_at") != created {
				t.Fatalf("created_at moved: %s", r)
			}
			switch {
			case moves && !stampOf(t, got, "updated_at").After(stampOf(t, last, "updated_at")):
				t.Fatalf("updated_at did not move: was %s, now %s", str(last, "updated_at"), r)
			case !moves && str(got, "updated_at") != str(last, "updated_at"):
				t.Fatalf("updated_at moved without a change: was %s, now %s", str(last, "updated_at"), r)
			}
			wantBody(t, e.as(e.super, "GET", "/v1/accounts/"+id, nil), 200, obj(got))
			last = got
		}
		body := func(name, slug, status string) obj {
			return obj{"id": id, "name": name, "slug": slug, "status": status, "created_at": created, "updated_at": anyStamp}
		}
		step(map[string]any{"name": "  Patched  "}, body("Patched", "patch-me", "active"), true)
		step(map[string]any{"slug": "patched"}, body("Patched", "patched", "active"), true)
		step(map[string]any{"status": "suspended"}, body("Patched", "patched", "suspended"), true)
		step(map[string]any{"status": "active", "name": "Patched Again", "slug": "patched-again"}, body("Patched Again", "patched-again", "active"), true)
		// No change: no move.
		step(map[string]any{}, body("Patched Again", "patched-again", "active"), false)
		step(map[string]any{"name": "Patched Again", "slug": "patched-again", "status": "active"}, body("Patched Again", "patched-again", "active"), false)
		step(map[string]any{"name": " Patched Again "}, body("Patched Again", "patched-again", "active"), false)
		step(map[string]any{"name": nil, "slug": nil, "status": nil, "deleted": nil}, body("Patched Again", "patched-again", "active"), false)
		step(map[string]any{"deleted": false}, body("Patched Again", "patched-again", "active"), false)
		// Read-only fields are accepted and ignored, whatever their value; a client may send
		// back what it read.
		step(map[string]any(last), body("Patched Again", "patched-again", "active"), false)
		step(map[string]any{"id": "account_" + strings.Repeat("1", 24), "created_at": "2000-01-01T00:00:00Z", "updated_at": 7},
			body("Patched Again", "patched-again", "active"), false)
		readBack := map[string]any{}
		for k, v := range last {
			readBack[k] = v
		}
		readBack["name"] = "Patched From Read"
		step(readBack, body("Patched From Read", "patched-again", "active"), true)
		// An admin sends back what it read, status included: not a change, so not a 403.
		admin := e.key(id, roster.RoleAdmin)
		readBack = map[string]any{}
		for k, v := range last {
			readBack[k] = v
		}
		readBack["slug"] = "admin-patched"
		r := e.as(admin, "PATCH", "/v1/accounts/"+id, readBack)
		wantBody(t, r, 200, body("Patched From Read", "admin-patched", "active"))
		// The old slug is free again.
		wantBody(t, e.as(e.super, "POST", "/v1/accounts", map[string]any{"name": "Patch Me"}), 201, accountBody(accountID, "Patch Me", "patch-me", "active"))
	})
}

// TestAccountsPatchValidation: every rule of a PATCH body; the account is unchanged.
func TestAccountsPatchValidation(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := e.account("Strict Patch")
		id := str(a, "id")
		admin := e.key(id, roster.RoleAdmin)
		for _, tc := range []struct {
			name string
			body any
			want []string
		}{
			{"name empty", map[string]any{"name": ""}, []string{`["body","name"] string_too_short`}},
			{"name of 1 after trimming", map[string]any{"name": " x "}, []string{`["body","name"] string_too_short`}},
			{"name of 101", map[string]any{"name": strings.Repeat("n", 101)}, []string{`["body","name"] string_too_long`}},
			{"name a number", map[string]any{"name": 1}, []string{`["body","name"] string_type`}},
			{"slug of 1", map[string]any{"slug": "a"}, []string{`["body","slug"] string_too_short`}},
			{"slug of 51", map[string]any{"slug": strings.Repeat("s", 51)}, []string{`["body","slug"] string_too_long`}},
			{"slug pattern", map[string]any{"slug": "Bad Slug"}, []string{`["body","slug"] string_pattern_mismatch`}},
			{"slug trailing dash", map[string]any{"slug": "bad-"}, []string{`["body","slug"] string_pattern_mismatch`}},
			{"slug a list", map[string]any{"slug": []any{"a"}}, []string{`["body","slug"] string_type`}},
			{"status unknown", map[string]any{"status": "deleted"}, []string{`["body","status"] enum`}},
			{"status empty", map[string]any{"status": ""}, []string{`["body","status"] enum`}},
			{"status upper case", map[string]any{"status": "ACTIVE"}, []string{`["body","status"] enum`}},
			{"status a number", map[string]any{"status": 1}, []string{`["body","status"] string_type`}},
			{"deleted a string", map[string]any{"deleted": "true"}, []string{`["body","deleted"] bool_type`}},
			{"deleted a number", map[string]any{"deleted": 1}, []string{`["body","deleted"] bool_type`}},
			{"extra field", map[string]any{"extra": 1}, []string{`["body","extra"] extra_forbidden`}},
			{"everything", map[string]any{"name": "x", "slug": "X", "status": "gone", "deleted": "no", "extra": 1},
				[]string{`["body","name"] string_too_short`, `["body","slug"] string_too_short`, `["body","status"] enum`, `["body","deleted"] bool_type`, `["body","extra"] extra_forbidden`}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := e.forT(t)
				wantProblems(t, e.as(e.super, "PATCH", "/v1/accounts/"+id, tc.body), tc.want...)
				wantProblems(t, e.as(admin, "PATCH", "/v1/accounts/"+id, tc.body), tc.want...)
			})
		}
		wantBody(t, e.as(e.super, "GET", "/v1/accounts/"+id, nil), 200, obj(a))
	})
}

// TestAccountsDelete: deleted:true answers 200 with the account, then the account is 404
// everywhere, gone from lists, its slug free and its keys refused. deleted:false does nothing.
func TestAccountsDelete(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := e.account("Doomed Co")
		id := str(a, "id")
		hex := strings.TrimPrefix(id, "account_")
		admin, reader := e.key(id, roster.RoleAdmin), e.key(id, roster.RoleReader)
		survivor := e.account("Survivor Co")
		survivorAdmin := e.key(str(survivor, "id"), roster.RoleAdmin)

		// deleted:false changes nothing.
		wantBody(t, e.as(e.super, "PATCH", "/v1/accounts/"+id, map[string]any{"deleted": false}), 200, obj(a))
		e.must(e.as(admin, "GET", "/v1/accounts/"+id, nil), 200)

		// The other fields of a deleting body are ignored.
		r := e.as(e.super, "PATCH", "/v1/accounts/"+id, map[string]any{"deleted": true, "name": "Ignored Name", "slug": "ignored-slug", "status": "suspended"})
		wantBody(t, r, 200, obj{"id": id, "name": "Doomed Co", "slug": "doomed-co", "status": "active", "created_at": str(a, "created_at"), "updated_at": anyStamp})
		if !stampOf(t, r.Obj(), "updated_at").After(stampOf(t, a, "updated_at")) {
			t.Fatalf("updated_at did not move on delete: %s", r)
		}

		for _, path := range []string{"/v1/accounts/" + id, "/v1/accounts/" + hex} {
			wantNative(t, e.as(e.super, "GET", path, nil), 404, "not_found")
			wantNative(t, e.as(e.super, "PATCH", path, map[string]any{"name": "Revived Co"}), 404, "not_found")
			wantNative(t, e.as(e.super, "PATCH", path, map[string]any{"deleted": true}), 404, "not_found")
			wantNative(t, e.as(e.super, "PATCH", path, map[string]any{"deleted": false}), 404, "not_found")
			wantNative(t, e.as(e.super, "PATCH", path, map[string]any{}), 404, "not_found")
		}
		sameIDs(t, ids(t, e.must(e.as(e.super, "GET", "/v1/accounts", nil), 200)), []string{str(survivor, "id")})
		wantNative(t, e.as(e.super, "GET", "/v1/accounts?slug=doomed-co", nil), 404, "not_found")
		wantBody(t, e.as(e.super, "GET", "/v1/accounts?account_id="+id, nil), 200, obj{"data": arr{},
			"pagination": obj{"count": 0, "has_next": false, "has_prev": false, "next_cursor": nil, "prev_cursor": nil}})
		for _, k := range []string{admin, reader} {
			wantUnauthorized(t, e.as(k, "GET", "/v1/accounts/"+id, nil))
			wantUnauthorized(t, e.as(k, "GET", "/v1/accounts", nil))
			wantUnauthorized(t, e.as(k, "PATCH", "/v1/accounts/"+id, map[string]any{"name": "Revived Co"}))
		}
		// Its slug is free; the new account is another one.
		b := e.must(e.as(e.super, "POST", "/v1/accounts", map[string]any{"name": "Doomed Co"}), 201).Obj()
		if str(b, "id") == id || str(b, "slug") != "doomed-co" {
			t.Fatalf("recreated: %v", b)
		}
		wantNative(t, e.as(e.super, "GET", "/v1/accounts/"+id, nil), 404, "not_found")
		wantUnauthorized(t, e.as(admin, "GET", "/v1/accounts/"+str(b, "id"), nil))
		// Other tenants are untouched.
		wantBody(t, e.as(survivorAdmin, "GET", "/v1/accounts/"+str(survivor, "id"), nil), 200, obj(survivor))
		sameIDSet(t, ids(t, e.must(e.as(e.super, "GET", "/v1/accounts", nil), 200)), []string{str(survivor, "id"), str(b, "id")})
	})
}

// TestAccountsListFilters: ?slug= (exact; no match is 404) and ?status=, and the tenant scope
// of the list.
func TestAccountsListFilters(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		alpha := e.account("Filter Alpha")
		alphaTwo := e.account("Filter Alpha Two")
		beta := e.account("Filter Beta")
		beta = e.must(e.as(e.super, "PATCH", "/v1/accounts/"+str(beta, "id"), map[string]any{"status": "suspended"}), 200).Obj()
		admin := e.key(str(alpha, "id"), roster.RoleAdmin)
		betaReader := e.key(str(beta, "id"), roster.RoleReader)
		one := func(a map[string]any) obj {
			return obj{"data": arr{obj(a)}, "pagination": obj{"count": 1, "has_next": false, "has_prev": false, "next_cursor": nil, "prev_cursor": nil}}
		}
		none := obj{"data": arr{}, "pagination": obj{"count": 0, "has_next": false, "has_prev": false, "next_cursor": nil, "prev_cursor": nil}}
		all := []string{str(alpha, "id"), str(alphaTwo, "id"), str(beta, "id")}
		for _, tc := range []struct {
			name, key, query string
			status           int
			body             obj      // exact body, when set
			ids              []string // ids in default order (newest first), when body is nil
		}{
			{"superadmin, no filter", e.super, "", 200, nil, []string{all[2], all[1], all[0]}},
			{"superadmin, empty slug is absent", e.super, "?slug=", 200, nil, []string{all[2], all[1], all[0]}},
			{"superadmin, unknown parameter ignored", e.super, "?foo=bar&name=x", 200, nil, []string{all[2], all[1], all[0]}},
			{"superadmin, slug", e.super, "?slug=filter-alpha", 200, one(alpha), nil},
			{"superadmin, other slug", e.super, "?slug=filter-alpha-two", 200, one(alphaTwo), nil},
			{"superadmin, slug is exact", e.super, "?slug=filter", 404, nativeErr("not_found"), nil},
			{"superadmin, slug is case-sensitive", e.super, "?slug=FILTER-ALPHA", 404, nativeErr("not_found"), nil},
			{"superadmin, no such slug", e.super, "?slug=nothing-here", 404, nativeErr("not_found"), nil},
			{"superadmin, slug and status", e.super, "?slug=filter-beta&status=suspended", 200, one(beta), nil},
			{"superadmin, slug and other status", e.super, "?slug=filter-beta&status=active", 404, nativeErr("not_found"), nil},
			{"superadmin, active", e.super, "?status=active", 200, nil, []string{all[1], all[0]}},
			{"superadmin, suspended", e.super, "?status=suspended", 200, one(beta), nil},
			{"admin, no filter", admin, "", 200, one(alpha), nil},
			{"admin, own slug", admin, "?slug=filter-alpha", 200, one(alpha), nil},
			{"admin, another account's slug", admin, "?slug=filter-alpha-two", 404, nativeErr("not_found"), nil},
			{"admin, active", admin, "?status=active", 200, one(alpha), nil},
			{"admin, suspended", admin, "?status=suspended", 200, none, nil},
			{"suspended reader", betaReader, "", 200, one(beta), nil},
			{"suspended reader, active", betaReader, "?status=active", 200, none, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := e.forT(t)
				r := e.as(tc.key, "GET", "/v1/accounts"+tc.query, nil)
				if tc.body != nil {
					wantBody(t, r, tc.status, tc.body)
					return
				}
				e.must(r, tc.status)
				sameIDs(t, ids(t, r), tc.ids)
			})
		}
		for _, q := range []string{"bogus", "Active", "deleted"} {
			wantProblems(t, e.as(e.super, "GET", "/v1/accounts?status="+q, nil), `["query","status"] enum`)
			wantProblems(t, e.as(admin, "GET", "/v1/accounts?status="+q, nil), `["query","status"] enum`)
		}
	})
}

// concurrently sends the requests at once (JSON bodies, as the superadmin) and returns the
// responses in order. It is safe to call from the test goroutine only.
func concurrently(e *env, method string, paths []string, bodies []map[string]any) []resp {
	e.t.Helper()
	out := make([]resp, len(paths))
	errs := make([]error, len(paths))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data, _ := json.Marshal(bodies[i])
			r, err := http.NewRequest(method, e.base+paths[i], strings.NewReader(string(data)))
			if err != nil {
				errs[i] = err
				return
			}
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", "Bearer "+e.super)
			<-start
			res, err := e.client.Do(r)
			if err != nil {
				errs[i] = err
				return
			}
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			out[i], errs[i] = resp{Status: res.StatusCode, Header: res.Header, Body: b}, err
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			e.t.Fatal(err)
		}
	}
	return out
}

// TestAccountsConcurrentSlug: when requests race for one slug, exactly one wins and every
// other gets 409 slug_taken (never a 500), on create and on PATCH.
func TestAccountsConcurrentSlug(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		const n = 8
		paths := make([]string, n)
		bodies := make([]map[string]any, n)
		for i := range paths {
			paths[i], bodies[i] = "/v1/accounts", map[string]any{"name": "Race Co"}
		}
		var won []string
		for _, r := range concurrently(e, "POST", paths, bodies) {
			if r.Status == 201 {
				wantBody(t, r, 201, accountBody(accountID, "Race Co", "race-co", "active"))
				won = append(won, str(r.Obj(), "id"))
				continue
			}
			wantNative(t, r, 409, "slug_taken")
		}
		if len(won) != 1 {
			t.Fatalf("%d creates won the slug", len(won))
		}
		sameIDs(t, listPage(e, e.super, "slug=race-co").ids, won)

		for i := range paths {
			paths[i], bodies[i] = "/v1/accounts/"+str(e.account("Racer "+strings.Repeat("I", i+1)), "id"), map[string]any{"slug": "race-target"}
		}
		won = nil
		for i, r := range concurrently(e, "PATCH", paths, bodies) {
			if r.Status == 200 {
				won = append(won, strings.TrimPrefix(paths[i], "/v1/accounts/"))
				continue
			}
			wantNative(t, r, 409, "slug_taken")
		}
		if len(won) != 1 {
			t.Fatalf("%d patches won the slug", len(won))
		}
		sameIDs(t, listPage(e, e.super, "slug=race-target").ids, won)
		if got := len(listPage(e, e.super, "limit=100").ids); got != 1+n {
			t.Fatalf("%d accounts, want %d", got, 1+n)
		}
	})
}
