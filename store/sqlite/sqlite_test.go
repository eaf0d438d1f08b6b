package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store/sqlite"
	"github.com/rosterhq/roster/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) roster.Store {
		path := filepath.Join(t.TempDir(), "roster.db")
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return s
	})
}

// TestOpenPath checks that the file opened is the one named, whatever characters its name
// holds (the driver reads a DSN as a URI), and that it is the same file when opened again.
func TestOpenPath(t *testing.T) {
	for _, name := range []string{"plain.db", "with space.db", "100%.db", "%41.db", "a#b.db", "q?x=1.db", "ünï.db"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, name)
			s, err := sqlite.Open(t.Context(), path)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			a := roster.Account{ID: roster.NewID(time.Now()), Name: "Path", Slug: "path", Status: roster.AccountActive,
				CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
			a.UpdatedAt = a.CreatedAt
			err = s.Update(t.Context(), func(tx roster.Tx) error { return tx.InsertAccount(t.Context(), &a) })
			if cerr := s.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatalf("insert: %v", err)
			}
			if _, err := os.Stat(path); err != nil {
				entries, _ := os.ReadDir(dir)
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Fatalf("the database is not at %q (the directory holds %q): %v", name, names, err)
			}
			s, err = sqlite.Open(t.Context(), path)
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer s.Close()
			err = s.View(t.Context(), func(tx roster.Tx) error {
				_, err := tx.Account(t.Context(), a.ID)
				return err
			})
			if err != nil {
				t.Fatalf("account after reopening: %v", err)
			}
		})
	}
}

// TestUpdateAfterClose checks that a write that arrives while or after the store closes fails
// instead of waiting for a writer that is gone.
func TestUpdateAfterClose(t *testing.T) {
	for i := range 20 {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "closed.db"))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- s.Update(t.Context(), func(roster.Tx) error { return nil }) }()
		select {
		case err := <-done:
			if err == nil {
				t.Fatalf("round %d: Update after Close succeeded", i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("round %d: Update after Close still waiting after 5 s", i)
		}
	}
}
