// Package pgtest gives tests a PostgreSQL database of their own: a fresh schema on the server
// ROSTER_TEST_POSTGRES names, dropped when the test ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Schema makes a schema named prefix_ and 12 random hex digits and returns
// ROSTER_TEST_POSTGRES with its search_path set to it; the schema is dropped, with all it holds,
// in tb's cleanup (after the test's deferred calls, so after the stores it opened are closed). It
// skips the test when ROSTER_TEST_POSTGRES is not set.
func Schema(tb testing.TB, prefix string) string {
	tb.Helper()
	base := os.Getenv("ROSTER_TEST_POSTGRES")
	if base == "" {
		tb.Skip("ROSTER_TEST_POSTGRES is not set; skipping the PostgreSQL half")
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := prefix + "_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("connect to ROSTER_TEST_POSTGRES: %v", err)
	}
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+schema)
	conn.Close(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	// A connection of its own at the end: one held open for each test would count against the
	// server's max_connections while the test runs.
	tb.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
