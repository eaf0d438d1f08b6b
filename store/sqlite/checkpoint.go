package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// Checkpoints. SQLite's automatic checkpoint runs inside the COMMIT that crosses the WAL size
// threshold, so one batch in a thousand pays for copying the WAL into the database file while
// every queued write waits. The writer turns it off (wal_autocheckpoint=0) and a connection of
// its own checkpoints in the background instead, PASSIVE: it copies what it can without
// blocking the writer or the readers, and the writer keeps appending meanwhile.
//
// Alone, that lets the WAL grow without end under sustained writes: SQLite rewinds the WAL (the
// next transaction writes it from its first frame again) only when every frame is in the
// database file, and by the time a background pass has copied the frames it saw, the writer
// has appended more: the WAL reached gigabytes under a sustained load of creates (measured in
// docs/decisions.md), every append extending the file, and every page read by a reader searching
// a WAL index that grows with it.
//
// So when a background pass finds more than walRewindFrames frames in the WAL, it runs more
// passes until one finds little new (it has caught up with the writer) and then asks the write
// loop to finish the job: between two batches the writer runs a RESTART checkpoint on its own
// connection. It copies the last few frames, then waits (busy handler) for the readers still
// reading older frames, which takes a read's time; readers that start meanwhile read the
// database file, every frame being in it. The writer's next transaction then rewinds the WAL and
// writes over blocks the file already has. Writes queue during that checkpoint, about once a
// second at full write load, for as long as its fsync calls take (docs/performance.md has the
// times); they cannot be skipped (the database file must be on disk before the WAL is written
// over). A PASSIVE
// checkpoint by the writer would not wait, and a reader on an older snapshot would cancel the
// rewind; under steady reads it nearly always did. journal_size_limit keeps a rewound file to
// walLimitBytes.

// Variables for the tests.
var (
	checkpointEvery       = 250 * time.Millisecond
	walRewindFrames int64 = 32768 // 128 MiB of 4 KiB pages
)

const (
	walCatchUpFrames = 256                    // a pass that found fewer new frames than this has caught up
	walLimitBytes    = 256 << 20              // journal_size_limit: what a rewound WAL file keeps
	walRewindWait    = 250 * time.Millisecond // the most the write loop waits for readers to move on
)

func (s *Store) checkpointLoop(db *sql.DB) {
	defer close(s.ckptDone)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	last := int64(-1)
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
		}
		commits, _ := s.GroupCommitStats()
		if commits == last {
			continue // nothing new in the WAL
		}
		last = commits
		frames := checkpoint(db)
		if frames <= walRewindFrames {
			continue
		}
		for range 8 {
			before := frames
			if frames = checkpoint(db); frames < 0 || frames-before < walCatchUpFrames {
				break
			}
		}
		if frames >= 0 {
			s.walRewind.Store(true)
		}
	}
}

// checkpoint runs one PASSIVE checkpoint and returns how many frames the WAL holds, -1 on an
// error (the next tick tries again).
func checkpoint(db *sql.DB) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var busy, frames, copied int64
	if err := db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err != nil {
		return -1
	}
	return frames
}

// rewindWAL is the write loop's, between two batches: when the checkpointer asked for it, a
// RESTART checkpoint, so that the writer's next transaction rewinds the WAL.
func (s *Store) rewindWAL() {
	if !s.walRewind.Swap(false) {
		return
	}
	s.walRewinds.Add(1)
	// Writes queue meanwhile, so the wait for readers is short: a reader holding an older
	// snapshot for longer (a slow statement, another process) only postpones the rewind to a
	// later tick.
	ctx, cancel := context.WithTimeout(context.Background(), walRewindWait)
	defer cancel()
	_, _ = s.writer.ExecContext(ctx, `PRAGMA wal_checkpoint(RESTART)`)
}
