package sqlstore

import (
	"fmt"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// listing is one listable table: the query a page starts from, the fields a client may filter
// and sort on, and the filters that are not plain equality.
type listing struct {
	base    string
	columns map[string]string
	special func(q roster.ListQuery, f roster.Filter) (string, []any, bool)
}

var listings = map[string]listing{
	"accounts":      {`SELECT ` + accountCols + ` FROM accounts WHERE deleted_at IS NULL`, accountColumns, nil},
	"api_keys":      {`SELECT ` + keyCols + ` FROM api_keys WHERE deleted_at IS NULL`, keyColumns, keyStatusFilter},
	"entities":      {`SELECT ` + entityCols + ` FROM entities WHERE deleted_at IS NULL`, entityColumns, nil},
	"relationships": {`SELECT account_id, entity_id, relationship_type, created_at FROM relationships WHERE 1 = 1`, relationshipColumns, nil},
}

// ListStatement is the SQL (with ? placeholders) and arguments of one page of a resource's
// list: "accounts", "api_keys", "entities" or "relationships". The Tx list methods run it;
// the query-plan tests explain it.
func ListStatement(resource string, q roster.ListQuery) (string, []any, error) {
	l, ok := listings[resource]
	if !ok {
		return "", nil, fmt.Errorf("sqlstore: no list of %q", resource)
	}
	var special func(roster.Filter) (string, []any, bool)
	if l.special != nil {
		special = func(f roster.Filter) (string, []any, bool) { return l.special(q, f) }
	}
	return listSQL(l.base, l.columns, q, special)
}

// keyStatusFilter turns status=active|revoked|expired into conditions judged at q.Now.
func keyStatusFilter(q roster.ListQuery, f roster.Filter) (string, []any, bool) {
	if f.Field != "status" {
		return "", nil, false
	}
	now := micros(q.Now)
	switch f.Value {
	case string(roster.KeyRevoked):
		return "revoked = ?", []any{true}, true
	case string(roster.KeyExpired):
		return "revoked = ? AND expires_at IS NOT NULL AND expires_at <= ?", []any{false, now}, true
	default:
		return "revoked = ? AND (expires_at IS NULL OR expires_at > ?)", []any{false, now}, true
	}
}

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
			if q.Inclusive && i == len(cols)-1 {
				op += "=" // the boundary row itself, matched on every key
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
