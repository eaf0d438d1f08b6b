-- The tables of the first schema, in PostgreSQL's column types. Their indexes, the same on both
-- engines, are store/sqlstore/migrations/0001_init.sql, which runs next in the same transaction.
CREATE TABLE accounts (
    id          TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL,
    slug        TEXT COLLATE "C" NOT NULL,
    status      TEXT COLLATE "C" NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    deleted_at  BIGINT
);

CREATE TABLE api_keys (
    id            TEXT COLLATE "C" PRIMARY KEY,
    account_id    TEXT COLLATE "C" REFERENCES accounts (id),
    name          TEXT COLLATE "C" NOT NULL,
    role          TEXT COLLATE "C" NOT NULL,
    prefix        TEXT COLLATE "C" NOT NULL,
    hash          TEXT COLLATE "C" NOT NULL UNIQUE,
    revoked       BOOLEAN NOT NULL DEFAULT FALSE,
    expires_at    BIGINT,
    last_used_at  BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    deleted_at    BIGINT
);

CREATE TABLE entities (
    id                            TEXT COLLATE "C" PRIMARY KEY,
    account_id                    TEXT COLLATE "C" NOT NULL REFERENCES accounts (id),
    name                          TEXT COLLATE "C" NOT NULL,
    module_ids                    TEXT COLLATE "C" NOT NULL,
    source                        TEXT COLLATE "C",
    recipient                     TEXT COLLATE "C",
    description                   TEXT COLLATE "C",
    deprecated                    BOOLEAN NOT NULL DEFAULT FALSE,
    see                           TEXT COLLATE "C",
    field_suffix                  TEXT COLLATE "C",
    invitation_id                 TEXT COLLATE "C",
    flow_ids                      TEXT COLLATE "C" NOT NULL,
    logo_url                      TEXT COLLATE "C",
    website                       TEXT COLLATE "C",
    time_zone                     TEXT COLLATE "C",
    trustedform_certified_vendor  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at                    BIGINT NOT NULL,
    updated_at                    BIGINT NOT NULL,
    deleted_at                    BIGINT
);

CREATE TABLE relationships (
    account_id         TEXT COLLATE "C" NOT NULL REFERENCES accounts (id),
    entity_id          TEXT COLLATE "C" NOT NULL,
    relationship_type  TEXT COLLATE "C" NOT NULL,
    created_at         BIGINT NOT NULL,
    PRIMARY KEY (account_id, entity_id, relationship_type)
);

CREATE TABLE idempotency (
    scope        TEXT COLLATE "C" NOT NULL,
    idem_key     TEXT COLLATE "C" NOT NULL,
    fingerprint  TEXT COLLATE "C" NOT NULL,
    token        TEXT COLLATE "C" NOT NULL,
    lease_until  BIGINT NOT NULL,
    status       INTEGER NOT NULL DEFAULT 0,
    body         BYTEA,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (scope, idem_key)
);

CREATE TABLE nonces (
    value       TEXT COLLATE "C" PRIMARY KEY,
    key_id      TEXT COLLATE "C" NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    created_at  BIGINT NOT NULL
);
