package e2e

import (
	"strconv"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/app"
)

// The per-account rate limit (SPEC §10): one token bucket over all of an account's keys
// together, so that minting keys does not multiply a tenant's share. Buckets refill at one
// token per 10 s, so no token comes back during a test and the counts do not depend on how
// fast the machine is.

// rlWant429 checks a refusal by the named policy: the status, Retry-After, and the RateLimit
// headers naming that policy.
func rlWant429(t *testing.T, r resp, name, policy string) {
	t.Helper()
	if r.Status != 429 {
		t.Fatalf("want 429, got %s", r)
	}
	secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > 10 {
		t.Fatalf("Retry-After %q for a bucket that refills a token every 10 s", r.Header.Get("Retry-After"))
	}
	if p, remaining, reset := rlState(t, r); p != name || remaining != 0 || reset != secs {
		t.Fatalf("RateLimit %q with Retry-After %d, want the %s policy", r.Header.Get("RateLimit"), secs, name)
	}
	if got := r.Header.Get("RateLimit-Policy"); got != policy {
		t.Fatalf("RateLimit-Policy %q, want %q", got, policy)
	}
}

// TestRateLimitAccount: an account's keys share one bucket; a refused request is 429 exactly
// as the per-key one, in the shape of each surface; other accounts and superadmin keys go on.
func TestRateLimitAccount(t *testing.T) {
	t.Parallel()
	cfg := func() app.Config {
		return app.Config{RateLimit: api.RateLimit{Rate: 0.1, Burst: 5}, AccountRateLimit: api.RateLimit{Rate: 0.1, Burst: 8}}
	}
	httpEngines(t, cfg, func(t *testing.T, e *env, _ app.Config) {
		const keyPolicy, accountPolicy = `"per-key";q=5;w=50`, `"per-account";q=8;w=80`
		a := str(e.account("Shared Bucket"), "id")
		b := str(e.account("Neighbour"), "id")
		// Keys are made without the API, so they spend no token.
		var keys []string
		for i := 0; i < 4; i++ {
			keys = append(keys, e.key(a, roster.RoleAdmin))
		}
		get := "/v1/accounts/" + a
		accepted := 0
		for round := 0; round < 5; round++ {
			for i, k := range keys {
				r := e.as(k, "GET", get, nil)
				if r.Status == 429 {
					wantNative(t, r, 429, "rate_limited")
					rlWant429(t, r, "per-account", accountPolicy)
					continue
				}
				wantBody(t, r, 200, accountBody(a, "Shared Bucket", "shared-bucket", "active"))
				accepted++
				// The header names the bucket with fewer tokens left: the key's while it has
				// fewer, the account's once the account's run lower.
				keyLeft, accountLeft := 4-round, 8-accepted
				policy, remaining, _ := rlState(t, r)
				wantPolicy, wantLeft, wantDoc := "per-key", keyLeft, keyPolicy
				if accountLeft < keyLeft {
					wantPolicy, wantLeft, wantDoc = "per-account", accountLeft, accountPolicy
				}
				if policy != wantPolicy || remaining != wantLeft || r.Header.Get("RateLimit-Policy") != wantDoc {
					t.Fatalf("round %d key %d: RateLimit %q, RateLimit-Policy %q; want %s r=%d",
						round, i, r.Header.Get("RateLimit"), r.Header.Get("RateLimit-Policy"), wantPolicy, wantLeft)
				}
			}
		}
		if accepted != 8 {
			t.Fatalf("the account's keys together were served %d times, want its burst of 8", accepted)
		}

		// A new key of the account brings no new share.
		fresh := e.key(a, roster.RoleReader)
		r := e.as(fresh, "GET", get, nil)
		wantNative(t, r, 429, "rate_limited")
		rlWant429(t, r, "per-account", accountPolicy)
		// Every surface refuses in its own shape, writes included.
		r = e.as(fresh, "GET", "/v0/accounts/"+a+"/entity_relationships", nil)
		wantBody(t, r, 429, leadBankErr("rate_limit_exceeded", "Too Many Requests", 429))
		rlWant429(t, r, "per-account", accountPolicy)
		r = e.req("GET", "/entities", nil, "Authorization", basic("API", keys[0]))
		wantBody(t, r, 429, conduitErr("rate_limited"))
		rlWant429(t, r, "per-account", accountPolicy)
		wantNative(t, e.as(keys[1], "POST", "/v1/entities", entMin("Refused")), 429, "rate_limited")

		// A refusal by the account spends no key token: the per-key buckets are where they were
		// (keys[0] has 3 left and is still refused by the account, not by itself).
		rlWant429(t, e.as(keys[0], "GET", get, nil), "per-account", accountPolicy)

		// Another account is unaffected: its keys have their own bucket.
		n1, n2 := e.key(b, roster.RoleAdmin), e.key(b, roster.RoleAdmin)
		for i := 0; i < 5; i++ {
			wantBody(t, e.as(n1, "GET", "/v1/accounts/"+b, nil), 200, accountBody(b, "Neighbour", "neighbour", "active"))
		}
		// ... and its per-key bucket still binds first.
		r = e.as(n1, "GET", "/v1/accounts/"+b, nil)
		wantNative(t, r, 429, "rate_limited")
		rlWant429(t, r, "per-key", keyPolicy)
		for i := 0; i < 3; i++ {
			r = e.as(n2, "GET", "/v1/accounts/"+b, nil)
			wantBody(t, r, 200, accountBody(b, "Neighbour", "neighbour", "active"))
		}
		// n2 has 2 key tokens left, the account 0: its next request is the account's refusal.
		if policy, remaining, _ := rlState(t, r); policy != "per-account" || remaining != 0 {
			t.Fatalf("RateLimit %q after the account's burst", r.Header.Get("RateLimit"))
		}
		rlWant429(t, e.as(n2, "GET", "/v1/accounts/"+b, nil), "per-account", accountPolicy)

		// A superadmin key is limited per key only: it reads the exhausted account.
		wantBody(t, e.as(e.super, "GET", get, nil), 200, accountBody(a, "Shared Bucket", "shared-bucket", "active"))
		if policy, _, _ := rlState(t, e.as(e.super, "GET", "/v1/accounts/"+b, nil)); policy != "per-key" {
			t.Fatalf("a superadmin's RateLimit names %q", policy)
		}
	})
}

// TestRateLimitAccountDefault: unless configured, the account's bucket is four times the
// per-key one, in rate and in burst.
func TestRateLimitAccountDefault(t *testing.T) {
	t.Parallel()
	cfg := func() app.Config { return app.Config{RateLimit: api.RateLimit{Rate: 0.1, Burst: 5}} }
	httpEngines(t, cfg, func(t *testing.T, e *env, _ app.Config) {
		a := str(e.account("Default Share"), "id")
		accepted := 0
		var last resp
		for i := 0; i < 6; i++ {
			k := e.key(a, roster.RoleAdmin)
			for j := 0; j < 5; j++ {
				r := e.as(k, "GET", "/v1/accounts/"+a, nil)
				if r.Status == 200 {
					accepted++
					continue
				}
				last = r
			}
		}
		if accepted != 20 {
			t.Fatalf("served %d, want 4 × the per-key burst of 5", accepted)
		}
		wantNative(t, last, 429, "rate_limited")
		// 20 tokens refilled at 4 × 0.1 per second: the whole bucket in 50 s.
		rlWant429(t, last, "per-account", `"per-account";q=20;w=50`)
	})
}
