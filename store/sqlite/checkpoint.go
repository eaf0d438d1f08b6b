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

const checkpointEvery = 250 * time.Millisecond

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
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, _ = db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
		cancel()
	}
}
