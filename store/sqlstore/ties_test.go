package sqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sqlite "modernc.org/sqlite"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/pgtest"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/sqlstore"
)

// sqliteExamined counts the index entries SQLite visits: the counter puts roster_examined()
// first in a statement's WHERE clause, where SQLite calls it once for every entry of the index
// range it reads, before the conditions the range does not enforce.
var sqliteExamined atomic.Int64

func init() {
	sqlite.MustRegisterScalarFunction("roster_examined", 0, func(*sqlite.FunctionContext, []driver.Value) (driver.Value, error) {
		sqliteExamined.Add(1)
		return int64(1), nil
	})
}

const tieRows = 1500 // rows of the one tie group of every list; deep enough to show a scan

const tieAccount = "7c14e8fb13e9f491f8e43c53"

// TestTieGroupListCost builds, on both engines, a list of every resource whose rows all hold one
// value of every sort field (one name, one created_at, one updated_at: a batch of relationships
// gets one created_at), and walks every plain single-field list forwards to its end and back,
// asserting each row once in order and that a page after a cursor deep inside the group does
// not examine the group before the cursor: on PostgreSQL counted by EXPLAIN ANALYZE, on SQLite
// by a function SQLite calls for every index entry it visits (SPEC §6).
func TestTieGroupListCost(t *testing.T) {
	costEngines(t, "ties", func(t *testing.T, storeURL, driver, dsn string, d *sqlstore.Dialect, pg bool) {
		runTies(t, seedTies(t, storeURL, driver, dsn), d, pg)
	})
}

// costEngines runs fn on a fresh SQLite file and, when ROSTER_TEST_POSTGRES is set, on a fresh
// PostgreSQL schema (dropped afterwards): the URL to open a roster store on, the database/sql
// driver and DSN to count with, the dialect, and whether it is PostgreSQL.
func costEngines(t *testing.T, name string, fn func(t *testing.T, storeURL, driver, dsn string, d *sqlstore.Dialect, pg bool)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), name+".db")
		fn(t, "sqlite:"+path, "sqlite", "file:"+path, &sqlstore.Dialect{MapErr: func(err error) error { return err }}, false)
	})
	t.Run("postgres", func(t *testing.T) {
		dbURL := pgtest.Schema(t, name)
		fn(t, dbURL, "pgx", dbURL, &sqlstore.Dialect{Numbered: true, MapErr: func(err error) error { return err }}, true)
	})
}

func seedTies(t *testing.T, storeURL, driver, dsn string) *sql.DB {
	ctx := context.Background()
	st, err := store.Open(ctx, storeURL)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	err = st.Update(ctx, func(tx roster.Tx) error {
		a := roster.Account{ID: tieAccount, Name: "same", Slug: "ties", Status: roster.AccountActive, CreatedAt: at, UpdatedAt: at}
		if err := tx.InsertAccount(ctx, &a); err != nil {
			return err
		}
		var rels []roster.Relationship
		for i := range tieRows - 1 { // with tieAccount, tieRows accounts
			a := roster.Account{ID: fmt.Sprintf("7c14e8fb%016x", i), Name: "same", Slug: fmt.Sprintf("ties-%d", i),
				Status: roster.AccountActive, CreatedAt: at, UpdatedAt: at}
			if err := tx.InsertAccount(ctx, &a); err != nil {
				return err
			}
		}
		for i := range tieRows {
			e := roster.Entity{ID: fmt.Sprintf("8d25f90c%016x", i), AccountID: tieAccount, Name: "same", ModuleIDs: []string{},
				FlowIDs: []string{}, CreatedAt: at, UpdatedAt: at}
			if err := tx.InsertEntity(ctx, &e); err != nil {
				return err
			}
			k := roster.APIKey{ID: fmt.Sprintf("9e36a01d%016x", i), AccountID: tieAccount, Name: "same", Role: roster.RoleAdmin,
				Prefix: "rk_", Hash: fmt.Sprintf("%064x", i), CreatedAt: at, UpdatedAt: at}
			if err := tx.InsertKey(ctx, &k); err != nil {
				return err
			}
			rels = append(rels, roster.Relationship{AccountID: tieAccount, EntityID: e.ID, Type: "account_holder", CreatedAt: at})
		}
		_, err := tx.InsertRelationships(ctx, rels)
		return err
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// tieList is one list to walk: how to plan a page and read it, and a row's identity.
type tieList struct {
	name    string
	listing roster.Listing
	filters []roster.Filter
	sorts   []string
	read    func(ctx context.Context, tx *sqlstore.Tx, pl roster.Plan) (ids []string, p roster.Page[string], err error)
}

func pageOf[T any](rows []T, pl roster.Plan, value func(T, string) any, id func(T) string) roster.Page[string] {
	p := roster.BuildPage(rows, pl, value)
	out := roster.Page[string]{HasNext: p.HasNext, HasPrev: p.HasPrev, Next: p.Next, Prev: p.Prev}
	for _, x := range p.Items {
		out.Items = append(out.Items, id(x))
	}
	return out
}

func tieLists() []tieList {
	account := []roster.Filter{{Field: "account_id", Value: tieAccount}}
	entities := func(ctx context.Context, tx *sqlstore.Tx, pl roster.Plan) ([]string, roster.Page[string], error) {
		rows, err := tx.ListEntities(ctx, pl.Query)
		return nil, pageOf(rows, pl, roster.EntityValue, func(e roster.Entity) string { return e.ID }), err
	}
	entitySorts := []string{"name:asc", "name:desc", "created_at:asc", "created_at:desc", "updated_at:asc", "updated_at:desc",
		"created_at:asc,id:desc", "name:desc,id:desc"}
	return []tieList{
		{"entities of an account", roster.EntityListing, account, entitySorts, entities},
		{"entities of every account", roster.EntityListing, nil, entitySorts, entities},
		{"LeadConduit entities", roster.ConduitEntityListing, account, []string{""}, entities},
		{"keys of an account", roster.KeyListing, account, []string{"name:asc", "name:desc", "created_at:asc", "created_at:desc", "updated_at:asc", "updated_at:desc"},
			func(ctx context.Context, tx *sqlstore.Tx, pl roster.Plan) ([]string, roster.Page[string], error) {
				rows, err := tx.ListKeys(ctx, pl.Query)
				return nil, pageOf(rows, pl, roster.KeyValue, func(k roster.APIKey) string { return k.ID }), err
			}},
		{"accounts", roster.AccountListing, nil, []string{"name:asc", "name:desc", "created_at:asc", "created_at:desc", "updated_at:asc", "updated_at:desc"},
			func(ctx context.Context, tx *sqlstore.Tx, pl roster.Plan) ([]string, roster.Page[string], error) {
				rows, err := tx.ListAccounts(ctx, pl.Query)
				return nil, pageOf(rows, pl, roster.AccountValue, func(a roster.Account) string { return a.ID }), err
			}},
		{"relationships of an account", roster.RelationshipListing, account, []string{"created_at:asc", "created_at:desc"},
			func(ctx context.Context, tx *sqlstore.Tx, pl roster.Plan) ([]string, roster.Page[string], error) {
				rows, err := tx.ListRelationships(ctx, pl.Query)
				return nil, pageOf(rows, pl, roster.RelationshipValue, func(r roster.Relationship) string { return r.EntityID }), err
			}},
	}
}

func runTies(t *testing.T, db *sql.DB, d *sqlstore.Dialect, explain bool) {
	ctx := context.Background()
	const limit = 20
	// A page reads the rest of the boundary's group and the rows past it: two index ranges of
	// a page each (and the boundary row a filter may drop), never the group before the cursor.
	const most = 4 * (limit + 1)
	for _, l := range tieLists() {
		for _, s := range l.sorts {
			t.Run(l.name+" "+s, func(t *testing.T) {
				worst := 0 // the most rows a page examined
				page := func(req roster.PageRequest) roster.Page[string] {
					pl, err := l.listing.Plan(req, func(map[string]string) ([]roster.Filter, error) { return l.filters, nil })
					if err != nil {
						t.Fatal(err)
					}
					tx, err := db.BeginTx(ctx, nil)
					if err != nil {
						t.Fatal(err)
					}
					c := &counter{tx: tx, explain: explain, count: !explain}
					sqliteExamined.Store(0)
					_, p, err := l.read(ctx, sqlstore.NewTx(c, d), pl)
					_ = tx.Rollback()
					if err != nil {
						t.Fatal(err)
					}
					examined := c.examined
					if !explain {
						examined = int(sqliteExamined.Load())
					}
					worst = max(worst, examined)
					if examined > most {
						t.Fatalf("a page (cursor %t) examined %d rows in %d statements (limits %v); want at most %d\n%s", req.Cursor != "", examined, c.statements, c.limits, most, strings.Join(c.plans, "\n"))
					}
					return p
				}
				var fwd []string
				req := roster.PageRequest{Limit: limit, Sort: s, Principal: roster.System}
				var p roster.Page[string]
				for {
					p = page(req)
					fwd = append(fwd, p.Items...)
					if !p.HasNext {
						break
					}
					if len(fwd) > 2*tieRows {
						t.Fatal("the walk does not end")
					}
					req = roster.PageRequest{Limit: limit, Cursor: p.Next, Principal: roster.System}
				}
				// Every value ties, so the order is the tie-breakers' (ids grow with i).
				want := slices.Clone(fwd)
				slices.Sort(want)
				if strings.Contains(s, "id:desc") {
					slices.Reverse(want)
				}
				if len(fwd) != tieRows || !slices.Equal(fwd, want) {
					t.Fatalf("walked %d rows, want %d each once in the tie-breakers' order", len(fwd), tieRows)
				}
				// And back from the last page.
				back := slices.Clone(p.Items)
				for p.HasPrev {
					p = page(roster.PageRequest{Limit: limit, Cursor: p.Prev, Principal: roster.System})
					back = append(slices.Clone(p.Items), back...)
					if len(back) > 2*tieRows {
						t.Fatal("the walk back does not end")
					}
				}
				if !slices.Equal(back, fwd) {
					t.Fatalf("walked back %d rows, not the %d forward rows in order", len(back), len(fwd))
				}
				t.Logf("at most %d rows examined by a page", worst)
			})
		}
	}
}
