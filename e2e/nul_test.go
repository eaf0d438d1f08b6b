package e2e

import (
	"net/url"
	"testing"
)

// A NUL character can be stored by neither engine alike (PostgreSQL refuses it): it is a 422 at
// its location, in a body string, a body array item or a list filter, never a 500.
func TestNULCharactersAreRefused(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		a := e.account("Nul Co")
		key := e.key(a["id"].(string), "admin")
		wantProblems(t, e.as(e.super, "POST", "/v1/accounts", map[string]any{"name": "Bad\x00Name"}),
			`["body","name"] string_nul`)
		wantProblems(t, e.as(key, "POST", "/v1/entities", map[string]any{"name": "e", "module_ids": []any{"ok", "b\x00d"},
			"source": nil, "recipient": nil, "description": "x\x00"}),
			`["body","module_ids",1] string_nul`, `["body","description"] string_nul`)
		wantProblems(t, e.as(e.super, "GET", "/v1/accounts?slug="+url.QueryEscape("a\x00b")+"&limit=0", nil),
			`["query","slug"] string_nul`, `["query","limit"] greater_than_equal`)
		e.must(e.as(e.super, "GET", "/v1/accounts?slug=nul-co", nil), 200)
	})
}
