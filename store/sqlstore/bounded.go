package sqlstore

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// A bounded read serves the lists no index serves whole: a filter the sort's index does not
// lead with (source, recipient, deprecated, a key's status, an account's status, a
// relationship's type), and sorts on two fields or more, whose first field may be one value for
// every row. Every statement it runs reads one index range of at most scanBudget entries, and a
// page runs a handful of them, so a page costs a few times its limit whatever the data; when
// that many rows held too few matches, the page stops short and the caller's next cursor
// resumes where it stopped (roster.ListStop, SPEC §6). docs/pagination.md explains the steps.

// scanBudget is how many index entries one statement of a bounded read examines at most, for
// a page of limit rows (the extra row included): four times the page, and never fewer than
// 40, which cost next to nothing and spare the smallest pages (limit 1) needless empty ones.
// A floor of 100 made the default page (limit 20) read 101 keys where 85 do: 9% of the server
// CPU of the worst tie page (roster bench, list-worst-tie).
func scanBudget(limit int) int { return max(4*limit, 40) }

// needsBound reports whether q is read by a bounded read: a residual filter, a sort whose
// fields after the first are not the tie-breakers, or a boundary that is a prefix of the
// order (from a page that stopped early).
func (l listing) needsBound(q roster.ListQuery) bool {
	if q.After != nil && len(q.After) < len(q.Order) {
		return true
	}
	for _, f := range q.Filters {
		if !l.scope[f.Field] {
			return true
		}
	}
	o := l.cut(q.Order)
	return !l.tiesOnly(o[1:])
}

// cut drops the keys after a unique one: they never decide the order.
func (l listing) cut(o roster.Sort) roster.Sort {
	if len(l.ties) == 1 {
		for i, k := range o {
			if k.Field == l.ties[0] {
				return o[:i+1]
			}
		}
	}
	return o
}

// tiesOnly reports whether r is the listing's tie-breakers, all in one direction: with the
// first field fixed by equality, its index reads them either way.
func (l listing) tiesOnly(r roster.Sort) bool {
	if len(r) == 0 {
		return true
	}
	if len(r) != len(l.ties) {
		return false
	}
	for i, k := range r {
		if k.Field != l.ties[i] || k.Desc != r[0].Desc {
			return false
		}
	}
	return true
}

// native reports whether o, (field, ties...), is one range of one index.
func (l listing) native(o roster.Sort) bool {
	if len(o) == 1 {
		return true
	}
	if !l.tiesOnly(o[1:]) {
		return false
	}
	_, split := l.split(roster.ListQuery{Order: o})
	return !split
}

// scanOrder is the order in which the index of o's first field yields its rows: that field
// as asked, the tie-breakers in the direction the index gives them.
func (l listing) scanOrder(f roster.SortKey) roster.Sort {
	s := roster.Sort{f}
	if len(l.ties) == 1 && f.Field == l.ties[0] {
		return s
	}
	tiesDesc := false
	if d, one := l.oneIndex[f.Field]; one {
		tiesDesc = f.Desc != d
	}
	for _, t := range l.ties {
		s = append(s, roster.SortKey{Field: t, Desc: tiesDesc})
	}
	return s
}

type bounded[T any] struct {
	ctx    context.Context
	t      *Tx
	l      listing
	q      roster.ListQuery // for Now and the scope filters
	scope  []roster.Filter
	budget int
	scan   func(Rows) (T, error)
	value  func(T, string) any
}

// boundedPage reads one page of q by a bounded read, reporting in q.Stop where it stopped
// when it stopped short.
func boundedPage[T any](ctx context.Context, t *Tx, resource string, q roster.ListQuery, scan func(Rows) (T, error), value func(T, string) any) ([]T, error) {
	l := listings[resource]
	b := &bounded[T]{ctx: ctx, t: t, l: l, q: q, budget: scanBudget(q.Limit), scan: scan, value: value}
	var resid []roster.Filter
	for _, f := range q.Filters {
		if l.scope[f.Field] {
			b.scope = append(b.scope, f)
		} else {
			resid = append(resid, f)
		}
	}
	o, after := l.forward(q)
	rows, stop, err := b.walk(o, resid, after, q.Inclusive, q.Limit)
	if err != nil {
		return nil, err
	}
	if stop != nil && q.Stop != nil && len(rows) < q.Limit {
		q.Stop.After = b.typed(o, stop)
	}
	return rows, nil
}

// forward is the order a bounded read of q walks and the boundary it starts from: the order
// asked, reversed for a backward page (whose rows the caller reverses), cut after its unique
// key, and the boundary's values for that order.
func (l listing) forward(q roster.ListQuery) (roster.Sort, []any) {
	o := l.cut(q.Order)
	if q.Backward {
		o = slices.Clone(o)
		for i := range o {
			o[i].Desc = !o[i].Desc
		}
	}
	after := q.After
	if len(after) > len(o) {
		after = after[:len(o)]
	}
	return o, after
}

// typed turns stop values from their stored form back into the listing's (times).
func (b *bounded[T]) typed(o roster.Sort, vals []any) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		if n, ok := v.(int64); ok && b.l.kinds[o[i].Field] == roster.FieldTime {
			out[i] = time.UnixMicro(n).UTC()
		} else {
			out[i] = v
		}
	}
	return out
}

// walk reads up to need rows of the list in order o past after (a prefix of o's values;
// inclusive of rows equal to it when incl). It returns the rows and, when it stopped short
// without reaching the end, the values of a prefix of o past which nothing was examined.
func (b *bounded[T]) walk(o roster.Sort, resid []roster.Filter, after []any, incl bool, need int) ([]T, []any, error) {
	var out []T
	// The rest of the boundary's group: rows whose first field is the boundary's.
	if len(after) > 1 || len(after) == 1 && incl {
		rows, stop, err := b.group(o, resid, after[0], after[1:], incl, need, false)
		if err != nil || stop != nil || len(rows) >= need {
			return rows, stop, err
		}
		out = rows
	}
	var past []any
	if after != nil {
		past = after[:1]
	}
	need -= len(out)
	if b.l.native(o) {
		rows, stop, err := b.native(o, b.scope, resid, past, false, need)
		return append(out, rows...), stop, err
	}
	// The groups of the first field past the boundary, in the order its index yields them.
	s := b.l.scanOrder(o[0])
	keys, full, err := b.keys(b.scope, s, past, false, 1)
	if err != nil || len(keys) == 0 {
		return out, nil, err
	}
	last := keys[len(keys)-1][0]
	if full && keys[0][0] == last {
		// One group fills the window: it is large, so it is read on its own.
		rows, stop, err := b.group(o, resid, last, nil, false, need, true)
		if err != nil || stop != nil || len(rows) >= need {
			return append(out, rows...), stop, err
		}
		return append(out, rows...), []any{last}, nil
	}
	// Whole groups only: the window's last group may go on past it.
	upto := last
	if full {
		i := len(keys) - 1
		for keys[i][0] == last {
			i--
		}
		upto = keys[i][0]
	}
	rows, err := b.rows(append(slices.Clone(b.scope), resid...), s, past, false, &till{v: upto}, b.budget)
	if err != nil {
		return nil, nil, err
	}
	b.sort(rows, o)
	if len(rows) >= need {
		return append(out, rows[:need]...), nil, nil
	}
	out = append(out, rows...)
	if !full {
		return out, nil, nil
	}
	return out, []any{upto}, nil
}

// group reads up to need rows of the group whose first field of o is v, past sub (a prefix of
// the rest of o's values). Its stop, if any, starts with v. large says the caller already saw
// the group fill a window, so it need not be counted again.
func (b *bounded[T]) group(o roster.Sort, resid []roster.Filter, v any, sub []any, incl bool, need int, large bool) ([]T, []any, error) {
	r := o[1:]
	eq := roster.Filter{Field: o[0].Field, Value: v}
	withV := func(stop []any) []any {
		if stop == nil {
			return nil
		}
		return append([]any{v}, stop...)
	}
	if len(r) == 0 {
		// A unique field: the group is the boundary row itself.
		rows, err := b.rows(append(withFilter(b.scope, eq.Field, v), resid...), o, nil, false, nil, need)
		return rows, nil, err
	}
	if b.l.tiesOnly(r) {
		rows, stop, err := b.native(r, withFilter(b.scope, eq.Field, v), resid, sub, incl, need)
		return rows, withV(stop), err
	}
	// The rest of the order is another field's: a small group is sorted in memory, a large
	// one read through that field's index.
	ties := b.l.scanOrder(o[0])[1:]
	if !large {
		var err error
		if _, large, err = b.keys(withFilter(b.scope, eq.Field, v), ties, nil, false, 1); err != nil {
			return nil, nil, err
		}
	}
	if !large {
		rows, err := b.rows(append(withFilter(b.scope, eq.Field, v), resid...), ties, nil, false, nil, b.budget)
		if err != nil {
			return nil, nil, err
		}
		b.sort(rows, r)
		rows = slices.DeleteFunc(rows, func(x T) bool {
			if len(sub) == 0 {
				return false
			}
			c := b.compare(b.vals(x, r[:len(sub)]), sub, r)
			return c < 0 || c == 0 && !incl
		})
		return rows[:min(len(rows), need)], nil, nil
	}
	rows, stop, err := b.walk(r, append(slices.Clone(resid), residual(eq)), sub, incl, need)
	return rows, withV(stop), err
}

// residualMark marks a filter's field as residual: judged on the rows an index range yields,
// never itself a way into an index (see residualFilter).
const residualMark = "~"

// residual marks f as residual.
func residual(f roster.Filter) roster.Filter {
	f.Field = residualMark + f.Field
	return f
}

// residualFilter writes a residual equality as an expression of its column, which no index
// serves: a group's first-field equality, carried into the walk of the rest of the order by
// another field's index, would otherwise invite PostgreSQL to read the whole group by the first
// field's index and sort it (its estimate of a one-value group of one account is a few rows,
// whatever the group's size, and each page then sorts the whole group).
func residualFilter(l listing, f roster.Filter) (string, []any, bool) {
	field, ok := strings.CutPrefix(f.Field, residualMark)
	if !ok {
		return "", nil, false
	}
	col := l.columns[field]
	if l.kinds[field] == roster.FieldTime {
		return col + " + 0 = ?", []any{arg(f.Value)}, true
	}
	return col + " || '' = ?", []any{arg(f.Value)}, true
}

// rowSpecial is how a bounded read writes its filters' special forms: residual ones, then the
// listing's own.
func rowSpecial(l listing, q roster.ListQuery) func(roster.Filter) (string, []any, bool) {
	return func(f roster.Filter) (string, []any, bool) {
		if cond, args, ok := residualFilter(l, f); ok {
			return cond, args, true
		}
		if l.special != nil {
			return l.special(q, f)
		}
		return "", nil, false
	}
}

// native reads up to need rows in order o, one index range under the scope filters, past
// after, examining at most budget entries when residual filters may skip many.
func (b *bounded[T]) native(o roster.Sort, scope, resid []roster.Filter, after []any, incl bool, need int) ([]T, []any, error) {
	all := append(slices.Clone(scope), resid...)
	if len(resid) == 0 {
		return b.span(o, all, after, incl, nil, false, need)
	}
	keys, full, err := b.keys(scope, o, after, incl, len(o))
	if err != nil {
		return nil, nil, err
	}
	if !full {
		return b.span(o, all, after, incl, nil, false, need)
	}
	// The window ends at its last key. Its whole groups of the first field are one range,
	// the first field strictly before the last key's; a window of one group is that group,
	// by equality on the first field, up to the last key.
	end := keys[len(keys)-1]
	stop := end
	var rows []T
	switch {
	case len(o) > 1 && keys[0][0] != end[0]:
		i := len(keys) - 1
		for keys[i][0] == end[0] {
			i--
		}
		stop = keys[i]
		rows, _, err = b.span(o, all, after, incl, end[:1], true, need)
	case len(o) > 1 && (len(after) == 0 || arg(after[0]) != end[0]):
		rows, _, err = b.span(o[1:], withFilter(all, o[0].Field, end[0]), nil, false, end[1:], false, need)
	default:
		rows, _, err = b.span(o, all, after, incl, end, false, need)
	}
	if err != nil || len(rows) >= need {
		return rows, nil, err
	}
	return rows, stop, nil
}

// span reads up to need rows under filters in order o (a native order: one index range), past
// after (inclusive when incl), not past end (a prefix of o's values, exclusive of its last
// value when strict; nil: no end), in statements each of which reads one index range of
// equalities and one range condition on one field, whose every entry is a row past after and
// not past end. A bound on several fields is not one: SQLite ranges by the first field alone
// (k >= a AND (k > a OR (k = a AND id > x)) reads a's whole group before x; k <= v AND (k < v
// OR (k = v AND id <= w)) reads v's whole group past w), so span reads the rest of after's
// group by equality on the first field, then the rows strictly between after's and end's
// first field, then end's group by equality on the first field, each on the next fields.
func (b *bounded[T]) span(o roster.Sort, filters []roster.Filter, after []any, incl bool, end []any, strict bool, need int) ([]T, []any, error) {
	var out []T
	if len(after) > 1 {
		a := arg(after[0])
		eq := withFilter(filters, o[0].Field, a)
		if end != nil && a == end[0] {
			if len(end) > 1 {
				return b.span(o[1:], eq, after[1:], incl, end[1:], strict, need)
			}
			if strict {
				return nil, nil, nil
			}
			return b.span(o[1:], eq, after[1:], incl, nil, false, need)
		}
		rows, _, err := b.span(o[1:], eq, after[1:], incl, nil, false, need)
		if err != nil || len(rows) >= need {
			return rows, nil, err
		}
		out, need = rows, need-len(rows)
		after, incl = after[:1], false
	}
	if end == nil || len(end) == 1 {
		var upto *till
		if end != nil {
			upto = &till{v: end[0], strict: strict}
		}
		rows, err := b.rows(filters, o, after, incl, upto, need)
		return append(out, rows...), nil, err
	}
	// after is now at most the first field's value: k > a (k >= a when incl) AND k < v.
	if len(after) == 0 || arg(after[0]) != end[0] {
		rows, err := b.rows(filters, o, after, incl, &till{v: end[0], strict: true}, need)
		if err != nil || len(rows) >= need {
			return append(out, rows...), nil, err
		}
		out, need = append(out, rows...), need-len(rows)
	} else if !incl {
		return out, nil, nil
	}
	rows, _, err := b.span(o[1:], withFilter(filters, o[0].Field, end[0]), nil, false, end[1:], strict, need)
	return append(out, rows...), nil, err
}

// keys reads the values of the first n fields of order s of at most budget rows under filters,
// in order s, past after; full reports that more rows follow them. A caller that looks at the
// first field only asks for that one: half the values to scan and box.
func (b *bounded[T]) keys(filters []roster.Filter, s roster.Sort, after []any, incl bool, n int) (keys [][]any, full bool, err error) {
	sql, args, err := keysStatement(b.l, b.query(filters, s, after, incl, b.budget+1), n)
	s = s[:n]
	if err != nil {
		return nil, false, err
	}
	// One set of scan targets for every row, and the rows' values cut from one backing array:
	// a window is a hundred rows, each of which allocated five times over otherwise.
	dest := make([]any, len(s))
	for i, k := range s {
		if b.l.kinds[k.Field] == roster.FieldTime {
			dest[i] = new(int64)
		} else {
			dest[i] = new(string)
		}
	}
	flat := make([]any, 0, (b.budget+1)*len(s))
	keys, err = queryRowsSized(b.ctx, b.t, min(b.budget+1, presizedRows), func(r Rows) ([]any, error) {
		if err := r.Scan(dest...); err != nil {
			return nil, err
		}
		from := len(flat)
		for _, d := range dest {
			switch p := d.(type) {
			case *int64:
				flat = append(flat, *p)
			case *string:
				flat = append(flat, *p)
			}
		}
		return flat[from:len(flat):len(flat)], nil
	}, sql, args...)
	if len(keys) > b.budget {
		return keys[:b.budget], true, err
	}
	return keys, false, err
}

// rows reads at most limit whole rows under filters, in order s, past after, not past upto.
func (b *bounded[T]) rows(filters []roster.Filter, s roster.Sort, after []any, incl bool, upto *till, limit int) ([]T, error) {
	q := b.query(filters, s, after, incl, limit)
	sql, args, err := listSQL(b.l.base, b.l.columns, q, upto, rowSpecial(b.l, q))
	if err != nil {
		return nil, err
	}
	return queryRowsSized(b.ctx, b.t, min(limit, presizedRows), b.scan, sql, args...)
}

func (b *bounded[T]) query(filters []roster.Filter, s roster.Sort, after []any, incl bool, limit int) roster.ListQuery {
	if len(after) == 0 {
		after = nil
	}
	return roster.ListQuery{Filters: filters, Order: s, After: after, Inclusive: incl && after != nil, Limit: limit, Now: b.q.Now}
}

// keysStatement is q's statement selecting only the columns of the first n fields of its order.
func keysStatement(l listing, q roster.ListQuery, n int) (string, []any, error) {
	cols := make([]string, n)
	for i, k := range q.Order[:n] {
		cols[i] = l.columns[k.Field]
	}
	from := l.base[strings.Index(l.base, " FROM "):]
	return listSQL("SELECT "+strings.Join(cols, ", ")+from, l.columns, q, nil, nil)
}

// vals is a row's values of the fields of o, in stored form.
func (b *bounded[T]) vals(x T, o roster.Sort) []any {
	out := make([]any, len(o))
	for i, k := range o {
		out[i] = arg(b.value(x, k.Field))
	}
	return out
}

// compare orders two prefixes of values of o (the shorter one's length decides).
func (b *bounded[T]) compare(x, y []any, o roster.Sort) int {
	for i := 0; i < len(x) && i < len(y); i++ {
		var c int
		switch xv := arg(x[i]).(type) {
		case int64:
			c = cmp.Compare(xv, arg(y[i]).(int64))
		case string:
			c = strings.Compare(xv, y[i].(string))
		}
		if o[i].Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

func (b *bounded[T]) sort(rows []T, o roster.Sort) {
	slices.SortStableFunc(rows, func(x, y T) int { return b.compare(b.vals(x, o), b.vals(y, o), o) })
}

// boundedStatements is every shape of statement a bounded read of q may run (each once, in the
// order a walk first meets it), for the query-plan tests: the values the walk would take from
// rows it read are placeholders of the fields' kinds.
func boundedStatements(l listing, q roster.ListQuery) ([]string, [][]any, error) {
	var stmts []string
	var argss [][]any
	var bad error
	seen := map[string]bool{}
	add := func(sql string, args []any, err error) {
		if err != nil && bad == nil {
			bad = err
		}
		if err == nil && !seen[sql] {
			seen[sql] = true
			stmts, argss = append(stmts, sql), append(argss, args)
		}
	}
	budget := scanBudget(q.Limit)
	query := func(filters []roster.Filter, s roster.Sort, after []any, incl bool, limit int) roster.ListQuery {
		if len(after) == 0 {
			after = nil
		}
		return roster.ListQuery{Filters: filters, Order: s, After: after, Inclusive: incl && after != nil, Limit: limit, Now: q.Now}
	}
	sample := func(s roster.Sort) []any {
		out := make([]any, len(s))
		for i, k := range s {
			out[i] = any("")
			if l.kinds[k.Field] == roster.FieldTime {
				out[i] = time.Unix(0, 0)
			}
		}
		return out
	}
	keys := func(filters []roster.Filter, s roster.Sort, after []any, incl bool, n int) {
		add(keysStatement(l, query(filters, s, after, incl, budget+1), n))
	}
	rows := func(filters []roster.Filter, s roster.Sort, after []any, incl bool, upto *till, limit int) {
		bq := query(filters, s, after, incl, limit)
		add(listSQL(l.base, l.columns, bq, upto, rowSpecial(l, bq)))
	}
	var scope, resid []roster.Filter
	for _, f := range q.Filters {
		if l.scope[f.Field] {
			scope = append(scope, f)
		} else {
			resid = append(resid, f)
		}
	}
	// span's statements, for an end of n values (none when 0).
	var span func(o roster.Sort, filters []roster.Filter, after []any, incl bool, n int, strict bool)
	span = func(o roster.Sort, filters []roster.Filter, after []any, incl bool, n int, strict bool) {
		if len(after) > 1 {
			eq := withFilter(filters, o[0].Field, after[0])
			if n > 1 {
				span(o[1:], eq, after[1:], incl, n-1, strict)
			}
			span(o[1:], eq, after[1:], incl, 0, false)
			after, incl = after[:1], false
		}
		v := sample(o[:1])[0]
		if n <= 1 {
			var upto *till
			if n == 1 {
				upto = &till{v: v, strict: strict}
			}
			rows(filters, o, after, incl, upto, q.Limit)
			return
		}
		rows(filters, o, after, incl, &till{v: v, strict: true}, q.Limit)
		span(o[1:], withFilter(filters, o[0].Field, v), nil, false, n-1, strict)
	}
	native := func(o roster.Sort, scope, resid []roster.Filter, after []any, incl bool) {
		all := append(slices.Clone(scope), resid...)
		span(o, all, after, incl, 0, false)
		if len(resid) == 0 {
			return
		}
		keys(scope, o, after, incl, len(o))
		if len(o) == 1 {
			span(o, all, after, incl, 1, false)
			return
		}
		span(o, all, after, incl, 1, true)
		span(o[1:], withFilter(all, o[0].Field, sample(o[:1])[0]), nil, false, len(o)-1, false)
		span(o, all, after, incl, len(o), false)
	}
	var walk func(o roster.Sort, resid []roster.Filter, after []any, incl bool)
	group := func(o roster.Sort, resid []roster.Filter, v any, sub []any, incl bool) {
		r := o[1:]
		eq := withFilter(scope, o[0].Field, v)
		if len(r) == 0 {
			rows(append(eq, resid...), o, nil, false, nil, q.Limit)
			return
		}
		if l.tiesOnly(r) {
			native(r, eq, resid, sub, incl)
			return
		}
		ties := l.scanOrder(o[0])[1:]
		keys(eq, ties, nil, false, 1)
		rows(append(slices.Clone(eq), resid...), ties, nil, false, nil, budget)
		walk(r, append(slices.Clone(resid), residual(roster.Filter{Field: o[0].Field, Value: v})), sub, incl)
	}
	walk = func(o roster.Sort, resid []roster.Filter, after []any, incl bool) {
		if len(after) > 1 || len(after) == 1 && incl {
			group(o, resid, after[0], after[1:], incl)
		}
		var past []any
		if after != nil {
			past = after[:1]
		}
		if l.native(o) {
			native(o, scope, resid, past, false)
			return
		}
		s := l.scanOrder(o[0])
		keys(scope, s, past, false, 1)
		v := sample(o[:1])[0]
		group(o, resid, v, nil, false)
		rows(append(slices.Clone(scope), resid...), s, past, false, &till{v: v}, budget)
	}
	o, after := l.forward(q)
	walk(o, resid, after, q.Inclusive)
	return stmts, argss, bad
}
