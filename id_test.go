package roster

import (
	"slices"
	"testing"
	"time"
)

// TestNewSequentialID: the ids events and audit records take are ids of the usual form (24 hex,
// the second first), distinct, and those one process makes in one second sort in the order it
// made them, so that each goes at the end of its table's unique index.
func TestNewSequentialID(t *testing.T) {
	at := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	ids := make([]string, 5000)
	for i := range ids {
		ids[i] = NewSequentialID(at)
		if !isHex24(ids[i]) || ids[i][:8] != "6b162130" {
			t.Fatalf("id %q: want 24 hex starting with the second 6b162130", ids[i])
		}
	}
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	// The 3-byte counter wraps once in 16,777,216 ids; a wrap inside these 5,000 would be the
	// one place the order breaks, so compare from it.
	wrap := slices.Index(ids, sorted[0])
	if !slices.Equal(append(slices.Clone(ids[wrap:]), ids[:wrap]...), sorted) {
		t.Fatal("ids of one second are not in the order they were made")
	}
	if len(slices.Compact(sorted)) != len(ids) {
		t.Fatal("an id came twice")
	}
	if NewSequentialID(at.Add(time.Second)) <= ids[len(ids)-1] && wrap == 0 {
		t.Fatal("an id of the next second sorts before one of this second")
	}
}
