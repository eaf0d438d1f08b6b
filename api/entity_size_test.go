package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// worstEntity is an entity at every limit of SPEC §8, in the characters whose JSON is longest:
// "<" (one byte stored, six written: \u003c) and U+2028 (three stored, six written).
func worstEntity(i int) roster.Entity {
	p := func(s string) *string { return &s }
	modules := make([]string, roster.MaxEntityModuleIDs)
	for j := range modules {
		modules[j] = strings.Repeat("<", roster.MaxEntityModuleID)
	}
	flows := make([]string, roster.MaxEntityFlowIDs)
	for j := range flows {
		flows[j] = fmt.Sprintf("%024x", j)
	}
	link := "https://x.example/?" + strings.Repeat("&", roster.MaxEntityURL-len("https://x.example/?"))
	now := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	return roster.Entity{ID: fmt.Sprintf("%024x", i), AccountID: fmt.Sprintf("%024x", 1<<40), Name: strings.Repeat("<", roster.MaxEntityName),
		ModuleIDs: modules, Source: p("seller"), Recipient: p("enhancement"), Description: p(strings.Repeat("\u2028", roster.MaxEntityDescription)),
		Deprecated: true, See: p(fmt.Sprintf("%024x", 7)), FieldSuffix: p("abcde"), InvitationID: p(fmt.Sprintf("%024x", 8)),
		FlowIDs: flows, LogoURL: p(link), Website: p(link), TimeZone: p("America/Argentina/ComodRivadavia"),
		TrustedFormCertifiedVendor: true, CreatedAt: now, UpdatedAt: now}
}

// TestEntityWorstCaseSize works out SPEC §10's arithmetic: one entity at the limits is under
// 90 KB of JSON, so 100 of them (a /v1 page) or 1,000 (a LeadConduit page) would pass 8 MiB,
// and entity pages are cut by size (entityPage).
func TestEntityWorstCaseSize(t *testing.T) {
	for _, sf := range []*surface{native, conduit} {
		b, _ := sf.entityView(worstEntity(1)).appendJSON(nil)
		t.Logf("%s: worst-case entity %d bytes; %d fit in 8 MiB", sf.name, len(b), MaxResponse/len(b))
		if len(b) > 90_000 || 100*len(b) <= MaxResponse {
			t.Fatalf("%s: worst-case entity is %d bytes", sf.name, len(b))
		}
	}
}

// TestAppendEntityArray: the array stops before the entity that would pass room, always holds
// the first, and is what encoding/json writes for the same views.
func TestAppendEntityArray(t *testing.T) {
	items := make([]roster.Entity, 10)
	for i := range items {
		items[i] = worstEntity(i)
	}
	one, _ := native.entityView(items[0]).appendJSON(nil)
	for _, tc := range []struct{ room, want int }{{1, 1}, {3*len(one) + 4, 3}, {3*len(one) + 3, 2}, {MaxResponse, 10}} {
		b, n := appendEntityArray(nil, items, native, tc.room)
		if n != tc.want {
			t.Fatalf("room %d: %d entities, want %d", tc.room, n, tc.want)
		}
		views := make([]entityView, n)
		for i := range views {
			views[i] = native.entityView(items[i])
		}
		want, _ := json.Marshal(views)
		if string(b) != string(want) {
			t.Fatalf("room %d: the array is not encoding/json's", tc.room)
		}
		if n > 1 && len(b) > tc.room {
			t.Fatalf("room %d: %d bytes", tc.room, len(b))
		}
	}
}
