package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
)

// TestErrorsNotFound: a path no route serves is 404 in the shape of its surface, before
// authentication (SPEC §1, §5).
func TestErrorsNotFound(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		hex := strings.Repeat("0a", 12)
		native := nativeErr("not_found")
		leadBank := leadBankErr("not_found", "Not Found", 404)
		conduit := conduitErr("not_found")
		for _, tc := range []struct {
			method, path string
			want         obj
		}{
			{"GET", "/v1", native},
			{"GET", "/v1/", native},
			{"GET", "/v1/nope", native},
			{"GET", "/v1/accounts/" + hex + "/nope", native},
			{"POST", "/v1/accountz", native},
			{"GET", "/v0", leadBank},
			{"GET", "/v0/nope", leadBank},
			{"GET", "/v0/accounts", leadBank},
			{"GET", "/v0/accounts/account_" + hex, leadBank},
			{"POST", "/v0/accounts/account_" + hex + "/entity_relationships/batch/more", leadBank},
			{"GET", "/v0/entities", leadBank},
			{"PUT", "/v1/accounts/", native},
			{"GET", "/nope", conduit},
			{"GET", "/entitiez", conduit},
			{"GET", "/entities/" + hex + "/more", conduit},
			{"GET", "/accounts", conduit},
			{"GET", "/v2/accounts", conduit},
			{"GET", "/v10", conduit},
		} {
			t.Run(tc.method+" "+tc.path, func(t *testing.T) {
				e := e.forT(t)
				// With no key, with a bad key and with a good one: the route decides first.
				wantBody(t, e.req(tc.method, tc.path, nil), 404, tc.want)
				wantBody(t, e.as("rk_garbage", tc.method, tc.path, nil), 404, tc.want)
				r := e.as(e.super, tc.method, tc.path, nil)
				wantBody(t, r, 404, tc.want)
				if r.Header.Get("WWW-Authenticate") != "" || r.Header.Get("Allow") != "" {
					t.Fatalf("unexpected headers on a 404: %v", r.Header)
				}
			})
		}
	})
}

// TestErrorsMethodNotAllowed: a known path with a method it does not serve is 405 with an Allow
// header, in the shape of its surface, before authentication.
func TestErrorsMethodNotAllowed(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		id := str(e.account("Method Co"), "id")
		for _, tc := range []struct {
			method, path, allow string
			want                obj
		}{
			{"DELETE", "/v1/accounts", "GET, HEAD, POST", nativeErr("method_not_allowed")},
			{"PUT", "/v1/accounts", "GET, HEAD, POST", nativeErr("method_not_allowed")},
			{"PATCH", "/v1/accounts", "GET, HEAD, POST", nativeErr("method_not_allowed")},
			{"DELETE", "/v1/accounts/" + id, "GET, HEAD, PATCH", nativeErr("method_not_allowed")},
			{"POST", "/v1/accounts/" + id, "GET, HEAD, PATCH", nativeErr("method_not_allowed")},
			{"PUT", "/v1/accounts/garbage!", "GET, HEAD, PATCH", nativeErr("method_not_allowed")},
			{"PUT", "/v0/accounts/" + id + "/entity_relationships", "GET, HEAD", leadBankErr("method_not_allowed", "Method Not Allowed", 405)},
			{"GET", "/v0/accounts/" + id + "/entity_relationships/batch", "POST", leadBankErr("method_not_allowed", "Method Not Allowed", 405)},
			{"DELETE", "/entities", "GET, HEAD, POST", conduitErr("method_not_allowed")},
			{"POST", "/entities/" + strings.Repeat("0a", 12), "DELETE, GET, HEAD, PATCH, PUT", conduitErr("method_not_allowed")},
			{"POST", "/healthz", "GET, HEAD", conduitErr("method_not_allowed")},
			{"DELETE", "/readyz", "GET, HEAD", conduitErr("method_not_allowed")},
		} {
			t.Run(tc.method+" "+tc.path, func(t *testing.T) {
				e := e.forT(t)
				for _, r := range []resp{
					e.req(tc.method, tc.path, map[string]any{"name": "Method Co Two"}),
					e.as(e.super, tc.method, tc.path, map[string]any{"name": "Method Co Two"}),
					e.as(e.super, tc.method, tc.path, "not json", "Content-Type", "text/plain"),
				} {
					wantBody(t, r, 405, tc.want)
					if got := r.Header.Get("Allow"); got != tc.allow {
						t.Fatalf("Allow: got %q, want %q", got, tc.allow)
					}
				}
			})
		}
		// Nothing ran.
		wantBody(t, e.as(e.super, "GET", "/v1/accounts/"+id, nil), 200, accountBody(id, "Method Co", "method-co", "active"))
	})
}

// TestErrorsRequestID: every response carries X-Request-Id, the client's when it is sane
// (1–128 visible ASCII characters), otherwise a new one.
func TestErrorsRequestID(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		visible := func(s string) bool {
			if len(s) < 1 || len(s) > 128 {
				return false
			}
			for i := 0; i < len(s); i++ {
				if s[i] < 0x21 || s[i] > 0x7e {
					return false
				}
			}
			return true
		}
		var printable strings.Builder
		for c := byte(0x21); c <= 0x7e; c++ {
			printable.WriteByte(c)
		}
		for _, tc := range []struct {
			name, sent string
			echoed     bool
		}{
			{"simple", "req-123", true},
			{"one character", "x", true},
			{"128 characters", strings.Repeat("a", 128), true},
			{"every visible character", printable.String(), true},
			{"uuid", "5f0c6c1e-9a43-4c8e-bd55-0ad7c1d3f4aa", true},
			{"absent", "", false},
			{"129 characters", strings.Repeat("a", 129), false},
			{"200 characters", strings.Repeat("b", 200), false},
			{"inner space", "has space", false},
			{"inner tab", "has\ttab", false},
			{"non-ASCII", "caf\u00e9", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := e.forT(t)
				var headers []string
				if tc.sent != "" {
					headers = []string{"X-Request-Id", tc.sent}
				}
				seen := map[string]bool{}
				for _, r := range []resp{
					e.as(e.super, "GET", "/v1/accounts", nil, headers...),                                                      // 200
					e.req("GET", "/v1/accounts", nil, headers...),                                                              // 401
					e.req("GET", "/v1/nope", nil, headers...),                                                                  // 404
					e.req("GET", "/v0/nope", nil, headers...),                                                                  // 404 Lead Bank
					e.req("DELETE", "/healthz", nil, headers...),                                                               // 405 LeadConduit
					e.req("GET", "/healthz", nil, headers...),                                                                  // 200, no key
					e.as(e.super, "POST", "/v1/accounts", map[string]any{"name": "x"}, headers...),                             // 422
					e.as(e.super, "POST", "/v1/accounts", "{}", append([]string{"Content-Type", "text/plain"}, headers...)...), // 415
				} {
					got := r.Header.Get("X-Request-Id")
					if tc.echoed {
						if got != tc.sent {
							t.Fatalf("X-Request-Id: sent %q, got %q on %s", tc.sent, got, r)
						}
						continue
					}
					if !visible(got) || got == strings.TrimSpace(tc.sent) || seen[got] {
						t.Fatalf("X-Request-Id: sent %q, got %q (generated ids must be sane and fresh) on %s", tc.sent, got, r)
					}
					seen[got] = true
				}
			})
		}
	})
}

// TestErrorsBodyDecoding: malformed JSON is a 422 json_invalid problem; a body that is not an
// object, or none at all, is a 422 too.
func TestErrorsBodyDecoding(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		id := str(e.account("Decoding Co"), "id")
		jsonInvalid := obj{"detail": arr{obj{"loc": matcher{`["body", position]`, func(v any) bool {
			loc, ok := v.([]any)
			return ok && len(loc) == 2 && loc[0] == "body"
		}}, "msg": "JSON decode error", "type": "json_invalid", "ctx": obj{"error": anyText}}}}
		notObject := obj{"detail": arr{obj{"loc": arr{"body"}, "msg": anyText, "type": "model_attributes_type"}}}
		missing := obj{"detail": arr{obj{"loc": arr{"body"}, "msg": anyText, "type": "missing"}}}
		for _, tc := range []struct {
			name string
			body any
			want obj
		}{
			{"truncated", `{"name":`, jsonInvalid},
			{"single quotes", `{'name': 'Acme'}`, jsonInvalid},
			{"trailing comma", `{"name": "Acme",}`, jsonInvalid},
			{"trailing data", `{"name": "Decoding Two"} {}`, jsonInvalid},
			{"trailing garbage", `{"name": "Decoding Two"}x`, jsonInvalid},
			{"bare word", `hello`, jsonInvalid},
			{"whitespace only", "   ", jsonInvalid},
			{"array", `[{"name": "Decoding Two"}]`, notObject},
			{"string", `"Decoding Two"`, notObject},
			{"number", `42`, notObject},
			{"boolean", `true`, notObject},
			{"null", `null`, notObject},
			{"no body", nil, missing},
			{"empty body", "", missing},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := e.forT(t)
				headers := []string{"Content-Type", "application/json"}
				wantBody(t, e.as(e.super, "POST", "/v1/accounts", tc.body, headers...), 422, tc.want)
				wantBody(t, e.as(e.super, "PATCH", "/v1/accounts/"+id, tc.body, headers...), 422, tc.want)
			})
		}
		sameIDs(t, ids(t, e.must(e.as(e.super, "GET", "/v1/accounts", nil), 200)), []string{id})
	})
}

// TestErrorsMediaType: a body must be application/json (with or without parameters) or any
// application/*+json; a request with no body needs no Content-Type.
func TestErrorsMediaType(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		id := str(e.account("Media Co"), "id")
		reader := e.key(id, roster.RoleReader)
		n := 0
		for _, tc := range []struct {
			contentType string
			ok          bool
		}{
			{"application/json", true},
			{"application/json; charset=utf-8", true},
			{"application/json;charset=UTF-8", true},
			{"Application/JSON", true},
			{"application/merge-patch+json", true},
			{"application/vnd.api+json", true},
			{"", false}, // no Content-Type at all
			{"text/plain", false},
			{"text/json", false},
			{"application/x-www-form-urlencoded", false},
			{"multipart/form-data; boundary=x", false},
			{"application/jsonx", false},
			{"application/xml", false},
			{"json", false},
		} {
			t.Run("content type "+tc.contentType, func(t *testing.T) {
				e := e.forT(t)
				n++
				name := "Media Co " + strings.Repeat("I", n)
				post := e.as(e.super, "POST", "/v1/accounts", `{"name": "`+name+` New"}`, "Content-Type", tc.contentType)
				patch := e.as(e.super, "PATCH", "/v1/accounts/"+id, `{"name": "`+name+`"}`, "Content-Type", tc.contentType)
				if tc.ok {
					wantBody(t, post, 201, accountBody(accountID, name+" New", strings.ToLower(strings.ReplaceAll(name, " ", "-"))+"-new", "active"))
					wantBody(t, patch, 200, accountBody(id, name, "media-co", "active"))
					return
				}
				wantNative(t, post, 415, "unsupported_media_type")
				wantNative(t, patch, 415, "unsupported_media_type")
				// Size and media type come after authentication and before role, tenancy and
				// validation.
				wantUnauthorized(t, e.req("POST", "/v1/accounts", `{"name": "x"}`, "Content-Type", tc.contentType))
				wantNative(t, e.as(reader, "PATCH", "/v1/accounts/"+id, `{"name": "x"}`, "Content-Type", tc.contentType), 415, "unsupported_media_type")
				wantNative(t, e.as(reader, "POST", "/v1/accounts", `not json`, "Content-Type", tc.contentType), 415, "unsupported_media_type")
				wantNative(t, e.as(reader, "PATCH", "/v1/accounts/garbage!", `{}`, "Content-Type", tc.contentType), 415, "unsupported_media_type")
			})
		}
		// A request without a body needs no Content-Type, and any Content-Type is ignored.
		e.must(e.as(e.super, "GET", "/v1/accounts", nil, "Content-Type", "text/plain"), 200)
		wantProblems(t, e.as(e.super, "PATCH", "/v1/accounts/"+id, nil, "Content-Type", "text/plain"), `["body"] missing`)
		wantProblems(t, e.as(e.super, "PATCH", "/v1/accounts/"+id, nil), `["body"] missing`)
	})
}

// bigBody is a JSON object of exactly n bytes: {"name":"aaa…"}.
func bigBody(n int) string {
	return `{"name":"` + strings.Repeat("a", n-len(`{"name":""}`)) + `"}`
}

// stream sends a body of unknown length (chunked), so the server cannot judge it by its
// Content-Length.
func (e *env) stream(key, method, path, body string) resp {
	e.t.Helper()
	r, err := http.NewRequest(method, e.base+path, io.MultiReader(strings.NewReader(body)))
	if err != nil {
		e.t.Fatal(err)
	}
	r.ContentLength = -1
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+key)
	return e.send(r)
}

// TestErrorsPayloadTooLarge: a body over 1 MiB is 413, whether or not it declares its length.
func TestErrorsPayloadTooLarge(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		const mib = 1 << 20
		id := str(e.account("Large Co"), "id")
		tooLong := obj{"detail": arr{obj{"loc": arr{"body", "name"}, "msg": anyText, "type": "string_too_long"}}}

		// Exactly 1 MiB is read and validated.
		wantBody(t, e.as(e.super, "POST", "/v1/accounts", bigBody(mib)), 422, tooLong)
		wantBody(t, e.stream(e.super, "PATCH", "/v1/accounts/"+id, bigBody(mib)), 422, tooLong)
		// One byte more is refused.
		wantNative(t, e.as(e.super, "POST", "/v1/accounts", bigBody(mib+1)), 413, "payload_too_large")
		wantNative(t, e.as(e.super, "PATCH", "/v1/accounts/"+id, bigBody(mib+1)), 413, "payload_too_large")
		wantNative(t, e.stream(e.super, "POST", "/v1/accounts", bigBody(mib+1)), 413, "payload_too_large")
		wantNative(t, e.stream(e.super, "PATCH", "/v1/accounts/"+id, bigBody(2*mib)), 413, "payload_too_large")
		// Authentication comes first; size before role and media type.
		wantUnauthorized(t, e.req("POST", "/v1/accounts", bigBody(mib+1)))
		reader := e.key(id, roster.RoleReader)
		wantNative(t, e.as(reader, "PATCH", "/v1/accounts/"+id, bigBody(mib+1)), 413, "payload_too_large")
		wantNative(t, e.as(reader, "PATCH", "/v1/accounts/"+id, bigBody(mib+1), "Content-Type", "text/plain"), 413, "payload_too_large")

		wantBody(t, e.as(e.super, "GET", "/v1/accounts/"+id, nil), 200, accountBody(id, "Large Co", "large-co", "active"))
	})
}

// TestErrorsAllProblems: every validation problem of a request is reported at once.
func TestErrorsAllProblems(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		id := str(e.account("Problems Co"), "id")
		long := strings.Repeat("k", 256)
		for _, tc := range []struct {
			name, method, path string
			body               any
			headers            []string
			want               []string
		}{
			{"create, every field wrong", "POST", "/v1/accounts",
				map[string]any{"name": 5, "slug": "A", "extra": 1, "other": nil}, nil,
				[]string{`["body","name"] string_type`, `["body","slug"] string_too_short`, `["body","extra"] extra_forbidden`, `["body","other"] extra_forbidden`}},
			{"create, name missing and slug wrong", "POST", "/v1/accounts",
				map[string]any{"slug": "Not A Slug"}, nil,
				[]string{`["body","name"] missing`, `["body","slug"] string_pattern_mismatch`}},
			{"create, long idempotency key too", "POST", "/v1/accounts",
				map[string]any{"name": "x"}, []string{"Idempotency-Key", long},
				[]string{`["body","name"] string_too_short`, `["header","Idempotency-Key"] string_too_long`}},
			{"patch, every field wrong", "PATCH", "/v1/accounts/" + id,
				map[string]any{"name": "x", "slug": "Bad Slug", "status": "deleted", "deleted": "yes", "junk": 1}, []string{"Idempotency-Key", long},
				[]string{`["body","name"] string_too_short`, `["body","slug"] string_pattern_mismatch`, `["body","status"] enum`,
					`["body","deleted"] bool_type`, `["body","junk"] extra_forbidden`, `["header","Idempotency-Key"] string_too_long`}},
			{"patch, wrong types", "PATCH", "/v1/accounts/" + id,
				map[string]any{"name": 1, "slug": []any{}, "status": true, "deleted": 0}, nil,
				[]string{`["body","name"] string_type`, `["body","slug"] string_type`, `["body","status"] string_type`, `["body","deleted"] bool_type`}},
			{"list, limit and status", "GET", "/v1/accounts?limit=0&status=bogus", nil, nil,
				[]string{`["query","limit"] greater_than_equal`, `["query","status"] enum`}},
			{"list, limit, status and account_id", "GET", "/v1/accounts?limit=abc&status=bogus&account_id=garbage!", nil, nil,
				[]string{`["query","limit"] int_parsing`, `["query","status"] enum`, `["query","account_id"] string_pattern_mismatch`}},
			{"list, limit with a cursor", "GET", "/v1/accounts?limit=101&cursor=garbage", nil, nil,
				[]string{`["query","limit"] less_than_equal`}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := e.forT(t)
				wantProblems(t, e.as(e.super, tc.method, tc.path, tc.body, tc.headers...), tc.want...)
			})
		}
		// A 255-character Idempotency-Key is fine.
		e.must(e.as(e.super, "PATCH", "/v1/accounts/"+id, map[string]any{"name": "Problems Co Two"}, "Idempotency-Key", long[:255]), 200)
		wantBody(t, e.as(e.super, "GET", "/v1/accounts/"+id, nil), 200, accountBody(id, "Problems Co Two", "problems-co", "active"))
	})
}

// TestErrorsOrder: the checks run in SPEC §5's order on every route.
func TestErrorsOrder(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := str(e.account("Order Co"), "id")
		b := str(e.account("Other Order Co"), "id")
		admin, reader := e.key(a, roster.RoleAdmin), e.key(a, roster.RoleReader)
		unknown := "account_" + strings.Repeat("0", 24)
		invalid := map[string]any{"name": "x"}

		// 404 and 405 before 401.
		wantNative(t, e.req("GET", "/v1/nope", nil), 404, "not_found")
		wantNative(t, e.req("DELETE", "/v1/accounts", nil), 405, "method_not_allowed")
		// 401 before 413, 415, 403 and 422.
		wantUnauthorized(t, e.req("PATCH", "/v1/accounts/"+b, "{", "Content-Type", "text/plain"))
		// 415 before 403 and 422.
		wantNative(t, e.as(admin, "PATCH", "/v1/accounts/"+b, "{", "Content-Type", "text/plain"), 415, "unsupported_media_type")
		// 403 (role) before 422.
		wantNative(t, e.as(admin, "POST", "/v1/accounts", invalid), 403, "forbidden")
		wantNative(t, e.as(reader, "PATCH", "/v1/accounts/"+a, invalid), 403, "forbidden")
		wantNative(t, e.as(reader, "PATCH", "/v1/accounts/"+a, "{"), 403, "forbidden")
		// 403 (tenancy) before 422.
		wantNative(t, e.as(admin, "PATCH", "/v1/accounts/"+b, invalid), 403, "forbidden")
		// 422 before 404 and 409.
		wantProblems(t, e.as(e.super, "PATCH", "/v1/accounts/"+unknown, invalid), `["body","name"] string_too_short`)
		wantProblems(t, e.as(e.super, "POST", "/v1/accounts", map[string]any{"name": "x", "slug": "order-co"}), `["body","name"] string_too_short`)
		wantProblems(t, e.as(e.super, "PATCH", "/v1/accounts/"+b, map[string]any{"name": "x", "slug": "order-co"}), `["body","name"] string_too_short`)
		// 404 and 409 from the operation.
		wantNative(t, e.as(e.super, "PATCH", "/v1/accounts/"+unknown, map[string]any{"slug": "order-co"}), 404, "not_found")
		wantNative(t, e.as(e.super, "PATCH", "/v1/accounts/"+b, map[string]any{"slug": "order-co"}), 409, "slug_taken")
	})
}

// TestErrorsNonCanonicalPath: a path with an empty or dot segment still gets a response with
// X-Request-Id (SPEC §5: every response) and, when it is an error, the shape of its surface.
func TestErrorsNonCanonicalPath(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		client := *e.client
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		e.client = &client
		for _, path := range []string{"/v1//accounts", "/v1/accounts/../accounts", "/./healthz", "/v0//x", "//entities"} {
			r := e.as(e.super, "GET", path, nil)
			if r.Header.Get("X-Request-Id") == "" {
				t.Errorf("GET %s: no X-Request-Id on %s", path, r)
			}
			if r.Status != 404 || r.Obj()["code"] != "not_found" {
				t.Errorf("GET %s: want a 404 not_found in the surface's shape, got %s", path, r)
			}
		}
	})
}
