package api

import (
	"math"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit configures the per-key token bucket. Rate 0 turns limiting off.
type RateLimit struct {
	Rate  float64 // tokens per second
	Burst int
}

// limiter holds one token bucket per key, forgetting keys idle for a while.
type limiter struct {
	cfg     RateLimit
	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

const limiterIdle = 10 * time.Minute

func newLimiter(cfg RateLimit) *limiter {
	return &limiter{cfg: cfg, buckets: map[string]*bucket{}, swept: time.Now()}
}

// allow takes a token for key. It reports the whole tokens left and how long until the next
// token: when refused, how long to wait; when allowed, 0 unless no token is left.
func (l *limiter) allow(key string, now time.Time) (ok bool, remaining int, wait time.Duration) {
	if l.cfg.Rate <= 0 {
		return true, 0, 0
	}
	l.mu.Lock()
	b := l.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.cfg.Rate), l.cfg.Burst)}
		l.buckets[key] = b
	}
	b.seen = now
	if now.Sub(l.swept) > limiterIdle {
		for k, v := range l.buckets {
			if now.Sub(v.seen) > limiterIdle {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	l.mu.Unlock()
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, 0, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, 0, d
	}
	left := b.lim.TokensAt(now)
	if left >= 1 {
		return true, int(math.Floor(left)), 0
	}
	return true, 0, time.Duration((1 - math.Max(0, left)) / l.cfg.Rate * float64(time.Second))
}

// policy is the RateLimit-Policy header: the burst as quota over the window it refills in.
func (l *limiter) policy() string {
	w := int(math.Ceil(float64(l.cfg.Burst) / l.cfg.Rate))
	return `"per-key";q=` + strconv.Itoa(l.cfg.Burst) + `;w=` + strconv.Itoa(max(w, 1))
}
