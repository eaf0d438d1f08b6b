package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// Error responses stay small whatever the body (SPEC §10: no response over 8 MiB): at most 100
// problems are reported, then one item that says how many more there were, and a key name the
// client sent is echoed cut to 100 characters.

// boundsUnknownKeys is a body just under 1 MiB: prefix (an object's opening fields) then n
// unknown keys k000000, k000001, …
func boundsUnknownKeys(prefix string, n int) string {
	var b strings.Builder
	b.WriteString(prefix)
	for i := range n {
		fmt.Fprintf(&b, `,"k%06d":0`, i)
	}
	b.WriteString("}")
	return b.String()
}

const boundsKeys = 85_000

// boundsFirst100 is the first 100 extra_forbidden items of boundsUnknownKeys, then the item
// that counts the rest; and the same as LeadConduit's error message and Lead Bank's parameters.
func boundsFirst100() (detail arr, message string, params arr) {
	var parts []string
	for i := range 100 {
		k := fmt.Sprintf("k%06d", i)
		detail = append(detail, obj{"loc": arr{"body", k}, "msg": "Extra inputs are not permitted", "type": "extra_forbidden"})
		parts = append(parts, k+": Extra inputs are not permitted")
		params = append(params, obj{"parameter": k, "reason": "extra_forbidden"})
	}
	more := fmt.Sprintf("%d more problems were not reported (at most 100 are)", boundsKeys-100)
	detail = append(detail, obj{"loc": arr{"body"}, "msg": more, "type": "too_many_problems"})
	parts = append(parts, "body: "+more)
	params = append(params, obj{"parameter": "body", "reason": "too_many_problems"})
	return detail, strings.Join(parts, "; "), params
}

// boundsSmall fails unless the response is far under 8 MiB.
func boundsSmall(t *testing.T, what string, r resp) {
	t.Helper()
	if len(r.Body) > 256<<10 {
		t.Fatalf("%s: %d bytes of error", what, len(r.Body))
	}
}

// TestBoundsManyProblems: a 1 MiB body of 85,000 unknown keys answers the first 100 problems
// and a last item counting the others, on every surface.
func TestBoundsManyProblems(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		acct := str(e.account("Bounds Co"), "id")
		admin := e.key(acct, "admin")
		detail, message, params := boundsFirst100()
		body := boundsUnknownKeys(`{"name":"x","module_ids":[],"source":null,"recipient":null`, boundsKeys)
		if len(body) > 1<<20 {
			t.Fatalf("body of %d bytes is over the 1 MiB limit", len(body))
		}

		r := e.as(admin, "POST", "/v1/entities", body)
		wantBody(t, r, 422, obj{"detail": detail})
		boundsSmall(t, "native", r)

		r = entConduit(e, admin, "POST", "/entities", body)
		wantBody(t, r, 422, obj{"detail": detail, "error": message})
		boundsSmall(t, "LeadConduit", r)

		batch := boundsUnknownKeys(`{"entity_ids":["entity_0123456789abcdef01234567"],"relationship_type":"account_holder"`, boundsKeys)
		r = e.as(admin, "POST", "/v0/accounts/"+acct+"/entity_relationships/batch", batch, "Idempotency-Key", "bounds-1")
		wantBody(t, r, 422, obj{"code": "parameters_invalid", "title": "Unprocessable Entity",
			"detail": "One or more parameters are invalid.", "status": "422", "invalid_parameters": params})
		boundsSmall(t, "Lead Bank", r)

		// 100 problems exactly are all reported, with no counting item.
		r = e.as(admin, "POST", "/v1/entities", boundsUnknownKeys(`{"name":"x","module_ids":[],"source":null,"recipient":null`, 100))
		wantBody(t, r, 422, obj{"detail": detail[:100]})
	})
}

// TestBoundsLongKey: a 1 MiB key name made of "<" (six bytes each once escaped) is echoed cut
// to its first 100 characters and an ellipsis, in loc and in LeadConduit's message.
func TestBoundsLongKey(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		acct := str(e.account("Long Key Co"), "id")
		admin := e.key(acct, "admin")
		key := strings.Repeat("<", 1<<20-100)
		body := `{"name":"x","module_ids":[],"source":null,"recipient":null,"` + key + `":1}`
		cut := strings.Repeat("<", 100) + "…"
		detail := arr{obj{"loc": arr{"body", cut}, "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}}

		r := e.as(admin, "POST", "/v1/entities", body)
		wantBody(t, r, 422, obj{"detail": detail})
		boundsSmall(t, "native", r)

		r = entConduit(e, admin, "POST", "/entities", body)
		wantBody(t, r, 422, obj{"detail": detail, "error": cut + ": Extra inputs are not permitted"})
		boundsSmall(t, "LeadConduit", r)

		batch := `{"entity_ids":["entity_0123456789abcdef01234567"],"relationship_type":"account_holder","` + key + `":1}`
		r = e.as(admin, "POST", "/v0/accounts/"+acct+"/entity_relationships/batch", batch, "Idempotency-Key", "bounds-2")
		wantBody(t, r, 422, obj{"code": "parameters_invalid", "title": "Unprocessable Entity",
			"detail": "One or more parameters are invalid.", "status": "422",
			"invalid_parameters": arr{obj{"parameter": cut, "reason": "extra_forbidden"}}})
		boundsSmall(t, "Lead Bank", r)

		// A key of 100 characters is echoed whole.
		whole := strings.Repeat("<", 100)
		r = e.as(admin, "POST", "/v1/entities", `{"name":"x","module_ids":[],"source":null,"recipient":null,"`+whole+`":1}`)
		wantBody(t, r, 422, obj{"detail": arr{obj{"loc": arr{"body", whole}, "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}}})
	})
}

// TestBoundsBatchCountFirst: a batch of 250,000 items is one too_long problem, as pydantic
// with max_length reports it, however bad its items are.
func TestBoundsBatchCountFirst(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		acct := str(e.account("Batch Count Co"), "id")
		admin := e.key(acct, "admin")
		body := `{"entity_ids":[0` + strings.Repeat(",0", 249_999) + `],"relationship_type":"account_holder"}`
		msg := "List should have at most 20 items after validation, not 250000"

		r := e.as(admin, "POST", "/v1/accounts/"+acct+"/entity_relationships/batch", body, "Idempotency-Key", "count-1")
		wantBody(t, r, 422, obj{"detail": arr{obj{"loc": arr{"body", "entity_ids"}, "msg": msg, "type": "too_long"}}})

		r = e.as(admin, "POST", "/v0/accounts/"+acct+"/entity_relationships/batch", body, "Idempotency-Key", "count-2")
		wantBody(t, r, 422, obj{"code": "parameters_invalid", "title": "Unprocessable Entity",
			"detail": "One or more parameters are invalid.", "status": "422",
			"invalid_parameters": arr{obj{"parameter": "entity_ids", "reason": "too_long"}}})

		// 21 items, some not strings: still the count alone.
		ids := `"entity_0123456789abcdef01234567"` + strings.Repeat(`,1`, 20)
		r = e.as(admin, "POST", "/v1/accounts/"+acct+"/entity_relationships/batch",
			`{"entity_ids":[`+ids+`],"relationship_type":"account_holder"}`, "Idempotency-Key", "count-3")
		wantBody(t, r, 422, obj{"detail": arr{obj{"loc": arr{"body", "entity_ids"},
			"msg": "List should have at most 20 items after validation, not 21", "type": "too_long"}}})

		// Within the count, each bad item is still reported at its index.
		r = e.as(admin, "POST", "/v1/accounts/"+acct+"/entity_relationships/batch",
			`{"entity_ids":[1,"entity_0123456789abcdef01234567"],"relationship_type":"account_holder"}`, "Idempotency-Key", "count-4")
		wantBody(t, r, 422, obj{"detail": arr{obj{"loc": arr{"body", "entity_ids", 0}, "msg": "Input should be a valid string", "type": "string_type"}}})
	})
}

// TestBoundsConduitJSONMessage: LeadConduit's error message for malformed JSON says what the
// other surfaces say: why, and at which byte.
func TestBoundsConduitJSONMessage(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		acct := str(e.account("Malformed Co"), "id")
		admin := e.key(acct, "admin")
		r := entConduit(e, admin, "POST", "/entities", `{"name": }`)
		wantBody(t, r, 422, obj{"detail": arr{obj{"loc": arr{"body", 9}, "msg": "JSON decode error", "type": "json_invalid",
			"ctx": obj{"error": "Expecting value"}}}, "error": "the body is not valid JSON: Expecting value (byte 9)"})
	})
}
