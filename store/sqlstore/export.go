package sqlstore

import (
	"context"
	"fmt"

	"github.com/rosterhq/roster"
)

// Exporter receives what Export reads, object by object.
type Exporter struct {
	Account      func(roster.Account) error
	Entity       func(roster.Entity) error
	Relationship func(roster.Relationship) error
}

// Export reads from q, which must be one snapshot (Copier.Snapshot), the live accounts, then
// their live entities, then their relationships — of the account accountID (bare hex) alone
// when it is not "" — each kind in the order of its primary key.
func Export(ctx context.Context, q Querier, accountID string, x Exporter) error {
	where := ""
	if accountID != "" {
		if !roster.IsHex24(accountID) {
			return fmt.Errorf("export: %q is not an account id", accountID)
		}
		where = " AND a.id = '" + accountID + "'" // hex: nothing to quote
	}
	if err := each(ctx, q, `SELECT `+prefixed("a.", AccountColumns)+` FROM accounts a WHERE a.deleted_at IS NULL`+where+` ORDER BY a.id`,
		scanAccount, x.Account); err != nil {
		return err
	}
	if err := each(ctx, q, `SELECT `+prefixed("e.", EntityColumns)+` FROM entities e JOIN accounts a ON a.id = e.account_id
		WHERE e.deleted_at IS NULL AND a.deleted_at IS NULL`+where+` ORDER BY e.id`, scanEntity, x.Entity); err != nil {
		return err
	}
	return each(ctx, q, `SELECT `+prefixed("r.", RelationshipColumns)+` FROM relationships r JOIN accounts a ON a.id = r.account_id
		WHERE a.deleted_at IS NULL`+where+` ORDER BY r.account_id, r.entity_id, r.relationship_type`, scanRelationship, x.Relationship)
}

func prefixed(p string, cols []string) string {
	out := ""
	for i, c := range cols {
		if i > 0 {
			out += ", "
		}
		out += p + c
	}
	return out
}

// each runs query and hands every row, scanned, to fn.
func each[T any](ctx context.Context, q Querier, query string, scan func(Rows) (T, error), fn func(T) error) error {
	rows, err := q.Query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return rows.Err()
}

// FeedCut is where an export's snapshot stands in the feed of every account.
//
// On SQLite, whose one writer commits in the order it numbers events, the snapshot holds exactly
// the events up to the last one it sees: Position, and nothing more is needed.
//
// On PostgreSQL an event's tx is at least its transaction's id, and the snapshot holds every
// event of a transaction with an id below its xmin and none of a transaction with an id at or
// above its xmax; between the two, some transactions had committed and some were still running.
// So the export's state is taken to be the events with tx < Xmax: the snapshot's, plus those of
// the transactions still running then (FeedSince reads them once they have all ended). Seen holds
// the events the snapshot has in that range, so that they are not applied twice.
type FeedCut struct {
	Position   roster.FeedPosition // SQLite: the cursor
	Xmin, Xmax int64               // PostgreSQL: the snapshot's
	Seen       map[int64]bool      // PostgreSQL: n of each event with Xmin <= tx the snapshot holds
}

// ExportCut reads the cut of the feed of every account from the snapshot q, which must be the
// one the export reads (Copier.Snapshot). postgres says which engine q is.
func ExportCut(ctx context.Context, q Querier, postgres bool) (FeedCut, error) {
	var cut FeedCut
	if !postgres {
		var err error
		cut.Position, err = lastPosition(ctx, q, "")
		return cut, err
	}
	err := each(ctx, q, `SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint FROM pg_current_snapshot() s`,
		func(r Rows) ([2]int64, error) {
			var x [2]int64
			return x, r.Scan(&x[0], &x[1])
		}, func(x [2]int64) error { cut.Xmin, cut.Xmax = x[0], x[1]; return nil })
	if err != nil {
		return cut, err
	}
	cut.Seen = map[int64]bool{}
	err = each(ctx, q, fmt.Sprintf(`SELECT e.n FROM events e WHERE e.tx >= %d`, cut.Xmin), func(r Rows) (int64, error) {
		var n int64
		return n, r.Scan(&n)
	}, func(n int64) error { cut.Seen[n] = true; return nil })
	return cut, err
}

// FeedSince reads, from a snapshot q taken after cut's (PostgreSQL), the events of the export's
// state that cut's snapshot did not hold — those with tx below cut.Xmax that it had not seen —
// in feed order, and the position of the last event of that state (or the pruning horizon): the
// export's cursor. ready is false while a transaction with an id below cut.Xmax is still
// running (it may still append such events): try again with a newer snapshot.
func FeedSince(ctx context.Context, q Querier, cut FeedCut) (events []roster.Event, last roster.FeedPosition, ready bool, err error) {
	err = each(ctx, q, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`, func(r Rows) (int64, error) {
		var x int64
		return x, r.Scan(&x)
	}, func(x int64) error { ready = x >= cut.Xmax; return nil })
	if err != nil || !ready {
		return nil, last, false, err
	}
	err = each(ctx, q, fmt.Sprintf(`SELECT e.tx, e.n, e.id, e.account_id, e.sequence, e.type, e.object_id, e.data FROM events e
		WHERE e.tx >= %d AND e.tx < %d ORDER BY e.tx, e.n`, cut.Xmin, cut.Xmax), func(r Rows) (roster.Event, error) {
		var e roster.Event
		return e, r.Scan(&e.Position.Tx, &e.Position.N, &e.ID, &e.AccountID, &e.Sequence, &e.Type, &e.ObjectID, &e.Data)
	}, func(e roster.Event) error {
		if !cut.Seen[e.Position.N] {
			events = append(events, e)
		}
		return nil
	})
	if err != nil {
		return nil, last, false, err
	}
	last, err = lastPosition(ctx, q, fmt.Sprintf(` WHERE e.tx < %d`, cut.Xmax))
	return events, last, true, err
}

// lastPosition is the position of the last event matching where, or the pruning horizon of the
// feed of every account when that is later.
func lastPosition(ctx context.Context, q Querier, where string) (roster.FeedPosition, error) {
	var last roster.FeedPosition
	scanPos := func(r Rows) (roster.FeedPosition, error) {
		var p roster.FeedPosition
		return p, r.Scan(&p.Tx, &p.N)
	}
	later := func(p roster.FeedPosition) error {
		if last.Less(p) {
			last = p
		}
		return nil
	}
	if err := each(ctx, q, `SELECT e.tx, e.n FROM events e`+where+` ORDER BY e.tx DESC, e.n DESC LIMIT 1`, scanPos, later); err != nil {
		return last, err
	}
	err := each(ctx, q, `SELECT tx, n FROM event_horizons WHERE feed = '`+allFeed+`'`, scanPos, later)
	return last, err
}

// AccountCut reads the last sequence of the account's feed that the snapshot q holds: the
// account's events commit in sequence order on both engines, so the snapshot holds exactly its
// events up to that one.
func AccountCut(ctx context.Context, q Querier, accountID string) (int64, error) {
	if !roster.IsHex24(accountID) {
		return 0, fmt.Errorf("export: %q is not an account id", accountID)
	}
	var seq int64
	err := each(ctx, q, `SELECT sequence FROM event_counters WHERE account_id = '`+accountID+`'`, func(r Rows) (int64, error) {
		var s int64
		return s, r.Scan(&s)
	}, func(s int64) error { seq = s; return nil })
	return seq, err
}
