package roster_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// TestKeyCreate: who may make which key (SPEC §3): a superadmin any role for any account and
// superadmin keys without one, an admin keys of its own account only, with no existence oracle;
// an unknown account is 404 once the body is valid; expires_at must be in the future.
func TestKeyCreate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, b := f.account("Keys Alpha"), f.account("Keys Beta")
	gone := f.account("Keys Gone")
	f.patchAccount(gone.ID, map[string]any{"deleted": true})
	s := f.account("Keys Suspended")
	adminA, adminS := f.key(a.ID, roster.RoleAdmin), f.key(s.ID, roster.RoleAdmin)
	f.patchAccount(s.ID, map[string]any{"status": "suspended"})
	now := f.clock()
	future := now.Add(48 * time.Hour)
	past := now.Add(-time.Minute).Format(time.RFC3339)
	type made struct {
		account string
		role    roster.Role
		expires *time.Time
	}
	for _, tc := range []struct {
		name string
		p    roster.Principal
		body any
		want []string
		made made
	}{
		{"superadmin, role defaults to admin", f.super, map[string]any{"account_id": a.ID, "name": "ops"}, success, made{a.ID, roster.RoleAdmin, nil}},
		{"superadmin, reader, user_id ignored", f.super, map[string]any{"account_id": "account_" + a.ID, "name": "r", "role": "reader", "user_id": "u_1"}, success, made{a.ID, roster.RoleReader, nil}},
		{"superadmin, bare upper-case account", f.super, map[string]any{"account_id": strings.ToUpper(b.ID), "name": "b"}, success, made{b.ID, roster.RoleAdmin, nil}},
		{"superadmin, for a suspended account", f.super, map[string]any{"account_id": s.ID, "name": "s"}, success, made{s.ID, roster.RoleAdmin, nil}},
		{"superadmin key, account null", f.super, map[string]any{"account_id": nil, "name": "su", "role": "superadmin"}, success, made{"", roster.RoleSuperadmin, nil}},
		{"expiry null", f.super, map[string]any{"account_id": a.ID, "name": "x", "expires_at": nil}, success, made{a.ID, roster.RoleAdmin, nil}},
		{"superadmin key, account omitted", f.super, map[string]any{"name": "su", "role": "superadmin"}, success, made{"", roster.RoleSuperadmin, nil}},
		{"future expiry, kept in UTC", f.super, map[string]any{"account_id": a.ID, "name": "x", "expires_at": future.In(time.FixedZone("x", 3600)).Format(time.RFC3339)}, success, made{a.ID, roster.RoleAdmin, &future}},
		{"superadmin key with an account", f.super, map[string]any{"account_id": a.ID, "name": "x", "role": "superadmin"}, []string{`["body","account_id"] value_error`}, made{}},
		{"unknown account", f.super, map[string]any{"account_id": unknownAccount, "name": "x"}, refused(roster.CodeNotFound), made{}},
		{"unknown account, bare", f.super, map[string]any{"account_id": strings.Repeat("0", 24), "name": "x"}, refused(roster.CodeNotFound), made{}},
		{"account that names nothing", f.super, map[string]any{"account_id": "account_nothex", "name": "x"}, refused(roster.CodeNotFound), made{}},
		{"deleted account", f.super, map[string]any{"account_id": gone.ID, "name": "x"}, refused(roster.CodeNotFound), made{}},
		{"unknown account, bad name: 422 first", f.super, map[string]any{"account_id": unknownAccount, "name": ""}, []string{`["body","name"] string_too_short`}, made{}},
		{"unknown account, bad role: 422 first", f.super, map[string]any{"account_id": "account_nothex", "name": "x", "role": "owner"}, []string{`["body","role"] enum`}, made{}},
		{"malformed account", f.super, map[string]any{"account_id": "acct-1", "name": "x"}, []string{`["body","account_id"] string_pattern_mismatch`}, made{}},
		{"upper-case prefix", f.super, map[string]any{"account_id": "ACCOUNT_" + a.ID, "name": "x"}, []string{`["body","account_id"] string_pattern_mismatch`}, made{}},
		{"empty account", f.super, map[string]any{"account_id": "", "name": "x"}, []string{`["body","account_id"] string_pattern_mismatch`}, made{}},
		{"account a number", f.super, map[string]any{"account_id": 5, "name": "x"}, []string{`["body","account_id"] string_type`}, made{}},
		{"account missing", f.super, map[string]any{"name": "x"}, []string{`["body","account_id"] missing`}, made{}},
		{"account null for an admin key", f.super, map[string]any{"account_id": nil, "name": "x"}, []string{`["body","account_id"] string_type`}, made{}},
		{"role unknown", f.super, map[string]any{"account_id": a.ID, "name": "x", "role": "owner"}, []string{`["body","role"] enum`}, made{}},
		{"name missing", f.super, map[string]any{"account_id": a.ID}, []string{`["body","name"] missing`}, made{}},
		{"name of 101", f.super, map[string]any{"account_id": a.ID, "name": strings.Repeat("n", 101)}, []string{`["body","name"] string_too_long`}, made{}},
		{"extra field", f.super, map[string]any{"account_id": a.ID, "name": "x", "scopes": []any{}}, []string{`["body","scopes"] extra_forbidden`}, made{}},
		{"expiry in the past", f.super, map[string]any{"account_id": a.ID, "name": "x", "expires_at": past}, []string{`["body","expires_at"] value_error`}, made{}},
		{"expiry now", f.super, map[string]any{"account_id": a.ID, "name": "x", "expires_at": now.Format(time.RFC3339Nano)}, []string{`["body","expires_at"] value_error`}, made{}},
		{"expiry not a time", f.super, map[string]any{"account_id": a.ID, "name": "x", "expires_at": "tomorrow"}, []string{`["body","expires_at"] datetime_from_date_parsing`}, made{}},
		{"all problems at once", f.super, map[string]any{"account_id": "nope", "name": "", "expires_at": past},
			[]string{`["body","account_id"] string_pattern_mismatch`, `["body","name"] string_too_short`, `["body","expires_at"] value_error`}, made{}},
		{"no body", f.super, nil, []string{`["body"] missing`}, made{}},

		{"admin, own account", adminA, map[string]any{"account_id": a.ID, "name": "ci", "user_id": "u_1"}, success, made{a.ID, roster.RoleAdmin, nil}},
		{"admin, reader", adminA, map[string]any{"account_id": "account_" + strings.ToUpper(a.ID), "name": "dash", "role": "reader"}, success, made{a.ID, roster.RoleReader, nil}},
		{"admin, past expiry", adminA, map[string]any{"account_id": a.ID, "name": "x", "expires_at": past}, []string{`["body","expires_at"] value_error`}, made{}},
		{"admin, superadmin key for its account", adminA, map[string]any{"account_id": a.ID, "name": "x", "role": "superadmin"}, refused(roster.CodeForbidden), made{}},
		{"admin, superadmin key, account null", adminA, map[string]any{"account_id": nil, "name": "x", "role": "superadmin"}, refused(roster.CodeForbidden), made{}},
		{"admin, superadmin key, no account", adminA, map[string]any{"name": "x", "role": "superadmin"}, refused(roster.CodeForbidden), made{}},
		// The role asked for is judged by the operation, after validation.
		{"admin, superadmin key, bad name", adminA, map[string]any{"name": "", "role": "superadmin"}, []string{`["body","name"] string_too_short`}, made{}},
		{"admin, another account", adminA, map[string]any{"account_id": b.ID, "name": "x"}, refused(roster.CodeForbidden), made{}},
		{"admin, another account, bare", adminA, map[string]any{"account_id": b.ID, "name": "x", "role": "reader"}, refused(roster.CodeForbidden), made{}},
		{"admin, unknown account", adminA, map[string]any{"account_id": unknownAccount, "name": "x"}, refused(roster.CodeForbidden), made{}},
		{"admin, account that names nothing", adminA, map[string]any{"account_id": "account_nothex", "name": "x"}, refused(roster.CodeForbidden), made{}},
		{"admin, malformed account", adminA, map[string]any{"account_id": "acct-1", "name": "x"}, refused(roster.CodeForbidden), made{}},
		{"admin, empty account", adminA, map[string]any{"account_id": "", "name": "x"}, refused(roster.CodeForbidden), made{}},
		{"admin, another account and a bad body: 403 first", adminA, map[string]any{"account_id": b.ID, "name": "", "role": "owner"}, refused(roster.CodeForbidden), made{}},
		{"admin of a suspended account", adminS, map[string]any{"account_id": s.ID, "name": "x"}, refused(roster.CodeAccountSuspended), made{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ck, err := f.svc.CreateKey(f.ctx, f.req(tc.p), requestBody(tc.body, nil))
			wantOutcome(t, err, tc.want...)
			if err != nil {
				return
			}
			k := ck.Key
			if k.AccountID != tc.made.account || k.Role != tc.made.role || k.Revoked || k.Prefix != ck.Secret[:roster.KeyPrefixLen] ||
				(k.ExpiresAt == nil) != (tc.made.expires == nil) || k.ExpiresAt != nil && (!k.ExpiresAt.Equal(*tc.made.expires) || k.ExpiresAt.Location() != time.UTC) {
				t.Fatalf("made %+v, want %+v", k, tc.made)
			}
			stored, err := f.svc.Key(f.ctx, f.super, k.ID)
			if err != nil || stored.Name != k.Name || stored.Role != k.Role || stored.AccountID != k.AccountID || stored.Hash != roster.HashSecret(ck.Secret) {
				t.Fatalf("stored %+v (%v), want %+v", stored, err, k)
			}
			p, err := f.svc.Authenticate(f.ctx, ck.Secret)
			if err != nil || p.Role != k.Role || p.AccountID != k.AccountID || p.KeyID != k.ID {
				t.Fatalf("the new key authenticates as %+v (%v)", p, err)
			}
		})
	}
}

// TestKeyCap: at most 100 active keys per account (SPEC §10); revoked, deleted and expired keys
// do not count, nor do superadmin keys.
func TestKeyCap(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.account("Many Keys")
	admin := f.key(a.ID, roster.RoleAdmin) // active: 1
	now := f.clock()
	soon := now.Add(time.Hour)
	before := now.Add(-time.Hour)
	err := f.st.Update(f.ctx, func(tx roster.Tx) error {
		// 97 active keys and one active for an hour: 99 with the admin's; one revoked, one expired.
		for i := range 100 {
			k := roster.APIKey{ID: roster.NewID(now), AccountID: a.ID, Name: "filler", Role: roster.RoleReader, Prefix: "rk_filler",
				Hash: roster.HashSecret(roster.NewSecret()), CreatedAt: now, UpdatedAt: now}
			switch i {
			case 97:
				k.ExpiresAt = &soon
			case 98:
				k.Revoked = true
			case 99:
				k.ExpiresAt = &before
			}
			if err := tx.InsertKey(f.ctx, &k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	doomed, err := f.svc.CreateKey(f.ctx, f.req(admin), jsonBody(map[string]any{"account_id": a.ID, "name": "the 100th"}))
	wantOutcome(t, err, success...)
	capped := []string{`["body","account_id"] value_error`}
	for _, tc := range []struct {
		name string
		p    roster.Principal
		do   func() // before the creation
		want []string
	}{
		{"at 100", admin, func() {}, capped},
		{"at 100, by a superadmin", f.super, func() {}, capped},
		{"superadmin keys do not count", admin, func() { f.keyFor(`{"name":"another superadmin","role":"superadmin"}`) }, capped},
		{"a deletion frees one", admin, func() {
			if _, err := f.svc.PatchKey(f.ctx, f.req(admin), doomed.Key.ID, []byte(`{"deleted":true}`)); err != nil {
				t.Fatal(err)
			}
		}, success},
		{"at 100 again", admin, func() {}, capped},
		{"an expiry frees one", admin, func() { f.advance(2 * time.Hour) }, success},
		{"at 100 once more", admin, func() {}, capped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.do()
			_, err := f.svc.CreateKey(f.ctx, f.req(tc.p), jsonBody(map[string]any{"account_id": a.ID, "name": "one more", "role": "reader"}))
			wantOutcome(t, err, tc.want...)
		})
	}
	// A revocation frees one too.
	if _, err := f.svc.PatchKey(f.ctx, f.req(f.super), admin.KeyID, []byte(`{"status":"revoked"}`)); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.CreateKey(f.ctx, roster.Operator(), jsonBody(map[string]any{"account_id": a.ID, "name": "after a revocation"}))
	wantOutcome(t, err, success...)
}

// TestKeyPatch: a key is renamed, revoked (for good) or deleted by an admin of its account or a
// superadmin; another tenant's key and, for an admin, a superadmin key are 404 (SPEC §3).
func TestKeyPatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.account("Patch Keys")
	admin := f.key(a.ID, roster.RoleAdmin)
	otherAdmin := f.key(f.account("Other Keys").ID, roster.RoleAdmin)
	const (
		fresh   = "a reader key of the account"
		revoked = "the same key, revoked"
		super   = "a superadmin key"
	)
	for _, tc := range []struct {
		name   string
		p      roster.Principal
		target string
		id     string // the key's id as sent: "" for the target's
		body   any
		want   []string
		after  func(k *roster.APIKey) // from the target as it was; nil: unchanged
		gone   bool                   // deleted: 404 from then on
	}{
		{"rename", admin, fresh, "", map[string]any{"name": "renamed"}, success, func(k *roster.APIKey) { k.Name = "renamed" }, false},
		{"rename by a superadmin, prefixed id", f.super, fresh, "key_%s", map[string]any{"name": "renamed"}, success, func(k *roster.APIKey) { k.Name = "renamed" }, false},
		{"read-only fields sent back", admin, fresh, "", map[string]any{"status": "active", "user_id": "u_1", "role": "superadmin",
			"account_id": unknownAccount, "prefix": "x", "expires_at": "never", "last_used_at": 1, "id": "k", "created_at": 2, "updated_at": 3}, success, nil, false},
		{"the same name", admin, fresh, "", map[string]any{"name": "victim"}, success, nil, false},
		{"empty body", admin, fresh, "", map[string]any{}, success, nil, false},
		{"null means not given", admin, fresh, "", map[string]any{"name": nil, "status": nil, "deleted": nil}, success, nil, false},
		{"revoke", admin, fresh, "", map[string]any{"status": "revoked"}, success, func(k *roster.APIKey) { k.Revoked = true }, false},
		{"revocation is final", admin, revoked, "", map[string]any{"status": "active"}, []string{`["body","status"] value_error`}, nil, false},
		{"revocation is final, for a superadmin too", f.super, revoked, "", map[string]any{"status": "active", "name": "back"}, []string{`["body","status"] value_error`}, nil, false},
		{"revoke again: nothing changes", admin, revoked, "", map[string]any{"status": "revoked"}, success, nil, false},
		{"rename a revoked key", admin, revoked, "", map[string]any{"name": "old"}, success, func(k *roster.APIKey) { k.Name = "old" }, false},
		{"deleted false", admin, fresh, "", map[string]any{"deleted": false}, success, nil, false},
		{"delete", admin, fresh, "", map[string]any{"deleted": true}, success, func(k *roster.APIKey) { k.Deleted = true }, true},
		{"delete a revoked key", admin, revoked, "", map[string]any{"deleted": true}, success, func(k *roster.APIKey) { k.Deleted = true }, true},
		{"validation, all at once", admin, fresh, "", map[string]any{"name": "", "status": "expired", "extra": 1},
			[]string{`["body","name"] string_too_short`, `["body","status"] enum`, `["body","extra"] extra_forbidden`}, nil, false},
		{"deleted not a boolean", admin, fresh, "", map[string]any{"deleted": "yes"}, []string{`["body","deleted"] bool_type`}, nil, false},
		{"no body", admin, fresh, "", nil, []string{`["body"] missing`}, nil, false},
		{"malformed id and a bad body", admin, fresh, "key-1", map[string]any{"name": ""}, []string{`["path","key_id"] string_pattern_mismatch`, `["body","name"] string_too_short`}, nil, false},
		{"unknown id", admin, fresh, "key_" + strings.Repeat("0", 24), map[string]any{"name": "x"}, refused(roster.CodeNotFound), nil, false},
		{"id that names nothing", admin, fresh, "key_abc", map[string]any{"name": "x"}, refused(roster.CodeNotFound), nil, false},
		{"another tenant's admin", otherAdmin, fresh, "", map[string]any{"status": "revoked"}, refused(roster.CodeNotFound), nil, false},
		{"an admin, a superadmin key", admin, super, "", map[string]any{"status": "revoked"}, refused(roster.CodeNotFound), nil, false},
		{"a superadmin, a superadmin key", f.super, super, "", map[string]any{"status": "revoked"}, success, func(k *roster.APIKey) { k.Revoked = true }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var k roster.APIKey
			switch tc.target {
			case super:
				ck, err := f.svc.CreateKey(f.ctx, roster.Operator(), []byte(`{"name":"victim","role":"superadmin"}`))
				if err != nil {
					t.Fatal(err)
				}
				k = ck.Key
			default:
				ck, err := f.svc.CreateKey(f.ctx, roster.Operator(), jsonBody(map[string]any{"name": "victim", "role": "reader", "account_id": a.ID}))
				if err != nil {
					t.Fatal(err)
				}
				k = ck.Key
			}
			if tc.target == revoked {
				f.advance(time.Second)
				var err error
				if k, err = f.svc.PatchKey(f.ctx, roster.Operator(), k.ID, []byte(`{"status":"revoked"}`)); err != nil {
					t.Fatal(err)
				}
			}
			id := k.ID
			if tc.id != "" {
				id = strings.ReplaceAll(tc.id, "%s", k.ID)
			}
			f.advance(time.Second)
			got, err := f.svc.PatchKey(f.ctx, f.req(tc.p), id, requestBody(tc.body, nil))
			wantOutcome(t, err, tc.want...)
			want := k
			if tc.after != nil {
				tc.after(&want)
				want.UpdatedAt = f.clock()
			}
			if err == nil && !sameKey(got, want) {
				t.Fatalf("answered %+v, want %+v", got, want)
			}
			stored, err := f.svc.Key(f.ctx, f.super, k.ID)
			if tc.gone {
				wantOutcome(t, err, refused(roster.CodeNotFound)...)
				_, err = f.svc.PatchKey(f.ctx, f.req(f.super), k.ID, []byte(`{"name":"undead"}`))
				wantOutcome(t, err, refused(roster.CodeNotFound)...)
				return
			}
			if err != nil || !sameKey(stored, want) {
				t.Fatalf("stored %+v (%v), want %+v", stored, err, want)
			}
		})
	}
	// An admin may revoke its own key: the answer comes, and its next write is refused.
	if _, err := f.svc.PatchKey(f.ctx, f.req(admin), admin.KeyID, []byte(`{"status":"revoked"}`)); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.PatchKey(f.ctx, f.req(admin), admin.KeyID, []byte(`{"name":"x"}`))
	wantOutcome(t, err, refused(roster.CodeUnauthorized)...)
}

func sameKey(a, b roster.APIKey) bool {
	return a.ID == b.ID && a.AccountID == b.AccountID && a.Name == b.Name && a.Role == b.Role && a.Prefix == b.Prefix &&
		a.Hash == b.Hash && a.Revoked == b.Revoked && a.Deleted == b.Deleted && a.UpdatedAt.Equal(b.UpdatedAt) && a.CreatedAt.Equal(b.CreatedAt)
}

// TestKeyVisibility: which keys a caller reads, by id and in lists: an admin its account's and
// never a superadmin key; a superadmin every key, or one account's (SPEC §3).
func TestKeyVisibility(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, b := f.account("Seen A"), f.account("Seen B")
	adminA, adminB := f.key(a.ID, roster.RoleAdmin), f.key(b.ID, roster.RoleAdmin)
	readerA := f.key(a.ID, roster.RoleReader)
	list := func(p roster.Principal, filters map[string]string) ([]string, error) {
		if filters == nil {
			filters = map[string]string{}
		}
		page, err := f.svc.ListKeys(f.ctx, p, roster.PageRequest{Limit: 100, Filters: filters})
		var ids []string
		for _, k := range page.Items {
			ids = append(ids, k.ID)
		}
		slices.Sort(ids)
		return ids, err
	}
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	for _, tc := range []struct {
		name    string
		p       roster.Principal
		filters map[string]string
		want    []string
		ids     []string
	}{
		{"admin: its account's", adminA, nil, success, sorted(adminA.KeyID, readerA.KeyID)},
		{"admin: its account named", adminA, map[string]string{"account_id": a.ID}, success, sorted(adminA.KeyID, readerA.KeyID)},
		{"admin: another account", adminA, map[string]string{"account_id": b.ID}, refused(roster.CodeForbidden), nil},
		{"admin: by status", adminA, map[string]string{"status": "revoked"}, success, nil},
		{"admin: bad status", adminA, map[string]string{"status": "gone"}, []string{`["query","status"] enum`}, nil},
		{"superadmin: every key", f.super, nil, success, sorted(f.super.KeyID, adminA.KeyID, readerA.KeyID, adminB.KeyID)},
		{"superadmin: one account", f.super, map[string]string{"account_id": b.ID}, success, []string{adminB.KeyID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids, err := list(tc.p, tc.filters)
			wantOutcome(t, err, tc.want...)
			if err == nil && !slices.Equal(ids, tc.ids) {
				t.Fatalf("listed %v, want %v", ids, tc.ids)
			}
		})
	}
	for _, tc := range []struct {
		name string
		p    roster.Principal
		id   string
		want []string
	}{
		{"admin, its own", adminA, adminA.KeyID, success},
		{"admin, its account's reader", adminA, "key_" + readerA.KeyID, success},
		{"admin, another tenant's", adminA, adminB.KeyID, refused(roster.CodeNotFound)},
		{"admin, a superadmin key", adminA, f.super.KeyID, refused(roster.CodeNotFound)},
		{"superadmin, any", f.super, adminB.KeyID, success},
		{"malformed", f.super, "key-1", []string{`["path","key_id"] string_pattern_mismatch`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Key(f.ctx, tc.p, tc.id)
			wantOutcome(t, err, tc.want...)
		})
	}
}
