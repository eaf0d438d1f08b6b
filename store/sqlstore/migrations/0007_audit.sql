-- The indexes of the audit tables (each engine's migrations/0007_audit.sql): a record by id; a
-- chain in sequence order, which verification walks and the list of one account reads newest
-- first. The unique chain index also refuses a repeated sequence, should the head ever fail to
-- serialize appends. The list of every chain reads the primary key (n) backwards.
CREATE UNIQUE INDEX audit_records_id ON audit_records (id);
CREATE UNIQUE INDEX audit_records_chain ON audit_records (account_id, sequence);
