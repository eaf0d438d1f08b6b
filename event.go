package roster

import (
	"context"
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
