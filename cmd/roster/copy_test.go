package main

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/sqlstore"
)

// TestCopySQLite: a copy into a new SQLite file holds every row of every table as it was, the
// keys keep working, and a second copy into the now full target is refused.
func TestCopySQLite(t *testing.T) {
	src := sqliteDatabase(t, "src.db")
	f := populate(t, src)
	dst := sqliteDatabase(t, "dst.db")
	copyAndCompare(t, src, dst, f)
}

// TestCopyPostgres: SQLite → PostgreSQL → SQLite, every row of every table arriving as it was.
func TestCopyPostgres(t *testing.T) {
	pg := pgDatabase(t)
	src := sqliteDatabase(t, "src.db")
	f := populate(t, src)
	copyAndCompare(t, src, pg, f)
	copyAndCompare(t, pg, sqliteDatabase(t, "back.db"), f)
}

func copyAndCompare(t *testing.T, src, dst string, f fixture) {
	t.Helper()
	out, errOut, err := runCLI(t, map[string]string{"ROSTER_DATABASE": src}, "copy", "--to", dst)
	if err != nil {
		t.Fatalf("copy %s → %s: %v\n%s", src, dst, err, errOut)
	}
	if !strings.Contains(out, "entities 25") || !strings.Contains(errOut, "entities: 25 rows") {
		t.Fatalf("copy's report: %q %q", out, errOut)
	}
	want, got := tableDump(t, src), tableDump(t, dst)
	for _, table := range sqlstore.Tables {
		if len(want[table]) == 0 {
			t.Errorf("the fixture has no rows in %s: the test would not see it copied", table)
		}
		if !reflect.DeepEqual(want[table], got[table]) {
			t.Errorf("%s after the copy:\n got %q\nwant %q", table, got[table], want[table])
		}
	}
	checkKeys(t, dst, f)
	// Every audit chain verifies in the copy (issue 19: a copy keeps chains valid), each of the
	// fixture's accounts and the platform's.
	o, e, err := runCLI(t, map[string]string{"ROSTER_DATABASE": dst}, "audit", "verify")
	chains := strings.Split(strings.TrimSpace(o), "\n")
	if err != nil || len(chains) < 2 {
		t.Fatalf("audit verify of the copy: %v %q %q", err, o, e)
	}
	for _, c := range chains {
		if !strings.Contains(c, ": ok,") {
			t.Errorf("audit verify of the copy: %q", c)
		}
	}
	if _, _, err := runCLI(t, map[string]string{"ROSTER_DATABASE": src}, "copy", "--to", dst); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("a copy into a database with rows: %v", err)
	}
}

// TestCopyKnowsEveryTable: sqlstore.Tables lists every table the migrations make on SQLite, so
// that a new table cannot be left out of copies.
func TestCopyKnowsEveryTable(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, sqliteDatabase(t, "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := st.(sqlstore.Copier)
	var tables []string
	err = c.Snapshot(ctx, func(q sqlstore.Querier) error {
		rows, err := q.Query(ctx, c.Catalog().Tables)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				return err
			}
			if n != "schema_migrations" {
				tables = append(tables, n)
			}
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(sqlstore.Tables)
	slices.Sort(want)
	if !reflect.DeepEqual(tables, want) {
		t.Fatalf("tables %v, sqlstore.Tables %v", tables, want)
	}
}

// TestCopyEventsFromPostgres: events made on PostgreSQL carry that cluster's transaction ids in
// their feed positions; copied into SQLite they keep their order, and an event made there after
// the copy comes after them in the feed of every account, not before.
func TestCopyEventsFromPostgres(t *testing.T) {
	pg := pgDatabase(t)
	populate(t, pg)
	dst := sqliteDatabase(t, "from-pg.db")
	if _, errOut, err := runCLI(t, map[string]string{"ROSTER_DATABASE": pg}, "copy", "--to", dst); err != nil {
		t.Fatalf("copy: %v\n%s", err, errOut)
	}
	feed := func(database string) []roster.Event {
		t.Helper()
		ctx := context.Background()
		st, err := store.Open(ctx, database)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		svc := roster.NewService(st, nil, nil)
		var all []roster.Event
		req := roster.EventRequest{Limit: 100, Filters: map[string]string{}}
		for {
			page, err := svc.ListEvents(ctx, roster.System, req)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, page.Items...)
			if !page.HasNext {
				return all
			}
			req.Cursor = page.Next
		}
	}
	ids := func(es []roster.Event) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	before := feed(pg)
	if got := feed(dst); !slices.Equal(ids(got), ids(before)) {
		t.Fatalf("the feed after the copy:\n got %v\nwant %v", ids(got), ids(before))
	}
	if _, _, err := runCLI(t, map[string]string{"ROSTER_DATABASE": dst}, "accounts", "create", "--name", "After The Copy"); err != nil {
		t.Fatal(err)
	}
	after := feed(dst)
	if len(after) != len(before)+1 || !slices.Equal(ids(after[:len(before)]), ids(before)) || after[len(before)].Type != roster.EventAccountCreated {
		t.Fatalf("the feed of every account after a new write on the copy: %d events, want the %d copied then account.created; got %v", len(after), len(before), ids(after))
	}
}
