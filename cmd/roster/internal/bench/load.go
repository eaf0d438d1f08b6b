package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// request is one HTTP request a scenario makes.
type request struct {
	method string
	path   string // with the query
	body   []byte // JSON; nil for none
	secret string // presented as a bearer token; "" for none
	idem   string // Idempotency-Key; "" for none
	// items asks the load to count the items of a native list page (its pagination count).
	items bool
}

// generator makes the next request of a scenario. It is called from many workers at once, each
// with its own random source.
type generator func(r *rand.Rand) request

// loadResult is what one timed run measured.
type loadResult struct {
	requests  int
	errors    int
	elapsed   time.Duration
	latencies []time.Duration // sorted
	statuses  map[int]int     // 0 counts transport errors
	sample    string          // the first error seen
	// pages and items count the successful list pages whose items were counted, and their
	// items (request.items).
	pages, items int
}

// pageCount reads the pagination count of a native list page ("count":N), -1 if it has none.
func pageCount(body []byte) int {
	i := bytes.LastIndex(body, []byte(`"pagination":{"count":`))
	if i < 0 {
		return -1
	}
	n, rest := 0, body[i+len(`"pagination":{"count":`):]
	k := 0
	for ; k < len(rest) && rest[k] >= '0' && rest[k] <= '9'; k++ {
		n = n*10 + int(rest[k]-'0')
	}
	if k == 0 {
		return -1
	}
	return n
}

// newClient is one keep-alive connection: every worker has its own transport, so the run holds
// exactly as many connections as workers.
func newClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        1,
			MaxIdleConnsPerHost: 1,
			MaxConnsPerHost:     1,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
		},
		Timeout: 30 * time.Second,
	}
}

// do sends one request and reads the whole response.
func do(ctx context.Context, c *http.Client, base string, rq request) (int, []byte, error) {
	status, body, _, err := doHeader(ctx, c, base, rq)
	return status, body, err
}

// doHeader is do that also returns the response's headers.
func doHeader(ctx context.Context, c *http.Client, base string, rq request) (int, []byte, http.Header, error) {
	var body io.Reader
	if rq.body != nil {
		body = bytes.NewReader(rq.body)
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, base+rq.path, body)
	if err != nil {
		return 0, nil, nil, err
	}
	if rq.secret != "" {
		req.Header.Set("Authorization", "Bearer "+rq.secret)
	}
	if rq.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if rq.idem != "" {
		req.Header.Set("Idempotency-Key", rq.idem)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header, err
}

// drive runs conns workers against base for d, each sending gen's requests one after another
// on its own keep-alive connection, and measures every request. It stops by itself: no request
// starts after d, and the ones in flight then finish (each is bounded by the client timeout).
// live, when not nil, counts the requests and errors as they happen, for the progress line.
func drive(ctx context.Context, base string, conns int, d time.Duration, seed uint64, gen generator, live *liveCount) loadResult {
	ws := make([]tally, conns)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i := range ws {
		w := &ws[i]
		w.lat = make([]time.Duration, 0, 4096)
		wg.Go(func() {
			c := newClient()
			defer c.CloseIdleConnections()
			r := rand.New(rand.NewPCG(seed, uint64(i)))
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				rq := gen(r)
				status, body, h, err := doHeader(ctx, c, base, rq)
				failed := w.add(rq, time.Since(t0), status, body, err)
				live.add(failed)
				if status == http.StatusTooManyRequests {
					// As fast as the limits allow, not faster: a refused client waits as told.
					if secs, err := strconv.Atoi(h.Get("Retry-After")); err == nil && secs > 0 {
						select {
						case <-time.After(min(time.Duration(secs)*time.Second, time.Until(deadline))):
						case <-ctx.Done():
						}
					}
				}
			}
		})
	}
	wg.Wait()
	return sum(ws, time.Since(start))
}

// tally is what one load worker saw.
type tally struct {
	lat      []time.Duration
	statuses map[int]int
	errors   int
	sample   string // the first error, for the report
	pages    int    // list pages read, and the items they held
	items    int
}

// liveCount is the running count of a load, read while it runs.
type liveCount struct {
	requests, errors atomic.Int64
}

func (l *liveCount) add(failed bool) {
	if l == nil {
		return
	}
	l.requests.Add(1)
	if failed {
		l.errors.Add(1)
	}
}

// add records one request's answer and reports whether it counts as an error.
func (w *tally) add(rq request, lat time.Duration, status int, body []byte, err error) bool {
	w.lat = append(w.lat, lat)
	if w.statuses == nil {
		w.statuses = map[int]int{}
	}
	w.statuses[status]++
	if rq.items && err == nil && status == http.StatusOK {
		if n := pageCount(body); n >= 0 {
			w.pages++
			w.items += n
		}
	}
	if err != nil || status < 200 || status > 299 {
		w.errors++
		if w.sample == "" {
			if err != nil {
				w.sample = fmt.Sprintf("%s %s: %v", rq.method, rq.path, err)
			} else {
				w.sample = fmt.Sprintf("%s %s: %d %s", rq.method, rq.path, status, truncate(string(body), 300))
			}
		}
		return true
	}
	return false
}

// sum merges the workers' tallies into one result.
func sum(ws []tally, elapsed time.Duration) loadResult {
	res := loadResult{elapsed: elapsed, statuses: map[int]int{}}
	for _, w := range ws {
		res.latencies = append(res.latencies, w.lat...)
		res.errors += w.errors
		res.pages += w.pages
		res.items += w.items
		for s, n := range w.statuses {
			res.statuses[s] += n
		}
		if res.sample == "" {
			res.sample = w.sample
		}
	}
	res.requests = len(res.latencies)
	slices.Sort(res.latencies)
	return res
}

// percentile is the latency under which a fraction q of the requests finished.
func (r loadResult) percentile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(q*float64(len(r.latencies))+0.999999) - 1
	return r.latencies[min(max(i, 0), len(r.latencies)-1)]
}

func (r loadResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

func (r loadResult) statusCounts() map[string]int {
	out := map[string]int{}
	for s, n := range r.statuses {
		k := strconv.Itoa(s)
		if s == 0 {
			k = "transport_error"
		}
		out[k] = n
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
