// Package storetest is the one store test suite that every engine runs: it drives a
// roster.Store through the roster.Tx contract and checks the values that come back, so SQLite
// and PostgreSQL are held to the same behaviour (SPEC §11).
package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// Run runs the suite. open must return a fresh, empty, migrated store and arrange (with
// t.Cleanup) for it to be closed and discarded when the test ends. Subtests run in parallel
// (up to -parallel at once), each on its own store, so open is called concurrently.
func Run(t *testing.T, open func(t *testing.T) roster.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s roster.Store)
	}{
		{"Ping", testPing},
		{"UpdateRollsBack", testUpdateRollsBack},
		{"Accounts", testAccounts},
		{"AccountSoftDelete", testAccountSoftDelete},
		{"AccountConcurrentSlug", testAccountConcurrentSlug},
		{"LockAccount", testLockAccount},
		{"ReadForUpdate", testReadForUpdate},
		{"RelationshipsRaceDelete", testRelationshipsRaceDelete},
		{"CountActiveKeys", testCountActiveKeys},
		{"UpdateLazy", testUpdateLazy},
		{"Keys", testKeys},
		{"ListKeys", testListKeys},
		{"Entities", testEntities},
		{"ListEntitiesFilters", testListEntitiesFilters},
		{"DeleteEntity", testDeleteEntity},
		{"ExistingEntities", testExistingEntities},
		{"Relationships", testRelationships},
		{"PaginateAccounts", testPaginateAccounts},
		{"PaginateAccountsInsertDuringWalk", testPaginateInsertDuringWalk},
		{"PaginateEntities", testPaginateEntities},
		{"PaginateKeys", testPaginateKeys},
		{"PaginateRelationships", testPaginateRelationships},
		{"Idempotency", testIdempotency},
		{"IdempotencyTakeover", testIdempotencyTakeover},
		{"IdempotencyPurge", testIdempotencyPurge},
		{"IdempotencyConcurrentClaim", testIdempotencyConcurrentClaim},
		{"IdempotencyConcurrentTakeover", testIdempotencyConcurrentTakeover},
		{"Nonces", testNonces},
		{"NonceConcurrentSpend", testNonceConcurrentSpend},
		{"Audit", testAudit},
		{"AuditRollback", testAuditRollback},
		{"AuditConcurrentHead", testAuditConcurrentHead},
		{"AuditConcurrentRollback", testAuditConcurrentRollback},
		{"Events", testEvents},
		{"EventsRollback", testEventsRollback},
		{"EventsConcurrentSequence", testEventsConcurrentSequence},
		{"EventsLateCommit", testEventsLateCommit},
		{"EventsRecorded", testEventsRecorded},
		{"EventsPrune", testEventsPrune},
		{"EventsPruneManyAccounts", testEventsPruneManyAccounts},
		{"EventsConcurrentPrune", testEventsConcurrentPrune},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// base is the suite's clock origin: UTC, with microseconds (what storage keeps).
var base = time.Date(2024, time.March, 10, 9, 30, 0, 0, time.UTC).Add(123456 * time.Microsecond)

// at returns base moved by d, truncated to microseconds.
func at(d time.Duration) time.Time { return base.Add(d).Truncate(time.Microsecond) }

func ptr[T any](v T) *T { return &v }

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// --- transaction helpers ---

func update(t *testing.T, s roster.Store, fn func(ctx context.Context, tx roster.Tx) error) {
	t.Helper()
	ctx := t.Context()
	if err := s.Update(ctx, func(tx roster.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("update: %v", err)
	}
}

func view(t *testing.T, s roster.Store, fn func(ctx context.Context, tx roster.Tx) error) {
	t.Helper()
	ctx := t.Context()
	if err := s.View(ctx, func(tx roster.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("view: %v", err)
	}
}

// updateErr runs fn in a write transaction and returns its error (the transaction is rolled
// back when there is one).
func updateErr(t *testing.T, s roster.Store, fn func(ctx context.Context, tx roster.Tx) error) error {
	t.Helper()
	ctx := t.Context()
	return s.Update(ctx, func(tx roster.Tx) error { return fn(ctx, tx) })
}

func viewErr(t *testing.T, s roster.Store, fn func(ctx context.Context, tx roster.Tx) error) error {
	t.Helper()
	ctx := t.Context()
	return s.View(ctx, func(tx roster.Tx) error { return fn(ctx, tx) })
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want one satisfying errors.Is(err, %v)", what, err, target)
	}
}

func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, show(got), show(want))
	}
}

// show dereferences pointers inside structs so a failure message shows values, not addresses.
func show(v any) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice {
		parts := make([]string, rv.Len())
		for i := range parts {
			parts[i] = show(rv.Index(i).Interface())
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	if rv.Kind() != reflect.Struct {
		return fmt.Sprintf("%#v", v)
	}
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < rv.NumField(); i++ {
		if i > 0 {
			b.WriteString(" ")
		}
		f := rv.Field(i)
		b.WriteString(rv.Type().Field(i).Name + ":")
		switch {
		case f.Kind() == reflect.Pointer && f.IsNil():
			b.WriteString("nil")
		case f.Kind() == reflect.Pointer:
			fmt.Fprintf(&b, "&%v", f.Elem().Interface())
		case f.Kind() == reflect.Slice && f.IsNil():
			b.WriteString("nil")
		case f.Type() == reflect.TypeOf([]byte(nil)):
			fmt.Fprintf(&b, "%q", f.Interface())
		default:
			fmt.Fprintf(&b, "%#v", f.Interface())
		}
	}
	b.WriteString("}")
	return b.String()
}

// --- fixtures ---

func newAccount(name, slug string, created time.Time) roster.Account {
	return roster.Account{ID: roster.NewID(created), Name: name, Slug: slug, Status: roster.AccountActive,
		CreatedAt: created, UpdatedAt: created}
}

func insertAccounts(t *testing.T, s roster.Store, as ...*roster.Account) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx roster.Tx) error {
		for _, a := range as {
			if err := tx.InsertAccount(ctx, a); err != nil {
				return fmt.Errorf("insert account %q: %w", a.Slug, err)
			}
		}
		return nil
	})
}

func newKey(accountID, name string, role roster.Role, created time.Time) roster.APIKey {
	id := roster.NewID(created)
	return roster.APIKey{ID: id, AccountID: accountID, Name: name, Role: role, Prefix: "rk_" + id[:9],
		Hash: hash("secret-" + id), CreatedAt: created, UpdatedAt: created}
}

func insertKeys(t *testing.T, s roster.Store, ks ...*roster.APIKey) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx roster.Tx) error {
		for _, k := range ks {
			if err := tx.InsertKey(ctx, k); err != nil {
				return fmt.Errorf("insert key %q: %w", k.Name, err)
			}
		}
		return nil
	})
}

func newEntity(accountID, name string, created time.Time) roster.Entity {
	return roster.Entity{ID: roster.NewID(created), AccountID: accountID, Name: name, ModuleIDs: []string{},
		FlowIDs: []string{}, CreatedAt: created, UpdatedAt: created}
}

func insertEntities(t *testing.T, s roster.Store, es ...*roster.Entity) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx roster.Tx) error {
		for _, e := range es {
			if err := tx.InsertEntity(ctx, e); err != nil {
				return fmt.Errorf("insert entity %q: %w", e.Name, err)
			}
		}
		return nil
	})
}

func getAccount(t *testing.T, s roster.Store, id string) (roster.Account, error) {
	t.Helper()
	var a roster.Account
	err := viewErr(t, s, func(ctx context.Context, tx roster.Tx) error {
		var err error
		a, err = tx.Account(ctx, id)
		return err
	})
	return a, err
}

func getKey(t *testing.T, s roster.Store, id string) (roster.APIKey, error) {
	t.Helper()
	var k roster.APIKey
	err := viewErr(t, s, func(ctx context.Context, tx roster.Tx) error {
		var err error
		k, err = tx.Key(ctx, id)
		return err
	})
	return k, err
}

func keyByHash(t *testing.T, s roster.Store, h string) (roster.Credential, error) {
	t.Helper()
	var c roster.Credential
	err := viewErr(t, s, func(ctx context.Context, tx roster.Tx) error {
		var err error
		c, err = tx.KeyByHash(ctx, h)
		return err
	})
	return c, err
}

// credOf is the credential KeyByHash must find for key k of an account with status st.
func credOf(k roster.APIKey, st roster.AccountStatus) roster.Credential {
	return roster.Credential{KeyID: k.ID, AccountID: k.AccountID, Role: k.Role, Revoked: k.Revoked,
		ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, AccountStatus: st}
}

func getEntity(t *testing.T, s roster.Store, id string) (roster.Entity, error) {
	t.Helper()
	var e roster.Entity
	err := viewErr(t, s, func(ctx context.Context, tx roster.Tx) error {
		var err error
		e, err = tx.Entity(ctx, id)
		return err
	})
	return e, err
}

func countKeys(t *testing.T, s roster.Store) int {
	t.Helper()
	var n int
	view(t, s, func(ctx context.Context, tx roster.Tx) error {
		var err error
		n, err = tx.CountKeys(ctx)
		return err
	})
	return n
}

// byID is a query for every row matching filters, in id order.
func byID(filters ...roster.Filter) roster.ListQuery {
	return roster.ListQuery{Filters: filters, Order: roster.Sort{{Field: "id"}}, Limit: 1000}
}

func listAccounts(t *testing.T, s roster.Store, q roster.ListQuery) []roster.Account {
	t.Helper()
	var out []roster.Account
	view(t, s, func(ctx context.Context, tx roster.Tx) error {
		var err error
		out, err = tx.ListAccounts(ctx, q)
		return err
	})
	return out
}

func listKeys(t *testing.T, s roster.Store, q roster.ListQuery) []roster.APIKey {
	t.Helper()
	var out []roster.APIKey
	view(t, s, func(ctx context.Context, tx roster.Tx) error {
		var err error
		out, err = tx.ListKeys(ctx, q)
		return err
	})
	return out
}

func listEntities(t *testing.T, s roster.Store, q roster.ListQuery) []roster.Entity {
	t.Helper()
	var out []roster.Entity
	view(t, s, func(ctx context.Context, tx roster.Tx) error {
		var err error
		out, err = tx.ListEntities(ctx, q)
		return err
	})
	return out
}

func listRelationships(t *testing.T, s roster.Store, q roster.ListQuery) []roster.Relationship {
	t.Helper()
	var out []roster.Relationship
	view(t, s, func(ctx context.Context, tx roster.Tx) error {
		var err error
		out, err = tx.ListRelationships(ctx, q)
		return err
	})
	return out
}

func ids[T any](rows []T, id func(T) string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = id(r)
	}
	return out
}

func accountID(a roster.Account) string { return a.ID }
func keyID(k roster.APIKey) string      { return k.ID }
func entityID(e roster.Entity) string   { return e.ID }

// sortedIDs is the ids in ascending bytewise order, as a query ordered by id returns them.
func sortedIDs(xs ...string) []string {
	out := slices.Clone(xs)
	slices.Sort(out)
	if out == nil {
		out = []string{}
	}
	return out
}

func sameIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if got == nil {
		got = []string{}
	}
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got ids %v, want %v", what, got, want)
	}
}

// --- basic ---

func testPing(t *testing.T, s roster.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testUpdateRollsBack(t *testing.T, s roster.Store) {
	a := newAccount("Rolled Back", "rolled-back", at(0))
	boom := errors.New("boom")
	err := updateErr(t, s, func(ctx context.Context, tx roster.Tx) error {
		if err := tx.InsertAccount(ctx, &a); err != nil {
			return err
		}
		if _, err := tx.Account(ctx, a.ID); err != nil {
			return fmt.Errorf("read own write: %w", err)
		}
		return boom
	})
	wantErr(t, "Update returning an error", err, boom)
	_, err = getAccount(t, s, a.ID)
	wantErr(t, "account of a rolled-back transaction", err, roster.ErrNotFound)
	// The slug is free: nothing of the failed transaction remains.
	b := newAccount("Rolled Back", "rolled-back", at(time.Second))
	insertAccounts(t, s, &b)
}

// --- accounts ---

func testAccounts(t *testing.T, s roster.Store) {
	a := newAccount("Acme Corp", "acme-corp", at(0))
	insertAccounts(t, s, &a)
	got, err := getAccount(t, s, a.ID)
	if err != nil {
		t.Fatalf("Account: %v", err)
	}
	same(t, "Account after insert", got, a)

	// Uniqueness: id and slug.
	dupID := a
	dupID.Slug = "other-slug"
	err = updateErr(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.InsertAccount(ctx, &dupID) })
	wantErr(t, "InsertAccount with a taken id", err, roster.ErrConflict)
	b := newAccount("Acme Again", "acme-corp", at(time.Second))
	err = updateErr(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.InsertAccount(ctx, &b) })
	wantErr(t, "InsertAccount with a taken slug", err, roster.ErrConflict)
	_, err = getAccount(t, s, b.ID)
	wantErr(t, "Account refused for its slug", err, roster.ErrNotFound)
	b.Slug = "beta"
	insertAccounts(t, s, &b)

	// Update every writable field; created_at stays.
	a.Name = "Acme Über GmbH"
	a.Slug = "acme"
	a.Status = roster.AccountSuspended
	a.UpdatedAt = at(time.Hour + time.Microsecond)
	update(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.UpdateAccount(ctx, &a) })
	got, err = getAccount(t, s, a.ID)
	if err != nil {
		t.Fatalf("Account: %v", err)
	}
	same(t, "Account after update", got, a)

	// The old slug is free again; the new one is taken.
	c := newAccount("Acme Corp", "acme-corp", at(2*time.Second))
	insertAccounts(t, s, &c)
	b2 := b
	b2.Slug = "acme"
	err = updateErr(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.UpdateAccount(ctx, &b2) })
	wantErr(t, "UpdateAccount to a taken slug", err, roster.ErrConflict)
	got, _ = getAccount(t, s, b.ID)
	same(t, "account whose update was refused", got, b)

	missing := newAccount("Nobody", "nobody", at(0))
	err = updateErr(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.UpdateAccount(ctx, &missing) })
	wantErr(t, "UpdateAccount of a missing account", err, roster.ErrNotFound)
	_, err = getAccount(t, s, missing.ID)
	wantErr(t, "Account of a missing id", err, roster.ErrNotFound)
	err = updateErr(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.DeleteAccount(ctx, missing.ID, at(0)) })
	wantErr(t, "DeleteAccount of a missing account", err, roster.ErrNotFound)

	// Lists and their filters.
	same(t, "ListAccounts", listAccounts(t, s, byID()), sortAccountsByID(a, b, c))
	sameIDs(t, "ListAccounts status=suspended", ids(listAccounts(t, s, byID(roster.Filter{Field: "status", Value: "suspended"})), accountID), []string{a.ID})
	sameIDs(t, "ListAccounts status=active", ids(listAccounts(t, s, byID(roster.Filter{Field: "status", Value: "active"})), accountID), sortedIDs(b.ID, c.ID))
	sameIDs(t, "ListAccounts slug=beta", ids(listAccounts(t, s, byID(roster.Filter{Field: "slug", Value: "beta"})), accountID), []string{b.ID})
	sameIDs(t, "ListAccounts slug=nope", ids(listAccounts(t, s, byID(roster.Filter{Field: "slug", Value: "nope"})), accountID), nil)
	sameIDs(t, "ListAccounts id=c", ids(listAccounts(t, s, byID(roster.Filter{Field: "id", Value: c.ID})), accountID), []string{c.ID})
	q := byID()
	q.Limit = 2
	sameIDs(t, "ListAccounts limit 2", ids(listAccounts(t, s, q), accountID), sortedIDs(a.ID, b.ID, c.ID)[:2])
}

func sortAccountsByID(as ...roster.Account) []roster.Account {
	out := slices.Clone(as)
	slices.SortFunc(out, func(x, y roster.Account) int { return strings.Compare(x.ID, y.ID) })
	return out
}

func testAccountSoftDelete(t *testing.T, s roster.Store) {
	gone := newAccount("Gone Inc", "gone", at(0))
	kept := newAccount("Kept Inc", "kept", at(time.Second))
	insertAccounts(t, s, &gone, &kept)
	kGone := newKey(gone.ID, "gone admin", roster.RoleAdmin, at(2*time.Second))
	kKept := newKey(kept.ID, "kept admin", roster.RoleAdmin, at(2*time.Second))
	kSuper := newKey("", "root", roster.RoleSuperadmin, at(2*time.Second))
	insertKeys(t, s, &kGone, &kKept, &kSuper)
	eGone := newEntity(gone.ID, "gone entity", at(3*time.Second))
	eKept := newEntity(kept.ID, "kept entity", at(3*time.Second))
	insertEntities(t, s, &eGone, &eKept)
	update(t, s, func(ctx context.Context, tx roster.Tx) error {
		return errOnly(tx.InsertRelationships(ctx, []roster.Relationship{
			{AccountID: gone.ID, EntityID: eGone.ID, Type: "account_holder", CreatedAt: at(4 * time.Second)},
			{AccountID: kept.ID, EntityID: eKept.ID, Type: "account_holder", CreatedAt: at(4 * time.Second)},
		}))
	})
	if n := countKeys(t, s); n != 3 {
		t.Fatalf("CountKeys before delete = %d, want 3", n)
	}

	update(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.DeleteAccount(ctx, gone.ID, at(time.Hour)) })

	_, err := getAccount(t, s, gone.ID)
	wantErr(t, "Account of a deleted account", err, roster.ErrNotFound)
	sameIDs(t, "ListAccounts after delete", ids(listAccounts(t, s, byID()), accountID), []string{kept.ID})
	sameIDs(t, "ListAccounts slug=gone after delete", ids(listAccounts(t, s, byID(roster.Filter{Field: "slug", Value: "gone"})), accountID), nil)
	err = updateErr(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.DeleteAccount(ctx, gone.ID, at(2*time.Hour)) })
	wantErr(t, "DeleteAccount repeated", err, roster.ErrNotFound)
	g := gone
	g.Name = "Back From The Dead"
	err = updateErr(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.UpdateAccount(ctx, &g) })
	wantErr(t, "UpdateAccount of a deleted account", err, roster.ErrNotFound)

	// Its keys stop working and vanish.
	_, err = keyByHash(t, s, kGone.Hash)
	wantErr(t, "KeyByHash of a deleted account's key", err, roster.ErrNotFound)
	_, err = getKey(t, s, kGone.ID)
	wantErr(t, "Key of a deleted account's key", err, roster.ErrNotFound)
	sameIDs(t, "ListKeys after delete", ids(listKeys(t, s, byID()), keyID), sortedIDs(kKept.ID, kSuper.ID))
	sameIDs(t, "ListKeys account_id=gone after delete", ids(listKeys(t, s, byID(roster.Filter{Field: "account_id", Value: gone.ID})), keyID), nil)
	if n := countKeys(t, s); n != 2 {
		t.Fatalf("CountKeys after delete = %d, want 2 (deleted keys are invisible)", n)
	}
	// A key that reaches a deleted account anyway (made by a request that raced the delete)
	// is not found either.
	late := newKey(gone.ID, "late", roster.RoleAdmin, at(2*time.Hour))
	insertKeys(t, s, &late)
	_, err = keyByHash(t, s, late.Hash)
	wantErr(t, "KeyByHash of a key made after its account was deleted", err, roster.ErrNotFound)
	update(t, s, func(ctx context.Context, tx roster.Tx) error {
		late.Deleted, late.UpdatedAt = true, at(2*time.Hour)
		return tx.UpdateKey(ctx, &late)
	})
	if c, err := keyByHash(t, s, kKept.Hash); err != nil || c.KeyID != kKept.ID || c.AccountID != kept.ID {
		t.Fatalf("KeyByHash of another account's key = %v, %v, %v", c.KeyID, c.AccountID, err)
	}
	if c, err := keyByHash(t, s, kSuper.Hash); err != nil || c.KeyID != kSuper.ID {
		t.Fatalf("KeyByHash of the superadmin key = %v, %v", c.KeyID, err)
	}

	// Its entities vanish.
	_, err = getEntity(t, s, eGone.ID)
	wantErr(t, "Entity of a deleted account", err, roster.ErrNotFound)
	sameIDs(t, "ListEntities after delete", ids(listEntities(t, s, byID()), entityID), []string{eKept.ID})
	sameIDs(t, "ListEntities account_id=gone after delete", ids(listEntities(t, s, byID(roster.Filter{Field: "account_id", Value: gone.ID})), entityID), nil)
	var existing map[string]bool
	view(t, s, func(ctx context.Context, tx roster.Tx) error {
		var err error
		existing, err = tx.ExistingEntities(ctx, gone.ID, []string{eGone.ID})
		return err
	})
	same(t, "ExistingEntities of a deleted account", existing, map[string]bool{})
	eg := eGone
	eg.Name = "renamed"
	err = updateErr(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.UpdateEntity(ctx, &eg) })
	wantErr(t, "UpdateEntity of a deleted account's entity", err, roster.ErrNotFound)

	// Its slug is free for a new account.
	again := newAccount("Gone Again", "gone", at(3*time.Hour))
	insertAccounts(t, s, &again)
	got, err := getAccount(t, s, again.ID)
	if err != nil {
		t.Fatalf("Account of the slug's new owner: %v", err)
	}
	same(t, "new account on a freed slug", got, again)
	sameIDs(t, "ListAccounts slug=gone", ids(listAccounts(t, s, byID(roster.Filter{Field: "slug", Value: "gone"})), accountID), []string{again.ID})
	// A second live account still cannot take it.
	k2 := kept
	k2.Slug = "gone"
	err = updateErr(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.UpdateAccount(ctx, &k2) })
	wantErr(t, "UpdateAccount to the freed slug, now taken again", err, roster.ErrConflict)
}

// testAccountConcurrentSlug races creations of accounts with one slug: one wins, the others
// get ErrConflict.
func testAccountConcurrentSlug(t *testing.T, s roster.Store) {
	const n = 10
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	accounts := make([]roster.Account, n)
	ctx := t.Context()
	for i := range n {
		accounts[i] = newAccount(fmt.Sprintf("Racer %d", i), "racer", at(0))
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = s.Update(ctx, func(tx roster.Tx) error { return tx.InsertAccount(ctx, &accounts[i]) })
		}()
	}
	close(start)
	wg.Wait()
	var won []string
	for i, err := range errs {
		switch {
		case err == nil:
			won = append(won, accounts[i].ID)
		case !errors.Is(err, roster.ErrConflict):
			t.Fatalf("insert %d: %v, want nil or ErrConflict", i, err)
		}
	}
	if len(won) != 1 {
		t.Fatalf("%d of %d concurrent inserts with one slug succeeded", len(won), n)
	}
	sameIDs(t, "ListAccounts after the race", ids(listAccounts(t, s, byID()), accountID), won)
}

// --- keys ---

func testKeys(t *testing.T, s roster.Store) {
	live := newAccount("Live", "live", at(0))
	susp := newAccount("Suspended", "suspended", at(0))
	susp.Status = roster.AccountSuspended
	insertAccounts(t, s, &live, &susp)

	super := newKey("", "root", roster.RoleSuperadmin, at(time.Second))
	admin := newKey(susp.ID, "suspended admin", roster.RoleAdmin, at(2*time.Second))
	admin.ExpiresAt = ptr(at(48 * time.Hour))
	reader := newKey(live.ID, "Lecteur ✓", roster.RoleReader, at(3*time.Second))
	reader.LastUsedAt = ptr(at(3*time.Second + time.Microsecond))
	insertKeys(t, s, &super, &admin, &reader)

	for _, k := range []roster.APIKey{super, admin, reader} {
		got, err := getKey(t, s, k.ID)
		if err != nil {
			t.Fatalf("Key(%s): %v", k.Name, err)
		}
		same(t, "Key "+k.Name, got, k)
	}
	_, err := getKey(t, s, roster.NewID(base))
	wantErr(t, "Key of a missing id", err, roster.ErrNotFound)

	c, err := keyByHash(t, s, super.Hash)
	if err != nil {
		t.Fatalf("KeyByHash(superadmin): %v", err)
	}
	same(t, "KeyByHash superadmin key", c, credOf(super, ""))
	c, err = keyByHash(t, s, admin.Hash)
	if err != nil {
		t.Fatalf("KeyByHash(admin): %v", err)
	}
	same(t, "KeyByHash admin key (suspended account)", c, credOf(admin, roster.AccountSuspended))
	c, err = keyByHash(t, s, reader.Hash)
	if err != nil {
		t.Fatalf("KeyByHash(reader): %v", err)
	}
	same(t, "KeyByHash reader key", c, credOf(reader, roster.AccountActive))
	_, err = keyByHash(t, s, hash("unknown"))
	wantErr(t, "KeyByHash of an unknown hash", err, roster.ErrNotFound)

	dup := newKey(live.ID, "dup hash", roster.RoleAdmin, at(4*time.Second))
	dup.Hash = reader.Hash
	err = updateErr(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.InsertKey(ctx, &dup) })
	wantErr(t, "InsertKey with a taken hash", err, roster.ErrConflict)
	if n := countKeys(t, s); n != 3 {
		t.Fatalf("CountKeys = %d, want 3", n)
	}

	// TouchKey moves last_used_at only.
	update(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.TouchKey(ctx, super.ID, at(time.Hour)) })
	super.LastUsedAt = ptr(at(time.Hour))
	got, _ := getKey(t, s, super.ID)
	same(t, "Key after TouchKey", got, super)

	// Revoke: final, still found by hash (the service refuses it by status).
	reader.Revoked = true
	reader.Name = "revoked reader"
	reader.UpdatedAt = at(2 * time.Hour)
	update(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.UpdateKey(ctx, &reader) })
	got, _ = getKey(t, s, reader.ID)
	same(t, "Key after revoke", got, reader)
	c, err = keyByHash(t, s, reader.Hash)
	if err != nil {
		t.Fatalf("KeyByHash(revoked): %v", err)
	}
	same(t, "KeyByHash revoked key", c, credOf(reader, roster.AccountActive))
	if st := c.Status(at(2 * time.Hour)); st != roster.KeyRevoked {
		t.Fatalf("status of the revoked key = %s", st)
	}

	// Delete: gone everywhere.
	admin.Deleted = true
	admin.UpdatedAt = at(3 * time.Hour)
	update(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.UpdateKey(ctx, &admin) })
	_, err = getKey(t, s, admin.ID)
	wantErr(t, "Key after delete", err, roster.ErrNotFound)
	_, err = keyByHash(t, s, admin.Hash)
	wantErr(t, "KeyByHash after delete", err, roster.ErrNotFound)
	err = updateErr(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.UpdateKey(ctx, &admin) })
	wantErr(t, "UpdateKey of a deleted key", err, roster.ErrNotFound)
	sameIDs(t, "ListKeys after delete", ids(listKeys(t, s, byID()), keyID), sortedIDs(super.ID, reader.ID))
	if n := countKeys(t, s); n != 2 {
		t.Fatalf("CountKeys after delete = %d, want 2 (deleted keys are invisible)", n)
	}
	missing := newKey(live.ID, "missing", roster.RoleAdmin, at(0))
	err = updateErr(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.UpdateKey(ctx, &missing) })
	wantErr(t, "UpdateKey of a missing key", err, roster.ErrNotFound)
}

func testListKeys(t *testing.T, s roster.Store) {
	a := newAccount("A", "a-acct", at(0))
	b := newAccount("B", "b-acct", at(0))
	insertAccounts(t, s, &a, &b)
	now := at(10 * 24 * time.Hour)

	active := newKey(a.ID, "active", roster.RoleAdmin, at(time.Second))
	expiresSoon := newKey(a.ID, "expires soon", roster.RoleReader, at(2*time.Second))
	expiresSoon.ExpiresAt = ptr(now.Add(time.Microsecond))
	expiresNow := newKey(a.ID, "expires now", roster.RoleAdmin, at(3*time.Second))
	expiresNow.ExpiresAt = ptr(now)
	expired := newKey(b.ID, "expired", roster.RoleAdmin, at(4*time.Second))
	expired.ExpiresAt = ptr(now.Add(-time.Hour))
	revoked := newKey(b.ID, "revoked", roster.RoleAdmin, at(5*time.Second))
	revoked.Revoked = true
	revokedExpired := newKey(a.ID, "revoked and expired", roster.RoleReader, at(6*time.Second))
	revokedExpired.Revoked = true
	revokedExpired.ExpiresAt = ptr(now.Add(-time.Hour))
	super := newKey("", "root", roster.RoleSuperadmin, at(7*time.Second))
	deleted := newKey(a.ID, "deleted", roster.RoleAdmin, at(8*time.Second))
	all := []*roster.APIKey{&active, &expiresSoon, &expiresNow, &expired, &revoked, &revokedExpired, &super, &deleted}
	insertKeys(t, s, all...)
	deleted.Deleted = true
	deleted.UpdatedAt = at(9 * time.Second)
	update(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.UpdateKey(ctx, &deleted) })

	want := func(keep func(k roster.APIKey) bool) []string {
		var out []string
		for _, k := range all {
			if !k.Deleted && keep(*k) {
				out = append(out, k.ID)
			}
		}
		return sortedIDs(out...)
	}
	list := func(filters ...roster.Filter) []string {
		q := byID(filters...)
		q.Now = now
		return ids(listKeys(t, s, q), keyID)
	}
	for _, st := range []roster.KeyStatus{roster.KeyActive, roster.KeyRevoked, roster.KeyExpired} {
		sameIDs(t, "ListKeys status="+string(st), list(roster.Filter{Field: "status", Value: string(st)}),
			want(func(k roster.APIKey) bool { return k.Status(now) == st }))
	}
	// Sanity of the fixture: each status has the keys it was built for.
	sameIDs(t, "fixture expired", want(func(k roster.APIKey) bool { return k.Status(now) == roster.KeyExpired }), sortedIDs(expiresNow.ID, expired.ID))
	sameIDs(t, "ListKeys", list(), want(func(roster.APIKey) bool { return true }))
	sameIDs(t, "ListKeys account_id=A", list(roster.Filter{Field: "account_id", Value: a.ID}),
		sortedIDs(active.ID, expiresSoon.ID, expiresNow.ID, revokedExpired.ID))
	sameIDs(t, "ListKeys account_id=B status=active", list(roster.Filter{Field: "account_id", Value: b.ID}, roster.Filter{Field: "status", Value: "active"}), nil)
	sameIDs(t, "ListKeys account_id=A status=expired", list(roster.Filter{Field: "account_id", Value: a.ID}, roster.Filter{Field: "status", Value: "expired"}),
		[]string{expiresNow.ID})
	sameIDs(t, "ListKeys role=superadmin", list(roster.Filter{Field: "role", Value: "superadmin"}), []string{super.ID})

	// The same keys judged a little later: "expires soon" has expired.
	q := byID(roster.Filter{Field: "status", Value: "expired"})
	q.Now = now.Add(time.Microsecond)
	sameIDs(t, "ListKeys status=expired one microsecond later", ids(listKeys(t, s, q), keyID), sortedIDs(expiresSoon.ID, expiresNow.ID, expired.ID))

	// Full rows come back.
	got := listKeys(t, s, roster.ListQuery{Filters: []roster.Filter{{Field: "account_id", Value: b.ID}}, Order: roster.Sort{{Field: "created_at"}}, Limit: 10})
	same(t, "ListKeys rows of B", got, []roster.APIKey{expired, revoked})
}

// --- entities ---

func testEntities(t *testing.T, s roster.Store) {
	a := newAccount("A", "a-acct", at(0))
	b := newAccount("B", "b-acct", at(0))
	insertAccounts(t, s, &a, &b)

	target := newEntity(a.ID, "target", at(time.Second))
	full := roster.Entity{
		ID: roster.NewID(at(2 * time.Second)), AccountID: a.ID, Name: "Ünïcode Naïve 名前 \"quoted\"",
		ModuleIDs: []string{"leadconduit_default", "ünï", ""}, Source: ptr("form"), Recipient: ptr("crm"),
		Description: ptr("line one\nline two ✓ 'single' \\ backslash"), Deprecated: true, See: ptr(target.ID),
		FieldSuffix: ptr("ab1"), InvitationID: ptr("5fd4e1c2a0b1c2d3e4f5a6b7"),
		FlowIDs: []string{"5fd4e1c2a0b1c2d3e4f5a6b8", "5FD4E1C2A0B1C2D3E4F5A6B9"}, LogoURL: ptr("https://example.com/logo.png?a=1&b=2"),
		Website: ptr("http://example.com"), TimeZone: ptr("America/Los Angeles"), TrustedFormCertifiedVendor: true,
		CreatedAt: at(2 * time.Second), UpdatedAt: at(2*time.Second + time.Microsecond),
	}
	bare := newEntity(a.ID, "b", at(3*time.Second))
	nilSlices := newEntity(b.ID, "nil slices", at(4*time.Second))
	nilSlices.ModuleIDs, nilSlices.FlowIDs = nil, nil
	emptyStrings := newEntity(b.ID, "empty strings", at(5*time.Second))
	emptyStrings.Description, emptyStrings.Website = ptr(""), ptr("")
	insertEntities(t, s, &target, &full, &bare, &nilSlices, &emptyStrings)

	nilSlices.ModuleIDs, nilSlices.FlowIDs = []string{}, []string{} // stored as empty arrays
	for _, e := range []roster.Entity{target, full, bare, nilSlices, emptyStrings} {
		got, err := getEntity(t, s, e.ID)
		if err != nil {
			t.Fatalf("Entity(%q): %v", e.Name, err)
		}
		same(t, "Entity "+e.Name, got, e)
		if got.ModuleIDs == nil || got.FlowIDs == nil {
			t.Fatalf("Entity(%q): empty arrays came back nil: module_ids %#v flow_ids %#v", e.Name, got.ModuleIDs, got.FlowIDs)
		}
	}
	_, err := getEntity(t, s, roster.NewID(base))
	wantErr(t, "Entity of a missing id", err, roster.ErrNotFound)
	dup := bare
	err = updateErr(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.InsertEntity(ctx, &dup) })
	wantErr(t, "InsertEntity with a taken id", err, roster.ErrConflict)

	// Update every writable field: pointers cleared, set and changed; account and creation stay.
	upd := full
	upd.AccountID = b.ID
	upd.CreatedAt = at(99 * time.Hour)
	upd.Name = "Renamed"
	upd.ModuleIDs = []string{}
	upd.Source = nil
	upd.Recipient = ptr("buyer")
	upd.Description = nil
	upd.Deprecated = false
	upd.See = nil
	upd.FieldSuffix = nil
	upd.InvitationID = nil
	upd.FlowIDs = []string{"aaaaaaaaaaaaaaaaaaaaaaaa"}
	upd.LogoURL = nil
	upd.Website = ptr("https://example.org/")
	upd.TimeZone = ptr("UTC")
	upd.TrustedFormCertifiedVendor = false
	upd.UpdatedAt = at(time.Hour)
	update(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.UpdateEntity(ctx, &upd) })
	want := upd
	want.AccountID, want.CreatedAt = full.AccountID, full.CreatedAt
	got, err := getEntity(t, s, full.ID)
	if err != nil {
		t.Fatalf("Entity after update: %v", err)
	}
	same(t, "Entity after update", got, want)

	// And back: nil pointers set again.
	upd2 := bare
	upd2.Source, upd2.Recipient, upd2.Description = ptr("other"), ptr("esp"), ptr("described")
	upd2.Deprecated, upd2.See = true, ptr(target.ID)
	upd2.FieldSuffix, upd2.InvitationID = ptr("XYZ12"), ptr("0123456789abcdef01234567")
	upd2.ModuleIDs, upd2.FlowIDs = []string{"m"}, nil
	upd2.LogoURL, upd2.Website, upd2.TimeZone = ptr("https://l"), ptr("https://w"), ptr("Europe/Paris")
	upd2.TrustedFormCertifiedVendor = true
	upd2.UpdatedAt = at(2 * time.Hour)
	update(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.UpdateEntity(ctx, &upd2) })
	upd2.FlowIDs = []string{}
	got, _ = getEntity(t, s, bare.ID)
	same(t, "Entity after second update", got, upd2)

	missing := newEntity(a.ID, "missing", at(0))
	err = updateErr(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.UpdateEntity(ctx, &missing) })
	wantErr(t, "UpdateEntity of a missing entity", err, roster.ErrNotFound)

	// ListEntities returns the full rows too.
	rows := listEntities(t, s, roster.ListQuery{Filters: []roster.Filter{{Field: "account_id", Value: b.ID}}, Order: roster.Sort{{Field: "created_at"}}, Limit: 10})
	same(t, "ListEntities of B", rows, []roster.Entity{nilSlices, emptyStrings})
}

func testListEntitiesFilters(t *testing.T, s roster.Store) {
	a := newAccount("A", "a-acct", at(0))
	b := newAccount("B", "b-acct", at(0))
	insertAccounts(t, s, &a, &b)
	var all []*roster.Entity
	sources := []*string{ptr("form"), ptr("seller"), nil}
	recipients := []*string{ptr("buyer"), nil, ptr("crm"), ptr("esp")}
	for i := range 24 {
		acct := a.ID
		if i%3 == 0 {
			acct = b.ID
		}
		e := newEntity(acct, fmt.Sprintf("e%02d", i), at(time.Duration(i)*time.Second))
		e.Source, e.Recipient, e.Deprecated = sources[i%3], recipients[i%4], i%5 == 0
		all = append(all, &e)
	}
	insertEntities(t, s, all...)
	check := func(name string, keep func(e roster.Entity) bool, filters ...roster.Filter) {
		t.Helper()
		var want []string
		for _, e := range all {
			if keep(*e) {
				want = append(want, e.ID)
			}
		}
		sameIDs(t, name, ids(listEntities(t, s, byID(filters...)), entityID), sortedIDs(want...))
	}
	is := func(p *string, v string) bool { return p != nil && *p == v }
	check("all", func(roster.Entity) bool { return true })
	check("account_id=A", func(e roster.Entity) bool { return e.AccountID == a.ID }, roster.Filter{Field: "account_id", Value: a.ID})
	check("source=form", func(e roster.Entity) bool { return is(e.Source, "form") }, roster.Filter{Field: "source", Value: "form"})
	check("recipient=crm", func(e roster.Entity) bool { return is(e.Recipient, "crm") }, roster.Filter{Field: "recipient", Value: "crm"})
	check("deprecated=true", func(e roster.Entity) bool { return e.Deprecated }, roster.Filter{Field: "deprecated", Value: true})
	check("deprecated=false", func(e roster.Entity) bool { return !e.Deprecated }, roster.Filter{Field: "deprecated", Value: false})
	check("account_id=A source=seller deprecated=false", func(e roster.Entity) bool {
		return e.AccountID == a.ID && is(e.Source, "seller") && !e.Deprecated
	}, roster.Filter{Field: "account_id", Value: a.ID}, roster.Filter{Field: "source", Value: "seller"}, roster.Filter{Field: "deprecated", Value: false})
}

func testDeleteEntity(t *testing.T, s roster.Store) {
	a := newAccount("A", "a-acct", at(0))
	insertAccounts(t, s, &a)
	e1 := newEntity(a.ID, "one", at(time.Second))
	e2 := newEntity(a.ID, "two", at(2*time.Second))
	insertEntities(t, s, &e1, &e2)
	rels := []roster.Relationship{
		{AccountID: a.ID, EntityID: e1.ID, Type: "account_holder", CreatedAt: at(3 * time.Second)},
		{AccountID: a.ID, EntityID: e1.ID, Type: "authorized_user", CreatedAt: at(3 * time.Second)},
		{AccountID: a.ID, EntityID: e2.ID, Type: "account_holder", CreatedAt: at(4 * time.Second)},
	}
	update(t, s, func(ctx context.Context, tx roster.Tx) error { return errOnly(tx.InsertRelationships(ctx, rels)) })

	var removed []roster.Relationship
	update(t, s, func(ctx context.Context, tx roster.Tx) error {
		var err error
		removed, err = tx.DeleteEntity(ctx, e1.ID)
		return err
	})
	same(t, "the relationships DeleteEntity removed", removed, rels[:2])
	_, err := getEntity(t, s, e1.ID)
	wantErr(t, "Entity after DeleteEntity", err, roster.ErrNotFound)
	if _, err := getEntity(t, s, e2.ID); err != nil {
		t.Fatalf("the other entity: %v", err)
	}
	sameIDs(t, "ListEntities after DeleteEntity", ids(listEntities(t, s, byID()), entityID), []string{e2.ID})
	same(t, "relationships after DeleteEntity", listRelationships(t, s, relQuery(roster.Filter{Field: "account_id", Value: a.ID})), rels[2:])
	same(t, "relationships of the deleted entity", len(listRelationships(t, s, relQuery(roster.Filter{Field: "entity_id", Value: e1.ID}))), 0)

	err = updateErr(t, s, func(ctx context.Context, tx roster.Tx) error { return errOnly(tx.DeleteEntity(ctx, e1.ID)) })
	wantErr(t, "DeleteEntity repeated", err, roster.ErrNotFound)
	err = updateErr(t, s, func(ctx context.Context, tx roster.Tx) error {
		return errOnly(tx.DeleteEntity(ctx, roster.NewID(base)))
	})
	wantErr(t, "DeleteEntity of a missing id", err, roster.ErrNotFound)
	err = updateErr(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.UpdateEntity(ctx, &e1) })
	wantErr(t, "UpdateEntity of a deleted entity", err, roster.ErrNotFound)
	var existing map[string]bool
	view(t, s, func(ctx context.Context, tx roster.Tx) error {
		var err error
		existing, err = tx.ExistingEntities(ctx, a.ID, []string{e1.ID, e2.ID})
		return err
	})
	same(t, "ExistingEntities after DeleteEntity", existing, map[string]bool{e2.ID: true})
}

func testExistingEntities(t *testing.T, s roster.Store) {
	a := newAccount("A", "a-acct", at(0))
	b := newAccount("B", "b-acct", at(0))
	insertAccounts(t, s, &a, &b)
	a1 := newEntity(a.ID, "a1", at(time.Second))
	a2 := newEntity(a.ID, "a2", at(time.Second))
	a3 := newEntity(a.ID, "a3", at(time.Second))
	b1 := newEntity(b.ID, "b1", at(time.Second))
	insertEntities(t, s, &a1, &a2, &a3, &b1)
	update(t, s, func(ctx context.Context, tx roster.Tx) error { return errOnly(tx.DeleteEntity(ctx, a3.ID)) })

	existing := func(account string, ids ...string) map[string]bool {
		var m map[string]bool
		view(t, s, func(ctx context.Context, tx roster.Tx) error {
			var err error
			m, err = tx.ExistingEntities(ctx, account, ids)
			return err
		})
		return m
	}
	unknown := roster.NewID(base)
	same(t, "ExistingEntities(A)", existing(a.ID, a1.ID, b1.ID, a3.ID, unknown, a2.ID), map[string]bool{a1.ID: true, a2.ID: true})
	same(t, "ExistingEntities(B)", existing(b.ID, a1.ID, b1.ID, a2.ID), map[string]bool{b1.ID: true})
	same(t, "ExistingEntities(A) of one", existing(a.ID, a2.ID), map[string]bool{a2.ID: true})
	same(t, "ExistingEntities(A) repeated id", existing(a.ID, a1.ID, a1.ID), map[string]bool{a1.ID: true})
	same(t, "ExistingEntities(A) of none", existing(a.ID), map[string]bool{})
	same(t, "ExistingEntities(unknown account)", existing(unknown, a1.ID, b1.ID), map[string]bool{})
}

// --- relationships ---

func relQuery(filters ...roster.Filter) roster.ListQuery {
	order, err := roster.RelationshipListing.ParseSort("")
	if err != nil {
		panic(err)
	}
	return roster.ListQuery{Filters: filters, Order: order, Limit: 1000}
}

func testRelationships(t *testing.T, s roster.Store) {
	a := newAccount("A", "a-acct", at(0))
	b := newAccount("B", "b-acct", at(0))
	insertAccounts(t, s, &a, &b)
	e1 := newEntity(a.ID, "e1", at(time.Second))
	e2 := newEntity(a.ID, "e2", at(time.Second))
	e3 := newEntity(a.ID, "e3", at(time.Second))
	f1 := newEntity(b.ID, "f1", at(time.Second))
	insertEntities(t, s, &e1, &e2, &e3, &f1)

	r := func(acct, ent, typ string, created time.Time) roster.Relationship {
		return roster.Relationship{AccountID: acct, EntityID: ent, Type: typ, CreatedAt: created}
	}
	t1, t2, t3 := at(time.Minute), at(2*time.Minute), at(3*time.Minute)
	update(t, s, func(ctx context.Context, tx roster.Tx) error {
		return errOnly(tx.InsertRelationships(ctx, []roster.Relationship{
			r(a.ID, e1.ID, "account_holder", t1),
			r(a.ID, e2.ID, "authorized_signer", t1),
			r(a.ID, e1.ID, "account_holder", t3), // a duplicate in the same batch
			r(a.ID, e1.ID, "authorized_user", t2),
		}))
	})
	var created []roster.Relationship
	update(t, s, func(ctx context.Context, tx roster.Tx) error {
		var err error
		created, err = tx.InsertRelationships(ctx, []roster.Relationship{
			r(a.ID, e1.ID, "account_holder", t3), // exists: kept as it was
			r(a.ID, e3.ID, "authorized_signer", t2),
			r(a.ID, e2.ID, "account_holder", t1),
			r(b.ID, f1.ID, "account_holder", t1),
		})
		return err
	})
	// What was added, in (entity, type) order; the pair that existed is not among them.
	wantAdded := []roster.Relationship{r(a.ID, e2.ID, "account_holder", t1), r(a.ID, e3.ID, "authorized_signer", t2), r(b.ID, f1.ID, "account_holder", t1)}
	slices.SortFunc(wantAdded, func(x, y roster.Relationship) int { return strings.Compare(x.EntityID+x.Type, y.EntityID+y.Type) })
	same(t, "InsertRelationships' added rows", created, wantAdded)
	update(t, s, func(ctx context.Context, tx roster.Tx) error { return errOnly(tx.InsertRelationships(ctx, nil)) })

	want := []roster.Relationship{
		r(a.ID, e1.ID, "account_holder", t1),
		r(a.ID, e2.ID, "account_holder", t1),
		r(a.ID, e2.ID, "authorized_signer", t1),
		r(a.ID, e1.ID, "authorized_user", t2),
		r(a.ID, e3.ID, "authorized_signer", t2),
	}
	sortRelationships(want)
	same(t, "ListRelationships account A", listRelationships(t, s, relQuery(roster.Filter{Field: "account_id", Value: a.ID})), want)
	same(t, "ListRelationships account B", listRelationships(t, s, relQuery(roster.Filter{Field: "account_id", Value: b.ID})),
		[]roster.Relationship{r(b.ID, f1.ID, "account_holder", t1)})
	same(t, "ListRelationships entity e1", listRelationships(t, s, relQuery(roster.Filter{Field: "account_id", Value: a.ID}, roster.Filter{Field: "entity_id", Value: e1.ID})),
		[]roster.Relationship{r(a.ID, e1.ID, "account_holder", t1), r(a.ID, e1.ID, "authorized_user", t2)})
	same(t, "ListRelationships type authorized_signer", listRelationships(t, s, relQuery(roster.Filter{Field: "account_id", Value: a.ID}, roster.Filter{Field: "relationship_type", Value: "authorized_signer"})),
		filterRels(want, func(x roster.Relationship) bool { return x.Type == "authorized_signer" }))
	same(t, "ListRelationships type account_holder, all accounts", len(listRelationships(t, s, relQuery(roster.Filter{Field: "relationship_type", Value: "account_holder"}))), 3)
	desc := relQuery(roster.Filter{Field: "account_id", Value: a.ID})
	desc.Order[0].Desc = true
	gotDesc := listRelationships(t, s, desc)
	if len(gotDesc) != len(want) || !gotDesc[0].CreatedAt.Equal(t2) || !gotDesc[len(gotDesc)-1].CreatedAt.Equal(t1) {
		t.Fatalf("ListRelationships created_at:desc = %v", show(gotDesc))
	}

	// Delete one; then it, and relationships that never were, are not found.
	update(t, s, func(ctx context.Context, tx roster.Tx) error {
		return errOnly(tx.DeleteRelationship(ctx, roster.Relationship{AccountID: a.ID, EntityID: e1.ID, Type: "account_holder"}))
	})
	for name, rel := range map[string]roster.Relationship{
		"deleted":       {AccountID: a.ID, EntityID: e1.ID, Type: "account_holder"},
		"other type":    {AccountID: a.ID, EntityID: e3.ID, Type: "account_holder"},
		"other account": {AccountID: b.ID, EntityID: e2.ID, Type: "account_holder"},
		"no entity":     {AccountID: a.ID, EntityID: roster.NewID(base), Type: "account_holder"},
	} {
		err := updateErr(t, s, func(ctx context.Context, tx roster.Tx) error { return errOnly(tx.DeleteRelationship(ctx, rel)) })
		wantErr(t, "DeleteRelationship "+name, err, roster.ErrNotFound)
	}
	same(t, "ListRelationships after delete", listRelationships(t, s, relQuery(roster.Filter{Field: "account_id", Value: a.ID})),
		filterRels(want, func(x roster.Relationship) bool { return x.EntityID != e1.ID || x.Type != "account_holder" }))
}

func sortRelationships(rs []roster.Relationship) {
	slices.SortFunc(rs, func(x, y roster.Relationship) int {
		if c := x.CreatedAt.Compare(y.CreatedAt); c != 0 {
			return c
		}
		if c := strings.Compare(x.EntityID, y.EntityID); c != 0 {
			return c
		}
		return strings.Compare(x.Type, y.Type)
	})
}

func filterRels(rs []roster.Relationship, keep func(roster.Relationship) bool) []roster.Relationship {
	var out []roster.Relationship
	for _, r := range rs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// --- pagination ---

// lister describes how to page through one resource with roster's own Plan and BuildPage.
type lister[T any] struct {
	listing roster.Listing
	list    func(ctx context.Context, tx roster.Tx, q roster.ListQuery) ([]T, error)
	value   func(T, string) any
	id      func(T) string
	filters func(raw map[string]string) ([]roster.Filter, error)
}

// plainFilters turns raw filters into equality filters, in a stable order; "deprecated" is a
// bool.
func plainFilters(raw map[string]string) ([]roster.Filter, error) {
	var out []roster.Filter
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		var v any = raw[k]
		if k == "deprecated" {
			b, err := strconv.ParseBool(raw[k])
			if err != nil {
				return nil, err
			}
			v = b
		}
		out = append(out, roster.Filter{Field: k, Value: v})
	}
	return out, nil
}

var superadmin = roster.Principal{KeyID: "000000000000000000000000", Role: roster.RoleSuperadmin}

// expectOrder sorts rows as the listing's order for sortParam says: bytewise strings, times,
// id last; it fails when two rows tie on the whole order.
func expectOrder[T any](t *testing.T, l lister[T], sortParam string, rows []T) []T {
	t.Helper()
	order, err := l.listing.ParseSort(sortParam)
	if err != nil {
		t.Fatalf("ParseSort(%q): %v", sortParam, err)
	}
	cmp := func(x, y T) int {
		for _, k := range order {
			var c int
			switch xv := l.value(x, k.Field).(type) {
			case string:
				c = strings.Compare(xv, l.value(y, k.Field).(string))
			case time.Time:
				c = xv.Compare(l.value(y, k.Field).(time.Time))
			default:
				t.Fatalf("field %s has a value of type %T", k.Field, xv)
			}
			if k.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	}
	out := slices.Clone(rows)
	slices.SortFunc(out, cmp)
	for i := 1; i < len(out); i++ {
		if cmp(out[i-1], out[i]) == 0 {
			t.Fatalf("sort %q is not total: rows %s and %s tie", sortParam, l.id(out[i-1]), l.id(out[i]))
		}
	}
	return out
}

// walk pages through the list from the first page to the last by Next cursors, then back to
// the first by Prev cursors, and checks that every row of want comes exactly once, in order,
// on both walks.
func walk[T any](t *testing.T, s roster.Store, l lister[T], sortParam string, filters map[string]string, limit int, want []T) {
	t.Helper()
	name := fmt.Sprintf("sort %q filters %v limit %d", sortParam, filters, limit)
	fetch := func(req roster.PageRequest) roster.Page[T] {
		t.Helper()
		req.Limit, req.Principal = limit, superadmin
		pl, err := l.listing.Plan(req, l.filters)
		if err != nil {
			t.Fatalf("%s: Plan: %v", name, err)
		}
		var rows []T
		view(t, s, func(ctx context.Context, tx roster.Tx) error {
			var err error
			rows, err = l.list(ctx, tx, pl.Query)
			return err
		})
		if len(rows) > limit+1 {
			t.Fatalf("%s: the store returned %d rows for a limit of %d", name, len(rows), pl.Query.Limit)
		}
		return roster.BuildPage(rows, pl, l.value)
	}
	wantIDs := ids(want, l.id)
	pageIDs := func(p roster.Page[T]) []string { return ids(p.Items, l.id) }

	pg := fetch(roster.PageRequest{Sort: sortParam, Filters: filters})
	if pg.HasPrev || pg.Prev != "" {
		t.Fatalf("%s: the first page has a previous page", name)
	}
	// A list no index serves whole (a residual filter, a sort on two fields) is read in
	// bounded steps: a page may stop short, even empty, with a next cursor (SPEC §6). Any
	// other page but the last is full.
	short := false
	for f := range filters {
		short = short || f != "account_id"
	}
	fields := 0
	for _, term := range strings.Split(sortParam, ",") {
		f, _, _ := strings.Cut(term, ":")
		if f != "" && !slices.Contains(l.listing.TieBreak, f) {
			fields++
		}
	}
	short = short || fields > 1
	const maxPages = 5000
	pages := []roster.Page[T]{pg}
	for pg.HasNext {
		if pg.Next == "" {
			t.Fatalf("%s: has_next without a cursor", name)
		}
		if len(pages) > len(want)+1 && !short || len(pages) > maxPages {
			t.Fatalf("%s: more pages than rows", name)
		}
		pg = fetch(roster.PageRequest{Cursor: pg.Next})
		if !pg.HasPrev || pg.Prev == "" {
			t.Fatalf("%s: page %d has no previous page", name, len(pages)+1)
		}
		pages = append(pages, pg)
	}
	if pg.Next != "" {
		t.Fatalf("%s: the last page has a next cursor", name)
	}
	var seen []string
	for i, p := range pages {
		n := len(p.Items)
		if n > limit || !short && (i < len(pages)-1 && n != limit || i == len(pages)-1 && n == 0 && len(want) > 0) {
			t.Fatalf("%s: page %d of %d has %d items", name, i+1, len(pages), n)
		}
		seen = append(seen, pageIDs(p)...)
	}
	if !slices.Equal(seen, wantIDs) {
		t.Fatalf("%s: forward walk\n got %v\nwant %v\nfirst difference at %d", name, seen, wantIDs, firstDiff(seen, wantIDs))
	}

	// Back from the last page to the first: the same rows, in the same order (the same pages
	// when no page stops short).
	var back []string
	for i := len(pages) - 2; pg.HasPrev; i-- {
		if pg.Prev == "" {
			t.Fatalf("%s: walking back, has_prev without a cursor", name)
		}
		if len(back) > maxPages {
			t.Fatalf("%s: the walk back does not end", name)
		}
		pg = fetch(roster.PageRequest{Cursor: pg.Prev})
		if !short {
			if i < 0 {
				t.Fatalf("%s: walking back, the first page has a previous page", name)
			}
			if got, want := pageIDs(pg), pageIDs(pages[i]); !slices.Equal(got, want) {
				t.Fatalf("%s: walking back, page %d\n got %v\nwant %v", name, i+1, got, want)
			}
		}
		if !pg.HasNext || pg.Next == "" {
			t.Fatalf("%s: walking back, page %d has no next page", name, i+1)
		}
		back = append(pageIDs(pg), back...)
	}
	back = append(back, pageIDs(pages[len(pages)-1])...)
	if !slices.Equal(back, wantIDs) {
		t.Fatalf("%s: backward walk\n got %v\nwant %v\nfirst difference at %d", name, back, wantIDs, firstDiff(back, wantIDs))
	}
	if !short && len(pages) > 1 && len(back) != len(wantIDs) {
		t.Fatalf("%s: walking back, the pages differ", name)
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// sortParams is every field a client may sort the listing by, in both directions, the
// default, and some combinations.
func sortParams(l roster.Listing, extra ...string) []string {
	fields := l.Sortable
	if fields == nil {
		fields = slices.Sorted(maps.Keys(l.Fields))
	}
	out := []string{""}
	for _, f := range fields {
		out = append(out, f+":asc", f+":desc")
	}
	return append(out, extra...)
}

// tieNames sort differently bytewise than by any human collation: case, accents, scripts,
// punctuation; the repeats make ties.
var tieNames = []string{
	"alpha", "Alpha", "ALPHA", "alpha", "Beta", "beta", "émile", "Émile", "Emile", "emile", "zeta", "Zeta",
	"Ωmega", "日本語", "Ünter", "ünter", "a b", "a-b", "a_b", "a~b", "~x", "ab", "aB", "Ab", "AB", "ß", "ss",
	"Straße", "strasse", "Ärger", "Zürich", "zurich", "😀 smile", "\u00a0nbsp", "Œuvre", "alpha",
	// U+FFFD sorts before U+1F600 by code point (and UTF-8 bytes), after it in UTF-16.
	"\ufffd replacement", "\ue000 private", "a", "aa", "Z", "[bracket", "0 zero",
}

var accountLister = lister[roster.Account]{
	listing: roster.AccountListing,
	list: func(ctx context.Context, tx roster.Tx, q roster.ListQuery) ([]roster.Account, error) {
		return tx.ListAccounts(ctx, q)
	},
	value:   roster.AccountValue,
	id:      accountID,
	filters: plainFilters,
}

func testPaginateAccounts(t *testing.T, s roster.Store) {
	const n = 61
	var all []*roster.Account
	for i := range n {
		created := at(time.Duration(i%4) * time.Second)
		if i%9 == 0 {
			created = created.Add(time.Microsecond)
		}
		a := newAccount(tieNames[i%len(tieNames)], fmt.Sprintf("s-%03d", (i*37)%n), created)
		a.UpdatedAt = at(time.Hour + time.Duration(i%3)*time.Microsecond)
		if i%5 == 0 {
			a.Status = roster.AccountSuspended
		}
		all = append(all, &a)
	}
	insertAccounts(t, s, all...)
	// Deleted accounts never show.
	var live []roster.Account
	for i, a := range all {
		if i%13 == 7 {
			update(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.DeleteAccount(ctx, a.ID, at(2*time.Hour)) })
			continue
		}
		live = append(live, *a)
	}
	for _, sp := range sortParams(roster.AccountListing, "name:desc,created_at:asc", "updated_at:desc,name:asc", "created_at:asc,updated_at:desc,name:desc") {
		walk(t, s, accountLister, sp, nil, 7, expectOrder(t, accountLister, sp, live))
	}
	suspended := slices.DeleteFunc(slices.Clone(live), func(a roster.Account) bool { return a.Status != roster.AccountSuspended })
	for _, sp := range []string{"", "name:asc", "name:desc,updated_at:asc"} {
		walk(t, s, accountLister, sp, map[string]string{"status": "suspended"}, 3, expectOrder(t, accountLister, sp, suspended))
	}
	walk(t, s, accountLister, "name:asc", nil, 1, expectOrder(t, accountLister, "name:asc", live))
	walk(t, s, accountLister, "", nil, 100, expectOrder(t, accountLister, "", live))
	walk(t, s, accountLister, "", map[string]string{"slug": "nope"}, 5, nil)
}

// testPaginateInsertDuringWalk inserts rows between pages, some tying with the boundary row:
// rows that were there from the start are each seen once, in order, and nothing twice.
func testPaginateInsertDuringWalk(t *testing.T, s roster.Store) {
	var orig []roster.Account
	for i := range 30 {
		a := newAccount(tieNames[i%len(tieNames)], fmt.Sprintf("orig-%02d", i), at(time.Duration(i%5)*time.Second))
		insertAccounts(t, s, &a)
		orig = append(orig, a)
	}
	for _, sp := range []string{"", "name:asc", "created_at:asc"} {
		want := ids(expectOrder(t, accountLister, sp, orig), accountID)
		req := roster.PageRequest{Sort: sp, Limit: 4, Principal: superadmin}
		var seen []string
		added := 0
		for page := 1; ; page++ {
			if page > 3*len(orig) {
				t.Fatalf("sort %q: the walk does not end (%d pages)", sp, page)
			}
			pl, err := roster.AccountListing.Plan(req, plainFilters)
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			var rows []roster.Account
			view(t, s, func(ctx context.Context, tx roster.Tx) error {
				var err error
				rows, err = tx.ListAccounts(ctx, pl.Query)
				return err
			})
			pg := roster.BuildPage(rows, pl, roster.AccountValue)
			seen = append(seen, ids(pg.Items, accountID)...)
			if !pg.HasNext {
				break
			}
			last := pg.Items[len(pg.Items)-1]
			for _, created := range []time.Time{last.CreatedAt, at(-time.Hour), at(time.Hour)} {
				a := newAccount(last.Name, fmt.Sprintf("added-%03d", added), created)
				added++
				insertAccounts(t, s, &a)
			}
			req = roster.PageRequest{Cursor: pg.Next, Limit: 4, Principal: superadmin}
		}
		counts := map[string]int{}
		var seenOrig []string
		for _, id := range seen {
			counts[id]++
			if counts[id] > 1 {
				t.Fatalf("sort %q: %s seen twice", sp, id)
			}
			if slices.Contains(want, id) {
				seenOrig = append(seenOrig, id)
			}
		}
		if !slices.Equal(seenOrig, want) {
			t.Fatalf("sort %q: original rows\n got %v\nwant %v", sp, seenOrig, want)
		}
		// Start the next sort from the original rows only.
		for _, a := range listAccounts(t, s, byID()) {
			if strings.HasPrefix(a.Slug, "added-") {
				update(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.DeleteAccount(ctx, a.ID, at(0)) })
			}
		}
	}
}

var entityLister = lister[roster.Entity]{
	listing: roster.EntityListing,
	list: func(ctx context.Context, tx roster.Tx, q roster.ListQuery) ([]roster.Entity, error) {
		return tx.ListEntities(ctx, q)
	},
	value:   roster.EntityValue,
	id:      entityID,
	filters: plainFilters,
}

func testPaginateEntities(t *testing.T, s roster.Store) {
	a := newAccount("A", "a-acct", at(0))
	b := newAccount("B", "b-acct", at(0))
	gone := newAccount("Gone", "gone", at(0))
	insertAccounts(t, s, &a, &b, &gone)
	accounts := []string{a.ID, a.ID, b.ID, a.ID, gone.ID}
	var all []*roster.Entity
	for i := range 70 {
		created := at(time.Duration(i%3) * time.Minute)
		if i%11 == 0 {
			created = created.Add(-time.Microsecond)
		}
		e := newEntity(accounts[i%len(accounts)], tieNames[(i*7)%len(tieNames)], created)
		e.UpdatedAt = at(time.Hour + time.Duration(i%4)*time.Microsecond)
		if i%2 == 0 {
			e.Source = ptr("form")
		}
		e.Deprecated = i%3 == 0
		all = append(all, &e)
	}
	insertEntities(t, s, all...)
	update(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.DeleteAccount(ctx, gone.ID, at(time.Hour)) })
	// A hard-deleted entity never shows either.
	update(t, s, func(ctx context.Context, tx roster.Tx) error { return errOnly(tx.DeleteEntity(ctx, all[0].ID)) })

	var live, ofA, formOfA, deprecated []roster.Entity
	for _, e := range all[1:] {
		if e.AccountID == gone.ID {
			continue
		}
		live = append(live, *e)
		if e.Deprecated {
			deprecated = append(deprecated, *e)
		}
		if e.AccountID == a.ID {
			ofA = append(ofA, *e)
			if e.Source != nil {
				formOfA = append(formOfA, *e)
			}
		}
	}
	// The id tie-breaker in every direction: each sort field has one index, so half of these
	// orders are read in steps (store/sqlstore, split), with tie groups longer than a page.
	extra := []string{"name:desc,created_at:asc", "updated_at:asc,name:desc", "name:asc,id:desc", "name:desc,id:desc",
		"created_at:asc,id:desc", "created_at:desc,id:desc", "updated_at:desc,id:desc", "updated_at:asc,id:desc"}
	for _, sp := range sortParams(roster.EntityListing, extra...) {
		walk(t, s, entityLister, sp, nil, 6, expectOrder(t, entityLister, sp, live))
		walk(t, s, entityLister, sp, map[string]string{"account_id": a.ID}, 5, expectOrder(t, entityLister, sp, ofA))
	}
	for _, sp := range []string{"name:desc", "created_at:asc", "updated_at:asc,id:desc"} {
		for _, limit := range []int{1, 2, 3, 7, 25, 100} {
			walk(t, s, entityLister, sp, nil, limit, expectOrder(t, entityLister, sp, live))
		}
	}
	for _, sp := range []string{"", "name:asc", "name:desc", "created_at:asc"} {
		walk(t, s, entityLister, sp, map[string]string{"account_id": a.ID, "source": "form"}, 4, expectOrder(t, entityLister, sp, formOfA))
		walk(t, s, entityLister, sp, map[string]string{"deprecated": "true"}, 4, expectOrder(t, entityLister, sp, deprecated))
	}
	// LeadConduit's listing: ascending creation.
	conduit := entityLister
	conduit.listing = roster.ConduitEntityListing
	walk(t, s, conduit, "", nil, 9, expectOrder(t, conduit, "", live))
}

func testPaginateKeys(t *testing.T, s roster.Store) {
	a := newAccount("A", "a-acct", at(0))
	b := newAccount("B", "b-acct", at(0))
	insertAccounts(t, s, &a, &b)
	now := at(24 * time.Hour)
	var all []*roster.APIKey
	for i := range 45 {
		acct := a.ID
		switch i % 4 {
		case 1:
			acct = b.ID
		case 3:
			acct = ""
		}
		role := roster.RoleAdmin
		if acct == "" {
			role = roster.RoleSuperadmin
		}
		k := newKey(acct, tieNames[(i*5)%len(tieNames)], role, at(time.Duration(i%3)*time.Second))
		k.UpdatedAt = at(time.Hour + time.Duration(i%2)*time.Microsecond)
		switch i % 5 {
		case 1:
			k.Revoked = true
		case 2:
			k.ExpiresAt = ptr(now.Add(-time.Duration(i) * time.Microsecond))
		case 3:
			k.ExpiresAt = ptr(now.Add(time.Duration(i+1) * time.Microsecond))
		}
		all = append(all, &k)
	}
	insertKeys(t, s, all...)
	l := lister[roster.APIKey]{
		listing: roster.KeyListing,
		list: func(ctx context.Context, tx roster.Tx, q roster.ListQuery) ([]roster.APIKey, error) {
			q.Now = now
			return tx.ListKeys(ctx, q)
		},
		value:   roster.KeyValue,
		id:      keyID,
		filters: plainFilters,
	}
	pick := func(keep func(roster.APIKey) bool) []roster.APIKey {
		var out []roster.APIKey
		for _, k := range all {
			if keep(*k) {
				out = append(out, *k)
			}
		}
		return out
	}
	everyKey := pick(func(roster.APIKey) bool { return true })
	for _, sp := range sortParams(roster.KeyListing) {
		walk(t, s, l, sp, nil, 8, expectOrder(t, l, sp, everyKey))
	}
	for _, st := range []roster.KeyStatus{roster.KeyActive, roster.KeyRevoked, roster.KeyExpired} {
		rows := pick(func(k roster.APIKey) bool { return k.Status(now) == st })
		walk(t, s, l, "name:asc", map[string]string{"status": string(st)}, 3, expectOrder(t, l, "name:asc", rows))
		rows = pick(func(k roster.APIKey) bool { return k.Status(now) == st && k.AccountID == a.ID })
		walk(t, s, l, "", map[string]string{"status": string(st), "account_id": a.ID}, 2, expectOrder(t, l, "", rows))
	}
}

var relationshipLister = lister[roster.Relationship]{
	listing: roster.RelationshipListing,
	list: func(ctx context.Context, tx roster.Tx, q roster.ListQuery) ([]roster.Relationship, error) {
		return tx.ListRelationships(ctx, q)
	},
	value:   roster.RelationshipValue,
	id:      func(r roster.Relationship) string { return r.AccountID + "/" + r.EntityID + "/" + r.Type },
	filters: plainFilters,
}

func testPaginateRelationships(t *testing.T, s roster.Store) {
	a := newAccount("A", "a-acct", at(0))
	b := newAccount("B", "b-acct", at(0))
	insertAccounts(t, s, &a, &b)
	var rels []roster.Relationship
	for i := range 20 {
		acct := a.ID
		if i%4 == 0 {
			acct = b.ID
		}
		e := newEntity(acct, fmt.Sprintf("e%02d", i), at(0))
		insertEntities(t, s, &e)
		for j, typ := range roster.RelationshipTypes {
			if (i+j)%3 == 0 {
				continue
			}
			rels = append(rels, roster.Relationship{AccountID: acct, EntityID: e.ID, Type: typ, CreatedAt: at(time.Duration((i+j)%3) * time.Second)})
		}
	}
	update(t, s, func(ctx context.Context, tx roster.Tx) error { return errOnly(tx.InsertRelationships(ctx, rels)) })
	ofA := filterRels(rels, func(r roster.Relationship) bool { return r.AccountID == a.ID })
	signersOfA := filterRels(ofA, func(r roster.Relationship) bool { return r.Type == "authorized_signer" })
	for _, sp := range sortParams(roster.RelationshipListing) {
		walk(t, s, relationshipLister, sp, nil, 4, expectOrder(t, relationshipLister, sp, rels))
		walk(t, s, relationshipLister, sp, map[string]string{"account_id": a.ID}, 3, expectOrder(t, relationshipLister, sp, ofA))
		walk(t, s, relationshipLister, sp, map[string]string{"account_id": a.ID, "relationship_type": "authorized_signer"}, 2, expectOrder(t, relationshipLister, sp, signersOfA))
		for _, limit := range []int{1, 5, 50} {
			walk(t, s, relationshipLister, sp, map[string]string{"account_id": a.ID}, limit, expectOrder(t, relationshipLister, sp, ofA))
		}
		first := ofA[0].EntityID
		ofFirst := filterRels(ofA, func(r roster.Relationship) bool { return r.EntityID == first })
		walk(t, s, relationshipLister, sp, map[string]string{"account_id": a.ID, "entity_id": first}, 1, expectOrder(t, relationshipLister, sp, ofFirst))
	}
}

// errOnly drops a write's result where a test needs only its error.
func errOnly[T any](_ T, err error) error { return err }

// --- idempotency ---

func claim(t *testing.T, s roster.Store, rec roster.IdempotencyRecord) (roster.IdempotencyRecord, bool) {
	t.Helper()
	var existing roster.IdempotencyRecord
	var claimed bool
	update(t, s, func(ctx context.Context, tx roster.Tx) error {
		var err error
		existing, claimed, err = tx.ClaimIdempotency(ctx, rec, rec.CreatedAt.Add(-roster.IdempotencyTTL))
		return err
	})
	return existing, claimed
}

func complete(t *testing.T, s roster.Store, rec roster.IdempotencyRecord, status int, body []byte) error {
	t.Helper()
	return updateErr(t, s, func(ctx context.Context, tx roster.Tx) error {
		return tx.CompleteIdempotency(ctx, rec.Scope, rec.Key, rec.Token, status, body)
	})
}

func release(t *testing.T, s roster.Store, rec roster.IdempotencyRecord) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx roster.Tx) error {
		return tx.ReleaseIdempotency(ctx, rec.Scope, rec.Key, rec.Token)
	})
}

func idemRecord(scope, key, fingerprint, token string, created time.Time) roster.IdempotencyRecord {
	return roster.IdempotencyRecord{Scope: scope, Key: key, Fingerprint: fingerprint, Token: token,
		LeaseUntil: created.Add(roster.IdempotencyLease), CreatedAt: created}
}

func testIdempotency(t *testing.T, s roster.Store) {
	first := idemRecord("account:aaa", "key-1 ✓", "fp-1", "token-1", at(0))
	if existing, claimed := claim(t, s, first); !claimed {
		t.Fatalf("fresh claim not claimed; existing %+v", existing)
	}

	// The same key again, from a second request: the first one holds it, in flight.
	second := idemRecord(first.Scope, first.Key, "fp-2", "token-2", at(time.Second))
	existing, claimed := claim(t, s, second)
	if claimed {
		t.Fatal("a held key was claimed again")
	}
	same(t, "existing in-flight record", existing, first)

	// Another scope, or another key, is another record.
	if _, claimed := claim(t, s, idemRecord("key:kkk", first.Key, "fp-1", "token-3", at(time.Second))); !claimed {
		t.Fatal("the same key in another scope was not claimed")
	}
	if _, claimed := claim(t, s, idemRecord(first.Scope, "key-2", "fp-1", "token-4", at(time.Second))); !claimed {
		t.Fatal("another key in the same scope was not claimed")
	}

	// Complete: the wrong token loses; the right one saves status and body.
	body := []byte("{\"id\":\"account_1\",\"name\":\"Ünïcode\"}\x00\xff")
	wrong := first
	wrong.Token = "token-2"
	wantErr(t, "CompleteIdempotency with the wrong token", complete(t, s, wrong, 201, body), roster.ErrNotFound)
	wantErr(t, "CompleteIdempotency of an unknown key", complete(t, s, idemRecord(first.Scope, "nope", "", first.Token, at(0)), 201, body), roster.ErrNotFound)
	if err := complete(t, s, first, 201, body); err != nil {
		t.Fatalf("CompleteIdempotency: %v", err)
	}
	wantErr(t, "CompleteIdempotency twice", complete(t, s, first, 200, []byte("other")), roster.ErrNotFound)
	existing, claimed = claim(t, s, second)
	if claimed {
		t.Fatal("a completed key was claimed again")
	}
	saved := first
	saved.Status, saved.Body = 201, body
	same(t, "completed record", existing, saved)

	// A completed record is kept after its lease: replays go on.
	late := idemRecord(first.Scope, first.Key, "fp-1", "token-5", at(time.Hour))
	existing, claimed = claim(t, s, late)
	if claimed {
		t.Fatal("a completed key was taken over after its lease")
	}
	same(t, "completed record after its lease", existing, saved)
	// Release never drops a completed record.
	release(t, s, first)
	if _, claimed := claim(t, s, late); claimed {
		t.Fatal("ReleaseIdempotency dropped a completed record")
	}

	// Release: the wrong token does nothing; the right one frees the key.
	held := idemRecord(first.Scope, "key-3", "fp-3", "token-6", at(0))
	if _, claimed := claim(t, s, held); !claimed {
		t.Fatal("fresh claim of key-3 not claimed")
	}
	release(t, s, idemRecord(held.Scope, held.Key, "", "token-x", at(0)))
	if existing, claimed := claim(t, s, idemRecord(held.Scope, held.Key, "fp-3", "token-7", at(time.Second))); claimed || existing.Token != held.Token {
		t.Fatalf("after a release with the wrong token: claimed %v, holder %q", claimed, existing.Token)
	}
	release(t, s, held)
	again := idemRecord(held.Scope, held.Key, "fp-3b", "token-8", at(2*time.Second))
	if existing, claimed := claim(t, s, again); !claimed {
		t.Fatalf("released key not claimed; existing %+v", existing)
	}
	wantErr(t, "CompleteIdempotency by the released holder", complete(t, s, held, 201, body), roster.ErrNotFound)
	existing, _ = claim(t, s, idemRecord(held.Scope, held.Key, "fp-3", "token-9", at(3*time.Second)))
	same(t, "record after release and re-claim", existing, again)
	if err := complete(t, s, again, 200, nil); err != nil {
		t.Fatalf("CompleteIdempotency with an empty body: %v", err)
	}
	existing, _ = claim(t, s, idemRecord(held.Scope, held.Key, "fp-3", "token-9", at(3*time.Second)))
	if existing.Status != 200 || len(existing.Body) != 0 || existing.Token != again.Token {
		t.Fatalf("record completed with an empty body = %+v", existing)
	}
}

func testIdempotencyTakeover(t *testing.T, s roster.Store) {
	// A request that died: its lease ran out without a saved response.
	dead := idemRecord("account:aaa", "k", "fp", "token-dead", at(0))
	claim(t, s, dead)
	// At the very end of the lease the key is still held: only a later claim may take it.
	if existing, claimed := claim(t, s, idemRecord(dead.Scope, dead.Key, "fp", "token-early", dead.LeaseUntil)); claimed || existing.Token != dead.Token {
		t.Fatalf("a key was taken over at the end of its lease: claimed %v, holder %q", claimed, existing.Token)
	}
	retry := idemRecord(dead.Scope, dead.Key, "fp", "token-retry", dead.LeaseUntil.Add(time.Microsecond))
	if existing, claimed := claim(t, s, retry); !claimed {
		t.Fatalf("an expired lease was not taken over; existing %+v", existing)
	}
	existing, claimed := claim(t, s, idemRecord(dead.Scope, dead.Key, "fp", "token-other", at(2*time.Minute)))
	if claimed {
		t.Fatal("a taken-over key was claimed again within the new lease")
	}
	same(t, "record after takeover", existing, retry)
	wantErr(t, "CompleteIdempotency by the holder that lost the lease", complete(t, s, dead, 201, []byte("late")), roster.ErrNotFound)
	release(t, s, dead) // does nothing: the key is the retry's now
	if err := complete(t, s, retry, 201, []byte("ok")); err != nil {
		t.Fatalf("CompleteIdempotency by the new holder: %v", err)
	}
	existing, _ = claim(t, s, idemRecord(dead.Scope, dead.Key, "fp", "token-other", at(3*time.Minute)))
	if existing.Token != retry.Token || existing.Status != 201 || string(existing.Body) != "ok" {
		t.Fatalf("record after completion by the new holder = %+v", existing)
	}

	// A saved record older than the TTL counts as absent.
	expired := idemRecord(dead.Scope, dead.Key, "fp-new", "token-next-day", retry.CreatedAt.Add(roster.IdempotencyTTL+time.Microsecond))
	if existing, claimed := claim(t, s, expired); !claimed {
		t.Fatalf("a record older than the TTL was not replaced; existing %+v", existing)
	}
	existing, _ = claim(t, s, idemRecord(dead.Scope, dead.Key, "fp", "token-x", expired.CreatedAt.Add(time.Second)))
	same(t, "record replaced after the TTL", existing, expired)
}

func testIdempotencyPurge(t *testing.T, s roster.Store) {
	done := idemRecord("s", "done", "fp", "t1", at(0))
	deadInFlight := idemRecord("s", "dead", "fp", "t2", at(0))
	longLease := idemRecord("s", "long", "fp", "t3", at(0))
	longLease.LeaseUntil = at(3 * time.Hour)
	recent := idemRecord("s", "recent", "fp", "t4", at(2*time.Hour))
	for _, r := range []roster.IdempotencyRecord{done, deadInFlight, longLease, recent} {
		if _, claimed := claim(t, s, r); !claimed {
			t.Fatalf("claim %s not claimed", r.Key)
		}
	}
	if err := complete(t, s, done, 201, []byte("x")); err != nil {
		t.Fatal(err)
	}
	var n int64
	update(t, s, func(ctx context.Context, tx roster.Tx) error {
		var err error
		n, err = tx.PurgeIdempotency(ctx, at(time.Hour))
		return err
	})
	if n != 2 {
		t.Fatalf("PurgeIdempotency removed %d records, want 2", n)
	}
	probe := func(r roster.IdempotencyRecord) bool {
		_, claimed := claim(t, s, idemRecord(r.Scope, r.Key, "probe", "probe-"+r.Key, at(90*time.Minute)))
		return claimed
	}
	for _, r := range []roster.IdempotencyRecord{done, deadInFlight} {
		if !probe(r) {
			t.Fatalf("purged record %s still holds its key", r.Key)
		}
	}
	for _, r := range []roster.IdempotencyRecord{longLease, recent} {
		if probe(r) {
			t.Fatalf("record %s was purged or taken over", r.Key)
		}
	}
	update(t, s, func(ctx context.Context, tx roster.Tx) error {
		var err error
		n, err = tx.PurgeIdempotency(ctx, at(-time.Hour))
		return err
	})
	if n != 0 {
		t.Fatalf("PurgeIdempotency of nothing removed %d", n)
	}
}

func testIdempotencyConcurrentClaim(t *testing.T, s roster.Store) {
	raceClaims(t, s, at(0))
}

// testIdempotencyConcurrentTakeover races retries for a key whose holder died.
func testIdempotencyConcurrentTakeover(t *testing.T, s roster.Store) {
	dead := idemRecord("account:race", "same-key", "fp", "token-dead", at(0))
	if _, claimed := claim(t, s, dead); !claimed {
		t.Fatal("fresh claim not claimed")
	}
	raceClaims(t, s, dead.LeaseUntil.Add(time.Second))
}

// raceClaims has 20 requests claim one key at once, each in its own transaction: exactly one
// wins and the others see it in flight.
func raceClaims(t *testing.T, s roster.Store, now time.Time) {
	const n = 20
	var wg sync.WaitGroup
	start := make(chan struct{})
	type result struct {
		existing roster.IdempotencyRecord
		claimed  bool
		err      error
	}
	results := make([]result, n)
	ctx := t.Context()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := idemRecord("account:race", "same-key", "fp", fmt.Sprintf("token-%02d", i), now)
			<-start
			results[i].err = s.Update(ctx, func(tx roster.Tx) error {
				var err error
				results[i].existing, results[i].claimed, err = tx.ClaimIdempotency(ctx, rec, rec.CreatedAt.Add(-roster.IdempotencyTTL))
				return err
			})
		}()
	}
	close(start)
	wg.Wait()
	winner := ""
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("claim %d: %v", i, r.err)
		}
		if r.claimed {
			if winner != "" {
				t.Fatalf("two claims won: %s and token-%02d", winner, i)
			}
			winner = fmt.Sprintf("token-%02d", i)
		}
	}
	if winner == "" {
		t.Fatal("no claim won")
	}
	for i, r := range results {
		if !r.claimed && (r.existing.Token != winner || r.existing.Status != 0 || r.existing.Fingerprint != "fp") {
			t.Fatalf("claim %d lost but saw holder %+v, want %s in flight", i, r.existing, winner)
		}
	}
	existing, claimed := claim(t, s, idemRecord("account:race", "same-key", "fp", "token-late", now.Add(time.Second)))
	if claimed || existing.Token != winner || !existing.LeaseUntil.Equal(now.Add(roster.IdempotencyLease)) {
		t.Fatalf("after the race: claimed %v, holder %+v, want %s", claimed, existing, winner)
	}
}

// --- nonces ---

func spend(t *testing.T, s roster.Store, value, keyID string, now time.Time) bool {
	t.Helper()
	var ok bool
	update(t, s, func(ctx context.Context, tx roster.Tx) error {
		var err error
		ok, err = tx.SpendNonce(ctx, value, keyID, now)
		return err
	})
	return ok
}

func testNonces(t *testing.T, s roster.Store) {
	keyA, keyB := roster.NewID(base), roster.NewID(base)
	n1 := roster.Nonce{Value: "0b6f5a4e-2c1d-4e8f-9a7b-1c2d3e4f5a6b", KeyID: keyA, ExpiresAt: at(roster.NonceTTL), CreatedAt: at(0)}
	n2 := roster.Nonce{Value: "1b6f5a4e-2c1d-4e8f-9a7b-1c2d3e4f5a6b", KeyID: keyA, ExpiresAt: at(roster.NonceTTL), CreatedAt: at(0)}
	n3 := roster.Nonce{Value: "2b6f5a4e-2c1d-4e8f-9a7b-1c2d3e4f5a6b", KeyID: keyB, ExpiresAt: at(2 * roster.NonceTTL), CreatedAt: at(0)}
	update(t, s, func(ctx context.Context, tx roster.Tx) error {
		for _, n := range []roster.Nonce{n1, n2, n3} {
			if err := tx.InsertNonce(ctx, n); err != nil {
				return err
			}
		}
		return nil
	})
	err := updateErr(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.InsertNonce(ctx, n1) })
	wantErr(t, "InsertNonce of a taken value", err, roster.ErrConflict)

	if spend(t, s, n1.Value, keyB, at(time.Second)) {
		t.Fatal("a nonce was spent by another key")
	}
	if spend(t, s, "ffffffff-2c1d-4e8f-9a7b-1c2d3e4f5a6b", keyA, at(time.Second)) {
		t.Fatal("an unknown nonce was spent")
	}
	if !spend(t, s, n1.Value, keyA, at(time.Second)) {
		t.Fatal("a fresh nonce was not spent by its key")
	}
	if spend(t, s, n1.Value, keyA, at(2*time.Second)) {
		t.Fatal("a nonce was spent twice")
	}
	// Expiry: usable until just before expires_at, not at it.
	if spend(t, s, n2.Value, keyA, n2.ExpiresAt) {
		t.Fatal("a nonce was spent at its expiry")
	}
	if spend(t, s, n2.Value, keyA, n2.ExpiresAt.Add(time.Hour)) {
		t.Fatal("a nonce was spent after its expiry")
	}
	if !spend(t, s, n2.Value, keyA, n2.ExpiresAt.Add(-time.Microsecond)) {
		t.Fatal("a nonce was not spent an instant before its expiry")
	}

	// Purge removes what expired before the moment given, used or not.
	var purged int64
	update(t, s, func(ctx context.Context, tx roster.Tx) error {
		var err error
		purged, err = tx.PurgeNonces(ctx, n1.ExpiresAt)
		return err
	})
	if purged != 0 {
		t.Fatalf("PurgeNonces at the expiry removed %d, want 0", purged)
	}
	update(t, s, func(ctx context.Context, tx roster.Tx) error {
		var err error
		purged, err = tx.PurgeNonces(ctx, n1.ExpiresAt.Add(time.Microsecond))
		return err
	})
	if purged != 2 {
		t.Fatalf("PurgeNonces removed %d, want 2", purged)
	}
	// n3 survived and is still good; n1's value is free again.
	if !spend(t, s, n3.Value, keyB, at(90*time.Second)) {
		t.Fatal("a nonce that was not purged could not be spent")
	}
	update(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.InsertNonce(ctx, n1) })
}

func testNonceConcurrentSpend(t *testing.T, s roster.Store) {
	key := roster.NewID(base)
	nonce := roster.Nonce{Value: "3c6f5a4e-2c1d-4e8f-9a7b-1c2d3e4f5a6b", KeyID: key, ExpiresAt: at(roster.NonceTTL), CreatedAt: at(0)}
	update(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.InsertNonce(ctx, nonce) })
	const n = 20
	var wg sync.WaitGroup
	start := make(chan struct{})
	spent := make([]bool, n)
	errs := make([]error, n)
	ctx := t.Context()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = s.Update(ctx, func(tx roster.Tx) error {
				var err error
				spent[i], err = tx.SpendNonce(ctx, nonce.Value, key, at(time.Second))
				return err
			})
		}()
	}
	close(start)
	wg.Wait()
	wins := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("spend %d: %v", i, errs[i])
		}
		if spent[i] {
			wins++
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d concurrent spends succeeded, want exactly 1", wins, n)
	}
}

// LockAccount reads a live account like Account and refuses a deleted one, so a write that adds
// rows under an account cannot add them to one that is gone.
func testLockAccount(t *testing.T, s roster.Store) {
	ctx := t.Context()
	now := base
	a := roster.Account{ID: roster.NewID(now), Name: "Lock", Slug: "lock-co", Status: roster.AccountActive, CreatedAt: now, UpdatedAt: now}
	update(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.InsertAccount(ctx, &a) })
	err := s.Update(ctx, func(tx roster.Tx) error {
		got, err := tx.LockAccount(ctx, a.ID)
		if err == nil && got.Slug != a.Slug {
			t.Errorf("LockAccount read %+v", got)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	update(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.DeleteAccount(ctx, a.ID, now) })
	err = s.Update(ctx, func(tx roster.Tx) error {
		_, err := tx.LockAccount(ctx, a.ID)
		return err
	})
	if !errors.Is(err, roster.ErrNotFound) {
		t.Fatalf("LockAccount of a deleted account: %v, want ErrNotFound", err)
	}
}

// UpdateLazy commits like Update: its writes are visible to the next read and write at once.
func testUpdateLazy(t *testing.T, s roster.Store) {
	ctx := t.Context()
	now := base
	a := roster.Account{ID: roster.NewID(now), Name: "Lazy", Slug: "lazy-co", Status: roster.AccountActive, CreatedAt: now, UpdatedAt: now}
	if err := s.UpdateLazy(ctx, func(tx roster.Tx) error { return tx.InsertAccount(ctx, &a) }); err != nil {
		t.Fatal(err)
	}
	err := s.View(ctx, func(tx roster.Tx) error {
		got, err := tx.Account(ctx, a.ID)
		if err == nil && got.Slug != "lazy-co" {
			t.Errorf("read back %+v", got)
		}
		return err
	})
	if err != nil {
		t.Fatalf("a lazy write is not visible: %v", err)
	}
	errBoom := errors.New("boom")
	if err := s.UpdateLazy(ctx, func(tx roster.Tx) error {
		b := a
		b.ID, b.Slug = roster.NewID(now), "lazy-two"
		if err := tx.InsertAccount(ctx, &b); err != nil {
			return err
		}
		return errBoom
	}); !errors.Is(err, errBoom) {
		t.Fatalf("a failing lazy write: %v", err)
	}
	err = s.View(ctx, func(tx roster.Tx) error {
		as, err := tx.ListAccounts(ctx, roster.ListQuery{Filters: []roster.Filter{{Field: "slug", Value: "lazy-two"}}, Order: roster.Sort{{Field: "id"}}, Limit: 5})
		if err == nil && len(as) != 0 {
			t.Errorf("a failed lazy write left %v", as)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
