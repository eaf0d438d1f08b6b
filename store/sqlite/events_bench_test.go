package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/rosterhq/roster/store/sqlite"
	"github.com/rosterhq/roster/store/storetest"
)

func BenchmarkEntityWrites(b *testing.B) {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchEntityWrites(b, s)
}
