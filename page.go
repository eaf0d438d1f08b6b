package roster

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FieldKind is the type of a sortable field, which decides how a cursor carries its value.
type FieldKind int

// Sortable field kinds.
const (
	FieldString FieldKind = iota
	FieldTime
)

// SortKey is one term of an ordering.
type SortKey struct {
	Field string
	Desc  bool
}

// Sort is a full ordering, tie-breakers included.
type Sort []SortKey

// String renders the canonical "field:dir,..." form.
func (s Sort) String() string {
	var b strings.Builder
	for i, k := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k.Field)
		if k.Desc {
			b.WriteString(":desc")
		} else {
			b.WriteString(":asc")
		}
	}
	return b.String()
}

// Listing describes how one resource is listed: which fields sort, the default order and the
// tie-breakers that make every order total.
type Listing struct {
	Fields       map[string]FieldKind // fields a cursor may carry (tie-breakers included)
	Sortable     []string             // fields a client may sort by; nil means every field
	DefaultSort  string
	TieBreak     []string // appended, ascending, when not already in the sort
	DefaultLimit int
	MaxLimit     int
}

// Filter is an equality condition on a list. Value is a string or a bool.
type Filter struct {
	Field string
	Value any
}

// ListQuery is what a store needs to read one page: equality filters, a total order, the
// boundary row to seek past (nil for the first page) and a row budget.
type ListQuery struct {
	Filters  []Filter
	Order    Sort
	After    []any // values of Order's fields on the boundary row: string or time.Time
	Backward bool  // seek before After in reverse order (the store returns rows in reverse)
	// Inclusive also takes the boundary row itself: a cursor issued from an empty page points
	// back at the boundary it came from, which belongs to the page on the other side.
	Inclusive bool
	Limit     int
	Now       time.Time // for filters judged at a moment (key status)
	// Stop, when set, receives where a bounded read stopped short of Limit rows (see
	// ListStop); a store that reads every page whole leaves it alone.
	Stop *ListStop
}

// ListStop is where a store stopped a page early because it had examined as many rows as one
// page may (SPEC §6: every list request is cheap). After holds the values of a prefix of the
// order's fields; the rows past them (strictly) have not been examined, every row up to them has.
// The page is then short, has_next is true, and its next cursor resumes at After.
type ListStop struct {
	After []any
}

// PageRequest is a list request as the client sent it.
type PageRequest struct {
	Limit     int
	Sort      string // "" when absent
	Cursor    string // "" when absent
	Filters   map[string]string
	Principal Principal
	// Problems are the query's validation problems found before Plan (the limit's); Plan
	// reports them together with the filters' own, all at once (SPEC §5).
	Problems Problems
}

// MaxResponse is the largest response body roster sends (SPEC §10: 8 MiB): a list whose items
// can be large stops a page early to stay under it.
const MaxResponse = 8 << 20

// Page is one page of results with what the surfaces need to render navigation.
type Page[T any] struct {
	Items   []T
	HasNext bool
	HasPrev bool
	Next    string // cursor; "" when there is no next page
	Prev    string
}

// cursor is the decoded content of a cursor token.
type cursor struct {
	Sort    string            `json:"s"`
	Filters map[string]string `json:"f,omitempty"`
	Caller  string            `json:"a"` // callerTag of the caller it was issued to
	Values  []string          `json:"v"`
	Back    bool              `json:"b,omitempty"`
	Part    bool              `json:"p,omitempty"` // Values is a prefix of the sort's (ListStop)
	Incl    bool              `json:"i,omitempty"`
}

// ParseSort parses a sort parameter against the listing, appending the tie-breakers.
func (l Listing) ParseSort(raw string) (Sort, error) { return l.parseSort(raw, true) }

// parseSort parses a sort; a cursor's own sort (client false) may name the tie-breakers.
func (l Listing) parseSort(raw string, client bool) (Sort, error) {
	if raw == "" {
		raw = l.DefaultSort
	}
	var s Sort
	seen := map[string]bool{}
	for _, term := range strings.Split(raw, ",") {
		field, dir, hasDir := strings.Cut(strings.TrimSpace(term), ":")
		if _, ok := l.Fields[field]; !ok || seen[field] || client && l.Sortable != nil && !slices.Contains(l.Sortable, field) {
			return nil, Errorf(CodeInvalidSort, "cannot sort by %q; sortable fields: %s", field, strings.Join(l.sortable(), ", "))
		}
		desc := false
		switch {
		case !hasDir || dir == "asc":
		case dir == "desc":
			desc = true
		default:
			return nil, Errorf(CodeInvalidSort, "sort direction must be asc or desc, not %q", dir)
		}
		seen[field] = true
		s = append(s, SortKey{Field: field, Desc: desc})
	}
	for _, f := range l.TieBreak {
		if !seen[f] {
			s = append(s, SortKey{Field: f})
			seen[f] = true
		}
	}
	return s, nil
}

// cursorSort parses a cursor's sort and accepts it only when a client's sort parameter gives
// it: fields a client may sort by, then the tie-breakers ParseSort appends. Cursors are not
// signed, so a cursor's sort must not reach an order a client cannot ask for (a relationship
// list ordered by relationship_type first reads the whole account for every page).
func (l Listing) cursorSort(raw string) (Sort, error) {
	s, err := l.parseSort(raw, false)
	if err != nil {
		return nil, err
	}
	n := len(s)
	for n > 0 && l.Sortable != nil && !slices.Contains(l.Sortable, s[n-1].Field) {
		n--
	}
	again, err := l.ParseSort(s[:n].String())
	if err != nil || again.String() != s.String() {
		return nil, Errorf(CodeInvalidCursor, "the cursor is not valid")
	}
	return s, nil
}

func (l Listing) sortable() []string {
	if l.Sortable != nil {
		return l.Sortable
	}
	out := slices.Collect(maps.Keys(l.Fields))
	slices.Sort(out)
	return out
}

// listScope reads the account a list is limited to (see Principal.scopeFilter) from its
// effective filters, which a request with only a cursor takes from the cursor: so every page of
// a superadmin's ?account_id= list, reached by cursor, holds that account's rows only (SPEC §6).
// A malformed value joins ps; ok is false when the list can hold no row.
func listScope(p Principal, raw map[string]string, ps *Problems) (scope string, ok bool, err error) {
	scope, ok, err = p.scopeFilter(raw["account_id"])
	var e *Error
	if errors.As(err, &e) && e.Code == CodeInvalid {
		*ps = append(*ps, e.Problems...)
		return "", false, nil
	}
	return scope, ok, err
}

// forCaller binds a page request to its caller p. For anyone but a superadmin, ?account_id= may
// only name the caller's own account (403 otherwise) and is then dropped: such a list is always
// scoped to that account (listScope), never by the parameter.
func forCaller(p Principal, req *PageRequest) error {
	if !p.IsSuperadmin() {
		if _, _, err := p.scopeFilter(req.Filters["account_id"]); err != nil {
			return err
		}
		delete(req.Filters, "account_id")
	}
	req.Principal = p
	return nil
}

// callerTag binds a cursor to the caller: its account, or "*" for a superadmin.
func callerTag(p Principal) string {
	if p.IsSuperadmin() {
		return "*"
	}
	return p.AccountID
}

// Plan is a page request resolved against its cursor: the store query and the filters the
// next cursors must carry.
type Plan struct {
	Query   ListQuery
	Filters map[string]string
	caller  string
}

// Plan turns a page request into a store query, checking the cursor against the request.
// A request with a cursor and no filters takes the cursor's; build validates the effective raw
// filters and turns them into store filters, so a cursor never bypasses validation.
func (l Listing) Plan(req PageRequest, build func(map[string]string) ([]Filter, error)) (Plan, error) {
	pl := Plan{Query: ListQuery{Limit: req.Limit + 1, Stop: &ListStop{}}, Filters: req.Filters, caller: callerTag(req.Principal)}
	var c cursor
	if req.Cursor != "" {
		var err error
		if c, err = decodeCursor(req.Cursor); err != nil {
			if len(req.Problems) > 0 {
				return pl, req.Problems.Err()
			}
			return pl, err
		}
		if len(req.Filters) == 0 {
			pl.Filters = c.Filters
		}
	}
	filters, err := build(pl.Filters)
	if len(req.Problems) > 0 {
		ps := append(Problems(nil), req.Problems...)
		var e *Error
		if errors.As(err, &e) && e.Code == CodeInvalid {
			ps = append(ps, e.Problems...)
		} else if err != nil {
			return pl, err
		}
		return pl, ps.Err()
	}
	if err != nil {
		return pl, err
	}
	pl.Query.Filters = filters
	if req.Cursor == "" {
		pl.Query.Order, err = l.ParseSort(req.Sort)
		return pl, err
	}
	s, err := l.cursorSort(c.Sort)
	// A cursor from a page that stopped early may hold a prefix of the sort's values.
	if err != nil || s.String() != c.Sort || len(c.Values) == 0 || len(c.Values) > len(s) || (len(c.Values) < len(s)) != c.Part {
		return pl, Errorf(CodeInvalidCursor, "the cursor is not valid")
	}
	if req.Sort != "" {
		rs, err := l.ParseSort(req.Sort)
		if err != nil {
			return pl, err
		}
		if rs.String() != c.Sort {
			return pl, Errorf(CodeCursorMismatch, "the cursor was issued for another sort")
		}
	}
	if c.Caller != pl.caller {
		return pl, Errorf(CodeCursorMismatch, "the cursor was issued to another caller")
	}
	if !maps.Equal(pl.Filters, c.Filters) {
		return pl, Errorf(CodeCursorMismatch, "the cursor was issued for other filters")
	}
	pl.Query.Order = s
	pl.Query.Backward = c.Back
	pl.Query.Inclusive = c.Incl
	pl.Query.After = make([]any, len(c.Values))
	for i, k := range s[:len(c.Values)] {
		v, ok := l.parseValue(k.Field, c.Values[i])
		if !ok {
			return pl, Errorf(CodeInvalidCursor, "the cursor is not valid")
		}
		pl.Query.After[i] = v
	}
	return pl, nil
}

func (l Listing) parseValue(field, s string) (any, bool) {
	switch l.Fields[field] {
	case FieldTime:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, false
		}
		return time.UnixMicro(n).UTC(), true
	default:
		return s, true
	}
}

func formatValue(v any) string {
	switch x := v.(type) {
	case time.Time:
		return strconv.FormatInt(x.UnixMicro(), 10)
	case string:
		return x
	default:
		return ""
	}
}

func decodeCursor(tok string) (cursor, error) {
	var c cursor
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(tok, "="))
	if err != nil || len(raw) > 4096 {
		return c, Errorf(CodeInvalidCursor, "the cursor is not valid")
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || c.Sort == "" || dec.More() || strings.IndexByte(string(raw), 0) >= 0 || strings.Contains(string(raw), `\u0000`) {
		return c, Errorf(CodeInvalidCursor, "the cursor is not valid")
	}
	return c, nil
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// BuildPage turns the rows a store returned for q into a page. values extracts the sort
// values of a row in q.Order's fields.
func BuildPage[T any](rows []T, pl Plan, values func(T, string) any) Page[T] {
	q := pl.Query
	limit := q.Limit - 1
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	if q.Backward {
		slices.Reverse(rows)
	}
	p := Page[T]{Items: rows}
	started := q.After != nil
	// A read that stopped early has more to read past where it stopped.
	var stop []any
	if q.Stop != nil && !more {
		stop = q.Stop.After
	}
	ahead := more || stop != nil
	if q.Backward {
		p.HasPrev, p.HasNext = ahead, started
	} else {
		p.HasNext, p.HasPrev = ahead, started
	}
	mk := func(vals []any, back, incl bool) string {
		c := cursor{Sort: q.Order.String(), Filters: pl.Filters, Caller: pl.caller, Back: back, Incl: incl}
		for _, v := range vals {
			c.Values = append(c.Values, formatValue(v))
		}
		c.Part = len(vals) < len(q.Order)
		if len(c.Filters) == 0 {
			c.Filters = nil
		}
		return encodeCursor(c)
	}
	rowValues := func(row T) []any {
		vals := make([]any, len(q.Order))
		for i, k := range q.Order {
			vals[i] = values(row, k.Field)
		}
		return vals
	}
	if len(rows) == 0 {
		// Nothing lies past the boundary (its rows went away since): the way back starts at
		// the boundary itself, which the page on the other side holds.
		if started {
			if q.Backward {
				p.Next = mk(q.After, false, true)
			} else {
				p.Prev = mk(q.After, true, true)
			}
		}
		if stop != nil {
			if q.Backward {
				p.Prev = mk(stop, true, false)
			} else {
				p.Next = mk(stop, false, false)
			}
		}
		return p
	}
	switch {
	case stop != nil && !q.Backward:
		p.Next = mk(stop, false, false)
	case p.HasNext:
		p.Next = mk(rowValues(rows[len(rows)-1]), false, false)
	}
	switch {
	case stop != nil && q.Backward:
		p.Prev = mk(stop, true, false)
	case p.HasPrev:
		p.Prev = mk(rowValues(rows[0]), true, false)
	}
	return p
}

// CheckLimit reads a limit parameter as the client sent it (text, "" when absent) and checks it
// against the listing's bounds.
func (l Listing) CheckLimit(raw string) (int, error) {
	if raw == "" {
		return l.DefaultLimit, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		return 0, Invalid("int_parsing", "Input should be a valid integer, unable to parse string as an integer", "query", "limit")
	}
	if n < 1 {
		return 0, Invalid("greater_than_equal", "Input should be greater than or equal to 1", "query", "limit")
	}
	if n > l.MaxLimit {
		return 0, Invalid("less_than_equal", "Input should be less than or equal to "+strconv.Itoa(l.MaxLimit), "query", "limit")
	}
	return n, nil
}
