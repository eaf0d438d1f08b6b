package e2e

// Crash safety (SPEC §4, §11): the roster binary runs as a child process; concurrent clients
// create entities and relationship batches, each request with its own Idempotency-Key, while the
// test SIGKILLs the child at random moments and restarts it on the same database. A full read
// then checks that every acknowledged (2xx) write is there exactly once, that nothing appears
// that was never sent, and that retrying every request whose answer was lost, with the same key
// and body, replays the saved answer or completes, never writing twice.
//
// The default run kills the server crShortKills times per engine and, for the requests that
// still hold a lease of a dead process, stands in for the 60 s lease running out by rewriting
// lease_until in the database. ROSTER_LONG_TESTS=1 kills it crLongKills times per engine and
// waits the real lease out instead.
//
// crBuild and crProc are shared with the multi-process test (multiproc_test.go).

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, to expire leases in the file
)

const (
	crShortKills = 5
	crLongKills  = 25
	crWorkers    = 8
	// crLongEnv turns on the long variants of the reliability tests.
	crLongEnv = "ROSTER_LONG_TESTS"
)

func crLong() bool { return os.Getenv(crLongEnv) == "1" }

// crBuild builds the roster binary into a temporary directory (without -race, whatever GOFLAGS
// says, so that the child starts fast) and returns its path.
func crBuild(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "roster")
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/rosterhq/roster/cmd/roster")
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build roster: %v\n%s", err, out)
	}
	return bin
}

// crLines collects what a child writes to stderr, line by line: the bootstrap key and the
// listening address, and the last lines for failure messages.
type crLines struct {
	mu     sync.Mutex
	buf    []byte
	lines  []string
	key    string
	listen chan string
}

func (l *crLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		line := string(l.buf[:i])
		l.buf = l.buf[i+1:]
		if len(l.lines) > 0 && strings.Contains(l.lines[len(l.lines)-1], "created a superadmin key") && strings.HasPrefix(line, "rk_") {
			l.key = line
			line = "rk_…" // never keep a secret in a failure message
		}
		l.lines = append(l.lines, line)
		if len(l.lines) > 40 {
			l.lines = l.lines[1:]
		}
		if addr, ok := strings.CutPrefix(line, "roster: listening on http://"); ok {
			select {
			case l.listen <- addr:
			default:
			}
		}
	}
	return len(p), nil
}

func (l *crLines) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// crProc is one `roster serve` child.
type crProc struct {
	cmd   *exec.Cmd
	base  string // http://127.0.0.1:port
	super string // the bootstrap superadmin key, when this start printed one
	out   *crLines
	done  chan struct{}
	err   error // from Wait, once done is closed
}

// crStart runs `roster serve` on database and waits until it listens. Rate limiting is off:
// these tests send far more than 100 requests a second with one key.
func crStart(t *testing.T, bin, database string) *crProc {
	t.Helper()
	lines := &crLines{listen: make(chan string, 1)}
	// No rate limit and no in-flight bound: these tests drive many writers at a few accounts on
	// purpose, and a 429 would be the limit working, not what they test.
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--database", database, "--rate-limit", "0", "--max-in-flight", "0")
	cmd.Stdout = nil // the per-request JSON log
	cmd.Stderr = lines
	if err := cmd.Start(); err != nil {
		t.Fatalf("start roster serve: %v", err)
	}
	p := &crProc{cmd: cmd, out: lines, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	select {
	case addr := <-lines.listen:
		p.base = "http://" + addr
	case <-p.done:
		t.Fatalf("roster serve exited before listening: %v\n%s", p.err, lines.tail())
	case <-time.After(60 * time.Second):
		p.kill()
		t.Fatalf("roster serve did not listen within 60 s\n%s", lines.tail())
	}
	lines.mu.Lock()
	p.super = lines.key
	lines.mu.Unlock()
	return p
}

// kill sends SIGKILL (no chance to drain or close anything) and waits for the process to end.
func (p *crProc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// alive reports whether the process is still running.
func (p *crProc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// crAnswer is the outcome of one HTTP request: a response, or a transport error.
type crAnswer struct {
	status int
	header http.Header
	body   []byte
	err    error
}

func (a crAnswer) replayed() bool { return a.header.Get("Idempotent-Replayed") == "true" }

func (a crAnswer) code() string {
	var v struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(a.body, &v)
	return v.Code
}

func (a crAnswer) String() string {
	if a.err != nil {
		return "transport error: " + a.err.Error()
	}
	return fmt.Sprintf("%d %s", a.status, a.body)
}

// crSend sends one request with a Bearer key; headers are name, value pairs.
func crSend(c *http.Client, method, url, key string, body []byte, headers ...string) crAnswer {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r, err := http.NewRequest(method, url, rd)
	if err != nil {
		return crAnswer{err: err}
	}
	if key != "" {
		r.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.Do(r)
	if err != nil {
		return crAnswer{err: err}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return crAnswer{err: err}
	}
	return crAnswer{status: res.StatusCode, header: res.Header, body: data}
}

// crMust sends a request that must succeed with status.
func crMust(t *testing.T, c *http.Client, status int, method, url, key string, body any) map[string]any {
	t.Helper()
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	a := crSend(c, method, url, key, data)
	if a.err != nil || a.status != status {
		t.Fatalf("%s %s: want %d, got %s", method, url, status, a)
	}
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("%s %s: %v: %s", method, url, err, a.body)
	}
	return m
}

// crSetup makes an account and an admin key for it through the API, as the superadmin.
func crSetup(t *testing.T, c *http.Client, base, super, name string) (account, admin string) {
	t.Helper()
	a := crMust(t, c, 201, "POST", base+"/v1/accounts", super, map[string]any{"name": name})
	account, _ = a["id"].(string)
	k := crMust(t, c, 201, "POST", base+"/v1/api-keys", super, map[string]any{"account_id": account, "name": "crash admin", "role": "admin"})
	admin, _ = k["key"].(string)
	if account == "" || admin == "" {
		t.Fatalf("setup: account %v, key %v", a, k)
	}
	return account, admin
}

// crEntity is one entity as a list shows it.
type crEntity struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// crPair is one relationship: a prefixed entity id and a type.
type crPair struct {
	EntityID string `json:"entity_id"`
	Type     string `json:"relationship_type"`
}

// crWalk reads every page of a native list, following next_cursor, and decodes each item.
func crWalk[T any](t *testing.T, c *http.Client, base, key, path string) []T {
	t.Helper()
	var out []T
	url := base + path + "?limit=100"
	for pages := 0; ; pages++ {
		if pages > 100000 {
			t.Fatalf("walk of %s does not end", path)
		}
		a := crSend(c, "GET", url, key, nil)
		if a.err != nil || a.status != 200 {
			t.Fatalf("GET %s: %s", url, a)
		}
		var page struct {
			Data       []T `json:"data"`
			Pagination struct {
				HasNext    bool    `json:"has_next"`
				NextCursor *string `json:"next_cursor"`
			} `json:"pagination"`
		}
		if err := json.Unmarshal(a.body, &page); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		out = append(out, page.Data...)
		if !page.Pagination.HasNext {
			return out
		}
		if page.Pagination.NextCursor == nil {
			t.Fatalf("GET %s: has_next without next_cursor", url)
		}
		url = base + path + "?limit=100&cursor=" + *page.Pagination.NextCursor
	}
}

// crOp is one write the clients sent, with what came of it.
type crOp struct {
	batch bool
	key   string // Idempotency-Key
	path  string
	body  []byte
	name  string   // entity create: the entity's unique name
	ids   []string // batch: prefixed entity ids
	typ   string   // batch: relationship type

	first crAnswer // the answer to the first attempt
	// lost is true when the first attempt's answer never came (or came as
	// idempotency_key_in_progress, which says nothing of the outcome).
	lost bool
	// final is the 2xx answer that settled the op: the first one, or a retry's.
	final crAnswer
	// presentBefore: a lost create whose entity the full read found before any retry.
	presentBefore bool
}

func (op *crOp) pairs() []crPair {
	out := make([]crPair, len(op.ids))
	for i, id := range op.ids {
		out[i] = crPair{EntityID: id, Type: op.typ}
	}
	return out
}

// crRig is one crash run on one database.
type crRig struct {
	t        *testing.T
	bin, db  string
	client   *http.Client
	tr       *http.Transport
	tag      string
	account  string
	admin    string
	seq      atomic.Int64
	kills    int
	lastKill time.Time

	mu    sync.Mutex
	proc  *crProc
	up    chan struct{} // closed while the server is up
	ops   []*crOp
	ents  []string // acknowledged entity ids (prefixed)
	fails []string // unexpected answers
	// feedAt is the event cursor at the end of the feed read after the crashes, and feedSeen
	// the events read up to it: a consumer resumes there after the retries (and restarts).
	feedAt   string
	feedSeen map[string]bool
}

func TestCrashSafety(t *testing.T) {
	bin := crBuild(t)
	kills := crShortKills
	if crLong() {
		kills = crLongKills
	}
	t.Run("sqlite", func(t *testing.T) { crRun(t, bin, databaseURL(t, "sqlite"), kills) })
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv("ROSTER_TEST_POSTGRES") == "" {
			t.Skip("ROSTER_TEST_POSTGRES is not set; skipping the PostgreSQL run")
		}
		crRun(t, bin, databaseURL(t, "postgres"), kills)
	})
}

func crRun(t *testing.T, bin, db string, kills int) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	tr := &http.Transport{MaxIdleConnsPerHost: crWorkers * 2}
	rig := &crRig{t: t, bin: bin, db: db, tr: tr, client: &http.Client{Transport: tr, Timeout: 20 * time.Second},
		tag: fmt.Sprintf("%x", seed&0xffffff), up: make(chan struct{})}
	t.Cleanup(tr.CloseIdleConnections)

	rig.proc = crStart(t, bin, db)
	close(rig.up)
	if rig.proc.super == "" {
		t.Fatalf("no bootstrap key printed:\n%s", rig.proc.out.tail())
	}
	rig.account, rig.admin = crSetup(t, rig.client, rig.proc.base, rig.proc.super, "Crash "+rig.tag)

	// Drive writes, killing the server at random moments; the last kill leaves it down.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range crWorkers {
		wrng := rand.New(rand.NewPCG(uint64(seed), uint64(w)+100))
		wg.Go(func() { rig.worker(wrng, stop) })
	}
	maxGap := 500
	if crLong() {
		maxGap = 1500
	}
	for k := 1; k <= kills; k++ {
		time.Sleep(time.Duration(100+rng.IntN(maxGap)) * time.Millisecond)
		rig.kill()
		if k < kills {
			rig.restart()
		}
	}
	close(stop)
	wg.Wait()
	rig.restart()
	base := rig.proc.base

	for _, f := range rig.fails {
		t.Errorf("unexpected answer: %s", f)
	}
	var acked, lost, rejected int
	for _, op := range rig.ops {
		switch {
		case op.lost:
			lost++
		case op.first.status/100 == 2:
			acked++
		default:
			rejected++
		}
	}
	if acked == 0 || lost == 0 {
		t.Fatalf("the run proves little: %d acknowledged and %d lost writes", acked, lost)
	}

	// The full read after the crashes, before any retry.
	byName := rig.checkRead(false)

	// Acknowledged writes replay their saved answer, byte for byte, after the crashes.
	replays := 0
	for _, op := range rig.ops {
		if op.lost || op.first.status/100 != 2 || rng.IntN(4) != 0 {
			continue
		}
		a := rig.send(base, op)
		if a.err != nil || a.status != op.first.status || !a.replayed() || !bytes.Equal(a.body, op.first.body) {
			t.Errorf("replay of acknowledged %s %s: want %d %s replayed, got %s (replayed %v)", op.path, op.key, op.first.status, op.first.body, a, a.replayed())
		}
		replays++
	}

	// Retry every lost write with the same key and body.
	var lostOps []*crOp
	for _, op := range rig.ops {
		if op.lost {
			lostOps = append(lostOps, op)
			if !op.batch {
				op.presentBefore = len(byName[op.name]) > 0
			}
		}
	}
	var pending []*crOp
	var committedLost, completed int
	for _, op := range lostOps {
		a := rig.send(base, op)
		switch {
		case a.err == nil && a.status/100 == 2:
			rig.settle(op, a)
			if a.replayed() {
				committedLost++
			} else {
				completed++
			}
		case a.err == nil && a.status == 409 && a.code() == "idempotency_key_in_progress":
			// The first attempt reached a process that died holding the key's lease.
			if op.presentBefore {
				t.Errorf("%s: entity %s is stored but its key is still in flight (a write without its saved response)", op.key, op.name)
			}
			pending = append(pending, op)
		default:
			t.Errorf("retry of lost %s %s: %s", op.path, op.key, a)
		}
	}
	if len(pending) > 0 {
		if crLong() {
			wait := time.Until(rig.lastKill.Add(roster60s + 2*time.Second))
			t.Logf("waiting %v for %d dead leases to run out", wait.Round(time.Second), len(pending))
			time.Sleep(wait)
		} else {
			// Stand in for the lease running out: one more kill, and the leases of keys
			// without a saved response moved into the past while the server is down.
			rig.kill()
			n := crExpireLeases(t, db)
			t.Logf("expired %d dead leases in the database", n)
			rig.restart()
			base = rig.proc.base
		}
		for _, op := range pending {
			a := rig.send(base, op)
			if a.err != nil || a.status/100 != 2 || a.replayed() {
				t.Errorf("retry of %s %s after its lease ran out: want a fresh 2xx, got %s (replayed %v)", op.path, op.key, a, a.replayed())
				continue
			}
			rig.settle(op, a)
			completed++
		}
	}

	// The full read after the retries: every write the clients meant is there, once.
	rig.checkRead(true)
	ents, batches := 0, 0
	for _, op := range rig.ops {
		if op.batch {
			batches++
		} else {
			ents++
		}
	}
	t.Logf("crash figures: %d kills survived; %d writes sent (%d entity creates, %d relationship batches): %d acknowledged, %d answered with an error, %d answers lost; of the lost, %d had committed before the crash and replayed, %d completed on retry (%d after a dead lease ran out); %d acknowledged writes replayed byte for byte",
		rig.kills, len(rig.ops), ents, batches, acked, rejected, lost, committedLost, completed, len(pending), replays)
}

// roster60s is SPEC §4's in-flight lease.
const roster60s = 60 * time.Second

// settle records the 2xx answer that completed a lost op and checks it against the request.
func (r *crRig) settle(op *crOp, a crAnswer) {
	t := r.t
	op.final = a
	if op.batch {
		var got struct {
			AccountID string   `json:"account_id"`
			Type      string   `json:"relationship_type"`
			EntityIDs []string `json:"entity_ids"`
		}
		if err := json.Unmarshal(a.body, &got); err != nil || got.AccountID != r.account || got.Type != op.typ || !slices.Equal(got.EntityIDs, op.ids) {
			t.Errorf("retry of batch %s answered %s", op.key, a.body)
		}
		return
	}
	var got crEntity
	if err := json.Unmarshal(a.body, &got); err != nil || got.Name != op.name || got.ID == "" {
		t.Errorf("retry of create %s answered %s", op.key, a.body)
	}
	if a.replayed() != op.presentBefore {
		t.Errorf("retry of create %s: replayed %v, but the entity was stored before the retry: %v (a write and its saved response must commit together)",
			op.key, a.replayed(), op.presentBefore)
	}
}

// checkRead walks every entity and relationship of the account and checks them against the
// writes sent. Before the retries (final false) a lost write may be missing; after them
// (final true) every write must be there.
func (r *crRig) checkRead(final bool) map[string][]string {
	t := r.t
	t.Helper()
	base := r.proc.base
	byName := map[string][]string{}
	ops := map[string]*crOp{}
	sent := map[crPair]bool{}
	for _, op := range r.ops {
		if op.batch {
			for _, p := range op.pairs() {
				sent[p] = true
			}
		} else {
			ops[op.name] = op
		}
	}
	ents := crWalk[crEntity](t, r.client, base, r.admin, "/v1/entities")
	for _, e := range ents {
		byName[e.Name] = append(byName[e.Name], e.ID)
	}
	for name, ids := range byName {
		if ops[name] == nil {
			t.Errorf("entity %q %v was never sent", name, ids)
		}
		if len(ids) > 1 {
			t.Errorf("entity %q stored %d times: %v", name, len(ids), ids)
		}
	}
	for _, op := range r.ops {
		if op.batch {
			continue
		}
		ids := byName[op.name]
		switch {
		case !op.lost && op.first.status/100 == 2:
			var e crEntity
			_ = json.Unmarshal(op.first.body, &e)
			if len(ids) != 1 || ids[0] != e.ID {
				t.Errorf("acknowledged entity %q %s: stored as %v", op.name, e.ID, ids)
			}
		case !op.lost:
			if len(ids) != 0 {
				t.Errorf("entity %q was refused (%s) but is stored: %v", op.name, op.first, ids)
			}
		case final:
			var e crEntity
			_ = json.Unmarshal(op.final.body, &e)
			if len(ids) != 1 || ids[0] != e.ID {
				t.Errorf("lost then retried entity %q %s: stored as %v", op.name, e.ID, ids)
			}
		}
	}
	pairs := crWalk[crPair](t, r.client, base, r.admin, "/v1/accounts/"+r.account+"/entity_relationships")
	have := map[crPair]bool{}
	for _, p := range pairs {
		if have[p] {
			t.Errorf("relationship %v listed twice", p)
		}
		have[p] = true
		if !sent[p] {
			t.Errorf("relationship %v was never sent", p)
		}
	}
	for _, op := range r.ops {
		if !op.batch || (op.lost && !final) || (!op.lost && op.first.status/100 != 2) {
			continue
		}
		for _, p := range op.pairs() {
			if !have[p] {
				t.Errorf("batch %s (lost %v): relationship %v missing", op.key, op.lost, p)
			}
		}
	}
	r.checkEvents(ents, pairs, final)
	if final {
		t.Logf("full read: %d entities, %d relationships", len(ents), len(pairs))
	}
	return byName
}

// readFeed reads the account's event feed from cursor ("" for its start) to its end, and
// returns its events and the cursor there.
func (r *crRig) readFeed(cursor string) ([]feedEvent, string) {
	t := r.t
	t.Helper()
	var out []feedEvent
	for {
		path := r.proc.base + "/v1/events?limit=100"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		a := crSend(r.client, "GET", path, r.admin, nil)
		if a.err != nil || a.status != 200 {
			t.Fatalf("GET %s: %s", path, a)
		}
		var page feedPage
		if err := json.Unmarshal(a.body, &page); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		out = append(out, page.Data...)
		cursor = *page.Pagination.NextCursor
		if !page.Pagination.HasNext {
			return out, cursor
		}
	}
}

// checkEvents reads the account's whole event feed and holds it to what is stored (SPEC §13):
// sequences 1, 2, 3, … without a gap or a repeat; exactly one entity.created per stored entity
// and one relationship.created per stored relationship, so no event of an acknowledged write
// is lost and none was left by a write that did not commit.
func (r *crRig) checkEvents(ents []crEntity, pairs []crPair, final bool) {
	t := r.t
	t.Helper()
	var created []string
	var related []crPair
	var seq int64
	events, cursor := r.readFeed("")
	if !final {
		r.feedAt, r.feedSeen = cursor, map[string]bool{}
		for _, ev := range events {
			r.feedSeen[ev.ID] = true
		}
	} else {
		// Resumed from the cursor of the read after the crashes, on a restarted server: exactly
		// the events that came after it.
		resumed, _ := r.readFeed(r.feedAt)
		var want, got []string
		for _, ev := range events {
			if !r.feedSeen[ev.ID] {
				want = append(want, ev.ID)
			}
		}
		for _, ev := range resumed {
			got = append(got, ev.ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("resumed from the last cursor: %d events, want the %d after it", len(got), len(want))
		}
		t.Logf("resumed from the cursor of the read after the crashes: %d events, the ones after it", len(got))
	}
	for _, ev := range events {
		seq++
		if ev.Sequence != seq {
			t.Errorf("event %s: sequence %d, want %d", ev.ID, ev.Sequence, seq)
		}
		var d struct {
			Object struct {
				ID       string `json:"id"`
				EntityID string `json:"entity_id"`
				Type     string `json:"relationship_type"`
			} `json:"object"`
		}
		_ = json.Unmarshal(ev.Data, &d)
		switch ev.Type {
		case roster.EventEntityCreated:
			created = append(created, d.Object.ID)
		case roster.EventRelationshipCreated:
			related = append(related, crPair{d.Object.EntityID, d.Object.Type})
		case roster.EventAccountCreated, roster.EventKeyCreated: // the setup's
		default:
			t.Errorf("an event no write of the run records: %s %s", ev.Type, ev.Data)
		}
	}
	var stored []string
	for _, e := range ents {
		stored = append(stored, e.ID)
	}
	if !slices.Equal(sorted(created), sorted(stored)) {
		t.Errorf("entity.created events (%d) are not the stored entities (%d): %v against %v", len(created), len(stored), sorted(created), sorted(stored))
	}
	pairKey := func(ps []crPair) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.EntityID+" "+p.Type)
		}
		return sorted(out)
	}
	if !slices.Equal(pairKey(related), pairKey(pairs)) {
		t.Errorf("relationship.created events (%d) are not the stored relationships (%d)", len(related), len(pairs))
	}
	if final {
		t.Logf("events: %d, one for each stored entity and relationship, sequences 1–%d", seq, seq)
	}
}

// worker sends writes until stop, waiting while the server is down.
func (r *crRig) worker(rng *rand.Rand, stop chan struct{}) {
	for {
		r.mu.Lock()
		up := r.up
		r.mu.Unlock()
		select {
		case <-stop:
			return
		case <-up:
		}
		select {
		case <-stop:
			return
		default:
		}
		op := r.nextOp(rng)
		r.mu.Lock()
		base := r.proc.base
		r.mu.Unlock()
		a := r.send(base, op)
		r.record(op, a)
	}
}

// nextOp makes a fresh write: mostly entity creates, some batches over acknowledged entities,
// on the native and the Lead Bank surface.
func (r *crRig) nextOp(rng *rand.Rand) *crOp {
	n := r.seq.Add(1)
	op := &crOp{key: fmt.Sprintf("cr-%s-%d", r.tag, n)}
	r.mu.Lock()
	var pick []string
	if len(r.ents) > 0 && rng.IntN(10) < 3 {
		k := 1 + rng.IntN(min(4, len(r.ents)))
		for _, i := range rng.Perm(len(r.ents))[:k] {
			pick = append(pick, r.ents[i])
		}
	}
	r.mu.Unlock()
	if pick != nil {
		op.batch = true
		op.ids = pick
		op.typ = []string{"account_holder", "authorized_signer", "authorized_user"}[rng.IntN(3)]
		surface := "/v1"
		if rng.IntN(2) == 0 {
			surface = "/v0"
		}
		op.path = surface + "/accounts/" + r.account + "/entity_relationships/batch"
		op.body, _ = json.Marshal(map[string]any{"entity_ids": op.ids, "relationship_type": op.typ})
		return op
	}
	op.name = fmt.Sprintf("crash %s #%d", r.tag, n)
	op.path = "/v1/entities"
	op.body, _ = json.Marshal(map[string]any{"name": op.name, "module_ids": []string{"m1"}, "source": "form", "recipient": nil})
	return op
}

func (r *crRig) send(base string, op *crOp) crAnswer {
	return crSend(r.client, "POST", base+op.path, r.admin, op.body, "Idempotency-Key", op.key)
}

func (r *crRig) record(op *crOp, a crAnswer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	op.first = a
	r.ops = append(r.ops, op)
	switch {
	case a.err != nil:
		op.lost = true
	case a.status == 409 && a.code() == "idempotency_key_in_progress":
		// Only a transport-level retry of the same request could meet its own claim.
		op.lost = true
	case a.status/100 == 2:
		op.final = a
		if a.replayed() {
			r.fails = append(r.fails, fmt.Sprintf("first use of %s replayed: %s", op.key, a))
		}
		if !op.batch {
			var e crEntity
			if err := json.Unmarshal(a.body, &e); err != nil || e.Name != op.name {
				r.fails = append(r.fails, fmt.Sprintf("create %s answered %s", op.key, a))
				return
			}
			r.ents = append(r.ents, e.ID)
		}
	default:
		r.fails = append(r.fails, fmt.Sprintf("POST %s %s: %s", op.path, op.key, a))
	}
}

// kill SIGKILLs the server; workers wait until restart.
func (r *crRig) kill() {
	r.mu.Lock()
	r.up = make(chan struct{})
	p := r.proc
	r.mu.Unlock()
	if !p.alive() {
		r.t.Fatalf("roster serve died on its own: %v\n%s", p.err, p.out.tail())
	}
	p.kill()
	r.kills++
	r.lastKill = time.Now()
}

// restart starts the server again on the same database.
func (r *crRig) restart() {
	r.tr.CloseIdleConnections()
	p := crStart(r.t, r.bin, r.db)
	if p.super != "" {
		r.t.Fatalf("a restart on the same database printed a new bootstrap key")
	}
	r.mu.Lock()
	r.proc = p
	close(r.up)
	r.mu.Unlock()
}

// crExpireLeases moves the lease of every idempotency key that has no saved response into the
// past, standing in for the 60 s lease of a dead process running out. The server is down.
func crExpireLeases(t *testing.T, database string) int64 {
	t.Helper()
	const q = `UPDATE idempotency SET lease_until = 0 WHERE status = 0`
	if path, ok := strings.CutPrefix(database, "sqlite:"); ok {
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		res, err := db.Exec(q)
		if err != nil {
			t.Fatalf("expire leases: %v", err)
		}
		n, _ := res.RowsAffected()
		return n
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, database)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tag, err := conn.Exec(ctx, q)
	if err != nil {
		t.Fatalf("expire leases: %v", err)
	}
	return tag.RowsAffected()
}
