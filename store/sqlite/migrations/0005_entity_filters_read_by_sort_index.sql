-- Entity lists filtered by source, recipient or deprecated read the account's index for their
-- sort and skip the rows that do not match, as every other sort did already; these three
-- indexes served only the created_at orders, and cost every entity write three more B-tree
-- updates on random pages (measured on SQLite: create entity 2,320 -> 2,870 writes/s, server CPU
-- 485 -> 395 us a create). See docs/pagination.md.
DROP INDEX entities_account_source;
DROP INDEX entities_account_recipient;
DROP INDEX entities_account_deprecated;
