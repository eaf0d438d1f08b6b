package e2e

// Several processes (SPEC §11): three `roster serve` children share one PostgreSQL database and
// the same clients. The same Idempotency-Key, the same client nonce and the same account slug
// are raced across them; exactly-once and uniqueness must hold across processes, not just
// inside one.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"
)

const (
	mpProcs      = 3
	mpPerProc    = 2 // concurrent requests per process in each race
	mpRounds     = 8 // ROSTER_LONG_TESTS=1: mpLongRounds
	mpLongRounds = 40
)

func TestMultiProcess(t *testing.T) {
	if os.Getenv("ROSTER_TEST_POSTGRES") == "" {
		t.Skip("ROSTER_TEST_POSTGRES is not set: several roster processes need one shared PostgreSQL database")
	}
	bin := crBuild(t)
	db := databaseURL(t, "postgres")
	first := crStart(t, bin, db)
	if first.super == "" {
		t.Fatalf("no bootstrap key printed:\n%s", first.out.tail())
	}
	super := first.super
	procs := []*crProc{first}
	for len(procs) < mpProcs {
		p := crStart(t, bin, db)
		if p.super != "" {
			t.Fatalf("a second process on the same database printed another bootstrap key")
		}
		procs = append(procs, p)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 2 * mpPerProc}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	tag := fmt.Sprintf("%x", time.Now().UnixNano()&0xffffff)
	rounds := mpRounds
	if crLong() {
		rounds = mpLongRounds
	}
	_, admin := crSetup(t, client, procs[0].base, super, "Multi "+tag)
	mp := &mpFixture{procs: procs, client: client, super: super, admin: admin, tag: tag, rounds: rounds}

	t.Run("same idempotency key", mp.sameIdempotencyKey)
	t.Run("same nonce", mp.sameNonce)
	t.Run("conflicting slugs", mp.conflictingSlugs)
}

// mpFixture is the processes TestMultiProcess races, their clients' account and the run's tag.
type mpFixture struct {
	procs             []*crProc
	client            *http.Client
	super, admin, tag string
	rounds            int
}

// count returns how many entities of the account have name.
func (mp *mpFixture) count(t *testing.T, name string) int {
	n := 0
	for _, e := range crWalk[crEntity](t, mp.client, mp.procs[len(mp.procs)-1].base, mp.admin, "/v1/entities") {
		if e.Name == name {
			n++
		}
	}
	return n
}

func (mp *mpFixture) sameIdempotencyKey(t *testing.T) {
	procs, client, admin, tag, rounds := mp.procs, mp.client, mp.admin, mp.tag, mp.rounds
	inFlight, replayed := 0, 0
	defer func() {
		t.Logf("%d rounds of %d racing requests: %d answered 409 in progress, %d replayed while racing", rounds, mpProcs*mpPerProc, inFlight, replayed)
	}()
	for round := range rounds {
		name := fmt.Sprintf("idem %s %d", tag, round)
		body, _ := json.Marshal(map[string]any{"name": name, "module_ids": []string{}, "source": nil, "recipient": "crm"})
		key := fmt.Sprintf("mp-%s-%d", tag, round)
		answers := mpRace(procs, func(p *crProc) crAnswer {
			return crSend(client, "POST", p.base+"/v1/entities", admin, body, "Idempotency-Key", key)
		})
		var winner []byte
		fresh := 0
		for _, a := range answers {
			switch {
			case a.err != nil:
				t.Fatalf("round %d: %v", round, a.err)
			case a.status == 201:
				if !a.replayed() {
					fresh++
				} else {
					replayed++
				}
				if winner == nil {
					winner = a.body
				} else if !bytes.Equal(a.body, winner) {
					t.Errorf("round %d: two 201 bodies differ:\n%s\n%s", round, winner, a.body)
				}
			case a.status == 409 && a.code() == "idempotency_key_in_progress":
				inFlight++
				if a.header.Get("Retry-After") != "1" {
					t.Errorf("round %d: 409 in progress without Retry-After: 1", round)
				}
			default:
				t.Errorf("round %d: want 201 or 409 idempotency_key_in_progress, got %s", round, a)
			}
		}
		if fresh != 1 {
			t.Errorf("round %d: %d requests ran the write, want exactly 1", round, fresh)
		}
		// Once done, every process replays the same answer.
		for _, p := range procs {
			a := crSend(client, "POST", p.base+"/v1/entities", admin, body, "Idempotency-Key", key)
			if a.err != nil || a.status != 201 || !a.replayed() || (winner != nil && !bytes.Equal(a.body, winner)) {
				t.Errorf("round %d: replay on %s: %s (replayed %v)", round, p.base, a, a.replayed())
			}
		}
		if n := mp.count(t, name); n != 1 {
			t.Errorf("round %d: %d entities named %q, want 1", round, n, name)
		}
	}
}

func (mp *mpFixture) sameNonce(t *testing.T) {
	procs, client, admin, tag, rounds := mp.procs, mp.client, mp.admin, mp.tag, mp.rounds
	for round := range rounds {
		n := crMust(t, client, 200, "GET", procs[round%len(procs)].base+"/v1/client/nonce", admin, nil)
		nonce, _ := n["nonce_value"].(string)
		if nonce == "" {
			t.Fatalf("no nonce: %v", n)
		}
		var mu sync.Mutex
		seq := 0
		var names []string
		answers := mpRace(procs, func(p *crProc) crAnswer {
			mu.Lock()
			seq++
			name := fmt.Sprintf("nonce %s %d.%d", tag, round, seq)
			names = append(names, name)
			mu.Unlock()
			body, _ := json.Marshal(map[string]any{"name": name, "module_ids": []string{}, "source": "seller", "recipient": nil})
			return crSend(client, "POST", p.base+"/v1/entities", admin, body, "leadr-client-nonce", nonce)
		})
		spent := 0
		for _, a := range answers {
			switch {
			case a.err != nil:
				t.Fatalf("round %d: %v", round, a.err)
			case a.status == 201:
				spent++
			case a.status == 412 && a.code() == "nonce_invalid":
			default:
				t.Errorf("round %d: want 201 or 412 nonce_invalid, got %s", round, a)
			}
		}
		if spent != 1 {
			t.Errorf("round %d: the nonce was spent %d times, want exactly once", round, spent)
		}
		stored := 0
		for _, e := range crWalk[crEntity](t, client, procs[0].base, admin, "/v1/entities") {
			for _, name := range names {
				if e.Name == name {
					stored++
				}
			}
		}
		if stored != 1 {
			t.Errorf("round %d: %d writes under one nonce stored, want 1", round, stored)
		}
	}
}

func (mp *mpFixture) conflictingSlugs(t *testing.T) {
	procs, client, super, tag, rounds := mp.procs, mp.client, mp.super, mp.tag, mp.rounds
	for round := range rounds {
		slug := fmt.Sprintf("race-%s-%d", tag, round)
		answers := mpRace(procs, func(p *crProc) crAnswer {
			body, _ := json.Marshal(map[string]any{"name": "Race " + slug, "slug": slug})
			return crSend(client, "POST", p.base+"/v1/accounts", super, body)
		})
		created := 0
		for _, a := range answers {
			switch {
			case a.err != nil:
				t.Fatalf("round %d: %v", round, a.err)
			case a.status == 201:
				created++
			case a.status == 409 && a.code() == "slug_taken":
			default:
				t.Errorf("round %d: want 201 or 409 slug_taken, got %s", round, a)
			}
		}
		if created != 1 {
			t.Errorf("round %d: %d accounts created with slug %q, want exactly 1", round, created, slug)
		}
		list := crMust(t, client, 200, "GET", procs[1].base+"/v1/accounts?slug="+url.QueryEscape(slug), super, nil)
		if data, _ := list["data"].([]any); len(data) != 1 {
			t.Errorf("round %d: %d accounts listed with slug %q, want 1", round, len(data), slug)
		}
	}
}

// mpRace sends mpPerProc requests to each process at once, released together, and returns
// every answer.
func mpRace(procs []*crProc, send func(p *crProc) crAnswer) []crAnswer {
	var wg sync.WaitGroup
	start := make(chan struct{})
	answers := make([]crAnswer, len(procs)*mpPerProc)
	for i := range answers {
		p := procs[i%len(procs)]
		wg.Go(func() {
			<-start
			answers[i] = send(p)
		})
	}
	time.Sleep(10 * time.Millisecond) // let every goroutine reach the gate
	close(start)
	wg.Wait()
	return answers
}
