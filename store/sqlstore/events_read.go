package sqlstore

import (
	"context"
	"strings"

	"github.com/rosterhq/roster"
)

// Reading the feed (roster.EventTx): a page of events, one event by id.

// eventCols are the columns every event read selects, in scanEvent's order, of the row alias e.
const eventCols = `e.n, e.tx, e.sequence, e.id, e.account_id, e.type, e.object_id, e.data, e.request_id, e.idempotency_key, e.key_id, e.created_at`

// scannedEvent is an event row of a read; ok is false for a row a filtered read examined
// without matching (only its position was read).
type scannedEvent struct {
	e  roster.Event
	ok bool
}

func scanEvent(r Rows) (scannedEvent, error) {
	var s scannedEvent
	var id, account, typ, object, request, idem, key *string
	var data []byte
	var created *int64
	e := &s.e
	if err := r.Scan(&e.Position.N, &e.Position.Tx, &e.Sequence, &id, &account, &typ, &object, &data, &request, &idem, &key, &created); err != nil {
		return s, err
	}
	if id == nil {
		return s, nil
	}
	s.ok = true
	e.ID, e.AccountID, e.Type, e.ObjectID = *id, *account, *typ, *object
	e.Data, e.RequestID, e.IdempotencyKey, e.KeyID, e.CreatedAt = data, *request, *idem, *key, fromMicros(*created)
	return s, nil
}

// Events implements roster.EventTx. Without filters it reads q.Limit events in feed order.
// With filters it reads a window of q.Window events in feed order (their positions and the
// filtered columns only) and joins the whole row of those that match, so the rows examined are
// bounded whatever the filters match.
func (t *Tx) Events(ctx context.Context, q roster.EventQuery) (roster.EventScan, error) {
	var where, order string
	var args []any
	if q.All {
		where, order = `(e.tx, e.n) > (?, ?)`, `e.tx, e.n`
		args = append(args, q.After.Tx, q.After.N)
		if t.d.Visible != "" {
			where += ` AND ` + t.d.Visible
		}
	} else {
		where, order = `e.account_id = ? AND e.sequence > ?`, `e.sequence`
		args = append(args, q.AccountID, q.AfterSequence)
	}
	var conds []string
	var condArgs []any
	if q.Type != "" {
		conds, condArgs = append(conds, `w.type = ?`), append(condArgs, q.Type)
	}
	if q.TypePrefix != "" {
		conds, condArgs = append(conds, `substr(w.type, 1, ?) = ?`), append(condArgs, len(q.TypePrefix), q.TypePrefix)
	}
	if q.ObjectID != "" {
		conds, condArgs = append(conds, `w.object_id = ?`), append(condArgs, q.ObjectID)
	}
	var sql string
	if len(conds) == 0 {
		sql = `SELECT ` + eventCols + ` FROM events e WHERE ` + where + ` ORDER BY ` + order + ` LIMIT ?`
		args = append(args, q.Limit)
	} else {
		// w is the window (as e), m the matching rows' full columns (as e in eventCols).
		cols := strings.ReplaceAll(eventCols, "e.", "m.")
		cols = strings.Replace(cols, "m.n, m.tx, m.sequence", "w.n, w.tx, w.sequence", 1)
		sql = `SELECT ` + cols + ` FROM (SELECT e.n, e.tx, e.sequence, e.type, e.object_id FROM events e WHERE ` + where +
			` ORDER BY ` + order + ` LIMIT ?) w LEFT JOIN events m ON m.n = w.n AND ` + strings.Join(conds, " AND ") +
			` ORDER BY ` + strings.ReplaceAll(order, "e.", "w.")
		window := q.Window
		if window <= 0 {
			window = q.Limit
		}
		args = append(append(args, window), condArgs...)
	}
	rows, err := t.query(ctx, sql, args...)
	if err != nil {
		return roster.EventScan{}, err
	}
	defer rows.Close()
	var out roster.EventScan
	for len(out.Events) < q.Limit && rows.Next() {
		s, err := scanEvent(rows)
		if err != nil {
			return roster.EventScan{}, t.d.MapErr(err)
		}
		out.Examined++
		out.Last = s.e
		if s.ok {
			out.Events = append(out.Events, s.e)
		}
	}
	if err := rows.Err(); err != nil {
		return roster.EventScan{}, t.d.MapErr(err)
	}
	return out, nil
}

// EventByID implements roster.EventTx.
func (t *Tx) EventByID(ctx context.Context, id string) (roster.Event, error) {
	s, err := queryOne(ctx, t, scanEvent, `SELECT `+eventCols+` FROM events e WHERE e.id = ?`, id)
	return s.e, err
}
