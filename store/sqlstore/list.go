package sqlstore

import (
	"context"
	"fmt"
	"slices"
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
	// oneIndex names the sort fields that have a single index, (field, ties...) with the field
	// in the direction given (true: DESC) and the tie-breakers ascending, instead of one index
	// per direction. Such an index serves (field dir, ties asc) and, read backwards,
	// (field !dir, ties desc); the two other orders are read in steps (see split). Every index
	// is one more B-tree each write of the table updates, so write-heavy tables keep one.
	oneIndex map[string]bool
	ties     []string                    // the listing's tie-breakers, in order
	kinds    map[string]roster.FieldKind // of the sort fields, for ListStatements' placeholders
	// scope names the filters an index leads with (the account, an entity, a slug, an id);
	// every other filter is residual: read through the sort's index, it is bounded (bounded.go).
	scope map[string]bool
}

// listings describes the indexes the migrations (migrations/*.sql, the one declaration of
// them) leave on each table, as far as a list needs to know them: oneIndex and scope.
// TestQueryPlans (store/plan_test.go) fails on either engine when the two part ways.
var listings = map[string]listing{
	"accounts": {base: `SELECT ` + accountCols + ` FROM accounts WHERE deleted_at IS NULL`, columns: accountColumns, special: accountStatusFilter,
		ties: []string{"id"}, kinds: roster.AccountListing.Fields, scope: map[string]bool{"id": true, "slug": true}},
	"api_keys": {base: `SELECT ` + keyCols + ` FROM api_keys WHERE deleted_at IS NULL`, columns: keyColumns, special: keyStatusFilter,
		ties: []string{"id"}, kinds: roster.KeyListing.Fields, scope: map[string]bool{"account_id": true}},
	"entities": {base: `SELECT ` + entityCols + ` FROM entities WHERE deleted_at IS NULL`, columns: entityColumns,
		oneIndex: map[string]bool{"name": false, "created_at": true, "updated_at": true}, ties: []string{"id"}, kinds: roster.EntityListing.Fields,
		scope: map[string]bool{"account_id": true}},
	"relationships": {base: `SELECT account_id, entity_id, relationship_type, created_at FROM relationships WHERE 1 = 1`, columns: relationshipColumns,
		oneIndex: map[string]bool{"created_at": false}, ties: []string{"entity_id", "relationship_type"}, kinds: roster.RelationshipListing.Fields,
		scope: map[string]bool{"account_id": true, "entity_id": true}},
}

// split reports the sort field of q when its order pairs the field and the tie-breakers in
// directions the field's one index does not hold, so that the page is read in steps.
func (l listing) split(q roster.ListQuery) (string, bool) {
	if len(q.Order) != 1+len(l.ties) {
		return "", false
	}
	for i, f := range l.ties {
		if k := q.Order[1+i]; k.Field != f || k.Desc != q.Order[1].Desc {
			return "", false
		}
	}
	desc, ok := l.oneIndex[q.Order[0].Field]
	if !ok {
		return "", false
	}
	// The index's two scan orders are (field desc, ties asc) and (field !desc, ties desc).
	native := (q.Order[0].Desc == desc) != q.Order[1].Desc
	return q.Order[0].Field, !native
}

// The steps of a split page, each one an index range read in index order:
//
//	tail:  the rest of the boundary row's tie group (field = boundary, ties past the
//	       boundary), in the requested direction; only after a cursor;
//	ahead: the rows past the boundary's field value in index order, that is with every tie
//	       group in the wrong direction: whole groups are reversed in memory; one more row
//	       than needed shows whether the last group is whole;
//	group: the last tie group again, from its right end, when ahead cut it short.
//
// A page costs at most three seeks and reads at most twice its rows plus one, however large a
// tie group is and however deep the page.

func tailQuery(q roster.ListQuery, field string) roster.ListQuery {
	return roster.ListQuery{Filters: withFilter(q.Filters, field, q.After[0]), Order: q.Order[1:], After: q.After[1:],
		Backward: q.Backward, Inclusive: q.Inclusive, Limit: q.Limit, Now: q.Now}
}

// seeks reports whether a page of q, read in one range of one index, starts inside a group of
// rows with the boundary's value of the first sort field: one statement would seek to the
// group's first row and examine the group up to the boundary (both engines seek a composite
// boundary by its first value only), however large; the page is read in two ranges instead,
// each a seek straight to its first row:
//
//	tail: the rest of the boundary's group (field = boundary, ties past the boundary's), read
//	      the same way when the ties are two fields (a relationship's entity_id, type);
//	past: the rows strictly past the boundary's value of the field, when tail is short.
//
// Each range is then an equality on the fields before one range condition, which every index
// that serves the order seeks exactly on both engines; no OR chain is left for a planner to
// misjudge.
func (l listing) seeks(q roster.ListQuery) bool {
	return q.After != nil && len(q.After) == len(q.Order) && len(l.cut(q.Order)) > 1
}

// seekQueries are the ranges a page of q is read in, in order: q itself, or when it seeks, the
// ranges of the rest of the boundary's group (itself a page that may seek, on the next sort
// field) and then the rows past the group.
func (l listing) seekQueries(q roster.ListQuery) []roster.ListQuery {
	if !l.seeks(q) {
		return []roster.ListQuery{q}
	}
	return append(l.seekQueries(tailQuery(q, q.Order[0].Field)), pastQuery(q, q.Limit))
}

func pastQuery(q roster.ListQuery, limit int) roster.ListQuery {
	return roster.ListQuery{Filters: q.Filters, Order: q.Order, After: q.After[:1], Backward: q.Backward, Limit: limit, Now: q.Now}
}

func aheadQuery(q roster.ListQuery, limit int) roster.ListQuery {
	order := roster.Sort{q.Order[0]}
	for _, k := range q.Order[1:] {
		order = append(order, roster.SortKey{Field: k.Field, Desc: !k.Desc})
	}
	var after []any
	if q.After != nil {
		after = q.After[:1] // strictly past the boundary's value of the first key
	}
	return roster.ListQuery{Filters: q.Filters, Order: order, After: after, Backward: q.Backward, Limit: limit, Now: q.Now}
}

func groupQuery(q roster.ListQuery, field string, value any, limit int) roster.ListQuery {
	return roster.ListQuery{Filters: withFilter(q.Filters, field, value), Order: q.Order[1:], Backward: q.Backward, Limit: limit, Now: q.Now}
}

func withFilter(fs []roster.Filter, field string, value any) []roster.Filter {
	return append(append(make([]roster.Filter, 0, len(fs)+1), fs...), roster.Filter{Field: field, Value: value})
}

// ListStatements is every statement one page of q may run, in the order it runs them: the
// shapes of a bounded read's statements (boundedStatements), one,
// the tail and past reads of a page after a cursor (seeks), or the steps of a split page (the last step's tie value and limit are placeholders). The
// query-plan tests explain them all.
func ListStatements(resource string, q roster.ListQuery) ([]string, [][]any, error) {
	l := listings[resource]
	if l.needsBound(q) {
		return boundedStatements(l, q)
	}
	field, split := l.split(q)
	qs := l.seekQueries(q)
	if split {
		var tie any = ""
		if l.kinds[field] == roster.FieldTime {
			tie = time.Unix(0, 0)
		}
		qs = nil
		if q.After != nil {
			qs = append(qs, l.seekQueries(tailQuery(q, field))...)
			tie = q.After[0]
		}
		qs = append(qs, aheadQuery(q, q.Limit+1), groupQuery(q, field, tie, q.Limit))
	}
	var stmts []string
	var args [][]any
	for _, sq := range qs {
		s, a, err := ListStatement(resource, sq)
		if err != nil {
			return nil, nil, err
		}
		stmts, args = append(stmts, s), append(args, a)
	}
	return stmts, args, nil
}

// presizedRows bounds the room a list read allocates before it has rows.
const presizedRows = 128

// listPage reads one page of q: in one statement, or in the steps of a split page. value
// gives a row's value of a sort field, in the form arg gives.
func listPage[T any](ctx context.Context, t *Tx, resource string, q roster.ListQuery, scan func(Rows) (T, error), value func(T, string) any) ([]T, error) {
	read := func(q roster.ListQuery) ([]T, error) {
		sql, args, err := ListStatement(resource, q)
		if err != nil {
			return nil, err
		}
		// Room for the page up front (at most presizedRows: a large limit over few rows
		// should not allocate for rows that are not there).
		return queryRowsSized(ctx, t, min(q.Limit, presizedRows), scan, sql, args...)
	}
	if l := listings[resource]; l.needsBound(q) {
		return boundedPage(ctx, t, resource, q, scan, value)
	}
	// seek reads q in the ranges of seekQueries, each one until the page is full.
	seek := func(q roster.ListQuery) ([]T, error) {
		var out []T
		for _, sq := range listings[resource].seekQueries(q) {
			sq.Limit = q.Limit - len(out)
			rows, err := read(sq)
			if err != nil {
				return nil, err
			}
			if out = append(out, rows...); len(out) >= q.Limit {
				break
			}
		}
		return out, nil
	}
	field, split := listings[resource].split(q)
	if !split {
		return seek(q)
	}
	var out []T
	if q.After != nil {
		tail, err := seek(tailQuery(q, field))
		if err != nil {
			return nil, err
		}
		out = tail
	}
	need := q.Limit - len(out)
	if need <= 0 {
		return out, nil
	}
	ahead, err := read(aheadQuery(q, need+1))
	if err != nil {
		return nil, err
	}
	key := func(i int) any { return arg(value(ahead[i], field)) }
	var cut any // the value of a tie group ahead cut short
	if len(ahead) > need {
		last := key(need - 1)
		if key(need) == last {
			cut = last
		}
		ahead = ahead[:need]
		if cut != nil {
			for len(ahead) > 0 && key(len(ahead)-1) == cut {
				ahead = ahead[:len(ahead)-1]
			}
		}
	}
	for i := 0; i < len(ahead); {
		j := i + 1
		for j < len(ahead) && key(j) == key(i) {
			j++
		}
		slices.Reverse(ahead[i:j])
		i = j
	}
	out = append(out, ahead...)
	if cut != nil {
		group, err := read(groupQuery(q, field, cut, q.Limit-len(out)))
		if err != nil {
			return nil, err
		}
		out = append(out, group...)
	}
	return out, nil
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
	return listSQL(l.base, l.columns, q, nil, special)
}

// accountStatusFilter compares an expression of status, not the column: status is a residual
// filter (bounded.go) read through the sort's index, and an equality on the column invites a
// planner (SQLite on an empty or unanalyzed table, PostgreSQL for created_at:asc) to read every
// account of that status through accounts_status and sort them, however many there are.
func accountStatusFilter(_ roster.ListQuery, f roster.Filter) (string, []any, bool) {
	if f.Field != "status" {
		return "", nil, false
	}
	return "status || '' = ?", []any{f.Value}, true
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
// upto, when set, keeps only the rows whose first key is not past its value in q's order.
func listSQL(base string, columns map[string]string, q roster.ListQuery, upto *till, special func(roster.Filter) (string, []any, bool)) (string, []any, error) {
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
		// A boundary may cover a prefix of the keys: rows are then strictly past its values.
		if len(q.After) > len(cols) || len(q.After) == 0 {
			return "", nil, fmt.Errorf("sqlstore: boundary has %d values for %d sort keys", len(q.After), len(cols))
		}
		// A range on the first key lets both engines seek the index; the OR chain is exact. A
		// boundary of one value is its own range: SQLite, given both, seeks by the inclusive
		// one and reads the boundary's whole group before the rows past it.
		if len(q.After) > 1 {
			first := ">="
			if desc[0] {
				first = "<="
			}
			b.WriteString(" AND " + cols[0] + " " + first + " ?")
			args = append(args, arg(q.After[0]))
		}
		b.WriteString(" AND (")
		for i := range q.After {
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
			if q.Inclusive && i == len(q.After)-1 {
				op += "=" // the boundary row itself, or the whole group of a prefix
			}
			b.WriteString(cols[i] + " " + op + " ?)")
			args = append(args, arg(q.After[i]))
		}
		b.WriteString(")")
	}
	if upto != nil {
		// One range condition on the first key: with the lower bound's, the range an index
		// reads is exactly the rows kept (an upper bound on several keys would be read by
		// SQLite as the first key's range alone, a whole group past the bound).
		last := "<"
		if desc[0] {
			last = ">"
		}
		if !upto.strict {
			last += "="
		}
		b.WriteString(" AND " + cols[0] + " " + last + " ?")
		args = append(args, arg(upto.v))
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

// till is an upper bound of a read on its first sort key: rows up to v (before it when strict).
type till struct {
	v      any
	strict bool
}

func arg(v any) any {
	if t, ok := v.(time.Time); ok {
		return micros(t)
	}
	return v
}
