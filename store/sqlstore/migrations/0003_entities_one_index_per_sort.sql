-- One index per entity sort field instead of one per direction: (name, id), (created_at DESC, id)
-- and (updated_at DESC, id), per account and across accounts. Each read backwards serves the
-- reverse order; the two mixed orders are read in steps (store/sqlstore/list.go, split). Every
-- entity write updated these six B-trees for nothing else.
DROP INDEX entities_account_created_at;
DROP INDEX entities_account_updated_at;
DROP INDEX entities_account_name_desc;
DROP INDEX entities_created_at;
DROP INDEX entities_updated_at;
DROP INDEX entities_name_desc;
