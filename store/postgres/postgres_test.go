package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store/postgres"
	"github.com/rosterhq/roster/store/storetest"
)

// TestStore runs the store suite on PostgreSQL, each subtest in a database of its own, made
// on the server that ROSTER_TEST_POSTGRES names and dropped afterwards.
func TestStore(t *testing.T) {
	admin := os.Getenv("ROSTER_TEST_POSTGRES")
	if admin == "" {
		t.Skip("ROSTER_TEST_POSTGRES is not set; skipping PostgreSQL store tests")
	}
	storetest.Run(t, func(t *testing.T) roster.Store {
		name, dbURL := createDatabase(t, admin)
		s, err := postgres.Open(t.Context(), dbURL)
		if err != nil {
			t.Fatalf("open %s: %v", name, err)
		}
		// Cleanups run last in, first out: the store closes before its database is dropped.
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return s
	})
}

// createDatabase makes an empty database and returns its name and URL; it is dropped when
// the test ends.
func createDatabase(t testing.TB, adminURL string) (name, dbURL string) {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name = "roster_test_" + hex.EncodeToString(b[:])
	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatalf("ROSTER_TEST_POSTGRES: %v", err)
	}
	// A database whose default collation is not bytewise (ICU's en-US, where "a" < "B" < "É"),
	// so that a text column missing its COLLATE "C" shows up in the pagination tests as a
	// different order; a server without ICU gets its default.
	ident := pgx.Identifier{name}.Sanitize()
	if err := execErr(adminURL, "CREATE DATABASE "+ident+" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"); err != nil {
		t.Logf("creating the database with an ICU collation failed (%v); using the server's default", err)
		exec(t, adminURL, "CREATE DATABASE "+ident)
	}
	t.Cleanup(func() {
		if err := execErr(adminURL, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping the test database: %v", err)
		}
	})
	u.Path = "/" + name
	u.RawPath = ""
	return name, u.String()
}

func exec(t testing.TB, connURL, sql string) {
	t.Helper()
	if err := execErr(connURL, sql); err != nil {
		t.Fatal(err)
	}
}

func execErr(connURL, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, connURL)
	if err != nil {
		return fmt.Errorf("connect to ROSTER_TEST_POSTGRES: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}
