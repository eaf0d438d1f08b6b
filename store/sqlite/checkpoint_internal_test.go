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

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var written, failed atomic.Int64
	var maxWAL atomic.Int64
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
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
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := s.View(ctx, func(tx roster.Tx) error { _, err := tx.Account(ctx, first.ID); return err }); err != nil {
					failed.Add(1)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > maxWAL.Load() {
				maxWAL.Store(fi.Size())
			}
		}
	})
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()

	if failed.Load() > 0 {
		t.Fatalf("%d reads or writes failed", failed.Load())
	}
	if s.WALRewinds() == 0 {
		t.Fatalf("%d writes, WAL up to %d bytes: the write loop never let the WAL rewind", written.Load(), maxWAL.Load())
	}
	// The bound: the threshold, what the writer appends while the checkpointer catches up
	// (a few passes) and a few ticks' worth of slack; without the rewinds, the WAL reaches
	// about 150 MiB in these 3 s on a 2-core machine.
	if limit := int64(16 << 20); maxWAL.Load() > limit {
		t.Fatalf("the WAL grew to %d bytes (limit %d) over %d writes and %d rewinds", maxWAL.Load(), limit, written.Load(), s.WALRewinds())
	}
	t.Logf("%d writes, %d rewinds, WAL at most %d bytes", written.Load(), s.WALRewinds(), maxWAL.Load())
}
