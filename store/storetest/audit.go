package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// auditAppend appends one record to the chain of account in tx, as the core does: the head
// held, the next sequence, prev_hash the head's hash, a hash of its own making.
func auditAppend(ctx context.Context, tx roster.Tx, account, action string, at time.Time) (roster.AuditRecord, error) {
	head, err := tx.LockAuditHead(ctx, account)
	if err != nil {
		return roster.AuditRecord{}, err
	}
	rec := roster.AuditRecord{ID: roster.NewID(at), AccountID: account, Sequence: head.Sequence + 1, OccurredAt: at, ActorType: roster.ActorKey,
		ActorKeyID: roster.NewID(at), ActorRole: roster.RoleAdmin, Source: roster.Source{IP: "10.0.0.1", UserAgent: "storetest"},
		RequestID: "req", Action: action, TargetType: "entity", TargetID: roster.NewID(at), Outcome: roster.OutcomeSuccess, Status: 201,
		Count: 1, Changes: []byte(`{"after":{"name":"x"},"before":{}}`), PrevHash: head.Hash}
	rec.Hash = hash(fmt.Sprint(rec.Sequence, rec.PrevHash, rec.ID))
	return rec, tx.AppendAudit(ctx, &rec)
}

// Audit records: a chain starts at sequence 1 from the genesis hash; each append moves the
// head apart from the records; records read back as written, by id, by chain and in lists
// (newest first, filtered, and stopped short on a window that holds too few matches).
func testAudit(t *testing.T, s roster.Store) {
	acct, other := roster.NewID(base), roster.NewID(base)
	var recs []roster.AuditRecord
	update(t, s, func(ctx context.Context, tx roster.Tx) error {
		h, err := tx.LockAuditHead(ctx, acct)
		if err != nil || h.Sequence != 0 || h.Hash != roster.GenesisHash {
			return fmt.Errorf("a new chain's head: %+v, %v", h, err)
		}
		for i := range 60 {
			action := "entity.create"
			if i%20 == 7 {
				action = "entity.delete"
			}
			r, err := auditAppend(ctx, tx, acct, action, at(time.Duration(i)*time.Second))
			if err != nil {
				return err
			}
			recs = append(recs, r)
		}
		_, err = auditAppend(ctx, tx, other, "account.update", at(0))
		return err
	})
	view(t, s, func(ctx context.Context, tx roster.Tx) error {
		h, err := tx.AuditHead(ctx, acct)
		if err != nil || h.Sequence != 60 || h.Hash != recs[59].Hash {
			t.Fatalf("head %+v, %v; want 60 %s", h, err, recs[59].Hash)
		}
		if _, err := tx.AuditHead(ctx, roster.NewID(base)); !errors.Is(err, roster.ErrNotFound) {
			t.Fatalf("the head of a chain with no record: %v", err)
		}
		chains, err := tx.AuditChains(ctx)
		if err != nil || len(chains) != 2 {
			t.Fatalf("chains %v, %v", chains, err)
		}
		got, err := tx.AuditRecord(ctx, recs[3].ID)
		want := recs[3]
		got.Position = 0
		if err != nil || got.Hash != want.Hash || string(got.Changes) != string(want.Changes) || !got.OccurredAt.Equal(want.OccurredAt) ||
			got.Source != want.Source || got.ActorRole != want.ActorRole || got.TargetID != want.TargetID || got.Status != 201 {
			t.Fatalf("record by id: %+v, %v; want %+v", got, err, want)
		}
		chain, err := tx.AuditChain(ctx, acct, 10, 5)
		if err != nil || len(chain) != 5 || chain[0].Sequence != 11 || chain[4].Sequence != 15 {
			t.Fatalf("chain after 10: %d records, %v", len(chain), err)
		}
		// One account, newest first, by sequence.
		q := roster.ListQuery{Filters: []roster.Filter{{Field: "account_id", Value: acct}}, Order: roster.Sort{{Field: "position", Desc: true}}, Limit: 3}
		page, err := tx.ListAudit(ctx, q)
		if err != nil || len(page) != 3 || page[0].Sequence != 60 || page[0].Position != 60 || page[2].Sequence != 58 {
			t.Fatalf("first page: %d records, %v", len(page), err)
		}
		q.After = []any{int64(58)}
		if page, err = tx.ListAudit(ctx, q); err != nil || page[0].Sequence != 57 {
			t.Fatalf("page after 58: %v", err)
		}
		// A filter that matches 3 of 60: the window stops short and says where.
		stop := &roster.ListStop{}
		q = roster.ListQuery{Filters: []roster.Filter{{Field: "account_id", Value: acct}, {Field: "action", Value: "entity.delete"}},
			Order: roster.Sort{{Field: "position", Desc: true}}, Limit: 3, Stop: stop}
		if page, err = tx.ListAudit(ctx, q); err != nil || len(page) != 2 || page[0].Sequence != 48 || page[1].Sequence != 28 || stop.After == nil {
			t.Fatalf("filtered window: %d records (%v), stop %v", len(page), err, stop.After)
		}
		// Every chain, by position in the table.
		q = roster.ListQuery{Order: roster.Sort{{Field: "position", Desc: true}}, Limit: 100}
		if page, err = tx.ListAudit(ctx, q); err != nil || len(page) != 61 || page[0].AccountID != other {
			t.Fatalf("every chain: %d records, %v", len(page), err)
		}
		return nil
	})
}

// A write that rolls back takes its record and its head's move with it.
func testAuditRollback(t *testing.T, s roster.Store) {
	acct := roster.NewID(base)
	update(t, s, func(ctx context.Context, tx roster.Tx) error {
		_, err := auditAppend(ctx, tx, acct, "entity.create", at(0))
		return err
	})
	boom := errors.New("boom")
	err := s.Update(t.Context(), func(tx roster.Tx) error {
		if _, err := auditAppend(t.Context(), tx, acct, "entity.update", at(time.Second)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("update: %v", err)
	}
	view(t, s, func(ctx context.Context, tx roster.Tx) error {
		h, err := tx.AuditHead(ctx, acct)
		recs, err2 := tx.AuditChain(ctx, acct, 0, 10)
		if err != nil || err2 != nil || h.Sequence != 1 || len(recs) != 1 {
			t.Fatalf("after a rollback: head %+v (%v), %d records (%v)", h, err, len(recs), err2)
		}
		return nil
	})
}

// Concurrent appends to one chain, each in its own transaction, are serialized by the head:
// sequences 1…n without a gap or a repeat, each prev_hash its predecessor's hash.
func testAuditConcurrentHead(t *testing.T, s roster.Store) {
	acct := roster.NewID(base)
	const n = 24
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = s.Update(t.Context(), func(tx roster.Tx) error {
				_, err := auditAppend(t.Context(), tx, acct, "entity.create", at(time.Duration(i)))
				return err
			})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	view(t, s, func(ctx context.Context, tx roster.Tx) error {
		recs, err := tx.AuditChain(ctx, acct, 0, 100)
		if err != nil || len(recs) != n {
			t.Fatalf("%d records, %v", len(recs), err)
		}
		prev := roster.GenesisHash
		for i, r := range recs {
			if r.Sequence != int64(i+1) || r.PrevHash != prev {
				t.Fatalf("record %d: sequence %d, prev_hash %s, want %s", i, r.Sequence, r.PrevHash, prev)
			}
			prev = r.Hash
		}
		return nil
	})
}

// Concurrent appends of which half roll back (after appending): the chain holds the others
// only, without a gap — also when they shared a transaction (SQLite's group commit, where a
// write rolled back to its savepoint takes its buffered append with it).
func testAuditConcurrentRollback(t *testing.T, s roster.Store) {
	acct := roster.NewID(base)
	const n = 24
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = s.Update(t.Context(), func(tx roster.Tx) error {
				if _, err := auditAppend(t.Context(), tx, acct, "entity.create", at(time.Duration(i))); err != nil {
					return err
				}
				if i%2 == 1 {
					return boom
				}
				return nil
			})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if want := i%2 == 1; errors.Is(err, boom) != want || !want && err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	view(t, s, func(ctx context.Context, tx roster.Tx) error {
		recs, err := tx.AuditChain(ctx, acct, 0, 100)
		h, herr := tx.AuditHead(ctx, acct)
		if err != nil || herr != nil || len(recs) != n/2 || h.Sequence != n/2 || h.Hash != recs[len(recs)-1].Hash {
			t.Fatalf("%d records (%v), head %+v (%v)", len(recs), err, h, herr)
		}
		prev := roster.GenesisHash
		for i, r := range recs {
			if r.Sequence != int64(i+1) || r.PrevHash != prev {
				t.Fatalf("record %d: sequence %d, prev_hash %s, want %s", i, r.Sequence, r.PrevHash, prev)
			}
			prev = r.Hash
		}
		return nil
	})
}
