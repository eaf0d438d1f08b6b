CREATE TABLE accounts (
    id          TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL,
    slug        TEXT COLLATE "C" NOT NULL,
    status      TEXT COLLATE "C" NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    deleted_at  BIGINT
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
    account_id         TEXT COLLATE "C" NOT NULL REFERENCES accounts (id),
    entity_id          TEXT COLLATE "C" NOT NULL,
    relationship_type  TEXT COLLATE "C" NOT NULL,
    created_at         BIGINT NOT NULL,
    PRIMARY KEY (account_id, entity_id, relationship_type)
);
CREATE INDEX relationships_account_created ON relationships (account_id, created_at, entity_id, relationship_type);
CREATE INDEX relationships_entity_created ON relationships (entity_id, created_at, relationship_type);

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
CREATE INDEX idempotency_created ON idempotency (created_at);

CREATE TABLE nonces (
    value       TEXT COLLATE "C" PRIMARY KEY,
    key_id      TEXT COLLATE "C" NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX nonces_expires ON nonces (expires_at);
