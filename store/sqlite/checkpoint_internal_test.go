package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// Under writes that never pause, with readers reading all along, the WAL file stays bounded:
// the write loop lets it rewind once it holds more than walRewindFrames frames, instead of
// growing for as long as the writes keep coming.
func TestWALRewindsUnderSustainedWrites(t *testing.T) {
	defer func(f int64, d time.Duration) { walRewindFrames, checkpointEvery = f, d }(walRewindFrames, checkpointEvery)
	walRewindFrames, checkpointEvery = 256, 20*time.Millisecond // 1 MiB, and ticks that come often

	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rewind.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	now := time.Now().UTC().Truncate(time.Microsecond)
	first := roster.Account{ID: roster.NewID(now), Name: "first", Slug: "first", Status: roster.AccountActive, CreatedAt: now, UpdatedAt: now}
	if err := s.Update(ctx, func(tx roster.Tx) error { return tx.InsertAccount(ctx, &first) }); err != nil {
		t.Fatal(err)
	}

	// Every goroutine runs until the deadline.
	run, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var written, failed atomic.Int64
	var maxWAL atomic.Int64
	for w := range 8 {
		wg.Go(func() {
			for i := 0; run.Err() == nil; i++ {
				a := roster.Account{ID: roster.NewID(now), Name: strings.Repeat("n", 200), Slug: fmt.Sprintf("w%d-%d", w, i),
					Status: roster.AccountActive, CreatedAt: now, UpdatedAt: now}
				if err := s.Update(ctx, func(tx roster.Tx) error { return tx.InsertAccount(ctx, &a) }); err != nil {
					failed.Add(1)
					return
				}
				written.Add(1)
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for run.Err() == nil {
				if err := s.View(ctx, func(tx roster.Tx) error { _, err := tx.Account(ctx, first.ID); return err }); err != nil {
					failed.Add(1)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for run.Err() == nil {
			if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > maxWAL.Load() {
				maxWAL.Store(fi.Size())
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	wg.Wait()

	if failed.Load() > 0 {
		t.Fatalf("%d reads or writes failed", failed.Load())
	}
	if s.walRewinds.Load() == 0 {
		t.Fatalf("%d writes, WAL up to %d bytes: the write loop never let the WAL rewind", written.Load(), maxWAL.Load())
	}
	// The bound: the threshold, what the writer appends while the checkpointer catches up
	// (a few passes) and a few ticks' worth of slack; without the rewinds, the WAL reaches
	// about 150 MiB in these 3 s on a 2-core machine.
	if limit := int64(16 << 20); maxWAL.Load() > limit {
		t.Fatalf("the WAL grew to %d bytes (limit %d) over %d writes and %d rewinds", maxWAL.Load(), limit, written.Load(), s.walRewinds.Load())
	}
	t.Logf("%d writes, %d rewinds, WAL at most %d bytes", written.Load(), s.walRewinds.Load(), maxWAL.Load())
}

// A reader that keeps an old snapshot open does not hold the writes up for longer than
// walRewindWait: the write loop gives up on that rewind and the writes go on.
func TestWALRewindDoesNotWaitLongForAReader(t *testing.T) {
	defer func(d time.Duration) { checkpointEvery = d }(checkpointEvery)
	checkpointEvery = time.Hour // no background pass: the reader's frames stay in the WAL

	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "reader.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC().Truncate(time.Microsecond)
	insert := func(slug string) error {
		a := roster.Account{ID: roster.NewID(now), Name: slug, Slug: slug, Status: roster.AccountActive, CreatedAt: now, UpdatedAt: now}
		return s.Update(ctx, func(tx roster.Tx) error { return tx.InsertAccount(ctx, &a) })
	}
	if err := insert("before"); err != nil {
		t.Fatal(err)
	}
	// A statement left open keeps its read snapshot, which reads frames of the WAL.
	rows, err := s.readers.QueryContext(ctx, `SELECT id FROM accounts`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatal("no account")
	}

	s.walRewind.Store(true)
	start := time.Now()
	if err := insert("during-1"); err != nil { // the write loop then tries to rewind
		t.Fatal(err)
	}
	if err := insert("during-2"); err != nil { // and this one waits for that attempt
		t.Fatal(err)
	}
	if took := time.Since(start); took > walRewindWait+2*time.Second {
		t.Fatalf("two writes took %v with a reader holding an old snapshot: the rewind waited for it", took)
	}
	if s.walRewinds.Load() != 1 {
		t.Fatalf("%d rewinds attempted, want 1", s.walRewinds.Load())
	}
	// The abandoned checkpoint leaves the writer as it was: writes and reads go on.
	rows.Close()
	if err := insert("after"); err != nil {
		t.Fatalf("a write after the abandoned rewind: %v", err)
	}
	var n int
	if err := s.readers.QueryRowContext(ctx, `SELECT count(*) FROM accounts`).Scan(&n); err != nil || n != 4 {
		t.Fatalf("%d accounts (%v), want 4", n, err)
	}
}
