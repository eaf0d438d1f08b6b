package e2e

// Linearizability (SPEC §11): many clients send random concurrent requests over HTTP to a few
// shared objects, every call is recorded with its input, its answer and its start and end
// times, and porcupine (github.com/anishathalye/porcupine) decides whether each object's
// history could have come from requests run one at a time in an order consistent with real
// time. The models are in linearizable_model_test.go.
//
// Each round makes fresh objects and lets linClients clients loose on them at once:
//   - an entity: PATCHes of one field each (name, description, deprecated, field_suffix,
//     time_zone), on /v1 and on the LeadConduit surface, GETs, and in some rounds a DELETE;
//   - an API key: the account admin renames, revokes, tries to reactivate and reads it, while
//     the key itself reads its account (200 while active, 401 once revoked);
//   - an account: the superadmin suspends and unsuspends it while its admin renames it;
//   - three entities of one account: relationship batches (/v1 and /v0, each with a fresh
//     Idempotency-Key) racing DELETEs of the entities, relationship lists (/v1 and /v0) and
//     GETs of the entities.
//
// When the clients are done, one more client reads every object (so a lost write shows even
// when nobody read after it), and two invariants are checked beside the models: no
// relationship in the /v1 or /v0 list names a deleted entity, and a key whose revocation was
// answered 200 is refused (401).
//
// It runs on SQLite and on PostgreSQL in process, and on PostgreSQL across linProcs `roster
// serve` processes with the clients spread over them. ROSTER_LONG_TESTS=1 runs linLongRounds
// rounds instead of linRounds. On a failure the visualization of each history that is not
// linearizable is written to a directory that outlives the test, and its path is logged.

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

const (
	linClients      = 16 // concurrent clients in each round
	linOpsPerClient = 16 // requests each client sends in a round
	linRounds       = 8  // rounds per engine; ROSTER_LONG_TESTS=1: linLongRounds
	linLongRounds   = 60
	linProcs        = 3 // roster serve processes sharing one PostgreSQL database
	// linCheckTimeout bounds porcupine's search on one kind's history; a result it cannot
	// reach in time is logged as inconclusive, not as a failure.
	linCheckTimeout = 60 * time.Second
)

func TestLinearizable(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		e := start(t, "sqlite")
		linRun(t, []string{e.base}, e.super)
	})
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv("ROSTER_TEST_POSTGRES") == "" {
			t.Skip("ROSTER_TEST_POSTGRES is not set; skipping the PostgreSQL run")
		}
		e := start(t, "postgres")
		linRun(t, []string{e.base}, e.super)
	})
	t.Run("postgres processes", func(t *testing.T) {
		if os.Getenv("ROSTER_TEST_POSTGRES") == "" {
			t.Skip("ROSTER_TEST_POSTGRES is not set: several roster processes need one shared PostgreSQL database")
		}
		bin := crBuild(t)
		db := databaseURL(t, "postgres")
		var bases []string
		super := ""
		for i := range linProcs {
			p := crStart(t, bin, db) // rate limiting off
			if i == 0 {
				super = p.super
			}
			bases = append(bases, p.base)
		}
		if super == "" {
			t.Fatal("no bootstrap key printed")
		}
		linRun(t, bases, super)
	})
}

// linRig is one run: the servers, the clients' HTTP client and the recorded histories.
type linRig struct {
	t      *testing.T
	bases  []string // client i talks to bases[i%len(bases)]
	super  string
	client *http.Client
	tag    string
	t0     time.Time

	mu       sync.Mutex
	history  map[string][]porcupine.Operation // by kind: entity, key, account, rels
	unknown  map[string][]int                 // by kind: indices of operations with no answer
	statuses map[int]int                      // answers by status, for the log
	failures []string                         // 5xx answers
}

// linRound is the objects of one round.
type linRound struct {
	n           int
	account     string // the account of the entity, the key and the relationships
	admin       string // an admin key of account
	keyID       string // the victim key: an admin key of account
	keySecret   string
	entity      string    // prefixed id
	rels        [3]string // prefixed ids of the relationship entities
	target      string    // the account suspended and renamed
	targetAdmin string    // an admin key of target
}

func linRun(t *testing.T, bases []string, super string) {
	tr := &http.Transport{MaxIdleConnsPerHost: linClients + 2}
	t.Cleanup(tr.CloseIdleConnections)
	r := &linRig{
		t: t, bases: bases, super: super,
		client:   &http.Client{Transport: tr, Timeout: 30 * time.Second},
		tag:      fmt.Sprintf("%x", time.Now().UnixNano()&0xffffff),
		t0:       time.Now(),
		history:  map[string][]porcupine.Operation{},
		unknown:  map[string][]int{},
		statuses: map[int]int{},
	}
	rounds := linRounds
	if crLong() {
		rounds = linLongRounds
	}
	for n := range rounds {
		rd := r.setup(n)
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for c := range linClients {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(c)))
				<-gate
				for i := range linOpsPerClient {
					r.step(rng, c, i, rd)
				}
			})
		}
		close(gate)
		wg.Wait()
		r.finalReads(rd)
		r.invariants(rd)
	}
	r.check(rounds)
}

// base is the server client c talks to.
func (r *linRig) base(c int) string { return r.bases[c%len(r.bases)] }

// now is the time since the run began, porcupine's clock.
func (r *linRig) now() int64 { return int64(time.Since(r.t0)) }

// setup makes a round's objects through the API, as the superadmin and the account's admin.
func (r *linRig) setup(n int) *linRound {
	t, c, base := r.t, r.client, r.bases[0]
	rd := &linRound{n: n}
	rd.account, rd.admin = crSetup(t, c, base, r.super, fmt.Sprintf("Lin %s %d", r.tag, n))
	k := crMust(t, c, 201, "POST", base+"/v1/api-keys", r.super, map[string]any{"account_id": rd.account, "name": "victim", "role": "admin"})
	rd.keyID, _ = k["id"].(string)
	rd.keySecret, _ = k["key"].(string)
	entity := func(name string) string {
		e := crMust(t, c, 201, "POST", base+"/v1/entities", rd.admin, map[string]any{"name": name, "module_ids": []string{}, "source": nil, "recipient": "crm"})
		id, _ := e["id"].(string)
		return id
	}
	var initial string
	_ = json.Unmarshal([]byte(linEntityInitial[0]), &initial)
	rd.entity = entity(initial)
	for i := range rd.rels {
		rd.rels[i] = entity(fmt.Sprintf("rel %d", i))
	}
	var targetName string
	_ = json.Unmarshal([]byte(linAccountInitialName), &targetName)
	a := crMust(t, c, 201, "POST", base+"/v1/accounts", r.super, map[string]any{"name": targetName, "slug": fmt.Sprintf("lin-target-%s-%d", r.tag, n)})
	rd.target, _ = a["id"].(string)
	tk := crMust(t, c, 201, "POST", base+"/v1/api-keys", r.super, map[string]any{"account_id": rd.target, "name": "target admin", "role": "admin"})
	rd.targetAdmin, _ = tk["key"].(string)
	if rd.keyID == "" || rd.keySecret == "" || rd.target == "" || rd.targetAdmin == "" {
		t.Fatalf("round %d: setup incomplete: key %v, account %v, admin %v", n, k, a, tk)
	}
	return rd
}

// linReq is one request to record.
type linReq struct {
	kind    string // entity, key, account, rels
	in      linIn
	method  string
	path    string
	key     string // Bearer key; "" with a header of its own
	body    any
	headers []string
	read    bool // a read: dropped from the history when no answer comes
	out     func(a crAnswer) linOut
}

// do sends the request as client c and records it.
func (r *linRig) do(c int, q linReq) crAnswer {
	var data []byte
	if q.body != nil {
		data, _ = json.Marshal(q.body)
	}
	call := r.now()
	a := crSend(r.client, q.method, r.base(c)+q.path, q.key, data, q.headers...)
	ret := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses[a.status]++
	if a.status >= 500 {
		r.failures = append(r.failures, fmt.Sprintf("%s %s: %s", q.method, q.path, a))
	}
	var out linOut
	if a.err == nil && a.status < 500 {
		out = q.out(a)
	} else if q.read {
		return a
	}
	if out.Status == 0 {
		r.unknown[q.kind] = append(r.unknown[q.kind], len(r.history[q.kind]))
	}
	r.history[q.kind] = append(r.history[q.kind], porcupine.Operation{ClientId: c, Input: q.in, Call: call, Output: out, Return: ret})
	return a
}

// step sends one random operation on one of the round's objects.
func (r *linRig) step(rng *rand.Rand, c, i int, rd *linRound) {
	val := fmt.Sprintf("c%d r%d #%d", c, rd.n, i)
	// In half the rounds client 0 ends with a DELETE of the entity, racing the others' PATCHes.
	if c == 0 && i == linOpsPerClient-1 && rd.n%2 == 1 {
		r.do(c, r.entityReq(rd, linIn{Op: "delete"}, rng.IntN(2) == 0))
		return
	}
	switch p := rng.IntN(100); {
	case p < 30:
		conduit := rng.IntN(2) == 0
		if rng.IntN(100) < 65 {
			f := rng.IntN(len(linEntityFields))
			r.do(c, r.entityReq(rd, linIn{Op: "patch", Field: f, Value: linFieldValue(rng, f, val)}, conduit))
		} else {
			r.do(c, r.entityReq(rd, linIn{Op: "get"}, conduit))
		}
	case p < 55:
		r.keyStep(rng, c, rd, val)
	case p < 75:
		r.accountStep(rng, c, rd, val)
	default:
		r.relStep(rng, c, rd)
	}
}

// linFieldValue is a random JSON value for entity field f; strings carry val so that every
// write can be told from every other.
func linFieldValue(rng *rand.Rand, f int, val string) string {
	enc := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	switch linEntityFields[f] {
	case "name":
		return enc("name " + val)
	case "description":
		if rng.IntN(5) == 0 {
			return "null"
		}
		return enc("description " + val)
	case "deprecated":
		return enc(rng.IntN(2) == 0)
	case "field_suffix":
		if rng.IntN(5) == 0 {
			return "null"
		}
		const alnum = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		b := make([]byte, 3+rng.IntN(3))
		for i := range b {
			b[i] = alnum[rng.IntN(len(alnum))]
		}
		return enc(string(b))
	case "time_zone":
		zones := []string{"null", `"UTC"`, `"Europe/Paris"`, `"America/New_York"`, `"Asia/Tokyo"`, `"America/Los Angeles"`}
		return zones[rng.IntN(len(zones))]
	}
	panic("unknown field " + linEntityFields[f])
}

// linCode is the error code of an answer ("" for a 2xx).
func linCode(a crAnswer) string {
	if a.status < 300 {
		return ""
	}
	return a.code()
}

// linFields JSON-encodes the named fields of an object body, space-separated.
func linFields(body []byte, names ...string) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return "unreadable body: " + string(body)
	}
	parts := make([]string, len(names))
	for i, n := range names {
		var v any
		if err := json.Unmarshal(m[n], &v); err != nil {
			parts[i] = "missing"
			continue
		}
		b, _ := json.Marshal(v)
		parts[i] = string(b)
	}
	return strings.Join(parts, " ")
}

// entityReq is a request on the round's entity, on /v1 or on the LeadConduit surface.
func (r *linRig) entityReq(rd *linRound, in linIn, conduit bool) linReq {
	in.Obj = "entity " + rd.entity
	q := linReq{kind: "entity", in: in, path: "/v1/entities/" + rd.entity, key: rd.admin}
	if conduit {
		q.in.Via = "conduit"
		q.path, q.key, q.headers = "/entities/"+bareID(rd.entity), "", []string{"Authorization", basic("API", rd.admin)}
	}
	switch in.Op {
	case "patch":
		q.method = "PATCH"
		q.body = map[string]json.RawMessage{linEntityFields[in.Field]: json.RawMessage(in.Value)}
	case "get":
		q.method, q.read = "GET", true
	case "delete":
		q.method = "DELETE"
	}
	q.out = func(a crAnswer) linOut {
		o := linOut{Status: a.status, Code: linCode(a)}
		if a.status == 200 {
			o.Fields = linFields(a.body, linEntityFields...)
		}
		return o
	}
	return q
}

// keyStep sends one operation on the round's victim key.
func (r *linRig) keyStep(rng *rand.Rand, c int, rd *linRound, val string) {
	in := linIn{Obj: "key " + rd.keyID}
	q := linReq{kind: "key", path: "/v1/api-keys/" + rd.keyID, key: rd.admin, method: "PATCH"}
	switch p := rng.IntN(100); {
	case p < 35:
		in.Op, in.Value = "rename", fmt.Sprintf("%q", "key "+val)
		q.body = map[string]any{"name": "key " + val}
	case p < 39:
		in.Op = "revoke"
		q.body = map[string]any{"status": "revoked"}
	case p < 45:
		in.Op = "activate"
		q.body = map[string]any{"status": "active"}
	case p < 70:
		in.Op, q.method, q.read = "get", "GET", true
	default:
		// The key reads its own account: it authenticates until it is revoked.
		in.Op, in.Via, q.method, q.read = "self", "the key itself", "GET", true
		q.path, q.key = "/v1/accounts/"+rd.account, rd.keySecret
	}
	q.in = in
	q.out = func(a crAnswer) linOut { return linKeyOut(in.Op, a) }
	r.do(c, q)
}

func linKeyOut(op string, a crAnswer) linOut {
	o := linOut{Status: a.status, Code: linCode(a)}
	if a.status == 200 && op != "self" {
		var k struct {
			Name   string `json:"name"`
			Status string `json:"status"`
		}
		_ = json.Unmarshal(a.body, &k)
		o.Fields = keyState{Name: fmt.Sprintf("%q", k.Name), Revoked: k.Status == "revoked"}.fields()
		if k.Status != "revoked" && k.Status != "active" {
			o.Fields += " status " + k.Status
		}
	}
	return o
}

// accountStep sends one operation on the round's target account.
func (r *linRig) accountStep(rng *rand.Rand, c int, rd *linRound, val string) {
	in := linIn{Obj: "account " + rd.target}
	q := linReq{kind: "account", path: "/v1/accounts/" + rd.target, key: r.super, method: "PATCH"}
	switch p := rng.IntN(100); {
	case p < 35:
		in.Op, in.Value, in.Via = "rename", fmt.Sprintf("%q", "account "+val), "admin"
		q.body, q.key = map[string]any{"name": "account " + val}, rd.targetAdmin
	case p < 50:
		in.Op, in.Via = "suspend", "superadmin"
		q.body = map[string]any{"status": "suspended"}
	case p < 65:
		in.Op, in.Via = "unsuspend", "superadmin"
		q.body = map[string]any{"status": "active"}
	default:
		in.Op, q.method, q.read = "get", "GET", true
		in.Via = "superadmin"
		if rng.IntN(2) == 0 {
			in.Via, q.key = "admin", rd.targetAdmin
		}
	}
	q.in = in
	q.out = func(a crAnswer) linOut { return linAccountOut(in.Op, a) }
	r.do(c, q)
}

func linAccountOut(op string, a crAnswer) linOut {
	o := linOut{Status: a.status, Code: linCode(a)}
	if a.status == 200 {
		switch op {
		case "rename":
			o.Fields = linFields(a.body, "name")
		case "suspend", "unsuspend":
			o.Fields = linFields(a.body, "status")
		default:
			o.Fields = linFields(a.body, "name", "status")
		}
	}
	return o
}

// relStep sends one operation on the round's relationship entities.
func (r *linRig) relStep(rng *rand.Rand, c int, rd *linRound) {
	switch p := rng.IntN(100); {
	case p < 40:
		r.do(c, r.batchReq(rd, rng.Perm(linRelEntities)[:1+rng.IntN(linRelEntities)], rng.IntN(len(linRelTypes)), rng.IntN(2) == 0))
	case p < 70:
		r.do(c, r.listReq(rd, rng.IntN(2) == 0))
	default:
		ent := rng.IntN(linRelEntities)
		op := "get"
		if p < 78 {
			op = "delete"
		}
		r.do(c, r.relEntityReq(rd, op, ent, rng.IntN(2) == 0))
	}
}

func (r *linRig) batchReq(rd *linRound, ents []int, typ int, v0 bool) linReq {
	ids := make([]string, len(ents))
	for i, e := range ents {
		ids[i] = rd.rels[e]
	}
	surface := "v1"
	if v0 {
		surface = "v0"
	}
	in := linIn{Obj: "rels " + rd.account, Op: "batch", IDs: ents, Type: typ, Via: surface}
	return linReq{
		kind: "rels", in: in, method: "POST", key: rd.admin,
		path:    "/" + surface + "/accounts/" + rd.account + "/entity_relationships/batch",
		body:    map[string]any{"entity_ids": ids, "relationship_type": linRelTypes[typ]},
		headers: []string{"Idempotency-Key", fmt.Sprintf("lin-%d-%d", time.Now().UnixNano(), rand.Uint64())},
		out: func(a crAnswer) linOut {
			o := linOut{Status: a.status, Code: linCode(a)}
			if a.status == 422 {
				o.Mask = linNotFound(a.body, ents)
			}
			return o
		},
	}
}

// linNotFound reads the entities a 422 batch answer names as not_found (native or Lead Bank
// shape), as a mask of entity indices; 1<<15 marks any other problem.
func linNotFound(body []byte, ents []int) uint16 {
	var v struct {
		Detail  []map[string]any `json:"detail"`
		Invalid []struct {
			Parameter string `json:"parameter"`
			Reason    string `json:"reason"`
		} `json:"invalid_parameters"`
	}
	_ = json.Unmarshal(body, &v)
	var m uint16
	mark := func(i int, ok bool) {
		if ok && i >= 0 && i < len(ents) {
			m |= 1 << ents[i]
		} else {
			m |= 1 << 15
		}
	}
	for _, d := range v.Detail {
		loc, _ := d["loc"].([]any)
		i := -1
		if len(loc) == 3 {
			if f, ok := loc[2].(float64); ok {
				i = int(f)
			}
		}
		mark(i, d["type"] == "not_found")
	}
	for _, p := range v.Invalid {
		var i int
		_, err := fmt.Sscanf(p.Parameter, "entity_ids[%d]", &i)
		mark(i, err == nil && p.Reason == "not_found")
	}
	return m
}

func (r *linRig) listReq(rd *linRound, v0 bool) linReq {
	in := linIn{Obj: "rels " + rd.account, Op: "list", Via: "v1"}
	path := "/v1/accounts/" + rd.account + "/entity_relationships?limit=100"
	if v0 {
		in.Via, path = "v0", "/v0/accounts/"+rd.account+"/entity_relationships?limit=100"
	}
	return linReq{kind: "rels", in: in, method: "GET", path: path, key: rd.admin, read: true,
		out: func(a crAnswer) linOut {
			o := linOut{Status: a.status, Code: linCode(a)}
			if a.status == 200 {
				o.Mask, o.Fields = linPairs(a.body, rd)
			}
			return o
		}}
}

// linPairs reads a /v1 or /v0 relationship list as a mask of pairs; a pair of an entity that
// is not one of the round's, a duplicate, or a page that is not the whole list, sets every bit
// (no state has them all) and says why in the second result.
func linPairs(body []byte, rd *linRound) (uint16, string) {
	var v struct {
		Data       []crPair `json:"data"`
		Objects    []crPair `json:"objects"`
		HasMore    bool     `json:"has_more"`
		Pagination struct {
			HasNext bool `json:"has_next"`
		} `json:"pagination"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return 0xffff, "unreadable: " + string(body)
	}
	if v.HasMore || v.Pagination.HasNext {
		return 0xffff, "more than one page: " + string(body)
	}
	var m uint16
	for _, p := range append(v.Data, v.Objects...) {
		e := -1
		for i, id := range rd.rels {
			if id == p.EntityID {
				e = i
			}
		}
		t := -1
		for i, typ := range linRelTypes {
			if typ == p.Type {
				t = i
			}
		}
		if e < 0 || t < 0 || m&relBit(e, t) != 0 {
			return 0xffff, fmt.Sprintf("unexpected pair %s %s", p.EntityID, p.Type)
		}
		m |= relBit(e, t)
	}
	return m, ""
}

func (r *linRig) relEntityReq(rd *linRound, op string, ent int, conduit bool) linReq {
	in := linIn{Obj: "rels " + rd.account, Op: op, Ent: ent, Via: "v1"}
	q := linReq{kind: "rels", method: "GET", path: "/v1/entities/" + rd.rels[ent], key: rd.admin, read: op == "get"}
	if op == "delete" {
		q.method = "DELETE"
	}
	if conduit {
		in.Via = "conduit"
		q.path, q.key, q.headers = "/entities/"+bareID(rd.rels[ent]), "", []string{"Authorization", basic("API", rd.admin)}
	}
	q.in = in
	q.out = func(a crAnswer) linOut { return linOut{Status: a.status, Code: linCode(a)} }
	return q
}

// finalReads reads every object of the round once more, after the clients are done, as one
// more client of the history.
func (r *linRig) finalReads(rd *linRound) {
	c := linClients
	r.do(c, r.entityReq(rd, linIn{Op: "get"}, false))
	in := linIn{Obj: "key " + rd.keyID, Op: "get"}
	r.do(c, linReq{kind: "key", in: in, method: "GET", path: "/v1/api-keys/" + rd.keyID, key: rd.admin, read: true,
		out: func(a crAnswer) linOut { return linKeyOut("get", a) }})
	in = linIn{Obj: "key " + rd.keyID, Op: "self", Via: "the key itself"}
	r.do(c, linReq{kind: "key", in: in, method: "GET", path: "/v1/accounts/" + rd.account, key: rd.keySecret, read: true,
		out: func(a crAnswer) linOut { return linKeyOut("self", a) }})
	in = linIn{Obj: "account " + rd.target, Op: "get", Via: "superadmin"}
	r.do(c, linReq{kind: "account", in: in, method: "GET", path: "/v1/accounts/" + rd.target, key: r.super, read: true,
		out: func(a crAnswer) linOut { return linAccountOut("get", a) }})
	r.do(c, r.listReq(rd, false))
	r.do(c, r.listReq(rd, true))
	for e := range linRelEntities {
		r.do(c, r.relEntityReq(rd, "get", e, false))
	}
}

// invariants checks, beside the models, what SPEC §11 names outright: no relationship refers
// to a deleted entity, and an acknowledged revocation holds.
func (r *linRig) invariants(rd *linRound) {
	t, base := r.t, r.bases[len(r.bases)-1]
	for _, list := range []string{"/v1/accounts/" + rd.account + "/entity_relationships?limit=100", "/v0/accounts/" + rd.account + "/entity_relationships?limit=100"} {
		a := crSend(r.client, "GET", base+list, rd.admin, nil)
		if a.err != nil || a.status != 200 {
			t.Errorf("round %d: GET %s: %s", rd.n, list, a)
			continue
		}
		var v struct {
			Data    []crPair `json:"data"`
			Objects []crPair `json:"objects"`
		}
		_ = json.Unmarshal(a.body, &v)
		for _, p := range append(v.Data, v.Objects...) {
			g := crSend(r.client, "GET", base+"/v1/entities/"+p.EntityID, rd.admin, nil)
			if g.err != nil || g.status != 200 {
				t.Errorf("round %d: %s lists relationship %s %s, but its entity answers %s", rd.n, strings.SplitN(list, "?", 2)[0], p.EntityID, p.Type, g)
			}
		}
	}
	revoked := false
	r.mu.Lock()
	for _, op := range r.history["key"] {
		in, out := op.Input.(linIn), op.Output.(linOut)
		if in.Obj == "key "+rd.keyID && in.Op == "revoke" && out.Status == 200 {
			revoked = true
		}
	}
	r.mu.Unlock()
	if revoked {
		if a := crSend(r.client, "GET", base+"/v1/accounts/"+rd.account, rd.keySecret, nil); a.status != 401 {
			t.Errorf("round %d: key %s was revoked (200), but it still authenticates: GET /v1/accounts/%s answers %s", rd.n, rd.keyID, rd.account, a)
		}
	}
}

// check runs porcupine on each kind's history, then names every object whose history is not
// linearizable and writes its visualization.
func (r *linRig) check(rounds int) {
	t := r.t
	end := r.now() + 1
	for kind, idx := range r.unknown {
		for _, i := range idx {
			r.history[kind][i].Return = end
		}
	}
	for _, code := range r.failures[:min(len(r.failures), 10)] {
		t.Errorf("server error: %s", code)
	}
	if n := r.statuses[429]; n*20 > r.total() {
		t.Errorf("%d of %d requests were throttled (429): the run says little", n, r.total())
	}
	t.Logf("%d rounds, %d clients on %d process(es), %d requests; answers by status %v", rounds, linClients, len(r.bases), r.total(), r.statuses)
	models := map[string]porcupine.Model{"entity": entityModel, "key": keyModel, "account": accountModel, "rels": relModel}
	var dir string
	for _, kind := range []string{"entity", "key", "account", "rels"} {
		model, history := models[kind], r.history[kind]
		res, _ := porcupine.CheckOperationsVerbose(model, history, linCheckTimeout)
		parts := partitionByObj(history)
		switch res {
		case porcupine.Ok:
			t.Logf("%s: %d operations on %d objects: linearizable", kind, len(history), len(parts))
			continue
		case porcupine.Unknown:
			t.Logf("%s: %d operations on %d objects: the checker did not finish within %v (inconclusive)", kind, len(history), len(parts), linCheckTimeout)
			continue
		}
		bad := 0
		for _, part := range parts {
			pres, info := porcupine.CheckOperationsVerbose(model, part, linCheckTimeout)
			if pres != porcupine.Illegal {
				continue
			}
			bad++
			obj := part[0].Input.(linIn).Obj
			if dir == "" {
				var err error
				if dir, err = os.MkdirTemp("", "roster-linearizable-"); err != nil {
					t.Errorf("visualization directory: %v", err)
				}
			}
			path := filepath.Join(dir, strings.ReplaceAll(obj, " ", "-")+".html")
			if err := porcupine.VisualizePath(model, info, path); err != nil {
				path = "(not written: " + err.Error() + ")"
			}
			_ = os.WriteFile(strings.TrimSuffix(path, ".html")+".txt", linListing(part), 0o644)
			why := ""
			if kind == "account" && porcupine.CheckOperations(accountModelWith(true), part) {
				why = " (only because a rename let in before a suspension landed after it: the suspension is checked before the write's transaction, not in it)"
			}
			t.Errorf("%s: the history of %s (%d operations) is not linearizable%s; visualization: %s", kind, obj, len(part), why, path)
		}
		t.Errorf("%s: %d of %d objects not linearizable", kind, bad, len(parts))
	}
}

func (r *linRig) total() int {
	n := 0
	for _, c := range r.statuses {
		n += c
	}
	return n
}

// linListing is a history as text, by call time: start and end in microseconds since the run
// began, the client, the operation and its answer.
func linListing(history []porcupine.Operation) []byte {
	ops := slices.Clone(history)
	slices.SortFunc(ops, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
	var b strings.Builder
	for _, op := range ops {
		fmt.Fprintf(&b, "%10d %10d  client %2d  %v → %v\n", op.Call/1000, op.Return/1000, op.ClientId, op.Input, op.Output)
	}
	return []byte(b.String())
}
