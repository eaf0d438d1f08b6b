package e2e

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/app"
)

// Limits and operations (SPEC §5, §10): the per-key rate limit, body size and media type,
// slow clients, /metrics, the request log and X-Request-Id.

// opsStart starts roster with cfg (on a fresh SQLite database unless cfg.Database is set), as
// startWith does with the default configuration.
func opsStart(t *testing.T, cfg app.Config) *env {
	t.Helper()
	if cfg.Database == "" {
		cfg.Database = databaseURL(t, "sqlite")
	}
	e := startConfig(t, cfg)
	if e.super == "" {
		t.Fatal("no bootstrap key printed")
	}
	return e
}

// opsAddr is the host:port of e.
func opsAddr(e *env) string { return strings.TrimPrefix(e.base, "http://") }

// opsRate reads the RateLimit header, which must name the per-key policy: remaining and
// reset seconds.
func opsRate(t *testing.T, r resp) (remaining, reset int) {
	t.Helper()
	policy, remaining, reset := rlState(t, r)
	if policy != "per-key" {
		t.Fatalf("RateLimit header %q names %s, want per-key (%s)", r.Header.Get("RateLimit"), policy, r)
	}
	return remaining, reset
}

// opsWant429 checks the headers of a 429 and returns Retry-After in seconds.
func opsWant429(t *testing.T, r resp, policy string) int {
	t.Helper()
	if r.Status != 429 {
		t.Fatalf("want 429, got %s", r)
	}
	ra := r.Header.Get("Retry-After")
	secs, err := strconv.Atoi(ra)
	if err != nil || secs < 1 || strconv.Itoa(secs) != ra {
		t.Fatalf("Retry-After %q is not an integer number of seconds ≥ 1", ra)
	}
	if remaining, reset := opsRate(t, r); remaining != 0 || reset != secs {
		t.Fatalf("RateLimit %q on a 429 with Retry-After %d", r.Header.Get("RateLimit"), secs)
	}
	if got := r.Header.Get("RateLimit-Policy"); got != policy {
		t.Fatalf("RateLimit-Policy %q, want %q", got, policy)
	}
	return secs
}

// TestOpsRateLimit: a per-key token bucket; the request past the burst is 429 with Retry-After
// and the IETF RateLimit headers, in the shape of the path's surface; other keys go on.
func TestOpsRateLimit(t *testing.T) {
	t.Parallel()
	// A burst of 5 refilled at one token per 10 s: no token comes back during the test, so the
	// counts do not depend on how fast the machine is.
	e := opsStart(t, app.Config{RateLimit: api.RateLimit{Rate: 0.1, Burst: 5}})
	const policy = `"per-key";q=5;w=50`
	a := str(e.account("Limited"), "id") // the superadmin's first token
	// Keys are made without the API, so they spend no token.
	admin, reader, other := e.key(a, roster.RoleAdmin), e.key(a, roster.RoleReader), e.key(a, roster.RoleAdmin)

	exhaust := func(t *testing.T, e *env, key string) {
		t.Helper()
		for i := 0; i < 5; i++ {
			r := e.as(key, "GET", "/v1/accounts/"+a, nil)
			wantBody(t, r, 200, accountBody(a, "Limited", "limited", "active"))
			// t is 0 while a token is left; with the last one taken, the time to the next.
			if remaining, reset := opsRate(t, r); remaining != 4-i || (remaining > 0) != (reset == 0) {
				t.Fatalf("request %d: RateLimit %q, want r=%d", i+1, r.Header.Get("RateLimit"), 4-i)
			}
			if got := r.Header.Get("RateLimit-Policy"); got != policy {
				t.Fatalf("RateLimit-Policy %q, want %q", got, policy)
			}
			if r.Header.Get("Retry-After") != "" {
				t.Fatalf("Retry-After on a success: %v", r.Header)
			}
		}
	}

	t.Run("native", func(t *testing.T) {
		e := e.forT(t)
		exhaust(t, e, admin)
		r := e.as(admin, "GET", "/v1/accounts/"+a, nil)
		wantNative(t, r, 429, "rate_limited")
		if secs := opsWant429(t, r, policy); secs > 10 {
			t.Fatalf("Retry-After %d s for a bucket that refills a token every 10 s", secs)
		}
		// Every route of the key is refused now, writes included, before size and media type.
		wantNative(t, e.as(admin, "POST", "/v1/api-keys", map[string]any{"account_id": a, "name": "x"}), 429, "rate_limited")
		wantNative(t, e.as(admin, "POST", "/v1/accounts", "name=x", "Content-Type", "text/plain"), 429, "rate_limited")
		// Authentication comes first: a bad key is 401, not 429.
		wantUnauthorized(t, e.as(roster.NewSecret(), "GET", "/v1/accounts/"+a, nil))
		// Other keys are unaffected, of the same account too; public routes are not limited.
		wantBody(t, e.as(reader, "GET", "/v1/accounts/"+a, nil), 200, accountBody(a, "Limited", "limited", "active"))
		if remaining, _ := opsRate(t, e.as(e.super, "GET", "/v1/accounts/"+a, nil)); remaining != 3 {
			t.Fatalf("the superadmin's bucket: %d left, want 3", remaining)
		}
		for i := 0; i < 10; i++ {
			e.must(e.req("GET", "/healthz", nil), 200)
		}
	})

	// The last token's answer says when the next one comes: r=0 with t=0 would tell a client
	// that the quota is back at once, and its next request would be refused.
	t.Run("reset with the last token", func(t *testing.T) {
		e := e.forT(t)
		last := e.key(a, roster.RoleAdmin)
		var r resp
		for i := 0; i < 5; i++ {
			r = e.as(last, "GET", "/v1/accounts/"+a, nil)
			e.must(r, 200)
		}
		remaining, reset := opsRate(t, r)
		if remaining != 0 {
			t.Fatalf("RateLimit %q after the whole burst", r.Header.Get("RateLimit"))
		}
		next := e.as(last, "GET", "/v1/accounts/"+a, nil)
		secs := opsWant429(t, next, policy)
		if reset < secs || reset > secs+1 {
			t.Fatalf("RateLimit t=%d with the last token, then Retry-After %d", reset, secs)
		}
	})

	t.Run("lead bank", func(t *testing.T) {
		e := e.forT(t)
		exhaust(t, e, other)
		r := e.as(other, "GET", "/v0/accounts/"+a+"/entity_relationships", nil)
		wantBody(t, r, 429, leadBankErr("rate_limit_exceeded", "Too Many Requests", 429))
		opsWant429(t, r, policy)
		r = e.as(other, "POST", "/v0/accounts/"+a+"/entity_relationships/batch",
			map[string]any{"entity_ids": []string{"entity_x"}, "relationship_type": "account_holder"}, "Idempotency-Key", "k1")
		wantBody(t, r, 429, leadBankErr("rate_limit_exceeded", "Too Many Requests", 429))
		// And on the LeadConduit surface, its own shape.
		r = e.req("GET", "/entities", nil, "Authorization", basic("API", other))
		wantBody(t, r, 429, conduitErr("rate_limited"))
		opsWant429(t, r, policy)
	})

	// Retry-After tells the truth: after waiting that long, the key is served again.
	t.Run("retry after", func(t *testing.T) {
		e := opsStart(t, app.Config{RateLimit: api.RateLimit{Rate: 2, Burst: 1}})
		var r resp
		for i := 0; i < 50; i++ {
			if r = e.as(e.super, "GET", "/v1/accounts", nil); r.Status == 429 {
				break
			}
		}
		wantNative(t, r, 429, "rate_limited")
		secs := opsWant429(t, r, `"per-key";q=1;w=1`)
		if secs != 1 {
			t.Fatalf("Retry-After %d, want 1 for a bucket that refills a token every 0.5 s", secs)
		}
		time.Sleep(time.Duration(secs) * time.Second)
		e.must(e.as(e.super, "GET", "/v1/accounts", nil), 200)
	})
}

// opsRaw sends a request on a raw connection: head as written, then body, and reads the
// answer with a deadline.
func opsRaw(t *testing.T, addr, head string, body []byte, wait time.Duration) (*http.Response, []byte, time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	_ = conn.SetDeadline(start.Add(wait))
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(body); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer within %s: %v", wait, err)
	}
	data, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return res, data, time.Since(start)
}

// TestOpsBodyLimits: a body announced over 1 MiB is 413 at once, without the server waiting
// for it; a non-JSON body is 415; a client dribbling its headers is cut off, others served.
func TestOpsBodyLimits(t *testing.T) {
	t.Parallel()
	e := opsStart(t, app.Config{ReadHeaderTimeout: 500 * time.Millisecond})
	a := str(e.account("Limits Co"), "id")
	admin := e.key(a, roster.RoleAdmin)

	t.Run("413 announced", func(t *testing.T) {
		e := e.forT(t)
		for _, tc := range []struct {
			path string
			want any
		}{
			{"/v1/accounts", nativeErr("payload_too_large")},
			{"/v1/api-keys", nativeErr("payload_too_large")},
			{"/v0/accounts/" + a + "/entity_relationships/batch", leadBankErr("payload_too_large", "Request Entity Too Large", 413)},
			{"/entities", conduitErr("payload_too_large")},
		} {
			// 100 MiB announced, 1 KiB sent: the answer must not wait for the rest.
			head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: roster\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"+
				"Idempotency-Key: big\r\nContent-Length: %d\r\n\r\n", tc.path, admin, 100<<20)
			res, data, took := opsRaw(t, opsAddr(e), head, []byte(`{"name":"`+strings.Repeat("a", 1024)), 10*time.Second)
			wantBody(t, resp{Status: res.StatusCode, Header: res.Header, Body: data}, 413, tc.want)
			if took > 5*time.Second {
				t.Fatalf("%s: the 413 took %s", tc.path, took)
			}
		}
		// Without a valid key the same request is a 401, as promptly.
		head := fmt.Sprintf("POST /v1/accounts HTTP/1.1\r\nHost: roster\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", 100<<20)
		res, data, took := opsRaw(t, opsAddr(e), head, []byte(`{"name":"`), 10*time.Second)
		wantUnauthorized(t, resp{Status: res.StatusCode, Header: res.Header, Body: data})
		if took > 5*time.Second {
			t.Fatalf("the 401 took %s", took)
		}
		// Just over the limit, sent whole: 413 too; nothing was created.
		big := []byte(`{"name":"` + strings.Repeat("a", 1<<20) + `"}`)
		wantNative(t, e.as(e.super, "POST", "/v1/accounts", big), 413, "payload_too_large")
		if n := len(ids(t, e.must(e.as(e.super, "GET", "/v1/accounts", nil), 200))); n != 1 {
			t.Fatalf("%d accounts after refused bodies, want 1", n)
		}
	})

	t.Run("415", func(t *testing.T) {
		e := e.forT(t)
		body := `{"name":"Plain Co"}`
		for _, ct := range []string{"text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded", "application/jsonx", "json", ""} {
			wantNative(t, e.as(e.super, "POST", "/v1/accounts", body, "Content-Type", ct), 415, "unsupported_media_type")
		}
		wantBody(t, e.as(admin, "POST", "/v0/accounts/"+a+"/entity_relationships/batch", `{"entity_ids":["entity_x"],"relationship_type":"account_holder"}`,
			"Content-Type", "text/plain", "Idempotency-Key", "k"), 415, leadBankErr("unsupported_media_type", "Unsupported Media Type", 415))
		wantBody(t, e.req("PUT", "/entities/0123456789abcdef01234567", `{"name":"x"}`, "Authorization", basic("API", admin), "Content-Type", "text/plain"),
			415, conduitErr("unsupported_media_type"))
		// JSON in its accepted forms goes through.
		e.must(e.as(e.super, "POST", "/v1/accounts", `{"name":"Charset Co"}`, "Content-Type", "application/json; charset=utf-8"), 201)
		e.must(e.as(e.super, "POST", "/v1/accounts", `{"name":"Suffix Co"}`, "Content-Type", "application/merge-patch+json"), 201)
	})

	t.Run("slow headers", func(t *testing.T) {
		e := e.forT(t)
		conn, err := net.Dial("tcp", opsAddr(e))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		closed := make(chan time.Duration, 1)
		start := time.Now()
		go func() {
			_, _ = io.Copy(io.Discard, conn) // returns when the server hangs up
			closed <- time.Since(start)
		}()
		_, _ = io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: roster\r\n")
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(10 * time.Second)
		served := false
		for {
			select {
			case took := <-closed:
				if took < 400*time.Millisecond {
					t.Fatalf("cut off after %s, before the 500 ms header timeout", took)
				}
				if !served {
					t.Fatal("no other request was served while the slow client dribbled")
				}
				return
			case <-tick.C:
				_, _ = io.WriteString(conn, "X-Slow: a\r\n")
				if !served {
					// Another client is served meanwhile.
					wantBody(t, e.req("GET", "/healthz", nil), 200, obj{"status": "ok"})
					served = true
				}
			case <-deadline:
				t.Fatal("a client dribbling headers was not cut off within 10 s")
			}
		}
	})
}

// opsSeries is one sample of the Prometheus text format.
type opsSeries struct {
	name   string
	labels map[string]string
	value  float64
}

var opsSampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)
var opsLabelPair = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// opsScrape reads /metrics: a 200 in the Prometheus text format, parsed into samples.
func opsScrape(t *testing.T, e *env) ([]opsSeries, string) {
	t.Helper()
	r := e.req("GET", "/metrics", nil)
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics: %d %q", r.Status, r.Header.Get("Content-Type"))
	}
	var out []opsSeries
	for _, line := range strings.Split(string(r.Body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := opsSampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("not a sample line: %q", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("bad value in %q", line)
		}
		s := opsSeries{name: m[1], labels: map[string]string{}, value: v}
		for _, p := range opsLabelPair.FindAllStringSubmatch(m[2], -1) {
			s.labels[p[1]] = p[2]
		}
		out = append(out, s)
	}
	return out, string(r.Body)
}

// opsFind returns the value of the sample name with at least these labels (name=value pairs),
// and whether there is one.
func opsFind(samples []opsSeries, name string, labels ...string) (float64, bool) {
	for _, s := range samples {
		if s.name != name {
			continue
		}
		ok := true
		for i := 0; i+1 < len(labels); i += 2 {
			if s.labels[labels[i]] != labels[i+1] {
				ok = false
				break
			}
		}
		if ok {
			return s.value, true
		}
	}
	return 0, false
}

// TestOpsMetrics: /metrics after traffic has requests by route pattern and status, the latency
// histogram by route pattern and the database pool's statistics.
func TestOpsMetrics(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := str(e.account("Metrics Co"), "id")
		for i := 0; i < 3; i++ {
			e.must(e.as(e.super, "GET", "/v1/accounts/"+a, nil), 200)
		}
		e.must(e.as(e.super, "GET", "/v1/accounts/"+opsUnknownAccount, nil), 404)
		e.must(e.req("GET", "/v1/accounts/"+a, nil), 401)
		e.must(e.as(e.super, "DELETE", "/v1/accounts/"+a, nil), 405)
		e.must(e.as(e.super, "GET", "/v1/api-keys?limit=1", nil), 200)
		e.must(e.req("GET", "/no/such/path", nil), 404)
		// Methods are the client's to choose: made-up ones must not become label values.
		for i := 0; i < 3; i++ {
			e.must(e.as(e.super, "BREW"+strconv.Itoa(i), "/v1/accounts", nil), 405)
			e.must(e.req("MKCOL"+strconv.Itoa(i), "/no/such/path", nil), 404)
		}

		samples, text := opsScrape(t, e)
		want := func(name string, value float64, labels ...string) {
			t.Helper()
			got, ok := opsFind(samples, name, labels...)
			if !ok || got != value {
				t.Fatalf("%s%v = %v (present %v), want %v", name, labels, got, ok, value)
			}
		}
		const route = "/v1/accounts/{account_id}"
		want("roster_http_requests_total", 3, "route", route, "method", "GET", "status", "200")
		want("roster_http_requests_total", 1, "route", route, "method", "GET", "status", "404")
		want("roster_http_requests_total", 1, "route", route, "method", "GET", "status", "401")
		want("roster_http_requests_total", 1, "route", route, "method", "DELETE", "status", "405")
		want("roster_http_requests_total", 1, "route", "/v1/accounts", "method", "POST", "status", "201")
		want("roster_http_requests_total", 1, "route", "/v1/api-keys", "method", "GET", "status", "200")
		if _, ok := opsFind(samples, "roster_http_requests_total", "method", "GET", "status", "404", "route", "/no/such/path"); ok {
			t.Fatal("an unmatched path is a label value: its cardinality is unbounded")
		}
		for _, s := range samples {
			if m, has := s.labels["method"]; has && s.name == "roster_http_requests_total" {
				switch m {
				case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "other":
				default:
					t.Fatalf("a client's made-up method is a label value (unbounded cardinality): %v", s)
				}
			}
		}
		want("roster_http_requests_total", 3, "route", "/v1/accounts", "method", "other", "status", "405")
		// Paths never become labels: no id appears anywhere.
		if strings.Contains(text, strings.TrimPrefix(a, "account_")) || strings.Contains(text, strings.TrimPrefix(opsUnknownAccount, "account_")) {
			t.Fatal("an id appears in /metrics")
		}
		// The latency histogram, by route pattern: every request of the route in +Inf.
		want("roster_http_request_duration_seconds_bucket", 6, "route", route, "le", "+Inf")
		want("roster_http_request_duration_seconds_count", 6, "route", route)
		if sum, ok := opsFind(samples, "roster_http_request_duration_seconds_sum", "route", route); !ok || sum <= 0 {
			t.Fatalf("latency sum %v %v", sum, ok)
		}
		buckets := 0
		prev := -1.0
		for _, s := range samples {
			if s.name == "roster_http_request_duration_seconds_bucket" && s.labels["route"] == route {
				if s.value < prev {
					t.Fatalf("histogram buckets are not cumulative: %v", s)
				}
				prev = s.value
				buckets++
			}
		}
		if buckets < 5 {
			t.Fatalf("%d latency buckets", buckets)
		}

		// Database pool statistics of the engine.
		if strings.HasSuffix(t.Name(), "sqlite") {
			want("go_sql_max_open_connections", 1, "db_name", "sqlite_writer")
			want("go_sql_max_open_connections", float64(max(4, 2*runtime.GOMAXPROCS(0))), "db_name", "sqlite_readers")
			for _, db := range []string{"sqlite_writer", "sqlite_readers"} {
				for _, name := range []string{"go_sql_open_connections", "go_sql_in_use_connections", "go_sql_idle_connections", "go_sql_wait_count_total"} {
					if _, ok := opsFind(samples, name, "db_name", db); !ok {
						t.Fatalf("no %s for %s", name, db)
					}
				}
			}
			if open, _ := opsFind(samples, "go_sql_open_connections", "db_name", "sqlite_readers"); open < 1 {
				t.Fatalf("no reader connection open after reads: %v", open)
			}
		} else {
			for _, name := range []string{"roster_pg_pool_acquired_conns", "roster_pg_pool_idle_conns", "roster_pg_pool_total_conns",
				"roster_pg_pool_empty_acquires_total", "roster_pg_pool_acquire_wait_seconds_total"} {
				if _, ok := opsFind(samples, name); !ok {
					t.Fatalf("no %s", name)
				}
			}
			if v, _ := opsFind(samples, "roster_pg_pool_max_conns"); v < 1 {
				t.Fatalf("roster_pg_pool_max_conns %v", v)
			}
			if v, _ := opsFind(samples, "roster_pg_pool_acquires_total"); v < 10 {
				t.Fatalf("roster_pg_pool_acquires_total %v after traffic", v)
			}
		}

		// The scrape itself is counted, by its own route.
		again, _ := opsScrape(t, e)
		if v, ok := opsFind(again, "roster_http_requests_total", "route", "/metrics", "method", "GET", "status", "200"); !ok || v < 1 {
			t.Fatalf("/metrics is not counted: %v", v)
		}
	})
}

// opsLogBuffer collects the server's log; the server writes from many goroutines.
type opsLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *opsLogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *opsLogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// opsLogged is what the log line of one request must say.
type opsLogged struct {
	id, method, route, account string
	status                     int
}

// TestOpsLogs: one JSON line per request (request id, method, route pattern, status, duration,
// account id), whatever the outcome, and never a secret; X-Request-Id honoured when sane.
func TestOpsLogs(t *testing.T) {
	t.Parallel()
	logs := &opsLogBuffer{}
	e := opsStart(t, app.Config{Log: logs})
	var want []opsLogged
	var secrets []string
	n := 0
	// send makes one request with a fresh sane X-Request-Id (unless headers set one) and notes
	// what its log line must say.
	send := func(method, path string, body any, route, account string, status int, headers ...string) resp {
		t.Helper()
		n++
		sent := ""
		hasID := false
		for i := 0; i+1 < len(headers); i += 2 {
			if headers[i] == "X-Request-Id" {
				hasID, sent = true, headers[i+1]
			}
		}
		if !hasID {
			sent = fmt.Sprintf("ops-log-%d", n)
			headers = append(headers, "X-Request-Id", sent)
		}
		r := e.req(method, path, body, headers...)
		if r.Status != status {
			t.Fatalf("%s %s: want %d, got %s", method, path, status, r)
		}
		id := r.Header.Get("X-Request-Id")
		sane := len(sent) >= 1 && len(sent) <= 128 && !strings.ContainsFunc(sent, func(c rune) bool { return c < 0x21 || c > 0x7e })
		switch {
		case sane && id != sent:
			t.Fatalf("a sane X-Request-Id %q came back as %q", sent, id)
		case !sane && (id == sent || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id)):
			t.Fatalf("X-Request-Id %q came back as %q, want a new one", sent, id)
		}
		want = append(want, opsLogged{id: id, method: method, route: route, account: account, status: status})
		return r
	}
	bearer := func(k string) []string { return []string{"Authorization", "Bearer " + k} }

	secrets = append(secrets, e.super)
	r := send("POST", "/v1/accounts", map[string]any{"name": "Logged Co"}, "/v1/accounts", "", 201, bearer(e.super)...)
	a := str(r.Obj(), "id")
	send("GET", "/v1/accounts", nil, "/v1/accounts", "", 200, bearer(e.super)...)
	r = send("POST", "/v1/api-keys", map[string]any{"account_id": a, "name": "logged admin"}, "/v1/api-keys", "", 201, bearer(e.super)...)
	admin := str(r.Obj(), "key")
	secrets = append(secrets, admin)
	send("GET", "/v1/accounts/"+a, nil, "/v1/accounts/{account_id}", a, 200, "Authorization", basic("API", admin))
	r = send("POST", "/v1/api-keys", map[string]any{"account_id": a, "name": "logged reader", "role": "reader"}, "/v1/api-keys", a, 201, "leadr-api-key", admin)
	reader, readerID := str(r.Obj(), "key"), str(r.Obj(), "id")
	secrets = append(secrets, reader)
	send("GET", "/entities", nil, "/entities", a, 200, "leadr-api-key", reader)
	send("GET", "/v0/accounts/"+a+"/entity_relationships", nil, "/v0/accounts/{id}/entity_relationships", a, 200, bearer(reader)...)
	send("GET", "/v1/api-keys/"+readerID, nil, "/v1/api-keys/{key_id}", a, 200, "Authorization", basic("someone", admin))
	// Failures: unknown, malformed and conflicting keys; forbidden; revoked.
	unknown := roster.NewSecret()
	secrets = append(secrets, unknown)
	send("GET", "/v1/accounts", nil, "/v1/accounts", "", 401, bearer(unknown)...)
	send("GET", "/v1/accounts", nil, "/v1/accounts", "", 401, "Authorization", basic("API", "rk_not_a_secret_at_all"))
	send("GET", "/v1/accounts", nil, "/v1/accounts", "", 401, "Authorization", "Bearer "+admin, "leadr-api-key", reader)
	send("POST", "/v1/api-keys", map[string]any{"account_id": a, "name": "x"}, "/v1/api-keys", a, 403, bearer(reader)...)
	send("PATCH", "/v1/api-keys/"+readerID, map[string]any{"status": "revoked"}, "/v1/api-keys/{key_id}", a, 200, bearer(admin)...)
	send("GET", "/v1/accounts/"+a, nil, "/v1/accounts/{account_id}", "", 401, bearer(reader)...)
	send("POST", "/v1/accounts", "{", "/v1/accounts", "", 422, bearer(e.super)...)
	// Operational routes and unknown paths are logged too.
	send("GET", "/healthz", nil, "/healthz", "", 200)
	send("GET", "/no/such/path", nil, "unmatched", "", 404)
	// X-Request-Id: honoured when sane (JSON-escaped in the log), generated otherwise.
	send("GET", "/healthz", nil, "/healthz", "", 200, "X-Request-Id", `ops"quote\back`)
	send("GET", "/healthz", nil, "/healthz", "", 200, "X-Request-Id", strings.Repeat("r", 128))
	send("GET", "/healthz", nil, "/healthz", "", 200, "X-Request-Id", strings.Repeat("r", 129))
	send("GET", "/v1/accounts", nil, "/v1/accounts", "", 200, append(bearer(e.super), "X-Request-Id", "has space")...)
	send("GET", "/v1/accounts", nil, "/v1/accounts", "", 401, "X-Request-Id", "")

	// Log lines are written once the response is on its way: wait for all of them.
	var byID map[string][]map[string]any
	var lines []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		lines = strings.Split(strings.TrimRight(logs.String(), "\n"), "\n")
		byID = map[string][]map[string]any{}
		for _, line := range lines {
			var m map[string]any
			dec := json.NewDecoder(strings.NewReader(line))
			dec.UseNumber()
			if err := dec.Decode(&m); err != nil {
				t.Fatalf("a log line is not JSON: %q", line)
			}
			if m["msg"] == "request" {
				id, _ := m["request_id"].(string)
				byID[id] = append(byID[id], m)
			}
		}
		if len(byID) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // a duplicate line would come now
	lines = strings.Split(strings.TrimRight(logs.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d log lines for %d requests:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	for _, w := range want {
		got := byID[w.id]
		if len(got) != 1 {
			t.Fatalf("request %s %s (id %q): %d log lines", w.method, w.route, w.id, len(got))
		}
		m := got[0]
		if m["level"] != "INFO" || m["method"] != w.method || m["route"] != w.route || m["account_id"] != w.account ||
			fmt.Sprint(m["status"]) != strconv.Itoa(w.status) {
			t.Fatalf("log line %v, want %+v", m, w)
		}
		d, err := m["duration_ms"].(json.Number).Float64()
		if err != nil || d < 0 || d > 30000 {
			t.Fatalf("duration_ms %v", m["duration_ms"])
		}
		if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(m["time"])); err != nil {
			t.Fatalf("time %v", m["time"])
		}
	}

	// No secret, nor any recognisable part or encoding of one, is in the log.
	text := logs.String()
	if strings.Contains(text, "rk_") {
		t.Fatalf("the log contains rk_:\n%s", text)
	}
	for _, s := range secrets {
		for _, part := range []string{s, s[3:], s[roster.KeyPrefixLen:], base64.StdEncoding.EncodeToString([]byte("API:" + s))} {
			if strings.Contains(text, part) {
				t.Fatalf("a secret is in the log")
			}
		}
	}
}
