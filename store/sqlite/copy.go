package sqlite

import (
	"context"

	"github.com/rosterhq/roster/store/sqlstore"
)

var _ sqlstore.Copier = (*Store)(nil)

// Snapshot implements sqlstore.Copier: one read transaction on a reader connection, which in
// WAL mode holds no writer back (it only keeps the checkpoint from passing its snapshot).
func (s *Store) Snapshot(ctx context.Context, fn func(sqlstore.Querier) error) error {
	tx, err := s.readers.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // read only
	return fn(querier{tx: tx})
}

// Catalog implements sqlstore.Copier.
func (s *Store) Catalog() sqlstore.Catalog {
	return sqlstore.Catalog{
		Tables:  `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY name`,
		Columns: `SELECT name, type FROM pragma_table_info(?) ORDER BY cid`,
	}
}

// AfterCopy implements sqlstore.Copier: SQLite derives nothing it does not keep up itself.
func (s *Store) AfterCopy(context.Context) error { return nil }
