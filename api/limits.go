package api

import (
	"math"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit configures a token bucket: Rate tokens per second, Burst tokens at most. Rate 0
// turns it off.
type RateLimit struct {
	Rate  float64 // tokens per second
	Burst int
}

// accountShare is how many keys' worth of requests an account's keys may make together unless
// configured otherwise (SPEC §10).
const accountShare = 4

// accountLimit is the per-account bucket that opts asks for: each zero field is accountShare ×
// the per-key one; a negative Rate turns the per-account limit off.
func accountLimit(opts Options) RateLimit {
	a := opts.AccountRateLimit
	if a.Rate < 0 {
		return RateLimit{}
	}
	if a.Rate == 0 {
		a.Rate = accountShare * opts.RateLimit.Rate
	}
	if a.Burst == 0 {
		a.Burst = accountShare * opts.RateLimit.Burst
	}
	return a
}

// limiter holds one token bucket per id (a key or an account). A bucket that has refilled is
// forgotten, since a new one would be the same: memory is bounded by the ids that made a
// request within one refill time (plus one sweep interval), never by the ids ever seen.
type limiter struct {
	name    string // the policy's name in the RateLimit headers: "per-key", "per-account"
	cfg     RateLimit
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	swept   time.Time
}

// limiterSweep is how often the buckets are looked over for full ones.
const limiterSweep = time.Minute

func newLimiter(name string, cfg RateLimit) *limiter {
	return &limiter{name: name, cfg: cfg, buckets: map[string]*rate.Limiter{}, swept: time.Now()}
}

func (l *limiter) on() bool { return l.cfg.Rate > 0 }

// reserve takes a token from id's bucket (the reservation says when it may be used) and
// returns the bucket too. It is done under the map's lock, so a bucket is never forgotten
// between being found and being drawn from.
func (l *limiter) reserve(id string, now time.Time) (*rate.Limiter, *rate.Reservation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > limiterSweep {
		full := float64(l.cfg.Burst)
		for k, b := range l.buckets {
			if b.TokensAt(now) >= full {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b := l.bucket(id)
	return b, b.ReserveN(now, 1)
}

// bucket is id's bucket, made full on first use; l.mu must be held.
func (l *limiter) bucket(id string) *rate.Limiter {
	b := l.buckets[id]
	if b == nil {
		b = rate.NewLimiter(rate.Limit(l.cfg.Rate), l.cfg.Burst)
		l.buckets[id] = b
	}
	return b
}

// size is the number of buckets held.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// policy is the RateLimit-Policy header: the burst as quota over the window it refills in.
func (l *limiter) policy() string {
	w := int(math.Ceil(float64(l.cfg.Burst) / l.cfg.Rate))
	return `"` + l.name + `";q=` + strconv.Itoa(l.cfg.Burst) + `;w=` + strconv.Itoa(max(w, 1))
}

// check names one bucket a request draws from.
type check struct {
	l  *limiter
	id string
}

// verdict is what the bucket that binds says about a request: whether it is served, the whole
// tokens left and how long until the next token (when refused, how long to wait; when served,
// 0 unless no token is left).
type verdict struct {
	l         *limiter
	ok        bool
	remaining int
	wait      time.Duration
}

// admit takes one token from every bucket of checks, or from none: a request refused by one
// bucket spends nothing in the others. The verdict is the binding bucket's: when refused, the
// refusal with the longest wait; when served, the bucket with the fewest tokens left (the
// first of equals). With no bucket on, the zero verdict with ok set and no limiter.
func admit(now time.Time, checks ...check) verdict {
	type drawn struct {
		l *limiter
		b *rate.Limiter
		r *rate.Reservation
	}
	var ds []drawn
	out := verdict{ok: true}
	for _, c := range checks {
		if !c.l.on() {
			continue
		}
		b, r := c.l.reserve(c.id, now)
		ds = append(ds, drawn{c.l, b, r})
		wait := time.Second
		if r.OK() {
			wait = r.DelayFrom(now)
		}
		if wait > 0 && (out.ok || wait > out.wait) {
			out = verdict{l: c.l, wait: wait}
		}
	}
	if !out.ok {
		for _, d := range ds {
			d.r.CancelAt(now)
		}
		return out
	}
	for i, d := range ds {
		left := math.Max(0, d.b.TokensAt(now))
		v := verdict{l: d.l, ok: true, remaining: int(math.Floor(left))}
		if left < 1 {
			v.wait = time.Duration((1 - left) / d.l.cfg.Rate * float64(time.Second))
		}
		if i == 0 || v.remaining < out.remaining {
			out = v
		}
	}
	return out
}

// costUnit is the response size one rate-limit token pays for. A request's first token is taken
// before it runs; a response larger than costUnit takes one more token per whole costUnit once
// it is sent, from the key's bucket and its account's, which may then go below zero (the client
// waits for the debt to refill). So a tenant cannot buy a hundred times the server's work with
// one token: an 8 MiB page costs 128 tokens, 1.3 s of a key's default rate, where a get costs 1.
const costUnit = 64 << 10

// debit takes n more tokens from id's bucket, at most a burst's worth, whatever is left: the
// bucket may go into debt.
func (l *limiter) debit(id string, n int, now time.Time) {
	if !l.on() || n <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bucket(id).ReserveN(now, min(n, l.cfg.Burst)) // kept, never cancelled: that is the debt
}

// inFlight bounds the requests one account (or superadmin key) has running at once, as a
// concurrent-requests limiter: a token bucket paces how often a tenant may start requests, this
// how many of the expensive ones it can hold the server with at the same moment. Zero max is off.
type inFlight struct {
	max int
	mu  sync.Mutex
	n   map[string]int
}

func newInFlight(max int) *inFlight { return &inFlight{max: max, n: map[string]int{}} }

// acquire takes one of id's places, reporting false when all are taken.
func (f *inFlight) acquire(id string) bool {
	if f.max <= 0 {
		return true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n[id] >= f.max {
		return false
	}
	f.n[id]++
	return true
}

// release gives id's place back; an id with none left is forgotten, so the map holds only the
// tenants with a request running.
func (f *inFlight) release(id string) {
	if f.max <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n[id]--; f.n[id] <= 0 {
		delete(f.n, id)
	}
}
