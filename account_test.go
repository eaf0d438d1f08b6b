package roster_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// TestAccountCreate: a create body becomes the stored account, name trimmed, slug given or
// derived from the name (SPEC §7: accents folded, other runs one "-", cut to 50 at a "-").
func TestAccountCreate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	nine := strings.TrimSpace(strings.Repeat("abcdefghij ", 9))
	created := 0
	for _, tc := range []struct {
		name       string
		body       map[string]any
		wantName   string
		wantSlug   string
		wantErrors []string
	}{
		{"derived", map[string]any{"name": "Acme Corp!"}, "Acme Corp!", "acme-corp", success},
		{"accents folded", map[string]any{"name": "Café Déjà Vu"}, "Café Déjà Vu", "cafe-deja-vu", success},
		{"upper-case accents", map[string]any{"name": "ÅNGSTRÖM Labs"}, "ÅNGSTRÖM Labs", "angstrom-labs", success},
		{"more diacritics", map[string]any{"name": "Ünïcödé Ñame"}, "Ünïcödé Ñame", "unicode-name", success},
		{"compatibility forms", map[string]any{"name": "ＷＩＤＥ ﬁnance"}, "ＷＩＤＥ ﬁnance", "wide-finance", success},
		{"letters without a plain form separate", map[string]any{"name": "Rock日本Roll"}, "Rock日本Roll", "rock-roll", success},
		{"name trimmed, runs collapsed", map[string]any{"name": "  Spaced   Out  "}, "Spaced   Out", "spaced-out", success},
		{"punctuation runs", map[string]any{"name": "O'Reilly & Sons, Inc."}, "O'Reilly & Sons, Inc.", "o-reilly-sons-inc", success},
		{"leading and trailing separators", map[string]any{"name": "__Under__score__"}, "__Under__score__", "under-score", success},
		{"digits", map[string]any{"name": "123 Go"}, "123 Go", "123-go", success},
		{"long name cut at a dash", map[string]any{"name": nine}, nine, "abcdefghij-abcdefghij-abcdefghij-abcdefghij", success},
		{"long name, dash right after 50", map[string]any{"name": strings.Repeat("x", 24) + " " + strings.Repeat("y", 25) + " zz"},
			strings.Repeat("x", 24) + " " + strings.Repeat("y", 25) + " zz", strings.Repeat("x", 24) + "-" + strings.Repeat("y", 25), success},
		{"long name, dash at 50", map[string]any{"name": strings.Repeat("q", 49) + " rrr"}, strings.Repeat("q", 49) + " rrr", strings.Repeat("q", 49), success},
		{"long name without a dash", map[string]any{"name": strings.Repeat("w", 60)}, strings.Repeat("w", 60), strings.Repeat("w", 50), success},
		{"name of 100 characters, 200 bytes", map[string]any{"name": strings.Repeat("é", 100)}, strings.Repeat("é", 100), strings.Repeat("e", 50), success},
		{"name of 2 characters, 4 bytes", map[string]any{"name": "Éé"}, "Éé", "ee", success},
		{"slug given", map[string]any{"name": "Given Slug", "slug": "a1-b2-c3"}, "Given Slug", "a1-b2-c3", success},
		{"slug null is derived", map[string]any{"name": "Null Slug", "slug": nil}, "Null Slug", "null-slug", success},
		{"slug of 50", map[string]any{"name": "Long Slug", "slug": strings.Repeat("s", 25) + "-" + strings.Repeat("t", 24)},
			"Long Slug", strings.Repeat("s", 25) + "-" + strings.Repeat("t", 24), success},
		{"read-only fields ignored", map[string]any{"name": "Echo Co", "id": unknownAccount, "created_at": "1999-01-01T00:00:00Z", "updated_at": 5},
			"Echo Co", "echo-co", success},

		{"name missing", map[string]any{}, "", "", []string{`["body","name"] missing`}},
		{"name null", map[string]any{"name": nil}, "", "", []string{`["body","name"] string_type`}},
		{"name a number", map[string]any{"name": 5}, "", "", []string{`["body","name"] string_type`}},
		{"name of 1 after trimming", map[string]any{"name": "   a   "}, "", "", []string{`["body","name"] string_too_short`}},
		{"name of 101 characters", map[string]any{"name": strings.Repeat("é", 101)}, "", "", []string{`["body","name"] string_too_long`}},
		{"derived slug empty", map[string]any{"name": "!!"}, "", "", []string{`["body","slug"] string_too_short`}},
		{"derived slug of 1", map[string]any{"name": "¡É!"}, "", "", []string{`["body","slug"] string_too_short`}},
		{"derived slug from letters without a plain form", map[string]any{"name": "日本"}, "", "", []string{`["body","slug"] string_too_short`}},
		{"slug of 1", map[string]any{"name": "Valid Name", "slug": "a"}, "", "", []string{`["body","slug"] string_too_short`}},
		{"slug of 51", map[string]any{"name": "Valid Name", "slug": strings.Repeat("s", 51)}, "", "", []string{`["body","slug"] string_too_long`}},
		{"slug upper case", map[string]any{"name": "Valid Name", "slug": "Abc"}, "", "", []string{`["body","slug"] string_pattern_mismatch`}},
		{"slug double dash", map[string]any{"name": "Valid Name", "slug": "a--b"}, "", "", []string{`["body","slug"] string_pattern_mismatch`}},
		{"slug trailing dash", map[string]any{"name": "Valid Name", "slug": "ab-"}, "", "", []string{`["body","slug"] string_pattern_mismatch`}},
		{"slug accent", map[string]any{"name": "Valid Name", "slug": "café"}, "", "", []string{`["body","slug"] string_pattern_mismatch`}},
		{"slug a number", map[string]any{"name": "Valid Name", "slug": 12}, "", "", []string{`["body","slug"] string_type`}},
		{"name and slug", map[string]any{"name": "x", "slug": "A"}, "", "", []string{`["body","name"] string_too_short`, `["body","slug"] string_too_short`}},
		{"bad name, no derived slug problem", map[string]any{"name": "a", "slug": nil}, "", "", []string{`["body","name"] string_too_short`}},
		{"extra fields", map[string]any{"name": "Valid Name", "Name": "x", "deleted_at": nil},
			"", "", []string{`["body","Name"] extra_forbidden`, `["body","deleted_at"] extra_forbidden`}},
		{"not an object", nil, "", "", []string{`["body"] model_attributes_type`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any = tc.body
			if tc.body == nil {
				body = []any{"Acme"}
			}
			a, err := f.svc.CreateAccount(f.ctx, f.req(f.super), jsonBody(body))
			wantOutcome(t, err, tc.wantErrors...)
			if err != nil {
				return
			}
			created++
			if a.Name != tc.wantName || a.Slug != tc.wantSlug || a.Status != roster.AccountActive || !a.CreatedAt.Equal(a.UpdatedAt) {
				t.Fatalf("created %+v, want name %q slug %q", a, tc.wantName, tc.wantSlug)
			}
			stored, err := f.svc.Account(f.ctx, a.ID)
			if err != nil || stored != a {
				t.Fatalf("stored %+v (%v), want %+v", stored, err, a)
			}
		})
	}
	t.Run("a bad body creates nothing", func(t *testing.T) {
		page, err := f.svc.ListAccounts(f.ctx, f.super, roster.PageRequest{Limit: 100, Filters: map[string]string{}})
		if err != nil || len(page.Items) != created {
			t.Fatalf("%d accounts (%v), want the %d created", len(page.Items), err, created)
		}
	})
}

// TestAccountSlugTaken: a slug, given or derived, is unique among accounts not deleted; a
// deletion or a new slug frees it (SPEC §7).
func TestAccountSlugTaken(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	owner := f.patchAccount(f.account("First Owner").ID, map[string]any{"slug": "taken"})
	other := f.account("Other Owner")
	admin := f.key(other.ID, roster.RoleAdmin)
	for _, tc := range []struct {
		name string
		do   func() error
		want []string
	}{
		{"create, slug given", func() error { return create(f, map[string]any{"name": "Second", "slug": "taken"}) }, refused(roster.CodeSlugTaken)},
		{"create, slug derived", func() error { return create(f, map[string]any{"name": "Taken"}) }, refused(roster.CodeSlugTaken)},
		{"create, derived from case and punctuation", func() error { return create(f, map[string]any{"name": " TAKEN!! "}) }, refused(roster.CodeSlugTaken)},
		{"create, derived from accents", func() error { return create(f, map[string]any{"name": "Tâkén"}) }, refused(roster.CodeSlugTaken)},
		{"validation first", func() error { return create(f, map[string]any{"name": "x", "slug": "taken"}) }, []string{`["body","name"] string_too_short`}},
		{"patch by a superadmin", func() error { return patch(f, f.super, other.ID, map[string]any{"slug": "taken"}) }, refused(roster.CodeSlugTaken)},
		{"patch by the admin", func() error { return patch(f, admin, other.ID, map[string]any{"name": "Renamed", "slug": "taken"}) }, refused(roster.CodeSlugTaken)},
		{"its own slug", func() error { return patch(f, f.super, owner.ID, map[string]any{"slug": "taken"}) }, success},
		{"the old slug after a new one", func() error {
			if err := patch(f, f.super, owner.ID, map[string]any{"slug": "was-taken"}); err != nil {
				return err
			}
			return create(f, map[string]any{"name": "Taken"})
		}, success},
		{"the new slug", func() error { return create(f, map[string]any{"name": "Was Taken"}) }, refused(roster.CodeSlugTaken)},
		{"a deleted account's slug", func() error {
			if err := patch(f, f.super, owner.ID, map[string]any{"deleted": true}); err != nil {
				return err
			}
			return create(f, map[string]any{"name": "Was Taken"})
		}, success},
	} {
		t.Run(tc.name, func(t *testing.T) { wantOutcome(t, tc.do(), tc.want...) })
	}
	// The refused patches changed nothing.
	if got, err := f.svc.Account(f.ctx, other.ID); err != nil || got != other {
		t.Fatalf("other %+v (%v), want %+v", got, err, other)
	}
}

func create(f *fixture, body map[string]any) error {
	_, err := f.svc.CreateAccount(f.ctx, f.req(f.super), jsonBody(body))
	return err
}

func patch(f *fixture, p roster.Principal, id string, body any) error {
	_, err := f.svc.PatchAccount(f.ctx, f.req(p), id, jsonBody(body))
	return err
}

// TestAccountPatch: what each caller may change (status and deleted by a superadmin only, and
// for another role 403 only when the value would change), what a body may hold, and that
// updated_at moves on a change and only then (SPEC §5, §7).
func TestAccountPatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const superadmin, admin = "superadmin", "admin"
	type state struct{ name, slug, status string }
	for i, tc := range []struct {
		name   string
		caller string
		body   any
		want   []string
		after  state // "" fields: as created; the account is "Patch N" with slug "patch-n"
		moves  bool
	}{
		{"rename, trimmed", superadmin, map[string]any{"name": "  Patched  "}, success, state{name: "Patched"}, true},
		{"new slug", superadmin, map[string]any{"slug": "new-slug"}, success, state{slug: "new-slug"}, true},
		{"suspend", superadmin, map[string]any{"status": "suspended"}, success, state{status: "suspended"}, true},
		{"everything", superadmin, map[string]any{"name": "All New", "slug": "all-new", "status": "suspended"}, success,
			state{"All New", "all-new", "suspended"}, true},
		{"admin renames", admin, map[string]any{"name": "By Admin", "slug": "by-admin"}, success, state{name: "By Admin", slug: "by-admin"}, true},
		{"admin, same status", admin, map[string]any{"status": "active"}, success, state{}, false},
		{"admin, same status and a new name", admin, map[string]any{"status": "active", "name": "Renamed"}, success, state{name: "Renamed"}, true},
		{"admin, new status", admin, map[string]any{"status": "suspended", "name": "Renamed"}, refused(roster.CodeForbidden), state{}, false},
		{"admin, deleted false", admin, map[string]any{"deleted": false}, success, state{}, false},
		{"admin, deleted true", admin, map[string]any{"deleted": true}, refused(roster.CodeForbidden), state{}, false},
		{"admin, null status and deleted", admin, map[string]any{"status": nil, "deleted": nil}, success, state{}, false},
		// The superadmin-only rule depends on the stored value: it is the operation's, after
		// validation.
		{"admin, new status and a bad name", admin, map[string]any{"status": "suspended", "name": "x"}, []string{`["body","name"] string_too_short`}, state{}, false},
		{"empty body", superadmin, map[string]any{}, success, state{}, false},
		{"null for every field", superadmin, map[string]any{"name": nil, "slug": nil, "status": nil, "deleted": nil}, success, state{}, false},
		{"same values", superadmin, map[string]any{"name": " Patch %d ", "slug": "patch-%d", "status": "active"}, success, state{}, false},
		{"read-only fields", superadmin, map[string]any{"id": unknownAccount, "created_at": "2000-01-01T00:00:00Z", "updated_at": 7}, success, state{}, false},
		{"no body", superadmin, nil, []string{`["body"] missing`}, state{}, false},
		{"not an object", superadmin, "[1]", []string{`["body"] model_attributes_type`}, state{}, false},
		{"malformed JSON", superadmin, `{"name":`, []string{`["body",8] json_invalid`}, state{}, false},
		{"name empty", superadmin, map[string]any{"name": ""}, []string{`["body","name"] string_too_short`}, state{}, false},
		{"name of 101", admin, map[string]any{"name": strings.Repeat("n", 101)}, []string{`["body","name"] string_too_long`}, state{}, false},
		{"slug pattern", admin, map[string]any{"slug": "Bad Slug"}, []string{`["body","slug"] string_pattern_mismatch`}, state{}, false},
		{"slug a list", admin, map[string]any{"slug": []any{"a"}}, []string{`["body","slug"] string_type`}, state{}, false},
		{"status unknown", superadmin, map[string]any{"status": "deleted"}, []string{`["body","status"] enum`}, state{}, false},
		{"status upper case", superadmin, map[string]any{"status": "ACTIVE"}, []string{`["body","status"] enum`}, state{}, false},
		{"deleted a string", superadmin, map[string]any{"deleted": "true"}, []string{`["body","deleted"] bool_type`}, state{}, false},
		{"all problems at once", admin, map[string]any{"name": "x", "slug": "X", "status": "gone", "deleted": "no", "extra": 1},
			[]string{`["body","name"] string_too_short`, `["body","slug"] string_too_short`, `["body","status"] enum`, `["body","deleted"] bool_type`, `["body","extra"] extra_forbidden`}, state{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := i + 1
			a := f.patchAccount(f.account("Patch "+strconv.Itoa(n)).ID, map[string]any{"slug": "patch-" + strconv.Itoa(n)})
			p := f.super
			if tc.caller == admin {
				p = f.key(a.ID, roster.RoleAdmin)
			}
			f.advance(time.Second)
			got, err := f.svc.PatchAccount(f.ctx, f.req(p), a.ID, requestBody(tc.body, strings.NewReplacer("%d", strconv.Itoa(n))))
			wantOutcome(t, err, tc.want...)
			want := a
			if err == nil {
				if tc.after.name != "" {
					want.Name = tc.after.name
				}
				if tc.after.slug != "" {
					want.Slug = tc.after.slug
				}
				if tc.after.status != "" {
					want.Status = roster.AccountStatus(tc.after.status)
				}
				if tc.moves {
					want.UpdatedAt = f.clock()
				}
				if got != want {
					t.Fatalf("answered %+v, want %+v", got, want)
				}
			}
			if stored, err := f.svc.Account(f.ctx, a.ID); err != nil || stored != want {
				t.Fatalf("stored %+v (%v), want %+v", stored, err, want)
			}
		})
	}
}

// TestAccountDelete: deleted:true answers with the account as it was, other fields ignored;
// then the account is 404 everywhere, gone from lists, its slug free, its keys refused and its
// entities and relationships gone (SPEC §7).
func TestAccountDelete(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.account("Doomed Co")
	admin := f.key(a.ID, roster.RoleAdmin)
	ck, err := f.svc.CreateKey(f.ctx, roster.Operator(), jsonBody(map[string]any{"name": "r", "account_id": a.ID, "role": "reader"}))
	if err != nil {
		t.Fatal(err)
	}
	e := f.entity(admin, minimal("Its Entity"))
	rel := f.idem(admin, "rel", "rel")
	if _, err := f.svc.CreateRelationships(f.ctx, rel, a.ID, jsonBody(map[string]any{"entity_ids": []any{e.ID}, "relationship_type": "account_holder"})); err != nil {
		t.Fatal(err)
	}
	survivor := f.account("Survivor Co")
	f.advance(time.Second)
	got, err := f.svc.PatchAccount(f.ctx, f.req(f.super), a.ID, jsonBody(map[string]any{"deleted": true, "name": "Ignored", "slug": "ignored", "status": "suspended"}))
	wantOutcome(t, err, success...)
	want := a
	want.Deleted, want.UpdatedAt = true, f.clock()
	if got != want {
		t.Fatalf("answered %+v, want %+v", got, want)
	}
	for _, tc := range []struct {
		name string
		do   func() error
		want []string
	}{
		{"read", func() error { _, err := f.svc.Account(f.ctx, a.ID); return err }, refused(roster.CodeNotFound)},
		{"rename", func() error { return patch(f, f.super, a.ID, map[string]any{"name": "Revived"}) }, refused(roster.CodeNotFound)},
		{"delete again", func() error { return patch(f, f.super, a.ID, map[string]any{"deleted": true}) }, refused(roster.CodeNotFound)},
		{"deleted false", func() error { return patch(f, f.super, a.ID, map[string]any{"deleted": false}) }, refused(roster.CodeNotFound)},
		{"empty patch", func() error { return patch(f, f.super, a.ID, map[string]any{}) }, refused(roster.CodeNotFound)},
		{"an id that names nothing", func() error { return patch(f, f.super, "", map[string]any{"name": "Nobody"}) }, refused(roster.CodeNotFound)},
		{"validation before the look-up", func() error { return patch(f, f.super, a.ID, map[string]any{"name": "x"}) }, []string{`["body","name"] string_too_short`}},
		{"its key", func() error { _, err := f.svc.Authenticate(f.ctx, ck.Secret); return err }, refused(roster.CodeUnauthorized)},
		{"a write of a key authenticated before", func() error {
			_, err := f.svc.CreateEntity(f.ctx, f.req(admin), []byte(`{"name":"n","module_ids":[],"source":null,"recipient":null}`))
			return err
		}, refused(roster.CodeUnauthorized)},
		{"an entity for it", func() error {
			_, err := f.svc.CreateEntity(f.ctx, f.req(f.super), jsonBody(map[string]any{"account_id": a.ID, "name": "n", "module_ids": []any{}, "source": nil, "recipient": nil}))
			return err
		}, []string{`["body","account_id"] not_found`}},
		{"a key for it", func() error {
			_, err := f.svc.CreateKey(f.ctx, f.req(f.super), jsonBody(map[string]any{"account_id": a.ID, "name": "k"}))
			return err
		}, refused(roster.CodeNotFound)},
		{"its entity", func() error { _, err := f.svc.Entity(f.ctx, f.super, e.ID); return err }, refused(roster.CodeNotFound)},
		{"its entity, patched", func() error {
			_, err := f.svc.UpdateEntity(f.ctx, f.req(f.super), e.ID, []byte(`{"name":"x"}`), roster.EntityPatch)
			return err
		}, refused(roster.CodeNotFound)},
		{"its entities listed", func() error {
			page, err := f.svc.ListEntities(f.ctx, f.super, roster.EntityListing, roster.PageRequest{Limit: 100, Filters: map[string]string{}})
			if err == nil && len(page.Items) != 0 {
				return roster.Errorf("listed", "%d entities", len(page.Items))
			}
			return err
		}, success},
		{"its relationships", func() error {
			_, err := f.svc.ListRelationships(f.ctx, f.super, a.ID, roster.PageRequest{Limit: 100, Filters: map[string]string{}})
			return err
		}, refused(roster.CodeNotFound)},
		{"its relationship deleted", func() error {
			_, err := f.svc.DeleteRelationship(f.ctx, f.req(f.super), a.ID, e.ID, "account_holder")
			return err
		}, refused(roster.CodeNotFound)},
		{"its slug", func() error { return create(f, map[string]any{"name": "Doomed Co"}) }, success},
	} {
		t.Run(tc.name, func(t *testing.T) { wantOutcome(t, tc.do(), tc.want...) })
	}
	page, err := f.svc.ListAccounts(f.ctx, f.super, roster.PageRequest{Limit: 100, Filters: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range page.Items {
		if x.ID == a.ID {
			t.Fatalf("the deleted account is listed")
		}
		names = append(names, x.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"Doomed Co", survivor.Name}) {
		t.Fatalf("listed %v", names)
	}
}

// TestAccountList: the filters of the account list and its scope: a superadmin sees every
// account, any other key its own; ?slug= with no match is 404 (SPEC §6, §7).
func TestAccountList(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, b := f.account("List Alpha"), f.account("List Beta")
	f.patchAccount(b.ID, map[string]any{"status": "suspended"})
	reader := f.key(a.ID, roster.RoleReader)
	for _, tc := range []struct {
		name    string
		p       roster.Principal
		filters map[string]string
		want    []string
		names   []string
	}{
		{"superadmin, all", f.super, nil, success, []string{"List Alpha", "List Beta"}},
		{"superadmin, by slug", f.super, map[string]string{"slug": "list-beta"}, success, []string{"List Beta"}},
		{"superadmin, unknown slug", f.super, map[string]string{"slug": "nope"}, refused(roster.CodeNotFound), nil},
		{"superadmin, by status", f.super, map[string]string{"status": "suspended"}, success, []string{"List Beta"}},
		{"superadmin, bad status", f.super, map[string]string{"status": "gone"}, []string{`["query","status"] enum`}, nil},
		{"superadmin, one account", f.super, map[string]string{"account_id": a.ID}, success, []string{"List Alpha"}},
		{"superadmin, an unknown account", f.super, map[string]string{"account_id": unknownAccount}, success, []string{}},
		{"superadmin, a malformed account", f.super, map[string]string{"account_id": "nope!"}, []string{`["query","account_id"] string_pattern_mismatch`}, nil},
		{"reader, its own", reader, nil, success, []string{"List Alpha"}},
		{"reader, its own named", reader, map[string]string{"account_id": strings.ToUpper(a.ID)}, success, []string{"List Alpha"}},
		{"reader, another's slug", reader, map[string]string{"slug": "list-beta"}, refused(roster.CodeNotFound), nil},
		{"reader, another account", reader, map[string]string{"account_id": b.ID}, refused(roster.CodeForbidden), nil},
		{"reader, a malformed account", reader, map[string]string{"account_id": "nope!"}, refused(roster.CodeForbidden), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			filters := tc.filters
			if filters == nil {
				filters = map[string]string{}
			}
			page, err := f.svc.ListAccounts(f.ctx, tc.p, roster.PageRequest{Limit: 100, Filters: filters})
			wantOutcome(t, err, tc.want...)
			if err != nil {
				return
			}
			names := []string{}
			for _, x := range page.Items {
				names = append(names, x.Name)
			}
			slices.Sort(names)
			if !slices.Equal(names, tc.names) {
				t.Fatalf("listed %v, want %v", names, tc.names)
			}
		})
	}
}

// TestAccountCreateGivenSlugNotDerived: a slug the client gave, even one that is not a valid
// string, is not "omitted or null" (SPEC §7), so no slug is derived from the name for it and the
// body's one problem at ["body","slug"] is the given slug's.
func TestAccountCreateGivenSlugNotDerived(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		body string
		want string
	}{
		{"a number", `{"name":"!!","slug":12}`, `["body","slug"] string_type`},
		{"a NUL", `{"name":"!!","slug":"a\u0000b"}`, `["body","slug"] string_nul`},
		{"a lone surrogate", `{"name":"!!","slug":"\ud800"}`, `["body","slug"] string_unicode`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.CreateAccount(f.ctx, f.req(f.super), []byte(tc.body))
			wantOutcome(t, err, tc.want)
		})
	}
}
