package roster

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// KindEvent is the id prefix of events (SPEC §2, §13).
const KindEvent Kind = "event_"

// The event types of SPEC §13.
const (
	EventAccountCreated         = "account.created"
	EventAccountUpdated         = "account.updated"
	EventAccountDeleted         = "account.deleted"
	EventEntityCreated          = "entity.created"
	EventEntityUpdated          = "entity.updated"
	EventEntityDeleted          = "entity.deleted"
	EventRelationshipCreated    = "relationship.created"
	EventRelationshipDeleted    = "relationship.deleted"
	EventKeyCreated             = "api_key.created"
	EventKeyUpdated             = "api_key.updated"
	EventKeyRevoked             = "api_key.revoked"
	EventKeyDeleted             = "api_key.deleted"
	EventWebhookEndpointCreated = "webhook_endpoint.created"
	EventWebhookEndpointUpdated = "webhook_endpoint.updated"
	EventWebhookEndpointDeleted = "webhook_endpoint.deleted"
)

// EventTypes lists every type a stored event may have, for validating the type filter.
var EventTypes = []string{
	EventAccountCreated, EventAccountUpdated, EventAccountDeleted,
	EventEntityCreated, EventEntityUpdated, EventEntityDeleted,
	EventRelationshipCreated, EventRelationshipDeleted,
	EventKeyCreated, EventKeyUpdated, EventKeyRevoked, EventKeyDeleted,
	EventWebhookEndpointCreated, EventWebhookEndpointUpdated, EventWebhookEndpointDeleted,
}

// EventRecord is one change, as the write that made it hands it to storage, in the write's own
// transaction. Storage assigns the event's id, its sequence and its feed position; it never
// reads Data.
type EventRecord struct {
	AccountID string // bare hex; "" for an event of no account (a superadmin key's own key events)
	Type      string
	ObjectID  string // bare hex of the object the event is about; a relationship's entity
	// Data is the event's "data" member, rendered by the caller:
	// {"object":{…},"previous_attributes":{…}} (previous_attributes on updates only).
	Data           []byte
	RequestID      string
	IdempotencyKey string // "" when the request had none
	KeyID          string // bare hex; "" for the command line
	CreatedAt      time.Time
}

// Event is a recorded change.
type Event struct {
	ID string // bare hex
	EventRecord
	// Sequence counts the events of AccountID (of no account: the platform's) from 1, with no
	// gap, in commit order.
	Sequence int64
	// Position is the event's place in the feed of every account.
	Position FeedPosition
}

// FeedPosition orders the feed of every account: by the transaction the position was taken
// in (PostgreSQL's transaction id, at least the one of the account's previous event; 0 on
// SQLite, whose one writer commits in the order it inserts), then by insertion. A reader only
// passes positions whose Tx is below every transaction still in flight, so no event can later
// commit at or before a position a reader has passed (docs/events.md).
type FeedPosition struct {
	Tx int64
	N  int64
}

// Less orders positions.
func (p FeedPosition) Less(q FeedPosition) bool {
	return p.Tx < q.Tx || p.Tx == q.Tx && p.N < q.N
}

// EventQuery is one read of a feed: the events after a cursor, oldest first.
type EventQuery struct {
	// All reads the feed of every account by Position, after After; otherwise the feed of
	// AccountID ("" is the platform's) by Sequence, after AfterSequence.
	All           bool
	AccountID     string
	After         FeedPosition
	AfterSequence int64
	// Filters: Type exact, or TypePrefix ("entity.", from "entity.*"); ObjectID bare hex.
	Type       string
	TypePrefix string
	ObjectID   string
	// Limit is the most events returned. Window, when filters are set, is the most events
	// examined: the read stops there even with fewer than Limit matches (SPEC §6: every list
	// request is cheap).
	Limit  int
	Window int
}

// EventScan is what one read of a feed saw.
type EventScan struct {
	Events []Event
	// Examined counts the events the read went through, matching or not; Last is the last of
	// them (its Sequence and Position), meaningful when Examined > 0.
	Examined int
	Last     Event
}

// EventHorizon is how far pruning has gone in one feed: the highest sequence of the account
// and the highest position of the feed of every account that were pruned. A cursor before it
// has lost events: 410 cursor_expired.
type EventHorizon struct {
	Sequence int64
	Position FeedPosition
}

// EventTx is what a transaction can do with events. Tx embeds it.
type EventTx interface {
	// AppendEvents records recs in the transaction, in order, and returns them as stored. Each
	// account's counter row is updated (and held until the transaction ends), so an account's
	// sequence has no gap and follows commit order; a rollback leaves neither event nor
	// counter change.
	AppendEvents(ctx context.Context, recs []EventRecord) ([]Event, error)
	// RecordEvents appends recs as AppendEvents does, for a caller that needs nothing back: the
	// store may send the append with the transaction's next statement, or just before its
	// commit, in one round trip (its error is then that statement's, or the commit's).
	RecordEvents(ctx context.Context, recs []EventRecord) error
	// Events reads a feed (see EventQuery). In the feed of every account it never returns an
	// event while a transaction that may still commit one before it is in flight.
	Events(ctx context.Context, q EventQuery) (EventScan, error)
	// EventByID reads one event; ErrNotFound when there is none (or it was pruned).
	EventByID(ctx context.Context, id string) (Event, error)
	// PruneEvents deletes the oldest events of the feed of every account, in feed order, as
	// long as they were created before before, at most limit of them, and moves the horizons
	// past them. It returns how many it deleted.
	PruneEvents(ctx context.Context, before time.Time, limit int) (int, error)
	// EventHorizon returns how far pruning has gone: in the account's feed (its Sequence) and
	// in the feed of every account (its Position, whatever accountID is).
	EventHorizon(ctx context.Context, accountID string) (EventHorizon, error)
}

// EventWatcher is a Store that can tell a waiting read of the feed when events may have become
// visible, so that it need not poll. Both engines are.
type EventWatcher interface {
	// WatchEvents registers a waiter until ctx ends and returns what it waits on: a function
	// giving the channel that the next change closes. A waiter takes the channel before it
	// reads, then waits on it only if the read found nothing.
	WatchEvents(ctx context.Context) func() <-chan struct{}
}

// CodeCursorExpired is the error of a feed cursor from before the retention horizon: events
// after it were pruned, and the consumer must re-read state (SPEC §13; HTTP 410).
const CodeCursorExpired Code = "cursor_expired"

// DefaultEventRetention is how long events are kept unless --event-retention says otherwise.
const DefaultEventRetention = 90 * 24 * time.Hour

// MaxEventWait is the longest a feed request may wait for an event (?wait=, in seconds).
const MaxEventWait = 60 * time.Second

// EventFeed is how the feed pages: oldest first, no sort (SPEC §13).
var EventFeed = Listing{DefaultLimit: 20, MaxLimit: 100}

// eventResources are the prefixes a type filter may name with ".*".
var eventResources = []string{"account", "entity", "relationship", "api_key", "webhook_endpoint"}

// EventRequest is a request of the feed as the client sent it.
type EventRequest struct {
	Limit  int
	Cursor string // "" reads from the oldest event kept
	// Filters as sent: type (exact, or a prefix ending in ".*"), object_id, account_id.
	Filters map[string]string
	// Wait is how long a request whose page would be empty waits for an event (at most
	// MaxEventWait); 0 answers at once.
	Wait time.Duration
	// Problems are the query's validation problems found before ListEvents (the limit's, the
	// wait's); it reports them together with the filters' own.
	Problems Problems
}

// EventPage is one page of the feed. Next is never "": it points after the page's last event,
// or, for an empty page, where the request started; HasNext says whether more events exist now.
type EventPage struct {
	Items   []Event
	HasNext bool
	Next    string
	pl      eventPlan
}

// CursorAfter is the cursor that resumes the feed after the page's i-th event (an event
// stream's id).
func (p EventPage) CursorAfter(i int) string {
	return p.pl.cursorAt(p.Items[i].Sequence, p.Items[i].Position)
}

// A feed cursor is a list cursor (page.go) whose sort names the feed's order, "sequence" (the
// feed of one account) or "position" (the feed of every account), and whose values are the
// position: the sequence, or the transaction and insertion numbers.
const (
	feedBySequence = "sequence"
	feedByPosition = "position"
)

// eventPlan is a feed request resolved against its cursor.
type eventPlan struct {
	q       EventQuery
	limit   int
	filters map[string]string // normalised, as the cursors carry them
	caller  string
	resumed bool // the request came with a cursor: pruning past it is a 410
	empty   bool // a superadmin named an account that cannot exist: no event, ever
}

// feedPosition reads the position a feed cursor holds, in the order it names.
func feedPosition(c cursor, order string) (seq int64, pos FeedPosition, err error) {
	bad := Errorf(CodeInvalidCursor, "the cursor is not valid")
	var n []int64
	for _, v := range c.Values {
		x, err := strconv.ParseInt(v, 10, 64)
		if err != nil || x < 0 {
			return 0, pos, bad
		}
		n = append(n, x)
	}
	switch {
	case c.Sort != order || c.Back || c.Part || c.Incl:
		return 0, pos, bad
	case order == feedBySequence && len(n) == 1:
		return n[0], pos, nil
	case order == feedByPosition && len(n) == 2:
		return 0, FeedPosition{Tx: n[0], N: n[1]}, nil
	}
	return 0, pos, bad
}

// eventFilters validates the raw filters and returns them normalised (object ids as bare hex,
// account ids as bare hex) with what they set on q.
func eventFilters(p Principal, raw map[string]string, q *EventQuery) (map[string]string, bool, error) {
	var ps Problems
	out := map[string]string{}
	if v, has := raw["type"]; has && v != "*" {
		if prefix, ok := strings.CutSuffix(v, ".*"); ok && slices.Contains(eventResources, prefix) {
			q.TypePrefix = prefix + "."
		} else if slices.Contains(EventTypes, v) {
			q.Type = v
		} else {
			ps.Add("value_error", "Value error, type must be an event type (such as entity.updated) or a resource followed by .* (such as entity.*)", "query", "type")
		}
		out["type"] = v
	}
	if v, has := raw["object_id"]; has {
		id, ok := parseAnyID(v)
		switch {
		case !ok:
			ps.Add("string_pattern_mismatch", "String should be a roster id (such as entity_… or 24 hex digits)", "query", "object_id")
		case id == "":
			// Well formed, but names nothing roster made (entity_x): no event is about it.
			q.ObjectID, out["object_id"] = "-", v
		default:
			q.ObjectID, out["object_id"] = id, id
		}
	}
	scope, ok, err := listScope(p, raw, &ps)
	if err != nil {
		return nil, false, err
	}
	if p.IsSuperadmin() && scope != "" {
		out["account_id"] = scope
	}
	if !p.IsSuperadmin() || scope != "" {
		q.AccountID = scope
	} else {
		q.All = true
	}
	return out, ok, ps.Err()
}

// parseAnyID reads an id of any kind an event's object may have, prefixed or bare (parseIDOf).
func parseAnyID(s string) (id string, ok bool) {
	return parseIDOf(s, KindAccount, KindEntity, KindKey, KindEvent)
}

// planEvents resolves a feed request: its caller's scope (SPEC §3: an admin or reader reads its
// own account's feed; a superadmin every account's, or one with ?account_id=), its filters, and
// its cursor, which must have been issued to this caller for these filters (§6).
func planEvents(p Principal, req EventRequest) (eventPlan, error) {
	pl := eventPlan{limit: req.Limit, caller: callerTag(p)}
	if err := forCaller(p, &PageRequest{Filters: req.Filters}); err != nil {
		return pl, err
	}
	raw := req.Filters
	var c cursor
	if req.Cursor != "" {
		var err error
		if c, err = decodeCursor(req.Cursor); err != nil {
			if len(req.Problems) > 0 {
				return pl, req.Problems.Err()
			}
			return pl, err
		}
		if len(raw) == 0 {
			raw = c.Filters
		}
		pl.resumed = true
	}
	filters, ok, err := eventFilters(p, raw, &pl.q)
	if len(req.Problems) > 0 { // the query's problems and the filters', all at once
		ps := append(Problems(nil), req.Problems...)
		if err := ps.Absorb(err); err != nil {
			return pl, err
		}
		return pl, ps.Err()
	}
	if err != nil {
		return pl, err
	}
	pl.filters, pl.empty = filters, !ok
	if pl.resumed {
		if c.Caller != pl.caller {
			return pl, Errorf(CodeCursorMismatch, "the cursor was issued to another caller")
		}
		if !maps.Equal(filters, c.Filters) {
			return pl, Errorf(CodeCursorMismatch, "the cursor was issued for other filters")
		}
		if pl.q.AfterSequence, pl.q.After, err = feedPosition(c, pl.order()); err != nil {
			return pl, err
		}
	}
	pl.q.Limit = req.Limit + 1
	pl.q.Window = max(4*(req.Limit+1), 40)
	return pl, nil
}

// order is the order of pl's feed, as its cursors name it.
func (pl eventPlan) order() string {
	if pl.q.All {
		return feedByPosition
	}
	return feedBySequence
}

// cursorAt is the cursor of pl's feed at an event's place.
func (pl eventPlan) cursorAt(seq int64, pos FeedPosition) string {
	c := cursor{Sort: pl.order(), Caller: pl.caller, Filters: pl.filters, Values: []string{strconv.FormatInt(seq, 10)}}
	if pl.q.All {
		c.Values = []string{strconv.FormatInt(pos.Tx, 10), strconv.FormatInt(pos.N, 10)}
	}
	if len(c.Filters) == 0 {
		c.Filters = nil
	}
	return encodeCursor(c)
}

// ListEvents reads a page of the feed for p (SPEC §13). With a wait, a request whose page would
// be empty waits until an event after its cursor commits, or the wait runs out.
func (s *Service) ListEvents(ctx context.Context, p Principal, req EventRequest) (EventPage, error) {
	pl, err := planEvents(p, req)
	if err != nil {
		return EventPage{}, err
	}
	if pl.empty {
		return EventPage{Next: pl.cursorAt(0, FeedPosition{}), pl: pl}, nil
	}
	wait := min(req.Wait, MaxEventWait)
	var changed func() <-chan struct{}
	poll := 100 * time.Millisecond // a store that cannot say when events commit is polled
	if w, ok := s.store.(EventWatcher); ok && wait > 0 {
		watchCtx, stop := context.WithCancel(ctx)
		defer stop()
		changed = w.WatchEvents(watchCtx)
		// Belt and braces: a notification lost to a race costs at most this much.
		poll = time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		var ch <-chan struct{}
		if changed != nil {
			ch = changed()
		}
		page, err := s.readEvents(ctx, pl)
		if err != nil || len(page.Items) > 0 || page.HasNext {
			return page, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return page, nil
		}
		t := time.NewTimer(min(left, poll))
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return EventPage{}, ctx.Err()
		}
		t.Stop()
	}
}

// readEvents reads one page. The horizon is read after the events, so that a pruning that
// committed before the read is seen: a page never silently starts past pruned events.
//
// A request without a cursor starts at the horizon: its empty page's cursor is past what was
// pruned, so a consumer that starts on a pruned feed is not told it lost what it never had.
func (s *Service) readEvents(ctx context.Context, pl eventPlan) (EventPage, error) {
	var scan EventScan
	var h EventHorizon
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if scan, err = tx.Events(ctx, pl.q); err != nil {
			return err
		}
		h, err = tx.EventHorizon(ctx, pl.q.AccountID)
		return err
	})
	if err != nil {
		return EventPage{}, err
	}
	if !pl.resumed {
		pl.q.After, pl.q.AfterSequence = h.Position, h.Sequence
	} else if pl.q.All && pl.q.After.Less(h.Position) || !pl.q.All && pl.q.AfterSequence < h.Sequence {
		return EventPage{}, Errorf(CodeCursorExpired, "the cursor is older than the retention horizon: events after it were pruned; re-read the current state and start the feed again")
	}
	page := EventPage{Items: scan.Events, Next: pl.cursorAt(pl.q.AfterSequence, pl.q.After), pl: pl}
	switch {
	case len(scan.Events) > pl.limit:
		page.Items = scan.Events[:pl.limit]
		last := page.Items[pl.limit-1]
		page.HasNext, page.Next = true, pl.cursorAt(last.Sequence, last.Position)
	case scan.Examined > 0:
		page.Next = pl.cursorAt(scan.Last.Sequence, scan.Last.Position)
		// A filtered read that went through its whole window stopped short of the end.
		page.HasNext = scan.Examined >= pl.q.Window && (pl.q.Type != "" || pl.q.TypePrefix != "" || pl.q.ObjectID != "")
	}
	return page, nil
}

// Event reads one event p may see: another tenant's, or an event of no account for anyone but
// a superadmin, is 404.
func (s *Service) Event(ctx context.Context, p Principal, id string) (Event, error) {
	notFound := Errorf(CodeNotFound, "event not found")
	if id == "" {
		return Event{}, notFound
	}
	var e Event
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		e, err = tx.EventByID(ctx, id)
		return err
	})
	if errors.Is(err, ErrNotFound) || err == nil && !p.IsSuperadmin() && e.AccountID != p.AccountID {
		return Event{}, notFound
	}
	return e, err
}

// pruneBatch is how many events one pruning transaction deletes at most.
const pruneBatch = 1000

// PruneEvents deletes the events created more than retention ago, a batch per transaction, and
// returns how many it deleted.
func (s *Service) PruneEvents(ctx context.Context, retention time.Duration) (int, error) {
	before := s.Now().Add(-retention)
	total := 0
	for {
		var n int
		err := s.store.Update(ctx, func(tx Tx) error {
			var err error
			n, err = tx.PruneEvents(ctx, before, pruneBatch)
			return err
		})
		total += n
		if err != nil || n < pruneBatch {
			return total, err
		}
	}
}

// RunEventPruner prunes events older than retention every interval until ctx ends.
func (s *Service) RunEventPruner(ctx context.Context, retention, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.PruneEvents(ctx, retention); err != nil && ctx.Err() == nil {
			s.log.Error("pruning events failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ParseEventWait reads ?wait= (whole seconds, 0 to 60).
func ParseEventWait(raw string) (time.Duration, error) {
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	switch {
	case err != nil:
		return 0, Invalid("int_parsing", "Input should be a valid integer, unable to parse string as an integer", "query", "wait")
	case n < 0:
		return 0, Invalid("greater_than_equal", "Input should be greater than or equal to 0", "query", "wait")
	case time.Duration(n)*time.Second > MaxEventWait:
		return 0, Invalid("less_than_equal", "Input should be less than or equal to 60", "query", "wait")
	}
	return time.Duration(n) * time.Second, nil
}

// eventRecords turns what a write changed into the events it records (SPEC §13), each with the
// request that made it. The write envelope appends them in the write's own transaction, after
// the operation and before it saves an idempotent response:
//
//	recs, err := eventRecords(r, ch, s.Now())
//	if err == nil { err = tx.RecordEvents(ctx, recs) }
//
// A write that changed nothing records nothing, and RecordEvents of none touches no counter.
func eventRecords(r *Request, ch changes, at time.Time) ([]EventRecord, error) {
	recs := make([]EventRecord, 0, len(ch))
	for i := range ch {
		c := &ch[i]
		data, err := changeData(c, at)
		if err != nil {
			return nil, err
		}
		recs = append(recs, EventRecord{AccountID: c.AccountID, Type: c.Type, ObjectID: c.ObjectID, Data: data,
			RequestID: r.ID, IdempotencyKey: r.IdempotencyKey, KeyID: r.Principal.KeyID, CreatedAt: at})
	}
	return recs, nil
}
