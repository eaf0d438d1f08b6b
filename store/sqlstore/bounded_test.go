package sqlstore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/sqlstore"
)

// counter is a Querier over database/sql that counts the statements of a page and the rows
// each returned.
type counter struct {
	tx         *sql.Tx
	explain    bool // PostgreSQL: EXPLAIN ANALYZE each statement and count the rows it examined
	count      bool // SQLite: count the index entries each statement visits (sqliteExamined)
	examined   int
	statements int
	rows       int
	most       int // rows of the largest statement
	limits     []string
	plans      []string // PostgreSQL: each statement's plan, for a failure's message
}

func (c *counter) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	r, err := c.tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

func (c *counter) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	c.statements++
	c.limits = append(c.limits, fmt.Sprint(args[len(args)-1]))
	if c.explain {
		var plan string
		if err := c.tx.QueryRowContext(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+q, args...).Scan(&plan); err != nil {
			return nil, err
		}
		var nodes []struct{ Plan map[string]any }
		if err := json.Unmarshal([]byte(plan), &nodes); err != nil {
			return nil, err
		}
		c.examined += examined(nodes[0].Plan)
		c.plans = append(c.plans, q+"\n"+plan)
	}
	if c.count {
		i := strings.Index(q, " WHERE ")
		q = q[:i+7] + "roster_examined() AND " + q[i+7:]
	}
	r, err := c.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return &countedRows{Rows: r, c: c}, nil
}

// examined sums what the scans of a plan node read: the rows they returned and the rows their
// filters removed. A Bitmap Heap Scan reads the rows its Bitmap Index Scan found, already
// counted there: it adds only the rows a lossy bitmap made it recheck.
func examined(n map[string]any) int {
	total := 0
	f := func(k string) float64 { v, _ := n[k].(float64); return v }
	switch typ := fmt.Sprint(n["Node Type"]); {
	case typ == "Bitmap Heap Scan":
		total += int(f("Rows Removed by Index Recheck") * f("Actual Loops"))
	case strings.HasSuffix(typ, "Scan"):
		total += int(f("Actual Rows")*f("Actual Loops") + f("Rows Removed by Filter")*f("Actual Loops"))
	}
	kids, _ := n["Plans"].([]any)
	for _, k := range kids {
		if m, ok := k.(map[string]any); ok {
			total += examined(m)
		}
	}
	return total
}

type countedRows struct {
	*sql.Rows
	c *counter
	n int
}

func (r *countedRows) Next() bool {
	ok := r.Rows.Next()
	if ok {
		r.n++
		r.c.rows++
		r.c.most = max(r.c.most, r.n)
	}
	return ok
}

func (r *countedRows) Close() { _ = r.Rows.Close() }

// TestBoundedListCost builds 5,000 entities of one account of which 5 match a filter and all
// share one name, and walks the filtered list and a sort whose first field ties everywhere:
// every page runs at most four statements a sort field, none returns more than 4×(limit+1) rows,
// the engine examines at most one window a statement (on PostgreSQL counted by EXPLAIN ANALYZE,
// on SQLite by roster_examined(), which SQLite calls for every index entry it visits), and the
// walk returns exactly the matching rows, each once, in order (SPEC §6).
func TestBoundedListCost(t *testing.T) {
	costEngines(t, "cost", func(t *testing.T, storeURL, driver, dsn string, d *sqlstore.Dialect, pg bool) {
		runCost(t, seedCost(t, storeURL, driver, dsn), d, pg)
	})
}

const costAccount = "6b03d7ea02d8f380e7d32b42"

var costMatches []string // ids of the 5 entities with source form, in created_at desc order

func seedCost(t *testing.T, storeURL, driver, dsn string) *sql.DB {
	ctx := context.Background()
	st, err := store.Open(ctx, storeURL)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var matches []string
	err = st.Update(ctx, func(tx roster.Tx) error {
		a := roster.Account{ID: costAccount, Name: "Cost", Slug: "cost", Status: roster.AccountActive, CreatedAt: base, UpdatedAt: base}
		if err := tx.InsertAccount(ctx, &a); err != nil {
			return err
		}
		for i := range 5000 {
			at := base.Add(time.Duration(i) * time.Second)
			e := roster.Entity{ID: fmt.Sprintf("6b03d7ea%016x", i), AccountID: costAccount, Name: "same", ModuleIDs: []string{},
				FlowIDs: []string{}, CreatedAt: at, UpdatedAt: base}
			if i%1000 == 500 {
				form := "form"
				e.Source = &form
				matches = append(matches, e.ID)
			}
			if err := tx.InsertEntity(ctx, &e); err != nil {
				return err
			}
		}
		return nil
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(matches)
	costMatches = matches
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	// The statistics a live database has (autovacuum keeps them on PostgreSQL): without them
	// a planner guesses every table is tiny.
	if _, err := db.ExecContext(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func runCost(t *testing.T, db *sql.DB, d *sqlstore.Dialect, explain bool) {
	ctx := context.Background()
	const limit = 20
	budget := max(4*(limit+1), 100)
	worst := map[string]int{} // the most rows a page of each sort examined
	walk := func(t *testing.T, sortParam string, filters map[string]string) (ids []string, pages int) {
		req := roster.PageRequest{Limit: limit, Sort: sortParam, Filters: filters, Principal: roster.System}
		for {
			pl, err := roster.EntityListing.Plan(req, func(raw map[string]string) ([]roster.Filter, error) {
				fs := []roster.Filter{{Field: "account_id", Value: costAccount}}
				if v, ok := raw["source"]; ok {
					fs = append(fs, roster.Filter{Field: "source", Value: v})
				}
				return fs, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			c := &counter{tx: tx, explain: explain, count: !explain}
			sqliteExamined.Store(0)
			rows, err := sqlstore.NewTx(c, d).ListEntities(ctx, pl.Query)
			_ = tx.Rollback()
			if err != nil {
				t.Fatal(err)
			}
			// Four statements for each field of the sort at most (the group of the boundary
			// and the groups past it, each a window of keys and its rows).
			most := 4 * (strings.Count(sortParam, ",") + 1)
			if c.statements > most || c.most > budget+1 {
				t.Fatalf("sort %q filters %v page %d: %d statements, the largest returned %d rows (limits %v); want at most %d and %d",
					sortParam, filters, pages+1, c.statements, c.most, c.limits, most, budget+1)
			}
			// What the engine examined, counted by PostgreSQL itself (EXPLAIN ANALYZE) or by
			// SQLite calling roster_examined() for every index entry it visits: a window a
			// statement at most, whatever the size of the account (5,000 here).
			examined := c.examined
			if !explain {
				examined = int(sqliteExamined.Load())
			}
			worst[sortParam] = max(worst[sortParam], examined)
			if examined > most*(budget+1) {
				t.Fatalf("sort %q filters %v page %d: the engine examined %d rows; want at most %d\n%s", sortParam, filters, pages+1, examined, most*(budget+1), strings.Join(c.plans, "\n"))
			}
			for _, l := range c.limits {
				var n int
				if _, err := fmt.Sscan(l, &n); err != nil || n > budget+1 {
					t.Fatalf("a statement with LIMIT %s", l)
				}
			}
			p := roster.BuildPage(rows, pl, roster.EntityValue)
			if len(p.Items) > limit {
				t.Fatalf("a page of %d items", len(p.Items))
			}
			for _, e := range p.Items {
				ids = append(ids, e.ID)
			}
			pages++
			if !p.HasNext {
				return ids, pages
			}
			if pages > 5000 {
				t.Fatal("the walk does not end")
			}
			req = roster.PageRequest{Limit: limit, Cursor: p.Next, Principal: roster.System}
		}
	}
	t.Run("filter matching 0.1%", func(t *testing.T) {
		for _, s := range []string{"", "name:asc", "updated_at:asc", "name:desc,created_at:desc"} {
			got, pages := walk(t, s, map[string]string{"source": "form"})
			want := slices.Clone(costMatches)
			if s == "name:asc" || s == "updated_at:asc" { // every name and updated_at ties: by id
				slices.Sort(want)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("sort %q: walked %v, want %v", s, got, want)
			}
			t.Logf("sort %q: %d pages, at most %d rows examined by a page", s, pages, worst[s])
		}
	})
	t.Run("first sort field one value", func(t *testing.T) {
		for _, s := range []string{"updated_at:asc,created_at:desc", "name:asc,created_at:asc", "name:desc,updated_at:desc,created_at:desc"} {
			got, pages := walk(t, s, nil)
			if len(got) != 5000 {
				t.Fatalf("sort %q: walked %d rows", s, len(got))
			}
			want := slices.Clone(got)
			asc := strings.HasSuffix(s, "created_at:asc")
			slices.SortFunc(want, func(a, b string) int { // ids grow with created_at
				if asc {
					return strings.Compare(a, b)
				}
				return strings.Compare(b, a)
			})
			if !slices.Equal(got, want) || len(slices.Compact(slices.Clone(want))) != 5000 {
				t.Fatalf("sort %q: not each row once in order", s)
			}
			t.Logf("sort %q: %d pages, at most %d rows examined by a page", s, pages, worst[s])
		}
	})
}
