package sqlstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// allFeed is the event_horizons row of the feed of every account.
const allFeed = "*"

// Appended reports whether the transaction recorded events: the engine then wakes the feed's
// waiters once it has committed.
func (t *Tx) Appended() bool { return t.appended }

// AppendEvents implements roster.EventTx. Buffered (SQLite's group commit; buffer.go), the
// events wait for Flush. Otherwise (PostgreSQL) one statement, appendStatement, appends them.
func (t *Tx) AppendEvents(ctx context.Context, recs []roster.EventRecord) ([]roster.Event, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	if t.buf != nil {
		return t.buf.appendEvents(ctx, t, recs)
	}
	sql, args, out := t.appendStatement(recs)
	byID := make(map[string]int, len(recs))
	for i := range out {
		byID[out[i].ID] = i
	}
	rows, err := queryRows(ctx, t, func(r Rows) (roster.Event, error) {
		var e roster.Event
		return e, r.Scan(&e.ID, &e.Position.N, &e.Sequence, &e.Position.Tx)
	}, sql+` RETURNING id, n, sequence, tx`, args...)
	if err != nil {
		return nil, err
	}
	if err := appendedAll(int64(len(rows)), len(recs)); err != nil {
		return nil, err
	}
	for _, v := range rows {
		e := &out[byID[v.ID]]
		e.Sequence, e.Position = v.Sequence, v.Position
	}
	t.appended = true
	return out, nil
}

// RecordEvents implements roster.EventTx: as AppendEvents, but where the engine can send the
// statement with the transaction's next one (Pipeliner: PostgreSQL), it does.
func (t *Tx) RecordEvents(ctx context.Context, recs []roster.EventRecord) error {
	if len(recs) == 0 || t.buf != nil {
		_, err := t.AppendEvents(ctx, recs)
		return err
	}
	sql, args, _ := t.appendStatement(recs)
	if err := t.execLater(ctx, func(n int64) error { return appendedAll(n, len(recs)) }, sql, args...); err != nil {
		return err
	}
	t.appended = true
	return nil
}

// appendedAll is nil when an append of want events inserted n rows.
func appendedAll(n int64, want int) error {
	if n != int64(want) {
		return fmt.Errorf("sqlstore: %d events appended of %d", n, want)
	}
	return nil
}

// appendStatement is PostgreSQL's append of recs, in one statement: it upserts each account's
// counter row, in account order (two transactions never take two counters in opposite orders),
// which holds the account's next sequence numbers and the transaction position its events take:
// this transaction's id, or the account's previous events' when that is higher, so that an
// account's events keep their sequence order in the feed of every account as well; and it
// inserts the events numbered from what the counters returned, in order. out are the events
// with their ids, not yet their numbers.
func (t *Tx) appendStatement(recs []roster.EventRecord) (sql string, args []any, out []roster.Event) {
	counts := map[string]int64{}
	for _, r := range recs {
		counts[r.AccountID]++
	}
	accounts := make([]string, 0, len(counts))
	for a := range counts {
		accounts = append(accounts, a)
	}
	slices.Sort(accounts)
	var b strings.Builder
	args = make([]any, 0, 2*len(accounts)+11*len(recs))
	b.WriteString(`WITH c AS (INSERT INTO event_counters (account_id, sequence, tx) VALUES `)
	for i, a := range accounts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`(?, ?, ` + t.d.TxID + `)`)
		args = append(args, a, counts[a])
	}
	b.WriteString(` ON CONFLICT (account_id) DO UPDATE SET sequence = event_counters.sequence + excluded.sequence,
			tx = CASE WHEN event_counters.tx > excluded.tx THEN event_counters.tx ELSE excluded.tx END
		RETURNING account_id, sequence, tx)
		INSERT INTO events (tx, id, account_id, sequence, type, object_id, data, request_id, idempotency_key, key_id, created_at)
		SELECT c.tx, v.id, v.account_id, c.sequence - v.back, v.type, v.object_id, v.data, v.request_id, v.idempotency_key, v.key_id, v.created_at
		FROM (VALUES `)
	out = make([]roster.Event, len(recs))
	left := maps.Clone(counts) // events of each account still to come, this one included
	for i, r := range recs {
		left[r.AccountID]--
		out[i] = roster.Event{ID: roster.NewSequentialID(r.CreatedAt), EventRecord: r}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`(CAST(? AS BIGINT), ?, CAST(? AS BIGINT), ?, ?, ?, CAST(? AS BYTEA), ?, ?, ?, CAST(? AS BIGINT))`)
		args = append(args, i, r.AccountID, left[r.AccountID], out[i].ID, r.Type, r.ObjectID, r.Data, r.RequestID, r.IdempotencyKey, r.KeyID, micros(r.CreatedAt))
	}
	b.WriteString(`) AS v (ord, account_id, back, id, type, object_id, data, request_id, idempotency_key, key_id, created_at)
		JOIN c ON c.account_id = v.account_id ORDER BY v.ord`)
	return b.String(), args, out
}

// PruneEvents implements roster.EventTx. It deletes a prefix of the feed of every account
// (visible rows only, so nothing in flight can later land inside it); per account that is a
// prefix of its sequence too, since an account's positions follow its sequence.
func (t *Tx) PruneEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	where := ""
	if t.d.Visible != "" {
		where = ` WHERE ` + t.d.Visible
	}
	type head struct {
		pos     roster.FeedPosition
		created int64
	}
	front, err := queryRows(ctx, t, func(r Rows) (head, error) {
		var h head
		return h, r.Scan(&h.pos.Tx, &h.pos.N, &h.created)
	}, `SELECT e.tx, e.n, e.created_at FROM events e`+where+` ORDER BY e.tx, e.n LIMIT ?`, limit)
	if err != nil {
		return 0, err
	}
	k := 0
	for k < len(front) && front[k].created < micros(before) {
		k++
	}
	if k == 0 {
		return 0, nil
	}
	last := front[k-1].pos
	type gone struct {
		account string
		seq     int64
	}
	deleted, err := queryRows(ctx, t, func(r Rows) (gone, error) {
		var g gone
		return g, r.Scan(&g.account, &g.seq)
	}, `DELETE FROM events WHERE (tx, n) <= (?, ?) RETURNING account_id, sequence`, last.Tx, last.N)
	if err != nil {
		return 0, err
	}
	highest := map[string]int64{}
	for _, g := range deleted {
		highest[g.account] = max(highest[g.account], g.seq)
	}
	feeds := make([]string, 0, len(highest))
	for a := range highest {
		feeds = append(feeds, a)
	}
	slices.Sort(feeds) // two pruners take the horizons' rows in one order
	err = chunked(feeds, func(feeds []string) error {
		return insertRows(ctx, t, `INSERT INTO event_horizons (feed, sequence, tx, n)`,
			` ON CONFLICT (feed) DO UPDATE SET sequence = CASE WHEN excluded.sequence > event_horizons.sequence THEN excluded.sequence ELSE event_horizons.sequence END`,
			4, feeds, func(args []any, a string) []any { return append(args, a, highest[a], 0, 0) })
	})
	if err != nil {
		return 0, err
	}
	_, err = t.exec(ctx, `INSERT INTO event_horizons (feed, sequence, tx, n) VALUES (?, 0, ?, ?)
		ON CONFLICT (feed) DO UPDATE SET tx = excluded.tx, n = excluded.n
		WHERE (excluded.tx, excluded.n) > (event_horizons.tx, event_horizons.n)`, allFeed, last.Tx, last.N)
	return len(deleted), err
}

// EventHorizon implements roster.EventTx.
func (t *Tx) EventHorizon(ctx context.Context, accountID string) (roster.EventHorizon, error) {
	type row struct {
		feed string
		h    roster.EventHorizon
	}
	rows, err := queryRows(ctx, t, func(r Rows) (row, error) {
		var v row
		return v, r.Scan(&v.feed, &v.h.Sequence, &v.h.Position.Tx, &v.h.Position.N)
	}, `SELECT feed, sequence, tx, n FROM event_horizons WHERE feed IN (?, ?)`, accountID, allFeed)
	var h roster.EventHorizon
	for _, v := range rows {
		if v.feed == allFeed {
			h.Position = v.h.Position
		} else {
			h.Sequence = v.h.Sequence
		}
	}
	return h, err
}

// EventHead returns what a waiter of another process watches for: the newest position a reader
// of the feed of every account may pass now, and the highest insertion number committed (which
// moves sooner when an older transaction still holds the first back). One round trip.
func (t *Tx) EventHead(ctx context.Context) (roster.FeedPosition, int64, error) {
	where := ""
	if t.d.Visible != "" {
		where = ` WHERE ` + t.d.Visible
	}
	type head struct {
		visible roster.FeedPosition
		last    int64
	}
	h, err := queryOne(ctx, t, func(r Rows) (head, error) {
		var h head
		var tx, n *int64
		err := r.Scan(&tx, &n, &h.last)
		if tx != nil && n != nil {
			h.visible = roster.FeedPosition{Tx: *tx, N: *n}
		}
		return h, err
	}, `SELECT v.tx, v.n, m.n FROM (SELECT COALESCE(MAX(n), 0) AS n FROM events) m
		LEFT JOIN (SELECT e.tx, e.n FROM events e`+where+` ORDER BY e.tx DESC, e.n DESC LIMIT 1) v ON 1 = 1`)
	return h.visible, h.last, err
}

// LastEventN returns the highest insertion number committed: all a waiter watches for where
// one writer commits in insertion order (SQLite).
func (t *Tx) LastEventN(ctx context.Context) (int64, error) {
	return queryOne(ctx, t, func(r Rows) (int64, error) {
		var n int64
		return n, r.Scan(&n)
	}, `SELECT COALESCE(MAX(n), 0) FROM events`)
}
