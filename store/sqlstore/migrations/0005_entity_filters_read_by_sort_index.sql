-- Entity lists filtered by source, recipient or deprecated read the account's index for their
-- sort and skip the rows that do not match, as every other sort did already; these three
-- indexes served only the created_at orders, and cost every entity write three more B-tree
-- updates on random pages (what dropping them gained: docs/pagination.md).
DROP INDEX entities_account_source;
DROP INDEX entities_account_recipient;
DROP INDEX entities_account_deprecated;
