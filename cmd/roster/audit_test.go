package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// TestImportAuditRecords: an import records one entity.create (and account, relationship)
// record per object it writes, each in its own account's chain, actor the command line; the
// chains verify offline; a second import of the same file writes nothing new.
func TestImportAuditRecords(t *testing.T) {
	src, dst := sqliteDatabase(t, "src.db"), sqliteDatabase(t, "dst.db")
	f := populate(t, src)
	out, errOut, err := runCLI(t, map[string]string{"ROSTER_DATABASE": src}, "export")
	if err != nil {
		t.Fatalf("export: %v %s", err, errOut)
	}
	file := filepath.Join(t.TempDir(), "export.ndjson")
	if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ROSTER_DATABASE": dst}
	if _, e, err := runCLI(t, env, "import", file); err != nil {
		t.Fatalf("import: %v %s", err, e)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := roster.NewService(st, nil, nil)
	creates := 0
	req := roster.PageRequest{Limit: 100, Filters: map[string]string{"action": "entity.create"}}
	for {
		page, err := svc.ListAudit(ctx, &roster.Request{Principal: roster.System}, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Items {
			if r.TargetType != "entity" || r.AccountID == "" || r.ActorType != roster.ActorCLI || len(r.Changes) == 0 {
				t.Fatalf("an import's record: %+v", r)
			}
			creates++
		}
		if !page.HasNext {
			break
		}
		req = roster.PageRequest{Limit: 100, Cursor: page.Next}
	}
	if creates != f.entities {
		t.Fatalf("%d entity.create records for %d imported entities", creates, f.entities)
	}
	if o, e, err := runCLI(t, env, "audit", "verify"); err != nil || strings.Contains(o, "BROKEN") || !strings.Contains(o, ": ok,") {
		t.Fatalf("audit verify: %v %q %q", err, o, e)
	}
}
