package sqlite

import (
	"context"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store/sqlstore"
)

// eventPoll is how often a waiting feed read looks for events another process committed (the
// command line writing to the file a server uses); this process's own commits wake it at once.
const eventPoll = 50 * time.Millisecond

var _ roster.EventWatcher = (*Store)(nil)

// WatchEvents implements roster.EventWatcher.
func (s *Store) WatchEvents(ctx context.Context) func() <-chan struct{} { return s.events.Watch(ctx) }

func (s *Store) eventHead(ctx context.Context) (any, error) {
	return sqlstore.NewTx(readQuerier{s.stmts}, s.dialect).LastEventN(ctx)
}
