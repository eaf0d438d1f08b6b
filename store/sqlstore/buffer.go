package sqlstore

import (
	"context"
	"errors"
	"strings"

	"github.com/rosterhq/roster"
)

// Buffered records. SQLite's group commit runs many writes in one transaction, each in its own
// savepoint, on the one writer connection. Their events and audit records are held here until
// the batch ends, where Flush writes them in a few multi-row statements, and the event counters
// and chain heads they move are kept in memory (WriteCache) from one batch to the next instead
// of being read and written per write. The records are still in the transaction of their write:
// a write rolled back to its savepoint takes its records back with it (Rollback), and a batch
// that fails to commit leaves the cache to be dropped (WriteCache.Reset). The one writer holds
// the database's write lock from its transaction's start, so what it read stays true until it
// commits; what another process commits in between, the engine detects and resets the cache for.

// WriteCache is what the last committed batch left of the event counters, chain heads and the
// feed's next position. It belongs to the one writer; it is not safe for concurrent use.
type WriteCache struct {
	heads    map[string]roster.AuditHead
	counters map[string]int64 // an account's last event sequence
	nextN    int64            // the next event's position; 0: not known
}

// maxCachedAccounts bounds the accounts a WriteCache remembers: past it, it starts again empty.
const maxCachedAccounts = 1 << 16

// NewWriteCache returns an empty cache.
func NewWriteCache() *WriteCache {
	return &WriteCache{heads: map[string]roster.AuditHead{}, counters: map[string]int64{}}
}

// Reset forgets everything: after a batch that did not commit, or when another connection
// may have written.
func (c *WriteCache) Reset() {
	clear(c.heads)
	clear(c.counters)
	c.nextN = 0
}

// writeBuffer is one transaction's deferred records and the state it moved.
type writeBuffer struct {
	cache    *WriteCache
	heads    map[string]roster.AuditHead // each chain's head as the transaction left it
	counters map[string]int64            // each account's last sequence as the transaction left it
	nextN    int64
	audit    []roster.AuditRecord
	events   []roster.Event
	undo     []undo
}

// undo puts back an account's head or counter as it was before an append.
type undo struct {
	account string
	event   bool // a counter's, not a head's
	head    roster.AuditHead
	seq     int64
}

// Mark is a point in a transaction's buffered records to roll back to.
type Mark struct {
	audit, events, undo int
	nextN               int64
}

// Buffer defers the transaction's events and audit records to Flush, starting from what cache
// holds (nil: a cache of this transaction alone).
func (t *Tx) Buffer(cache *WriteCache) {
	if cache == nil {
		cache = NewWriteCache()
	}
	t.buf = &writeBuffer{cache: cache, heads: map[string]roster.AuditHead{}, counters: map[string]int64{}}
}

// Mark marks where the buffered records stand, before a write that may roll back.
func (t *Tx) Mark() Mark {
	b := t.buf
	if b == nil {
		return Mark{}
	}
	return Mark{audit: len(b.audit), events: len(b.events), undo: len(b.undo), nextN: b.nextN}
}

// Rollback drops the records buffered since m and puts heads and counters back as they were.
func (t *Tx) Rollback(m Mark) {
	b := t.buf
	if b == nil {
		return
	}
	for i := len(b.undo) - 1; i >= m.undo; i-- {
		u := b.undo[i]
		if u.event {
			b.counters[u.account] = u.seq
		} else {
			b.heads[u.account] = u.head
		}
	}
	b.audit, b.events, b.undo, b.nextN = b.audit[:m.audit], b.events[:m.events], b.undo[:m.undo], m.nextN
}

// Kept tells the buffer its transaction committed: the cache takes the heads and counters it
// moved. Call it only after a successful commit; after any other end, Reset the cache.
func (t *Tx) Kept() {
	b := t.buf
	if b == nil {
		return
	}
	c := b.cache
	if len(c.heads)+len(b.heads) > maxCachedAccounts || len(c.counters)+len(b.counters) > maxCachedAccounts {
		c.Reset()
	}
	for a, h := range b.heads {
		c.heads[a] = h
	}
	for a, s := range b.counters {
		c.counters[a] = s
	}
	if b.nextN != 0 {
		c.nextN = b.nextN
	}
	t.buf = nil
}

// auditHead is the head of accountID's chain as the transaction stands.
func (b *writeBuffer) auditHead(ctx context.Context, t *Tx, accountID string) (roster.AuditHead, error) {
	if h, ok := b.heads[accountID]; ok {
		return h, nil
	}
	h, ok := b.cache.heads[accountID]
	if !ok {
		var err error
		h, err = queryOne(ctx, t, scanHead, `SELECT sequence, hash FROM audit_heads WHERE account_id = ?`, accountID)
		if errors.Is(err, roster.ErrNotFound) {
			h, err = roster.AuditHead{Hash: roster.GenesisHash}, nil
		}
		if err != nil {
			return h, err
		}
	}
	b.heads[accountID] = h
	return h, nil
}

func (b *writeBuffer) appendAudit(a *roster.AuditRecord) {
	b.undo = append(b.undo, undo{account: a.AccountID, head: b.heads[a.AccountID]})
	b.heads[a.AccountID] = roster.AuditHead{Sequence: a.Sequence, Hash: a.Hash}
	b.audit = append(b.audit, *a)
}

// counter is accountID's last event sequence as the transaction stands.
func (b *writeBuffer) counter(ctx context.Context, t *Tx, accountID string) (int64, error) {
	if s, ok := b.counters[accountID]; ok {
		return s, nil
	}
	s, ok := b.cache.counters[accountID]
	if !ok {
		var err error
		s, err = queryOne(ctx, t, func(r Rows) (int64, error) {
			var s int64
			return s, r.Scan(&s)
		}, `SELECT sequence FROM event_counters WHERE account_id = ?`, accountID)
		if errors.Is(err, roster.ErrNotFound) {
			s, err = 0, nil
		}
		if err != nil {
			return 0, err
		}
	}
	b.counters[accountID] = s
	return s, nil
}

// appendEvents takes each record's sequence from its account's counter and its position from
// the feed's next one (a single writer inserts in commit order: tx is 0 and n is the order),
// and holds the events for Flush.
func (b *writeBuffer) appendEvents(ctx context.Context, t *Tx, recs []roster.EventRecord) ([]roster.Event, error) {
	if b.nextN == 0 {
		if b.cache.nextN == 0 {
			// Past every number the feed has shown: the newest event's, or the last pruned one's
			// when pruning took every event (AUTOINCREMENT's rule, kept by hand).
			n, err := queryOne(ctx, t, func(r Rows) (int64, error) {
				var n int64
				return n, r.Scan(&n)
			}, `SELECT MAX(COALESCE((SELECT MAX(n) FROM events), 0), COALESCE((SELECT n FROM event_horizons WHERE feed = ?), 0))`, allFeed)
			if err != nil {
				return nil, err
			}
			b.cache.nextN = n + 1
		}
		b.nextN = b.cache.nextN
	}
	out := make([]roster.Event, len(recs))
	for i, r := range recs {
		seq, err := b.counter(ctx, t, r.AccountID)
		if err != nil {
			return nil, err
		}
		b.undo = append(b.undo, undo{account: r.AccountID, event: true, seq: seq})
		b.counters[r.AccountID] = seq + 1
		out[i] = roster.Event{ID: roster.NewSequentialID(r.CreatedAt), EventRecord: r, Sequence: seq + 1, Position: roster.FeedPosition{N: b.nextN}}
		b.nextN++
		b.events = append(b.events, out[i])
	}
	return out, nil
}

// flushRows is how many rows one INSERT of Flush carries at most.
const flushRows = 32

// Flush writes the buffered records: the events and their accounts' counters, then the audit
// records and their chains' heads, each in as few statements as it can; or, on an engine that
// holds statements back (Pipeliner), sends what it holds. Call it before the commit.
func (t *Tx) Flush(ctx context.Context) error {
	if p, ok := t.q.(Pipeliner); ok {
		if err := p.Send(ctx); err != nil {
			return t.d.MapErr(err)
		}
	}
	b := t.buf
	if b == nil {
		return nil
	}
	if err := chunked(b.events, func(rows []roster.Event) error { return t.insertEvents(ctx, rows) }); err != nil {
		return err
	}
	if err := t.upsertCounters(ctx, b.events); err != nil {
		return err
	}
	if err := chunked(b.audit, func(rows []roster.AuditRecord) error { return t.insertAudit(ctx, rows) }); err != nil {
		return err
	}
	if err := t.upsertHeads(ctx, b.audit); err != nil {
		return err
	}
	t.appended = t.appended || len(b.events) > 0
	b.audit, b.events, b.undo = nil, nil, nil
	return nil
}

// chunked calls fn on rows flushRows at a time.
func chunked[T any](rows []T, fn func([]T) error) error {
	for len(rows) > 0 {
		n := min(len(rows), flushRows)
		if err := fn(rows[:n]); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// insertRows runs head + " VALUES (?, …), …" + tail with one row per item, whose arguments
// appendRow appends (cols of them).
func insertRows[T any](ctx context.Context, t *Tx, head, tail string, cols int, items []T, appendRow func([]any, T) []any) error {
	var sql strings.Builder
	sql.WriteString(head + ` VALUES `)
	row := "(?" + strings.Repeat(", ?", cols-1) + ")"
	args := make([]any, 0, cols*len(items))
	for i, it := range items {
		if i > 0 {
			sql.WriteString(", ")
		}
		sql.WriteString(row)
		args = appendRow(args, it)
	}
	sql.WriteString(tail)
	_, err := t.exec(ctx, sql.String(), args...)
	return err
}

// insertEvents inserts buffered events, positions included, in one statement.
func (t *Tx) insertEvents(ctx context.Context, es []roster.Event) error {
	return insertRows(ctx, t, `INSERT INTO events (n, tx, id, account_id, sequence, type, object_id, data, request_id, idempotency_key, key_id, created_at)`,
		"", 12, es, func(args []any, e roster.Event) []any {
			return append(args, e.Position.N, e.Position.Tx, e.ID, e.AccountID, e.Sequence, e.Type, e.ObjectID, e.Data, e.RequestID,
				e.IdempotencyKey, e.KeyID, micros(e.CreatedAt))
		})
}

// lastPerAccount returns each account's last item of items, in first-seen order of accounts.
func lastPerAccount[T any](items []T, account func(*T) string) []*T {
	at := map[string]int{}
	var out []*T
	for i := range items {
		a := account(&items[i])
		if j, ok := at[a]; ok {
			out[j] = &items[i]
			continue
		}
		at[a] = len(out)
		out = append(out, &items[i])
	}
	return out
}

// upsertCounters moves each account's counter to its last buffered event's sequence.
func (t *Tx) upsertCounters(ctx context.Context, es []roster.Event) error {
	return chunked(lastPerAccount(es, func(e *roster.Event) string { return e.AccountID }), func(last []*roster.Event) error {
		return insertRows(ctx, t, `INSERT INTO event_counters (account_id, sequence, tx)`,
			` ON CONFLICT (account_id) DO UPDATE SET sequence = excluded.sequence, tx = excluded.tx`, 3, last,
			func(args []any, e *roster.Event) []any { return append(args, e.AccountID, e.Sequence, e.Position.Tx) })
	})
}

// upsertHeads moves each chain's head to its last buffered record.
func (t *Tx) upsertHeads(ctx context.Context, recs []roster.AuditRecord) error {
	return chunked(lastPerAccount(recs, func(r *roster.AuditRecord) string { return r.AccountID }), func(last []*roster.AuditRecord) error {
		return insertRows(ctx, t, `INSERT INTO audit_heads (account_id, sequence, hash)`,
			` ON CONFLICT (account_id) DO UPDATE SET sequence = excluded.sequence, hash = excluded.hash`, 3, last,
			func(args []any, r *roster.AuditRecord) []any { return append(args, r.AccountID, r.Sequence, r.Hash) })
	})
}
