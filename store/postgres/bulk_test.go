package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/internal/pgtest"
	"github.com/rosterhq/roster/store/postgres"
	"github.com/rosterhq/roster/store/storetest"
)

// TestBulkLoad runs the shared bulk-path test (storetest.RunBulk) on this engine.
func TestBulkLoad(t *testing.T) {
	dsn := pgtest.Schema(t, "bulk")
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	countIndexes := func() int {
		var n int
		if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	storetest.RunBulk(t, s, countIndexes)
}
