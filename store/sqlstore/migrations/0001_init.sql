-- The indexes of the first schema, the same on both engines; the tables are each engine's
-- migrations/0001_init.sql, which runs first, in the same transaction.
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

CREATE INDEX relationships_account_created ON relationships (account_id, created_at, entity_id, relationship_type);
CREATE INDEX relationships_entity_created ON relationships (entity_id, created_at, relationship_type);

CREATE INDEX idempotency_created ON idempotency (created_at);

CREATE INDEX nonces_expires ON nonces (expires_at);
