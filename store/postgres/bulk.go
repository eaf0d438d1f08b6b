package postgres

import (
	"context"
	"fmt"
	"iter"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store/sqlstore"
)

// Bulk loading, for seeding a benchmark or importing data: each table is loaded with one COPY
// in one transaction, bypassing the service. Into an empty table, the transaction drops the
// table's secondary indexes (those that back no constraint) first and builds them again after
// the COPY, which is far cheaper than maintaining them row by row; a load that fails part-way
// rolls its table back, indexes included. The tables are analyzed afterwards, so that the
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
	if progress == nil {
		progress = func(string, int, int) {}
	}
	var tables []string
	if len(accounts) > 0 {
		accountSeq := func(yield func(roster.Account) bool) {
			for _, a := range accounts {
				if !yield(a) {
					return
				}
			}
		}
		if err := bulkTable(ctx, s, "accounts", []string{"id", "name", "slug", "status", "created_at", "updated_at"}, accountSeq,
			func(a roster.Account) []any {
				return []any{a.ID, a.Name, a.Slug, string(a.Status), a.CreatedAt.UnixMicro(), a.UpdatedAt.UnixMicro()}
			}, progress); err != nil {
			return err
		}
		tables = append(tables, "accounts")
	}
	if entities != nil {
		if err := bulkTable(ctx, s, "entities", []string{"id", "account_id", "name", "module_ids", "source", "recipient",
			"description", "deprecated", "see", "field_suffix", "invitation_id", "flow_ids", "logo_url", "website", "time_zone",
			"trustedform_certified_vendor", "created_at", "updated_at"}, entities,
			func(e roster.Entity) []any {
				return []any{e.ID, e.AccountID, e.Name, sqlstore.JSONList(e.ModuleIDs), e.Source, e.Recipient, e.Description, e.Deprecated,
					e.See, e.FieldSuffix, e.InvitationID, sqlstore.JSONList(e.FlowIDs), e.LogoURL, e.Website, e.TimeZone,
					e.TrustedFormCertifiedVendor, e.CreatedAt.UnixMicro(), e.UpdatedAt.UnixMicro()}
			}, progress); err != nil {
			return err
		}
		tables = append(tables, "entities")
	}
	if relationships != nil {
		if err := bulkTable(ctx, s, "relationships", []string{"account_id", "entity_id", "relationship_type", "created_at"}, relationships,
			func(r roster.Relationship) []any {
				return []any{r.AccountID, r.EntityID, r.Type, r.CreatedAt.UnixMicro()}
			}, progress); err != nil {
			return err
		}
		tables = append(tables, "relationships")
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
func bulkTable[T any](ctx context.Context, s *Store, table string, columns []string, seq iter.Seq[T], row func(T) []any,
	progress func(string, int, int)) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL maintenance_work_mem = '256MB'`); err != nil {
			return err
		}
		var full bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+pgx.Identifier{table}.Sanitize()+`)`).Scan(&full); err != nil {
			return err
		}
		var indexes [][2]string
		if !full {
			rows, err := tx.Query(ctx, `SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
				WHERE i.indrelid = $1::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
				ORDER BY c.relname`, pgx.Identifier{table}.Sanitize())
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
				if _, err := tx.Exec(ctx, `DROP INDEX `+pgx.Identifier{ix[0]}.Sanitize()); err != nil {
					return err
				}
			}
		}

		progress(table, 0, 0)
		next, stop := iter.Pull(seq)
		defer stop()
		src := &copySource[T]{next: next, row: row, report: func(n int) { progress(table, n, 0) }}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{table}, columns, src)
		if err != nil {
			return err
		}
		progress(table, int(n), 0)

		if len(indexes) > 0 {
			step := table + " indexes"
			progress(step, 0, len(indexes))
			for i, ix := range indexes {
				if _, err := tx.Exec(ctx, ix[1]); err != nil {
					return err
				}
				progress(step, i+1, len(indexes))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: bulk load %s: %w", table, mapErr(err))
	}
	return nil
}

// copySource feeds COPY from a pulled sequence.
type copySource[T any] struct {
	next   func() (T, bool)
	row    func(T) []any
	report func(int)
	values []any
	n      int
}

func (c *copySource[T]) Next() bool {
	v, ok := c.next()
	if !ok {
		return false
	}
	c.values = c.row(v)
	if c.n++; c.n%bulkReport == 0 {
		c.report(c.n)
	}
	return true
}

func (c *copySource[T]) Values() ([]any, error) { return c.values, nil }

func (c *copySource[T]) Err() error { return nil }
