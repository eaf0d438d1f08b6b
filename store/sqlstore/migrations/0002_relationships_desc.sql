-- Relationship lists sorted created_at:desc (tie-breakers stay ascending) read in index order.
CREATE INDEX relationships_account_created_desc ON relationships (account_id, created_at DESC, entity_id, relationship_type);
CREATE INDEX relationships_entity_created_desc ON relationships (entity_id, created_at DESC, relationship_type);
