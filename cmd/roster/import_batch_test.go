package main

import (
	"context"
	"io"
	"slices"
	"strconv"
	"testing"

	"github.com/rosterhq/roster"
)

// TestImportSeeEntitiesInBatches: the entities that wait for the end of their account's lines
// (those with a see) go in importBatch a transaction, in file order, not all in one.
func TestImportSeeEntitiesInBatches(t *testing.T) {
	var sizes []int
	var names []string
	im := &importer{ctx: context.Background(), report: io.Discard,
		tally: map[string]*tally{"account": {}, "entity": {}, "relationship": {}},
		writeEntities: func(_ context.Context, es []roster.Entity) ([]roster.ImportOutcome, error) {
			sizes = append(sizes, len(es))
			for _, e := range es {
				names = append(names, e.Name)
			}
			return make([]roster.ImportOutcome, len(es)), nil // ImportCreated
		}}
	const n = 2*importBatch + 500
	var want []string
	for i := range n {
		name := strconv.Itoa(i)
		want = append(want, name)
		see := "x"
		im.seeEntities = append(im.seeEntities, pending[roster.Entity]{line: i + 1, v: roster.Entity{Name: name, See: &see}})
	}
	if err := im.flushAllEntities(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sizes, []int{importBatch, importBatch, 500}) {
		t.Errorf("%d entities with a see went in transactions of %v", n, sizes)
	}
	if !slices.Equal(names, want) || im.tally["entity"].created != n {
		t.Errorf("written out of file order, or not all: %d created", im.tally["entity"].created)
	}
}
