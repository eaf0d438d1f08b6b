package e2e

import (
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// The key management API of SPEC §3 (/v1/api-keys): who may create which key, the secret shown
// once, lists, visibility across tenants, and revocation, expiry and deletion taking effect on
// the very next request.

var (
	opsKeyIDPattern  = regexp.MustCompile(`^key_[0-9a-f]{24}$`)
	opsSecretPattern = regexp.MustCompile(`^rk_[0-9A-Za-z]{49}$`)

	// opsKeyID is a native key id.
	opsKeyID = matcher{"key_ + 24 lower-case hex", func(v any) bool {
		s, ok := v.(string)
		return ok && opsKeyIDPattern.MatchString(s)
	}}
	// opsSecret is a well-formed secret: rk_, 43 base62, a 6-character base62 checksum.
	opsSecret = matcher{"a well-formed rk_ secret", func(v any) bool {
		s, ok := v.(string)
		return ok && opsSecretPattern.MatchString(s) && roster.WellFormedSecret(s)
	}}
	// opsPrefix is what a prefix looks like: the first 12 characters of a secret.
	opsPrefix = matcher{"rk_ + 9 base62", func(v any) bool {
		s, ok := v.(string)
		return ok && len(s) == roster.KeyPrefixLen && opsSecretPattern.MatchString(s+strings.Repeat("0", 52-roster.KeyPrefixLen))
	}}
)

// opsCreatedBody is the exact 201 body of POST /v1/api-keys.
func opsCreatedBody(account any, role, name string, expires any) obj {
	return obj{"id": opsKeyID, "account_id": account, "role": role, "name": name, "key": opsSecret, "prefix": opsPrefix,
		"status": "active", "expires_at": expires, "created_at": anyStamp}
}

// opsKeyBody is the exact body of a key as GET, PATCH and lists render it.
func opsKeyBody(id, account, role, name, prefix, status, lastUsed, expires any) obj {
	return obj{"id": id, "account_id": account, "role": role, "name": name, "prefix": prefix, "status": status,
		"last_used_at": lastUsed, "expires_at": expires, "created_at": anyStamp, "updated_at": anyStamp}
}

// opsKey is a key made over the API.
type opsKey struct {
	id, secret, prefix, name, role string
	account                        any // prefixed account id, or nil for a superadmin key
	created                        time.Time
}

// opsCreateKey posts body to /v1/api-keys as caller, checks the 201 body exactly and returns
// the key. role and account are what the response must say.
func opsCreateKey(t *testing.T, e *env, caller string, body map[string]any, account any, role string) opsKey {
	t.Helper()
	r := e.as(caller, "POST", "/v1/api-keys", body)
	name, _ := body["name"].(string)
	expires := any(nil)
	if body["expires_at"] != nil {
		expires = anyStamp
	}
	wantBody(t, r, 201, opsCreatedBody(account, role, name, expires))
	m := r.Obj()
	k := opsKey{id: str(m, "id"), secret: str(m, "key"), prefix: str(m, "prefix"), name: name, role: role, account: account}
	if k.prefix != k.secret[:roster.KeyPrefixLen] {
		t.Fatalf("prefix %q is not the first %d characters of the secret", k.prefix, roster.KeyPrefixLen)
	}
	created, err := time.Parse(time.RFC3339Nano, str(m, "created_at"))
	if err != nil {
		t.Fatal(err)
	}
	k.created = created
	return k
}

// opsNoSecret fails if a response body shows a secret, or any recognisable part of it.
func opsNoSecret(t *testing.T, r resp, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(string(r.Body), s) || strings.Contains(string(r.Body), s[roster.KeyPrefixLen:]) {
			t.Fatalf("a secret is in the body: %s", r)
		}
	}
	if strings.Contains(string(r.Body), `"key"`) {
		t.Fatalf("a \"key\" field in %s", r)
	}
}

// opsWorks checks that secret authenticates (200 on its account) or is refused (401).
func opsWorks(t *testing.T, e *env, secret, account string, works bool) {
	t.Helper()
	r := e.as(secret, "GET", "/v1/accounts/"+account, nil)
	if works {
		if r.Status != 200 {
			t.Fatalf("the key should work: %s", r)
		}
		return
	}
	wantUnauthorized(t, r)
}

// opsUnknownAccount is a well-formed account id that names nothing.
const opsUnknownAccount = "account_0123456789abcdef01234567"

// TestKeysCreateRoles is the role matrix of POST /v1/api-keys (SPEC §3): a superadmin creates
// keys of any role for any account, superadmin keys without an account; an admin creates
// admin and reader keys for its own account only; a reader manages no keys.
func TestKeysCreateRoles(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := str(e.account("Keys Alpha"), "id")
		b := str(e.account("Keys Beta"), "id")
		s := str(e.account("Keys Suspended"), "id")
		adminA, readerA := e.key(a, roster.RoleAdmin), e.key(a, roster.RoleReader)
		adminS := e.key(s, roster.RoleAdmin)
		e.must(e.as(e.super, "PATCH", "/v1/accounts/"+s, map[string]any{"status": "suspended"}), 200)
		kc := &kcFixture{a: a, b: b, s: s, adminA: adminA, readerA: readerA, adminS: adminS,
			future: time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)}

		t.Run("superadmin", func(t *testing.T) { kc.superadmin(t, e.forT(t)) })
		t.Run("superadmin errors", func(t *testing.T) { kc.superadminErrors(t, e.forT(t)) })
		t.Run("admin", func(t *testing.T) { kc.admin(t, e.forT(t)) })
		t.Run("reader", func(t *testing.T) { kc.reader(t, e.forT(t)) })
	})
}

// kcFixture is what TestKeysCreateRoles's cases share: accounts A, B and S (suspended), A's
// admin and reader keys, S's admin key, and an instant two days ahead.
type kcFixture struct {
	a, b, s                 string
	adminA, readerA, adminS string
	future                  time.Time
}

func (kc *kcFixture) superadmin(t *testing.T, e *env) {
	a, b, s, future := kc.a, kc.b, kc.s, kc.future
	// Any role for any account; role defaults to admin; user_id is accepted and ignored.
	k := opsCreateKey(t, e, e.super, map[string]any{"account_id": b, "name": "beta ops"}, b, "admin")
	opsWorks(t, e, k.secret, b, true)
	e.must(e.as(k.secret, "POST", "/v1/api-keys", map[string]any{"account_id": b, "name": "made by beta"}), 201)
	r := opsCreateKey(t, e, e.super, map[string]any{"account_id": a, "name": "alpha reader", "role": "reader", "user_id": "user_123"}, a, "reader")
	opsWorks(t, e, r.secret, a, true)
	wantNative(t, e.as(r.secret, "PATCH", "/v1/accounts/"+a, map[string]any{"name": "Renamed"}), 403, "forbidden")
	opsCreateKey(t, e, e.super, map[string]any{"account_id": strings.ToUpper(strings.TrimPrefix(a, "account_")), "name": "bare hex", "role": "admin"}, a, "admin")

	// A superadmin key: account_id null or omitted; it sees every account.
	su := opsCreateKey(t, e, e.super, map[string]any{"account_id": nil, "name": "second superadmin", "role": "superadmin"}, nil, "superadmin")
	opsCreateKey(t, e, e.super, map[string]any{"name": "third superadmin", "role": "superadmin"}, nil, "superadmin")
	got := ids(t, e.must(e.as(su.secret, "GET", "/v1/accounts?limit=100", nil), 200))
	sameIDSet(t, got, []string{a, b, s})
	opsCreateKey(t, e, su.secret, map[string]any{"account_id": a, "name": "from the new superadmin"}, a, "admin")

	// A future expires_at is kept (as an instant, in UTC).
	x := e.must(e.as(e.super, "POST", "/v1/api-keys", map[string]any{"account_id": a, "name": "expiring",
		"expires_at": future.In(time.FixedZone("x", 3600)).Format(time.RFC3339)}), 201)
	wantBody(t, x, 201, opsCreatedBody(a, "admin", "expiring", anyStamp))
	if at, err := time.Parse(time.RFC3339Nano, str(x.Obj(), "expires_at")); err != nil || !at.Equal(future) || !strings.HasSuffix(str(x.Obj(), "expires_at"), "Z") {
		t.Fatalf("expires_at %q, want %s", str(x.Obj(), "expires_at"), future)
	}
}

func (kc *kcFixture) superadminErrors(t *testing.T, e *env) {
	a := kc.a
	// An unknown account is 404 (LEADR's exception to the body not_found 422), whatever
	// the form of the well-formed id; a deleted account is unknown.
	for _, id := range []string{opsUnknownAccount, strings.TrimPrefix(opsUnknownAccount, "account_"), "account_nothex"} {
		wantNative(t, e.as(e.super, "POST", "/v1/api-keys", map[string]any{"account_id": id, "name": "x"}), 404, "not_found")
	}
	// Validation comes before the look-up (SPEC §5's order), whatever the id's form.
	for _, id := range []string{opsUnknownAccount, "account_nothex"} {
		wantProblems(t, e.as(e.super, "POST", "/v1/api-keys", map[string]any{"account_id": id, "name": ""}), `["body","name"] string_too_short`)
		wantProblems(t, e.as(e.super, "POST", "/v1/api-keys", map[string]any{"account_id": id, "name": "x", "role": "owner"}), `["body","role"] enum`)
	}
	// A deleted account's keys stop working and vanish, from lists and by id.
	gone := str(e.account("Keys Gone"), "id")
	goneKey := e.key(gone, roster.RoleAdmin)
	goneIDs := ids(t, e.must(e.as(e.super, "GET", "/v1/api-keys?account_id="+gone, nil), 200))
	if len(goneIDs) != 1 {
		t.Fatalf("keys of the account: %v", goneIDs)
	}
	e.must(e.as(e.super, "PATCH", "/v1/accounts/"+gone, map[string]any{"deleted": true}), 200)
	wantNative(t, e.as(e.super, "POST", "/v1/api-keys", map[string]any{"account_id": gone, "name": "x"}), 404, "not_found")
	wantUnauthorized(t, e.as(goneKey, "GET", "/v1/api-keys", nil))
	wantNative(t, e.as(e.super, "GET", "/v1/api-keys/"+goneIDs[0], nil), 404, "not_found")
	sameIDs(t, ids(t, e.must(e.as(e.super, "GET", "/v1/api-keys?account_id="+gone, nil), 200)), []string{})
	for _, id := range ids(t, e.must(e.as(e.super, "GET", "/v1/api-keys?limit=100", nil), 200)) {
		if id == goneIDs[0] {
			t.Fatal("a deleted account's key is listed")
		}
	}

	// Malformed ids, bad roles, missing fields, past expiry: 422, all problems at once.
	for _, id := range []any{"acct-1", "account-0123", "ACCOUNT_0123456789abcdef01234567", "", 5} {
		typ := "string_pattern_mismatch"
		if _, isInt := id.(int); isInt {
			typ = "string_type"
		}
		wantProblems(t, e.as(e.super, "POST", "/v1/api-keys", map[string]any{"account_id": id, "name": "x"}), `["body","account_id"] `+typ)
	}
	wantProblems(t, e.as(e.super, "POST", "/v1/api-keys", map[string]any{"name": "x"}), `["body","account_id"] missing`)
	wantProblems(t, e.as(e.super, "POST", "/v1/api-keys", map[string]any{"account_id": nil, "name": "x"}), `["body","account_id"] string_type`)
	wantProblems(t, e.as(e.super, "POST", "/v1/api-keys", map[string]any{"account_id": a, "name": "x", "role": "owner"}), `["body","role"] enum`)
	wantProblems(t, e.as(e.super, "POST", "/v1/api-keys", map[string]any{"account_id": a}), `["body","name"] missing`)
	wantProblems(t, e.as(e.super, "POST", "/v1/api-keys", map[string]any{"account_id": a, "name": ""}), `["body","name"] string_too_short`)
	wantProblems(t, e.as(e.super, "POST", "/v1/api-keys", map[string]any{"account_id": a, "name": "x", "scopes": []any{}}), `["body","scopes"] extra_forbidden`)
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	wantProblems(t, e.as(e.super, "POST", "/v1/api-keys", map[string]any{"account_id": a, "name": "x", "expires_at": past}), `["body","expires_at"] value_error`)
	wantProblems(t, e.as(e.super, "POST", "/v1/api-keys", map[string]any{"account_id": a, "name": "x", "expires_at": "tomorrow"}), `["body","expires_at"] datetime_from_date_parsing`)
	wantProblems(t, e.as(e.super, "POST", "/v1/api-keys", map[string]any{"account_id": "nope", "name": "", "expires_at": past}),
		`["body","account_id"] string_pattern_mismatch`, `["body","name"] string_too_short`, `["body","expires_at"] value_error`)
	// A superadmin key has no account.
	wantProblems(t, e.as(e.super, "POST", "/v1/api-keys", map[string]any{"account_id": a, "name": "x", "role": "superadmin"}), `["body","account_id"] value_error`)
}

func (kc *kcFixture) admin(t *testing.T, e *env) {
	a, b, s, adminA, adminS := kc.a, kc.b, kc.s, kc.adminA, kc.adminS
	k := opsCreateKey(t, e, adminA, map[string]any{"account_id": a, "name": "ci", "user_id": "u_1"}, a, "admin")
	opsWorks(t, e, k.secret, a, true)
	r := opsCreateKey(t, e, adminA, map[string]any{"account_id": a, "name": "dashboard", "role": "reader"}, a, "reader")
	opsWorks(t, e, r.secret, a, true)
	opsCreateKey(t, e, adminA, map[string]any{"account_id": "account_" + strings.ToUpper(strings.TrimPrefix(a, "account_")), "name": "upper hex", "role": "admin"}, a, "admin")
	wantProblems(t, e.as(adminA, "POST", "/v1/api-keys", map[string]any{"account_id": a, "name": "x", "expires_at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}),
		`["body","expires_at"] value_error`)

	// Never a superadmin key, never another account's key, whatever the id looks like:
	// 403, with no existence oracle.
	for _, body := range []map[string]any{
		{"account_id": a, "name": "x", "role": "superadmin"},
		{"account_id": nil, "name": "x", "role": "superadmin"},
		{"name": "x", "role": "superadmin"},
		{"account_id": b, "name": "x"},
		{"account_id": b, "name": "x", "role": "reader"},
		{"account_id": strings.TrimPrefix(b, "account_"), "name": "x"},
		{"account_id": opsUnknownAccount, "name": "x"},
		{"account_id": "account_nothex", "name": "x"},
		{"account_id": "acct-1", "name": "x"},
		{"account_id": "", "name": "x"},
		{"account_id": b, "name": "", "role": "owner"}, // tenancy before validation
	} {
		wantNative(t, e.as(adminA, "POST", "/v1/api-keys", body), 403, "forbidden")
	}
	// An admin of a suspended account may list but not create.
	own := ids(t, e.must(e.as(adminS, "GET", "/v1/api-keys", nil), 200))
	wantNative(t, e.as(adminS, "POST", "/v1/api-keys", map[string]any{"account_id": s, "name": "x"}), 403, "account_suspended")
	wantNative(t, e.as(adminS, "PATCH", "/v1/api-keys/"+own[0], map[string]any{"status": "revoked"}), 403, "account_suspended")
	opsWorks(t, e, adminS, s, true)
	// LEADR's account_id query parameter follows the same rule.
	wantNative(t, e.as(adminA, "POST", "/v1/api-keys?account_id="+b, map[string]any{"account_id": a, "name": "x"}), 403, "forbidden")
}

func (kc *kcFixture) reader(t *testing.T, e *env) {
	a, b, readerA := kc.a, kc.b, kc.readerA
	first := e.must(e.as(e.super, "GET", "/v1/api-keys?account_id="+a+"&limit=1", nil), 200)
	keyID := ids(t, first)[0]
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/v1/api-keys", map[string]any{"account_id": a, "name": "x"}},
		{"POST", "/v1/api-keys", map[string]any{"account_id": a, "name": "x", "role": "reader"}},
		{"POST", "/v1/api-keys", map[string]any{"account_id": b, "name": "x"}},
		{"POST", "/v1/api-keys", map[string]any{"name": 5}},
		{"GET", "/v1/api-keys", nil},
		{"GET", "/v1/api-keys?status=active", nil},
		{"GET", "/v1/api-keys/" + keyID, nil},
		{"GET", "/v1/api-keys/key_0123456789abcdef01234567", nil},
		{"GET", "/v1/api-keys/not-a-key", nil},
		{"PATCH", "/v1/api-keys/" + keyID, map[string]any{"status": "revoked"}},
		{"PATCH", "/v1/api-keys/" + keyID, map[string]any{"name": "x"}},
	} {
		wantNative(t, e.as(readerA, tc.method, tc.path, tc.body), 403, "forbidden")
	}
	// Nothing changed.
	wantBody(t, e.as(e.super, "GET", "/v1/api-keys/"+keyID, nil), 200,
		opsKeyBody(keyID, a, anyText, anyText, anyText, "active", opsAnything, nil))
}

// TestKeysSecretShownOnce: the secret is in the 201 body only; GET and lists show its first 12
// characters as prefix, never the rest; last_used_at appears after the first use.
func TestKeysSecretShownOnce(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := str(e.account("Secret Co"), "id")
		k := opsCreateKey(t, e, e.super, map[string]any{"account_id": a, "name": "once", "role": "admin"}, a, "admin")
		if len(k.secret) != roster.SecretLen || !roster.WellFormedSecret(k.secret) {
			t.Fatalf("secret %d characters, well formed %v", len(k.secret), roster.WellFormedSecret(k.secret))
		}

		// Before any use: last_used_at null.
		get := e.as(e.super, "GET", "/v1/api-keys/"+k.id, nil)
		wantBody(t, get, 200, opsKeyBody(k.id, a, "admin", "once", k.prefix, "active", nil, nil))
		opsNoSecret(t, get, k.secret)
		if str(get.Obj(), "created_at") != k.created.UTC().Format("2006-01-02T15:04:05.000000Z") {
			t.Fatalf("created_at %s differs from the 201's %s", str(get.Obj(), "created_at"), k.created)
		}
		before := str(get.Obj(), "updated_at")

		// The key is used (all three ways of presenting it); last_used_at is set and then kept
		// for a minute.
		opsWorks(t, e, k.secret, a, true)
		got := e.must(e.as(k.secret, "GET", "/v1/api-keys/"+k.id, nil), 200)
		wantBody(t, got, 200, opsKeyBody(k.id, a, "admin", "once", k.prefix, "active", anyStamp, nil))
		opsNoSecret(t, got, k.secret)
		used := str(got.Obj(), "last_used_at")
		usedAt, _ := time.Parse(time.RFC3339Nano, used)
		if usedAt.Before(k.created) || time.Since(usedAt) > time.Minute {
			t.Fatalf("last_used_at %s, created %s", used, k.created)
		}
		if str(got.Obj(), "updated_at") != before {
			t.Fatalf("using a key moved updated_at: %s → %s", before, str(got.Obj(), "updated_at"))
		}
		e.must(e.req("GET", "/v1/accounts/"+a, nil, "Authorization", basic("API", k.secret)), 200)
		e.must(e.req("GET", "/v1/accounts/"+a, nil, "leadr-api-key", k.secret), 200)
		again := e.must(e.as(e.super, "GET", "/v1/api-keys/"+k.id, nil), 200)
		if str(again.Obj(), "last_used_at") != used {
			t.Fatalf("last_used_at moved within a minute: %s → %s", used, str(again.Obj(), "last_used_at"))
		}

		// No list, filter or sort shows the secret.
		for _, q := range []string{"", "?account_id=" + a, "?status=active", "?sort=name:asc", "?limit=100"} {
			for _, caller := range []string{e.super, k.secret} {
				r := e.must(e.as(caller, "GET", "/v1/api-keys"+q, nil), 200)
				opsNoSecret(t, r, k.secret, e.super)
			}
		}
		// Nor a PATCH answer.
		p := e.as(e.super, "PATCH", "/v1/api-keys/"+k.id, map[string]any{"name": "renamed"})
		wantBody(t, p, 200, opsKeyBody(k.id, a, "admin", "renamed", k.prefix, "active", used, nil))
		opsNoSecret(t, p, k.secret)
	})
}

// opsListAll walks a key list with limit n from query and returns the items in order.
func opsListAll(t *testing.T, e *env, caller, query string, n int) []map[string]any {
	t.Helper()
	var out []map[string]any
	q := query + "&limit=" + strconv.Itoa(n)
	for page := 0; ; page++ {
		r := e.must(e.as(caller, "GET", "/v1/api-keys?"+strings.TrimPrefix(q, "&"), nil), 200)
		body := r.Obj()
		data, _ := body["data"].([]any)
		pg, _ := body["pagination"].(map[string]any)
		if err := match(pg["count"], len(data), "count"); err != nil {
			t.Fatal(err)
		}
		if pg["has_prev"] != (page > 0) {
			t.Fatalf("page %d: has_prev %v", page, pg["has_prev"])
		}
		for _, d := range data {
			out = append(out, d.(map[string]any))
		}
		if pg["has_next"] != true {
			if pg["next_cursor"] != nil {
				t.Fatalf("a next_cursor without has_next: %s", r)
			}
			return out
		}
		if len(data) != n {
			t.Fatalf("page %d: %d items and has_next", page, len(data))
		}
		q = "cursor=" + url.QueryEscape(pg["next_cursor"].(string)) + "&limit=" + strconv.Itoa(n)
		if page > 50 {
			t.Fatal("the walk does not end")
		}
	}
}

func opsIDsOf(items []map[string]any) []string {
	out := make([]string, len(items))
	for i, m := range items {
		out[i] = str(m, "id")
	}
	return out
}

// TestKeysList: filters (status, account_id), sorts and cursor walks of GET /v1/api-keys.
func TestKeysList(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := str(e.account("List Keys A"), "id")
		b := str(e.account("List Keys B"), "id")
		admin := opsCreateKey(t, e, e.super, map[string]any{"account_id": a, "name": "m admin"}, a, "admin")
		keys := []opsKey{admin}
		for _, name := range []string{"d", "B", "a", "c", "b", "e"} {
			role := "admin"
			if name == "c" || name == "B" {
				role = "reader"
			}
			keys = append(keys, opsCreateKey(t, e, admin.secret, map[string]any{"account_id": a, "name": name, "role": role}, a, role))
		}
		other := opsCreateKey(t, e, e.super, map[string]any{"account_id": b, "name": "other"}, b, "admin")
		su := opsCreateKey(t, e, e.super, map[string]any{"name": "list superadmin", "role": "superadmin"}, nil, "superadmin")

		// Statuses: revoke one, delete one, and make one that has expired (the API refuses a past
		// expires_at, so the operator's side does it).
		revoked, deleted := keys[2], keys[3]
		wantBody(t, e.as(admin.secret, "PATCH", "/v1/api-keys/"+revoked.id, map[string]any{"status": "revoked"}), 200,
			opsKeyBody(revoked.id, a, revoked.role, revoked.name, revoked.prefix, "revoked", nil, nil))
		e.must(e.as(admin.secret, "PATCH", "/v1/api-keys/"+deleted.id, map[string]any{"deleted": true}), 200)
		bare, _ := roster.ParseID(roster.KindAccount, a)
		eck := e.expiredKey(bare, roster.RoleAdmin, "z expired")
		ek, expSecret := eck.Key, eck.Secret
		expired := roster.KindKey.Prefixed(ek.ID)
		opsWorks(t, e, expSecret, a, false)
		wantBody(t, e.as(admin.secret, "GET", "/v1/api-keys/"+expired, nil), 200,
			opsKeyBody(expired, a, "admin", "z expired", expSecret[:12], "expired", nil, anyStamp))

		var live []string // active keys of account a
		for _, k := range keys {
			if k.id != revoked.id && k.id != deleted.id {
				live = append(live, k.id)
			}
		}
		all := append(append([]string{}, live...), revoked.id, expired)

		for _, caller := range []struct {
			name, key, scope string
		}{{"superadmin", e.super, "account_id=" + a + "&"}, {"admin", admin.secret, ""}, {"admin, own account_id", admin.secret, "account_id=" + a + "&"}} {
			t.Run(caller.name, func(t *testing.T) {
				e := e.forT(t)
				sameIDSet(t, opsIDsOf(opsListAll(t, e, caller.key, caller.scope, 100)), all)
				sameIDSet(t, opsIDsOf(opsListAll(t, e, caller.key, caller.scope+"status=active", 100)), live)
				sameIDSet(t, opsIDsOf(opsListAll(t, e, caller.key, caller.scope+"status=revoked", 100)), []string{revoked.id})
				sameIDSet(t, opsIDsOf(opsListAll(t, e, caller.key, caller.scope+"status=expired", 100)), []string{expired})
				wantProblems(t, e.as(caller.key, "GET", "/v1/api-keys?"+caller.scope+"status=deleted", nil), `["query","status"] enum`)
			})
		}

		// A superadmin without account_id sees every key, its own kind included (account_id null).
		every := opsListAll(t, e, e.super, "", 100)
		sameIDSet(t, opsIDsOf(every), append(append([]string{}, all...), other.id, su.id, opsIDOfBootstrap(t, e)))
		for _, m := range every {
			if m["role"] == "superadmin" && m["account_id"] != nil || m["role"] != "superadmin" && m["account_id"] == nil {
				t.Fatalf("role and account_id disagree: %v", m)
			}
			if _, has := m["key"]; has {
				t.Fatalf("a listed key shows its secret: %v", m)
			}
		}
		sameIDSet(t, opsIDsOf(opsListAll(t, e, e.super, "account_id="+b, 100)), []string{other.id})
		sameIDSet(t, opsIDsOf(opsListAll(t, e, e.super, "account_id="+opsUnknownAccount, 100)), nil)

		// Sort by name (bytewise), walked two at a time, forward then back.
		var names []string
		byName := map[string]string{}
		for _, k := range keys {
			if k.id != deleted.id {
				names = append(names, k.name)
				byName[k.name] = k.id
			}
		}
		names = append(names, "z expired")
		byName["z expired"] = expired
		sort.Strings(names)
		var wantOrder []string
		for _, n := range names {
			wantOrder = append(wantOrder, byName[n])
		}
		walked := opsListAll(t, e, admin.secret, "sort=name:asc", 2)
		sameIDs(t, opsIDsOf(walked), wantOrder)
		for i, m := range walked {
			opsMatch(t, m, opsKeyBody(wantOrder[i], a, anyText, anyText, anyText, anyText, opsAnything, opsAnything))
		}
		// Back from the second page with its prev_cursor.
		first := e.must(e.as(admin.secret, "GET", "/v1/api-keys?sort=name:asc&limit=2", nil), 200)
		second := e.must(e.as(admin.secret, "GET", "/v1/api-keys?limit=2&cursor="+url.QueryEscape(str(first.Obj()["pagination"].(map[string]any), "next_cursor")), nil), 200)
		sameIDs(t, ids(t, second), wantOrder[2:4])
		back := e.must(e.as(admin.secret, "GET", "/v1/api-keys?limit=2&cursor="+url.QueryEscape(str(second.Obj()["pagination"].(map[string]any), "prev_cursor")), nil), 200)
		sameIDs(t, ids(t, back), wantOrder[:2])

		// name:desc is the reverse; the default is created_at:desc,id:asc.
		desc := opsIDsOf(opsListAll(t, e, admin.secret, "sort=name:desc", 3))
		for i := range desc {
			if desc[i] != wantOrder[len(wantOrder)-1-i] {
				t.Fatalf("name:desc %v is not the reverse of %v", desc, wantOrder)
			}
		}
		def := opsListAll(t, e, admin.secret, "", 3)
		sameIDs(t, opsIDsOf(def), opsIDsOf(opsListAll(t, e, admin.secret, "sort=created_at:desc,id:asc", 3)))
		for i := 1; i < len(def); i++ {
			p, q := str(def[i-1], "created_at"), str(def[i], "created_at")
			if p < q || p == q && str(def[i-1], "id") > str(def[i], "id") {
				t.Fatalf("default order broken at %d: %v then %v", i, def[i-1], def[i])
			}
		}
		for _, sortBy := range []string{"id:asc", "updated_at:desc", "created_at:asc"} {
			sameIDSet(t, opsIDsOf(opsListAll(t, e, admin.secret, "sort="+sortBy, 2)), all)
		}

		// Errors of lists.
		wantNative(t, e.as(admin.secret, "GET", "/v1/api-keys?sort=role:asc", nil), 400, "invalid_sort")
		wantNative(t, e.as(admin.secret, "GET", "/v1/api-keys?sort=name:up", nil), 400, "invalid_sort")
		wantNative(t, e.as(admin.secret, "GET", "/v1/api-keys?cursor=garbage", nil), 400, "invalid_cursor")
		wantProblems(t, e.as(admin.secret, "GET", "/v1/api-keys?limit=0", nil), `["query","limit"] greater_than_equal`)
		c := str(first.Obj()["pagination"].(map[string]any), "next_cursor")
		wantNative(t, e.as(admin.secret, "GET", "/v1/api-keys?status=active&cursor="+url.QueryEscape(c), nil), 400, "cursor_mismatch")
		wantNative(t, e.as(other.secret, "GET", "/v1/api-keys?cursor="+url.QueryEscape(c), nil), 400, "cursor_mismatch")
		// An admin's account_id must be its own.
		for _, id := range []string{b, opsUnknownAccount, "nope"} {
			wantNative(t, e.as(admin.secret, "GET", "/v1/api-keys?account_id="+id, nil), 403, "forbidden")
		}
		wantProblems(t, e.as(e.super, "GET", "/v1/api-keys?account_id=nope", nil), `["query","account_id"] string_pattern_mismatch`)
	})
}

// opsMatch matches one decoded value against an expectation.
func opsMatch(t *testing.T, got, want any) {
	t.Helper()
	if err := match(got, want, "item"); err != nil {
		t.Fatal(err)
	}
}

// opsAnything matches any value, null included.
var opsAnything = matcher{"anything", func(any) bool { return true }}

// opsIDOfBootstrap finds the bootstrap superadmin key's id by its prefix.
func opsIDOfBootstrap(t *testing.T, e *env) string {
	t.Helper()
	for _, m := range opsListAll(t, e, e.super, "", 100) {
		if str(m, "prefix") == e.super[:roster.KeyPrefixLen] {
			return str(m, "id")
		}
	}
	t.Fatal("the bootstrap key is not listed")
	return ""
}

// TestKeysVisibility: an admin sees only its own account's keys, never a superadmin key or
// another tenant's: those are 404 by id, for GET and PATCH alike, and nothing changes.
func TestKeysVisibility(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := str(e.account("Visible A"), "id")
		b := str(e.account("Visible B"), "id")
		adminA := opsCreateKey(t, e, e.super, map[string]any{"account_id": a, "name": "admin a"}, a, "admin")
		readerA := opsCreateKey(t, e, adminA.secret, map[string]any{"account_id": a, "name": "reader a", "role": "reader"}, a, "reader")
		adminB := opsCreateKey(t, e, e.super, map[string]any{"account_id": b, "name": "admin b"}, b, "admin")
		su := opsCreateKey(t, e, e.super, map[string]any{"name": "hidden superadmin", "role": "superadmin"}, nil, "superadmin")
		boot := opsIDOfBootstrap(t, e)

		sameIDSet(t, opsIDsOf(opsListAll(t, e, adminA.secret, "", 100)), []string{adminA.id, readerA.id})
		sameIDSet(t, opsIDsOf(opsListAll(t, e, adminB.secret, "", 100)), []string{adminB.id})

		for _, id := range []string{adminB.id, su.id, boot, strings.TrimPrefix(adminB.id, "key_"), "key_0123456789abcdef01234567", "key_nothex"} {
			wantNative(t, e.as(adminA.secret, "GET", "/v1/api-keys/"+id, nil), 404, "not_found")
			wantNative(t, e.as(adminA.secret, "PATCH", "/v1/api-keys/"+id, map[string]any{"status": "revoked"}), 404, "not_found")
			wantNative(t, e.as(adminA.secret, "PATCH", "/v1/api-keys/"+id, map[string]any{"deleted": true}), 404, "not_found")
			wantNative(t, e.as(adminA.secret, "PATCH", "/v1/api-keys/"+id, map[string]any{"name": "mine now"}), 404, "not_found")
		}
		wantProblems(t, e.as(adminA.secret, "GET", "/v1/api-keys/key-1", nil), `["path","key_id"] string_pattern_mismatch`)
		wantProblems(t, e.as(e.super, "GET", "/v1/api-keys/account_0123456789abcdef01234567", nil), `["path","key_id"] string_pattern_mismatch`)
		wantNative(t, e.as(e.super, "GET", "/v1/api-keys/key_0123456789abcdef01234567", nil), 404, "not_found")

		// The others' keys are untouched and still work.
		opsWorks(t, e, adminB.secret, b, true)
		opsWorks(t, e, su.secret, a, true)
		wantBody(t, e.as(e.super, "GET", "/v1/api-keys/"+adminB.id, nil), 200,
			opsKeyBody(adminB.id, b, "admin", "admin b", adminB.prefix, "active", anyStamp, nil))
		wantBody(t, e.as(e.super, "GET", "/v1/api-keys/"+su.id, nil), 200,
			opsKeyBody(su.id, nil, "superadmin", "hidden superadmin", su.prefix, "active", anyStamp, nil))
		// The superadmin reads any key, with ids in either form.
		wantBody(t, e.as(e.super, "GET", "/v1/api-keys/"+strings.ToUpper(strings.TrimPrefix(readerA.id, "key_")), nil), 200,
			opsKeyBody(readerA.id, a, "reader", "reader a", readerA.prefix, "active", nil, nil))
	})
}

// TestKeysPatch: rename, revoke (final, at once), delete (404 and 401 from then on), an admin
// revoking itself, and PATCH validation.
func TestKeysPatch(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := str(e.account("Patch Keys"), "id")
		admin := opsCreateKey(t, e, e.super, map[string]any{"account_id": a, "name": "admin"}, a, "admin")
		victim := opsCreateKey(t, e, admin.secret, map[string]any{"account_id": a, "name": "victim", "role": "reader"}, a, "reader")
		opsWorks(t, e, victim.secret, a, true)

		// Rename: updated_at moves, nothing else.
		before := e.must(e.as(admin.secret, "GET", "/v1/api-keys/"+victim.id, nil), 200).Obj()
		renamed := e.as(admin.secret, "PATCH", "/v1/api-keys/"+victim.id, map[string]any{"name": "renamed"})
		wantBody(t, renamed, 200, opsKeyBody(victim.id, a, "reader", "renamed", victim.prefix, "active", before["last_used_at"], nil))
		if str(renamed.Obj(), "updated_at") <= str(before, "updated_at") || str(renamed.Obj(), "created_at") != str(before, "created_at") {
			t.Fatalf("updated_at did not move: %v → %s", before, renamed)
		}
		opsWorks(t, e, victim.secret, a, true)
		// Read-only fields sent back are ignored; status active on an active key changes nothing.
		back := renamed.Obj()
		back["status"] = "active"
		back["user_id"] = "u_1"
		back["role"] = "superadmin"
		back["account_id"] = opsUnknownAccount
		wantBody(t, e.as(admin.secret, "PATCH", "/v1/api-keys/"+victim.id, back), 200,
			opsKeyBody(victim.id, a, "reader", "renamed", victim.prefix, "active", before["last_used_at"], nil))
		// Validation, all problems at once.
		wantProblems(t, e.as(admin.secret, "PATCH", "/v1/api-keys/"+victim.id, map[string]any{"name": "", "status": "expired", "extra": 1}),
			`["body","name"] string_too_short`, `["body","status"] enum`, `["body","extra"] extra_forbidden`)
		wantProblems(t, e.as(admin.secret, "PATCH", "/v1/api-keys/"+victim.id, map[string]any{"deleted": "yes"}), `["body","deleted"] bool_type`)
		wantProblems(t, e.as(admin.secret, "PATCH", "/v1/api-keys/"+victim.id, nil), `["body"] missing`)

		// Revocation: effective on the very next request, on every surface and presentation.
		revoked := e.as(admin.secret, "PATCH", "/v1/api-keys/"+victim.id, map[string]any{"status": "revoked"})
		wantBody(t, revoked, 200, opsKeyBody(victim.id, a, "reader", "renamed", victim.prefix, "revoked", anyStamp, nil))
		opsWorks(t, e, victim.secret, a, false)
		wantUnauthorized(t, e.req("GET", "/v1/api-keys", nil, "leadr-api-key", victim.secret))
		if r := e.req("GET", "/entities", nil, "Authorization", basic("API", victim.secret)); r.Status != 401 {
			t.Fatalf("revoked key on the LeadConduit surface: %s", r)
		}
		if r := e.as(victim.secret, "GET", "/v0/accounts/"+a+"/entity_relationships", nil); r.Status != 401 {
			t.Fatalf("revoked key on the Lead Bank surface: %s", r)
		}
		// Revocation is final: active is 422; revoking again is a no-op.
		wantProblems(t, e.as(admin.secret, "PATCH", "/v1/api-keys/"+victim.id, map[string]any{"status": "active"}), `["body","status"] value_error`)
		wantProblems(t, e.as(e.super, "PATCH", "/v1/api-keys/"+victim.id, map[string]any{"status": "active", "name": "back"}), `["body","status"] value_error`)
		again := e.as(e.super, "PATCH", "/v1/api-keys/"+victim.id, map[string]any{"status": "revoked"})
		wantBody(t, again, 200, opsKeyBody(victim.id, a, "reader", "renamed", victim.prefix, "revoked", anyStamp, nil))
		if str(again.Obj(), "updated_at") != str(revoked.Obj(), "updated_at") {
			t.Fatalf("a second revocation moved updated_at")
		}
		opsWorks(t, e, victim.secret, a, false)
		// A revoked key can still be renamed, and stays revoked.
		wantBody(t, e.as(admin.secret, "PATCH", "/v1/api-keys/"+victim.id, map[string]any{"name": "old reader"}), 200,
			opsKeyBody(victim.id, a, "reader", "old reader", victim.prefix, "revoked", anyStamp, nil))
		opsWorks(t, e, victim.secret, a, false)

		// Deletion: 200 once, then 404 for GET and PATCH, gone from lists, the key refused.
		doomed := opsCreateKey(t, e, admin.secret, map[string]any{"account_id": a, "name": "doomed"}, a, "admin")
		opsWorks(t, e, doomed.secret, a, true)
		wantBody(t, e.as(doomed.secret, "PATCH", "/v1/api-keys/"+doomed.id, map[string]any{"deleted": false}), 200,
			opsKeyBody(doomed.id, a, "admin", "doomed", doomed.prefix, "active", anyStamp, nil))
		opsWorks(t, e, doomed.secret, a, true)
		e.must(e.as(admin.secret, "PATCH", "/v1/api-keys/"+doomed.id, map[string]any{"deleted": true}), 200)
		opsWorks(t, e, doomed.secret, a, false)
		wantNative(t, e.as(admin.secret, "GET", "/v1/api-keys/"+doomed.id, nil), 404, "not_found")
		wantNative(t, e.as(e.super, "GET", "/v1/api-keys/"+doomed.id, nil), 404, "not_found")
		wantNative(t, e.as(admin.secret, "PATCH", "/v1/api-keys/"+doomed.id, map[string]any{"deleted": true}), 404, "not_found")
		wantNative(t, e.as(e.super, "PATCH", "/v1/api-keys/"+doomed.id, map[string]any{"name": "undead"}), 404, "not_found")
		for _, q := range []string{"", "status=active", "status=revoked"} {
			for _, id := range opsIDsOf(opsListAll(t, e, e.super, q, 100)) {
				if id == doomed.id {
					t.Fatalf("a deleted key is listed (%s)", q)
				}
			}
		}
		// A revoked key can be deleted too.
		e.must(e.as(admin.secret, "PATCH", "/v1/api-keys/"+victim.id, map[string]any{"deleted": true}), 200)
		wantNative(t, e.as(admin.secret, "GET", "/v1/api-keys/"+victim.id, nil), 404, "not_found")

		// An admin may revoke its own key: the answer comes, then the key is refused.
		self := e.as(admin.secret, "PATCH", "/v1/api-keys/"+admin.id, map[string]any{"status": "revoked"})
		wantBody(t, self, 200, opsKeyBody(admin.id, a, "admin", "admin", admin.prefix, "revoked", anyStamp, nil))
		opsWorks(t, e, admin.secret, a, false)
		wantUnauthorized(t, e.as(admin.secret, "PATCH", "/v1/api-keys/"+admin.id, map[string]any{"name": "x"}))

		// A superadmin key made over the API can be revoked by a superadmin, at once.
		su := opsCreateKey(t, e, e.super, map[string]any{"name": "temp superadmin", "role": "superadmin"}, nil, "superadmin")
		opsWorks(t, e, su.secret, a, true)
		wantBody(t, e.as(e.super, "PATCH", "/v1/api-keys/"+su.id, map[string]any{"status": "revoked"}), 200,
			opsKeyBody(su.id, nil, "superadmin", "temp superadmin", su.prefix, "revoked", anyStamp, nil))
		opsWorks(t, e, su.secret, a, false)

		// Expiry takes effect by itself on the next request.
		exp := time.Now().Add(3 * time.Second)
		soon := opsCreateKey(t, e, e.super, map[string]any{"account_id": a, "name": "short lived", "expires_at": exp.UTC().Format(time.RFC3339Nano)}, a, "admin")
		opsWorks(t, e, soon.secret, a, true)
		time.Sleep(time.Until(exp) + 50*time.Millisecond)
		opsWorks(t, e, soon.secret, a, false)
		wantBody(t, e.as(e.super, "GET", "/v1/api-keys/"+soon.id, nil), 200,
			opsKeyBody(soon.id, a, "admin", "short lived", soon.prefix, "expired", anyStamp, anyStamp))
	})
}
