package roster_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store/sqlite"
)

// coreStore opens a fresh SQLite store in a temporary folder: the core's tests run against the
// real store, not a fake.
func coreStore(t *testing.T) roster.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "core.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// A request that crashed after claiming its Idempotency-Key, and whose lease another request
// took over, can save neither its response nor its write if it comes back (SPEC §4).
func TestLateClaimSavesNothing(t *testing.T) {
	ctx := context.Background()
	st := coreStore(t)
	svc := roster.NewService(st, nil, nil)
	behind := roster.NewService(st, func() time.Time { return time.Now().Add(-2 * time.Minute) }, nil)
	a, err := svc.CreateAccount(ctx, roster.Operator(), []byte(`{"name":"Late claims"}`))
	if err != nil {
		t.Fatal(err)
	}
	p := roster.Principal{AccountID: a.ID, Role: roster.RoleAdmin}
	body := []byte(`{"name":"once","module_ids":[],"source":null,"recipient":null}`)
	render := func(any) (int, []byte, error) { return 201, []byte(`{"saved":true}`), nil }

	stale, replay, err := behind.ClaimKey(ctx, p, "key-1", "fp")
	if err != nil || stale == nil || replay != nil {
		t.Fatalf("claim: %v %v %v", stale, replay, err)
	}
	takeover := &roster.Request{Principal: p, IdempotencyKey: "key-1", Fingerprint: "fp", Render: render}
	if _, err := svc.CreateEntity(ctx, takeover, body); err != nil || takeover.Replayed {
		t.Fatalf("the takeover: %v (replayed %v)", err, takeover.Replayed)
	}

	late := &roster.Request{Principal: p, Render: func(any) (int, []byte, error) { return 201, []byte(`{"late":true}`), nil }}
	_, err = roster.CommitClaimed(ctx, behind, late, stale, func(tx roster.Tx) (roster.Entity, error) {
		now := behind.Now()
		e := roster.Entity{ID: roster.NewID(now), AccountID: a.ID, Name: "late", ModuleIDs: []string{}, CreatedAt: now, UpdatedAt: now}
		return e, tx.InsertEntity(ctx, &e)
	})
	if roster.ErrorCode(err) != roster.CodeIdempotencyKeyInFlight {
		t.Fatalf("a stale claim completed: %v", err)
	}
	page, err := svc.ListEntities(ctx, p, roster.EntityListing, roster.PageRequest{Limit: 100, Filters: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].Name != "once" {
		t.Fatalf("entities %+v, want only the takeover's", page.Items)
	}
	again := &roster.Request{Principal: p, IdempotencyKey: "key-1", Fingerprint: "fp", Render: render}
	if _, err := svc.CreateEntity(ctx, again, body); err != nil || !again.Replayed || string(again.Body) != `{"saved":true}` {
		t.Fatalf("replay: %v, replayed %v, body %s", err, again.Replayed, again.Body)
	}
}
