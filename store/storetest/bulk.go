package storetest

import (
	"context"
	"iter"
	"reflect"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// BulkStore is a store with the bulk path the benchmark seeds through.
type BulkStore interface {
	roster.Store
	BulkLoad(ctx context.Context, accounts []roster.Account, entities iter.Seq[roster.Entity],
		relationships iter.Seq[roster.Relationship], progress func(step string, done, total int)) error
}

// RunBulk loads through the bulk path and reads back through the store: every column in the
// form the store writes, the secondary indexes back in place (countIndexes counts them), a
// second load into tables that have rows, and failing and cancelled loads that leave their
// table as it was.
func RunBulk(t *testing.T, s BulkStore, countIndexes func() int) {
	ctx := t.Context()
	var err error
	indexes := countIndexes()

	at := time.Date(2025, 3, 4, 5, 6, 7, 891011000, time.UTC)
	acct := roster.Account{ID: "0123456789abcdef01234567", Name: "Acme", Slug: "acme", Status: roster.AccountActive, CreatedAt: at, UpdatedAt: at}
	str := func(s string) *string { return &s }
	full := roster.Entity{ID: "65e5a1b2c3d4e5f601020304", AccountID: acct.ID, Name: "Full", ModuleIDs: []string{"a", "b"},
		Source: str("form"), Recipient: str("crm"), Description: str("d"), Deprecated: true, See: str("65e5a1b2c3d4e5f601020305"),
		FieldSuffix: str("abc"), InvitationID: str("0123456789abcdef0123abcd"), FlowIDs: []string{"0123456789abcdef0123abce"},
		LogoURL: str("https://l.example"), Website: str("https://w.example"), TimeZone: str("America/Chicago"),
		TrustedFormCertifiedVendor: true, CreatedAt: at, UpdatedAt: at.Add(time.Second)}
	bare := roster.Entity{ID: "65e5a1b2c3d4e5f601020305", AccountID: acct.ID, Name: "Bare", ModuleIDs: []string{}, FlowIDs: []string{},
		CreatedAt: at.Add(time.Minute), UpdatedAt: at.Add(time.Minute)}
	seq := func(es ...roster.Entity) func(func(roster.Entity) bool) {
		return func(yield func(roster.Entity) bool) {
			for _, e := range es {
				if !yield(e) {
					return
				}
			}
		}
	}
	rel := roster.Relationship{AccountID: acct.ID, EntityID: full.ID, Type: "account_holder", CreatedAt: at}
	var steps []string
	err = s.BulkLoad(ctx, []roster.Account{acct}, seq(full, bare), func(yield func(roster.Relationship) bool) { yield(rel) },
		func(step string, done, total int) {
			if len(steps) == 0 || steps[len(steps)-1] != step {
				steps = append(steps, step)
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"accounts", "accounts indexes", "entities", "entities indexes", "relationships", "relationships indexes"}; !reflect.DeepEqual(steps, want) {
		t.Errorf("progress steps = %q, want %q", steps, want)
	}
	if got := countIndexes(); got != indexes {
		t.Errorf("%d indexes after the load, %d before", got, indexes)
	}

	check := func(want ...roster.Entity) {
		t.Helper()
		err := s.View(ctx, func(tx roster.Tx) error {
			for _, e := range want {
				got, err := tx.Entity(ctx, e.ID)
				if err != nil {
					return err
				}
				if !reflect.DeepEqual(got, e) {
					t.Errorf("entity read back\n got %+v\nwant %+v", got, e)
				}
			}
			list, err := tx.ListEntities(ctx, roster.ListQuery{Filters: []roster.Filter{{Field: "account_id", Value: acct.ID}},
				Order: roster.Sort{{Field: "name"}, {Field: "id"}}, Limit: 10})
			if err != nil {
				return err
			}
			if len(list) != len(want) {
				t.Errorf("listed %d entities, want %d", len(list), len(want))
			}
			a, err := tx.Account(ctx, acct.ID)
			if err != nil || a != acct {
				t.Errorf("account read back: %+v, %v", a, err)
			}
			rels, err := tx.ListRelationships(ctx, roster.ListQuery{Filters: []roster.Filter{{Field: "account_id", Value: acct.ID}},
				Order: roster.Sort{{Field: "created_at"}, {Field: "entity_id"}, {Field: "relationship_type"}}, Limit: 10})
			if err != nil || len(rels) != 1 || rels[0] != rel {
				t.Errorf("relationships read back: %+v, %v", rels, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	check(full, bare)

	// Into a table with rows, the indexes stay.
	more := roster.Entity{ID: "65e5a1b2c3d4e5f601020306", AccountID: acct.ID, Name: "More", ModuleIDs: []string{}, FlowIDs: []string{},
		CreatedAt: at.Add(time.Hour), UpdatedAt: at.Add(time.Hour)}
	if err := s.BulkLoad(ctx, nil, seq(more), nil, nil); err != nil {
		t.Fatal(err)
	}
	check(full, bare, more)

	// A duplicate fails the load of its table, which is left as it was.
	late := roster.Entity{ID: "65e5a1b2c3d4e5f601020307", AccountID: acct.ID, Name: "Late", ModuleIDs: []string{}, FlowIDs: []string{},
		CreatedAt: at.Add(2 * time.Hour), UpdatedAt: at.Add(2 * time.Hour)}
	if err := s.BulkLoad(ctx, nil, seq(late, more), nil, nil); err == nil {
		t.Fatal("a duplicate id loaded")
	}
	check(full, bare, more)
	if got := countIndexes(); got != indexes {
		t.Errorf("%d indexes after a failed load, %d before", got, indexes)
	}

	// A cancelled load stops and rolls back.
	cctx, cancel := context.WithCancel(ctx)
	n := 0
	err = s.BulkLoad(cctx, nil, func(yield func(roster.Entity) bool) {
		for i := 0; ; i++ {
			e := late
			e.ID = "75e5a1b2c3d4e5f6" + string("0123456789abcdef"[i>>12&15]) + string("0123456789abcdef"[i>>8&15]) +
				string("0123456789abcdef"[i>>4&15]) + string("0123456789abcdef"[i&15]) + "0000"
			if n++; n == 5000 {
				cancel()
			}
			if !yield(e) {
				return
			}
		}
	}, nil, nil)
	if err == nil {
		t.Fatal("a cancelled load succeeded")
	}
	check(full, bare, more)

	// The store still writes through its usual path.
	if err := s.Update(ctx, func(tx roster.Tx) error { return tx.InsertEntity(ctx, &late) }); err != nil {
		t.Fatal(err)
	}
}
