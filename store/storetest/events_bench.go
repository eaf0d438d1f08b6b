package storetest

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// BenchEntityWrites measures what recording an event costs a write: parallel writers create
// entities under a few accounts, each write alone ("plain") or with the entity.created event
// it would record, with about 1 KB of data ("with event"), in its transaction. The store must be
// empty and migrated; the ratio of the two is the storage share of issue 18's 90% target.
func BenchEntityWrites(b *testing.B, s roster.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	var accounts []string
	for i := range 8 {
		a := newAccount("Bench", "bench-"+string(rune('a'+i)), now)
		if err := s.Update(ctx, func(tx roster.Tx) error { return tx.InsertAccount(ctx, &a) }); err != nil {
			b.Fatal(err)
		}
		accounts = append(accounts, a.ID)
	}
	data := []byte(`{"object":{"name":"` + strings.Repeat("x", 1000) + `"}}`)
	for _, withEvent := range []bool{false, true} {
		name := "plain"
		if withEvent {
			name = "with event"
		}
		b.Run(name, func(b *testing.B) {
			b.SetParallelism(4)
			var n atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					e := newEntity(accounts[n.Add(1)%int64(len(accounts))], "Bench entity", now)
					err := s.Update(ctx, func(tx roster.Tx) error {
						if err := tx.InsertEntity(ctx, &e); err != nil {
							return err
						}
						if !withEvent {
							return nil
						}
						_, err := tx.AppendEvents(ctx, []roster.EventRecord{{AccountID: e.AccountID, Type: roster.EventEntityCreated,
							ObjectID: e.ID, Data: data, RequestID: "bench", CreatedAt: now}})
						return err
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
