package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store/sqlite"
)

// A write that fails inside a shared group commit fails alone: the others commit, and each
// caller gets its own outcome.
func TestGroupCommitFailingWriteFailsAlone(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "batch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC().Truncate(time.Microsecond)
	errBoom := errors.New("boom")
	const n = 200
	var wg sync.WaitGroup
	results := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = s.Update(ctx, func(tx roster.Tx) error {
				a := roster.Account{ID: roster.NewID(now), Name: "n", Slug: fmt.Sprintf("slug-%d", i), Status: roster.AccountActive, CreatedAt: now, UpdatedAt: now}
				if err := tx.InsertAccount(ctx, &a); err != nil {
					return err
				}
				if i%5 == 0 {
					return errBoom // after a write: the savepoint must undo it
				}
				return nil
			})
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range results {
		if i%5 == 0 && !errors.Is(err, errBoom) {
			t.Fatalf("write %d: want its own error, got %v", i, err)
		}
		if i%5 != 0 && err != nil {
			t.Fatalf("write %d: want success, got %v", i, err)
		}
	}
	var got int
	err = s.View(ctx, func(tx roster.Tx) error {
		as, err := tx.ListAccounts(ctx, roster.ListQuery{Order: roster.Sort{{Field: "slug"}, {Field: "id"}}, Limit: 1000})
		got = len(as)
		for _, a := range as {
			var i int
			fmt.Sscanf(a.Slug, "slug-%d", &i)
			if i%5 == 0 {
				t.Errorf("the failed write %d left its account behind", i)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != n-n/5 {
		t.Fatalf("committed accounts: got %d, want %d", got, n-n/5)
	}
	commits, writes := s.GroupCommitStats()
	if commits >= writes {
		t.Logf("no batch shared a commit this run (%d commits for %d writes)", commits, writes)
	}
}

// A conflict (a unique violation) inside a shared batch fails only the write that caused it.
func TestGroupCommitConflictFailsAlone(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "conflict.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC().Truncate(time.Microsecond)
	const n = 50
	var wg sync.WaitGroup
	results := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.Update(ctx, func(tx roster.Tx) error {
				a := roster.Account{ID: roster.NewID(now), Name: "n", Slug: "same-slug", Status: roster.AccountActive, CreatedAt: now, UpdatedAt: now}
				return tx.InsertAccount(ctx, &a)
			})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range results {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, roster.ErrConflict):
			t.Fatalf("want a conflict, got %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d writes of one slug succeeded, want 1", ok)
	}
}

// With automatic checkpoints off on the writer, the background checkpointer still moves the
// WAL into the database file.
func TestBackgroundCheckpoint(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ckpt.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	now := time.Now().UTC().Truncate(time.Microsecond)
	for i := range 500 {
		err := s.Update(ctx, func(tx roster.Tx) error {
			a := roster.Account{ID: roster.NewID(now), Name: strings.Repeat("n", 90), Slug: fmt.Sprintf("ckpt-%d", i), Status: roster.AccountActive, CreatedAt: now, UpdatedAt: now}
			return tx.InsertAccount(ctx, &a)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for size() <= before {
		if time.Now().After(deadline) {
			t.Fatalf("the database file stayed at %d bytes: nothing was checkpointed", before)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A batch of lazy writes alone commits without its own fsync (synchronous=NORMAL); any batch
// with a durable write runs in FULL again.
func TestLazyBatchesAndDurableBatches(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "lazy.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writer, _ := s.DBs()
	mode := func() int {
		var m int
		if err := writer.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	insert := func(slug string) func(roster.Tx) error {
		return func(tx roster.Tx) error {
			a := roster.Account{ID: roster.NewID(now), Name: "n", Slug: slug, Status: roster.AccountActive, CreatedAt: now, UpdatedAt: now}
			return tx.InsertAccount(ctx, &a)
		}
	}
	if err := s.UpdateLazy(ctx, insert("lazy-1")); err != nil {
		t.Fatal(err)
	}
	if got := mode(); got != 1 {
		t.Fatalf("after a lazy batch: synchronous=%d, want 1 (NORMAL)", got)
	}
	if err := s.Update(ctx, insert("durable-1")); err != nil {
		t.Fatal(err)
	}
	if got := mode(); got != 2 {
		t.Fatalf("after a durable batch: synchronous=%d, want 2 (FULL)", got)
	}
}
