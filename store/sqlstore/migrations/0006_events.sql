-- The indexes of the events tables (each engine's migrations/0006_events.sql): an account's feed
-- reads by sequence, the feed of every account by position (docs/events.md). The unique index
-- also refuses a repeated sequence, should the counter ever fail to serialise appends.
CREATE UNIQUE INDEX events_account_sequence ON events (account_id, sequence);
CREATE INDEX events_position ON events (tx, n);
