package storetest

// Row locks of write transactions (SPEC §11): a write that changes a row from what it read
// holds what it read, so concurrent read-modify-writes of one row never lose one another's
// change, and a row that a write relies on cannot be deleted under it. SQLite passes these by
// running writes one at a time; PostgreSQL passes them only through the locks.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

const (
	lockWriters = 8
	lockRounds  = 10
)

// concurrently runs fn(w, i) for lockRounds rounds in each of lockWriters goroutines, each
// call in its own write transaction, and fails the test on any error.
func concurrently(t *testing.T, s roster.Store, fn func(ctx context.Context, tx roster.Tx, w, i int) error) {
	t.Helper()
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, lockWriters*lockRounds)
	start := make(chan struct{})
	for w := range lockWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range lockRounds {
				if err := s.Update(ctx, func(tx roster.Tx) error { return fn(ctx, tx, w, i) }); err != nil {
					errs <- fmt.Errorf("writer %d round %d: %w", w, i, err)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// increment reads a counter kept in a name and writes it back one higher.
func increment(name string) (string, error) {
	n, err := strconv.Atoi(name)
	return strconv.Itoa(n + 1), err
}

// The XForUpdate reads hold the row until the transaction ends: lockWriters×lockRounds
// concurrent increments of a counter kept in one row all count.
func testReadForUpdate(t *testing.T, s roster.Store) {
	a := newAccount("0", "counter", at(0))
	insertAccounts(t, s, &a)
	k := newKey(a.ID, "0", roster.RoleAdmin, at(time.Second))
	insertKeys(t, s, &k)
	e := newEntity(a.ID, "0", at(2*time.Second))
	insertEntities(t, s, &e)
	want := strconv.Itoa(lockWriters * lockRounds)

	t.Run("account", func(t *testing.T) {
		concurrently(t, s, func(ctx context.Context, tx roster.Tx, _, _ int) error {
			got, err := tx.AccountForUpdate(ctx, a.ID)
			if err != nil {
				return err
			}
			if got.Name, err = increment(got.Name); err != nil {
				return err
			}
			return tx.UpdateAccount(ctx, &got)
		})
		got, err := getAccount(t, s, a.ID)
		if err != nil || got.Name != want {
			t.Fatalf("after %s concurrent increments the account's counter is %q (%v): updates were lost", want, got.Name, err)
		}
	})
	t.Run("key", func(t *testing.T) {
		concurrently(t, s, func(ctx context.Context, tx roster.Tx, w, i int) error {
			got, err := tx.KeyForUpdate(ctx, k.ID)
			if err != nil {
				return err
			}
			if got.Name, err = increment(got.Name); err != nil {
				return err
			}
			if w == 3 && i == 5 {
				got.Revoked = true // one revocation among the renames, never undone
			}
			return tx.UpdateKey(ctx, &got)
		})
		got, err := getKey(t, s, k.ID)
		if err != nil || got.Name != want || !got.Revoked {
			t.Fatalf("after %s concurrent increments and one revocation the key is %q revoked=%v (%v)", want, got.Name, got.Revoked, err)
		}
	})
	t.Run("entity", func(t *testing.T) {
		concurrently(t, s, func(ctx context.Context, tx roster.Tx, _, _ int) error {
			got, err := tx.EntityForUpdate(ctx, e.ID)
			if err != nil {
				return err
			}
			if got.Name, err = increment(got.Name); err != nil {
				return err
			}
			return tx.UpdateEntity(ctx, &got)
		})
		got, err := getEntity(t, s, e.ID)
		if err != nil || got.Name != want {
			t.Fatalf("after %s concurrent increments the entity's counter is %q (%v): updates were lost", want, got.Name, err)
		}
	})
	t.Run("shared key", func(t *testing.T) {
		var got roster.APIKey
		update(t, s, func(ctx context.Context, tx roster.Tx) error {
			var err error
			got, err = tx.LockKey(ctx, k.ID)
			return err
		})
		if got.ID != k.ID || got.AccountID != a.ID {
			t.Fatalf("LockKey read %+v", got)
		}
	})
	t.Run("caller", func(t *testing.T) {
		for _, exclusive := range []bool{false, true} {
			var got roster.Credential
			update(t, s, func(ctx context.Context, tx roster.Tx) error {
				var err error
				got, err = tx.LockCaller(ctx, k.ID, a.ID, exclusive)
				return err
			})
			if got.KeyID != k.ID || got.AccountID != a.ID || got.AccountStatus != roster.AccountActive || got.Role != roster.RoleAdmin {
				t.Fatalf("LockCaller(exclusive %v) read %+v", exclusive, got)
			}
		}
		err := updateErr(t, s, func(ctx context.Context, tx roster.Tx) error {
			_, err := tx.LockCaller(ctx, k.ID, roster.NewID(base), false)
			return err
		})
		wantErr(t, "LockCaller with another account", err, roster.ErrNotFound)
	})
	t.Run("deleted", func(t *testing.T) {
		update(t, s, func(ctx context.Context, tx roster.Tx) error { return errOnly(tx.DeleteEntity(ctx, e.ID)) })
		err := updateErr(t, s, func(ctx context.Context, tx roster.Tx) error {
			_, err := tx.EntityForUpdate(ctx, e.ID)
			return err
		})
		wantErr(t, "EntityForUpdate of a deleted entity", err, roster.ErrNotFound)
		err = updateErr(t, s, func(ctx context.Context, tx roster.Tx) error {
			_, err := tx.LockEntity(ctx, e.ID)
			return err
		})
		wantErr(t, "LockEntity of a deleted entity", err, roster.ErrNotFound)
		gone := newKey(a.ID, "gone", roster.RoleAdmin, at(3*time.Second))
		insertKeys(t, s, &gone)
		gone.Deleted, gone.UpdatedAt = true, at(4*time.Second)
		update(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.UpdateKey(ctx, &gone) })
		err = updateErr(t, s, func(ctx context.Context, tx roster.Tx) error {
			_, err := tx.LockKey(ctx, gone.ID)
			return err
		})
		wantErr(t, "LockKey of a deleted key", err, roster.ErrNotFound)
	})
}

// ExistingEntities holds the rows it found: relationships added by a transaction that found
// an entity never outlive that entity's concurrent deletion, and two transactions that add
// the same relationships in opposite orders both succeed (no deadlock).
func testRelationshipsRaceDelete(t *testing.T, s roster.Store) {
	a := newAccount("Race", "race", at(0))
	insertAccounts(t, s, &a)
	const n = lockWriters * lockRounds
	es := make([]roster.Entity, n)
	for i := range es {
		es[i] = newEntity(a.ID, fmt.Sprint(i), at(time.Duration(i+1)*time.Millisecond))
		insertEntities(t, s, &es[i])
	}
	other := newEntity(a.ID, "other", at(time.Second))
	insertEntities(t, s, &other)
	concurrently(t, s, func(ctx context.Context, tx roster.Tx, w, i int) error {
		victim := es[(w/2)*lockRounds+i].ID
		if w%2 == 0 {
			if _, err := tx.EntityForUpdate(ctx, victim); err != nil {
				return err
			}
			return errOnly(tx.DeleteEntity(ctx, victim))
		}
		ids := []string{other.ID, victim}
		if i%2 == 1 {
			ids = []string{victim, other.ID}
		}
		found, err := tx.ExistingEntities(ctx, a.ID, ids)
		if err != nil {
			return err
		}
		var rs []roster.Relationship
		for _, id := range ids {
			if found[id] {
				rs = append(rs, roster.Relationship{AccountID: a.ID, EntityID: id, Type: "authorized_user", CreatedAt: at(time.Minute)})
			}
		}
		return errOnly(tx.InsertRelationships(ctx, rs))
	})
	live := map[string]bool{other.ID: true}
	for i := lockWriters / 2 * lockRounds; i < n; i++ {
		live[es[i].ID] = true
	}
	for _, r := range listRelationships(t, s, relQuery(roster.Filter{Field: "account_id", Value: a.ID})) {
		if !live[r.EntityID] {
			t.Fatalf("relationship %+v names an entity deleted concurrently with its insert", r)
		}
	}
}

// CountActiveKeys counts an account's keys that still authenticate.
func testCountActiveKeys(t *testing.T, s roster.Store) {
	a := newAccount("Count", "count", at(0))
	b := newAccount("Other", "other", at(0))
	insertAccounts(t, s, &a, &b)
	live := newKey(a.ID, "live", roster.RoleAdmin, at(time.Second))
	reader := newKey(a.ID, "reader", roster.RoleReader, at(time.Second))
	later := newKey(a.ID, "expires later", roster.RoleAdmin, at(time.Second))
	later.ExpiresAt = ptr(at(time.Hour))
	expired := newKey(a.ID, "expired", roster.RoleAdmin, at(time.Second))
	expired.ExpiresAt = ptr(at(time.Minute))
	revoked := newKey(a.ID, "revoked", roster.RoleAdmin, at(time.Second))
	revoked.Revoked = true
	deleted := newKey(a.ID, "deleted", roster.RoleAdmin, at(time.Second))
	elsewhere := newKey(b.ID, "elsewhere", roster.RoleAdmin, at(time.Second))
	super := newKey("", "root", roster.RoleSuperadmin, at(time.Second))
	insertKeys(t, s, &live, &reader, &later, &expired, &revoked, &deleted, &elsewhere, &super)
	deleted.Deleted, deleted.UpdatedAt = true, at(2*time.Second)
	update(t, s, func(ctx context.Context, tx roster.Tx) error { return tx.UpdateKey(ctx, &deleted) })
	var n int
	view(t, s, func(ctx context.Context, tx roster.Tx) error {
		var err error
		n, err = tx.CountActiveKeys(ctx, a.ID, at(30*time.Minute))
		return err
	})
	same(t, "CountActiveKeys", n, 3)
	err := viewErr(t, s, func(ctx context.Context, tx roster.Tx) error {
		var err error
		n, err = tx.CountActiveKeys(ctx, roster.NewID(base), at(0))
		return err
	})
	if err != nil && !errors.Is(err, roster.ErrNotFound) {
		t.Fatal(err)
	}
	same(t, "CountActiveKeys of an unknown account", n, 0)
}
