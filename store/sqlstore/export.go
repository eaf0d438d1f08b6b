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

// FeedCut is where an export's snapshot stands in the feed of every account: a consumer that
// reads the feed after Position sees exactly the events whose changes the export leaves out.
type FeedCut struct {
	// Position is the last event (or pruning horizon) the export's state includes.
	Position roster.FeedPosition
	// Later are the events the snapshot holds that sort after Position, in feed order
	// (PostgreSQL: of transactions that committed while one with a lower id was still in
	// flight; never any on SQLite). The export rolls their changes back, so that its state is
	// exactly that of the events up to Position (docs/operations.md).
	Later []roster.Event
}

// ExportCut reads the cut of the feed of every account that matches the snapshot q, which must
// be the one the export reads (Copier.Snapshot). postgres says which engine q is.
//
// On SQLite, whose one writer commits in the order it inserts, the snapshot holds exactly the
// events up to the last one it sees. On PostgreSQL it holds every event whose tx is below the
// snapshot's xmin (a transaction with an id below xmin had ended before the snapshot, and an
// event's tx is at least its transaction's id), and no event of a transaction that commits later
// (its id, and so its tx, is at least xmin); it may also hold events at or above xmin, of
// transactions that committed before it while an older one was still running: those are Later.
func ExportCut(ctx context.Context, q Querier, postgres bool) (FeedCut, error) {
	var cut FeedCut
	below, above := "", ""
	if postgres {
		const xmin = `pg_snapshot_xmin(pg_current_snapshot())::text::bigint`
		below, above = ` WHERE e.tx < `+xmin, ` WHERE e.tx >= `+xmin
	}
	scanPos := func(r Rows) (roster.FeedPosition, error) {
		var p roster.FeedPosition
		return p, r.Scan(&p.Tx, &p.N)
	}
	err := each(ctx, q, `SELECT e.tx, e.n FROM events e`+below+` ORDER BY e.tx DESC, e.n DESC LIMIT 1`, scanPos,
		func(p roster.FeedPosition) error { cut.Position = p; return nil })
	if err != nil {
		return cut, err
	}
	err = each(ctx, q, `SELECT tx, n FROM event_horizons WHERE feed = '`+allFeed+`'`, scanPos, func(p roster.FeedPosition) error {
		if cut.Position.Less(p) {
			cut.Position = p
		}
		return nil
	})
	if err != nil || !postgres {
		return cut, err
	}
	return cut, each(ctx, q, `SELECT e.tx, e.n, e.id, e.account_id, e.sequence, e.type, e.object_id, e.data FROM events e`+above+
		` ORDER BY e.tx, e.n`, func(r Rows) (roster.Event, error) {
		var e roster.Event
		return e, r.Scan(&e.Position.Tx, &e.Position.N, &e.ID, &e.AccountID, &e.Sequence, &e.Type, &e.ObjectID, &e.Data)
	}, func(e roster.Event) error { cut.Later = append(cut.Later, e); return nil })
}

// AccountCut reads the last sequence of the account's feed that the snapshot q holds: the
// account's events commit in sequence order on both engines, so the snapshot holds exactly its
// events up to that one.
func AccountCut(ctx context.Context, q Querier, accountID string) (int64, error) {
	if !roster.IsHex24(accountID) {
		return 0, fmt.Errorf("export: %q is not an account id", accountID)
	}
	var seq int64
	return seq, each(ctx, q, `SELECT sequence FROM event_counters WHERE account_id = '`+accountID+`'`, func(r Rows) (int64, error) {
		var s int64
		return s, r.Scan(&s)
	}, func(s int64) error { seq = s; return nil })
}
