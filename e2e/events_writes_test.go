package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
)

// The events each route's writes record (SPEC §13): the type, account, sequence, object (the
// native view after the change, as it was for a deletion), previous_attributes of an update and
// the request (its X-Request-Id, Idempotency-Key and key), on both engines; none for a rollback,
// an idempotent replay or an update that changes nothing.

// evWatch reads the new events of one account, on the superadmin's feed of that account (read
// by sequence, so nothing is held back), checking that sequences go on without a gap.
type evWatch struct {
	e       *env
	account string
	cursor  string
	seq     int64
}

// evWatchNew watches account from the start of its feed.
func evWatchNew(e *env, account string) *evWatch { return &evWatch{e: e, account: account} }

func (w *evWatch) next(t *testing.T) []feedEvent {
	t.Helper()
	es, cursor := w.e.feedAll(w.e.super, "&account_id="+w.account, w.cursor, 0)
	w.cursor = cursor
	for _, ev := range es {
		if ev.AccountID == nil || *ev.AccountID != w.account {
			t.Fatalf("an event of another account in the feed of %s: %+v", w.account, ev)
		}
		if ev.Sequence != w.seq+1 {
			t.Fatalf("account %s: sequence %d after %d", w.account, ev.Sequence, w.seq)
		}
		w.seq = ev.Sequence
	}
	return es
}

// evWant is an event a write must record. object, when set, is the JSON the event's
// data.object must equal; prev, the JSON its previous_attributes must equal ("" for none).
type evWant struct {
	typ          string
	object, prev string
	// entity and relType, for a relationship event: its entity (prefixed) and type.
	entity, relType string
}

// evReq is the request a write's events must name.
type evReq struct{ id, idem, keyID string }

// expect checks the events the last write recorded.
func (w *evWatch) expect(t *testing.T, what string, req evReq, want ...evWant) []feedEvent {
	t.Helper()
	got := w.next(t)
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d: %+v", what, len(got), len(want), got)
	}
	for i, ev := range got {
		wnt := want[i]
		if ev.Type != wnt.typ {
			t.Fatalf("%s: event %d is %s, want %s", what, i, ev.Type, wnt.typ)
		}
		var data struct {
			Object   json.RawMessage `json:"object"`
			Previous json.RawMessage `json:"previous_attributes"`
		}
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			t.Fatalf("%s: data %s: %v", what, ev.Data, err)
		}
		if wnt.object != "" && !jsonEqual(data.Object, wnt.object) {
			t.Fatalf("%s: %s object\n got  %s\n want %s", what, ev.Type, data.Object, wnt.object)
		}
		if !jsonEqual(data.Previous, wnt.prev) {
			t.Fatalf("%s: %s previous_attributes\n got  %s\n want %s", what, ev.Type, data.Previous, wnt.prev)
		}
		if wnt.entity != "" {
			var rel map[string]any
			_ = json.Unmarshal(data.Object, &rel)
			if rel["entity_id"] != wnt.entity || rel["relationship_type"] != wnt.relType || rel["account_id"] != w.account || rel["created_at"] == nil {
				t.Fatalf("%s: relationship %s, want %s %s", what, data.Object, wnt.entity, wnt.relType)
			}
		}
		if strings.Contains(string(ev.Data), `"key":`) || strings.Contains(string(ev.Data), "rk_") && !strings.Contains(string(ev.Data), `"prefix":"rk_`) {
			t.Fatalf("%s: a secret in an event: %s", what, ev.Data)
		}
		r := ev.Request
		if r.ID != req.id || (r.IdempotencyKey == nil) != (req.idem == "") || r.IdempotencyKey != nil && *r.IdempotencyKey != req.idem ||
			(r.KeyID == nil) != (req.keyID == "") || r.KeyID != nil && *r.KeyID != req.keyID {
			t.Fatalf("%s: request %+v, want %+v", what, r, req)
		}
		// The event by id says the same.
		one := w.e.must(w.e.as(w.e.super, "GET", "/v1/events/"+ev.ID, nil), 200)
		var again feedEvent
		_ = json.Unmarshal(one.Body, &again)
		if again.ID != ev.ID || again.Sequence != ev.Sequence || !bytes.Equal(again.Data, ev.Data) {
			t.Fatalf("%s: GET /v1/events/%s: %s", what, ev.ID, one.Body)
		}
	}
	return got
}

// jsonEqual compares JSON texts by value; "" stands for absent (or null).
func jsonEqual(got json.RawMessage, want string) bool {
	if len(got) == 0 || string(got) == "null" {
		return want == ""
	}
	if want == "" {
		return false
	}
	var a, b any
	if json.Unmarshal(got, &a) != nil || json.Unmarshal([]byte(want), &b) != nil {
		return false
	}
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// evSend sends a write as key on the surface of path, with a request id and, unless "", an
// idempotency key.
func evSend(e *env, key, method, path string, body any, reqID, idem string) resp {
	e.t.Helper()
	h := append(authFor(path, key), "X-Request-Id", reqID)
	if idem != "" {
		h = append(h, "Idempotency-Key", idem)
	}
	return e.req(method, path, body, h...)
}

// evPrev is previous_attributes as JSON: name, old value pairs.
func evPrev(kv ...any) string {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestEventsOfEveryWrite(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		superID := roster.KindKey.Prefixed(relPrincipal(t, e, e.super).KeyID)
		sup := func(id, idem string) evReq { return evReq{id, idem, superID} }

		// Accounts.
		acct := e.must(evSend(e, e.super, "POST", "/v1/accounts", map[string]any{"name": "Events Every Write"}, "ev-acct-1", "idem-acct-1"), 201)
		a := str(acct.Obj(), "id")
		w := evWatchNew(e, a)
		w.expect(t, "POST /v1/accounts", sup("ev-acct-1", "idem-acct-1"), evWant{typ: roster.EventAccountCreated, object: string(acct.Body)})
		replay := e.must(evSend(e, e.super, "POST", "/v1/accounts", map[string]any{"name": "Events Every Write"}, "ev-acct-2", "idem-acct-1"), 201)
		if replay.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("not a replay: %v", replay.Header)
		}
		w.expect(t, "an idempotent replay", evReq{})
		renamed := e.must(evSend(e, e.super, "PATCH", "/v1/accounts/"+a, map[string]any{"name": "Events Renamed"}, "ev-acct-3", ""), 200)
		w.expect(t, "PATCH /v1/accounts name", sup("ev-acct-3", ""), evWant{typ: roster.EventAccountUpdated, object: string(renamed.Body),
			prev: evPrev("name", "Events Every Write", "updated_at", acct.Obj()["updated_at"])})
		e.must(evSend(e, e.super, "PATCH", "/v1/accounts/"+a, map[string]any{"name": "Events Renamed"}, "ev-acct-4", ""), 200)
		e.must(evSend(e, e.super, "PATCH", "/v1/accounts/"+a, map[string]any{"deleted": false}, "ev-acct-5", ""), 200)
		w.expect(t, "a PATCH that changes nothing", evReq{})
		other := e.account("Events Other")
		wantError(t, evSend(e, e.super, "PATCH", "/v1/accounts/"+a, map[string]any{"slug": other["slug"]}, "ev-acct-6", ""), 409, "slug_taken")
		w.expect(t, "a rolled back PATCH (slug_taken)", evReq{})

		// Keys over the API: created, renamed, revoked, deleted; one event per PATCH, named by
		// its strongest change.
		ck := e.must(evSend(e, e.super, "POST", "/v1/api-keys", map[string]any{"account_id": a, "name": "events admin"}, "ev-key-1", ""), 201)
		admin, adminID := str(ck.Obj(), "key"), str(ck.Obj(), "id")
		view := e.must(e.as(e.super, "GET", "/v1/api-keys/"+adminID, nil), 200)
		w.expect(t, "POST /v1/api-keys", sup("ev-key-1", ""), evWant{typ: roster.EventKeyCreated, object: string(view.Body)})
		by := func(id, idem string) evReq { return evReq{id, idem, adminID} }
		ck2 := e.must(evSend(e, admin, "POST", "/v1/api-keys", map[string]any{"account_id": a, "name": "events second"}, "ev-key-2", "idem-key-2"), 201)
		second := str(ck2.Obj(), "id")
		w.expect(t, "POST /v1/api-keys by an admin", by("ev-key-2", "idem-key-2"), evWant{typ: roster.EventKeyCreated})
		before := e.must(e.as(admin, "GET", "/v1/api-keys/"+second, nil), 200).Obj()
		r := e.must(evSend(e, admin, "PATCH", "/v1/api-keys/"+second, map[string]any{"name": "events renamed"}, "ev-key-3", ""), 200)
		renamedKey := r.Obj()
		w.expect(t, "PATCH /v1/api-keys name", by("ev-key-3", ""), evWant{typ: roster.EventKeyUpdated, object: string(r.Body),
			prev: evPrev("name", "events second", "updated_at", before["updated_at"])})
		e.must(evSend(e, admin, "PATCH", "/v1/api-keys/"+second, map[string]any{"name": "events renamed"}, "ev-key-4", ""), 200)
		w.expect(t, "a key PATCH that changes nothing", evReq{})
		r = e.must(evSend(e, admin, "PATCH", "/v1/api-keys/"+second, map[string]any{"name": "events revoked", "status": "revoked"}, "ev-key-5", ""), 200)
		w.expect(t, "PATCH /v1/api-keys rename and revoke", by("ev-key-5", ""), evWant{typ: roster.EventKeyRevoked, object: string(r.Body),
			prev: evPrev("name", "events renamed", "status", "active", "updated_at", renamedKey["updated_at"])})
		e.must(evSend(e, admin, "PATCH", "/v1/api-keys/"+second, map[string]any{"status": "active"}, "ev-key-6", ""), 422)
		w.expect(t, "a refused key PATCH", evReq{})
		third := str(e.must(evSend(e, e.super, "POST", "/v1/api-keys", map[string]any{"account_id": a, "name": "events third", "role": "reader"}, "ev-key-7", ""), 201).Obj(), "id")
		w.expect(t, "POST /v1/api-keys reader", sup("ev-key-7", ""), evWant{typ: roster.EventKeyCreated})
		e.must(evSend(e, admin, "PATCH", "/v1/api-keys/"+third, map[string]any{"deleted": true, "status": "revoked"}, "ev-key-8", ""), 200)
		w.expect(t, "PATCH /v1/api-keys deleted and revoked", by("ev-key-8", ""), evWant{typ: roster.EventKeyDeleted})

		// Entities on /v1: created, updated by PATCH and PUT, none for a PATCH that changes nothing.
		ent := func(name, id, idem string) (string, resp) {
			r := e.must(evSend(e, admin, "POST", "/v1/entities", relEntityBody(name), id, idem), 201)
			w.expect(t, "POST /v1/entities", by(id, idem), evWant{typ: roster.EventEntityCreated, object: string(r.Body)})
			return str(r.Obj(), "id"), r
		}
		e1, c1 := ent("events one", "ev-ent-1", "idem-ent-1")
		e2, _ := ent("events two", "ev-ent-2", "")
		e3, _ := ent("events three", "ev-ent-3", "")
		r = e.must(evSend(e, admin, "PATCH", "/v1/entities/"+e1, map[string]any{"description": "now described"}, "ev-ent-4", ""), 200)
		w.expect(t, "PATCH /v1/entities", by("ev-ent-4", ""), evWant{typ: roster.EventEntityUpdated, object: string(r.Body),
			prev: evPrev("description", nil, "updated_at", c1.Obj()["updated_at"])})
		e.must(evSend(e, admin, "PATCH", "/v1/entities/"+e1, map[string]any{"description": "now described"}, "ev-ent-5", ""), 200)
		w.expect(t, "an entity PATCH that changes nothing", evReq{})
		patched := r.Obj()
		r = e.must(evSend(e, admin, "PUT", "/v1/entities/"+e1, with(relEntityBody("events one"), "source", "form"), "ev-ent-6", ""), 200)
		w.expect(t, "PUT /v1/entities", by("ev-ent-6", ""), evWant{typ: roster.EventEntityUpdated, object: string(r.Body),
			prev: evPrev("description", "now described", "source", nil, "updated_at", patched["updated_at"])})
		e.must(evSend(e, admin, "PATCH", "/v1/entities/"+e1, map[string]any{"see": e2}, "ev-ent-7", ""), 422)
		w.expect(t, "a refused entity PATCH", evReq{})

		// Relationships: a batch records one relationship.created per pair it created.
		batch := "/v1/accounts/" + a + "/entity_relationships/batch"
		e.must(evSend(e, admin, "POST", batch, map[string]any{"entity_ids": []string{e1, e2}, "relationship_type": "account_holder"}, "ev-rel-1", "idem-rel-1"), 200)
		w.expect(t, "POST batch", by("ev-rel-1", "idem-rel-1"),
			evWant{typ: roster.EventRelationshipCreated, entity: e1, relType: "account_holder"},
			evWant{typ: roster.EventRelationshipCreated, entity: e2, relType: "account_holder"})
		e.must(evSend(e, admin, "POST", batch, map[string]any{"entity_ids": []string{e1, e2}, "relationship_type": "account_holder"}, "ev-rel-2", "idem-rel-1"), 200)
		w.expect(t, "a replayed batch", evReq{})
		e.must(evSend(e, admin, "POST", batch, map[string]any{"entity_ids": []string{e2, e3, e1}, "relationship_type": "account_holder"}, "ev-rel-3", "idem-rel-3"), 200)
		w.expect(t, "a batch with existing pairs", by("ev-rel-3", "idem-rel-3"), evWant{typ: roster.EventRelationshipCreated, entity: e3, relType: "account_holder"})
		e.must(evSend(e, admin, "POST", batch, map[string]any{"entity_ids": []string{e1}, "relationship_type": "account_holder"}, "ev-rel-4", "idem-rel-4"), 200)
		w.expect(t, "a batch of existing pairs only", evReq{})
		r = evSend(e, admin, "POST", batch, map[string]any{"entity_ids": []string{e1, "entity_" + oaUnknownHex}, "relationship_type": "authorized_user"}, "ev-rel-5", "idem-rel-5")
		e.must(r, 422)
		w.expect(t, "a batch that names a missing entity", evReq{})
		// Lead Bank's batch and delete.
		v0 := "/v0/accounts/" + a + "/entity_relationships"
		e.must(evSend(e, admin, "POST", v0+"/batch", map[string]any{"entity_ids": []string{bareID(e1)}, "relationship_type": "authorized_signer"}, "ev-rel-6", "idem-rel-6"), 200)
		w.expect(t, "POST /v0 batch", by("ev-rel-6", "idem-rel-6"), evWant{typ: roster.EventRelationshipCreated, entity: e1, relType: "authorized_signer"})
		e.must(evSend(e, admin, "POST", v0+"/batch", map[string]any{"entity_ids": []string{e3}, "relationship_type": "authorized_user"}, "ev-rel-7", "idem-rel-7"), 200)
		w.expect(t, "POST /v0 batch", by("ev-rel-7", "idem-rel-7"), evWant{typ: roster.EventRelationshipCreated, entity: e3, relType: "authorized_user"})
		e.must(evSend(e, admin, "DELETE", v0+"/"+e3+"?relationship_type=authorized_user", nil, "ev-rel-8", ""), 200)
		w.expect(t, "DELETE /v0 relationship", by("ev-rel-8", ""), evWant{typ: roster.EventRelationshipDeleted, entity: e3, relType: "authorized_user"})
		e.must(evSend(e, admin, "DELETE", "/v1/accounts/"+a+"/entity_relationships/"+e3+"?relationship_type=account_holder", nil, "ev-rel-9", "idem-rel-9"), 200)
		w.expect(t, "DELETE /v1 relationship", by("ev-rel-9", "idem-rel-9"), evWant{typ: roster.EventRelationshipDeleted, entity: e3, relType: "account_holder"})
		wantError(t, evSend(e, admin, "DELETE", "/v1/accounts/"+a+"/entity_relationships/"+e3+"?relationship_type=account_holder", nil, "ev-rel-10", ""), 404, "not_found")
		w.expect(t, "DELETE of a missing relationship", evReq{})

		// An entity's deletion: entity.deleted, then relationship.deleted per relationship removed.
		was := e.must(e.as(admin, "GET", "/v1/entities/"+e1, nil), 200)
		e.must(evSend(e, admin, "DELETE", "/v1/entities/"+e1, nil, "ev-ent-8", ""), 200)
		got := w.expect(t, "DELETE /v1/entities", by("ev-ent-8", ""), evWant{typ: roster.EventEntityDeleted, object: string(was.Body)},
			evWant{typ: roster.EventRelationshipDeleted}, evWant{typ: roster.EventRelationshipDeleted})
		var types []string
		for _, ev := range got[1:] {
			if !strings.Contains(string(ev.Data), `"entity_id":"`+e1+`"`) {
				t.Fatalf("a relationship.deleted of another entity: %s", ev.Data)
			}
			var d struct {
				Object map[string]any `json:"object"`
			}
			_ = json.Unmarshal(ev.Data, &d)
			types = append(types, fmt.Sprint(d.Object["relationship_type"]))
		}
		if strings.Join(sorted(types), ",") != "account_holder,authorized_signer" {
			t.Fatalf("the relationships removed with the entity: %v", types)
		}

		// LeadConduit's routes: the events carry the native view (prefixed ids).
		c := e.must(evSend(e, admin, "POST", "/entities", relEntityBody("events conduit"), "ev-lc-1", ""), 201)
		hex := str(c.Obj(), "id")
		native := e.must(e.as(admin, "GET", "/v1/entities/"+hex, nil), 200)
		w.expect(t, "POST /entities", by("ev-lc-1", ""), evWant{typ: roster.EventEntityCreated, object: string(native.Body)})
		e.must(evSend(e, admin, "PUT", "/entities/"+hex, with(relEntityBody("events conduit"), "website", "https://example.com"), "ev-lc-2", "idem-lc-2"), 200)
		after := e.must(e.as(admin, "GET", "/v1/entities/"+hex, nil), 200)
		w.expect(t, "PUT /entities", by("ev-lc-2", "idem-lc-2"), evWant{typ: roster.EventEntityUpdated, object: string(after.Body),
			prev: evPrev("website", nil, "updated_at", native.Obj()["updated_at"])})
		e.must(evSend(e, admin, "PATCH", "/entities/"+hex, map[string]any{"website": "https://example.com"}, "ev-lc-3", ""), 200)
		w.expect(t, "a LeadConduit PATCH that changes nothing", evReq{})
		e.must(evSend(e, admin, "PATCH", "/entities/"+hex, map[string]any{"deprecated": true}, "ev-lc-4", ""), 200)
		patchedLC := e.must(e.as(admin, "GET", "/v1/entities/"+hex, nil), 200)
		w.expect(t, "PATCH /entities", by("ev-lc-4", ""), evWant{typ: roster.EventEntityUpdated, object: string(patchedLC.Body),
			prev: evPrev("deprecated", false, "updated_at", after.Obj()["updated_at"])})
		e.must(evSend(e, admin, "DELETE", "/entities/"+hex, nil, "ev-lc-5", ""), 200)
		w.expect(t, "DELETE /entities", by("ev-lc-5", ""), evWant{typ: roster.EventEntityDeleted, object: string(patchedLC.Body)})

		// A superadmin key of its own: an event of no account, on the feed of every account only.
		// The feed of every account may show it late on PostgreSQL: 7 key events came before it
		// (the bootstrap key's creation, and 6 above).
		root := e.must(evSend(e, e.super, "POST", "/v1/api-keys", map[string]any{"account_id": nil, "name": "events root", "role": "superadmin"}, "ev-root-1", ""), 201)
		rootView := e.must(e.as(e.super, "GET", "/v1/api-keys/"+str(root.Obj(), "id"), nil), 200)
		keyEvents, _ := e.feedAll(e.super, "&type=api_key.*", "", 8)
		var plat []feedEvent
		for _, ev := range keyEvents {
			if ev.AccountID == nil && ev.Sequence > 1 { // the platform's first is the bootstrap key
				plat = append(plat, ev)
			}
		}
		if len(keyEvents) != 8 || len(plat) != 1 || plat[0].Type != roster.EventKeyCreated || plat[0].Request.ID != "ev-root-1" ||
			plat[0].Request.KeyID == nil || *plat[0].Request.KeyID != superID ||
			!jsonEqual(json.RawMessage(strings.TrimSuffix(strings.TrimPrefix(string(plat[0].Data), `{"object":`), "}")), string(rootView.Body)) {
			t.Fatalf("a superadmin key's creation: %d key events, %+v", len(keyEvents), plat)
		}

		// An account's deletion records account.deleted only, its entities and keys kept in
		// storage without events of their own.
		ent("events left", "ev-ent-9", "")
		e.must(evSend(e, admin, "POST", batch, map[string]any{"entity_ids": []string{e2}, "relationship_type": "authorized_user"}, "ev-rel-11", "idem-rel-11"), 200)
		w.next(t)
		last := e.must(e.as(e.super, "GET", "/v1/accounts/"+a, nil), 200)
		e.must(evSend(e, e.super, "PATCH", "/v1/accounts/"+a, map[string]any{"deleted": true}, "ev-acct-7", "idem-acct-7"), 200)
		w.expect(t, "PATCH /v1/accounts deleted", sup("ev-acct-7", "idem-acct-7"), evWant{typ: roster.EventAccountDeleted, object: string(last.Body)})
	})
}

// TestEventsOfTheCommandLine: `roster keys create` and `keys revoke` record their events, with
// no request id and no key (the operator at the command line).
func TestEventsOfTheCommandLine(t *testing.T) {
	t.Parallel()
	bin := crBuild(t)
	engines(t, func(t *testing.T, e *env) {
		run := func(cmd string, args ...string) string {
			t.Helper()
			argv := append(append(strings.Fields(cmd), "--database", e.database), args...)
			out, err := exec.Command(bin, argv...).Output()
			if err != nil {
				t.Fatalf("roster %v: %v %s", argv, err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			return lines[len(lines)-1]
		}
		a := e.account("Events CLI")["id"].(string)
		w := evWatchNew(e, a)
		if got := w.next(t); len(got) != 1 || got[0].Type != roster.EventAccountCreated {
			t.Fatalf("the account's creation: %+v", got)
		}
		if secret := run("keys create", "--account", a, "--name", "cli admin"); !strings.HasPrefix(secret, "rk_") {
			t.Fatalf("keys create printed %q", secret)
		}
		keys := getPage(t, e, e.super, "/v1/api-keys?account_id="+a) // not the key itself: it would mark it used
		if len(keys.ids) != 1 {
			t.Fatalf("the account's keys: %v", keys.ids)
		}
		id := keys.ids[0]
		view := e.must(e.as(e.super, "GET", "/v1/api-keys/"+id, nil), 200)
		w.expect(t, "roster keys create", evReq{}, evWant{typ: roster.EventKeyCreated, object: string(view.Body)})
		run("keys revoke", id)
		revoked := e.must(e.as(e.super, "GET", "/v1/api-keys/"+id, nil), 200)
		w.expect(t, "roster keys revoke", evReq{}, evWant{typ: roster.EventKeyRevoked, object: string(revoked.Body),
			prev: evPrev("status", "active", "updated_at", view.Obj()["updated_at"])})
	})
}
