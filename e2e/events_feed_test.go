package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/app"
)

// Most of these tests append events through a store of their own on the server's database: on
// PostgreSQL another connection pool, as another roster process would; on SQLite another writer
// of the same file, as the command line is. Their setup (creating accounts and keys) records
// events too, so they read the feed from its end after the setup (feedEnd). What the writes of
// each route record is tested in events_writes_test.go.

// feedPatience is how long a test waits for the feed of every account to show what committed, or
// for pruning (which takes only what every reader may see): on PostgreSQL any transaction open
// anywhere on the cluster holds both back (docs/events.md), and a shared test server may have a
// long one open for a while.
const feedPatience = time.Minute

// feedRecord is an event of account (a prefixed id; "" for none) about object.
func feedRecord(account, typ, object string, created time.Time) roster.EventRecord {
	id, _ := roster.ParseID(roster.KindAccount, account)
	obj, _ := roster.ParseID(roster.KindEntity, object)
	return roster.EventRecord{AccountID: id, Type: typ, ObjectID: obj,
		Data:      []byte(`{"object":{"id":"` + object + `"},"previous_attributes":{"name":"before"}}`),
		RequestID: "req-" + object, KeyID: roster.NewID(created), CreatedAt: created.UTC().Truncate(time.Microsecond)}
}

func feedAppend(t *testing.T, st roster.Store, recs ...roster.EventRecord) []roster.Event {
	t.Helper()
	var out []roster.Event
	err := st.Update(context.Background(), func(tx roster.Tx) error {
		var err error
		out, err = tx.AppendEvents(context.Background(), recs)
		return err
	})
	if err != nil {
		t.Fatalf("append events: %v", err)
	}
	return out
}

// feedEvent is an event as the API returns it.
type feedEvent struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	AccountID *string         `json:"account_id"`
	Sequence  int64           `json:"sequence"`
	CreatedAt string          `json:"created_at"`
	Data      json.RawMessage `json:"data"`
	Request   struct {
		ID             string  `json:"id"`
		IdempotencyKey *string `json:"idempotency_key"`
		KeyID          *string `json:"key_id"`
	} `json:"request"`
}

type feedPage struct {
	Data       []feedEvent `json:"data"`
	Pagination pageMeta    `json:"pagination"`
}

func (e *env) feed(key, query string) (feedPage, resp) {
	e.t.Helper()
	r := e.as(key, "GET", "/v1/events"+query, nil)
	var p feedPage
	if r.Status == 200 {
		if err := json.Unmarshal(r.Body, &p); err != nil {
			e.t.Fatalf("feed page: %v: %s", err, r.Body)
		}
		if p.Pagination.NextCursor == nil {
			e.t.Fatalf("next_cursor is null: %s", r.Body)
		}
	}
	return p, r
}

// feedAll reads the feed from cursor from ("" for the start) until it holds n events (the feed
// of every account on PostgreSQL may hold events back while a transaction anywhere on the
// cluster is open), and returns them with the cursor after them.
func (e *env) feedAll(key, query, from string, n int) ([]feedEvent, string) {
	e.t.Helper()
	var out []feedEvent
	cursor := from
	deadline := time.Now().Add(feedPatience)
	for {
		q := query + "&limit=7"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		p, r := e.feed(key, "?"+strings.TrimPrefix(q, "&"))
		e.must(r, 200)
		out = append(out, p.Data...)
		cursor = *p.Pagination.NextCursor
		if !p.Pagination.HasNext && (len(out) >= n || time.Now().After(deadline)) {
			return out, cursor
		}
		if !p.Pagination.HasNext {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// feedEnd reads key's feed (query: its filters, "&type=…") to its end, once it holds at least n
// events, and returns the cursor there, with the last sequence of each account in it ("" for
// events of no account): a test reads what comes after its setup from it. n matters on the
// feed of every account, which PostgreSQL may show late (feedAll): there it is the number of
// events the setup recorded, so that none of them shows up after the cursor.
func (e *env) feedEnd(key, query string, n int) (string, map[string]int64) {
	e.t.Helper()
	es, cursor := e.feedAll(key, query, "", n)
	last := map[string]int64{}
	for _, ev := range es {
		acct := ""
		if ev.AccountID != nil {
			acct = *ev.AccountID
		}
		last[acct] = ev.Sequence
	}
	return cursor, last
}

// from is a query parameter that starts a read at cursor.
func from(cursor string) string { return "cursor=" + url.QueryEscape(cursor) }

func feedIDs(es []feedEvent) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func storedIDs(es []roster.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = roster.KindEvent.Prefixed(e.ID)
	}
	return out
}

func sameList(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("%s:\n got  %v\n want %v", what, got, want)
	}
}

func TestEventsFeed(t *testing.T) {
	t.Parallel()
	relEngines(t, func(t *testing.T, e *env, database string) {
		st := relSideStore(t, database)
		a, b := e.account("Feed A")["id"].(string), e.account("Feed B")["id"].(string)
		admin, reader, adminB := e.key(a, roster.RoleAdmin), e.key(a, roster.RoleReader), e.key(b, roster.RoleAdmin)
		// The setup recorded events (the accounts' and keys' creation): the test reads after them.
		startA, setupA := e.feedEnd(admin, "", 0)
		startAll, setupAll := e.feedEnd(e.super, "", 6) // the bootstrap key, two accounts, three keys
		startOne, _ := e.feedEnd(e.super, "&account_id="+a, 0)
		startAny, _ := e.feedEnd(admin, "&type=*", 0)
		seqA := setupA[a]
		if seqA == 0 || setupAll[a] != seqA {
			t.Fatalf("the setup recorded no event of the account: %v %v", setupA, setupAll)
		}
		now := time.Now()
		entity := roster.KindEntity.Prefixed(roster.NewID(now))
		ev := feedAppend(t, st,
			feedRecord(a, roster.EventEntityCreated, entity, now),
			feedRecord(b, roster.EventEntityCreated, roster.KindEntity.Prefixed(roster.NewID(now)), now),
			feedRecord(a, roster.EventEntityUpdated, entity, now),
			feedRecord("", roster.EventKeyCreated, roster.KindEntity.Prefixed(roster.NewID(now)), now))
		ev = append(ev, feedAppend(t, st, feedRecord(a, roster.EventRelationshipCreated, entity, now))...)
		ofA := []roster.Event{ev[0], ev[2], ev[4]}

		for _, key := range []string{admin, reader} {
			p, r := e.feed(key, "?"+from(startA))
			e.must(r, 200)
			sameList(t, "the account's feed", feedIDs(p.Data), storedIDs(ofA))
			if p.Pagination.HasNext || p.Pagination.HasPrev || p.Pagination.PrevCursor != nil || p.Pagination.Count != 3 {
				t.Fatalf("pagination of a whole feed: %+v", p.Pagination)
			}
		}
		// The shape of SPEC §13.
		p, _ := e.feed(admin, "?limit=1&"+from(startA))
		got := p.Data[0]
		if got.Type != roster.EventEntityCreated || got.AccountID == nil || *got.AccountID != a || got.Sequence != seqA+1 ||
			got.Request.ID != "req-"+entity || got.Request.IdempotencyKey != nil || got.Request.KeyID == nil ||
			!strings.HasPrefix(*got.Request.KeyID, "key_") || string(got.Data) != `{"object":{"id":"`+entity+`"},"previous_attributes":{"name":"before"}}` {
			t.Fatalf("event: %+v %s", got, got.Data)
		}
		if _, err := time.Parse(time.RFC3339Nano, got.CreatedAt); err != nil {
			t.Fatalf("created_at %q: %v", got.CreatedAt, err)
		}
		// Sequences per account, gapless.
		all, _ := e.feedAll(e.super, "", startAll, len(ev))
		sameList(t, "the feed of every account", feedIDs(all), storedIDs(ev))
		if all[3].AccountID != nil || all[3].Sequence != setupAll[""]+1 || all[4].Sequence != seqA+3 || all[1].Sequence != setupAll[b]+1 {
			t.Fatalf("platform event or sequences (after %v): %+v", setupAll, all)
		}
		one, _ := e.feedAll(e.super, "&account_id="+a, startOne, 3)
		sameList(t, "a superadmin's ?account_id=", feedIDs(one), storedIDs(ofA))

		// Tenancy (SPEC §3).
		wantError(t, e.as(admin, "GET", "/v1/events?account_id="+b, nil), 403, "forbidden")
		wantError(t, e.as(adminB, "GET", "/v1/events/"+roster.KindEvent.Prefixed(ev[0].ID), nil), 404, "not_found")
		wantError(t, e.as(admin, "GET", "/v1/events/"+roster.KindEvent.Prefixed(ev[3].ID), nil), 404, "not_found")
		wantError(t, e.as(admin, "GET", "/v1/events/event_nothing", nil), 404, "not_found")
		wantProblems(t, e.as(admin, "GET", "/v1/events/event-bad", nil), `["path","id"] string_pattern_mismatch`)
		for _, id := range []string{roster.KindEvent.Prefixed(ev[2].ID), strings.ToUpper(ev[2].ID)} {
			r := e.must(e.as(reader, "GET", "/v1/events/"+id, nil), 200)
			if r.Obj()["id"] != roster.KindEvent.Prefixed(ev[2].ID) || r.Obj()["sequence"] != json.Number(fmt.Sprint(seqA+2)) {
				t.Fatalf("GET %s: %s", id, r)
			}
		}
		e.must(e.as(e.super, "GET", "/v1/events/"+roster.KindEvent.Prefixed(ev[3].ID), nil), 200)

		// Filters.
		for _, tc := range []struct {
			query string
			want  []roster.Event
		}{
			{"?type=entity.created", []roster.Event{ev[0]}},
			{"?type=entity.*", []roster.Event{ev[0], ev[2]}},
			{"?" + from(startAny), ofA}, // type=*, from the cursor
			{"?object_id=" + entity, ofA},
			{"?object_id=" + strings.TrimPrefix(entity, "entity_") + "&type=relationship.*", []roster.Event{ev[4]}},
			{"?type=account.deleted", nil},
			{"?object_id=entity_nothing", nil},
		} {
			p, r := e.feed(admin, tc.query)
			e.must(r, 200)
			sameList(t, tc.query, feedIDs(p.Data), storedIDs(tc.want))
		}
		wantProblems(t, e.as(admin, "GET", "/v1/events?type=entity.bogus&object_id=nope&wait=61&limit=0", nil),
			`["query","type"] value_error`, `["query","object_id"] string_pattern_mismatch`, `["query","wait"] less_than_equal`, `["query","limit"] greater_than_equal`)

		// Paging: next_cursor is never null; an empty page gives back the cursor it was asked for.
		p1, _ := e.feed(admin, "?limit=2&"+from(startA))
		if !p1.Pagination.HasNext || len(p1.Data) != 2 {
			t.Fatalf("first page of 2: %+v", p1)
		}
		p2, _ := e.feed(admin, "?limit=2&cursor="+url.QueryEscape(*p1.Pagination.NextCursor))
		if p2.Pagination.HasNext || len(p2.Data) != 1 || p2.Data[0].ID != roster.KindEvent.Prefixed(ev[4].ID) {
			t.Fatalf("second page: %+v", p2)
		}
		end := *p2.Pagination.NextCursor
		p3, _ := e.feed(admin, "?cursor="+url.QueryEscape(end))
		if len(p3.Data) != 0 || p3.Pagination.HasNext || *p3.Pagination.NextCursor != end {
			t.Fatalf("the page at the end: %+v, want the same cursor back", p3)
		}
		more := feedAppend(t, st, feedRecord(a, roster.EventEntityDeleted, entity, now))
		p4, _ := e.feed(admin, "?cursor="+url.QueryEscape(end))
		sameList(t, "resumed from the end", feedIDs(p4.Data), storedIDs(more))

		// Cursors belong to their caller and filters (SPEC §6).
		wantError(t, e.as(adminB, "GET", "/v1/events?cursor="+url.QueryEscape(end), nil), 400, "cursor_mismatch")
		wantError(t, e.as(admin, "GET", "/v1/events?type=entity.*&cursor="+url.QueryEscape(end), nil), 400, "cursor_mismatch")
		wantError(t, e.as(admin, "GET", "/v1/events?cursor=garbage", nil), 400, "invalid_cursor")
		pf, _ := e.feed(admin, "?type=entity.*&limit=1")
		pf2, _ := e.feed(admin, "?limit=5&cursor="+url.QueryEscape(*pf.Pagination.NextCursor))
		sameList(t, "a cursor keeps its filters", feedIDs(pf2.Data), storedIDs([]roster.Event{ev[2], more[0]}))
	})
}

// TestEventsLongPoll checks that a request with wait answers as soon as an event commits, and an
// empty one when none does.
func TestEventsLongPoll(t *testing.T) {
	t.Parallel()
	relEngines(t, func(t *testing.T, e *env, database string) {
		st := relSideStore(t, database)
		a := e.account("Poll")["id"].(string)
		admin := e.key(a, roster.RoleAdmin)
		end, _ := e.feedEnd(admin, "", 0)
		start := time.Now()
		p, r := e.feed(admin, "?wait=1&"+from(end))
		e.must(r, 200)
		if len(p.Data) != 0 || time.Since(start) < 900*time.Millisecond {
			t.Fatalf("an empty feed with wait=1 answered after %v with %+v", time.Since(start), p)
		}
		cursor := *p.Pagination.NextCursor
		type result struct {
			p  feedPage
			at time.Time
		}
		got := make(chan result, 1)
		go func() {
			p, _ := e.feed(admin, "?wait=20&cursor="+url.QueryEscape(cursor))
			got <- result{p, time.Now()}
		}()
		time.Sleep(500 * time.Millisecond)
		ev := feedAppend(t, st, feedRecord(a, roster.EventEntityCreated, roster.KindEntity.Prefixed(roster.NewID(start)), time.Now()))
		committed := time.Now()
		res := <-got
		sameList(t, "the waiting request's page", feedIDs(res.p.Data), storedIDs(ev))
		// Another process's commit is seen by polling (SPEC §13: within 100 ms); this process's
		// own commits wake the waiter at once.
		lag := res.at.Sub(committed)
		t.Logf("commit to answer: %v", lag)
		if lag > time.Second {
			t.Fatalf("the waiting request answered %v after the commit", lag)
		}
	})
}

// sseEvent is one event of a stream.
type sseEvent struct {
	id, event, data string
}

// openStream connects to the event stream and sends what it reads on the channel, which is
// closed when the stream ends.
func openStream(t *testing.T, e *env, key, query, lastID string) (<-chan sseEvent, *http.Response, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r, _ := http.NewRequestWithContext(ctx, "GET", e.base+"/v1/events/stream"+query, nil)
	r.Header.Set("Authorization", "Bearer "+key)
	if lastID != "" {
		r.Header.Set("Last-Event-ID", lastID)
	}
	res, err := (&http.Client{}).Do(r)
	if err != nil {
		cancel()
		t.Fatalf("stream: %v", err)
	}
	out := make(chan sseEvent, 1024)
	if res.StatusCode != 200 {
		close(out)
		return out, res, cancel
	}
	go func() {
		defer close(out)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var cur sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if cur.data != "" || cur.event != "" {
					out <- cur
				}
				cur = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				cur.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				cur.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				cur.data = line[6:]
			}
		}
	}()
	t.Cleanup(cancel)
	return out, res, cancel
}

func nextSSE(t *testing.T, ch <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(20 * time.Second):
		t.Fatal("no event on the stream in 20 s")
	}
	return sseEvent{}
}

func TestEventsStream(t *testing.T) {
	t.Parallel()
	relEngines(t, func(t *testing.T, e *env, database string) {
		st := relSideStore(t, database)
		a := e.account("Stream")["id"].(string)
		reader := e.key(a, roster.RoleReader)
		entity := roster.KindEntity.Prefixed(roster.NewID(time.Now()))
		end, _ := e.feedEnd(reader, "", 0)
		first := feedAppend(t, st, feedRecord(a, roster.EventEntityCreated, entity, time.Now()), feedRecord(a, roster.EventEntityUpdated, entity, time.Now()))
		ch, res, cancel := openStream(t, e, reader, "?"+from(end), "")
		if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("Content-Type %q", ct)
		}
		var last string
		for _, want := range first {
			got := nextSSE(t, ch)
			var v feedEvent
			if err := json.Unmarshal([]byte(got.data), &v); err != nil {
				t.Fatalf("data %q: %v", got.data, err)
			}
			if v.ID != roster.KindEvent.Prefixed(want.ID) || got.event != want.Type || got.id == "" {
				t.Fatalf("stream event %+v, want %s %s", got, want.ID, want.Type)
			}
			last = got.id
		}
		later := feedAppend(t, st, feedRecord(a, roster.EventEntityDeleted, entity, time.Now()))
		if got := nextSSE(t, ch); !strings.Contains(got.data, later[0].ID) {
			t.Fatalf("a live event: %+v", got)
		}
		cancel()
		// Resume after the id of the last event received: only what came after it.
		ch2, _, _ := openStream(t, e, reader, "?cursor=garbage-that-Last-Event-ID-overrides", last)
		if got := nextSSE(t, ch2); !strings.Contains(got.data, later[0].ID) {
			t.Fatalf("resumed stream: %+v", got)
		}
		// The same filters as the list, and its errors before the stream starts.
		ch3, _, _ := openStream(t, e, reader, "?type=entity.updated", "")
		if got := nextSSE(t, ch3); got.event != roster.EventEntityUpdated {
			t.Fatalf("filtered stream: %+v", got)
		}
		_, bad, _ := openStream(t, e, reader, "?cursor=garbage", "")
		if bad.StatusCode != 400 {
			t.Fatalf("a stream with a garbage cursor: %d", bad.StatusCode)
		}
	})
}

// TestEventsStreamShutdown checks that a server that shuts down ends its open streams at once,
// cleanly, rather than holding its shutdown until the drain times out.
func TestEventsStreamShutdown(t *testing.T) {
	t.Parallel()
	e, stop := startStoppable(t, app.Config{Database: databaseURL(t, "sqlite")})
	end, _ := e.feedEnd(e.super, "", 1) // the bootstrap key's creation
	ch, _, _ := openStream(t, e, e.super, "?"+from(end), "")
	time.Sleep(100 * time.Millisecond)
	begun := time.Now()
	stop()
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("an event on an empty feed")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream was still open 5 s after the shutdown began")
	}
	if d := time.Since(begun); d > 3*time.Second {
		t.Fatalf("shutting down with an open stream took %v", d)
	}
}

// TestEventsRetention prunes events past a short retention in the background: a cursor from
// before them is 410 cursor_expired; a consumer that had read them, or starts afresh, is not.
func TestEventsRetention(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			if engine == "postgres" && os.Getenv("ROSTER_TEST_POSTGRES") == "" {
				t.Skip("ROSTER_TEST_POSTGRES is not set; skipping the PostgreSQL run")
			}
			db := databaseURL(t, engine)
			e := startConfig(t, app.Config{Database: db, EventRetention: 3 * time.Second, EventPruneInterval: 100 * time.Millisecond})
			st := relSideStore(t, db)
			a := e.account("Retention")["id"].(string)
			admin := e.key(a, roster.RoleAdmin)
			end, _ := e.feedEnd(admin, "", 0)
			ev := feedAppend(t, st, feedRecord(a, roster.EventEntityCreated, roster.KindEntity.Prefixed(roster.NewID(time.Now())), time.Now()),
				feedRecord(a, roster.EventEntityCreated, roster.KindEntity.Prefixed(roster.NewID(time.Now())), time.Now()))
			first, _ := e.feed(admin, "?limit=1&"+from(end))
			sameList(t, "first page", feedIDs(first.Data), storedIDs(ev[:1]))
			behind := *first.Pagination.NextCursor
			deadline := time.Now().Add(feedPatience)
			for e.as(admin, "GET", "/v1/events/"+roster.KindEvent.Prefixed(ev[1].ID), nil).Status != 404 {
				if time.Now().After(deadline) {
					t.Fatalf("events past the retention were not pruned in %v", feedPatience)
				}
				time.Sleep(50 * time.Millisecond)
			}
			wantError(t, e.as(admin, "GET", "/v1/events?cursor="+url.QueryEscape(behind), nil), 410, "cursor_expired")
			if _, stream, _ := openStream(t, e, admin, "", behind); stream.StatusCode != 410 {
				t.Fatalf("a stream resumed from an expired cursor: %d", stream.StatusCode)
			}
			// A consumer that starts afresh starts past what was pruned, and lost nothing.
			for _, key := range []string{admin, e.super} {
				now, r := e.feed(key, "")
				e.must(r, 200)
				if len(now.Data) != 0 {
					t.Fatalf("the feed after pruning: %+v", now)
				}
				e.must(e.as(key, "GET", "/v1/events?cursor="+url.QueryEscape(*now.Pagination.NextCursor), nil), 200)
			}
		})
	}
}

// TestEventsTailingConsumers runs 16 writers on two connection pools (two stores, as two roster
// processes would) over four accounts while consumers tail the feed: a superadmin's long poll of
// every account, an admin's long poll of one account and a superadmin's stream. Each must see
// every committed event exactly once, each account's in sequence order.
func TestEventsTailingConsumers(t *testing.T) {
	t.Parallel()
	relEngines(t, func(t *testing.T, e *env, database string) {
		pools := []roster.Store{relSideStore(t, database), relSideStore(t, database)}
		var accounts []string
		for i := range 4 {
			accounts = append(accounts, e.account(fmt.Sprintf("Tail %d", i))["id"].(string))
		}
		admin := e.key(accounts[0], roster.RoleAdmin)
		endAll, setupAll := e.feedEnd(e.super, "", 6) // the bootstrap key, four accounts, a key
		endOne, setupOne := e.feedEnd(admin, "", 0)
		const writers, each = 16, 25
		total := writers * each

		// Each consumer starts after the setup's events, so each account's sequence goes on from there.
		all, one, streamed := newEvConsumer("superadmin long poll", setupAll), newEvConsumer("admin long poll", setupOne), newEvConsumer("superadmin stream", setupAll)

		ctx, cancel := context.WithTimeout(context.Background(), feedPatience+30*time.Second)
		defer cancel()
		var consumers sync.WaitGroup
		poll := func(key, query, cursor string, s *evConsumer, want func() int) {
			defer consumers.Done()
			for ctx.Err() == nil {
				q := "?limit=100&wait=5" + query
				if cursor != "" {
					q += "&cursor=" + url.QueryEscape(cursor)
				}
				p, r := e.feed(key, q)
				if r.Status != 200 {
					s.mu.Lock()
					s.err = fmt.Errorf("feed: %s", r)
					s.mu.Unlock()
					return
				}
				for _, ev := range p.Data {
					s.add(ev)
				}
				cursor = *p.Pagination.NextCursor
				if n, err := s.count(); err != nil || n >= want() {
					return
				}
			}
		}
		var committed sync.Map // event id → account
		countOf := func(account string) func() int {
			return func() int {
				n := 0
				committed.Range(func(_, v any) bool {
					if account == "" || v == account {
						n++
					}
					return true
				})
				return n
			}
		}
		var writing sync.WaitGroup
		writing.Add(writers)
		allWritten := make(chan struct{})
		wantAll := func() int {
			select {
			case <-allWritten:
				return total
			default:
				return total + 1 // not done until the writers are
			}
		}
		wantOne := func() int {
			select {
			case <-allWritten:
				return countOf(accounts[0])()
			default:
				return total + 1
			}
		}
		consumers.Add(3)
		go poll(e.super, "", endAll, all, wantAll)
		go poll(admin, "", endOne, one, wantOne)
		stream, _, stopStream := openStream(t, e, e.super, "?limit=100&"+from(endAll), "")
		go tailStream(ctx, &consumers, stream, stopStream, streamed, func(n int) bool { return n >= wantAll() })

		for w := range writers {
			go func() {
				defer writing.Done()
				st := pools[w%len(pools)]
				for i := range each {
					acct := accounts[(w+i)%len(accounts)]
					obj := roster.KindEntity.Prefixed(roster.NewID(time.Now()))
					var out []roster.Event
					err := st.Update(ctx, func(tx roster.Tx) error {
						var err error
						out, err = tx.AppendEvents(ctx, []roster.EventRecord{feedRecord(acct, roster.EventEntityUpdated, obj, time.Now())})
						return err
					})
					if err != nil {
						t.Errorf("writer %d: %v", w, err)
						return
					}
					committed.Store(roster.KindEvent.Prefixed(out[0].ID), acct)
				}
			}()
		}
		writing.Wait()
		close(allWritten)
		// A stream waiting with nothing new sees the last commit by its own poll.
		consumers.Wait()
		for _, s := range []*evConsumer{all, one, streamed} {
			name := s.name
			n, err := s.count()
			if err != nil {
				t.Fatal(err)
			}
			want := countOf("")()
			if s == one {
				want = countOf(accounts[0])()
			}
			if n != want {
				t.Fatalf("%s saw %d events, want %d", name, n, want)
			}
			committed.Range(func(k, v any) bool {
				if (s != one || v == accounts[0]) && s.seen[k.(string)].ID == "" {
					t.Fatalf("%s never saw %s", name, k)
				}
				return true
			})
		}
	})
}

// streamHead sends a GET to an event stream and reads it for d: a stream never ends, so what it
// sent by then (its first events, or a heartbeat) stands for its body. Any other answer is read
// whole.
func (e *env) streamHead(path string, d time.Duration, headers ...string) resp {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, "GET", e.base+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	res, err := e.client.Do(r)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil && (ctx.Err() == nil || res.Header.Get("Content-Type") != "text/event-stream") {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	return resp{Status: res.StatusCode, Header: res.Header, Body: data}
}

// TestEventsOutliveTimeouts: a long poll and a stream outlast the server's read and write
// timeouts, which are for ordinary requests.
func TestEventsOutliveTimeouts(t *testing.T) {
	t.Parallel()
	db := databaseURL(t, "sqlite")
	e := startConfig(t, app.Config{Database: db, ReadTimeout: time.Second, WriteTimeout: time.Second})
	st := relSideStore(t, db)
	a := e.account("Timeouts")["id"].(string)
	admin := e.key(a, roster.RoleAdmin)
	end, _ := e.feedEnd(admin, "", 0)
	ch, _, _ := openStream(t, e, admin, "?"+from(end), "")
	polled := make(chan feedPage, 1)
	go func() {
		p, _ := e.feed(admin, "?wait=5&"+from(end))
		polled <- p
	}()
	time.Sleep(2500 * time.Millisecond)
	ev := feedAppend(t, st, feedRecord(a, roster.EventEntityCreated, roster.KindEntity.Prefixed(roster.NewID(time.Now())), time.Now()))
	if got := nextSSE(t, ch); !strings.Contains(got.data, ev[0].ID) {
		t.Fatalf("the stream after the timeouts: %+v", got)
	}
	sameList(t, "the long poll after the timeouts", feedIDs((<-polled).Data), storedIDs(ev))
}

// TestEventsResumeAfterRestart: a cursor outlives the server that issued it: a consumer resumes
// from its last cursor on a restarted server, on the feed of one account and of every account,
// and reads exactly what came after it.
func TestEventsResumeAfterRestart(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			if engine == "postgres" && os.Getenv("ROSTER_TEST_POSTGRES") == "" {
				t.Skip("ROSTER_TEST_POSTGRES is not set; skipping the PostgreSQL run")
			}
			db := databaseURL(t, engine)
			e, stop := startStoppable(t, app.Config{Database: db})
			st := relSideStore(t, db)
			a := e.account("Restart")["id"].(string)
			admin := e.key(a, roster.RoleAdmin)
			obj := roster.KindEntity.Prefixed(roster.NewID(time.Now()))
			end, _ := e.feedEnd(admin, "", 0)
			superEnd, _ := e.feedEnd(e.super, "", 3) // the bootstrap key, the account, a key
			before := feedAppend(t, st, feedRecord(a, roster.EventEntityCreated, obj, time.Now()), feedRecord(a, roster.EventEntityUpdated, obj, time.Now()))
			p, _ := e.feed(admin, "?"+from(end))
			sameList(t, "before the restart", feedIDs(p.Data), storedIDs(before))
			_, superCursor := e.feedAll(e.super, "", superEnd, len(before))
			super := e.super
			stop()

			after := feedAppend(t, st, feedRecord(a, roster.EventEntityDeleted, obj, time.Now()))
			e2 := startConfig(t, app.Config{Database: db})
			e2.super = super
			resumed, r := e2.feed(admin, "?cursor="+url.QueryEscape(*p.Pagination.NextCursor))
			e2.must(r, 200)
			sameList(t, "the account's feed resumed after the restart", feedIDs(resumed.Data), storedIDs(after))
			deadline := time.Now().Add(feedPatience)
			for {
				all, r := e2.feed(super, "?cursor="+url.QueryEscape(superCursor))
				e2.must(r, 200)
				if len(all.Data) > 0 || time.Now().After(deadline) {
					sameList(t, "the feed of every account resumed after the restart", feedIDs(all.Data), storedIDs(after))
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
