package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
)

// Copying a whole database into another, of either engine (roster copy): table by table, in
// Tables' order, each table's rows read from one snapshot of the source and loaded through the
// target's bulk path (LoadTable), column by column as stored, so that what the source holds —
// deleted rows, key hashes, saved idempotent responses — arrives unchanged.

// Tables are the tables of roster's data, each after the tables it refers to. A copy copies
// them in this order and refuses a database with a table not listed here (schema_migrations
// aside, which the target's own migrations fill): a new table is one more line here.
var Tables = []string{
	"accounts",
	"api_keys",
	"entities",
	"relationships",
	"idempotency",
	"nonces",
	"events",
	"event_counters",
	"event_horizons",
	"audit_records", // copied row for row: hashes cover ids, sequences and times (docs/audit.md)
	"audit_heads",
}

// migrationsTable is the migration runner's own table, which every database has and fills itself.
const migrationsTable = "schema_migrations"

// Copier is an engine's side of a copy.
type Copier interface {
	// Snapshot runs fn with reads that all see one consistent snapshot of the database.
	Snapshot(ctx context.Context, fn func(Querier) error) error
	// Catalog is the engine's catalogue queries.
	Catalog() Catalog
	// LoadTables runs fn with the engine's bulk loader (see BulkLoad).
	LoadTables(ctx context.Context, progress func(step string, done, total int), fn func(LoadTable) error) error
	// AfterCopy brings what the engine derives from the rows (sequences) up to them.
	AfterCopy(ctx context.Context) error
}

// Catalog holds the queries that list an engine's tables (one column: the name) and a table's
// columns (name and declared type, in order; one placeholder: the table).
type Catalog struct{ Tables, Columns string }

// CopyProgress is told, for each table, how many of its total rows are in.
type CopyProgress func(table string, done, total int64)

// Copy copies every table of from into to, whose tables must all be empty, and checks at the
// end that each holds the rows the snapshot held. It returns the count of each table.
func Copy(ctx context.Context, from, to Copier, progress CopyProgress) (map[string]int64, error) {
	if progress == nil {
		progress = func(string, int64, int64) {}
	}
	var counts map[string]int64
	err := to.Snapshot(ctx, func(tq Querier) error {
		if err := knownTables(ctx, tq, to.Catalog(), "target"); err != nil {
			return err
		}
		for _, t := range Tables {
			if n, err := count(ctx, tq, t); err != nil {
				return err
			} else if n > 0 {
				return fmt.Errorf("the target is not empty: its table %s has %d rows (roster copy writes only into an empty database)", t, n)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = from.Snapshot(ctx, func(q Querier) error {
		if err := knownTables(ctx, q, from.Catalog(), "source"); err != nil {
			return err
		}
		counts = map[string]int64{}
		for _, t := range Tables {
			n, err := count(ctx, q, t)
			if err != nil {
				return err
			}
			counts[t] = n
		}
		return to.LoadTables(ctx, func(string, int, int) {}, func(load LoadTable) error {
			for _, t := range Tables {
				if err := copyTable(ctx, q, from.Catalog(), to, load, t, counts[t], progress); err != nil {
					return fmt.Errorf("copy %s: %w", t, err)
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if err := to.AfterCopy(ctx); err != nil {
		return nil, err
	}
	return counts, to.Snapshot(ctx, func(tq Querier) error {
		for _, t := range Tables {
			n, err := count(ctx, tq, t)
			if err != nil {
				return err
			}
			if n != counts[t] {
				return fmt.Errorf("copy %s: the target holds %d rows, the source %d", t, n, counts[t])
			}
		}
		return nil
	})
}

// knownTables refuses a database holding a table roster does not know how to copy.
func knownTables(ctx context.Context, q Querier, c Catalog, which string) error {
	names, err := queryStrings(ctx, q, c.Tables)
	if err != nil {
		return err
	}
	for _, n := range names {
		if n != migrationsTable && !slices.Contains(Tables, n) {
			return fmt.Errorf("the %s database has a table %s that roster copy does not know (a newer roster made it?)", which, n)
		}
	}
	return nil
}

func count(ctx context.Context, q Querier, table string) (int64, error) {
	rows, err := q.Query(ctx, `SELECT COUNT(*) FROM `+table)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	if rows.Next() {
		err = rows.Scan(&n)
	}
	return n, errors.Join(err, rows.Err())
}

// column is a column of a table as its engine declares it.
type column struct{ name, typ string }

func columns(ctx context.Context, q Querier, c Catalog, table string) ([]column, error) {
	rows, err := q.Query(ctx, c.Columns, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []column
	for rows.Next() {
		var col column
		if err := rows.Scan(&col.name, &col.typ); err != nil {
			return nil, err
		}
		col.typ = strings.ToLower(col.typ)
		cols = append(cols, col)
	}
	return cols, rows.Err()
}

// copyTable streams table's rows from q into load.
func copyTable(ctx context.Context, q Querier, srcCat Catalog, to Copier, load LoadTable, table string, total int64, progress CopyProgress) error {
	src, err := columns(ctx, q, srcCat, table)
	if err != nil {
		return err
	}
	var dst []column
	if err := to.Snapshot(ctx, func(tq Querier) error {
		var err error
		dst, err = columns(ctx, tq, to.Catalog(), table)
		return err
	}); err != nil {
		return err
	}
	names := make([]string, len(src))
	for i, c := range src {
		names[i] = c.name
	}
	convs := make([]func(any) any, len(src))
	if len(dst) != len(src) {
		return fmt.Errorf("the source has columns %v, the target %d columns: the two are not at the same schema version", names, len(dst))
	}
	for i, c := range dst {
		if c.name != src[i].name {
			return fmt.Errorf("column %d is %s in the source and %s in the target", i+1, src[i].name, c.name)
		}
		convs[i] = converter(c.typ)
	}
	progress(table, 0, total)
	if total == 0 {
		return nil
	}
	positions := feedPositions(table, names)
	rows, err := q.Query(ctx, `SELECT `+strings.Join(names, ", ")+` FROM `+table)
	if err != nil {
		return err
	}
	defer rows.Close()
	var scanErr error
	seq := func(yield func([]any) bool) {
		vals := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		var n int64
		for rows.Next() {
			if scanErr = rows.Scan(ptrs...); scanErr != nil {
				return
			}
			for i, conv := range convs {
				if conv != nil && vals[i] != nil {
					vals[i] = conv(vals[i])
				}
			}
			positions(vals)
			if !yield(vals) {
				return
			}
			if n++; n%10000 == 0 && n < total { // the last report comes once the table is in
				progress(table, n, total)
			}
		}
		scanErr = rows.Err()
	}
	if err := load(ctx, table, names, iter.Seq[[]any](seq)); err != nil {
		return err
	}
	if scanErr != nil {
		return scanErr
	}
	progress(table, total, total)
	return nil
}

// feedPositions is how a copy carries the events' feed positions (docs/events.md). A position
// (tx, n) made on PostgreSQL holds that cluster's transaction id, which means nothing to the
// target: on SQLite, whose tx is always 0, new events would sort before every copied one; on
// another PostgreSQL cluster, copied events would stay hidden below its xmin. So a tx that is
// not 0 is copied as 0, in events, counters and the horizon of every account's feed (the latter
// then (0, 0): pruned rows are not copied). n stays: an account's events take their n in
// sequence order, so n alone orders the copied feed as the source did, each account's events in
// sequence; the target's own positions come after it (n's sequence is brought up to the rows by
// AfterCopy). Feed cursors do not carry across a copy. Rows made on SQLite copy unchanged.
func feedPositions(table string, names []string) func(vals []any) {
	tx, n := slices.Index(names, "tx"), slices.Index(names, "n")
	nonZero := func(v any) bool { x, ok := v.(int64); return !ok || x != 0 }
	switch table {
	case "events", "event_counters":
		return func(vals []any) {
			if nonZero(vals[tx]) {
				vals[tx] = int64(0)
			}
		}
	case "event_horizons":
		return func(vals []any) {
			if nonZero(vals[tx]) {
				vals[tx], vals[n] = int64(0), int64(0)
			}
		}
	}
	return func([]any) {}
}

// converter turns a value as the other engine's driver reads it into what a column of type typ
// takes: SQLite stores booleans as integers, PostgreSQL has a boolean type; a blob may come
// back as text.
func converter(typ string) func(any) any {
	switch typ {
	case "boolean":
		return func(v any) any {
			switch x := v.(type) {
			case int64:
				return x != 0
			case int32:
				return x != 0
			}
			return v
		}
	case "bytea", "blob":
		return func(v any) any {
			if s, ok := v.(string); ok {
				return []byte(s)
			}
			return v
		}
	case "text":
		return func(v any) any {
			if b, ok := v.([]byte); ok {
				return string(b)
			}
			return v
		}
	}
	return nil
}

func queryStrings(ctx context.Context, q Querier, query string, args ...any) ([]string, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
