package sqlstore

import (
	"fmt"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// listSQL appends a list query's filters, keyset condition, order and limit to base (which ends
// in a WHERE clause). columns whitelists the fields a query may name; special handles filters
// that are not plain equality.
func listSQL(base string, columns map[string]string, q roster.ListQuery, special func(roster.Filter) (string, []any, bool)) (string, []any, error) {
	var b strings.Builder
	b.WriteString(base)
	var args []any
	for _, f := range q.Filters {
		if special != nil {
			if cond, a, ok := special(f); ok {
				b.WriteString(" AND " + cond)
				args = append(args, a...)
				continue
			}
		}
		col, ok := columns[f.Field]
		if !ok {
			return "", nil, fmt.Errorf("sqlstore: cannot filter on %q", f.Field)
		}
		b.WriteString(" AND " + col + " = ?")
		args = append(args, arg(f.Value))
	}
	cols := make([]string, len(q.Order))
	desc := make([]bool, len(q.Order))
	for i, k := range q.Order {
		col, ok := columns[k.Field]
		if !ok {
			return "", nil, fmt.Errorf("sqlstore: cannot sort on %q", k.Field)
		}
		cols[i], desc[i] = col, k.Desc != q.Backward
	}
	if q.After != nil {
		if len(q.After) != len(cols) {
			return "", nil, fmt.Errorf("sqlstore: boundary has %d values for %d sort keys", len(q.After), len(cols))
		}
		// A range on the first key lets both engines seek the index; the OR chain is exact.
		first := ">="
		if desc[0] {
			first = "<="
		}
		b.WriteString(" AND " + cols[0] + " " + first + " ?")
		args = append(args, arg(q.After[0]))
		b.WriteString(" AND (")
		for i := range cols {
			if i > 0 {
				b.WriteString(" OR ")
			}
			b.WriteString("(")
			for j := 0; j < i; j++ {
				b.WriteString(cols[j] + " = ? AND ")
				args = append(args, arg(q.After[j]))
			}
			op := ">"
			if desc[i] {
				op = "<"
			}
			b.WriteString(cols[i] + " " + op + " ?)")
			args = append(args, arg(q.After[i]))
		}
		b.WriteString(")")
	}
	b.WriteString(" ORDER BY ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c)
		if desc[i] {
			b.WriteString(" DESC")
		}
	}
	// The limit is a parameter, not text: one statement per shape of query, whatever the limit,
	// keeps the statement caches small.
	b.WriteString(" LIMIT ?")
	args = append(args, q.Limit)
	return b.String(), args, nil
}

func arg(v any) any {
	if t, ok := v.(time.Time); ok {
		return micros(t)
	}
	return v
}
