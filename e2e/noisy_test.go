package e2e

// A noisy neighbour (SPEC §6, §10): one key's most expensive requests must not starve another
// tenant. The bench showed a key sending 8 MiB LeadConduit pages within its request rate taking
// the whole server; two limits answer it: a large response costs rate-limit tokens by its size,
// and an account has a bounded number of requests running at once.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/app"
)

// TestLargeResponsesCostTokens: a response of n × 64 KiB takes n tokens more than its first, so
// after one large page a key has that many fewer requests left.
func TestLargeResponsesCostTokens(t *testing.T) {
	t.Parallel()
	cfg := func() app.Config {
		// No refill to speak of during the test: every token is counted.
		return app.Config{RateLimit: api.RateLimit{Rate: 0.001, Burst: 40}}
	}
	httpEngines(t, cfg, func(t *testing.T, e *env, _ app.Config) {
		a := str(e.account("Large Pages"), "id")
		admin := e.key(a, roster.RoleAdmin)
		ctx := t.Context()
		p, err := e.app.Service.Authenticate(ctx, admin)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			body, err := json.Marshal(map[string]any{"name": fmt.Sprint("big ", i), "module_ids": []any{}, "source": nil, "recipient": nil,
				"description": strings.Repeat("<", 5000)})
			if err == nil {
				_, err = e.app.Service.CreateEntity(ctx, &roster.Request{Principal: p}, body)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		page := e.must(e.as(admin, "GET", "/v1/entities?limit=20", nil), 200)
		cost := len(page.Body) / (64 << 10)
		if cost < 5 {
			t.Fatalf("a page of %d bytes should cost several tokens", len(page.Body))
		}
		served := 0
		for range 40 {
			r := e.as(admin, "GET", "/v1/accounts/"+a, nil)
			if r.Status == 429 {
				wantNative(t, r, 429, "rate_limited")
				break
			}
			e.must(r, 200)
			served++
		}
		if want := 40 - 1 - cost; served != want {
			t.Fatalf("after a page of %d bytes (%d tokens beyond its first), %d small requests were served, want %d", len(page.Body), cost, served, want)
		}
	})
}

// TestMaxInFlight: an account has at most MaxInFlight requests running at once; the next is 429
// with Retry-After, another account is not affected, and a place that frees is taken again.
func TestMaxInFlight(t *testing.T) {
	t.Parallel()
	cfg := func() app.Config { return app.Config{MaxInFlight: 2} }
	httpEngines(t, cfg, func(t *testing.T, e *env, _ app.Config) {
		a := str(e.account("Busy"), "id")
		b := str(e.account("Quiet"), "id")
		admin, other := e.key(a, roster.RoleAdmin), e.key(b, roster.RoleAdmin)
		addr := strings.TrimPrefix(e.base, "http://")
		// Two requests that stay running: each asks to continue (Expect: 100-continue), which the
		// server grants when the handler starts reading the body, so past the in-flight check; its
		// body then never finishes arriving.
		hold := func() net.Conn {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(conn, "PATCH /v1/accounts/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\n", a, admin)
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			line, err := bufio.NewReader(conn).ReadString('\n')
			if err != nil || !strings.Contains(line, " 100 ") {
				t.Fatalf("a request that should run: %q %v", line, err)
			}
			fmt.Fprint(conn, "{")
			return conn
		}
		held := []net.Conn{hold(), hold()}
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		refused := e.as(admin, "GET", "/v1/accounts/"+a, nil)
		wantNative(t, refused, 429, "rate_limited")
		if refused.Header.Get("Retry-After") != "1" || !strings.Contains(string(refused.Body), "at most 2") {
			t.Fatalf("refusal: %s %v", refused, refused.Header)
		}
		e.must(e.as(other, "GET", "/v1/accounts/"+b, nil), 200)
		e.must(e.as(e.super, "GET", "/v1/accounts/"+a, nil), 200)

		held[0].Close()
		held = held[1:]
		e.waitFor(t, func() (resp, bool) {
			r := e.as(admin, "GET", "/v1/accounts/"+a, nil)
			return r, r.Status == 200
		})
	})
}

// waitFor repeats try until it reports done, for at most 10 s.
func (e *env) waitFor(t *testing.T, try func() (resp, bool)) resp {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, done := try()
		if done {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %s after 10 s", r)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
