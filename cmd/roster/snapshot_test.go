package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// TestExportIsOneSnapshot: while writers add entities, each followed by a relationship to it,
// every export's relationships name entities of the same export — which an export read in
// several moments would break, the relationships being read after the entities — and its
// closing line counts its lines.
func TestExportIsOneSnapshot(t *testing.T) {
	db := sqliteDatabase(t, "live.db")
	f := populate(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := roster.NewService(st, nil, nil)
	p, err := svc.Authenticate(ctx, f.admin)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				e, err := svc.CreateEntity(ctx, &roster.Request{Principal: p}, fmt.Appendf(nil, `{"name":"w%d-%d","module_ids":[],"source":null,"recipient":null}`, w, i))
				if err != nil {
					return
				}
				_, _ = svc.CreateRelationships(ctx, &roster.Request{Principal: p, IdempotencyKey: fmt.Sprintf("w%d-%d", w, i), Fingerprint: "f",
					Render: func(any) (int, []byte, error) { return 200, []byte(`{}`), nil }}, f.account, fmt.Appendf(nil, `{"entity_ids":["%s"],"relationship_type":"account_holder"}`, e.ID))
			}
		}()
	}
	defer func() { cancel(); wg.Wait() }()
	for range 5 {
		out, _, err := runCLI(t, map[string]string{"ROSTER_DATABASE": db}, "export")
		if err != nil {
			t.Fatal(err)
		}
		entities := map[string]bool{}
		counts := map[string]int{}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		for _, l := range lines[:len(lines)-1] {
			var v struct{ Kind, ID, EntityID string }
			var raw map[string]any
			if err := json.Unmarshal([]byte(l), &raw); err != nil {
				t.Fatal(err)
			}
			v.Kind, _ = raw["kind"].(string)
			v.ID, _ = raw["id"].(string)
			v.EntityID, _ = raw["entity_id"].(string)
			counts[v.Kind]++
			switch v.Kind {
			case "entity":
				entities[v.ID] = true
			case "relationship":
				if !entities[v.EntityID] {
					t.Fatalf("the export holds a relationship of %s, an entity it does not hold: not one snapshot", v.EntityID)
				}
			}
		}
		var end exportEnd
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &end); err != nil {
			t.Fatal(err)
		}
		for k, n := range counts {
			if end.Counts[k] != n {
				t.Fatalf("%d %s lines, the closing line says %d", n, k, end.Counts[k])
			}
		}
	}
}
