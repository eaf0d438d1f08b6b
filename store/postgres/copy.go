package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/store/sqlstore"
)

var _ sqlstore.Copier = (*Store)(nil)

// Snapshot implements sqlstore.Copier: a REPEATABLE READ, READ ONLY transaction.
func (s *Store) Snapshot(ctx context.Context, fn func(sqlstore.Querier) error) error {
	return mapErr(pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		return fn(querier{tx})
	}))
}

// Catalog implements sqlstore.Copier: the tables and columns of the schema roster uses.
func (s *Store) Catalog() sqlstore.Catalog {
	return sqlstore.Catalog{
		Tables: `SELECT table_name::text FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`,
		Columns: `SELECT column_name::text, data_type::text FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
	}
}

// AfterCopy implements sqlstore.Copier: every sequence that numbers a column continues after
// the largest value copied into it.
func (s *Store) AfterCopy(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, `SELECT s.relname::text, t.relname::text, a.attname::text
		FROM pg_class s
		JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
		JOIN pg_class t ON t.oid = d.refobjid
		JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
		WHERE s.relkind = 'S' AND s.relnamespace = current_schema()::regnamespace`)
	if err != nil {
		return err
	}
	type seq struct{ name, table, column string }
	seqs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (seq, error) {
		var q seq
		return q, r.Scan(&q.name, &q.table, &q.column)
	})
	if err != nil {
		return err
	}
	for _, q := range seqs {
		if _, err := s.pool.Exec(ctx, fmt.Sprintf(`SELECT setval(%s, COALESCE(MAX(%s), 0) + 1, false) FROM %s`,
			quoteLiteral(pgx.Identifier{q.name}.Sanitize()), pgx.Identifier{q.column}.Sanitize(), pgx.Identifier{q.table}.Sanitize())); err != nil {
			return fmt.Errorf("postgres: sequence %s: %w", q.name, err)
		}
	}
	return nil
}

func quoteLiteral(s string) string {
	out := "'"
	for _, r := range s {
		if r == '\'' {
			out += "'"
		}
		out += string(r)
	}
	return out + "'"
}
