package roster_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	_ "github.com/rosterhq/roster/api" // the native views events render objects with
)

// changeTypes lists the types of what a committed write recorded.
func changeTypes(r *roster.Request) []string {
	var out []string
	for _, c := range r.Changes {
		out = append(out, c.Type)
	}
	return out
}

// eventData renders a change as an event's data and decodes it.
func eventData(t *testing.T, c roster.Change) map[string]map[string]any {
	t.Helper()
	b, err := roster.ChangeData(c, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return out
}

// Every write names exactly the changes SPEC §13 lists, and an update's data carries the old
// values of the fields it changed and nothing else.
func TestWritesRecordTheirChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc := roster.NewService(coreStore(t), nil, nil)
	op := func() *roster.Request { return roster.Operator() }
	n := 0
	keyed := func() *roster.Request { // a batch needs an Idempotency-Key
		n++
		r := roster.Operator()
		r.IdempotencyKey, r.Fingerprint = "batch "+string(rune('a'+n)), "fp"
		r.Render = func(any) (int, []byte, error) { return 200, []byte(`{}`), nil }
		return r
	}
	must := func(r *roster.Request, err error, want ...string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if got := changeTypes(r); !slices.Equal(got, want) {
			t.Fatalf("changes %v, want %v", got, want)
		}
	}

	r := op()
	a, err := svc.CreateAccount(ctx, r, []byte(`{"name":"Changes Ltd"}`))
	must(r, err, "account.created")
	acct := roster.KindAccount.Prefixed(a.ID)

	r = op()
	_, err = svc.PatchAccount(ctx, r, a.ID, []byte(`{"name":"Changes Ltd","slug":"`+a.Slug+`"}`))
	must(r, err) // nothing changed: no change, so no event
	r = op()
	_, err = svc.PatchAccount(ctx, r, a.ID, []byte(`{"name":"Renamed Ltd"}`))
	must(r, err, "account.updated")
	data := eventData(t, r.Changes[0])
	if data["object"]["name"] != "Renamed Ltd" || data["previous_attributes"]["name"] != "Changes Ltd" {
		t.Fatalf("account.updated data %v", data)
	}
	if got := len(data["previous_attributes"]); got != 2 { // name and updated_at
		t.Fatalf("previous_attributes %v, want name and updated_at only", data["previous_attributes"])
	}

	var ids []string
	for _, name := range []string{"one", "two"} {
		r = op()
		e, err := svc.CreateEntity(ctx, r, []byte(`{"account_id":"`+acct+`","name":"`+name+`","module_ids":[],"source":null,"recipient":null}`))
		must(r, err, "entity.created")
		ids = append(ids, roster.KindEntity.Prefixed(e.ID))
	}
	r = keyed()
	_, err = svc.CreateRelationships(ctx, r, a.ID, []byte(`{"entity_ids":["`+ids[0]+`"],"relationship_type":"authorized_user"}`))
	must(r, err, "relationship.created")
	r = keyed()
	_, err = svc.CreateRelationships(ctx, r, a.ID, []byte(`{"entity_ids":["`+ids[1]+`","`+ids[0]+`"],"relationship_type":"authorized_user"}`))
	must(r, err, "relationship.created") // the pair that existed records nothing
	if r.Changes[0].ObjectID != ids[1][len("entity_"):] {
		t.Fatalf("relationship.created for %s, want the new pair's entity", r.Changes[0].ObjectID)
	}
	r = keyed()
	_, err = svc.CreateRelationships(ctx, r, a.ID, []byte(`{"entity_ids":["`+ids[0]+`"],"relationship_type":"account_holder"}`))
	must(r, err, "relationship.created")

	r = op()
	_, err = svc.UpdateEntity(ctx, r, ids[0], []byte(`{"description":"now described"}`), roster.EntityPatch)
	must(r, err, "entity.updated")
	if prev := eventData(t, r.Changes[0])["previous_attributes"]; prev["description"] != nil || len(prev) != 2 {
		t.Fatalf("entity.updated previous_attributes %v, want description (null) and updated_at", prev)
	}
	r = op()
	_, err = svc.DeleteEntity(ctx, r, ids[0])
	must(r, err, "entity.deleted", "relationship.deleted", "relationship.deleted")
	if obj := eventData(t, r.Changes[0])["object"]; obj["description"] != "now described" {
		t.Fatalf("entity.deleted object %v, want the entity as it was", obj)
	}
	r = op()
	_, err = svc.DeleteRelationship(ctx, r, a.ID, ids[1], "authorized_user")
	must(r, err, "relationship.deleted")

	r = op()
	ck, err := svc.CreateKey(ctx, r, roster.KeyCreate{AccountID: a.ID, Role: roster.RoleReader, Name: "reader"}.Body())
	must(r, err, "api_key.created")
	if obj := eventData(t, r.Changes[0])["object"]; obj["key"] != nil || obj["status"] != "active" {
		t.Fatalf("api_key.created object %v: a secret, or not active", obj)
	}
	keyID := roster.KindKey.Prefixed(ck.Key.ID)
	r = op()
	_, err = svc.PatchKey(ctx, r, keyID, []byte(`{"name":"renamed reader"}`))
	must(r, err, "api_key.updated")
	r = op()
	_, err = svc.PatchKey(ctx, r, keyID, []byte(`{"status":"revoked"}`))
	must(r, err, "api_key.revoked")
	if prev := eventData(t, r.Changes[0])["previous_attributes"]; prev["status"] != "active" {
		t.Fatalf("api_key.revoked previous_attributes %v", prev)
	}
	r = op()
	_, err = svc.PatchKey(ctx, r, keyID, []byte(`{"status":"revoked"}`))
	must(r, err) // revoked already
	r = op()
	_, err = svc.PatchKey(ctx, r, keyID, []byte(`{"deleted":true}`))
	must(r, err, "api_key.deleted")

	r = op()
	_, err = svc.PatchAccount(ctx, r, a.ID, []byte(`{"deleted":true}`))
	must(r, err, "account.deleted") // and nothing for what the deletion takes with it

	// A write that fails records nothing.
	r = op()
	if _, err := svc.CreateAccount(ctx, r, []byte(`{"name":"Other","slug":"`+a.Slug+`-x"}`)); err != nil {
		t.Fatal(err)
	}
	r = op()
	_, err = svc.CreateAccount(ctx, r, []byte(`{"name":"Other","slug":"`+a.Slug+`-x"}`))
	if roster.ErrorCode(err) != roster.CodeSlugTaken || len(r.Changes) != 0 {
		t.Fatalf("a refused write: %v, changes %v", err, r.Changes)
	}
}

// TestChangeDataAsEncodingJSON: an event's data for a creation or a deletion is the object's
// view wrapped as it is, byte for byte what encoding/json makes of it (HTML-safe, compact), also
// for text with HTML characters, quotes, controls and characters beyond ASCII.
func TestChangeDataAsEncodingJSON(t *testing.T) {
	now := time.Now()
	text := "<b>A & B</b> \"quoted\" \u2028 é 漢字 \x01 \U0001F600"
	for _, obj := range []any{
		roster.Entity{ID: roster.NewID(now), AccountID: roster.NewID(now), Name: text, ModuleIDs: []string{text}, Description: &text, CreatedAt: now, UpdatedAt: now},
		roster.Account{ID: roster.NewID(now), Name: text, Slug: "a-b", Status: roster.AccountActive, CreatedAt: now, UpdatedAt: now},
	} {
		view, err := roster.RenderObject(obj, now)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(struct {
			Object json.RawMessage `json:"object"`
		}{view})
		if err != nil {
			t.Fatal(err)
		}
		got, err := roster.ChangeData(roster.Change{Type: "entity.created", Object: obj}, now)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("data\n got  %s\n want %s", got, want)
		}
	}
}
