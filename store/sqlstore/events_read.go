package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rosterhq/roster"
)

// Reading the feed (roster.EventTx): a page of events, one event by id.

// eventCols are the columns an event read selects, in eventScanner's order, of the row alias e.
// Every one is NOT NULL: strings and integers scan straight into the event's fields, without
// database/sql's reflection through a pointer per column.
const eventCols = `e.n, e.tx, e.sequence, e.id, e.account_id, e.type, e.object_id, e.data, e.request_id, e.idempotency_key, e.key_id, e.created_at`

// feedCols are the columns of a read of the feed, in eventScanner's order: eventCols, or for a
// filtered read (matched) the window's position (w) and the matching row's columns (m, of a LEFT
// JOIN, so NULL where the window's row does not match: its id is then empty, its data nil).
// A read of one account's feed leaves account_id out (ofAccount): it is the account's, and a
// column fewer is a tenth less of the driver's work a row.
func feedCols(matched, ofAccount bool) string {
	if !matched {
		if ofAccount {
			return strings.Replace(eventCols, ` e.account_id,`, ``, 1)
		}
		return eventCols
	}
	account := ` COALESCE(m.account_id, ''),`
	if ofAccount {
		account = ``
	}
	return `w.n, w.tx, w.sequence, COALESCE(m.id, ''),` + account + ` COALESCE(m.type, ''), COALESCE(m.object_id, ''), ` +
		`m.data, COALESCE(m.request_id, ''), COALESCE(m.idempotency_key, ''), COALESCE(m.key_id, ''), COALESCE(m.created_at, 0)`
}

// eventData keeps the data of a read's events in one buffer: a sql.Scanner, so that the driver's
// bytes are copied once, into it, and not first into a slice of their own per event (which
// database/sql does for a *[]byte). Each event's Data is its own full slice of the buffer (an
// append to it cannot reach the next event's); a buffer that is full is replaced, not grown,
// so the slices already handed out stay as they are.
type eventData struct {
	buf  []byte
	rows int    // rows still to come at most, to size a new buffer
	last []byte // the data of the row scanned last; nil for NULL
}

// maxDataBuffer bounds a buffer eventData makes for more than one event's data: a page of
// events at the field limits (about 90 KB of entity each) takes several, not one of 9 MB.
const maxDataBuffer = 256 << 10

func (d *eventData) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		d.last = nil
	case []byte:
		d.keep(v)
	case string:
		d.keep([]byte(v))
	default:
		return fmt.Errorf("event data: cannot scan %T", src)
	}
	return nil
}

// ScanBytes is Scan for pgx (pgtype.BytesScanner), which hands over its own buffer rather
// than a copy of it (as it does for a sql.Scanner); nil is NULL.
func (d *eventData) ScanBytes(v []byte) error {
	if v == nil {
		d.last = nil
		return nil
	}
	d.keep(v)
	return nil
}

func (d *eventData) keep(v []byte) {
	n := len(v)
	if cap(d.buf)-len(d.buf) < n {
		// Room for the rest of the rows if they are as large as this one, within reason.
		d.buf = make([]byte, 0, max(n, min(n*max(d.rows, 1), maxDataBuffer)))
	}
	start := len(d.buf)
	d.buf = append(d.buf, v...)
	d.last = d.buf[start:len(d.buf):len(d.buf)]
	d.rows--
}

// eventScanner reads the rows of one event read (feedCols) into row, with destinations made
// once for all of them: integers through int64Dest, the data into data's buffer, and account_id
// from account when the read is of one account's feed (its rows have no such column).
type eventScanner struct {
	row     roster.Event
	created int64
	data    eventData
	account *string
	dest    []any
}

func newEventScanner(rows int, account *string) *eventScanner {
	s := &eventScanner{data: eventData{rows: rows}, account: account}
	e := &s.row
	s.dest = []any{int64Dest{&e.Position.N}, int64Dest{&e.Position.Tx}, int64Dest{&e.Sequence}, &e.ID, &e.AccountID, &e.Type, &e.ObjectID,
		&s.data, &e.RequestID, &e.IdempotencyKey, &e.KeyID, int64Dest{&s.created}}
	if account != nil {
		s.dest = append(s.dest[:4], s.dest[5:]...)
	}
	return s
}

// scan reads the next row into e. It returns false for a row a filtered read examined without
// matching (only its position was read).
func (s *eventScanner) scan(r Rows, e *roster.Event) (bool, error) {
	if err := r.Scan(s.dest...); err != nil {
		return false, err
	}
	*e = roster.Event{Sequence: s.row.Sequence, Position: s.row.Position}
	if s.row.ID == "" {
		return false, nil
	}
	*e = s.row
	if s.account != nil {
		e.AccountID = *s.account
	}
	e.Data, e.CreatedAt = s.data.last, fromMicros(s.created)
	return true, nil
}

// int64Dest scans an integer column without the reflection database/sql takes for an *int64
// (sql.Scanner); pgx, which decodes into an *int64 directly, takes it as directly
// (pgtype.Int64Scanner), where its sql.Scanner path would box every value first.
type int64Dest struct{ p *int64 }

func (d int64Dest) Scan(src any) error {
	v, ok := src.(int64)
	if !ok {
		return fmt.Errorf("an event's integer column: cannot scan %T", src)
	}
	*d.p = v
	return nil
}

func (d int64Dest) ScanInt64(v pgtype.Int8) error {
	if !v.Valid {
		return errors.New("an event's integer column: cannot scan NULL")
	}
	*d.p = v.Int64
	return nil
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
		sql = `SELECT ` + feedCols(false, !q.All) + ` FROM events e WHERE ` + where + ` ORDER BY ` + order + ` LIMIT ?`
		args = append(args, q.Limit)
	} else {
		// w is the window (as e), m the matching rows' full columns.
		sql = `SELECT ` + feedCols(true, !q.All) + ` FROM (SELECT e.n, e.tx, e.sequence, e.type, e.object_id FROM events e WHERE ` + where +
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
	out := roster.EventScan{Events: make([]roster.Event, 0, min(q.Limit, maxEventsSized))}
	var account *string
	if !q.All {
		account = &q.AccountID
	}
	sc := newEventScanner(q.Limit, account)
	for len(out.Events) < q.Limit && rows.Next() {
		var e roster.Event
		ok, err := sc.scan(rows, &e)
		if err != nil {
			return roster.EventScan{}, t.d.MapErr(err)
		}
		out.Examined++
		out.Last = e
		if ok {
			out.Events = append(out.Events, e)
		}
	}
	if err := rows.Err(); err != nil {
		return roster.EventScan{}, t.d.MapErr(err)
	}
	return out, nil
}

// maxEventsSized is the most events a read makes room for at once: a page's limit (SPEC §13:
// at most 100, and one more to know whether there is a next page), not a larger one a caller of
// the store might ask for.
const maxEventsSized = 101

// EventByID implements roster.EventTx.
func (t *Tx) EventByID(ctx context.Context, id string) (roster.Event, error) {
	sc := newEventScanner(1, nil)
	return queryOne(ctx, t, func(r Rows) (roster.Event, error) {
		var e roster.Event
		_, err := sc.scan(r, &e)
		return e, err
	}, `SELECT `+eventCols+` FROM events e WHERE e.id = ?`, id)
}
