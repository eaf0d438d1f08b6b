package roster_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	_ "github.com/rosterhq/roster/api" // the native views events render objects with
)

// A write's changes become its events: type, account, object, the rendered data, and the
// request that made them.
func TestEventRecords(t *testing.T) {
	now := time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC)
	before := roster.Entity{ID: roster.NewID(now), AccountID: roster.NewID(now), Name: "Before", ModuleIDs: []string{}, FlowIDs: []string{}, CreatedAt: now, UpdatedAt: now}
	after := before
	after.Name = "After"
	r := &roster.Request{Principal: roster.Principal{KeyID: roster.NewID(now), AccountID: before.AccountID, Role: roster.RoleAdmin},
		ID: "req-1", IdempotencyKey: "idem-1"}
	recs, err := roster.EventRecords(r, []roster.Change{{Type: roster.EventEntityUpdated, AccountID: before.AccountID, ObjectID: before.ID, Object: after, Before: before}},
		func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	got := recs[0]
	if got.Type != roster.EventEntityUpdated || got.AccountID != before.AccountID || got.ObjectID != before.ID || got.RequestID != "req-1" ||
		got.IdempotencyKey != "idem-1" || got.KeyID != r.Principal.KeyID || !got.CreatedAt.Equal(now) {
		t.Fatalf("record %+v", got)
	}
	var data struct {
		Object   map[string]any `json:"object"`
		Previous map[string]any `json:"previous_attributes"`
	}
	if err := json.Unmarshal(got.Data, &data); err != nil {
		t.Fatalf("data %s: %v", got.Data, err)
	}
	if data.Object["name"] != "After" || data.Object["id"] != roster.KindEntity.Prefixed(before.ID) || data.Previous["name"] != "Before" || len(data.Previous) != 1 {
		t.Fatalf("data %s", got.Data)
	}
	if recs, err := roster.EventRecords(r, nil, func() time.Time { return now }); err != nil || len(recs) != 0 {
		t.Fatalf("no change: %v %v", recs, err)
	}
}
