package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
)

// auditRecords lists every audit record key may read with the query q (url-encoded pairs),
// newest first, walking every page.
func auditRecords(t *testing.T, e *env, key, q string) []map[string]any {
	t.Helper()
	var out []map[string]any
	cursor := ""
	for range 1000 {
		path := "/v1/audit_events?limit=100&" + q
		if cursor != "" {
			path = "/v1/audit_events?limit=100&cursor=" + url.QueryEscape(cursor)
		}
		r := e.must(e.as(key, "GET", path, nil), 200)
		var page struct {
			Data       []map[string]any `json:"data"`
			Pagination pageMeta         `json:"pagination"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Data...)
		if !page.Pagination.HasNext {
			return out
		}
		cursor = *page.Pagination.NextCursor
	}
	t.Fatal("the audit list did not end")
	return nil
}

// auditByRequest finds the one record of action with the request id rid in the list of q.
func auditByRequest(t *testing.T, e *env, q, action, rid string) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, rec := range auditRecords(t, e, e.super, q) {
		if rec["action"] == action && rec["request_id"] == rid {
			found = append(found, rec)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s record of request %s in %q, got %d", action, rid, q, len(found))
	}
	return found[0]
}

// jsonOf renders v as compact JSON, to compare parts of records.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAuditWrites: every kind of write, through each surface and the command line, yields its
// record in its account's chain with actor, source, request id, idempotency key, status and the
// fields that changed before and after; no record carries a secret or a key hash; the chains
// verify.
func TestAuditWrites(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		n := 0
		// do sends a write as key with a fresh request id and idempotency key, and returns the
		// response and the request id.
		do := func(key, method, path string, body any, status int) (resp, string) {
			t.Helper()
			n++
			rid := fmt.Sprintf("audit-rid-%d", n)
			r := e.must(e.as(key, method, path, body, "X-Request-Id", rid, "Idempotency-Key", fmt.Sprintf("audit-idem-%d", n),
				"User-Agent", "audit-test/1.0"), status)
			return r, rid
		}
		check := func(rec map[string]any, key, role, idem string, status int, target, before, after string) {
			t.Helper()
			actor := rec["actor"].(map[string]any)
			if actor["type"] != "key" || actor["key_id"] != key || actor["role"] != role {
				t.Errorf("%s: actor %v, want key %s (%s)", rec["action"], actor, key, role)
			}
			src := rec["source"].(map[string]any)
			if src["ip"] != "127.0.0.1" || src["user_agent"] != "audit-test/1.0" {
				t.Errorf("%s: source %v", rec["action"], src)
			}
			if rec["idempotency_key"] != idem || rec["status"] != float64(status) || rec["outcome"] != "success" || rec["count"] != float64(1) {
				t.Errorf("%s: idempotency_key %v status %v outcome %v count %v", rec["action"], rec["idempotency_key"], rec["status"], rec["outcome"], rec["count"])
			}
			if got := jsonOf(t, rec["target"]); got != target {
				t.Errorf("%s: target %s, want %s", rec["action"], got, target)
			}
			ch, _ := rec["changes"].(map[string]any)
			if got := jsonOf(t, ch["before"]); before != "" && got != before {
				t.Errorf("%s: changes.before %s, want %s", rec["action"], got, before)
			}
			if got := jsonOf(t, ch["after"]); after != "" && got != after {
				t.Errorf("%s: changes.after %s, want %s", rec["action"], got, after)
			}
			if b := jsonOf(t, ch); strings.Contains(b, `"key":`) || strings.Contains(b, `"hash":`) {
				t.Errorf("%s: changes carry a secret: %s", rec["action"], b)
			}
		}
		idem := func(rid string) string { return strings.Replace(rid, "rid", "idem", 1) }

		// Accounts: created by the superadmin, renamed by its admin.
		r, rid := do(e.super, "POST", "/v1/accounts", map[string]any{"name": "Audit Co", "slug": "audit-co"}, 201)
		acct := r.Obj()["id"].(string)
		q := "account_id=" + acct
		superID := superKeyID(t, e)
		rec := auditByRequest(t, e, q, "account.create", rid)
		check(rec, superID, "superadmin", idem(rid), 201, `{"id":"`+acct+`","type":"account"}`, `{}`, "")
		if after := rec["changes"].(map[string]any)["after"].(map[string]any); after["name"] != "Audit Co" || after["slug"] != "audit-co" {
			t.Errorf("account.create after: %v", after)
		}
		if rec["account_id"] != acct || rec["sequence"] != float64(1) || rec["prev_hash"] != roster.GenesisHash {
			t.Errorf("account.create: account %v sequence %v prev_hash %v", rec["account_id"], rec["sequence"], rec["prev_hash"])
		}

		// A key made at the command line: actor cli.
		ck, err := e.app.Service.CreateKey(context.Background(), roster.Operator(), roster.KeyCreate{AccountID: strings.TrimPrefix(acct, "account_"), Role: roster.RoleAdmin, Name: "admin"}.Body())
		if err != nil {
			t.Fatal(err)
		}
		admin, adminID := ck.Secret, roster.KindKey.Prefixed(ck.Key.ID)
		var cli map[string]any
		for _, rec := range auditRecords(t, e, e.super, q+"&action=api_key.create") {
			if rec["target"].(map[string]any)["id"] == adminID {
				cli = rec
			}
		}
		if cli == nil || jsonOf(t, cli["actor"]) != `{"key_id":null,"role":null,"type":"cli"}` || cli["request_id"] != nil || cli["status"] != nil ||
			jsonOf(t, cli["source"]) != `{"ip":null,"user_agent":null}` {
			t.Fatalf("the command line's key: %v", cli)
		}
		if b := jsonOf(t, cli); strings.Contains(b, ck.Secret) || strings.Contains(b, roster.HashSecret(ck.Secret)) {
			t.Fatalf("a record carries the secret or its hash: %s", b)
		}

		r, rid = do(admin, "PATCH", "/v1/accounts/"+acct, map[string]any{"name": "Audit Company"}, 200)
		check(auditByRequest(t, e, q, "account.update", rid), adminID, "admin", idem(rid), 200, `{"id":"`+acct+`","type":"account"}`,
			"", "")
		rec = auditByRequest(t, e, q, "account.update", rid)
		ch := rec["changes"].(map[string]any)
		if b, a := ch["before"].(map[string]any), ch["after"].(map[string]any); b["name"] != "Audit Co" || a["name"] != "Audit Company" {
			t.Errorf("account.update changes: %v", ch)
		}

		// Entities, on the native and the LeadConduit surfaces.
		r, rid = do(admin, "POST", "/v1/entities", map[string]any{"name": "Signer One", "module_ids": []string{}, "source": nil, "recipient": nil}, 201)
		ent := r.Obj()
		entID := ent["id"].(string)
		target := `{"id":"` + entID + `","type":"entity"}`
		rec = auditByRequest(t, e, q, "entity.create", rid)
		check(rec, adminID, "admin", idem(rid), 201, target, `{}`, jsonOf(t, ent))

		_, rid = do(admin, "PATCH", "/v1/entities/"+entID, map[string]any{"description": "the signer"}, 200)
		rec = auditByRequest(t, e, q, "entity.update", rid)
		ch = rec["changes"].(map[string]any)
		if b, a := ch["before"].(map[string]any), ch["after"].(map[string]any); b["description"] != nil || a["description"] != "the signer" ||
			len(a) != 2 || a["updated_at"] == nil {
			t.Errorf("entity.update changes: %v", ch)
		}
		check(rec, adminID, "admin", idem(rid), 200, target, "", "")

		bare := strings.TrimPrefix(entID, "entity_")
		_, rid = do(admin, "PUT", "/entities/"+bare, map[string]any{"name": "Signer Uno", "module_ids": []string{}, "source": nil, "recipient": nil}, 200)
		rec = auditByRequest(t, e, q, "entity.update", rid)
		check(rec, adminID, "admin", idem(rid), 200, target, "", "")
		if a := rec["changes"].(map[string]any)["after"].(map[string]any); a["name"] != "Signer Uno" {
			t.Errorf("PUT changes: %v", rec["changes"])
		}

		// Relationships: a Lead Bank batch, a native delete.
		_, rid = do(admin, "POST", "/v0/accounts/"+acct+"/entity_relationships/batch", map[string]any{"entity_ids": []string{entID}, "relationship_type": "authorized_signer"}, 200)
		rec = auditByRequest(t, e, q, "relationship.create", rid)
		check(rec, adminID, "admin", idem(rid), 200, `{"id":"`+acct+`","type":"account"}`, `{}`, "")
		if rels := rec["changes"].(map[string]any)["after"].(map[string]any)["relationships"].([]any); len(rels) != 1 ||
			rels[0].(map[string]any)["entity_id"] != entID || rels[0].(map[string]any)["relationship_type"] != "authorized_signer" {
			t.Errorf("relationship.create changes: %v", rec["changes"])
		}
		_, rid = do(admin, "DELETE", "/v1/accounts/"+acct+"/entity_relationships/"+entID+"?relationship_type=authorized_signer", nil, 200)
		rec = auditByRequest(t, e, q, "relationship.delete", rid)
		check(rec, adminID, "admin", idem(rid), 200, target, "", `{}`)

		// Keys: created (the secret never in the record) and revoked.
		r, rid = do(admin, "POST", "/v1/api-keys", map[string]any{"account_id": acct, "name": "reader", "role": "reader"}, 201)
		secret, readerID := r.Obj()["key"].(string), r.Obj()["id"].(string)
		rec = auditByRequest(t, e, q, "api_key.create", rid)
		check(rec, adminID, "admin", idem(rid), 201, `{"id":"`+readerID+`","type":"api_key"}`, `{}`, "")
		if b := jsonOf(t, rec); strings.Contains(b, secret) || strings.Contains(b, roster.HashSecret(secret)) {
			t.Fatalf("the key's record carries its secret or hash: %s", b)
		}
		_, rid = do(admin, "PATCH", "/v1/api-keys/"+readerID, map[string]any{"status": "revoked"}, 200)
		rec = auditByRequest(t, e, q, "api_key.update", rid)
		check(rec, adminID, "admin", idem(rid), 200, `{"id":"`+readerID+`","type":"api_key"}`, "", "")
		if ch := rec["changes"].(map[string]any); ch["before"].(map[string]any)["status"] != "active" || ch["after"].(map[string]any)["status"] != "revoked" {
			t.Errorf("api_key.update changes: %v", ch)
		}

		// The entity's deletion, through LeadConduit.
		_, rid = do(admin, "DELETE", "/entities/"+bare, nil, 200)
		rec = auditByRequest(t, e, q, "entity.delete", rid)
		check(rec, adminID, "admin", idem(rid), 200, target, "", `{}`)
		if b := rec["changes"].(map[string]any)["before"].(map[string]any); b["id"] != entID || b["name"] != "Signer Uno" {
			t.Errorf("entity.delete before: %v", b)
		}

		// A replay records nothing new.
		before := len(auditRecords(t, e, e.super, q))
		e.must(e.as(admin, "DELETE", "/entities/"+bare, nil, "Idempotency-Key", idem(rid)), 200)
		if after := len(auditRecords(t, e, e.super, q)); after != before+1 { // the list itself is one audit.read
			t.Errorf("a replay changed the trail: %d records, then %d", before, after)
		}

		// The admin sees its account's records, newest first, sequences 1, 2, 3…
		mine := auditRecords(t, e, admin, "")
		for i, rec := range mine {
			if rec["account_id"] != acct || rec["sequence"] != float64(len(mine)-i) {
				t.Fatalf("admin list item %d: account %v sequence %v of %d", i, rec["account_id"], rec["sequence"], len(mine))
			}
		}
		for _, key := range []string{admin, e.super} {
			path := "/v1/audit_events/verify"
			if key == e.super {
				path += "?account_id=" + acct
			}
			v := e.must(e.as(key, "GET", path, nil), 200).Obj()
			if v["ok"] != true {
				t.Fatalf("verify: %v", v)
			}
		}
		if v := e.must(e.as(e.super, "GET", "/v1/audit_events/verify", nil), 200).Obj(); v["ok"] != true {
			t.Fatalf("verify the platform's chain: %v", v)
		}
	})
}

// superKeyID is the id of the bootstrap superadmin key.
func superKeyID(t *testing.T, e *env) string {
	t.Helper()
	for _, k := range e.must(e.as(e.super, "GET", "/v1/api-keys", nil), 200).Obj()["data"].([]any) {
		k := k.(map[string]any)
		if k["role"] == "superadmin" && strings.HasPrefix(e.super, k["prefix"].(string)) {
			return k["id"].(string)
		}
	}
	t.Fatal("no superadmin key")
	return ""
}
