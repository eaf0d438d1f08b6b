package e2e

// Lost updates (SPEC §11): a write that depends on what it read must hold what it read. Each
// test races an acknowledged change against concurrent writes of other fields of the same row
// and checks the change stays. On PostgreSQL, before the store locked the rows it read, every
// one of these lost a write (the attack review's numbers: revocation 9 of 12, suspension 10 of
// 30, entity fields 40 of 40, dangling relationships 17 of 40); SQLite runs writes one at a
// time and passed by luck of design. linearizable_test.go checks whole histories; these name
// the four findings one by one.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster"
)

const lostUpdateTrials = 12

// raceSend is relRaw with a body to encode as JSON.
func (e *env) raceSend(key, method, path string, body any, headers ...string) (resp, error) {
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return resp{}, err
		}
	}
	return relRaw(e, key, method, path, data, headers...)
}

// race runs the functions at once, each n times in a loop, and returns every error.
func race(n int, fns ...func(i int) error) []error {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range n {
				if err := fn(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

func wantStatus(r resp, err error, statuses ...int) error {
	if err != nil {
		return err
	}
	for _, s := range statuses {
		if r.Status == s {
			return nil
		}
	}
	return fmt.Errorf("unexpected answer %s", r)
}

func TestLostUpdateRevocation(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		acct := e.account("Revoke race")["id"].(string)
		admin := e.key(acct, roster.RoleAdmin)
		for trial := range lostUpdateTrials {
			stolen := e.key(acct, roster.RoleAdmin)
			id := e.must(e.as(stolen, "GET", "/v1/api-keys?limit=1&sort=created_at:desc", nil), 200).Obj()["data"].([]any)[0].(map[string]any)["id"].(string)
			var revoked resp
			errs := race(4,
				func(i int) error { // the stolen key renames itself in a loop
					r, err := e.raceSend(stolen, "PATCH", "/v1/api-keys/"+id, map[string]any{"name": fmt.Sprintf("mine %d", i)})
					return wantStatus(r, err, 200, 401)
				},
				func(i int) error {
					r, err := e.raceSend(stolen, "PATCH", "/v1/api-keys/"+id, map[string]any{"name": fmt.Sprintf("still mine %d", i)})
					return wantStatus(r, err, 200, 401)
				},
				func(i int) error {
					if i != 1 {
						return nil
					}
					r, err := e.raceSend(admin, "PATCH", "/v1/api-keys/"+id, map[string]any{"status": "revoked"})
					revoked = r
					return wantStatus(r, err, 200)
				})
			for _, err := range errs {
				t.Fatal(err)
			}
			if got := revoked.Obj()["status"]; got != "revoked" {
				t.Fatalf("trial %d: revocation answered %s", trial, revoked)
			}
			after := e.must(e.as(admin, "GET", "/v1/api-keys/"+id, nil), 200).Obj()
			if after["status"] != "revoked" {
				t.Fatalf("trial %d: an acknowledged revocation was undone by a concurrent rename: %v", trial, after)
			}
			wantError(t, e.as(stolen, "GET", "/v1/api-keys/"+id, nil), 401, "unauthorized")
		}
	})
}

func TestLostUpdateSuspension(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		for trial := range lostUpdateTrials {
			acct := e.account(fmt.Sprintf("Suspend race %d", trial))["id"].(string)
			admin := e.key(acct, roster.RoleAdmin)
			var suspended resp
			errs := race(4,
				func(i int) error {
					r, err := e.raceSend(admin, "PATCH", "/v1/accounts/"+acct, map[string]any{"name": fmt.Sprintf("Renamed %d-%d", trial, i)})
					return wantStatus(r, err, 200, 403)
				},
				func(i int) error {
					r, err := e.raceSend(admin, "PATCH", "/v1/accounts/"+acct, map[string]any{"name": fmt.Sprintf("Again %d-%d", trial, i)})
					return wantStatus(r, err, 200, 403)
				},
				func(i int) error {
					if i != 1 {
						return nil
					}
					r, err := e.raceSend(e.super, "PATCH", "/v1/accounts/"+acct, map[string]any{"status": "suspended"})
					suspended = r
					return wantStatus(r, err, 200)
				})
			for _, err := range errs {
				t.Fatal(err)
			}
			if suspended.Obj()["status"] != "suspended" {
				t.Fatalf("trial %d: suspension answered %s", trial, suspended)
			}
			after := e.must(e.as(e.super, "GET", "/v1/accounts/"+acct, nil), 200).Obj()
			if after["status"] != "suspended" {
				t.Fatalf("trial %d: an acknowledged suspension was undone by a concurrent rename: %v", trial, after)
			}
			wantError(t, e.as(admin, "PATCH", "/v1/accounts/"+acct, map[string]any{"name": "After"}), 403, "account_suspended")
		}
	})
}

func TestLostUpdateEntityFields(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		acct := e.account("Field race")["id"].(string)
		admin := e.key(acct, roster.RoleAdmin)
		for trial := range lostUpdateTrials {
			id := e.must(e.as(admin, "POST", "/v1/entities", map[string]any{"name": "start", "module_ids": []string{}, "source": nil, "recipient": nil}), 201).Obj()["id"].(string)
			hex := strings.TrimPrefix(id, "entity_")
			patches := []map[string]any{
				{"name": fmt.Sprintf("name %d", trial)},
				{"description": fmt.Sprintf("description %d", trial)},
				{"field_suffix": fmt.Sprintf("s%d", trial%10+100)},
				{"time_zone": "Europe/Paris"},
			}
			var fns []func(int) error
			for j, p := range patches {
				fns = append(fns, func(int) error {
					path := "/v1/entities/" + id
					if j%2 == 1 { // half of them through LeadConduit's surface
						path = "/entities/" + hex
					}
					r, err := e.raceSend(admin, "PATCH", path, p)
					return wantStatus(r, err, 200)
				})
			}
			for _, err := range race(1, fns...) {
				t.Fatal(err)
			}
			got := e.must(e.as(admin, "GET", "/v1/entities/"+id, nil), 200).Obj()
			for _, p := range patches {
				for k, v := range p {
					if got[k] != v {
						t.Fatalf("trial %d: four PATCHes of different fields all answered 200, but %s is %v, not %v: %v", trial, k, got[k], v, got)
					}
				}
			}
		}
	})
}

func TestLostUpdateBatchRacingDelete(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		acct := e.account("Batch race")["id"].(string)
		admin := e.key(acct, roster.RoleAdmin)
		for trial := range lostUpdateTrials * 2 {
			var ids []string
			for j := range 3 {
				r := e.must(e.as(admin, "POST", "/v1/entities", map[string]any{"name": fmt.Sprintf("b%d-%d", trial, j), "module_ids": []string{}, "source": nil, "recipient": nil}), 201)
				ids = append(ids, r.Obj()["id"].(string))
			}
			victim := ids[trial%3]
			var batch resp
			errs := race(1,
				func(int) error {
					r, err := e.raceSend(admin, "POST", "/v1/accounts/"+acct+"/entity_relationships/batch",
						map[string]any{"entity_ids": ids, "relationship_type": "authorized_signer"}, "Idempotency-Key", fmt.Sprintf("race-%d", trial))
					batch = r
					return wantStatus(r, err, 200, 422)
				},
				func(int) error {
					r, err := e.raceSend(admin, "DELETE", "/v1/entities/"+victim, nil)
					return wantStatus(r, err, 200)
				})
			for _, err := range errs {
				t.Fatal(err)
			}
			if batch.Status == 422 {
				wantProblems(t, batch, fmt.Sprintf(`["body","entity_ids",%d] not_found`, trial%3))
			}
			for _, path := range []string{"/v1/accounts/" + acct + "/entity_relationships?limit=100", "/v0/accounts/" + acct + "/entity_relationships?limit=100"} {
				body := string(e.must(e.as(admin, "GET", path, nil), 200).Body)
				if strings.Contains(body, strings.TrimPrefix(victim, "entity_")) {
					t.Fatalf("trial %d: a relationship names the deleted entity %s (batch answered %s): %s", trial, victim, batch, body)
				}
			}
		}
	})
}

// At most roster.MaxActiveKeys active keys per account (SPEC §10), also when the creations
// race: the count and the insert are one step.
func TestActiveKeyCap(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		acct := e.account("Key cap")["id"].(string)
		admin := e.key(acct, roster.RoleAdmin) // active key 1
		create := func(key string, i int) (resp, error) {
			return e.raceSend(key, "POST", "/v1/api-keys", map[string]any{"account_id": acct, "name": fmt.Sprintf("k%d", i)})
		}
		for i := 2; i <= roster.MaxActiveKeys-3; i++ {
			e.must(e.as(admin, "POST", "/v1/api-keys", map[string]any{"account_id": acct, "name": fmt.Sprintf("k%d", i)}), 201)
		}
		// 97 active: of 8 racing creations exactly 3 fit.
		var mu sync.Mutex
		created := 0
		var fns []func(int) error
		for w := range 8 {
			fns = append(fns, func(int) error {
				r, err := create(e.super, 1000+w)
				if err != nil {
					return err
				}
				switch r.Status {
				case 201:
					mu.Lock()
					created++
					mu.Unlock()
				case 422:
				default:
					return fmt.Errorf("unexpected %s", r)
				}
				return nil
			})
		}
		for _, err := range race(1, fns...) {
			t.Fatal(err)
		}
		if created != 3 {
			t.Fatalf("%d of 8 racing creations succeeded with 97 active keys, want 3", created)
		}
		r := e.as(admin, "POST", "/v1/api-keys", map[string]any{"account_id": acct, "name": "one too many"})
		if r.Status != 422 || string(r.Body) != `{"detail":[{"loc":["body","account_id"],"msg":"Value error, the account has 100 active keys, the most it may have; revoke or delete one first","type":"value_error"}]}` {
			t.Fatalf("the 101st active key: %s", r)
		}
		// A revoked key frees its place; revoking needs no free place.
		list := e.must(e.as(admin, "GET", "/v1/api-keys?limit=1&sort=created_at:desc", nil), 200).Obj()["data"].([]any)
		last := list[0].(map[string]any)["id"].(string)
		e.must(e.as(admin, "PATCH", "/v1/api-keys/"+last, map[string]any{"status": "revoked"}), 200)
		e.must(e.as(admin, "POST", "/v1/api-keys", map[string]any{"account_id": acct, "name": "in its place"}), 201)
		// Another account is not affected.
		other := e.account("Key cap other")["id"].(string)
		e.must(e.as(e.super, "POST", "/v1/api-keys", map[string]any{"account_id": other, "name": "first"}), 201)
	})
}

// A write re-reads, in its own transaction, what authenticated it: a request authenticated just
// before a suspension or revocation committed, whose write commits after, is refused as the
// next request would be, so no write follows an acknowledged suspension or revocation (SPEC §11).
// The principal is taken before the change and the write made after it, the widest form of
// that interleaving.
func TestWriteRechecksItsPrincipal(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		svc := e.app.Service
		acct := e.account("Stale principal")["id"].(string)
		admin := e.key(acct, roster.RoleAdmin)
		p, err := svc.Authenticate(ctx, admin)
		if err != nil {
			t.Fatal(err)
		}
		rename := []byte(`{"name":"Renamed after"}`)
		id, _ := roster.ParseID(roster.KindAccount, acct)

		e.must(e.as(e.super, "PATCH", "/v1/accounts/"+acct, map[string]any{"status": "suspended"}), 200)
		_, err = svc.PatchAccount(ctx, &roster.Request{Principal: p}, id, rename)
		if roster.ErrorCode(err) != roster.CodeAccountSuspended {
			t.Fatalf("a write authenticated before the suspension and made after it: %v, want account_suspended", err)
		}
		e.must(e.as(e.super, "PATCH", "/v1/accounts/"+acct, map[string]any{"status": "active"}), 200)

		keyID := strings.TrimPrefix(e.must(e.as(admin, "GET", "/v1/api-keys?limit=1", nil), 200).Obj()["data"].([]any)[0].(map[string]any)["id"].(string), "key_")
		e.must(e.as(e.super, "PATCH", "/v1/api-keys/key_"+keyID, map[string]any{"status": "revoked"}), 200)
		_, err = svc.PatchAccount(ctx, &roster.Request{Principal: p}, id, rename)
		if roster.ErrorCode(err) != roster.CodeUnauthorized {
			t.Fatalf("a write authenticated before the revocation and made after it: %v, want unauthorized", err)
		}
		if got := e.must(e.as(e.super, "GET", "/v1/accounts/"+acct, nil), 200).Obj()["name"]; got != "Stale principal" {
			t.Fatalf("the account was renamed to %v", got)
		}
	})
}

// A key that deleted itself and, at the same time, renames itself hears 401 on the rename
// (its key is gone), not a 404 for the key it names: the principal is judged first.
func TestStalePrincipalBeforeNotFound(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		acct := e.account("Self delete")["id"].(string)
		admin := e.key(acct, roster.RoleAdmin)
		p, err := e.app.Service.Authenticate(ctx, admin)
		if err != nil {
			t.Fatal(err)
		}
		e.must(e.as(admin, "PATCH", "/v1/api-keys/key_"+p.KeyID, map[string]any{"deleted": true}), 200)
		_, err = e.app.Service.PatchKey(ctx, &roster.Request{Principal: p}, p.KeyID, []byte(`{"name":"late"}`))
		if roster.ErrorCode(err) != roster.CodeUnauthorized {
			t.Fatalf("a rename by a key deleted meanwhile: %v, want unauthorized", err)
		}
	})
}

// TestNoDeadlocks: every write takes its locks in one order (the account, then its keys, then
// its entities), so writes that touch an account and one of its keys from both ends queue
// instead of deadlocking. PostgreSQL breaks a deadlock after deadlock_timeout (1 s) and roster
// retries, so nothing failed before; but each cost a second, and four in a row a 500. The
// review found two cycles: an admin renaming its account while its key is renamed (account then
// key, against key then account), and an account deleted while one of its keys writes.
// Counted in pg_stat_database of a database of the test's own.
func TestNoDeadlocks(t *testing.T) {
	base := os.Getenv("ROSTER_TEST_POSTGRES")
	if base == "" {
		t.Skip("ROSTER_TEST_POSTGRES is not set; deadlocks are PostgreSQL's")
	}
	ctx := t.Context()
	name := fmt.Sprintf("roster_deadlock_%d", time.Now().UnixNano())
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(context.Background())
		}
	})
	u, _ := url.Parse(base)
	u.Path = "/" + name
	e := startWith(t, u.String())
	deadlocks := func() int64 {
		var n int64
		if err := admin.QueryRow(ctx, `SELECT deadlocks FROM pg_stat_database WHERE datname = $1`, name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := deadlocks()

	acct := e.account("Lock order")["id"].(string)
	key := e.key(acct, roster.RoleAdmin)
	keyID := e.must(e.as(key, "GET", "/v1/api-keys", nil), 200).Obj()["data"].([]any)[0].(map[string]any)["id"].(string)
	errs := race(40,
		func(i int) error {
			r, err := e.raceSend(key, "PATCH", "/v1/accounts/"+acct, map[string]any{"name": fmt.Sprint("account ", i)})
			return wantStatus(r, err, 200)
		},
		func(i int) error {
			r, err := e.raceSend(key, "PATCH", "/v1/api-keys/"+keyID, map[string]any{"name": fmt.Sprint("key ", i)})
			return wantStatus(r, err, 200)
		})
	for _, err := range errs {
		t.Fatal(err)
	}
	for round := range 8 {
		doomed := e.account(fmt.Sprint("Doomed ", round))["id"].(string)
		writer := e.key(doomed, roster.RoleAdmin)
		errs := race(1,
			func(int) error {
				for i := 0; ; i++ {
					r, err := e.raceSend(writer, "POST", "/v1/entities", map[string]any{"name": fmt.Sprint("e", i), "module_ids": []string{}, "source": nil, "recipient": nil})
					if err != nil || r.Status == 401 {
						return err
					}
					if r.Status != 201 {
						return fmt.Errorf("create while the account is deleted: %s", r)
					}
				}
			},
			func(int) error {
				time.Sleep(20 * time.Millisecond)
				r, err := e.raceSend(e.super, "PATCH", "/v1/accounts/"+doomed, map[string]any{"deleted": true})
				return wantStatus(r, err, 200)
			})
		for _, err := range errs {
			t.Fatal(err)
		}
	}
	// The statistics reach pg_stat_database within a second of the transactions' end.
	time.Sleep(1500 * time.Millisecond)
	if n := deadlocks() - before; n > 0 {
		t.Fatalf("%d deadlocks on PostgreSQL among writes that touch an account and its keys", n)
	}
}
