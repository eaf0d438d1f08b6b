package sqlstore

import (
	"context"
	"iter"

	"github.com/rosterhq/roster"
)

// Bulk loading, for seeding a benchmark or importing data: each table goes in in one
// transaction of its own, bypassing the service, through the engine's fastest path (LoadTable).
// Into an empty table, the transaction drops the table's secondary indexes first and builds them
// again once the rows are in (DropIndexes, BuildIndexes): sorting once per index is far cheaper
// than keeping every index up to date row by row. A load that fails part-way rolls its table
// back, indexes included.

// LoadTable loads rows into table's columns in one transaction. The row a sequence yields is
// valid until the next one.
type LoadTable func(ctx context.Context, table string, columns []string, rows iter.Seq[[]any]) error

// BulkLoad inserts accounts, then entities, then relationships (nil sequences are skipped),
// which must all be new and consistent with each other and with what is stored, each row in the
// encoding every write uses.
func BulkLoad(ctx context.Context, load LoadTable, accounts []roster.Account, entities iter.Seq[roster.Entity],
	relationships iter.Seq[roster.Relationship]) error {
	if len(accounts) > 0 {
		if err := load(ctx, "accounts", AccountColumns, encode(func(yield func(roster.Account) bool) {
			for _, a := range accounts {
				if !yield(a) {
					return
				}
			}
		}, AccountRow)); err != nil {
			return err
		}
	}
	if entities != nil {
		if err := load(ctx, "entities", EntityColumns, encode(entities, EntityRow)); err != nil {
			return err
		}
	}
	if relationships != nil {
		if err := load(ctx, "relationships", RelationshipColumns, encode(relationships, RelationshipRow)); err != nil {
			return err
		}
	}
	return nil
}

// encode turns a sequence of values into their rows, in one buffer.
func encode[T any](seq iter.Seq[T], row func([]any, *T) []any) iter.Seq[[]any] {
	return func(yield func([]any) bool) {
		var buf []any
		for v := range seq {
			buf = row(buf[:0], &v)
			if !yield(buf) {
				return
			}
		}
	}
}

// Index is a secondary index: its name and the statement that creates it.
type Index struct{ Name, Create string }

// DropIndexes, in a bulk load's transaction, drops the secondary indexes of table when the table
// is empty and returns them for BuildIndexes; a table with rows keeps them. list is the engine's
// catalogue query for them (rows of a name and a CREATE statement, in the engine's placeholders),
// so that whatever the migrations made is rebuilt as it was.
func DropIndexes(ctx context.Context, q Querier, table, list string, args ...any) ([]Index, error) {
	rows, err := q.Query(ctx, `SELECT 1 FROM `+table+` LIMIT 1`)
	if err != nil {
		return nil, err
	}
	full := rows.Next()
	rows.Close()
	if err := rows.Err(); err != nil || full {
		return nil, err
	}
	if rows, err = q.Query(ctx, list, args...); err != nil {
		return nil, err
	}
	var indexes []Index
	for rows.Next() {
		var ix Index
		if err := rows.Scan(&ix.Name, &ix.Create); err != nil {
			rows.Close()
			return nil, err
		}
		indexes = append(indexes, ix)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, ix := range indexes {
		if _, err := q.Exec(ctx, `DROP INDEX "`+ix.Name+`"`); err != nil {
			return nil, err
		}
	}
	return indexes, nil
}

// BuildIndexes builds again what DropIndexes dropped, reporting "<table> indexes", done of
// total, to progress.
func BuildIndexes(ctx context.Context, q Querier, table string, indexes []Index, progress func(step string, done, total int)) error {
	if len(indexes) == 0 {
		return nil
	}
	step := table + " indexes"
	progress(step, 0, len(indexes))
	for i, ix := range indexes {
		if _, err := q.Exec(ctx, ix.Create); err != nil {
			return err
		}
		progress(step, i+1, len(indexes))
	}
	return nil
}
