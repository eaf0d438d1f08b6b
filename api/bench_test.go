package api

import (
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

func BenchmarkEncodeEntityPage(b *testing.B) {
	now := time.Now()
	src, tz := "form", "America/Los Angeles"
	items := make([]roster.Entity, 20)
	for i := range items {
		items[i] = roster.Entity{ID: roster.NewID(now), AccountID: roster.NewID(now), Name: "A Corporation",
			ModuleIDs: []string{"m1"}, Source: &src, TimeZone: &tz, FlowIDs: []string{"5fd4371e940df5a34a3888b2"},
			CreatedAt: now, UpdatedAt: now}
	}
	page := roster.Page[roster.Entity]{Items: items, HasNext: true, Next: "eyJzIjoiY3JlYXRlZF9hdDpkZXNjLGlkOmFzYyJ9"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encode(nativePage(page, native.entity)); err != nil {
			b.Fatal(err)
		}
	}
}
