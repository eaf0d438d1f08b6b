-- The tables of the first schema, in SQLite's column types. Their indexes, the same on both
-- engines, are store/sqlstore/migrations/0001_init.sql, which runs next in the same transaction.
CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    slug        TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    deleted_at  INTEGER
);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    account_id    TEXT REFERENCES accounts (id),
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    hash          TEXT NOT NULL UNIQUE,
    revoked       INTEGER NOT NULL DEFAULT 0,
    expires_at    INTEGER,
    last_used_at  INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    deleted_at    INTEGER
);

CREATE TABLE entities (
    id                            TEXT PRIMARY KEY,
    account_id                    TEXT NOT NULL REFERENCES accounts (id),
    name                          TEXT NOT NULL,
    module_ids                    TEXT NOT NULL,
    source                        TEXT,
    recipient                     TEXT,
    description                   TEXT,
    deprecated                    INTEGER NOT NULL DEFAULT 0,
    see                           TEXT,
    field_suffix                  TEXT,
    invitation_id                 TEXT,
    flow_ids                      TEXT NOT NULL,
    logo_url                      TEXT,
    website                       TEXT,
    time_zone                     TEXT,
    trustedform_certified_vendor  INTEGER NOT NULL DEFAULT 0,
    created_at                    INTEGER NOT NULL,
    updated_at                    INTEGER NOT NULL,
    deleted_at                    INTEGER
);

CREATE TABLE relationships (
    account_id         TEXT NOT NULL REFERENCES accounts (id),
    entity_id          TEXT NOT NULL,
    relationship_type  TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    PRIMARY KEY (account_id, entity_id, relationship_type)
);

CREATE TABLE idempotency (
    scope        TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    token        TEXT NOT NULL,
    lease_until  INTEGER NOT NULL,
    status       INTEGER NOT NULL DEFAULT 0,
    body         BLOB,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (scope, idem_key)
);

CREATE TABLE nonces (
    value       TEXT PRIMARY KEY,
    key_id      TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    created_at  INTEGER NOT NULL
);
