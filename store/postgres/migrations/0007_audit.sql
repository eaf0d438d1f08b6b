-- The audit trail (SPEC §15, docs/audit.md): the tables, in PostgreSQL's column types; their
-- indexes are store/sqlstore/migrations/0007_audit.sql, which runs next in the same transaction.
-- n is the record's place in the table, which orders the list of every chain; a chain's own
-- order is its sequence. '' stands for null in the text columns (no account: the platform's
-- chain; no key, request id, idempotency key, user agent or target); changes is JSON text (not
-- jsonb: stored as written).
CREATE TABLE audit_records (
    n                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                 TEXT COLLATE "C" NOT NULL,
    account_id         TEXT COLLATE "C" NOT NULL,
    sequence           BIGINT NOT NULL,
    occurred_at        BIGINT NOT NULL,
    actor_type         TEXT NOT NULL,
    actor_key_id       TEXT COLLATE "C" NOT NULL,
    actor_role         TEXT NOT NULL,
    source_ip          TEXT NOT NULL,
    source_user_agent  TEXT NOT NULL,
    request_id         TEXT NOT NULL,
    idempotency_key    TEXT NOT NULL,
    action             TEXT COLLATE "C" NOT NULL,
    target_type        TEXT NOT NULL,
    target_id          TEXT COLLATE "C" NOT NULL,
    outcome            TEXT NOT NULL,
    status             INTEGER NOT NULL,
    count              INTEGER NOT NULL,
    changes            TEXT,
    prev_hash          TEXT NOT NULL,
    hash               TEXT NOT NULL
);

-- The head of each chain (account_id '' for the platform's): its last sequence and hash, kept
-- apart from the records so that records cut from a chain's tail are found. A write holds its
-- chain's row (FOR UPDATE, by its upsert) from the moment it takes its sequence until it
-- commits: appends to one chain are serialized across processes.
CREATE TABLE audit_heads (
    account_id  TEXT COLLATE "C" PRIMARY KEY,
    sequence    BIGINT NOT NULL,
    hash        TEXT NOT NULL
);
