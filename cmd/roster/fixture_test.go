package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/pgtest"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/sqlstore"
)

// fixture is what populate wrote: the secrets of keys that must keep working, and one that
// must not.
type fixture struct {
	account  string // bare id of the live account with everything in it
	admin    string // its admin key's secret
	super    string // a superadmin key's secret
	revoked  string // a revoked key's secret
	entities int
}

// populate fills a database through the core with one of everything a copy or an export must
// carry: two accounts (a third deleted), keys (one revoked), entities with every field, one
// deprecated pointing at another, relationships made by an idempotent batch, a nonce.
func populate(t *testing.T, database string) fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, database)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := roster.NewService(st, nil, nil)
	op := roster.Operator()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var f fixture
	// The account to delete is made two hours ago, first: its event comes first in the feed, so
	// that pruning what is older than an hour (at the end) leaves a horizon for the copy to carry.
	old := roster.NewService(st, func() time.Time { return time.Now().Add(-2 * time.Hour) }, nil)
	gone, err := old.CreateAccount(ctx, op, []byte(`{"name":"Gone Inc"}`))
	must(err)
	sk, err := svc.CreateKey(ctx, op, roster.KeyCreate{Name: "ops", Role: roster.RoleSuperadmin}.Body())
	must(err)
	f.super = sk.Secret
	var accounts []roster.Account
	for _, name := range []string{"Acme Corp", "Globex"} {
		a, err := svc.CreateAccount(ctx, roster.Operator(), fmt.Appendf(nil, `{"name":%q}`, name))
		must(err)
		accounts = append(accounts, a)
	}
	accounts = append(accounts, gone)
	f.account = accounts[0].ID
	_, err = svc.PatchAccount(ctx, roster.Operator(), accounts[2].ID, []byte(`{"deleted":true}`))
	must(err)
	_, err = svc.PatchAccount(ctx, roster.Operator(), accounts[1].ID, []byte(`{"status":"suspended"}`))
	must(err)
	ak, err := svc.CreateKey(ctx, roster.Operator(), roster.KeyCreate{Name: "admin", Role: roster.RoleAdmin, AccountID: f.account}.Body())
	must(err)
	f.admin = ak.Secret
	rk, err := svc.CreateKey(ctx, roster.Operator(), roster.KeyCreate{Name: "old", Role: roster.RoleReader, AccountID: f.account}.Body())
	must(err)
	f.revoked = rk.Secret
	_, err = svc.PatchKey(ctx, roster.Operator(), roster.KindKey.Prefixed(rk.Key.ID), []byte(`{"status":"revoked"}`))
	must(err)

	p, err := svc.Authenticate(ctx, f.admin)
	must(err)
	var ids []string
	for i := range 25 {
		body := fmt.Sprintf(`{"name":"Entity %d <&> \"q\" é","module_ids":["m1","m%d"],"source":"seller","recipient":"crm","description":"line\nbreak",
			"field_suffix":"sfx%d","flow_ids":["5fd4371e940df5a34a3888b2"],"logo_url":"https://example.com/l.png","website":"https://example.com",
			"time_zone":"America/Los Angeles","trustedform_certified_vendor":%v}`, i, i, i, i%2 == 0)
		if i%3 == 0 {
			body = fmt.Sprintf(`{"name":"Plain %d","module_ids":[],"source":null,"recipient":null}`, i)
		}
		e, err := svc.CreateEntity(ctx, &roster.Request{Principal: p}, []byte(body))
		must(err)
		ids = append(ids, roster.KindEntity.Prefixed(e.ID))
	}
	_, err = svc.UpdateEntity(ctx, &roster.Request{Principal: p}, ids[1], fmt.Appendf(nil, `{"deprecated":true,"see":%q}`, ids[2]), roster.EntityPatch)
	must(err)
	_, err = svc.CreateRelationships(ctx, &roster.Request{Principal: p, IdempotencyKey: "batch-1", Fingerprint: "fp", Render: func(v any) (int, []byte, error) {
		return 200, []byte(`{"saved":true}`), nil
	}}, f.account, fmt.Appendf(nil, `{"entity_ids":["%s"],"relationship_type":"authorized_user"}`, strings.Join(ids[:20], `","`)))
	must(err)
	_, err = svc.CreateRelationships(ctx, &roster.Request{Principal: p, IdempotencyKey: "batch-2", Fingerprint: "fp2", Render: func(v any) (int, []byte, error) {
		return 200, []byte(`{"saved":2}`), nil
	}}, f.account, fmt.Appendf(nil, `{"entity_ids":["%s"],"relationship_type":"account_holder"}`, ids[0]))
	must(err)
	_, err = svc.IssueNonce(ctx, p)
	must(err)
	// On PostgreSQL pruning passes no transaction still open on the cluster (another test's, in
	// another schema or database, may be): it waits for them, as the feed of every account does.
	for deadline := time.Now().Add(30 * time.Second); ; {
		n, err := svc.PruneEvents(ctx, time.Hour)
		if err == nil && n > 0 {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("pruning the fixture's old event: %d pruned, %v", n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.entities = len(ids)
	return f
}

// checkKeys checks that the fixture's keys work on database, and the revoked one does not.
func checkKeys(t *testing.T, database string, f fixture) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, database)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := roster.NewService(st, nil, nil)
	for _, secret := range []string{f.admin, f.super} {
		if _, err := svc.Authenticate(ctx, secret); err != nil {
			t.Errorf("%s: a key does not work after the copy: %v", database, err)
		}
	}
	if _, err := svc.Authenticate(ctx, f.revoked); err == nil {
		t.Errorf("%s: a revoked key works after the copy", database)
	}
}

// tableDump renders every row of every table of database, sorted, with booleans as 0/1 and
// blobs as text, so that two databases of different engines compare equal when they hold the
// same data.
func tableDump(t *testing.T, database string) map[string][]string {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, database)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := st.(sqlstore.Copier)
	out := map[string][]string{}
	err = c.Snapshot(ctx, func(q sqlstore.Querier) error {
		for _, table := range sqlstore.Tables {
			rows, err := q.Query(ctx, `SELECT * FROM `+table)
			if err != nil {
				return err
			}
			for rows.Next() {
				vals := make([]any, 32)
				ptrs := make([]any, len(vals))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				n := columnCount(t, database, table)
				if err := rows.Scan(ptrs[:n]...); err != nil {
					rows.Close()
					return err
				}
				var parts []string
				for _, v := range vals[:n] {
					switch x := v.(type) {
					case bool:
						v = map[bool]int64{false: 0, true: 1}[x]
					case int32:
						v = int64(x)
					case []byte:
						v = string(x)
					}
					parts = append(parts, fmt.Sprintf("%#v", v))
				}
				out[table] = append(out[table], strings.Join(parts, "|"))
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			slices.Sort(out[table])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var columnCounts = map[string]int{"accounts": 7, "api_keys": 12, "entities": 19, "relationships": 4, "idempotency": 8, "nonces": 5,
	"events": 12, "event_counters": 3, "event_horizons": 4, "audit_records": 21, "audit_heads": 3}

func columnCount(t *testing.T, database, table string) int {
	n, ok := columnCounts[table]
	if !ok {
		t.Fatalf("the test does not know the columns of table %s: add it to columnCounts", table)
	}
	return n
}

// pgDatabase returns the URL of a fresh schema in the test PostgreSQL, dropped at the end of
// the test; it skips the test when ROSTER_TEST_POSTGRES is not set.
func pgDatabase(t *testing.T) string {
	t.Helper()
	return pgtest.Schema(t, "cli")
}

func sqliteDatabase(t *testing.T, name string) string {
	return "sqlite:" + filepath.Join(t.TempDir(), name)
}
