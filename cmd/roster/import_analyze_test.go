package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestImportAnalyzesPostgres: an import into PostgreSQL that has written 1,000 objects has
// the planner's statistics of the tables it fills (ANALYZE), so that its look-ups by id do not
// keep plans made for the empty tables (docs/operations.md).
func TestImportAnalyzesPostgres(t *testing.T) {
	db := pgDatabase(t)
	account := "account_" + strings.Repeat("0a", 12)
	lines := []string{fmt.Sprintf(`{"kind":"account","id":%q,"name":"Big","slug":"big","status":"active","created_at":"2026-01-01T00:00:00.000000Z","updated_at":"2026-01-01T00:00:00.000000Z"}`, account)}
	for i := range 1000 {
		lines = append(lines, entityLine(fmt.Sprintf("%024x", i+1), account, nil))
	}
	body := strings.Join(lines, "\n") + "\n"
	sum := sha256.Sum256([]byte(body))
	end, _ := json.Marshal(exportEnd{Kind: "end", Counts: map[string]int{"account": 1, "entity": 1000}, SHA256: hex.EncodeToString(sum[:])})
	path := filepath.Join(t.TempDir(), "big.ndjson")
	if err := os.WriteFile(path, []byte(body+string(end)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if o, e, err := runCLI(t, map[string]string{"ROSTER_DATABASE": db}, "import", path); err != nil || !strings.Contains(o, "entities 1000 created") {
		t.Fatalf("import: %v %s %s", err, o, e)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, table := range []string{"entities", "events", "audit_records"} {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stats WHERE schemaname = current_schema() AND tablename = $1`, table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Errorf("no planner statistics of %s after an import of 1,001 objects", table)
		}
	}
}
