package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/rosterhq/roster/store/sqlite"
	"github.com/rosterhq/roster/store/storetest"
)

// TestBulkLoad runs the shared bulk-path test (storetest.RunBulk) on this engine.
func TestBulkLoad(t *testing.T) {
	ctx := t.Context()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writer, _ := s.DBs()
	countIndexes := func() int {
		var n int
		if err := writer.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	storetest.RunBulk(t, s, countIndexes)
}
