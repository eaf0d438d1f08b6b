package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// The events' scenarios (SPEC §13, docs/events.md):
//   - create entity on a roster serve that records no events (serve --events=false), right after
//     create entity with them, to measure what recording costs a write;
//   - a feed page of 100 events against a list page of 100 entities;
//   - commit-to-consumer latency of a long-poll and an SSE consumer of the feed of every account
//     while entities are created at a fixed 1,000 writes/s.

const (
	// serverNoEvents is roster serve --events=false.
	serverNoEvents = "roster-no-events"
	// serverConsumers marks the latency scenarios, which drive their own load (runFeedLatency).
	serverConsumers = "roster-consumers"

	latencyWriteRate = 1000 // writes a second while the consumers are timed
)

// feedPage is the first page of 100 events of an account's feed: the events the write
// scenarios before it recorded, topped up to 100 by fillFeeds.
func (w *world) feedPage(r *rand.Rand) request {
	j := w.pageAccount(r)
	return request{method: http.MethodGet, path: "/v1/events?limit=100", secret: w.creds.account[j], items: true}
}

// listPage100 is the list page a feed page is compared with: 100 entities of an account, the
// newest first (those fillFeeds and the write scenarios created, as the feed's events are).
func (w *world) listPage100(r *rand.Rand) request {
	j := w.pageAccount(r)
	return request{method: http.MethodGet, path: "/v1/entities?limit=100&sort=created_at:desc", secret: w.creds.account[j], items: true}
}

// pageAccounts is how many accounts list-page-100 and feed-page-100 read, the same ones: the
// populated accounts' first, all of them at the default sizes.
const pageAccounts = 100

// pageAccount picks one of the accounts list-page-100 and feed-page-100 read.
func (w *world) pageAccount(r *rand.Rand) int32 {
	return w.populated[r.IntN(min(len(w.populated), pageAccounts))]
}

// fillFeeds brings the feed of every account feedPage reads to at least 100 events, by creating
// entities through the server (entity.created events, like create-entity's), and returns how
// many it created. Without it a feed page is not the list page's like: run alone, the two
// scenarios compared a feed of one event (the account's key) with a list page of 100; after the
// write scenarios of a run at full size (1,000 accounts), a feed of some 20.
func (w *world) fillFeeds(ctx context.Context, base string) (int, error) {
	accounts := w.populated[:min(len(w.populated), pageAccounts)]
	var mu sync.Mutex
	var firstErr error
	created := 0
	work := make(chan int32)
	var wg sync.WaitGroup
	for k := range 16 {
		wg.Go(func() {
			c := newClient()
			defer c.CloseIdleConnections()
			r := rand.New(rand.NewPCG(11, uint64(k)))
			for j := range work {
				n, err := w.fillFeed(ctx, c, base, r, j)
				mu.Lock()
				created += n
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	for _, j := range accounts {
		work <- j
	}
	close(work)
	wg.Wait()
	return created, firstErr
}

// fillFeed creates as many entities in account j as its feed lacks of 100 events.
func (w *world) fillFeed(ctx context.Context, c *http.Client, base string, r *rand.Rand, j int32) (int, error) {
	status, body, err := do(ctx, c, base, request{method: http.MethodGet, path: "/v1/events?limit=100", secret: w.creds.account[j]})
	if err != nil || status != http.StatusOK {
		return 0, fmt.Errorf("reading a feed: %d %s %v", status, truncate(string(body), 200), err)
	}
	n := 0
	for have := pageCount(body); have+n < 100; n++ {
		rq := w.createEntity(r)
		rq.secret = w.creds.account[j]
		status, body, err := do(ctx, c, base, rq)
		if err != nil || status != http.StatusCreated {
			return n, fmt.Errorf("creating an entity: %d %s %v", status, truncate(string(body), 200), err)
		}
	}
	return n, nil
}

// eventScenarios are the scenarios of the events, in the order they run after the writes.
func (w *world) eventScenarios() []scenario {
	return []scenario{
		{name: "list-page-100", title: "list entities, 100 a page", group: groupList, server: "roster", gen: w.listPage100},
		{name: "feed-page-100", title: "event feed, 100 a page", group: groupList, server: "roster", gen: w.feedPage},
		{name: "feed-latency-poll", title: "commit to a long-poll consumer, 1,000 writes/s", group: groupWrite, server: serverConsumers},
		{name: "feed-latency-stream", title: "commit to an SSE consumer, 1,000 writes/s", group: groupWrite, server: serverConsumers},
	}
}

// feedLatency runs the writes at latencyWriteRate for d with a long-poll and an SSE consumer of
// the superadmin's feed of every account, both starting at its end, and returns, per consumer,
// how long after its commit each event reached it: the time it was read less the event's
// created_at (taken in the writing transaction just before its commit, by the server's clock on
// this machine), so the commit itself is counted in.
func (w *world) feedLatency(ctx context.Context, base string, d time.Duration) (poll, stream loadResult, err error) {
	c := newClient()
	defer c.CloseIdleConnections()
	// The end of the feed now.
	cursor := ""
	for {
		path := "/v1/events?limit=100"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		status, body, err := do(ctx, c, base, request{method: http.MethodGet, path: path, secret: w.creds.super})
		if err != nil || status != http.StatusOK {
			return poll, stream, fmt.Errorf("reading the feed: %d %s %v", status, truncate(string(body), 200), err)
		}
		var p eventPage
		if err := json.Unmarshal(body, &p); err != nil {
			return poll, stream, err
		}
		cursor = p.Pagination.NextCursor
		if !p.Pagination.HasNext {
			break
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var pollLat, streamLat []time.Duration
	var pollErr, streamErr error
	var consumers sync.WaitGroup
	consumers.Go(func() { pollLat, pollErr = longPollConsumer(cctx, base, w.creds.super, cursor) })
	ready := make(chan struct{})
	consumers.Go(func() { streamLat, streamErr = streamConsumer(cctx, base, w.creds.super, cursor, ready) })
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		cancel()
		consumers.Wait()
		return poll, stream, fmt.Errorf("the event stream did not open: %v", streamErr)
	}
	time.Sleep(200 * time.Millisecond) // the long poll is waiting by now
	writes := paced(ctx, base, latencyWriteRate, 32, d, 9, w.createEntity, nil)
	time.Sleep(time.Second) // the last events reach the consumers
	cancel()
	consumers.Wait()
	if writes.errors > 0 {
		return poll, stream, fmt.Errorf("writes failed: %d of %d: %s", writes.errors, writes.requests, writes.sample)
	}
	for _, e := range []error{pollErr, streamErr} {
		if e != nil && ctx.Err() == nil {
			return poll, stream, e
		}
	}
	res := func(lat []time.Duration) loadResult {
		slices.Sort(lat)
		r := loadResult{requests: len(lat), elapsed: d, latencies: lat, statuses: map[int]int{200: len(lat)}}
		if missing := writes.requests - len(lat); missing != 0 {
			r.errors = max(missing, -missing)
			r.sample = fmt.Sprintf("%d writes acknowledged, %d events received", writes.requests, len(lat))
		}
		return r
	}
	return res(pollLat), res(streamLat), nil
}

type eventPage struct {
	Data       []json.RawMessage `json:"data"`
	Pagination struct {
		HasNext    bool   `json:"has_next"`
		NextCursor string `json:"next_cursor"`
	} `json:"pagination"`
}

// eventLag is how long ago, by this machine's clock, the event was recorded.
func eventLag(data []byte, at time.Time) (time.Duration, error) {
	var ev struct {
		CreatedAt time.Time `json:"created_at"`
	}
	if err := json.Unmarshal(data, &ev); err != nil {
		return 0, err
	}
	return at.Sub(ev.CreatedAt), nil
}

func longPollConsumer(ctx context.Context, base, secret, cursor string) ([]time.Duration, error) {
	c := newClient()
	c.Timeout = time.Minute
	defer c.CloseIdleConnections()
	var lat []time.Duration
	for ctx.Err() == nil {
		status, body, err := do(ctx, c, base, request{method: http.MethodGet, path: "/v1/events?limit=100&wait=30&cursor=" + url.QueryEscape(cursor), secret: secret})
		at := time.Now()
		if err != nil || status != http.StatusOK {
			if ctx.Err() != nil {
				break
			}
			return lat, fmt.Errorf("long poll: %d %s %v", status, truncate(string(body), 200), err)
		}
		var p eventPage
		if err := json.Unmarshal(body, &p); err != nil {
			return lat, err
		}
		for _, ev := range p.Data {
			l, err := eventLag(ev, at)
			if err != nil {
				return lat, err
			}
			lat = append(lat, l)
		}
		cursor = p.Pagination.NextCursor
	}
	return lat, nil
}

func streamConsumer(ctx context.Context, base, secret, cursor string, ready chan<- struct{}) ([]time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/events/stream?limit=100&cursor="+url.QueryEscape(cursor), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	res, err := (&http.Client{}).Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("event stream: %d", res.StatusCode)
	}
	close(ready)
	var lat []time.Duration
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "data: ") {
			continue
		}
		l, err := eventLag([]byte(line[6:]), time.Now())
		if err != nil {
			return lat, err
		}
		lat = append(lat, l)
	}
	return lat, nil
}

// runFeedLatency measures both consumers in one run of the writes (feedLatency).
func runFeedLatency(ctx context.Context, cfg Config, srv *child, w *world, logf func(string, ...any)) ([]Result, error) {
	var poll, stream loadResult
	var err error
	phase(cfg.Progress, "feed-latency", "measuring", cfg.Duration, func(*liveCount) {
		poll, stream, err = w.feedLatency(ctx, srv.base, cfg.Duration)
	})
	if err != nil {
		return nil, fmt.Errorf("feed latency: %w", err)
	}
	var out []Result
	for k, lr := range []loadResult{poll, stream} {
		sc := w.eventScenarios()[2+k]
		res := Result{Scenario: sc.name, Title: sc.title, Group: sc.group, Server: "roster"}
		res.fill(lr)
		res.RPS = float64(lr.requests) / cfg.Duration.Seconds() // events received a second
		logf("%-70s %7.0f events/s  p50 %6.2f ms  p99 %7.2f ms  p99.9 %7.2f ms  max %7.2f ms  missing %d",
			sc.title, res.RPS, res.P50Ms, res.P99Ms, res.P999Ms, res.MaxMs, res.Errors)
		out = append(out, res)
	}
	return out, nil
}
