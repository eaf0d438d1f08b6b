package e2e

// Attack review after issue 16, finding A1 (high): validation errors are not bounded by the
// 8 MiB response limit (SPEC §10: "No response is larger than 8 MiB"). A 1 MiB body whose
// entity_ids are 520,000 numbers answers a 422 of 50.3 MB on /v1 and ~29 MB on /v0 (one
// problem item per element); 8 such requests at once took a roster serve process from 92 MB
// to 2.5 GB resident. A body of 110,000 unknown fields answers 9.7 MB of extra_forbidden items.
// Any admin key can do it, within its rate limit.

import (
	"strconv"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
)

// attackMaxResponse is SPEC §10's cap on any response.
const attackMaxResponse = 8 << 20

// attackNumbers is a JSON array of n ones: the most elements a 1 MiB body can hold.
func attackNumbers(n int) string {
	return "[" + strings.TrimSuffix(strings.Repeat("1,", n), ",") + "]"
}

// TestAttackValidationErrorsUnder8MiB: a body under the 1 MiB limit never answers more than
// 8 MiB, however many problems it holds; the answer is still the surface's 422 with the
// problem at the field that has it.
func TestAttackValidationErrorsUnder8MiB(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := str(e.account("Error Size"), "id")
		admin := e.key(a, roster.RoleAdmin)
		batch := `{"relationship_type":"account_holder","entity_ids":` + attackNumbers(520000) + `}`
		if len(batch) >= 1<<20 {
			t.Fatalf("the body must stay under 1 MiB: %d", len(batch))
		}
		check := func(name string, r resp, status int, firstLoc string) map[string]any {
			t.Helper()
			if r.Status != status {
				t.Fatalf("%s: want %d, got %d (%d bytes)", name, status, r.Status, len(r.Body))
			}
			if len(r.Body) > attackMaxResponse {
				t.Errorf("%s: a %d-byte response, over the 8 MiB every response must stay under (SPEC §10)", name, len(r.Body))
				return nil
			}
			body := r.Obj()
			if body == nil {
				t.Fatalf("%s: the body is not a JSON object: %.200s", name, r.Body)
			}
			if !strings.Contains(string(r.Body), firstLoc) {
				t.Fatalf("%s: no problem at %s: %.300s", name, firstLoc, r.Body)
			}
			return body
		}

		// Native batch: 422 HTTPValidationError about entity_ids.
		r := e.as(admin, "POST", "/v1/accounts/"+a+"/entity_relationships/batch", batch, "Idempotency-Key", "size-1")
		body := check("native batch", r, 422, `["body","entity_ids"`)
		if d, ok := body["detail"].([]any); body != nil && (!ok || len(d) == 0) {
			t.Fatalf("native batch: no detail items: %.300s", r.Body)
		}

		// Lead Bank batch: 422 parameters_invalid about entity_ids.
		r = e.as(admin, "POST", "/v0/accounts/"+a+"/entity_relationships/batch", batch, "Idempotency-Key", "size-2")
		body = check("lead bank batch", r, 422, `"parameter":"entity_ids`)
		if body != nil && (body["code"] != "parameters_invalid" || body["status"] != "422") {
			t.Fatalf("lead bank batch: not a parameters_invalid APIError: %.300s", r.Body)
		}

		// Unknown fields on an entity create: 422 extra_forbidden.
		var b strings.Builder
		b.WriteString(`{"name":"n","module_ids":[],"source":null,"recipient":null`)
		for i := 0; b.Len() < 1<<20-16; i++ {
			b.WriteString(`,"x` + strconv.FormatInt(int64(i), 36) + `":1`)
		}
		b.WriteString("}")
		r = e.as(admin, "POST", "/v1/entities", b.String())
		body = check("unknown fields", r, 422, `"extra_forbidden"`)
		if d, ok := body["detail"].([]any); body != nil && (!ok || len(d) == 0) {
			t.Fatalf("unknown fields: no detail items: %.300s", r.Body)
		}
	})
}
