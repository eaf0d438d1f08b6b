package postgres

import (
	"context"
	"fmt"
	"iter"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store/sqlstore"
)

// Bulk loading (sqlstore.BulkLoad) on PostgreSQL: each table is loaded with one COPY in one
// transaction, the indexes of an empty table (those that back no constraint) dropped first and
// built again after the COPY. The tables are vacuumed and analyzed afterwards, so that the
// planner knows their new sizes at once instead of after autovacuum's next pass.

// bulkReport is how many rows go in between two progress reports.
const bulkReport = 10000

// BulkLoad inserts accounts, then entities, then relationships (nil sequences are skipped),
// which must all be new and consistent with each other and with what is stored.
//
// progress, if not nil, is told what is happening: step is a table name while its rows go in
// (done counts them, total is 0: the sequence's length is not known) or "<table> indexes"
// while its indexes are built (done of total). A table's rows count as loaded only once its
// step has moved on.
func (s *Store) BulkLoad(ctx context.Context, accounts []roster.Account, entities iter.Seq[roster.Entity],
	relationships iter.Seq[roster.Relationship], progress func(step string, done, total int)) error {
	return s.LoadTables(ctx, progress, func(load sqlstore.LoadTable) error {
		return sqlstore.BulkLoad(ctx, load, accounts, entities, relationships)
	})
}

// LoadTables runs fn with the bulk loader of BulkLoad, each table it loads in one transaction
// and vacuumed and analyzed once fn returns, progress told as BulkLoad tells it.
func (s *Store) LoadTables(ctx context.Context, progress func(step string, done, total int), fn func(sqlstore.LoadTable) error) error {
	if progress == nil {
		progress = func(string, int, int) {}
	}
	var tables []string
	err := fn(func(ctx context.Context, table string, columns []string, rows iter.Seq[[]any]) error {
		if err := bulkTable(ctx, s, table, columns, rows, progress); err != nil {
			return err
		}
		tables = append(tables, table)
		return nil
	})
	if err != nil {
		return err
	}
	// VACUUM as well as ANALYZE: autovacuum would do both after so many inserts, and until the
	// visibility map is set an index-only scan (a bounded read's key window) visits the table
	// for every entry it reads.
	for _, t := range tables {
		if _, err := s.pool.Exec(ctx, `VACUUM (ANALYZE) `+pgx.Identifier{t}.Sanitize()); err != nil {
			return fmt.Errorf("postgres: bulk load: vacuum %s: %w", t, err)
		}
	}
	return nil
}

// bulkTable loads one table with one COPY in one transaction.
func bulkTable(ctx context.Context, s *Store, table string, columns []string, rows iter.Seq[[]any],
	progress func(string, int, int)) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL maintenance_work_mem = '256MB'`); err != nil {
			return err
		}
		q := querier{tx}
		indexes, err := sqlstore.DropIndexes(ctx, q, table, `SELECT c.relname, pg_get_indexdef(i.indexrelid)
			FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			WHERE i.indrelid = $1::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
			ORDER BY c.relname`, pgx.Identifier{table}.Sanitize())
		if err != nil {
			return err
		}

		progress(table, 0, 0)
		// COPY asks for its rows one at a time (pgx.CopyFromSource): the sequence is pulled.
		next, stop := iter.Pull(rows)
		defer stop()
		src := &copySource{next: next, report: func(n int) { progress(table, n, 0) }}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{table}, columns, src)
		if err != nil {
			return err
		}
		progress(table, int(n), 0)
		return sqlstore.BuildIndexes(ctx, q, table, indexes, progress)
	})
	if err != nil {
		return fmt.Errorf("postgres: bulk load %s: %w", table, mapErr(err))
	}
	return nil
}

// copySource feeds COPY from a pulled sequence of rows.
type copySource struct {
	next   func() ([]any, bool)
	report func(int)
	values []any
	n      int
}

func (c *copySource) Next() bool {
	v, ok := c.next()
	if !ok {
		return false
	}
	c.values = v
	if c.n++; c.n%bulkReport == 0 {
		c.report(c.n)
	}
	return true
}

func (c *copySource) Values() ([]any, error) { return c.values, nil }

func (c *copySource) Err() error { return nil }
