package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportImport: an export's closing line counts its lines and hashes them; importing it into
// an empty database and exporting again gives the same bytes (but for the event cursor, a place
// in each database's own feed); importing it again changes
// nothing; a changed object and bad lines are reported by line number; --dry-run writes nothing.
func TestExportImport(t *testing.T) {
	exportImport(t, sqliteDatabase(t, "src.db"), sqliteDatabase(t, "dst.db"))
}

func TestExportImportPostgres(t *testing.T) {
	exportImport(t, pgDatabase(t), pgDatabase(t))
}

func exportImport(t *testing.T, src, dst string) {
	f := populate(t, src)
	dir := t.TempDir()
	out, errOut, err := runCLI(t, map[string]string{"ROSTER_DATABASE": src}, "export")
	if err != nil {
		t.Fatalf("export: %v %s", err, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var end exportEnd
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &end); err != nil || end.Kind != "end" {
		t.Fatalf("closing line %q: %v", lines[len(lines)-1], err)
	}
	body := out[:len(out)-len(lines[len(lines)-1])-1]
	sum := sha256.Sum256([]byte(body))
	// Two live accounts (the third is deleted), the fixture's entities, 21 relationships.
	if end.SHA256 != hex.EncodeToString(sum[:]) || end.Counts["account"] != 2 || end.Counts["entity"] != f.entities ||
		end.Counts["relationship"] != 21 || len(lines) != 2+f.entities+21+1 {
		t.Fatalf("closing line %+v for %d lines", end, len(lines))
	}
	file := filepath.Join(dir, "export.ndjson")
	if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}

	// A dry run into the empty database writes nothing.
	env := map[string]string{"ROSTER_DATABASE": dst}
	if _, _, err := runCLI(t, env, "migrate"); err != nil { // a dry run only reads: the database must exist
		t.Fatal(err)
	}
	if o, e, err := runCLI(t, env, "import", "--dry-run", file); err != nil || !strings.Contains(o, "accounts 2 created") {
		t.Fatalf("dry run: %v %q %q", err, o, e)
	}
	if o, _, _ := runCLI(t, env, "export"); strings.Count(o, "\n") != 1 {
		t.Fatalf("a dry run wrote: %q", o)
	}
	if o, e, err := runCLI(t, env, "import", file); err != nil || !strings.Contains(o, "entities 25 created, 0 unchanged") {
		t.Fatalf("import: %v %q %q", err, o, e)
	}
	again, _, err := runCLI(t, env, "export")
	if err != nil || withoutCursor(again) != withoutCursor(out) {
		t.Fatalf("the export of the imported database differs:\n%s\nwant\n%s", again, out)
	}
	if o, e, err := runCLI(t, env, "import", file); err != nil || !strings.Contains(o, "accounts 0 created, 2 unchanged") ||
		!strings.Contains(o, "relationships 0 created, 21 unchanged") {
		t.Fatalf("a second import: %v %q %q", err, o, e)
	}

	// One entity changed, two bad lines, a line cut: each reported by its number.
	changed := append([]string(nil), lines...)
	changed[3] = strings.Replace(changed[3], `"name":"`, `"name":"Renamed `, 1)
	changed = append(changed[:5], append([]string{`{"kind":"entity","name":""}`, `not json`}, changed[5:]...)...)
	badFile := filepath.Join(dir, "bad.ndjson")
	if err := os.WriteFile(badFile, []byte(strings.Join(changed, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, e, err := runCLI(t, env, "import", badFile)
	if err == nil || report(nilWriter{}, err) != 1 {
		t.Fatalf("an import with bad lines: %v", err)
	}
	for _, want := range []string{"line 4: entity: an object with its id exists and differs", "line 6: invalid entity", "line 7: not a JSON object",
		"the closing line says"} {
		if !strings.Contains(e, want) {
			t.Errorf("the report lacks %q:\n%s", want, e)
		}
	}
}

// withoutCursor is an export without its closing line's event cursor.
func withoutCursor(out string) string {
	i := strings.LastIndex(out, `,"event_cursor":`)
	if i < 0 {
		return out
	}
	return out[:i]
}

type nilWriter struct{}

func (nilWriter) Write(p []byte) (int, error) { return len(p), nil }
