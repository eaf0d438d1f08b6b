-- The audit trail (SPEC §15, docs/audit.md): the tables, in SQLite's column types; their indexes
-- are store/sqlstore/migrations/0007_audit.sql, which runs next in the same transaction.
-- n is the record's place in the table (rowid), which orders the list of every chain; a chain's
-- own order is its sequence. '' stands for null in the text columns (no account: the platform's
-- chain; no key, request id, idempotency key, user agent or target); changes is JSON text.
CREATE TABLE audit_records (
    n                  INTEGER PRIMARY KEY,
    id                 TEXT NOT NULL,
    account_id         TEXT NOT NULL,
    sequence           INTEGER NOT NULL,
    occurred_at        INTEGER NOT NULL,
    actor_type         TEXT NOT NULL,
    actor_key_id       TEXT NOT NULL,
    actor_role         TEXT NOT NULL,
    source_ip          TEXT NOT NULL,
    source_user_agent  TEXT NOT NULL,
    request_id         TEXT NOT NULL,
    idempotency_key    TEXT NOT NULL,
    action             TEXT NOT NULL,
    target_type        TEXT NOT NULL,
    target_id          TEXT NOT NULL,
    outcome            TEXT NOT NULL,
    status             INTEGER NOT NULL,
    count              INTEGER NOT NULL,
    changes            TEXT,
    prev_hash          TEXT NOT NULL,
    hash               TEXT NOT NULL
);

-- The head of each chain (account_id '' for the platform's): its last sequence and hash, kept
-- apart from the records so that records cut from a chain's tail are found. A write holds its
-- chain's row from the moment it takes its sequence until it commits.
CREATE TABLE audit_heads (
    account_id  TEXT PRIMARY KEY,
    sequence    INTEGER NOT NULL,
    hash        TEXT NOT NULL
);
