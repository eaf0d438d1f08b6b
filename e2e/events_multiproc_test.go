package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// evConsumer is what one consumer of the feed saw: each event once, each account's in sequence.
type evConsumer struct {
	name string
	mu   sync.Mutex
	seen map[string]feedEvent // by event id
	last map[string]int64     // each account's last sequence
	err  error
}

func newEvConsumer(name string, setup map[string]int64) *evConsumer {
	return &evConsumer{name: name, seen: map[string]feedEvent{}, last: maps.Clone(setup)}
}

func (c *evConsumer) add(ev feedEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	acct := ""
	if ev.AccountID != nil {
		acct = *ev.AccountID
	}
	switch {
	case c.err != nil:
	case c.seen[ev.ID].ID != "":
		c.err = fmt.Errorf("%s: event %s twice", c.name, ev.ID)
	case ev.Sequence != c.last[acct]+1:
		c.err = fmt.Errorf("%s: account %s: sequence %d after %d", c.name, acct, ev.Sequence, c.last[acct])
	}
	c.seen[ev.ID] = ev
	c.last[acct] = ev.Sequence
}

// tailStream feeds c from an event stream until enough says c has seen enough (checked at
// each event and every 100 ms), the stream ends or ctx does; then it hangs up.
func tailStream(ctx context.Context, wg *sync.WaitGroup, stream <-chan sseEvent, hangUp func(), c *evConsumer, enough func(n int) bool) {
	defer wg.Done()
	defer hangUp()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case ev, ok := <-stream:
			if !ok {
				return
			}
			var v feedEvent
			if err := json.Unmarshal([]byte(ev.data), &v); err != nil {
				c.mu.Lock()
				c.err = fmt.Errorf("%s: data %q: %v", c.name, ev.data, err)
				c.mu.Unlock()
				return
			}
			c.add(v)
		case <-tick.C:
		case <-ctx.Done():
			return
		}
		if n, err := c.count(); err != nil || enough(n) {
			return
		}
	}
}

func (c *evConsumer) count() (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen), c.err
}

// writes lists what the consumer saw as "type object-id" (each write here changes one object
// once, so the list is a set), for the accounts in only (all when nil).
func (c *evConsumer) writes(only map[string]bool) map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for _, ev := range c.seen {
		if only != nil && (ev.AccountID == nil || !only[*ev.AccountID]) {
			continue
		}
		var d struct {
			Object struct {
				ID string `json:"id"`
			} `json:"object"`
		}
		_ = json.Unmarshal(ev.Data, &d)
		out[ev.Type+" "+d.Object.ID]++
	}
	return out
}

// TestEventsTwoProcesses: 16 writers create and update entities of four accounts through two
// `roster serve` processes on one PostgreSQL, while a superadmin's long poll (on one process), a
// superadmin's stream and an admin's long poll of one account (on the other) tail the feed. Each
// consumer sees every event exactly once, each account's in sequence, and what they saw is
// exactly the acknowledged writes: one event each, no more.
func TestEventsTwoProcesses(t *testing.T) {
	if os.Getenv("ROSTER_TEST_POSTGRES") == "" {
		t.Skip("ROSTER_TEST_POSTGRES is not set: several roster processes need one shared PostgreSQL database")
	}
	t.Parallel()
	bin := crBuild(t)
	db := databaseURL(t, "postgres")
	procs := []*crProc{crStart(t, bin, db)}
	procs = append(procs, crStart(t, bin, db))
	super := procs[0].super
	client := &http.Client{Timeout: 30 * time.Second}
	var accounts, admins []string
	for i := range 4 {
		a, k := crSetup(t, client, procs[i%2].base, super, fmt.Sprintf("Two Processes %d", i))
		accounts, admins = append(accounts, a), append(admins, k)
	}
	on := func(p *crProc) *env {
		return &env{t: t, base: p.base, super: super, client: &http.Client{Timeout: 90 * time.Second}}
	}
	e0, e1 := on(procs[0]), on(procs[1])
	endAll, setupAll := e0.feedEnd(super, "", 9) // the bootstrap key, four accounts, four keys
	endOne, setupOne := e1.feedEnd(admins[0], "", 0)

	const writers, each = 16, 20
	type ack struct{ write, account string }
	var mu sync.Mutex
	var acked []ack
	allWritten := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), feedPatience+time.Minute)
	defer cancel()

	all, one, streamed := newEvConsumer("superadmin long poll", setupAll), newEvConsumer("admin long poll", setupOne), newEvConsumer("superadmin stream", setupAll)
	// done says whether a consumer has seen every acknowledged write of its scope.
	want := func(onlyFirst bool) int {
		select {
		case <-allWritten:
		default:
			return -1
		}
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, a := range acked {
			if !onlyFirst || a.account == accounts[0] {
				n++
			}
		}
		return n
	}
	done := func(n, want int) bool { return want >= 0 && n >= want }
	var consumers sync.WaitGroup
	poll := func(e *env, key, cursor string, c *evConsumer, onlyFirst bool) {
		defer consumers.Done()
		for ctx.Err() == nil {
			r := e.as(key, "GET", "/v1/events?limit=100&wait=5&cursor="+url.QueryEscape(cursor), nil)
			if r.Status != 200 {
				c.mu.Lock()
				c.err = fmt.Errorf("%s: %s", c.name, r)
				c.mu.Unlock()
				return
			}
			var p feedPage
			_ = json.Unmarshal(r.Body, &p)
			for _, ev := range p.Data {
				c.add(ev)
			}
			cursor = *p.Pagination.NextCursor
			if n, err := c.count(); err != nil || done(n, want(onlyFirst)) {
				return
			}
		}
	}
	consumers.Add(3)
	go poll(e0, super, endAll, all, false)
	go poll(e1, admins[0], endOne, one, true)
	stream, _, stopStream := openStream(t, e1, super, "?"+from(endAll), "")
	go tailStream(ctx, &consumers, stream, stopStream, streamed, func(n int) bool { return done(n, want(false)) })

	var writing sync.WaitGroup
	for w := range writers {
		writing.Go(func() {
			base := procs[w%2].base
			for i := range each {
				j := (w + i) % len(accounts)
				body, _ := json.Marshal(relEntityBody(fmt.Sprintf("two processes %d %d", w, i)))
				a := crSend(client, "POST", base+"/v1/entities", admins[j], body)
				if a.status != 201 {
					t.Errorf("writer %d: %s", w, a)
					return
				}
				var ent struct {
					ID string `json:"id"`
				}
				_ = json.Unmarshal(a.body, &ent)
				mu.Lock()
				acked = append(acked, ack{roster.EventEntityCreated + " " + ent.ID, accounts[j]})
				mu.Unlock()
				if i%2 == 1 { // and an update of it, through the other process
					u := crSend(client, "PATCH", procs[(w+1)%2].base+"/v1/entities/"+ent.ID, admins[j], []byte(`{"description":"updated"}`))
					if u.status != 200 {
						t.Errorf("writer %d: %s", w, u)
						return
					}
					mu.Lock()
					acked = append(acked, ack{roster.EventEntityUpdated + " " + ent.ID, accounts[j]})
					mu.Unlock()
				}
			}
		})
	}
	writing.Wait()
	close(allWritten)
	consumers.Wait()

	for _, c := range []*evConsumer{all, one, streamed} {
		if _, err := c.count(); err != nil {
			t.Fatal(err)
		}
		var only map[string]bool
		if c == one {
			only = map[string]bool{accounts[0]: true}
		}
		got := c.writes(only)
		wantSet := map[string]int{}
		for _, a := range acked {
			if only == nil || only[a.account] {
				wantSet[a.write]++
			}
		}
		if !maps.Equal(got, wantSet) {
			missing, extra := 0, 0
			for k := range wantSet {
				if got[k] == 0 {
					missing++
				}
			}
			for k := range got {
				if wantSet[k] == 0 {
					extra++
				}
			}
			t.Fatalf("%s: saw %d events for %d acknowledged writes: %d missing, %d not acknowledged", c.name, len(got), len(wantSet), missing, extra)
		}
		t.Logf("%s: %d events, each once, in sequence per account, exactly the acknowledged writes", c.name, len(got))
	}
}
