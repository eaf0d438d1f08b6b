package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportDryRun: a dry run reports, by line number, every line the import then refuses —
// a relationship or an entity naming an entity that does not exist (or is another account's),
// an entity of an account that does not exist, an account whose slug an earlier line takes —
// and passes lines that name objects of earlier lines, which it does not write; its report and
// counts are the import's.
func TestImportDryRun(t *testing.T) {
	importDryRun(t, sqliteDatabase(t, "src.db"), sqliteDatabase(t, "dst.db"))
}

func TestImportDryRunPostgres(t *testing.T) {
	importDryRun(t, pgDatabase(t), pgDatabase(t))
}

func importDryRun(t *testing.T, src, dst string) {
	populate(t, src)
	out, errOut, err := runCLI(t, map[string]string{"ROSTER_DATABASE": src}, "export")
	if err != nil {
		t.Fatalf("export: %v %s", err, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	lines = lines[:len(lines)-1]
	var acct, ent struct {
		ID        string `json:"id"`
		AccountID string `json:"account_id"`
		Slug      string `json:"slug"`
	}
	_ = json.Unmarshal([]byte(lines[2]), &ent) // the first entity (two accounts come first)
	for _, l := range lines[:2] {
		if _ = json.Unmarshal([]byte(l), &acct); acct.ID == ent.AccountID {
			break
		}
	}
	missingEntity := "entity_" + strings.Repeat("ab", 12)
	missingAccount := "account_" + strings.Repeat("cd", 12)
	newEntity := "entity_" + strings.Repeat("ef", 12)
	bad := []string{
		// 1: an account whose slug an account of a line above takes
		fmt.Sprintf(`{"kind":"account","id":"account_%s","name":"Twin","slug":%q,"status":"active","created_at":"2026-01-01T00:00:00.000000Z","updated_at":"2026-01-01T00:00:00.000000Z"}`, strings.Repeat("12", 12), acct.Slug),
		// 2: an entity of an account that does not exist
		entityLine(strings.Repeat("34", 12), missingAccount, nil),
		// 3: a deprecated entity whose see names an entity that does not exist
		entityLine(strings.Repeat("56", 12), acct.ID, &missingEntity),
		// 4: one whose see names an entity of this file, which the dry run must not refuse
		entityLine(strings.Repeat("78", 12), acct.ID, &ent.ID),
		// 5: a new entity, and 6: a relationship to it (both fine)
		entityLine(strings.Repeat("ef", 12), acct.ID, nil),
		relationshipLine(acct.ID, newEntity),
		// 7: a relationship to an entity that does not exist
		relationshipLine(acct.ID, missingEntity),
		// 8: a relationship of an account that does not exist
		relationshipLine(missingAccount, ent.ID),
	}
	// The bad accounts after the accounts, the entities after the entities, the relationships last.
	var file []string
	nAccounts := 0
	for _, l := range lines {
		if strings.HasPrefix(l, `{"kind":"account"`) {
			nAccounts++
		}
	}
	file = append(file, lines[:nAccounts]...)
	file = append(file, bad[0])
	rest := lines[nAccounts:]
	nEntities := 0
	for _, l := range rest {
		if strings.HasPrefix(l, `{"kind":"entity"`) {
			nEntities++
		}
	}
	file = append(file, rest[:nEntities]...)
	file = append(file, bad[1:5]...)
	file = append(file, rest[nEntities:]...)
	file = append(file, bad[5:]...)
	body := strings.Join(file, "\n") + "\n"
	sum := sha256.Sum256([]byte(body))
	counts := map[string]int{}
	for _, l := range file {
		var h struct{ Kind string }
		_ = json.Unmarshal([]byte(l), &h)
		counts[h.Kind]++
	}
	end, _ := json.Marshal(exportEnd{Kind: "end", Counts: counts, SHA256: hex.EncodeToString(sum[:])})
	path := filepath.Join(t.TempDir(), "bad.ndjson")
	if err := os.WriteFile(path, []byte(body+string(end)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lineOf := func(l string) int {
		for i, f := range file {
			if f == l {
				return i + 1
			}
		}
		t.Fatalf("no line %s", l)
		return 0
	}

	env := map[string]string{"ROSTER_DATABASE": dst}
	if _, _, err := runCLI(t, env, "migrate"); err != nil {
		t.Fatal(err)
	}
	dryOut, dryReport, err := runCLI(t, env, "import", "--dry-run", path)
	if err == nil {
		t.Fatalf("a dry run of a file with bad lines exits 0: %s %s", dryOut, dryReport)
	}
	for i, want := range map[int]string{
		0: "account not written: slug_taken: the slug is taken by another account",
		1: "entity not written: its account " + missingAccount + " does not exist",
		2: "entity not written: validation_error: validation failed: [body see] see must name another entity of the same account",
		6: "relationship not written: its entity " + missingEntity + " is not an entity of its account",
		7: "relationship not written: its account " + missingAccount + " does not exist",
	} {
		if w := fmt.Sprintf("line %d: %s", lineOf(bad[i]), want); !strings.Contains(dryReport, w) {
			t.Errorf("the dry run's report lacks %q:\n%s", w, dryReport)
		}
	}
	if n := strings.Count(dryReport, "\n"); n != 5 {
		t.Errorf("the dry run reported %d lines, want 5:\n%s", n, dryReport)
	}
	if o, _, _ := runCLI(t, env, "export"); strings.Count(o, "\n") != 1 {
		t.Fatalf("a dry run wrote: %q", o)
	}
	realOut, realReport, err := runCLI(t, env, "import", path)
	if err == nil {
		t.Fatal("the import of a file with bad lines exits 0")
	}
	if realReport != dryReport {
		t.Errorf("the import reported\n%s\nthe dry run\n%s", realReport, dryReport)
	}
	tallies := func(s string) string { _, after, _ := strings.Cut(s, ": accounts"); return after }
	if tallies(realOut) != tallies(dryOut) {
		t.Errorf("the import did\n%s\nthe dry run said\n%s", realOut, dryOut)
	}
	// Against the database it wrote, a dry run finds every good line unchanged.
	againOut, againReport, _ := runCLI(t, env, "import", "--dry-run", path)
	if againReport != realReport || !strings.Contains(againOut, "entities 0 created, 27 unchanged") ||
		!strings.Contains(againOut, "relationships 0 created, 22 unchanged") {
		t.Errorf("a dry run after the import: %s\n%s", againOut, againReport)
	}
}

func entityLine(hex, account string, see *string) string {
	seeJSON, deprecated := "null", false
	if see != nil {
		seeJSON, deprecated = fmt.Sprintf("%q", *see), true
	}
	return fmt.Sprintf(`{"kind":"entity","id":"entity_%s","account_id":%q,"name":"E %s","module_ids":[],"source":null,"recipient":null,"description":null,"deprecated":%v,"see":%s,"field_suffix":null,"invitation_id":null,"flow_ids":[],"logo_url":null,"website":null,"time_zone":null,"trustedform_certified_vendor":false,"created_at":"2026-01-01T00:00:00.000000Z","updated_at":"2026-01-01T00:00:00.000000Z"}`,
		hex, account, hex[:4], deprecated, seeJSON)
}

func relationshipLine(account, entity string) string {
	return fmt.Sprintf(`{"kind":"relationship","account_id":%q,"entity_id":%q,"relationship_type":"authorized_user","created_at":"2026-01-01T00:00:00.000000Z"}`, account, entity)
}
