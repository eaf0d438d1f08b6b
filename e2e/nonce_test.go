package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// SPEC §3, leadr-client-nonce: single-use replay protection bound to the key that asked.

var relUUID4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// relNonce asks for a nonce with key and checks the answer exactly.
func relNonce(t *testing.T, e *env, key string) string {
	t.Helper()
	before := time.Now()
	r := relFor(e, t).as(key, "GET", "/v1/client/nonce", nil)
	after := time.Now()
	if r.Status != 200 {
		t.Fatalf("nonce: %s", r)
	}
	m := r.Obj()
	value, _ := m["nonce_value"].(string)
	exp, _ := m["expires_at"].(string)
	if len(m) != 2 || !relUUID4.MatchString(value) || !relStamp.MatchString(exp) {
		t.Fatalf("nonce body must be exactly {nonce_value: uuid4, expires_at}: %s", r)
	}
	at, err := time.Parse(time.RFC3339Nano, exp)
	if err != nil {
		t.Fatal(err)
	}
	// Valid 60 seconds from issue (allowing for the clock's microsecond truncation).
	if at.Before(before.Add(60*time.Second-time.Millisecond)) || at.After(after.Add(60*time.Second)) {
		t.Fatalf("expires_at %s is not 60 s after the request (%s .. %s)", exp, before, after)
	}
	return value
}

func relUnknownNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

const relNonceHeader = "leadr-client-nonce"

func TestNonce(t *testing.T) {
	t.Parallel()
	relEngines(t, func(t *testing.T, e *env, db string) {
		a := relNewTenant(e, "Nonce A")
		b := relNewTenant(e, "Nonce B")
		admin2 := e.key(a.id, roster.RoleAdmin)
		create := func(key string, headers ...string) resp {
			return e.as(key, "POST", "/v1/entities", relEntityBody("nonce"), headers...)
		}

		// Issued: a fresh uuid4 each time, for any role, valid 60 s.
		n := relNonce(t, e, a.admin)
		if relNonce(t, e, a.admin) == n {
			t.Fatal("two nonces are the same")
		}
		relNonce(t, e, a.reader)
		relNonce(t, e, e.super)
		relNativeError(t, e.req("GET", "/v1/client/nonce", nil), 401, "unauthorized")

		// Used once: the second use is 412 and runs nothing.
		e.must(create(a.admin, relNonceHeader, n), 201)
		relNativeError(t, create(a.admin, relNonceHeader, n), 412, "nonce_invalid")
		if c := relEntityCount(e, a.admin); c != 1 {
			t.Fatalf("%d entities, want 1", c)
		}

		// Bound to the key that asked: another key (same account or not) is refused, and that
		// refusal does not spend it.
		n2 := relNonce(t, e, admin2)
		relNativeError(t, create(a.admin, relNonceHeader, n2), 412, "nonce_invalid")
		relNativeError(t, create(b.admin, relNonceHeader, n2), 412, "nonce_invalid")
		e.must(create(admin2, relNonceHeader, n2), 201)
		// Unknown or garbage.
		relNativeError(t, create(a.admin, relNonceHeader, relUnknownNonce()), 412, "nonce_invalid")
		relNativeError(t, create(a.admin, relNonceHeader, "not-a-nonce"), 412, "nonce_invalid")
		// An empty header counts as absent.
		e.must(create(a.admin, relNonceHeader, ""), 201)

		// GETs ignore the header, whatever it holds, and do not spend it.
		n3 := relNonce(t, e, a.admin)
		for _, v := range []string{"garbage", relUnknownNonce(), n3, n2} {
			e.must(e.as(a.admin, "GET", "/v1/entities", nil, relNonceHeader, v), 200)
			e.must(e.as(a.admin, "GET", "/v1/accounts/"+a.id+"/entity_relationships", nil, relNonceHeader, v), 200)
			relCheckV0(t, "GET", "/v0/accounts/"+a.id+"/entity_relationships",
				e.must(e.as(a.admin, "GET", "/v0/accounts/"+a.id+"/entity_relationships", nil, relNonceHeader, v), 200))
		}

		// A request refused before the operation spends nothing: 401, 403, 422, 400, 409.
		e.must(e.req("POST", "/v1/entities", relEntityBody("x"), "Authorization", "Bearer rk_nope", relNonceHeader, n3), 401)
		relNativeError(t, e.as(a.admin, "POST", "/v1/accounts", map[string]any{"name": "No Way"}, relNonceHeader, n3), 403, "forbidden")
		wantProblems(t, e.as(a.admin, "POST", "/v1/entities", map[string]any{"name": ""}, relNonceHeader, n3),
			`["body","name"] string_too_short`, `["body","module_ids"] missing`, `["body","source"] missing`, `["body","recipient"] missing`)
		ents := relEntities(e, a.admin, 2)
		batchPath := "/v1/accounts/" + a.id + "/entity_relationships/batch"
		batch := map[string]any{"entity_ids": ents, "relationship_type": "authorized_user"}
		relNativeError(t, e.as(a.admin, "POST", batchPath, batch, relNonceHeader, n3), 400, "idempotency_key_missing")
		used := relIdem("used")
		e.must(e.as(a.admin, "POST", batchPath, batch, "Idempotency-Key", used), 200)
		relNativeError(t, e.as(a.admin, "POST", batchPath, map[string]any{"entity_ids": ents[:1], "relationship_type": "authorized_user"},
			"Idempotency-Key", used, relNonceHeader, n3), 409, "idempotency_key_reused")
		// An idempotent replay spends nothing either.
		r := e.as(a.admin, "POST", batchPath, batch, "Idempotency-Key", used, relNonceHeader, n3)
		if r.Status != 200 || r.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay with a nonce: %s", r)
		}
		// Still unspent: it works now, on a batch (Lead Bank surface), and is spent after.
		lb := "/v0/accounts/" + a.id + "/entity_relationships/batch"
		lbBatch := map[string]any{"entity_ids": ents, "relationship_type": "account_holder"}
		r = relV0(t, e, a.admin, "POST", lb, lbBatch, "Idempotency-Key", relIdem("lb"), relNonceHeader, n3)
		relWantJSON(t, r, 200, map[string]any{"account_id": a.id, "relationship_type": "account_holder", "entity_ids": ents})
		relWantAPIError(t, relV0(t, e, a.admin, "POST", lb, lbBatch, "Idempotency-Key", relIdem("lb"), relNonceHeader, n3), 412, "nonce_invalid")

		// A nonce refused releases the idempotency key: the retry without it runs.
		k := relIdem("after-412")
		relNativeError(t, create(a.admin, "Idempotency-Key", k, relNonceHeader, n3), 412, "nonce_invalid")
		r = e.must(create(a.admin, "Idempotency-Key", k), 201)
		if r.Header.Get("Idempotent-Replayed") != "" {
			t.Fatal("a 412 was saved")
		}

		// Reaching the operation spends the nonce whatever the operation answers.
		n4 := relNonce(t, e, a.admin)
		relNativeError(t, e.as(a.admin, "PATCH", "/v1/entities/"+relUnknownEntity(), map[string]any{"name": "x"}, relNonceHeader, n4), 404, "not_found")
		relNativeError(t, create(a.admin, relNonceHeader, n4), 412, "nonce_invalid")
		n5 := relNonce(t, e, a.admin)
		relNativeError(t, e.as(a.admin, "DELETE", "/v1/accounts/"+a.id+"/entity_relationships/"+ents[0]+"?relationship_type=authorized_signer",
			nil, relNonceHeader, n5), 404, "not_found")
		relNativeError(t, create(a.admin, relNonceHeader, n5), 412, "nonce_invalid")

		// Every write method checks it.
		id := ents[0]
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"PUT", "/v1/entities/" + id, relEntityBody("put")},
			{"PATCH", "/v1/entities/" + id, map[string]any{"description": "d"}},
			{"DELETE", "/v1/accounts/" + a.id + "/entity_relationships/" + id + "?relationship_type=authorized_user", nil},
			{"PATCH", "/v1/accounts/" + a.id, map[string]any{"name": "Nonce A2"}},
		} {
			relNativeError(t, e.as(a.admin, c.method, c.path, c.body, relNonceHeader, relUnknownNonce()), 412, "nonce_invalid")
			nn := relNonce(t, e, a.admin)
			e.must(e.as(a.admin, c.method, c.path, c.body, relNonceHeader, nn), 200)
			relNativeError(t, e.as(a.admin, c.method, c.path, c.body, relNonceHeader, nn), 412, "nonce_invalid")
		}

		// Expiry: a service whose clock is two minutes behind issues a nonce that expired a
		// minute ago (waiting 60 s is not needed). One issued 30 s "ago" is still good.
		ctx := context.Background()
		p := relPrincipal(t, e, a.admin)
		old, err := relSideService(t, db, -2*time.Minute).IssueNonce(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		relNativeError(t, create(a.admin, relNonceHeader, old.Value), 412, "nonce_invalid")
		recent, err := relSideService(t, db, -30*time.Second).IssueNonce(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		e.must(create(a.admin, relNonceHeader, recent.Value), 201)
	})
}

func TestNonceRace(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := relNewTenant(e, "Nonce Race")
		n := relNonce(t, e, a.admin)
		body, _ := json.Marshal(relEntityBody("raced nonce"))
		// Twenty writes (no idempotency key) share one nonce: exactly one spends it.
		rs := relRace(t, []*env{e}, 20, a.admin, "POST", "/v1/entities", body, relNonceHeader, n)
		won := 0
		for _, r := range rs {
			switch r.Status {
			case 201:
				won++
			case 412:
				relNativeError(t, r, 412, "nonce_invalid")
			default:
				t.Fatalf("unexpected response: %s", r)
			}
		}
		if won != 1 {
			t.Fatalf("%d writes spent one nonce", won)
		}
		if c := relEntityCount(e, a.admin); c != 1 {
			t.Fatalf("%d entities, want 1", c)
		}
	})
}
