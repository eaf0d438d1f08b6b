package e2e

import "testing"

func TestSmokeAccounts(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		a := e.account("Acme Corp!")
		if a["slug"] != "acme-corp" {
			t.Fatalf("slug: %v", a)
		}
		admin := e.key(a["id"].(string), "admin")
		r := e.must(e.as(admin, "GET", "/v1/accounts/"+a["id"].(string), nil), 200)
		if r.Obj()["id"] != a["id"] {
			t.Fatal(r)
		}
		wantError(t, e.as(admin, "POST", "/v1/accounts", map[string]any{"name": "x"}), 403, "forbidden")
		wantProblems(t, e.as(e.super, "POST", "/v1/accounts", map[string]any{"name": "x", "slug": "A B", "extra": 1}),
			`["body","name"] string_too_short`, `["body","slug"] string_pattern_mismatch`, `["body","extra"] extra_forbidden`)
	})
}
