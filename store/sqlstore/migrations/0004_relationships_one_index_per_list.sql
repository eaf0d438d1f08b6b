-- Relationship lists keep the ascending (created_at, ...) indexes of 0001 only: read backwards
-- they serve created_at:desc with the tie-breakers descending, and created_at:desc with them
-- ascending (the documented order) is read in steps like the entity sorts (see 0003). A batch
-- of relationships no longer writes each row into these twins.
DROP INDEX relationships_account_created_desc;
DROP INDEX relationships_entity_created_desc;
