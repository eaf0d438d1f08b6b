package e2e

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// TestAuthPresentation covers SPEC §3's three equivalent ways to present a key.
func TestAuthPresentation(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := e.account("Presentation Inc")
		id := str(a, "id")
		k := e.key(id, roster.RoleAdmin)
		other := e.key(id, roster.RoleReader)

		for _, tc := range []struct {
			name    string
			headers []string
			status  int
		}{
			{"bearer", []string{"Authorization", "Bearer " + k}, 200},
			{"bearer scheme in lower case", []string{"Authorization", "bearer " + k}, 200},
			{"basic with user API", []string{"Authorization", basic("API", k)}, 200},
			{"basic with another user", []string{"Authorization", basic("someone else", k)}, 200},
			{"basic with an empty user", []string{"Authorization", basic("", k)}, 200},
			{"leadr-api-key", []string{"leadr-api-key", k}, 200},
			{"bearer and leadr-api-key, same secret", []string{"Authorization", "Bearer " + k, "leadr-api-key", k}, 200},
			{"basic and leadr-api-key, same secret", []string{"Authorization", basic("API", k), "leadr-api-key", k}, 200},
			{"empty leadr-api-key is absent", []string{"Authorization", "Bearer " + k, "leadr-api-key", ""}, 200},
			{"empty authorization is absent", []string{"Authorization", "", "leadr-api-key", k}, 200},
			{"blank leadr-api-key is absent", []string{"Authorization", "Bearer " + k, "leadr-api-key", "   "}, 200},

			{"no key", nil, 401},
			{"both headers empty", []string{"Authorization", "", "leadr-api-key", ""}, 401},
			{"two different secrets: bearer and leadr-api-key", []string{"Authorization", "Bearer " + k, "leadr-api-key", other}, 401},
			{"two different secrets: basic and leadr-api-key", []string{"Authorization", basic("API", other), "leadr-api-key", k}, 401},
			{"two different secrets: superadmin and admin", []string{"Authorization", "Bearer " + e.super, "leadr-api-key", k}, 401},
			{"bearer without a token", []string{"Authorization", "Bearer"}, 401},
			{"basic that is not base64", []string{"Authorization", "Basic %%%"}, 401},
			{"basic without a colon", []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(k))}, 401},
			{"basic with an empty password", []string{"Authorization", basic("API", "")}, 401},
			{"unknown scheme", []string{"Authorization", "Token " + k}, 401},
			{"secret without a scheme", []string{"Authorization", k}, 401},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.forT(t).req("GET", "/v1/accounts/"+id, nil, tc.headers...)
				if tc.status == 200 {
					wantBody(t, r, 200, accountBody(id, "Presentation Inc", "presentation-inc", "active"))
					return
				}
				wantUnauthorized(t, r)
				for _, s := range []string{k, other, e.super} {
					if strings.Contains(string(r.Body), s) {
						t.Fatalf("a secret in an error body: %s", r)
					}
				}
			})
		}

		// The same holds on every route: each of them needs a key.
		for _, rt := range []struct{ method, path string }{
			{"POST", "/v1/accounts"}, {"GET", "/v1/accounts"}, {"GET", "/v1/accounts/" + id}, {"PATCH", "/v1/accounts/" + id},
			// Authentication comes before the path id is looked at, and before the body.
			{"GET", "/v1/accounts/garbage!"}, {"PATCH", "/v1/accounts/account_" + strings.Repeat("0", 24)},
		} {
			wantUnauthorized(t, e.req(rt.method, rt.path, map[string]any{"name": "x", "bogus": 1}))
		}
	})
}

// TestAuthRejectedKeys covers every kind of secret SPEC §3 refuses with a 401.
func TestAuthRejectedKeys(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		svc := e.app.Service
		a := e.account("Rejected Keys Ltd")
		id := str(a, "id")
		accountHex := strings.TrimPrefix(id, "account_")
		good := e.key(id, roster.RoleAdmin)

		mk := func(in roster.KeyCreate) (roster.APIKey, string) {
			t.Helper()
			ck, err := svc.CreateKey(ctx, roster.Operator(), in.Body())
			if err != nil {
				t.Fatal(err)
			}
			return ck.Key, ck.Secret
		}
		works := func(secret string) {
			t.Helper()
			e.must(e.as(secret, "GET", "/v1/accounts", nil), 200)
		}

		revokedKey, revoked := mk(roster.KeyCreate{AccountID: accountHex, Role: roster.RoleAdmin, Name: "to revoke"})
		works(revoked)
		if _, err := svc.PatchKey(ctx, roster.Operator(), revokedKey.ID, []byte(`{"status":"revoked"}`)); err != nil {
			t.Fatal(err)
		}
		superKey, revokedSuper := mk(roster.KeyCreate{Role: roster.RoleSuperadmin, Name: "second superadmin"})
		works(revokedSuper)
		if _, err := svc.PatchKey(ctx, roster.Operator(), superKey.ID, []byte(`{"status":"revoked"}`)); err != nil {
			t.Fatal(err)
		}
		deletedKey, deleted := mk(roster.KeyCreate{AccountID: accountHex, Role: roster.RoleReader, Name: "to delete"})
		works(deleted)
		if _, err := svc.PatchKey(ctx, roster.Operator(), deletedKey.ID, []byte(`{"deleted":true}`)); err != nil {
			t.Fatal(err)
		}
		expired := e.expiredKey(accountHex, roster.RoleAdmin, "expired").Secret
		future := svc.Now().Add(time.Hour)
		_, expiring := mk(roster.KeyCreate{AccountID: accountHex, Role: roster.RoleAdmin, Name: "expires later", ExpiresAt: &future})
		works(expiring)

		gone := e.account("Deleted Tenant")
		goneAdmin, goneReader := e.key(str(gone, "id"), roster.RoleAdmin), e.key(str(gone, "id"), roster.RoleReader)
		works(goneAdmin)
		works(goneReader)
		e.must(e.as(e.super, "PATCH", "/v1/accounts/"+str(gone, "id"), map[string]any{"deleted": true}), 200)

		// swap replaces the character at i with another base62 character.
		swap := func(s string, i int) string {
			c := byte('A')
			if s[i] == 'A' {
				c = 'B'
			}
			return s[:i] + string(c) + s[i+1:]
		}
		for _, tc := range []struct{ name, secret string }{
			{"garbage", "not-a-key"},
			{"prefix only", "rk_"},
			{"too short", good[:len(good)-1]},
			{"too long", good + "0"},
			{"prefix in upper case", "RK_" + good[3:]},
			{"a character outside base62", good[:10] + "!" + good[11:]},
			{"wrong checksum", swap(good, len(good)-1)},
			{"body altered, checksum kept", swap(good, 5)},
			{"unknown", roster.NewSecret()},
			{"revoked", revoked},
			{"revoked superadmin", revokedSuper},
			{"expired", expired},
			{"deleted key", deleted},
			{"admin of a deleted account", goneAdmin},
			{"reader of a deleted account", goneReader},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := e.forT(t)
				for _, h := range [][]string{
					{"Authorization", "Bearer " + tc.secret},
					{"Authorization", basic("API", tc.secret)},
					{"leadr-api-key", tc.secret},
				} {
					r := e.req("GET", "/v1/accounts", nil, h...)
					wantUnauthorized(t, r)
					if strings.Contains(string(r.Body), tc.secret) {
						t.Fatalf("the secret is in the body: %s", r)
					}
				}
				wantUnauthorized(t, e.as(tc.secret, "PATCH", "/v1/accounts/"+id, map[string]any{"name": "Renamed"}))
			})
		}
		// The keys that were refused changed nothing; the good ones still work.
		works(good)
		works(expiring)
		wantBody(t, e.as(e.super, "GET", "/v1/accounts/"+id, nil), 200, accountBody(id, "Rejected Keys Ltd", "rejected-keys-ltd", "active"))
	})
}

// tenants is the cast of the role tests: account A (active) with an admin and a reader,
// account B with an admin, account S (suspended) with an admin and a reader.
type tenants struct {
	a, b, s                                  string // account ids
	adminA, readerA, adminB, adminS, readerS string // secrets
}

func newTenants(e *env, label string) tenants {
	e.t.Helper()
	var tn tenants
	tn.a = str(e.account(label+" Alpha"), "id")
	tn.b = str(e.account(label+" Beta"), "id")
	tn.s = str(e.account(label+" Suspended"), "id")
	e.must(e.as(e.super, "PATCH", "/v1/accounts/"+tn.s, map[string]any{"status": "suspended"}), 200)
	tn.adminA, tn.readerA = e.key(tn.a, roster.RoleAdmin), e.key(tn.a, roster.RoleReader)
	tn.adminB = e.key(tn.b, roster.RoleAdmin)
	tn.adminS, tn.readerS = e.key(tn.s, roster.RoleAdmin), e.key(tn.s, roster.RoleReader)
	return tn
}

// TestAuthRoles runs every role against every accounts route (SPEC §3, §7).
func TestAuthRoles(t *testing.T) {
	t.Parallel()
	type role struct {
		name   string
		key    func(e *env, tn tenants) string
		target func(tn tenants) string   // the account its path routes name
		sees   func(tn tenants) []string // what its list shows
	}
	all := func(tn tenants) []string { return []string{tn.a, tn.b, tn.s} }
	roles := []role{
		{"superadmin", func(e *env, tn tenants) string { return e.super }, func(tn tenants) string { return tn.a }, all},
		{"admin", func(e *env, tn tenants) string { return tn.adminA }, func(tn tenants) string { return tn.a }, func(tn tenants) []string { return []string{tn.a} }},
		{"reader", func(e *env, tn tenants) string { return tn.readerA }, func(tn tenants) string { return tn.a }, func(tn tenants) []string { return []string{tn.a} }},
		{"another account's admin", func(e *env, tn tenants) string { return tn.adminB }, func(tn tenants) string { return tn.a }, func(tn tenants) []string { return []string{tn.b} }},
		{"suspended account's admin", func(e *env, tn tenants) string { return tn.adminS }, func(tn tenants) string { return tn.s }, func(tn tenants) []string { return []string{tn.s} }},
		{"suspended account's reader", func(e *env, tn tenants) string { return tn.readerS }, func(tn tenants) string { return tn.s }, func(tn tenants) []string { return []string{tn.s} }},
	}
	type want struct {
		status int
		code   string // for errors
	}
	ok := func(s int) want { return want{status: s} }
	forbidden := want{403, "forbidden"}
	suspended := want{403, "account_suspended"}
	// One column per route: create, list, get, patch name/slug, patch status, patch deleted.
	table := map[string][6]want{
		"superadmin":                 {ok(201), ok(200), ok(200), ok(200), ok(200), ok(200)},
		"admin":                      {forbidden, ok(200), ok(200), ok(200), forbidden, forbidden},
		"reader":                     {forbidden, ok(200), ok(200), forbidden, forbidden, forbidden},
		"another account's admin":    {forbidden, ok(200), forbidden, forbidden, forbidden, forbidden},
		"suspended account's admin":  {forbidden, ok(200), ok(200), suspended, suspended, suspended},
		"suspended account's reader": {forbidden, ok(200), ok(200), forbidden, forbidden, forbidden},
	}
	routes := []string{"create", "list", "get", "patch name and slug", "patch status", "patch deleted"}

	engines(t, func(t *testing.T, e *env) {
		// Refused writes are checked to change nothing, so they and the reads share one cast;
		// each write that succeeds gets a fresh one.
		shared := newTenants(e, "Roles Shared")
		n := 0
		for _, rl := range roles {
			for col, route := range routes {
				w := table[rl.name][col]
				t.Run(rl.name+"/"+route, func(t *testing.T) {
					e := e.forT(t)
					n++
					label := "Roles " + string(rune('A'+n/26)) + string(rune('a'+n%26))
					tn := shared
					if w.code == "" && strings.HasPrefix(route, "patch") {
						tn = newTenants(e, label)
					}
					key, target := rl.key(e, tn), rl.target(tn)
					before := e.must(e.as(e.super, "GET", "/v1/accounts/"+target, nil), 200).Obj()
					var r resp
					switch route {
					case "create":
						r = e.as(key, "POST", "/v1/accounts", map[string]any{"name": label + " New"})
					case "list":
						r = e.as(key, "GET", "/v1/accounts?limit=100", nil)
					case "get":
						r = e.as(key, "GET", "/v1/accounts/"+target, nil)
					case "patch name and slug":
						r = e.as(key, "PATCH", "/v1/accounts/"+target, map[string]any{"name": label + " Renamed", "slug": "renamed-" + strings.ToLower(label[6:])})
					case "patch status":
						to := "suspended"
						if str(before, "status") == "suspended" {
							to = "active"
						}
						r = e.as(key, "PATCH", "/v1/accounts/"+target, map[string]any{"status": to})
					case "patch deleted":
						r = e.as(key, "PATCH", "/v1/accounts/"+target, map[string]any{"deleted": true})
					}
					after := e.as(e.super, "GET", "/v1/accounts/"+target, nil)
					if w.code != "" {
						wantNative(t, r, w.status, w.code)
						// A refused write changes nothing.
						wantBody(t, after, 200, obj{"id": target, "name": str(before, "name"), "slug": str(before, "slug"),
							"status": str(before, "status"), "created_at": str(before, "created_at"), "updated_at": str(before, "updated_at")})
						return
					}
					switch route {
					case "create":
						wantBody(t, r, 201, accountBody(accountID, label+" New", strings.ToLower(strings.ReplaceAll(label, " ", "-"))+"-new", "active"))
					case "list":
						e.must(r, 200)
						got := ids(t, r)
						if rl.name == "superadmin" {
							// It sees every account, the cast's among them.
							var cast []string
							for _, id := range got {
								if id == tn.a || id == tn.b || id == tn.s {
									cast = append(cast, id)
								}
							}
							got = cast
						}
						sameIDSet(t, got, rl.sees(tn))
					case "get":
						wantBody(t, r, 200, accountBody(target, str(before, "name"), str(before, "slug"), str(before, "status")))
					case "patch name and slug":
						wantBody(t, r, 200, accountBody(target, label+" Renamed", "renamed-"+strings.ToLower(label[6:]), str(before, "status")))
						wantBody(t, after, 200, obj(r.Obj()))
					case "patch status":
						e.must(r, 200)
						if r.Obj()["status"] == before["status"] {
							t.Fatalf("status did not change: %s", r)
						}
						wantBody(t, after, 200, obj(r.Obj()))
					case "patch deleted":
						wantBody(t, r, 200, accountBody(target, str(before, "name"), str(before, "slug"), str(before, "status")))
						wantNative(t, after, 404, "not_found")
					}
				})
			}
		}
	})
}

// TestAuthRolesUnchangedValues: a superadmin-only field sent by another role is refused only
// when it would change the stored value (SPEC §5).
func TestAuthRolesUnchangedValues(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		tn := newTenants(e, "Unchanged")
		for _, tc := range []struct {
			name   string
			key    string
			target string
			body   map[string]any
			status int
			code   string
		}{
			{"admin, same status", tn.adminA, tn.a, map[string]any{"status": "active"}, 200, ""},
			{"admin, deleted false", tn.adminA, tn.a, map[string]any{"deleted": false}, 200, ""},
			{"admin, null status and deleted", tn.adminA, tn.a, map[string]any{"status": nil, "deleted": nil}, 200, ""},
			{"admin, same status with a new name", tn.adminA, tn.a, map[string]any{"status": "active", "name": "Unchanged Alpha Two"}, 200, ""},
			{"admin, new status", tn.adminA, tn.a, map[string]any{"status": "suspended", "name": "Unchanged Alpha Three"}, 403, "forbidden"},
			{"reader, same status", tn.readerA, tn.a, map[string]any{"status": "active"}, 403, "forbidden"},
			{"reader, empty body", tn.readerA, tn.a, map[string]any{}, 403, "forbidden"},
			{"suspended admin, same status", tn.adminS, tn.s, map[string]any{"status": "suspended"}, 403, "account_suspended"},
			{"suspended admin, empty body", tn.adminS, tn.s, map[string]any{}, 403, "account_suspended"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := e.forT(t)
				r := e.as(tc.key, "PATCH", "/v1/accounts/"+tc.target, tc.body)
				if tc.code != "" {
					wantNative(t, r, tc.status, tc.code)
					return
				}
				e.must(r, tc.status)
			})
		}
		wantBody(t, e.as(tn.adminA, "GET", "/v1/accounts/"+tn.a, nil), 200, accountBody(tn.a, "Unchanged Alpha Two", "unchanged-alpha", "active"))
	})
}

// TestAuthSuspension: suspension and reactivation take effect on the next request.
func TestAuthSuspension(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := str(e.account("Flip Flop"), "id")
		admin, reader := e.key(a, roster.RoleAdmin), e.key(a, roster.RoleReader)
		e.must(e.as(admin, "PATCH", "/v1/accounts/"+a, map[string]any{"name": "Flip Flop One"}), 200)
		e.must(e.as(e.super, "PATCH", "/v1/accounts/"+a, map[string]any{"status": "suspended"}), 200)
		wantNative(t, e.as(admin, "PATCH", "/v1/accounts/"+a, map[string]any{"name": "Flip Flop Two"}), 403, "account_suspended")
		wantBody(t, e.as(admin, "GET", "/v1/accounts/"+a, nil), 200, accountBody(a, "Flip Flop One", "flip-flop", "suspended"))
		wantBody(t, e.as(reader, "GET", "/v1/accounts/"+a, nil), 200, accountBody(a, "Flip Flop One", "flip-flop", "suspended"))
		sameIDs(t, ids(t, e.must(e.as(admin, "GET", "/v1/accounts", nil), 200)), []string{a})
		e.must(e.as(e.super, "PATCH", "/v1/accounts/"+a, map[string]any{"status": "active"}), 200)
		wantBody(t, e.as(admin, "PATCH", "/v1/accounts/"+a, map[string]any{"name": "Flip Flop Three"}), 200,
			accountBody(a, "Flip Flop Three", "flip-flop", "active"))
	})
}

// TestAuthTenancy: an account id other than the caller's own is 403 for a non-superadmin,
// whatever it is; a superadmin gets 404 for a well-formed unknown id and 422 for a malformed one.
func TestAuthTenancy(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		tn := newTenants(e, "Tenancy")
		bHex := strings.TrimPrefix(tn.b, "account_")
		unknown := "account_" + strings.Repeat("0", 23) + "1"
		others := []string{
			tn.b, bHex, strings.ToUpper(bHex), "account_" + strings.ToUpper(bHex),
			unknown, strings.TrimPrefix(unknown, "account_"), "account_abc", "account_" + strings.Repeat("f", 25),
			"garbage!", "account_", "account_a-b", "entity_" + bHex, "123",
		}
		callers := map[string]string{"admin": tn.adminA, "reader": tn.readerA, "suspended admin": tn.adminS, "another account's admin": tn.adminB}
		for name, key := range callers {
			for _, id := range others {
				if key == tn.adminB && (id == tn.b || strings.EqualFold(strings.TrimPrefix(id, "account_"), bHex)) {
					continue
				}
				t.Run(name+"/"+id, func(t *testing.T) {
					e := e.forT(t)
					wantNative(t, e.as(key, "GET", "/v1/accounts/"+id, nil), 403, "forbidden")
					// Tenancy comes before validation: an invalid body does not change the answer.
					wantNative(t, e.as(key, "PATCH", "/v1/accounts/"+id, map[string]any{"name": "x", "junk": true}), 403, "forbidden")
					wantNative(t, e.as(key, "PATCH", "/v1/accounts/"+id, map[string]any{"name": "Valid Name"}), 403, "forbidden")
				})
			}
		}
		// Nothing changed on B.
		wantBody(t, e.as(e.super, "GET", "/v1/accounts/"+tn.b, nil), 200, accountBody(tn.b, "Tenancy Beta", "tenancy-beta", "active"))

		// Its own account in any accepted id form.
		aHex := strings.TrimPrefix(tn.a, "account_")
		for _, id := range []string{tn.a, aHex, strings.ToUpper(aHex), "account_" + strings.ToUpper(aHex)} {
			wantBody(t, e.as(tn.readerA, "GET", "/v1/accounts/"+id, nil), 200, accountBody(tn.a, "Tenancy Alpha", "tenancy-alpha", "active"))
		}

		for _, tc := range []struct {
			id     string
			status int
		}{
			{unknown, 404}, {strings.TrimPrefix(unknown, "account_"), 404}, {"account_abc", 404}, {"account_" + strings.Repeat("f", 25), 404},
			{"garbage!", 422}, {"account_", 422}, {"account_a-b", 422}, {"entity_" + bHex, 422}, {"123", 422}, {bHex + "0", 422},
		} {
			t.Run("superadmin/"+tc.id, func(t *testing.T) {
				e := e.forT(t)
				get := e.as(e.super, "GET", "/v1/accounts/"+tc.id, nil)
				patch := e.as(e.super, "PATCH", "/v1/accounts/"+tc.id, map[string]any{"name": "Valid Name"})
				if tc.status == 404 {
					wantNative(t, get, 404, "not_found")
					wantNative(t, patch, 404, "not_found")
					return
				}
				wantProblems(t, get, `["path","account_id"] string_pattern_mismatch`)
				wantProblems(t, patch, `["path","account_id"] string_pattern_mismatch`)
			})
		}
	})
}

// TestAuthQueryAccountID: ?account_id= is accepted on every /v1 route; for anyone but a
// superadmin it must be the caller's own account.
func TestAuthQueryAccountID(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		tn := newTenants(e, "Query")
		aHex := strings.TrimPrefix(tn.a, "account_")
		unknown := "account_" + strings.Repeat("ab", 12)
		for _, q := range []string{tn.b, strings.TrimPrefix(tn.b, "account_"), unknown, "garbage!", "account_abc"} {
			t.Run("admin/"+q, func(t *testing.T) {
				e := e.forT(t)
				for _, key := range []string{tn.adminA, tn.readerA} {
					wantNative(t, e.as(key, "GET", "/v1/accounts?account_id="+q, nil), 403, "forbidden")
					wantNative(t, e.as(key, "GET", "/v1/accounts/"+tn.a+"?account_id="+q, nil), 403, "forbidden")
					wantNative(t, e.as(key, "PATCH", "/v1/accounts/"+tn.a+"?account_id="+q, map[string]any{"name": "Query Renamed"}), 403, "forbidden")
					wantNative(t, e.as(key, "POST", "/v1/accounts?account_id="+q, map[string]any{"name": "Query New"}), 403, "forbidden")
				}
			})
		}
		for _, q := range []string{tn.a, aHex, strings.ToUpper(aHex), ""} {
			r := e.as(tn.readerA, "GET", "/v1/accounts?account_id="+q, nil)
			sameIDs(t, ids(t, e.must(r, 200)), []string{tn.a})
			e.must(e.as(tn.readerA, "GET", "/v1/accounts/"+tn.a+"?account_id="+q, nil), 200)
		}
		wantBody(t, e.as(tn.adminA, "PATCH", "/v1/accounts/"+tn.a+"?account_id="+aHex, map[string]any{"name": "Query Renamed"}), 200,
			accountBody(tn.a, "Query Renamed", "query-alpha", "active"))

		// A superadmin scopes the list with it.
		sameIDs(t, ids(t, e.must(e.as(e.super, "GET", "/v1/accounts?account_id="+tn.b, nil), 200)), []string{tn.b})
		sameIDs(t, ids(t, e.must(e.as(e.super, "GET", "/v1/accounts?account_id="+strings.ToUpper(aHex), nil), 200)), []string{tn.a})
		wantBody(t, e.as(e.super, "GET", "/v1/accounts?account_id="+unknown, nil), 200, obj{"data": arr{},
			"pagination": obj{"count": 0, "has_next": false, "has_prev": false, "next_cursor": nil, "prev_cursor": nil}})
		wantProblems(t, e.as(e.super, "GET", "/v1/accounts?account_id=garbage!", nil), `["query","account_id"] string_pattern_mismatch`)
	})
}

// TestAuthSurfaces: the three ways to present a key work on every surface, and a refused key
// is a 401 in the shape of the path's surface, always with WWW-Authenticate.
func TestAuthSurfaces(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		id := str(e.account("Surfaces Co"), "id")
		k := e.key(id, roster.RoleAdmin)
		paths := map[string]string{
			"native":      "/v1/accounts/" + id,
			"lead bank":   "/v0/accounts/" + id + "/entity_relationships",
			"leadconduit": "/entities",
		}
		refused := map[string]obj{
			"native":      nativeErr("unauthorized"),
			"lead bank":   leadBankErr("unauthorized", "Unauthorized", 401),
			"leadconduit": {"detail": anyText, "code": "unauthorized", "error": "authentication failed"},
		}
		for surface, path := range paths {
			t.Run(surface, func(t *testing.T) {
				e := e.forT(t)
				for _, h := range [][]string{
					{"Authorization", "Bearer " + k},
					{"Authorization", basic("API", k)},
					{"Authorization", basic("anyone", k)},
					{"leadr-api-key", k},
				} {
					e.must(e.req("GET", path, nil, h...), 200)
				}
				for _, h := range [][]string{
					nil,
					{"Authorization", "Bearer rk_garbage"},
					{"Authorization", basic("API", roster.NewSecret())},
					{"leadr-api-key", otherLast(k)},
					{"Authorization", "Bearer " + k, "leadr-api-key", e.super},
				} {
					r := e.req("GET", path, nil, h...)
					wantBody(t, r, 401, refused[surface])
					if got := r.Header.Get("WWW-Authenticate"); got != `Bearer realm="roster", Basic realm="roster"` {
						t.Fatalf("WWW-Authenticate: %q", got)
					}
				}
			})
		}
	})
}

// otherLast is secret with its last character changed: a well-formed key that is not the key.
func otherLast(secret string) string {
	last := "0"
	if strings.HasSuffix(secret, last) {
		last = "1"
	}
	return secret[:len(secret)-1] + last
}
