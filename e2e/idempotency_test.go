package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/app"
)

// SPEC §4: idempotency keys.

// relFingerprint is the fingerprint api/server.go computes for a request whose path already has
// its ids in canonical (bare) form: method, path, sorted query, SHA-256 of the body. The tests
// that claim a key beside the server need it; if the format changes they fail with a 409
// idempotency_key_reused instead of the status they expect.
func relFingerprint(method, canonicalPath, sortedQuery string, body []byte) string {
	h := sha256.Sum256(body)
	return method + " " + canonicalPath + "?" + sortedQuery + " " + hex.EncodeToString(h[:])
}

// relStartShared starts another roster on a database a first one already bootstrapped (so it
// prints no key; startWith would refuse) and gives it that one's superadmin key.
func relStartShared(t *testing.T, database, super string) *env {
	t.Helper()
	e := startConfig(t, app.Config{Database: database})
	e.super = super
	return e
}

// relRace sends n identical requests at once, spread over servers, and returns every response.
func relRace(t *testing.T, servers []*env, n int, key, method, path string, body []byte, headers ...string) []resp {
	t.Helper()
	out := make([]resp, n)
	errs := make([]error, n)
	var ready, done sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-gate
			out[i], errs[i] = relRaw(servers[i%len(servers)], key, method, path, body, headers...)
		}()
	}
	ready.Wait()
	close(gate)
	done.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// relWantOneWinner checks the outcome of an idempotent race: every 2xx response is the same
// bytes with the winner's status, every other one 409 idempotency_key_in_progress with
// Retry-After: 1. It returns the 2xx body.
func relWantOneWinner(t *testing.T, rs []resp, status int) []byte {
	t.Helper()
	var body []byte
	wins, fresh := 0, 0
	for _, r := range rs {
		switch {
		case r.Status == status:
			wins++
			if body == nil {
				body = r.Body
			} else if !bytes.Equal(body, r.Body) {
				t.Fatalf("two different 2xx bodies:\n %s\n %s", body, r.Body)
			}
			if r.Header.Get("Idempotent-Replayed") != "true" {
				fresh++
			}
		case r.Status == 409:
			relNativeError(t, r, 409, "idempotency_key_in_progress")
			if r.Header.Get("Retry-After") != "1" {
				t.Fatalf("409 in progress with Retry-After %q", r.Header.Get("Retry-After"))
			}
		default:
			t.Fatalf("unexpected response in the race: %s", r)
		}
	}
	if fresh != 1 {
		t.Fatalf("%d responses ran the request (want exactly 1 not marked as a replay), %d 2xx of %d", fresh, wins, len(rs))
	}
	t.Logf("%d requests: %d × %d (1 fresh, %d replayed), %d × 409 in progress", len(rs), wins, status, wins-1, len(rs)-wins)
	return body
}

func TestIdempotencyReplay(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := relNewTenant(e, "Idem A")
		b := relNewTenant(e, "Idem B")
		admin2 := e.key(a.id, roster.RoleAdmin)
		body := relEntityBody("replayed")

		key := relIdem("replay")
		first := e.must(e.as(a.admin, "POST", "/v1/entities", body, "Idempotency-Key", key), 201)
		if first.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("a first run marked as a replay: %v", first.Header)
		}
		// Same key, same request: the saved status and body, marked, and nothing runs again;
		// another key of the same account shares the scope.
		for _, k := range []string{a.admin, admin2, a.admin} {
			r := e.as(k, "POST", "/v1/entities", body, "Idempotency-Key", key)
			if r.Status != 201 || !bytes.Equal(r.Body, first.Body) || r.Header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("replay: %s %v\n first %s", r, r.Header, first.Body)
			}
			if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || r.Header.Get("X-Request-Id") == "" {
				t.Fatalf("replay headers: %v", r.Header)
			}
		}
		if n := relEntityCount(e, a.admin); n != 1 {
			t.Fatalf("%d entities after replays, want 1", n)
		}
		// A replay never shows a caller what it could not get: the reader is refused first.
		relNativeError(t, e.as(a.reader, "POST", "/v1/entities", body, "Idempotency-Key", key), 403, "forbidden")
		// Same key, another request: another body, method or path.
		relNativeError(t, e.as(a.admin, "POST", "/v1/entities", relEntityBody("other"), "Idempotency-Key", key), 409, "idempotency_key_reused")
		id := first.Obj()["id"].(string)
		relNativeError(t, e.as(a.admin, "PUT", "/v1/entities/"+id, body, "Idempotency-Key", key), 409, "idempotency_key_reused")
		relNativeError(t, e.as(a.admin, "POST", "/v1/entities?x=1", body, "Idempotency-Key", key), 409, "idempotency_key_reused")
		// Another account's key space is its own: the same key and body run there.
		rb := e.must(e.as(b.admin, "POST", "/v1/entities", body, "Idempotency-Key", key), 201)
		if rb.Header.Get("Idempotent-Replayed") != "" || rb.Obj()["id"] == id || rb.Obj()["account_id"] != b.id {
			t.Fatalf("another account got a replay: %s", rb)
		}
		if n, m := relEntityCount(e, a.admin), relEntityCount(e, b.admin); n != 1 || m != 1 {
			t.Fatalf("entities: A %d, B %d", n, m)
		}

		// A bare and a prefixed id in the path are the same request; so is a reordered query.
		patch := map[string]any{"description": "patched"}
		pk := relIdem("patch")
		p1 := e.must(e.as(a.admin, "PATCH", "/v1/entities/"+id, patch, "Idempotency-Key", pk), 200)
		p2 := e.must(e.as(a.admin, "PATCH", "/v1/entities/"+strings.ToUpper(bareID(id)), patch, "Idempotency-Key", pk), 200)
		if !bytes.Equal(p1.Body, p2.Body) || p2.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("bare id in the path is another request: %s", p2)
		}
		ents := relEntities(e, a.admin, 2)
		bk := relIdem("batch")
		batch := map[string]any{"entity_ids": ents, "relationship_type": "authorized_user"}
		b1 := e.must(e.as(a.admin, "POST", "/v1/accounts/"+a.id+"/entity_relationships/batch", batch, "Idempotency-Key", bk), 200)
		b2 := e.must(e.as(a.admin, "POST", "/v1/accounts/"+bareID(a.id)+"/entity_relationships/batch", batch, "Idempotency-Key", bk), 200)
		if !bytes.Equal(b1.Body, b2.Body) || b2.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("bare account in the path is another request: %s", b2)
		}
		// /v0 and /v1 are not the same request.
		relWantAPIError(t, relV0(t, e, a.admin, "POST", "/v0/accounts/"+a.id+"/entity_relationships/batch", batch, "Idempotency-Key", bk),
			409, "idempotency_request_inconsistent")
		dk := relIdem("del")
		d1 := e.must(e.as(a.admin, "DELETE", "/v1/accounts/"+a.id+"/entity_relationships/"+ents[0]+"?relationship_type=authorized_user&z=1", nil, "Idempotency-Key", dk), 200)
		d2 := e.as(a.admin, "DELETE", "/v1/accounts/"+a.id+"/entity_relationships/"+bareID(ents[0])+"?z=1&relationship_type=authorized_user", nil, "Idempotency-Key", dk)
		if d2.Status != 200 || !bytes.Equal(d1.Body, d2.Body) || d2.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("reordered query is another request: %s", d2)
		}
		// The replay is the saved response even though the state moved on.
		relNativeError(t, e.as(a.admin, "DELETE", "/v1/accounts/"+a.id+"/entity_relationships/"+ents[0]+"?relationship_type=authorized_user", nil), 404, "not_found")
		ek := relIdem("del-entity")
		gone := e.must(e.as(a.admin, "DELETE", "/v1/entities/"+ents[1], nil, "Idempotency-Key", ek), 200)
		again := e.as(a.admin, "DELETE", "/v1/entities/"+ents[1], nil, "Idempotency-Key", ek)
		if again.Status != 200 || !bytes.Equal(again.Body, gone.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replayed delete: %s", again)
		}
		relNativeError(t, e.as(a.admin, "DELETE", "/v1/entities/"+ents[1], nil), 404, "not_found")

		// Errors are not saved, neither from validation nor from the operation: the client
		// fixes the cause and retries with the same key.
		fk := relIdem("fix")
		bad := relEntityBody("deprecated")
		bad["deprecated"], bad["see"] = true, relUnknownEntity()
		wantProblems(t, e.as(a.admin, "POST", "/v1/entities", bad, "Idempotency-Key", fk), `["body","see"] not_found`)
		wantProblems(t, e.as(a.admin, "POST", "/v1/entities", bad, "Idempotency-Key", fk), `["body","see"] not_found`)
		bad["see"] = id
		r := e.must(e.as(a.admin, "POST", "/v1/entities", bad, "Idempotency-Key", fk), 201)
		if r.Header.Get("Idempotent-Replayed") != "" || r.Obj()["see"] != id {
			t.Fatalf("fixed retry: %s", r)
		}

		// An empty Idempotency-Key counts as absent; one over 255 characters is a 422.
		before := relEntityCount(e, a.admin)
		x := e.must(e.as(a.admin, "POST", "/v1/entities", body, "Idempotency-Key", ""), 201)
		y := e.must(e.as(a.admin, "POST", "/v1/entities", body, "Idempotency-Key", ""), 201)
		if x.Obj()["id"] == y.Obj()["id"] || y.Header.Get("Idempotent-Replayed") != "" {
			t.Fatal("an empty Idempotency-Key was used as a key")
		}
		wantProblems(t, e.as(a.admin, "POST", "/v1/entities", body, "Idempotency-Key", strings.Repeat("k", 256)),
			`["header","Idempotency-Key"] string_too_long`)
		if n := relEntityCount(e, a.admin); n != before+2 {
			t.Fatalf("%d entities, want %d", n, before+2)
		}
	})
}

func TestIdempotencySuperadminScope(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		// A superadmin key's scope is the key itself: another superadmin key with the same
		// Idempotency-Key runs the request (and here hits the slug the first one took).
		ck, err := e.app.Service.CreateKey(context.Background(), roster.Operator(),
			roster.KeyCreate{Role: roster.RoleSuperadmin, Name: "second superadmin"}.Body())
		super2 := ck.Secret
		if err != nil {
			t.Fatal(err)
		}
		key := relIdem("super")
		body := map[string]any{"name": "Super Scope"}
		first := e.must(e.as(e.super, "POST", "/v1/accounts", body, "Idempotency-Key", key), 201)
		again := e.must(e.as(e.super, "POST", "/v1/accounts", body, "Idempotency-Key", key), 201)
		if !bytes.Equal(first.Body, again.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("superadmin replay: %s", again)
		}
		relNativeError(t, e.as(super2, "POST", "/v1/accounts", body, "Idempotency-Key", key), 409, "slug_taken")
	})
}

func TestIdempotencyConcurrent(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := relNewTenant(e, "Idem Race")
		body, _ := json.Marshal(relEntityBody("raced"))
		rs := relRace(t, []*env{e}, 50, a.admin, "POST", "/v1/entities", body, "Idempotency-Key", relIdem("race"))
		relWantOneWinner(t, rs, 201)
		if n := relEntityCount(e, a.admin); n != 1 {
			t.Fatalf("%d entities made by one key, want 1", n)
		}
		// The same race on a batch: one write, one saved response.
		ents := relEntities(e, a.admin, 3)
		batch, _ := json.Marshal(map[string]any{"entity_ids": ents, "relationship_type": "authorized_signer"})
		rs = relRace(t, []*env{e}, 20, a.admin, "POST", "/v1/accounts/"+a.id+"/entity_relationships/batch", batch, "Idempotency-Key", relIdem("race"))
		relWantOneWinner(t, rs, 200)
		if p := relList(e, a.admin, "/v1/accounts/"+a.id+"/entity_relationships"); len(p.Data) != 3 {
			t.Fatalf("%d relationships after the batch race, want 3", len(p.Data))
		}
	})
}

func TestIdempotencyConcurrentTwoServers(t *testing.T) {
	t.Parallel()
	if !relHavePostgres() {
		t.Skip("ROSTER_TEST_POSTGRES is not set: two servers on one PostgreSQL database need it")
	}
	db := databaseURL(t, "postgres")
	e1 := startWith(t, db)
	e2 := relStartShared(t, db, e1.super)
	a := relNewTenant(e1, "Two Servers")
	body, _ := json.Marshal(relEntityBody("raced across servers"))
	key := relIdem("race2")
	rs := relRace(t, []*env{e1, e2}, 50, a.admin, "POST", "/v1/entities", body, "Idempotency-Key", key)
	won := relWantOneWinner(t, rs, 201)
	if n := relEntityCount(e1, a.admin); n != 1 {
		t.Fatalf("%d entities made by one key across two servers, want 1", n)
	}
	// Either server replays the saved response afterwards.
	for _, e := range []*env{e1, e2} {
		r := e.as(a.admin, "POST", "/v1/entities", body, "Idempotency-Key", key)
		if r.Status != 201 || !bytes.Equal(r.Body, won) || r.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay on %s: %s", e.base, r)
		}
	}
}

// TestIdempotencyLease claims keys beside the server, in the same database, to stand for a
// request in flight in another process: one alive, one that crashed and whose lease ran out
// (claimed two minutes ago). That a crashed request finishing late can save neither its
// response nor its write is the core's rule, tested in write_test.go.
func TestIdempotencyLease(t *testing.T) {
	t.Parallel()
	relEngines(t, func(t *testing.T, e *env, db string) {
		ctx := context.Background()
		a := relNewTenant(e, "Idem Lease")
		p := relPrincipal(t, e, a.admin)
		body := []byte(`{"name":"leased","module_ids":[],"source":null,"recipient":null}`)
		fp := relFingerprint("POST", "/v1/entities", "", body)
		side := relSideStore(t, db)
		claimElsewhere := func(key string, at time.Time) {
			t.Helper()
			rec := roster.IdempotencyRecord{Scope: p.Scope(), Key: key, Fingerprint: fp, Token: "elsewhere " + key,
				LeaseUntil: at.Add(roster.IdempotencyLease), CreatedAt: at}
			err := side.UpdateLazy(ctx, func(tx roster.Tx) error {
				_, claimed, err := tx.ClaimIdempotency(ctx, rec, at.Add(-roster.IdempotencyTTL))
				if err == nil && !claimed {
					err = fmt.Errorf("the key %q was taken", key)
				}
				return err
			})
			if err != nil {
				t.Fatalf("claim beside the server: %v", err)
			}
		}

		// In flight elsewhere, lease alive: 409 in progress with Retry-After: 1; another
		// request under that key is still 409 reused.
		live := relIdem("live")
		claimElsewhere(live, time.Now().UTC())
		r := e.as(a.admin, "POST", "/v1/entities", string(body), "Idempotency-Key", live)
		relNativeError(t, r, 409, "idempotency_key_in_progress")
		if r.Header.Get("Retry-After") != "1" {
			t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
		}
		relNativeError(t, e.as(a.admin, "POST", "/v1/entities", relEntityBody("x"), "Idempotency-Key", live), 409, "idempotency_key_reused")

		// Crashed elsewhere, lease run out: a retry takes the key over and runs.
		dead := relIdem("dead")
		claimElsewhere(dead, time.Now().UTC().Add(-2*time.Minute))
		r = e.must(e.as(a.admin, "POST", "/v1/entities", string(body), "Idempotency-Key", dead), 201)
		if r.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("takeover answered as a replay: %v", r.Header)
		}
		again := e.as(a.admin, "POST", "/v1/entities", string(body), "Idempotency-Key", dead)
		if again.Status != 201 || !bytes.Equal(again.Body, r.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay after takeover: %s", again)
		}
		if n := relEntityCount(e, a.admin); n != 1 {
			t.Fatalf("%d entities, want 1 (the takeover's)", n)
		}

		// A saved response older than 24 hours is forgotten: the key runs again.
		old := relSideService(t, db, -25*time.Hour)
		expired := relIdem("expired")
		longAgo := &roster.Request{Principal: p, IdempotencyKey: expired, Fingerprint: fp,
			Render: func(any) (int, []byte, error) { return 201, []byte(`{"saved":"long ago"}`), nil }}
		if _, err := old.CreateEntity(ctx, longAgo, body); err != nil {
			t.Fatal(err)
		}
		if n := relEntityCount(e, a.admin); n != 2 {
			t.Fatalf("%d entities, want 2", n)
		}
		r = e.must(e.as(a.admin, "POST", "/v1/entities", string(body), "Idempotency-Key", expired), 201)
		if r.Header.Get("Idempotent-Replayed") != "" || bytes.Contains(r.Body, []byte("long ago")) {
			t.Fatalf("a response older than 24 h was replayed: %s", r)
		}
		if n := relEntityCount(e, a.admin); n != 3 {
			t.Fatalf("%d entities, want 3", n)
		}
	})
}

func TestIdempotencyAPIKeyReplay(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := relNewTenant(e, "Idem Keys")
		count := func() int {
			r := e.must(e.as(a.admin, "GET", "/v1/api-keys?limit=100", nil), 200)
			return len(r.Obj()["data"].([]any))
		}
		before := count()
		key := relIdem("apikey")
		body := map[string]any{"account_id": a.id, "name": "ci"}
		first := e.must(e.as(a.admin, "POST", "/v1/api-keys", body, "Idempotency-Key", key), 201)
		secret, _ := first.Obj()["key"].(string)
		if !strings.HasPrefix(secret, "rk_") {
			t.Fatalf("no secret in the first response: %s", first)
		}
		replay := e.must(e.as(a.admin, "POST", "/v1/api-keys", body, "Idempotency-Key", key), 201)
		if replay.Header.Get("Idempotent-Replayed") != "true" || bytes.Contains(replay.Body, []byte(secret)) ||
			bytes.Contains(replay.Body, []byte(secret[3:20])) {
			t.Fatalf("replay: %s %v", replay, replay.Header)
		}
		want := first.Obj()
		want["key"] = nil
		relWantJSON(t, replay, 201, want)
		if !bytes.Contains(replay.Body, []byte(`"key":null`)) {
			t.Fatalf("replay without \"key\": null: %s", replay)
		}
		if n := count(); n != before+1 {
			t.Fatalf("%d keys, want %d", n, before+1)
		}
		// The secret shown once works.
		e.must(e.as(secret, "GET", "/v1/accounts/"+a.id, nil), 200)
		// Another body under the key is 409; a reader cannot reach the replay.
		relNativeError(t, e.as(a.admin, "POST", "/v1/api-keys", map[string]any{"account_id": a.id, "name": "other"}, "Idempotency-Key", key),
			409, "idempotency_key_reused")
		relNativeError(t, e.as(a.reader, "POST", "/v1/api-keys", body, "Idempotency-Key", key), 403, "forbidden")
	})
}
