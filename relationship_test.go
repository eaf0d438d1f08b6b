package roster_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
)

// relationships lists the account's relationships as "entity type", in list order.
func relationships(t *testing.T, f *fixture, accountID string) []string {
	t.Helper()
	page, err := f.svc.ListRelationships(f.ctx, f.super, accountID, roster.PageRequest{Limit: 100, Filters: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, r := range page.Items {
		out = append(out, r.EntityID+" "+r.Type)
	}
	return out
}

// TestRelationshipBatch: a batch puts 1 to 20 distinct entities of the account in a role, all
// or nothing; every id that names no entity of the account is a not_found item at its index;
// an Idempotency-Key is required (SPEC §9, §4).
func TestRelationshipBatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.account("Batch Co")
	admin := f.key(a.ID, roster.RoleAdmin)
	var es []string
	for range 21 {
		es = append(es, f.entity(admin, minimal("E")).ID)
	}
	foreign := f.entity(f.key(f.account("Elsewhere").ID, roster.RoleAdmin), minimal("Foreign")).ID
	deleted := f.entity(admin, minimal("Deleted")).ID
	if _, err := f.svc.DeleteEntity(f.ctx, f.req(admin), deleted); err != nil {
		t.Fatal(err)
	}
	gone := f.account("Gone Co")
	f.patchAccount(gone.ID, map[string]any{"deleted": true})
	ids := func(v ...string) []any {
		out := make([]any, len(v))
		for i, s := range v {
			out[i] = s
		}
		return out
	}
	unknown := strings.Repeat("0", 24)
	body := func(entityIDs any, typ any) map[string]any {
		return map[string]any{"entity_ids": entityIDs, "relationship_type": typ}
	}
	const holder, signer, user = "account_holder", "authorized_signer", "authorized_user"
	const noKey = "\x00none" // a row sent without an Idempotency-Key
	for _, tc := range []struct {
		name    string
		p       roster.Principal
		account string // "" for a's
		key     string // "" for one of the row's own
		body    any
		want    []string
		stored  []string // the entities that then hold the role, for a success
	}{
		{"one", admin, "", "", body(ids(es[0]), holder), success, es[:1]},
		{"every id form, in request order", admin, "", "", body(ids(es[2], "entity_"+es[1], strings.ToUpper(es[0])), signer), success, []string{es[2], es[1], es[0]}},
		{"existing pairs are fine", admin, "", "", body(ids(es[0], es[1]), holder), success, es[:2]},
		{"20", admin, "", "", body(ids(es[:20]...), user), success, es[:20]},
		{"21", admin, "", "", body(ids(es...), user), []string{`["body","entity_ids"] too_long`}, nil},
		{"21, items not judged", admin, "", "", body(append(ids(es[:20]...), 5), user), []string{`["body","entity_ids"] too_long`}, nil},
		{"empty", admin, "", "", body([]any{}, holder), []string{`["body","entity_ids"] too_short`}, nil},
		{"the same id twice", admin, "", "", body(ids(es[0], es[1], es[0]), holder), []string{`["body","entity_ids",2] duplicate`}, nil},
		{"the same entity in two forms", admin, "", "", body(ids(es[0], "entity_"+strings.ToUpper(es[0])), holder), []string{`["body","entity_ids",1] duplicate`}, nil},
		{"the same id that names nothing twice", admin, "", "", body(ids("entity_xyz", "entity_xyz"), holder), []string{`["body","entity_ids",1] duplicate`}, nil},
		{"malformed ids", admin, "", "", body(ids(es[0], "entity_a b", "nope"), holder),
			[]string{`["body","entity_ids",1] string_pattern_mismatch`, `["body","entity_ids",2] string_pattern_mismatch`}, nil},
		{"ids that name no entity of the account", admin, "", "", body(ids(es[3], foreign, es[4], unknown, "entity_xyz", deleted), user),
			[]string{`["body","entity_ids",1] not_found`, `["body","entity_ids",3] not_found`, `["body","entity_ids",4] not_found`, `["body","entity_ids",5] not_found`}, nil},
		{"entity_ids missing", admin, "", "", map[string]any{"relationship_type": holder}, []string{`["body","entity_ids"] missing`}, nil},
		{"entity_ids null", admin, "", "", body(nil, holder), []string{`["body","entity_ids"] list_type`}, nil},
		{"entity_ids a string", admin, "", "", body(es[0], holder), []string{`["body","entity_ids"] list_type`}, nil},
		{"an item not a string", admin, "", "", body([]any{es[0], 7}, holder), []string{`["body","entity_ids",1] string_type`}, nil},
		{"type missing", admin, "", "", map[string]any{"entity_ids": ids(es[0])}, []string{`["body","relationship_type"] missing`}, nil},
		{"type null", admin, "", "", body(ids(es[0]), nil), []string{`["body","relationship_type"] enum`}, nil},
		{"type unknown", admin, "", "", body(ids(es[0]), "owner"), []string{`["body","relationship_type"] enum`}, nil},
		{"type a number", admin, "", "", body(ids(es[0]), 1), []string{`["body","relationship_type"] string_type`}, nil},
		{"extra field", admin, "", "", with(body(ids(es[0]), holder), "note", "x"), []string{`["body","note"] extra_forbidden`}, nil},
		{"not an object", admin, "", "", []any{es[0]}, []string{`["body"] model_attributes_type`}, nil},
		{"no Idempotency-Key", admin, "", noKey, body(ids(es[0]), holder), refused(roster.CodeIdempotencyKeyMissing), nil},
		{"no Idempotency-Key and a bad body", admin, "", noKey, body([]any{}, holder), []string{`["body","entity_ids"] too_short`}, nil},
		{"an Idempotency-Key of 256, with the body's problems", admin, "", strings.Repeat("k", 256), body([]any{}, "owner"),
			[]string{`["header","Idempotency-Key"] string_too_long`, `["body","entity_ids"] too_short`, `["body","relationship_type"] enum`}, nil},
		{"an Idempotency-Key of 255 characters", admin, "", strings.Repeat("é", 255), body(ids(es[5]), holder), success, es[5:6]},
		{"an Idempotency-Key with a NUL", admin, "", "k\x00", body(ids(es[0]), "owner"),
			[]string{`["header","Idempotency-Key"] string_nul`, `["body","relationship_type"] enum`}, nil},
		{"an Idempotency-Key not UTF-8", admin, "", "k\xff", body(ids(es[0]), holder), []string{`["header","Idempotency-Key"] string_unicode`}, nil},
		{"superadmin", f.super, "", "", body(ids(es[6]), holder), success, es[6:7]},
		{"superadmin, another account's entity", f.super, "", "", body(ids(foreign), holder), []string{`["body","entity_ids",0] not_found`}, nil},
		{"superadmin, an account that names nothing", f.super, "-", "", body(ids(es[0]), holder), refused(roster.CodeNotFound), nil},
		{"superadmin, an unknown account", f.super, unknown, "", body(ids(es[0]), holder), refused(roster.CodeNotFound), nil},
		{"superadmin, a deleted account", f.super, gone.ID, "", body(ids(es[0]), holder), refused(roster.CodeNotFound), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			account := a.ID
			switch tc.account {
			case "":
			case "-":
				account = "" // Allow's answer for a well-formed id that names nothing
			default:
				account = tc.account
			}
			r := f.idem(tc.p, "batch "+tc.name, tc.name)
			switch tc.key {
			case "":
			case noKey:
				r.IdempotencyKey = ""
			default:
				r.IdempotencyKey = tc.key
			}
			before := relationships(t, f, a.ID)
			got, err := f.svc.CreateRelationships(f.ctx, r, account, jsonBody(tc.body))
			wantOutcome(t, err, tc.want...)
			after := relationships(t, f, a.ID)
			if err != nil {
				if !slices.Equal(before, after) {
					t.Fatalf("a refused batch wrote: %v → %v", before, after)
				}
				return
			}
			typ := tc.body.(map[string]any)["relationship_type"].(string)
			if got.AccountID != a.ID || got.Type != typ || !slices.Equal(got.EntityIDs, tc.stored) {
				t.Fatalf("answered %+v, want %v", got, tc.stored)
			}
			for _, id := range tc.stored {
				if !slices.Contains(after, id+" "+typ) {
					t.Fatalf("%s does not hold %s: %v", id, typ, after)
				}
			}
		})
	}
}

// TestRelationshipIdempotency: the same key and request answer the saved response without
// running again; the same key with another request, or while the first runs, is 409; a refused
// request releases its key, so the client may fix the cause and retry with it (SPEC §4).
func TestRelationshipIdempotency(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.account("Replay Co")
	admin := f.key(a.ID, roster.RoleAdmin)
	e := f.entity(admin, minimal("E"))
	body := jsonBody(map[string]any{"entity_ids": []any{e.ID}, "relationship_type": "account_holder"})
	first := f.idem(admin, "k1", "fp1")
	if _, err := f.svc.CreateRelationships(f.ctx, first, a.ID, body); err != nil || first.Replayed || first.Body == nil {
		t.Fatalf("first: %v, replayed %v, saved %s", err, first.Replayed, first.Body)
	}
	sibling := f.key(a.ID, roster.RoleAdmin)                                    // keys are scoped to the account (SPEC §4)
	otherSuper := f.keyFor(`{"name":"another superadmin","role":"superadmin"}`) // and a superadmin's to its key
	later := f.entity(admin, minimal("Later"))                                  // for the retry below
	retry := jsonBody(map[string]any{"entity_ids": []any{later.ID}, "relationship_type": "authorized_user"})
	// A request that holds "held" and has not finished.
	if c, replay, err := f.svc.ClaimKey(f.ctx, admin, "held", "fp5"); err != nil || c == nil || replay != nil {
		t.Fatalf("claim: %v %v %v", c, replay, err)
	}
	for _, tc := range []struct {
		name     string
		p        roster.Principal
		key, fp  string
		body     []byte
		want     []string
		replayed bool
	}{
		{"the same request", admin, "k1", "fp1", body, success, true},
		{"another request", admin, "k1", "fp2", body, refused(roster.CodeIdempotencyKeyReused), false},
		{"the same request by another key of the account", sibling, "k1", "fp1", body, success, true},
		{"the same key in a superadmin's scope", f.super, "k1", "fp1", body, success, false},
		{"the same key in another superadmin's scope", otherSuper, "k1", "fp1", body, success, false},
		{"a refused request", admin, "k2", "fp3", jsonBody(map[string]any{"entity_ids": []any{strings.Repeat("0", 24)}, "relationship_type": "authorized_user"}),
			[]string{`["body","entity_ids",0] not_found`}, false},
		{"its key is free again", admin, "k2", "fp4", retry, success, false},
		{"and then saved", admin, "k2", "fp4", retry, success, true},
		{"while the first is in flight", admin, "held", "fp5", retry, refused(roster.CodeIdempotencyKeyInFlight), false},
		{"another request while the first is in flight", admin, "held", "fp6", retry, refused(roster.CodeIdempotencyKeyReused), false},
		// Validation comes before a replay: a replay never answers a body that is not valid.
		{"a replay's key with a body that is not valid", admin, "k2", "fp4", nil, []string{`["body"] missing`}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.idem(tc.p, tc.key, tc.fp)
			_, err := f.svc.CreateRelationships(f.ctx, r, a.ID, tc.body)
			wantOutcome(t, err, tc.want...)
			if r.Replayed != tc.replayed {
				t.Fatalf("replayed %v, want %v", r.Replayed, tc.replayed)
			}
			if tc.replayed && tc.fp == "fp1" && string(r.Body) != string(first.Body) {
				t.Fatalf("replayed %s, want %s", r.Body, first.Body)
			}
		})
	}
}

// TestRelationshipDelete: one relationship goes, and the answer is the account's remaining
// ones; a missing or bad type is 422, a relationship that does not exist 404 (SPEC §9). An
// entity's deletion removes its relationships.
func TestRelationshipDelete(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.account("Unrelate Co")
	admin := f.key(a.ID, roster.RoleAdmin)
	e1, e2 := f.entity(admin, minimal("One")), f.entity(admin, minimal("Two"))
	foreign := f.entity(f.key(f.account("Elsewhere").ID, roster.RoleAdmin), minimal("Foreign"))
	for _, typ := range []string{"account_holder", "authorized_user"} {
		r := f.idem(admin, "setup "+typ, typ)
		if _, err := f.svc.CreateRelationships(f.ctx, r, a.ID, jsonBody(map[string]any{"entity_ids": []any{e1.ID, e2.ID}, "relationship_type": typ})); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, account, entity, typ string
		want                       []string
		rest                       int // relationships left, on success
	}{
		{"one", a.ID, "entity_" + e1.ID, "account_holder", success, 3},
		{"again", a.ID, e1.ID, "account_holder", refused(roster.CodeNotFound), 0},
		{"bare upper-case id", a.ID, strings.ToUpper(e2.ID), "account_holder", success, 2},
		{"type missing", a.ID, e1.ID, "", []string{`["query","relationship_type"] missing`}, 0},
		{"type unknown", a.ID, e1.ID, "owner", []string{`["query","relationship_type"] enum`}, 0},
		{"malformed entity and type", a.ID, "entity_a b", "owner", []string{`["path","entity_id"] string_pattern_mismatch`, `["query","relationship_type"] enum`}, 0},
		{"an entity that names nothing", a.ID, "entity_xyz", "authorized_user", refused(roster.CodeNotFound), 0},
		{"another tenant's entity", a.ID, foreign.ID, "authorized_user", refused(roster.CodeNotFound), 0},
		{"an account that names nothing", "", e1.ID, "authorized_user", refused(roster.CodeNotFound), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rest, err := f.svc.DeleteRelationship(f.ctx, f.req(admin), tc.account, tc.entity, tc.typ)
			wantOutcome(t, err, tc.want...)
			if err == nil && len(rest) != tc.rest {
				t.Fatalf("%d left, want %d: %v", len(rest), tc.rest, rest)
			}
		})
	}
	if _, err := f.svc.DeleteEntity(f.ctx, f.req(admin), e1.ID); err != nil {
		t.Fatal(err)
	}
	if got := relationships(t, f, a.ID); !slices.Equal(got, []string{e2.ID + " authorized_user"}) {
		t.Fatalf("after the entity's deletion: %v", got)
	}
}
