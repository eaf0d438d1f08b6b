package e2e

// Attack review after issue 16, finding A2 (medium): a cursor is unsigned base64url JSON, and
// its sort is checked against every field a cursor may carry (tie-breakers included), not
// against the sorts a client may ask for. A tenant that rewrites "s" in a relationships cursor
// to "relationship_type:asc,entity_id:asc" (a sort the API refuses with 400 invalid_sort) gets
// 200 and a page in that order. No index serves it: on PostgreSQL, 300,000 relationships of one
// account, limit=100, that page took 66–97 ms against 2 ms for the plain first page (both
// /v1 and Lead Bank's starting_after), growing with the account's size, so one key can again
// hold the reader pool (issue 16 finding 4, SPEC §6: every allowed list request is cheap).
// SPEC §6: a cursor that is not one the server issued is garbage: 400 invalid_cursor
// (Lead Bank list: 400 parameters_invalid, starting_after invalid_cursor).

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"testing"

	"github.com/rosterhq/roster"
)

// attackRewriteCursor decodes a cursor the server issued, lets edit change it, and encodes it
// again the way the server does.
func attackRewriteCursor(t *testing.T, tok string, edit func(c map[string]any)) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		t.Fatalf("cursor %q: %v", tok, err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("cursor %s: %v", raw, err)
	}
	edit(c)
	out, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(out)
}

func TestAttackForgedCursorSort(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := str(e.account("Forged Sort"), "id")
		admin := e.key(a, roster.RoleAdmin)
		var ents []any
		for i := 0; i < 4; i++ {
			ents = append(ents, str(entCreate(t, e, admin, entMin("Forged "+string(rune('A'+i)))), "id"))
		}
		for _, typ := range []string{"account_holder", "authorized_user"} {
			e.must(e.as(admin, "POST", "/v1/accounts/"+a+"/entity_relationships/batch",
				map[string]any{"entity_ids": ents, "relationship_type": typ}, "Idempotency-Key", "forge-"+typ), 200)
		}
		list := "/v1/accounts/" + a + "/entity_relationships"
		// The sort itself is refused when asked for.
		wantNative(t, e.as(admin, "GET", list+"?sort=relationship_type:asc", nil), 400, "invalid_sort")
		wantNative(t, e.as(admin, "GET", list+"?sort=entity_id:desc", nil), 400, "invalid_sort")

		first := getPage(t, e, admin, list+"?limit=1")
		if !first.hasNext {
			t.Fatal("no next cursor")
		}
		forged := map[string]string{
			// a prefix of an unindexed order, as a page that stopped early would carry
			"relationship_type first": attackRewriteCursor(t, first.next, func(c map[string]any) {
				c["s"] = "relationship_type:asc,entity_id:asc"
				c["v"] = []any{"account_holder"}
				c["p"] = true
			}),
			"relationship_type then created_at": attackRewriteCursor(t, first.next, func(c map[string]any) {
				c["s"] = "relationship_type:desc,created_at:asc,entity_id:asc"
				c["v"] = []any{"zzz"}
				c["p"] = true
			}),
			"entity_id first": attackRewriteCursor(t, first.next, func(c map[string]any) {
				c["s"] = "entity_id:desc,relationship_type:asc"
				c["v"] = []any{"ffffffffffffffffffffffff"}
				c["p"] = true
			}),
		}
		for name, cur := range forged {
			r := e.as(admin, "GET", list+"?limit=2&cursor="+url.QueryEscape(cur), nil)
			if r.Status != 400 {
				t.Errorf("%s: a cursor whose sort a client may not ask for: want 400 invalid_cursor, got %s", name, r)
				continue
			}
			wantNative(t, r, 400, "invalid_cursor")
			r = e.as(admin, "GET", "/v0/accounts/"+a+"/entity_relationships?limit=2&starting_after="+url.QueryEscape(cur), nil)
			wantBody(t, r, 400, obj{"code": "parameters_invalid", "title": "Bad Request", "detail": anyText, "status": "400",
				"invalid_parameters": arr{obj{"parameter": "starting_after", "reason": "invalid_cursor"}}})
		}
	})
}
