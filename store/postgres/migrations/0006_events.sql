-- Events (SPEC §13, docs/events.md): the tables, in PostgreSQL's column types; their indexes are
-- store/sqlstore/migrations/0006_events.sql, which runs next in the same transaction.
-- The feed of every account is ordered by (tx, n): tx is the appending transaction's id
-- (pg_current_xact_id), raised to the account's previous event's tx when that is higher, so an
-- account's events stay in sequence order; readers only pass rows whose tx is below the oldest
-- transaction still in flight (pg_snapshot_xmin), as PgQ does.
CREATE TABLE events (
    n                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx               BIGINT NOT NULL,
    id               TEXT NOT NULL UNIQUE,
    account_id       TEXT NOT NULL,  -- '' for an event of no account
    sequence         BIGINT NOT NULL,
    type             TEXT NOT NULL,
    object_id        TEXT NOT NULL,
    data             BYTEA NOT NULL,
    request_id       TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    key_id           TEXT NOT NULL,
    created_at       BIGINT NOT NULL
);

-- One row per account ('' for the platform): its last sequence and the highest tx its events
-- took. Updating it in the write's transaction holds the row until commit, which orders the
-- account's events by commit.
CREATE TABLE event_counters (
    account_id  TEXT PRIMARY KEY,
    sequence    BIGINT NOT NULL,
    tx          BIGINT NOT NULL
);

-- How far pruning has gone: one row per account (its last pruned sequence) and the row '*' for
-- the feed of every account (its last pruned position).
CREATE TABLE event_horizons (
    feed      TEXT PRIMARY KEY,
    sequence  BIGINT NOT NULL,
    tx        BIGINT NOT NULL,
    n         BIGINT NOT NULL
);
