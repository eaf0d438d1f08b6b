package api

import (
	"strconv"
	"testing"
)

// TestLimiterForgetsFullBuckets: the limiter's memory is bounded by the ids that used their
// bucket lately: a bucket that has refilled is forgotten (a new one would be the same), and a
// bucket that has not is kept, so forgetting never hands out a token.
func TestLimiterForgetsFullBuckets(t *testing.T) {
	l := newLimiter("per-key", RateLimit{Rate: 1, Burst: 2})
	t0 := l.swept
	for i := range 1000 {
		l.reserve(strconv.Itoa(i), t0)
	}
	if n := l.size(); n != 1000 {
		t.Fatalf("%d buckets, want 1000", n)
	}
	// Two sweep intervals later every one of them has refilled: the next request sweeps.
	l.reserve("new", t0.Add(2*limiterSweep))
	if n := l.size(); n != 1 {
		t.Fatalf("%d buckets after the sweep, want 1", n)
	}

	slow := newLimiter("per-account", RateLimit{Rate: 0.001, Burst: 1})
	t0 = slow.swept
	if v := admit(t0, check{slow, "a"}); !v.ok {
		t.Fatalf("first request refused: %+v", v)
	}
	t1 := t0.Add(2 * limiterSweep)
	if v := admit(t1, check{slow, "b"}); !v.ok {
		t.Fatalf("b refused: %+v", v)
	}
	if n := slow.size(); n != 2 {
		t.Fatalf("%d buckets, want a's (not refilled) and b's", n)
	}
	if v := admit(t1, check{slow, "a"}); v.ok || v.l != slow || v.wait <= 0 {
		t.Fatalf("a's bucket was forgotten before it refilled: %+v", v)
	}
}

// TestAdmitAllOrNothing: a request refused by one bucket spends no token of the others, and
// the verdict names the bucket that binds.
func TestAdmitAllOrNothing(t *testing.T) {
	keys := newLimiter("per-key", RateLimit{Rate: 0.001, Burst: 3})
	accounts := newLimiter("per-account", RateLimit{Rate: 0.001, Burst: 4})
	now := keys.swept
	req := func(key string) verdict { return admit(now, check{keys, key}, check{accounts, "acct"}) }
	for i, want := range []struct {
		name      string
		remaining int
	}{{"per-key", 2}, {"per-key", 1}, {"per-key", 0}} {
		v := req("k1")
		if !v.ok || v.l.name != want.name || v.remaining != want.remaining {
			t.Fatalf("request %d: %+v, want %s r=%d", i+1, v, want.name, want.remaining)
		}
	}
	if v := req("k1"); v.ok || v.l != keys {
		t.Fatalf("k1's fourth request: %+v, want refused by its key", v)
	}
	// The refusal took nothing from the account: k2 gets its last token.
	if v := req("k2"); !v.ok || v.l != accounts || v.remaining != 0 {
		t.Fatalf("k2: %+v, want served with the account's last token", v)
	}
	if v := req("k3"); v.ok || v.l != accounts {
		t.Fatalf("k3: %+v, want refused by the account", v)
	}
	// ... and the account's refusal took nothing from k3's own bucket.
	if v := admit(now, check{keys, "k3"}); !v.ok || v.remaining != 2 {
		t.Fatalf("k3's own bucket: %+v, want 2 left", v)
	}
	// With every bucket off, no verdict binds.
	if v := admit(now, check{newLimiter("per-key", RateLimit{}), "k"}); !v.ok || v.l != nil {
		t.Fatalf("limits off: %+v", v)
	}
}
