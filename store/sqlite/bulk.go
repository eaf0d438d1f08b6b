package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store/sqlstore"
)

// Bulk loading (sqlstore.BulkLoad) on SQLite: rows go in through the writer connection in
// multi-row INSERTs, one transaction per table, the indexes of an empty table dropped and built
// again before the commit, which writes each page once. The transaction commits with
// synchronous=FULL like any other write, so a table BulkLoad reports done is on disk. What each
// choice here gained is measured in docs/performance.md ("Seeding").

// bulkRows is how many rows one INSERT statement carries: one statement per row would pay the
// statement's set-up (a cursor on every index of the table) once per row.
const bulkRows = 32

// bulkReport is how many rows go in between two progress reports.
const bulkReport = 10000

// bulkCacheKiB is the page cache of the writer connection while it loads (SQLite allocates it
// only as pages are used), which is also what the sorter of CREATE INDEX may hold in memory.
// Every page of a table being loaded is dirty until the commit, and a cache too small for them
// spills them to the WAL and reads them back for each index. The previous size is set back
// afterwards.
const bulkCacheKiB = 1 << 20

// BulkLoad inserts accounts, then entities, then relationships (nil sequences are skipped),
// which must all be new and consistent with each other and with what is stored. It holds the
// writer connection for the whole load, so concurrent writes wait for it.
//
// progress, if not nil, is told what is happening: step is a table name while its rows go in
// (done counts them, total is 0: the sequence's length is not known) or "<table> indexes"
// while its indexes are built (done of total). A table's rows count as loaded only once its
// step has moved on.
func (s *Store) BulkLoad(ctx context.Context, accounts []roster.Account, entities iter.Seq[roster.Entity],
	relationships iter.Seq[roster.Relationship], progress func(step string, done, total int)) (err error) {
	return s.LoadTables(ctx, progress, func(load sqlstore.LoadTable) error {
		return sqlstore.BulkLoad(ctx, load, accounts, entities, relationships)
	})
}

// LoadTables runs fn with the bulk loader of BulkLoad, each table it loads in one transaction,
// progress told as BulkLoad tells it. It holds the writer connection until fn returns.
func (s *Store) LoadTables(ctx context.Context, progress func(step string, done, total int), fn func(sqlstore.LoadTable) error) (err error) {
	if progress == nil {
		progress = func(string, int, int) {}
	}
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// What the write loop remembers of counters and heads may no longer hold once this has
	// written (before the connection goes back to it).
	defer s.bulkGen.Add(1)
	var cache, threads int64
	if err := conn.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&cache); err != nil {
		return err
	}
	if err := conn.QueryRowContext(ctx, `PRAGMA threads`).Scan(&threads); err != nil {
		return err
	}
	// Helper threads let CREATE INDEX sort on more than one core.
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA cache_size = -%d; PRAGMA threads = 4`, bulkCacheKiB)); err != nil {
		return err
	}
	defer func() {
		_, rerr := conn.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf(`PRAGMA cache_size = %d; PRAGMA threads = %d`, cache, threads))
		if err == nil {
			err = rerr
		}
	}()
	return fn(func(ctx context.Context, table string, columns []string, rows iter.Seq[[]any]) error {
		return bulkTable(ctx, conn, table, columns, rows, progress)
	})
}

// bulkTable loads one table in one transaction.
func bulkTable(ctx context.Context, conn *sql.Conn, table string, columns []string, rows iter.Seq[[]any],
	progress func(string, int, int)) (err error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
			err = fmt.Errorf("sqlite: bulk load %s: %w", table, mapErr(err))
		}
	}()
	q := querier{tx: tx}
	indexes, err := sqlstore.DropIndexes(ctx, q, table,
		`SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name`, table)
	if err != nil {
		return err
	}

	progress(table, 0, 0)
	nargs := len(columns)
	row := "(?" + strings.Repeat(", ?", nargs-1) + ")"
	statement := func(rows int) string {
		return "INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES " + row + strings.Repeat(", "+row, rows-1)
	}
	stmt, err := tx.PrepareContext(ctx, statement(bulkRows))
	if err != nil {
		return err
	}
	defer stmt.Close()
	args := make([]any, nargs*bulkRows)
	k, n, report := 0, 0, bulkReport
	for r := range rows {
		copy(args[k*nargs:(k+1)*nargs], r)
		if k++; k < bulkRows {
			continue
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return err
		}
		k = 0
		if n += bulkRows; n >= report {
			progress(table, n, 0)
			report += bulkReport
		}
	}
	if k > 0 {
		if _, err := tx.ExecContext(ctx, statement(k), args[:k*nargs]...); err != nil {
			return err
		}
		n += k
	}
	progress(table, n, 0)

	if err := sqlstore.BuildIndexes(ctx, q, table, indexes, progress); err != nil {
		return err
	}
	return tx.Commit()
}
