-- Entities and relationships become WITHOUT ROWID tables: each row lives in its primary key's
-- B-tree instead of a rowid table plus a separate primary key index. A read by id makes one
-- B-tree descent instead of two, and every write updates one B-tree fewer. Nothing references
-- either table, so they are rebuilt in place with their foreign keys checked row by row.
CREATE TABLE entities_new (
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
) WITHOUT ROWID;
INSERT INTO entities_new SELECT id, account_id, name, module_ids, source, recipient, description, deprecated, see,
    field_suffix, invitation_id, flow_ids, logo_url, website, time_zone, trustedform_certified_vendor,
    created_at, updated_at, deleted_at FROM entities;
DROP TABLE entities;
ALTER TABLE entities_new RENAME TO entities;
CREATE INDEX entities_account_created_at_desc ON entities (account_id, created_at DESC, id) WHERE deleted_at IS NULL;
CREATE INDEX entities_account_updated_at_desc ON entities (account_id, updated_at DESC, id) WHERE deleted_at IS NULL;
CREATE INDEX entities_account_name ON entities (account_id, name, id) WHERE deleted_at IS NULL;
CREATE INDEX entities_created_at_desc ON entities (created_at DESC, id) WHERE deleted_at IS NULL;
CREATE INDEX entities_updated_at_desc ON entities (updated_at DESC, id) WHERE deleted_at IS NULL;
CREATE INDEX entities_name ON entities (name, id) WHERE deleted_at IS NULL;
CREATE INDEX entities_account_id ON entities (account_id, id) WHERE deleted_at IS NULL;
CREATE INDEX entities_account_source ON entities (account_id, source, created_at DESC, id) WHERE deleted_at IS NULL;
CREATE INDEX entities_account_recipient ON entities (account_id, recipient, created_at DESC, id) WHERE deleted_at IS NULL;
CREATE INDEX entities_account_deprecated ON entities (account_id, deprecated, created_at DESC, id) WHERE deleted_at IS NULL;

CREATE TABLE relationships_new (
    account_id         TEXT NOT NULL REFERENCES accounts (id),
    entity_id          TEXT NOT NULL,
    relationship_type  TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    PRIMARY KEY (account_id, entity_id, relationship_type)
) WITHOUT ROWID;
INSERT INTO relationships_new SELECT account_id, entity_id, relationship_type, created_at FROM relationships;
DROP TABLE relationships;
ALTER TABLE relationships_new RENAME TO relationships;
CREATE INDEX relationships_account_created ON relationships (account_id, created_at, entity_id, relationship_type);
CREATE INDEX relationships_entity_created ON relationships (entity_id, created_at, relationship_type);
