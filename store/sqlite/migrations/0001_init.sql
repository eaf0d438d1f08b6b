CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    slug        TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    deleted_at  INTEGER
);
CREATE UNIQUE INDEX accounts_slug_live ON accounts (slug) WHERE deleted_at IS NULL;
CREATE INDEX accounts_created_at ON accounts (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX accounts_created_at_desc ON accounts (created_at DESC, id) WHERE deleted_at IS NULL;
CREATE INDEX accounts_updated_at ON accounts (updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX accounts_updated_at_desc ON accounts (updated_at DESC, id) WHERE deleted_at IS NULL;
CREATE INDEX accounts_name ON accounts (name, id) WHERE deleted_at IS NULL;
CREATE INDEX accounts_name_desc ON accounts (name DESC, id) WHERE deleted_at IS NULL;
CREATE INDEX accounts_slug ON accounts (slug, id) WHERE deleted_at IS NULL;
CREATE INDEX accounts_slug_desc ON accounts (slug DESC, id) WHERE deleted_at IS NULL;
CREATE INDEX accounts_status ON accounts (status, created_at DESC, id) WHERE deleted_at IS NULL;

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
CREATE INDEX api_keys_account_created_at ON api_keys (account_id, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX api_keys_account_created_at_desc ON api_keys (account_id, created_at DESC, id) WHERE deleted_at IS NULL;
CREATE INDEX api_keys_account_updated_at ON api_keys (account_id, updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX api_keys_account_updated_at_desc ON api_keys (account_id, updated_at DESC, id) WHERE deleted_at IS NULL;
CREATE INDEX api_keys_account_name ON api_keys (account_id, name, id) WHERE deleted_at IS NULL;
CREATE INDEX api_keys_account_name_desc ON api_keys (account_id, name DESC, id) WHERE deleted_at IS NULL;
CREATE INDEX api_keys_created_at ON api_keys (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX api_keys_created_at_desc ON api_keys (created_at DESC, id) WHERE deleted_at IS NULL;
CREATE INDEX api_keys_updated_at ON api_keys (updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX api_keys_updated_at_desc ON api_keys (updated_at DESC, id) WHERE deleted_at IS NULL;
CREATE INDEX api_keys_name ON api_keys (name, id) WHERE deleted_at IS NULL;
CREATE INDEX api_keys_name_desc ON api_keys (name DESC, id) WHERE deleted_at IS NULL;
CREATE INDEX api_keys_account_id ON api_keys (account_id, id) WHERE deleted_at IS NULL;

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
CREATE INDEX entities_account_created_at ON entities (account_id, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX entities_account_created_at_desc ON entities (account_id, created_at DESC, id) WHERE deleted_at IS NULL;
CREATE INDEX entities_account_updated_at ON entities (account_id, updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX entities_account_updated_at_desc ON entities (account_id, updated_at DESC, id) WHERE deleted_at IS NULL;
CREATE INDEX entities_account_name ON entities (account_id, name, id) WHERE deleted_at IS NULL;
CREATE INDEX entities_account_name_desc ON entities (account_id, name DESC, id) WHERE deleted_at IS NULL;
CREATE INDEX entities_created_at ON entities (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX entities_created_at_desc ON entities (created_at DESC, id) WHERE deleted_at IS NULL;
CREATE INDEX entities_updated_at ON entities (updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX entities_updated_at_desc ON entities (updated_at DESC, id) WHERE deleted_at IS NULL;
CREATE INDEX entities_name ON entities (name, id) WHERE deleted_at IS NULL;
CREATE INDEX entities_name_desc ON entities (name DESC, id) WHERE deleted_at IS NULL;
CREATE INDEX entities_account_id ON entities (account_id, id) WHERE deleted_at IS NULL;
CREATE INDEX entities_account_source ON entities (account_id, source, created_at DESC, id) WHERE deleted_at IS NULL;
CREATE INDEX entities_account_recipient ON entities (account_id, recipient, created_at DESC, id) WHERE deleted_at IS NULL;
CREATE INDEX entities_account_deprecated ON entities (account_id, deprecated, created_at DESC, id) WHERE deleted_at IS NULL;

CREATE TABLE relationships (
    account_id         TEXT NOT NULL REFERENCES accounts (id),
    entity_id          TEXT NOT NULL,
    relationship_type  TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    PRIMARY KEY (account_id, entity_id, relationship_type)
);
CREATE INDEX relationships_account_created ON relationships (account_id, created_at, entity_id, relationship_type);
CREATE INDEX relationships_entity_created ON relationships (entity_id, created_at, relationship_type);

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
CREATE INDEX idempotency_created ON idempotency (created_at);

CREATE TABLE nonces (
    value       TEXT PRIMARY KEY,
    key_id      TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX nonces_expires ON nonces (expires_at);
