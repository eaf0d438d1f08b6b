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

// Bulk loading, for seeding a benchmark or importing data: rows go in through the writer
// connection, bypassing the service and group commit, one transaction per table. Into an empty
// table, the transaction drops the table's secondary indexes, inserts every row and builds the
// indexes again before it commits: sorting once per index costs a fraction of keeping ten
// B-trees up to date row by row (measured on 200,000 entities: 24 s against 74 s), and writes
// each page once. The transaction commits with synchronous=FULL like any other write, so a
// table BulkLoad reports done is on disk, and a load that fails or is cancelled part-way rolls
// its table back, indexes included. Into a table that already has rows, rows are inserted with
// the indexes in place.

// bulkRows is how many rows one INSERT statement carries: one statement per row would pay the
// statement's set-up (a cursor on every index of the table) once per row.
const bulkRows = 32

// bulkReport is how many rows go in between two progress reports.
const bulkReport = 10000

// bulkCacheKiB is the page cache of the writer connection while it loads (SQLite allocates it
// only as pages are used), which is also what the sorter of CREATE INDEX may hold in memory.
// Every page of a table being loaded is dirty until the commit, and a cache too small for them
// spills them to the WAL and reads them back for each index: 1M entities took 161 s with a
// 256 MiB cache and 78 s with this one, on the same busy machine. The previous size is set back
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
	if progress == nil {
		progress = func(string, int, int) {}
	}
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
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

	accountSeq := func(yield func(roster.Account) bool) {
		for _, a := range accounts {
			if !yield(a) {
				return
			}
		}
	}
	if len(accounts) > 0 {
		if err := bulkTable(ctx, conn, "accounts", `INSERT INTO accounts (id, name, slug, status, created_at, updated_at) VALUES`,
			accountSeq, func(a roster.Account, args []any) {
				args[0], args[1], args[2], args[3], args[4], args[5] = a.ID, a.Name, a.Slug, string(a.Status), a.CreatedAt.UnixMicro(), a.UpdatedAt.UnixMicro()
			}, 6, progress); err != nil {
			return err
		}
	}
	if entities != nil {
		if err := bulkTable(ctx, conn, "entities", `INSERT INTO entities (id, account_id, name, module_ids, source, recipient,
			description, deprecated, see, field_suffix, invitation_id, flow_ids, logo_url, website, time_zone,
			trustedform_certified_vendor, created_at, updated_at) VALUES`,
			entities, func(e roster.Entity, args []any) {
				args[0], args[1], args[2], args[3], args[4], args[5] = e.ID, e.AccountID, e.Name, sqlstore.JSONList(e.ModuleIDs), optString(e.Source), optString(e.Recipient)
				args[6], args[7], args[8], args[9], args[10] = optString(e.Description), e.Deprecated, optString(e.See), optString(e.FieldSuffix), optString(e.InvitationID)
				args[11], args[12], args[13], args[14] = sqlstore.JSONList(e.FlowIDs), optString(e.LogoURL), optString(e.Website), optString(e.TimeZone)
				args[15], args[16], args[17] = e.TrustedFormCertifiedVendor, e.CreatedAt.UnixMicro(), e.UpdatedAt.UnixMicro()
			}, 18, progress); err != nil {
			return err
		}
	}
	if relationships != nil {
		if err := bulkTable(ctx, conn, "relationships", `INSERT INTO relationships (account_id, entity_id, relationship_type, created_at) VALUES`,
			relationships, func(r roster.Relationship, args []any) {
				args[0], args[1], args[2], args[3] = r.AccountID, r.EntityID, r.Type, r.CreatedAt.UnixMicro()
			}, 4, progress); err != nil {
			return err
		}
	}
	return nil
}

// bulkTable loads one table in one transaction. insert is the statement up to and including
// VALUES; bind fills the nargs arguments of one row.
func bulkTable[T any](ctx context.Context, conn *sql.Conn, table, insert string, seq iter.Seq[T], bind func(T, []any),
	nargs int, progress func(string, int, int)) (err error) {
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
	// Secondary indexes come off an empty table and go back on once it is full. Their SQL is
	// read from the schema, so whatever the migrations made is rebuilt as it was.
	var indexes [][2]string
	var one int
	switch err := tx.QueryRowContext(ctx, `SELECT 1 FROM `+table+` LIMIT 1`).Scan(&one); err {
	case sql.ErrNoRows:
		rows, err := tx.QueryContext(ctx, `SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name`, table)
		if err != nil {
			return err
		}
		for rows.Next() {
			var name, def string
			if err := rows.Scan(&name, &def); err != nil {
				rows.Close()
				return err
			}
			indexes = append(indexes, [2]string{name, def})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, ix := range indexes {
			if _, err := tx.ExecContext(ctx, `DROP INDEX "`+ix[0]+`"`); err != nil {
				return err
			}
		}
	case nil:
	default:
		return err
	}

	progress(table, 0, 0)
	row := "(?" + strings.Repeat(", ?", nargs-1) + ")"
	statement := func(rows int) string { return insert + " " + row + strings.Repeat(", "+row, rows-1) }
	stmt, err := tx.PrepareContext(ctx, statement(bulkRows))
	if err != nil {
		return err
	}
	defer stmt.Close()
	args := make([]any, nargs*bulkRows)
	k, n, report := 0, 0, bulkReport
	for r := range seq {
		bind(r, args[k*nargs:(k+1)*nargs])
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

	if len(indexes) > 0 {
		step := table + " indexes"
		progress(step, 0, len(indexes))
		for i, ix := range indexes {
			if _, err := tx.ExecContext(ctx, ix[1]); err != nil {
				return err
			}
			progress(step, i+1, len(indexes))
		}
	}
	return tx.Commit()
}

func optString(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}
