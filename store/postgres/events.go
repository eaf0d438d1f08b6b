package postgres

import (
	"context"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store/sqlstore"
)

// The feed of every account on PostgreSQL (docs/events.md): an event's position starts with
// the id of the transaction that appended it (as a bigint: xid8 counts epochs, so it never
// wraps), and a reader only passes rows whose transaction is older than every transaction
// still in flight, whose ids are all at least the snapshot's xmin.
const (
	pgTxID    = `pg_current_xact_id()::text::bigint`
	pgVisible = `e.tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint`
)

// eventPoll is how often a waiting feed read looks at the feed's head for events that other
// processes committed (SPEC §13: a waiter answers within 100 ms of a commit); this process's
// own commits wake it at once.
const eventPoll = 40 * time.Millisecond

var _ roster.EventWatcher = (*Store)(nil)

// WatchEvents implements roster.EventWatcher.
func (s *Store) WatchEvents(ctx context.Context) func() <-chan struct{} { return s.events.Watch(ctx) }

type eventHead struct {
	visible roster.FeedPosition
	last    int64
}

func (s *Store) eventHead(ctx context.Context) (any, error) {
	visible, last, err := sqlstore.NewTx(querier{s.pool}, s.dialect).EventHead(ctx)
	return eventHead{visible, last}, mapErr(err)
}
