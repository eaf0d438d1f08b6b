package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// auRecord is an audit record as the chain checks below read it.
type auRecord struct {
	ID       string `json:"id"`
	Sequence int    `json:"sequence"`
	Action   string `json:"action"`
	Target   *struct {
		ID string `json:"id"`
	} `json:"target"`
}

// auCheckChain verifies the account's chain through base (the endpoint) and offline (the
// command line), and checks that its entity.create records name exactly the account's entities:
// no committed write without its record, no record without its write.
func auCheckChain(t *testing.T, c *http.Client, bin, database, base, super, admin, account string) {
	t.Helper()
	a := crSend(c, "GET", base+"/v1/audit_events/verify?account_id="+account, super, nil)
	var v map[string]any
	if a.err != nil || a.status != 200 || json.Unmarshal(a.body, &v) != nil || v["ok"] != true {
		t.Fatalf("verify %s: %s", account, a)
	}
	if code, out := auCLI(t, bin, database); code != 0 {
		t.Fatalf("roster audit verify: exit %d\n%s", code, out)
	}
	recs := crWalk[auRecord](t, c, base, admin, "/v1/audit_events")
	created := map[string]bool{}
	for i, r := range recs {
		if r.Sequence != len(recs)-i {
			t.Fatalf("record %d of %d has sequence %d", i, len(recs), r.Sequence)
		}
		if r.Action == "entity.create" {
			if created[r.Target.ID] {
				t.Fatalf("two entity.create records of %s", r.Target.ID)
			}
			created[r.Target.ID] = true
		}
	}
	ents := crWalk[crEntity](t, c, base, admin, "/v1/entities")
	for _, e := range ents {
		if !created[e.ID] {
			t.Errorf("entity %s (%s) has no entity.create record", e.ID, e.Name)
		}
		delete(created, e.ID)
	}
	for id := range created {
		t.Errorf("an entity.create record names %s, which does not exist", id)
	}
	t.Logf("%d records, %d entities", len(recs), len(ents))
}

// auLoad has workers create entities of one account through bases (a worker's pick among them,
// read at each request) until stop closes, and counts the acknowledged creations.
func auLoad(c *http.Client, bases func(int) string, admin string, workers int, stop chan struct{}) (*sync.WaitGroup, *atomic.Int64) {
	var wg sync.WaitGroup
	var acked atomic.Int64
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body, _ := json.Marshal(map[string]any{"name": fmt.Sprintf("audit load %d-%d", w, i), "module_ids": []string{}, "source": nil, "recipient": nil})
				if a := crSend(c, "POST", bases(w)+"/v1/entities", admin, body); a.err == nil && a.status == 201 {
					acked.Add(1)
				} else if a.err != nil {
					time.Sleep(20 * time.Millisecond) // the server is down: wait for its restart
				}
			}
		})
	}
	return &wg, &acked
}

// TestAuditCrash: a server SIGKILLed at random moments while it writes, restarted on the same
// database each time, leaves every chain valid, and every acknowledged creation with its record.
func TestAuditCrash(t *testing.T) {
	bin := crBuild(t)
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			if engine == "postgres" && os.Getenv("ROSTER_TEST_POSTGRES") == "" {
				t.Skip("ROSTER_TEST_POSTGRES is not set")
			}
			db := databaseURL(t, engine)
			p := crStart(t, bin, db)
			super := p.super
			c := &http.Client{Timeout: 10 * time.Second}
			account, admin := crSetup(t, c, p.base, super, "Audit crash")
			var base atomic.Pointer[string]
			base.Store(&p.base)
			stop := make(chan struct{})
			wg, acked := auLoad(c, func(int) string { return *base.Load() }, admin, 4, stop)
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 19))
			for range 3 {
				time.Sleep(time.Duration(150+rng.IntN(350)) * time.Millisecond)
				p.kill()
				p = crStart(t, bin, db)
				base.Store(&p.base)
			}
			time.Sleep(200 * time.Millisecond)
			close(stop)
			wg.Wait()
			if acked.Load() == 0 {
				t.Fatal("no creation was acknowledged")
			}
			auCheckChain(t, c, bin, db, p.base, super, admin, account)
		})
	}
}

// TestAuditMultiProcess: two processes on one PostgreSQL write one account at once; its chain
// stays one chain (sequences without gap or repeat, each prev_hash its predecessor's hash), with
// one record for each creation.
func TestAuditMultiProcess(t *testing.T) {
	if os.Getenv("ROSTER_TEST_POSTGRES") == "" {
		t.Skip("ROSTER_TEST_POSTGRES is not set: several roster processes need one shared PostgreSQL database")
	}
	bin := crBuild(t)
	db := databaseURL(t, "postgres")
	procs := []*crProc{crStart(t, bin, db), crStart(t, bin, db)}
	super := procs[0].super
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	account, admin := crSetup(t, c, procs[0].base, super, "Audit two processes")
	stop := make(chan struct{})
	wg, acked := auLoad(c, func(w int) string { return procs[w%2].base }, admin, 8, stop)
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	t.Logf("%d creations acknowledged", acked.Load())
	auCheckChain(t, c, bin, db, procs[1].base, super, admin, account)
}
