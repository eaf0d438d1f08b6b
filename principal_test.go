package roster_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// TestAllow: who may call a route of each access (SPEC §3), for every role, an account key of a
// suspended account included, against the path's account in each form a client may send.
func TestAllow(t *testing.T) {
	t.Parallel()
	const own, other = "0123456789abcdef01234567", "89abcdef0123456789abcdef"
	callers := map[string]roster.Principal{
		"superadmin":       {KeyID: "k0", Role: roster.RoleSuperadmin},
		"admin":            {KeyID: "k1", AccountID: own, Role: roster.RoleAdmin},
		"reader":           {KeyID: "k2", AccountID: own, Role: roster.RoleReader},
		"suspended admin":  {KeyID: "k3", AccountID: own, Role: roster.RoleAdmin, Suspended: true},
		"suspended reader": {KeyID: "k4", AccountID: own, Role: roster.RoleReader, Suspended: true},
	}
	// The path's account as sent, and what a superadmin resolves it to.
	paths := []struct {
		name, raw, canonical string
	}{
		{"own", "account_" + own, own},
		{"own bare upper-case", strings.ToUpper(own), own},
		{"other", "account_" + other, other},
		{"unknown", unknownAccount, strings.Repeat("0", 24)},
		{"well formed, names nothing", "account_abc", ""},
		{"malformed", "garbage!", ""},
		{"upper-case prefix", "ACCOUNT_" + own, ""},
		{"empty", "", ""},
	}
	const (
		yes       = ""
		forbidden = string(roster.CodeForbidden)
		suspended = string(roster.CodeAccountSuspended)
		pattern   = `["path","account_id"] string_pattern_mismatch`
	)
	// For the accesses that ignore the path, one outcome per caller; for those decided on the
	// path's account, one per caller and path (in the order of paths).
	flat := map[roster.Access]map[string]string{
		roster.Public:     {"superadmin": yes, "admin": yes, "reader": yes, "suspended admin": yes, "suspended reader": yes},
		roster.AnyKey:     {"superadmin": yes, "admin": yes, "reader": yes, "suspended admin": yes, "suspended reader": yes},
		roster.Superadmin: {"superadmin": yes, "admin": forbidden, "reader": forbidden, "suspended admin": forbidden, "suspended reader": forbidden},
		roster.Writer:     {"superadmin": yes, "admin": yes, "reader": forbidden, "suspended admin": suspended, "suspended reader": forbidden},
		roster.KeyManager: {"superadmin": yes, "admin": yes, "reader": forbidden, "suspended admin": yes, "suspended reader": forbidden},
		roster.KeyWriter:  {"superadmin": yes, "admin": yes, "reader": forbidden, "suspended admin": suspended, "suspended reader": forbidden},
		"no such access":  {"superadmin": forbidden, "admin": forbidden, "reader": forbidden, "suspended admin": forbidden, "suspended reader": forbidden},
	}
	superPaths := []string{yes, yes, yes, yes, yes, pattern, pattern, pattern}
	ownOnly := func(ownOutcome string) []string {
		return []string{ownOutcome, ownOutcome, forbidden, forbidden, forbidden, forbidden, forbidden, forbidden}
	}
	byPath := map[roster.Access]map[string][]string{
		roster.AccountReader: {"superadmin": superPaths, "admin": ownOnly(yes), "reader": ownOnly(yes),
			"suspended admin": ownOnly(yes), "suspended reader": ownOnly(yes)},
		roster.AccountWriter: {"superadmin": superPaths, "admin": ownOnly(yes), "reader": ownOnly(forbidden),
			"suspended admin": ownOnly(suspended), "suspended reader": ownOnly(forbidden)},
	}
	if len(flat)+len(byPath) != len(roster.Accesses)+1 {
		t.Fatalf("the table covers %d accesses; roster has %d", len(flat)+len(byPath)-1, len(roster.Accesses))
	}
	for name, p := range callers {
		for access, want := range flat {
			for _, path := range paths {
				account, err := p.Allow(access, path.raw, "path", "account_id")
				if got := strings.Join(outcome(err), ""); got != want[name] || account != "" {
					t.Errorf("%s, %s, %s path: %q (account %q), want %q", name, access, path.name, got, account, want[name])
				}
			}
		}
		for access, want := range byPath {
			for i, path := range paths {
				account, err := p.Allow(access, path.raw, "path", "account_id")
				got := strings.Join(outcome(err), "")
				// The account is what a route that lets the caller in goes on with.
				if got != want[name][i] || got == yes && account != path.canonical {
					t.Errorf("%s, %s, %s path: %q (account %q), want %q (account %q)", name, access, path.name, got, account, want[name][i], path.canonical)
				}
			}
		}
	}
}

// TestAuthenticate: a secret becomes the principal of its key, the suspension of its account
// included; any secret that cannot be used is 401 (SPEC §3).
func TestAuthenticate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.account("Authentic Co")
	secret := func(body map[string]any) (string, string) {
		ck, err := f.svc.CreateKey(f.ctx, roster.Operator(), jsonBody(body))
		if err != nil {
			t.Fatal(err)
		}
		return ck.Secret, ck.Key.ID
	}
	admin, _ := secret(map[string]any{"name": "admin", "account_id": a.ID})
	reader, _ := secret(map[string]any{"name": "reader", "account_id": a.ID, "role": "reader"})
	revoked, revokedID := secret(map[string]any{"name": "revoked", "account_id": a.ID})
	deleted, deletedID := secret(map[string]any{"name": "deleted", "account_id": a.ID})
	expiring, _ := secret(map[string]any{"name": "expiring", "account_id": a.ID, "expires_at": f.clock().Add(time.Minute).Format(time.RFC3339)})
	super, _ := secret(map[string]any{"name": "super", "role": "superadmin"})
	for _, patch := range []struct{ id, body string }{{revokedID, `{"status":"revoked"}`}, {deletedID, `{"deleted":true}`}} {
		if _, err := f.svc.PatchKey(f.ctx, roster.Operator(), patch.id, []byte(patch.body)); err != nil {
			t.Fatal(err)
		}
	}
	gone := f.account("Gone Co")
	goneKey, _ := secret(map[string]any{"name": "gone", "account_id": gone.ID})
	f.patchAccount(gone.ID, map[string]any{"deleted": true})
	s := f.account("Suspended Co")
	suspendedKey, _ := secret(map[string]any{"name": "suspended", "account_id": s.ID})
	f.patchAccount(s.ID, map[string]any{"status": "suspended"})

	for _, tc := range []struct {
		name, secret string
		want         roster.Principal // KeyID is not compared
		outcome      []string
	}{
		{"admin", admin, roster.Principal{AccountID: a.ID, Role: roster.RoleAdmin}, success},
		{"reader", reader, roster.Principal{AccountID: a.ID, Role: roster.RoleReader}, success},
		{"superadmin", super, roster.Principal{Role: roster.RoleSuperadmin}, success},
		{"not yet expired", expiring, roster.Principal{AccountID: a.ID, Role: roster.RoleAdmin}, success},
		{"suspended account", suspendedKey, roster.Principal{AccountID: s.ID, Role: roster.RoleAdmin, Suspended: true}, success},
		{"revoked", revoked, roster.Principal{}, refused(roster.CodeUnauthorized)},
		{"deleted", deleted, roster.Principal{}, refused(roster.CodeUnauthorized)},
		{"deleted account", goneKey, roster.Principal{}, refused(roster.CodeUnauthorized)},
		{"empty", "", roster.Principal{}, refused(roster.CodeUnauthorized)},
		{"garbage", "rk_nope", roster.Principal{}, refused(roster.CodeUnauthorized)},
		{"bad checksum", admin[:len(admin)-1] + string(admin[len(admin)-1]^1), roster.Principal{}, refused(roster.CodeUnauthorized)},
		{"well formed, unknown", roster.NewSecret(), roster.Principal{}, refused(roster.CodeUnauthorized)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := f.svc.Authenticate(f.ctx, tc.secret)
			wantOutcome(t, err, tc.outcome...)
			p.KeyID = ""
			if p != tc.want {
				t.Fatalf("principal %+v, want %+v", p, tc.want)
			}
		})
	}
	f.advance(time.Minute)
	_, err := f.svc.Authenticate(f.ctx, expiring)
	wantOutcome(t, err, refused(roster.CodeUnauthorized)...)
}

// TestWriteRechecksCaller: a write re-checks, in its own transaction, what let its caller in: a
// key revoked, deleted or expired, or an account suspended or deleted after the request was
// authenticated refuses the write as the next request would be refused (SPEC §3, §11).
func TestWriteRechecksCaller(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	body := jsonBody(map[string]any{"name": "late", "module_ids": []any{}, "source": nil, "recipient": nil})
	for _, tc := range []struct {
		name   string
		change func(a roster.Account, p roster.Principal)
		want   []string
	}{
		{"nothing changed", func(roster.Account, roster.Principal) {}, success},
		{"account suspended", func(a roster.Account, _ roster.Principal) {
			f.patchAccount(a.ID, map[string]any{"status": "suspended"})
		},
			refused(roster.CodeAccountSuspended)},
		{"account deleted", func(a roster.Account, _ roster.Principal) { f.patchAccount(a.ID, map[string]any{"deleted": true}) },
			refused(roster.CodeUnauthorized)},
		{"key revoked", func(_ roster.Account, p roster.Principal) {
			if _, err := f.svc.PatchKey(f.ctx, roster.Operator(), p.KeyID, []byte(`{"status":"revoked"}`)); err != nil {
				t.Fatal(err)
			}
		}, refused(roster.CodeUnauthorized)},
		{"key deleted", func(_ roster.Account, p roster.Principal) {
			if _, err := f.svc.PatchKey(f.ctx, roster.Operator(), p.KeyID, []byte(`{"deleted":true}`)); err != nil {
				t.Fatal(err)
			}
		}, refused(roster.CodeUnauthorized)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := f.account("Recheck " + tc.name)
			p := f.key(a.ID, roster.RoleAdmin)
			tc.change(a, p)
			_, err := f.svc.CreateEntity(f.ctx, f.req(p), body)
			wantOutcome(t, err, tc.want...)
		})
	}
	t.Run("superadmin key revoked", func(t *testing.T) {
		su := f.keyFor(`{"name":"temporary","role":"superadmin"}`)
		if _, err := f.svc.PatchKey(f.ctx, f.req(f.super), su.KeyID, []byte(`{"status":"revoked"}`)); err != nil {
			t.Fatal(err)
		}
		_, err := f.svc.CreateAccount(f.ctx, f.req(su), []byte(`{"name":"Never Made"}`))
		wantOutcome(t, err, refused(roster.CodeUnauthorized)...)
	})
}
