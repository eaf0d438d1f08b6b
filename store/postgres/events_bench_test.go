package postgres_test

import (
	"os"
	"testing"

	"github.com/rosterhq/roster/store/postgres"
	"github.com/rosterhq/roster/store/storetest"
)

func BenchmarkEntityWrites(b *testing.B) {
	admin := os.Getenv("ROSTER_TEST_POSTGRES")
	if admin == "" {
		b.Skip("ROSTER_TEST_POSTGRES is not set")
	}
	name, dbURL := createDatabase(b, admin)
	s, err := postgres.Open(b.Context(), dbURL)
	if err != nil {
		b.Fatalf("open %s: %v", name, err)
	}
	defer s.Close()
	storetest.BenchEntityWrites(b, s)
}
