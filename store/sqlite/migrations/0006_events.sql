-- Events (SPEC §13, docs/events.md): the tables, in SQLite's column types; their indexes are
-- store/sqlstore/migrations/0006_events.sql, which runs next in the same transaction.
-- n orders the feed of every account: SQLite has one writer, so insertion order is commit order,
-- and AUTOINCREMENT never hands out a number again (a rolled-back savepoint takes its number back
-- with it; pruning never makes one reusable). tx is always 0 here; it is PostgreSQL's
-- transaction id there, and the SQL is shared.
CREATE TABLE events (
    n                INTEGER PRIMARY KEY AUTOINCREMENT,
    tx               INTEGER NOT NULL,
    id               TEXT NOT NULL UNIQUE,
    account_id       TEXT NOT NULL,  -- '' for an event of no account
    sequence         INTEGER NOT NULL,
    type             TEXT NOT NULL,
    object_id        TEXT NOT NULL,
    data             BLOB NOT NULL,
    request_id       TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    key_id           TEXT NOT NULL,
    created_at       INTEGER NOT NULL
);

-- One row per account ('' for the platform): its last sequence, and the highest tx position any
-- of its events took. Updating it in the write's transaction holds the row until commit, which
-- orders the account's events by commit.
CREATE TABLE event_counters (
    account_id  TEXT PRIMARY KEY,
    sequence    INTEGER NOT NULL,
    tx          INTEGER NOT NULL
);

-- How far pruning has gone: one row per account (its last pruned sequence) and the row '*' for
-- the feed of every account (its last pruned position).
CREATE TABLE event_horizons (
    feed      TEXT PRIMARY KEY,
    sequence  INTEGER NOT NULL,
    tx        INTEGER NOT NULL,
    n         INTEGER NOT NULL
);
