package sqlstore

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// A version is the engine's file and the shared file of the same name, the engine's first; a
// version either side lacks is the other side's alone.
func TestMigrationVersions(t *testing.T) {
	engine := fstest.MapFS{
		"migrations/0001_init.sql":        {Data: []byte("CREATE TABLE t (id TEXT);")},
		"migrations/9999_engine_only.sql": {Data: []byte("SELECT 'engine';")},
		"migrations/not_a_migration.txt":  {Data: []byte("ignored")},
	}
	versions, err := migrationVersions(engine)
	if err != nil {
		t.Fatal(err)
	}
	if versions[0] != "0001_init" || versions[len(versions)-1] != "9999_engine_only" || !slices.IsSorted(versions) {
		t.Fatalf("versions = %q", versions)
	}
	if n := len(slices.Compact(slices.Clone(versions))); n != len(versions) {
		t.Fatalf("versions repeat: %q", versions)
	}
	if !slices.Contains(versions, "0005_entity_filters_read_by_sort_index") {
		t.Fatalf("a shared version is missing: %q", versions)
	}

	body, err := migrationBody(engine, "0001_init")
	if err != nil {
		t.Fatal(err)
	}
	table, index := strings.Index(body, "CREATE TABLE t"), strings.Index(body, "CREATE INDEX")
	if table != 0 || index < table {
		t.Errorf("0001_init: the engine's tables do not come before the shared indexes:\n%s", body)
	}
	for version, want := range map[string]string{"9999_engine_only": "SELECT 'engine';", "0003_entities_one_index_per_sort": "DROP INDEX entities_name_desc;"} {
		body, err := migrationBody(engine, version)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(body, want) {
			t.Errorf("%s = %q, want it to hold %q", version, body, want)
		}
	}
}
