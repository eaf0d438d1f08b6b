package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store/sqlite"
)

// TestWriteCacheSeesOtherWriters: the write loop keeps event counters, chain heads and the feed's
// next position in memory from one batch to the next. Another process writing the same file in
// between (roster accounts create, roster import beside a server) must not be overwritten: the
// next batch finds the database changed and reads them again. Without that, the second append
// below reuses a sequence (a unique-index conflict) or forks the chain.
func TestWriteCacheSeesOtherWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.db")
	open := func() *sqlite.Store {
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	server, cli := open(), open()
	account := roster.NewID(time.Now())
	appendBoth := func(s *sqlite.Store, what string) {
		t.Helper()
		err := s.Update(t.Context(), func(tx roster.Tx) error {
			ctx := context.Background()
			now := time.Now()
			if _, err := tx.AppendEvents(ctx, []roster.EventRecord{{AccountID: account, Type: roster.EventEntityCreated, ObjectID: what,
				Data: []byte(`{"object":{}}`), RequestID: what, CreatedAt: now}}); err != nil {
				return err
			}
			head, err := tx.LockAuditHead(ctx, account)
			if err != nil {
				return err
			}
			rec := roster.AuditRecord{AccountID: account, Sequence: head.Sequence + 1, PrevHash: head.Hash, OccurredAt: now,
				ActorType: roster.ActorCLI, Action: "entity.create", Outcome: roster.OutcomeSuccess, Count: 1}
			rec.ID = roster.NewID(now)
			if rec.Hash, err = rec.ComputeHash(); err != nil {
				return err
			}
			return tx.AppendAudit(ctx, &rec)
		})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	appendBoth(server, "server 1")
	appendBoth(cli, "cli 1")
	appendBoth(server, "server 2")
	appendBoth(cli, "cli 2")
	appendBoth(server, "server 3")

	err := server.View(t.Context(), func(tx roster.Tx) error {
		sc, err := tx.Events(t.Context(), roster.EventQuery{AccountID: account, Limit: 10})
		if err != nil {
			return err
		}
		var got []string
		var last roster.FeedPosition
		for i, e := range sc.Events {
			got = append(got, e.RequestID)
			if e.Sequence != int64(i+1) {
				t.Errorf("event %d (%s) has sequence %d", i, e.RequestID, e.Sequence)
			}
			if i > 0 && !last.Less(e.Position) {
				t.Errorf("event %d (%s) at %+v is not after %+v", i, e.RequestID, e.Position, last)
			}
			last = e.Position
		}
		if want := "[server 1 cli 1 server 2 cli 2 server 3]"; fmt.Sprint(got) != want {
			t.Errorf("events %v, want %s", got, want)
		}
		chain, err := tx.AuditChain(t.Context(), account, 0, 10)
		if err != nil {
			return err
		}
		prev := roster.GenesisHash
		for i, r := range chain {
			if r.Sequence != int64(i+1) || r.PrevHash != prev {
				t.Errorf("record %d: sequence %d, prev_hash %s, want %d, %s", i, r.Sequence, r.PrevHash, i+1, prev)
			}
			prev = r.Hash
		}
		if len(chain) != 5 {
			t.Errorf("%d records, want 5", len(chain))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
