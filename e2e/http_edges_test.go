package e2e

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/app"
)

// The edges of HTTP that an attack review found (issue 16, finding 5): two secrets in one
// request, ';' in a query string, the length of Idempotency-Key in characters, requests the
// client abandoned, HEAD, and the Lead Bank list's 400 for bad parameters.

// httpEngines runs fn on each engine against a server started with cfg (a fresh database of
// that engine; the function is called once per engine so each run has its own log buffer).
func httpEngines(t *testing.T, cfg func() app.Config, fn func(t *testing.T, e *env, c app.Config)) {
	t.Helper()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			if engine == "postgres" && os.Getenv("ROSTER_TEST_POSTGRES") == "" {
				t.Skip("ROSTER_TEST_POSTGRES is not set; skipping the PostgreSQL run")
			}
			c := cfg()
			c.Database = databaseURL(t, engine)
			e := startConfig(t, c)
			if e.super == "" {
				t.Fatal("no bootstrap key printed")
			}
			fn(t, e, c)
		})
	}
}

// httpHeaders sends a request with headers given as name, value pairs; a name may repeat, and
// then the header is sent once per pair, in order.
func (e *env) httpHeaders(method, path string, headers ...string) resp {
	e.t.Helper()
	r, err := http.NewRequest(method, e.base+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header[http.CanonicalHeaderKey(headers[i])] = append(r.Header[http.CanonicalHeaderKey(headers[i])], headers[i+1])
	}
	return e.send(r)
}

// TestHTTPTwoSecrets: two different secrets in one request are 401 on every surface, whether
// they come in two headers or in one header sent twice; the same secret twice is fine, and an
// empty header line counts as absent (SPEC §3).
func TestHTTPTwoSecrets(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := str(e.account("Two Secrets"), "id")
		k, other := e.key(a, roster.RoleAdmin), e.key(a, roster.RoleReader)
		surfaces := []struct {
			name, path  string
			ok, refusal any
		}{
			{"native", "/v1/accounts/" + a, accountBody(a, "Two Secrets", "two-secrets", "active"), nativeErr("unauthorized")},
			{"lead bank", "/v0/accounts/" + a + "/entity_relationships", obj{"objects": arr{}, "has_more": false},
				leadBankErr("unauthorized", "Unauthorized", 401)},
			{"leadconduit", "/entities", arr{}, obj{"detail": anyText, "code": "unauthorized", "error": "authentication failed"}},
		}
		const auth, lk = "Authorization", "leadr-api-key"
		for _, tc := range []struct {
			name    string
			headers []string
			ok      bool
		}{
			{"two authorization lines, different secrets", []string{auth, "Bearer " + k, auth, "Bearer " + other}, false},
			{"two authorization lines, bearer and basic of different secrets", []string{auth, "Bearer " + k, auth, basic("API", other)}, false},
			{"two leadr-api-key lines, different secrets", []string{lk, k, lk, other}, false},
			{"two leadr-api-key lines, the second different", []string{auth, "Bearer " + k, lk, k, lk, other}, false},
			{"an authorization line that cannot be read beside a good one", []string{auth, "Bearer " + k, auth, "Token " + k}, false},
			{"a superadmin's and an admin's secret", []string{auth, "Bearer " + k, auth, "Bearer " + e.super}, false},

			{"two authorization lines, the same secret", []string{auth, "Bearer " + k, auth, "Bearer " + k}, true},
			{"bearer and basic lines of the same secret", []string{auth, basic("API", k), auth, "Bearer " + k}, true},
			{"two leadr-api-key lines, the same secret", []string{lk, k, lk, k}, true},
			{"every header twice, one secret", []string{auth, "Bearer " + k, lk, k, auth, basic("x", k), lk, k}, true},
			{"an empty authorization line beside a key", []string{auth, "", auth, "Bearer " + k}, true},
			{"an empty leadr-api-key line beside a key", []string{lk, k, lk, ""}, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := e.forT(t)
				for _, sf := range surfaces {
					r := e.httpHeaders("GET", sf.path, tc.headers...)
					if tc.ok {
						wantBody(t, r, 200, sf.ok)
						continue
					}
					wantBody(t, r, 401, sf.refusal)
					if got := r.Header.Get("WWW-Authenticate"); got != `Bearer realm="roster", Basic realm="roster"` {
						t.Fatalf("%s: WWW-Authenticate %q", sf.name, got)
					}
					for _, s := range []string{k, other, e.super} {
						if strings.Contains(string(r.Body), s) {
							t.Fatalf("%s: a secret in an error body: %s", sf.name, r)
						}
					}
				}
			})
		}
	})
}

// TestHTTPSemicolonInQuery: ';' in a query string is an ordinary character (as in Starlette),
// never a separator, wherever roster reads the query (SPEC §5).
func TestHTTPSemicolonInQuery(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := str(e.account("Semi Colon"), "id")
		admin := e.key(a, roster.RoleAdmin)
		seller := entCreate(t, e, admin, with(entMin("Seller One"), "source", "seller"))
		entCreate(t, e, admin, with(entMin("Form One"), "source", "form"))

		// The value is "seller;", which no source is: a 422, not a filter dropped in silence.
		for _, q := range []string{"source=seller;", "source=seller%3B", "limit=5&source=seller;", "source=seller;&limit=5", "source=seller;limit=5"} {
			wantProblems(t, e.as(admin, "GET", "/v1/entities?"+q, nil), `["query","source"] enum`)
			entWantConduitProblems(t, entConduit(e, admin, "GET", "/entities?"+q, nil), `["query","source"] enum`)
		}
		wantProblems(t, e.as(admin, "GET", "/v1/entities?limit=5;", nil), `["query","limit"] int_parsing`)
		// Without the ';' the filter filters; '+' is a space and %XX an escape, as before.
		sameIDs(t, ids(t, e.must(e.as(admin, "GET", "/v1/entities?source=seller&limit=5", nil), 200)), []string{str(seller, "id")})
		sameIDs(t, ids(t, e.must(e.as(admin, "GET", "/v1/entities?source=%73eller", nil), 200)), []string{str(seller, "id")})
		wantProblems(t, e.as(admin, "GET", "/v1/entities?source=seller+", nil), `["query","source"] enum`)

		// An account list filter.
		wantProblems(t, e.as(e.super, "GET", "/v1/accounts?status=active;", nil), `["query","status"] enum`)
		sameIDs(t, ids(t, e.must(e.as(e.super, "GET", "/v1/accounts?slug=semi-colon", nil), 200)), []string{a})
		// "semi-colon;" is a slug no account has (as the list answers for any unknown slug).
		wantNative(t, e.as(e.super, "GET", "/v1/accounts?slug=semi-colon;", nil), 404, "not_found")

		// ?account_id= of a non-superadmin must name its own account; with a ';' it names none.
		wantNative(t, e.as(admin, "GET", "/v1/entities?account_id="+a+";", nil), 403, "forbidden")
		e.must(e.as(admin, "GET", "/v1/entities?account_id="+a, nil), 200)

		// The idempotency fingerprint sees the parameter: the same key with another query is
		// a reuse, not a replay.
		first := e.as(admin, "PATCH", "/v1/accounts/"+a, map[string]any{"name": "Semi Colon"}, "Idempotency-Key", "semi-1")
		wantBody(t, first, 200, accountBody(a, "Semi Colon", "semi-colon", "active"))
		wantNative(t, e.as(admin, "PATCH", "/v1/accounts/"+a+"?x=1;", map[string]any{"name": "Semi Colon"}, "Idempotency-Key", "semi-1"),
			409, "idempotency_key_reused")

		// Lead Bank's list reads limit the same way (a 400 there, SPEC §5).
		list := "/v0/accounts/" + a + "/entity_relationships"
		wantBody(t, e.as(admin, "GET", list+"?limit=5;", nil), 400, obj{"code": "parameters_invalid", "title": "Bad Request",
			"detail": anyText, "status": "400", "invalid_parameters": arr{obj{"parameter": "limit", "reason": "int_parsing"}}})
		// And the relationship_type of a delete.
		wantProblems(t, e.as(admin, "DELETE", "/v1/accounts/"+a+"/entity_relationships/"+str(seller, "id")+"?relationship_type=account_holder;", nil),
			`["query","relationship_type"] enum`)
	})
}

// TestHTTPRepeatedParameter: a repeated query parameter takes its last value, as FastAPI reads
// a scalar parameter, on every surface and for every parameter (the attack review found the
// first one winning, unlike the contract roster follows).
func TestHTTPRepeatedParameter(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := str(e.account("Repeated"), "id")
		admin := e.key(a, roster.RoleAdmin)
		seller := entCreate(t, e, admin, with(entMin("Seller"), "source", "seller"))
		form := entCreate(t, e, admin, with(entMin("Form"), "source", "form"))

		sameIDs(t, ids(t, e.must(e.as(admin, "GET", "/v1/entities?source=form&source=seller", nil), 200)), []string{str(seller, "id")})
		sameIDs(t, ids(t, e.must(e.as(admin, "GET", "/v1/entities?source=seller&source=form", nil), 200)), []string{str(form, "id")})
		wantProblems(t, e.as(admin, "GET", "/v1/entities?limit=1&limit=500", nil), `["query","limit"] less_than_equal`)
		page := e.must(e.as(admin, "GET", "/v1/entities?limit=500&limit=1", nil), 200).Obj()
		if n := len(page["data"].([]any)); n != 1 {
			t.Fatalf("limit=500&limit=1 answered %d items, want 1", n)
		}
		// An admin's ?account_id= must name its own account, whichever value comes last.
		other := str(e.account("Repeated other"), "id")
		wantNative(t, e.as(admin, "GET", "/v1/entities?account_id="+a+"&account_id="+other, nil), 403, "forbidden")
		e.must(e.as(admin, "GET", "/v1/entities?account_id="+other+"&account_id="+a, nil), 200)
	})
}

// TestHTTPIdempotencyKeyCharacters: the 255 limit of Idempotency-Key counts characters, not
// bytes (SPEC §4).
func TestHTTPIdempotencyKeyCharacters(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		for i, ch := range []string{"é", "€", "😀"} {
			name := "Wide Key " + string(rune('A'+i))
			key := strings.Repeat(ch, 255)
			r := e.as(e.super, "POST", "/v1/accounts", map[string]any{"name": name}, "Idempotency-Key", key)
			wantBody(t, r, 201, accountBody(accountID, name, strings.ToLower(strings.ReplaceAll(name, " ", "-")), "active"))
			again := e.as(e.super, "POST", "/v1/accounts", map[string]any{"name": name}, "Idempotency-Key", key)
			wantBody(t, again, 201, accountBody(str(r.Obj(), "id"), name, strings.ToLower(strings.ReplaceAll(name, " ", "-")), "active"))
			if again.Header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("%q × 255: the second request was not a replay: %v", ch, again.Header)
			}
			wantBody(t, e.as(e.super, "POST", "/v1/accounts", map[string]any{"name": name + " Two"}, "Idempotency-Key", key+ch), 422,
				obj{"detail": arr{obj{"loc": arr{"header", "Idempotency-Key"}, "msg": "String should have at most 255 characters", "type": "string_too_long"}}})
		}
		// ASCII: 255 is fine, 256 is not.
		e.must(e.as(e.super, "POST", "/v1/accounts", map[string]any{"name": "Ascii Key"}, "Idempotency-Key", strings.Repeat("k", 255)), 201)
		wantProblems(t, e.as(e.super, "POST", "/v1/accounts", map[string]any{"name": "Ascii Key Two"}, "Idempotency-Key", strings.Repeat("k", 256)),
			`["header","Idempotency-Key"] string_too_long`)
	})
}

// httpLogLines returns the request log lines for method and route.
func httpLogLines(logs string, method, route string) []string {
	var out []string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"msg":"request"`) && strings.Contains(line, `"method":"`+method+`"`) && strings.Contains(line, `"route":"`+route+`"`) {
			out = append(out, line)
		}
	}
	return out
}

// TestHTTPAbandoned: a request the client abandoned before the answer is logged and counted as
// 499, never as a 5xx or as the client's fault (SPEC §10).
func TestHTTPAbandoned(t *testing.T) {
	t.Parallel()
	var logs *opsLogBuffer
	httpEngines(t, func() app.Config { logs = &opsLogBuffer{}; return app.Config{Log: logs} }, func(t *testing.T, e *env, _ app.Config) {
		// A client that hangs up while its body is still being sent.
		conn, err := net.Dial("tcp", opsAddr(e))
		if err != nil {
			t.Fatal(err)
		}
		head := "POST /v1/accounts HTTP/1.1\r\nHost: roster\r\nAuthorization: Bearer " + e.super +
			"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nX-Request-Id: abandoned-1\r\n\r\n{\"name\": \"Aband"
		if _, err := io.WriteString(conn, head); err != nil {
			t.Fatal(err)
		}
		conn.Close()
		deadline := time.Now().Add(10 * time.Second)
		var lines []string
		for time.Now().Before(deadline) {
			if lines = httpLogLines(logs.String(), "POST", "/v1/accounts"); len(lines) > 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if len(lines) != 1 || !strings.Contains(lines[0], `"status":499`) || !strings.Contains(lines[0], `"request_id":"abandoned-1"`) {
			t.Fatalf("log lines of the abandoned request: %q", lines)
		}
		samples, _ := opsScrape(t, e)
		if v, ok := opsFind(samples, "roster_http_requests_total", "route", "/v1/accounts", "method", "POST", "status", "499"); !ok || v != 1 {
			t.Fatalf("roster_http_requests_total{POST /v1/accounts 499} = %v (%v)", v, ok)
		}
		// Nothing of it was written.
		wantBody(t, e.as(e.super, "GET", "/v1/accounts", nil), 200,
			obj{"data": arr{}, "pagination": obj{"count": 0, "has_next": false, "has_prev": false, "next_cursor": nil, "prev_cursor": nil}})

		// A client that went away while the answer was being made: its request's context is
		// canceled, as net/http cancels it, and every call into the core fails with that.
		// The handler is driven in process so that the cancellation comes at a known point.
		hlogs := &opsLogBuffer{}
		h := api.New(e.app.Service, slog.New(slog.NewJSONHandler(hlogs, nil)), api.Options{})
		for _, path := range []string{"/v1/entities", "/v1/accounts", "/v0/accounts/" + strings.Repeat("0", 24) + "/entity_relationships", "/entities"} {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			r := httptest.NewRequestWithContext(ctx, "GET", path, nil)
			r.Header.Set("Authorization", "Bearer "+e.super)
			h.ServeHTTP(httptest.NewRecorder(), r)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
		metrics := w.Body.String()
		for _, route := range []string{"/v1/entities", "/v1/accounts", "/v0/accounts/{id}/entity_relationships", "/entities"} {
			want := `roster_http_requests_total{method="GET",route="` + route + `",status="499"} 1`
			if !strings.Contains(metrics, want) {
				t.Errorf("no %s in\n%s", want, httpGrep(metrics, "roster_http_requests_total{"))
			}
			if lines := httpLogLines(hlogs.String(), "GET", route); len(lines) != 1 || !strings.Contains(lines[0], `"status":499`) {
				t.Errorf("log lines of GET %s: %q", route, lines)
			}
		}
		if strings.Contains(metrics, `status="5`) {
			t.Errorf("a 5xx counted:\n%s", httpGrep(metrics, "roster_http_requests_total{"))
		}
		if strings.Contains(hlogs.String(), `"level":"ERROR"`) || strings.Contains(logs.String(), `"level":"ERROR"`) {
			t.Errorf("an abandoned request logged as an error:\n%s\n%s", hlogs, logs)
		}
	})
}

// httpGrep returns the lines of s that contain sub.
func httpGrep(s, sub string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// TestHTTPHead: HEAD is served on every GET route with the status and headers of GET,
// Content-Length included, and no body (SPEC §10); 405's Allow lists it beside GET.
func TestHTTPHead(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := str(e.account("Head Co"), "id")
		admin := e.key(a, roster.RoleAdmin)
		ent := str(entCreate(t, e, admin, entMin("Head Entity")), "id")
		keyID := str(e.must(e.as(e.super, "GET", "/v1/api-keys?account_id="+a+"&limit=1", nil), 200).Obj()["data"].([]any)[0].(map[string]any), "id")
		params := map[string]string{"{account_id}": a, "{key_id}": keyID, "{file}": "swagger-ui.css"}

		seen := 0
		for _, rt := range tmRouteTable(t, e) {
			pattern := rt.pattern
			if rt.method != "GET" {
				continue
			}
			seen++
			path := pattern
			for k, v := range params {
				path = strings.ReplaceAll(path, k, v)
			}
			if strings.HasPrefix(pattern, "/v0/") {
				path = strings.ReplaceAll(path, "{id}", a)
			}
			path = strings.ReplaceAll(path, "{id}", ent)
			for _, who := range []struct {
				name    string
				headers []string
			}{
				// Go's client asks for gzip itself on GET only: ask on both.
				{"superadmin", []string{"Authorization", "Bearer " + e.super, "Accept-Encoding", "gzip"}},
				{"no key", []string{"Accept-Encoding", "gzip"}},
			} {
				get := e.httpHeaders("GET", path, who.headers...)
				head := e.httpHeaders("HEAD", path, who.headers...)
				httpSameHead(t, pattern+" as "+who.name, get, head)
			}
		}
		if seen < 15 {
			t.Fatalf("only %d GET routes", seen)
		}
		// A miss and a bad id: the same status and headers as GET, no body.
		for _, path := range []string{"/v1/entities/entity_" + strings.Repeat("0", 24), "/v1/accounts/garbage!", "/entities?source=nope", "/v1/nothing"} {
			get := e.httpHeaders("GET", path, "Authorization", "Bearer "+admin)
			head := e.httpHeaders("HEAD", path, "Authorization", "Bearer "+admin)
			if get.Status < 400 {
				t.Fatalf("GET %s: %s", path, get)
			}
			httpSameHead(t, path, get, head)
		}

		// On the wire: the head, then nothing; the connection stays usable.
		conn, err := net.Dial("tcp", opsAddr(e))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.WriteString(conn, "HEAD /v1/accounts/"+a+" HTTP/1.1\r\nHost: roster\r\nAuthorization: Bearer "+admin+"\r\n\r\n"+
			"GET /healthz HTTP/1.1\r\nHost: roster\r\nConnection: close\r\n\r\n")
		br := bufio.NewReader(conn)
		res, err := http.ReadResponse(br, &http.Request{Method: "HEAD"})
		if err != nil || res.StatusCode != 200 || res.ContentLength <= 0 {
			t.Fatalf("HEAD on the wire: %v %v", res, err)
		}
		res, err = http.ReadResponse(br, &http.Request{Method: "GET"})
		if err != nil {
			t.Fatalf("the answer after HEAD: %v", err)
		}
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || string(body) != `{"status":"ok"}` {
			t.Fatalf("the answer after HEAD: %d %q", res.StatusCode, body)
		}

		// 405: Allow lists HEAD wherever it lists GET, and HEAD is 405 where GET is.
		for _, tc := range []struct{ method, path, allow string }{
			{"DELETE", "/v1/accounts", "GET, HEAD, POST"},
			{"POST", "/v1/entities/" + ent, "DELETE, GET, HEAD, PATCH, PUT"},
			{"POST", "/healthz", "GET, HEAD"},
			{"HEAD", "/v1/accounts/" + a + "/entity_relationships/batch", "POST"},
			{"GET", "/v0/accounts/" + a + "/entity_relationships/batch", "POST"},
		} {
			r := e.httpHeaders(tc.method, tc.path, "Authorization", "Bearer "+admin)
			if r.Status != 405 || r.Header.Get("Allow") != tc.allow {
				t.Fatalf("%s %s: %d Allow %q, want 405 %q", tc.method, tc.path, r.Status, r.Header.Get("Allow"), tc.allow)
			}
		}
	})
}

// httpSameHead fails unless head has get's status and headers and no body.
func httpSameHead(t *testing.T, what string, get, head resp) {
	t.Helper()
	if head.Status != get.Status {
		t.Fatalf("%s: HEAD %d, GET %s", what, head.Status, get)
	}
	if len(head.Body) != 0 {
		t.Fatalf("%s: HEAD with a body %q", what, head.Body)
	}
	for name := range mergeKeys(get.Header, head.Header) {
		switch name {
		case "Date", "X-Request-Id":
			continue
		case "Content-Length":
			if strings.HasSuffix(what, "/metrics as superadmin") || strings.HasSuffix(what, "/metrics as no key") {
				continue // the series change between two scrapes
			}
		}
		if g, h := strings.Join(get.Header.Values(name), ","), strings.Join(head.Header.Values(name), ","); g != h {
			t.Fatalf("%s: header %s: GET %q, HEAD %q", what, name, g, h)
		}
	}
	if get.Header.Get("Content-Length") == "" && !strings.Contains(what, "/metrics") && get.Status != 304 {
		t.Fatalf("%s: GET without Content-Length: %v", what, get.Header)
	}
}

func mergeKeys(a, b http.Header) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// TestHTTPLeadBankListParameters: the Lead Bank list declares 400 and no 422 for bad
// parameters: a bad limit or starting_after is 400 parameters_invalid with invalid_parameters
// (SPEC §5); the batch keeps its 422.
func TestHTTPLeadBankListParameters(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := str(e.account("Bank Params"), "id")
		b := str(e.account("Other Bank"), "id")
		admin := e.key(a, roster.RoleAdmin)
		var ents []string
		for i := 0; i < 3; i++ {
			ents = append(ents, str(entCreate(t, e, admin, entMin("Bank Entity "+string(rune('A'+i)))), "id"))
		}
		e.must(e.as(admin, "POST", "/v0/accounts/"+a+"/entity_relationships/batch",
			map[string]any{"entity_ids": ents, "relationship_type": "account_holder"}, "Idempotency-Key", "bank-1"), 200)
		list := "/v0/accounts/" + a + "/entity_relationships"
		page := e.must(e.as(admin, "GET", list+"?limit=1", nil), 200).Obj()
		cursor, _ := page["cursor"].(string)
		if cursor == "" {
			t.Fatalf("no cursor: %v", page)
		}
		bad := func(param, reason string) obj {
			return obj{"code": "parameters_invalid", "title": "Bad Request", "detail": anyText, "status": "400",
				"invalid_parameters": arr{obj{"parameter": param, "reason": reason}}}
		}
		for _, tc := range []struct {
			query string
			want  obj
		}{
			{"limit=0", bad("limit", "greater_than_equal")},
			{"limit=101", bad("limit", "less_than_equal")},
			{"limit=ten", bad("limit", "int_parsing")},
			{"limit=", obj{"objects": nil}},
			{"starting_after=garbage!", bad("starting_after", "invalid_cursor")},
			{"starting_after=" + cursor + "x", bad("starting_after", "invalid_cursor")},
		} {
			r := e.as(admin, "GET", list+"?"+tc.query, nil)
			if tc.query == "limit=" {
				e.must(r, 200)
				continue
			}
			wantBody(t, r, 400, tc.want)
		}
		// A cursor of another account's list names no place in this one.
		e.must(e.as(admin, "POST", "/v1/entities", entMin("x")), 201)
		other := e.must(e.as(e.super, "GET", "/v0/accounts/"+b+"/entity_relationships?limit=1", nil), 200)
		_ = other
		r := e.as(e.super, "GET", "/v0/accounts/"+b+"/entity_relationships?starting_after="+cursor, nil)
		wantBody(t, r, 400, bad("starting_after", "cursor_mismatch"))
		// The cursor still works where it was issued.
		e.must(e.as(admin, "GET", list+"?starting_after="+cursor, nil), 200)

		// A path id is not a parameter of the list's query: 422 as everywhere.
		r = e.as(e.super, "GET", "/v0/accounts/garbage!/entity_relationships", nil)
		if r.Status != 422 || r.Obj()["code"] != "parameters_invalid" {
			t.Fatalf("bad path id: %s", r)
		}
		// The batch keeps 422 for its validation problems.
		r = e.as(admin, "POST", "/v0/accounts/"+a+"/entity_relationships/batch",
			map[string]any{"entity_ids": []string{"entity_" + strings.Repeat("0", 24)}, "relationship_type": "account_holder"}, "Idempotency-Key", "bank-2")
		wantBody(t, r, 422, obj{"code": "parameters_invalid", "title": "Unprocessable Entity", "detail": anyText, "status": "422",
			"invalid_parameters": arr{obj{"parameter": "entity_ids[0]", "reason": "not_found"}}})
	})
}
