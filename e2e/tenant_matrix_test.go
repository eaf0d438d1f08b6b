package e2e

// The tenant matrix (OWASP API1 broken object level authorization, API3 broken object property
// level authorization, API5 broken function level authorization), generated from the route
// table: every keyed route × method × role × where another tenant's object sits (path,
// ?account_id=, body) gets the answer SPEC §3/§5 gives (tmRules), shows no data of a tenant the
// role may not see, and — when refused — leaves the database as it was. Then mass assignment
// (read-only and unknown fields never change stored values) and cursor binding (a cursor from
// one caller cannot page another's rows).
//
// One server per engine serves the whole matrix in one sequence. The shared objects are the
// targets of refused requests, which must not change them; an allowed write gets objects made
// for it, and may change those and nothing else. After every request the test lists everything
// as the superadmin (accounts, every account's entities and relationships, keys) and compares.
// A route added to the server without a line in tmSpecs fails the test. A failure that shows a
// defect of the server starts with "defect:".

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
)

// ---------------------------------------------------------------------------------------------
// The route table.

// tmRoute is one line of (*api.Server).Routes().
type tmRoute struct {
	method, pattern string
	surface         string        // "native", "leadbank", "leadconduit"; "" for the operational routes
	access          roster.Access // who the table says may call it
	public          bool
}

func (r tmRoute) String() string { return r.method + " " + r.pattern }

// tmRouteTable reads the server's own route table, exported as data.
func tmRouteTable(t *testing.T, e *env) []tmRoute {
	t.Helper()
	var out []tmRoute
	for _, rt := range api.New(e.app.Service, nil, api.Options{}).Routes() {
		out = append(out, tmRoute{method: rt.Method, pattern: rt.Pattern, surface: rt.Surface, access: rt.Access, public: rt.Access == roster.Public})
	}
	return out
}

// tmPublic are the routes that need no key (SPEC §1, §10). A new public route must be added
// here on purpose: anything else has to be keyed and described in tmSpecs.
var tmPublic = map[string]bool{
	"GET /healthz": true, "GET /readyz": true, "GET /metrics": true, "GET /openapi.json": true,
	"GET /docs": true, "GET /docs/{file}": true, "GET /{$}": true, "GET /docs/{$}": true,
}

// tmParamKind is what a path parameter names.
type tmParamKind int

const (
	tmPAccount   tmParamKind = iota // an account: 403 when it is not the caller's (SPEC §3)
	tmPEntity                       // an entity: 404 when another tenant's
	tmPKey                          // an API key: 404 when another tenant's
	tmPRelEntity                    // the entity of a relationship on the path's account: 404 when none
	tmPAudit                        // an audit record: 404 when another tenant's
	tmPEvent                        // an event: 404 when another tenant's
)

type tmParam struct {
	name string
	kind tmParamKind
}

// tmPattern says how to fill one route pattern: its path parameters, and per method what the
// request looks like and what SPEC makes of it.
type tmPattern struct {
	params  []tmParam
	methods map[string]tmMethod
}

type tmMethod struct {
	ok        int    // the status of success
	write     bool   // POST, PUT, PATCH, DELETE: readers 403, suspended accounts 403 account_suspended
	superOnly bool   // only a superadmin may call it (creating accounts)
	keys      bool   // the /v1/api-keys family: a reader is 403 on every method
	auditor   bool   // the audit trail: a reader is 403 on every route
	scopes    bool   // off /v1, ?account_id= still scopes this list (LeadConduit's list)
	bodyAcct  bool   // the body's account_id chooses the account (403 when not the caller's)
	refs      string // the body names entities: "see" or "entity_ids" (422 not_found when foreign)
	qref      string // a query filter that names an entity
	query     string // a query every request carries
	idem      bool   // Idempotency-Key is required
	renames   bool   // an allowed write changes the path's account itself
	history   bool   // the event feed: a deleted account's events stay in the superadmin's (docs/events.md)
	list      *tmList
	body      func(x *tmFill) any
}

// tmList says how a list hands out cursors, for the cursor binding test.
type tmList struct {
	param  string // the query parameter that carries a cursor back
	issuer tmKind // tmAdmin, or tmSuper where an account key sees a single row
	next   func(r resp) string
}

var (
	tmNativeList = &tmList{param: "cursor", issuer: tmAdmin, next: func(r resp) string {
		p, _ := r.Obj()["pagination"].(map[string]any)
		s, _ := p["next_cursor"].(string)
		return s
	}}
	tmAccountList  = &tmList{param: "cursor", issuer: tmSuper, next: tmNativeList.next}
	tmLeadBankList = &tmList{param: "starting_after", issuer: tmAdmin, next: func(r resp) string {
		s, _ := r.Obj()["cursor"].(string)
		return s
	}}
	tmConduitList = &tmList{param: "cursor", issuer: tmAdmin, next: func(r resp) string {
		link := r.Header.Get("Link")
		start, end := strings.Index(link, "<"), strings.Index(link, ">")
		if start < 0 || end < start {
			return ""
		}
		u, err := url.Parse(link[start+1 : end])
		if err != nil {
			return ""
		}
		return u.Query().Get("cursor")
	}}
)

// tmSpecs is the map pattern → how to fill it. A keyed route or method missing here fails the
// test: describe it, and the matrix covers it.
var tmSpecs = map[string]tmPattern{
	"/v1/accounts": {methods: map[string]tmMethod{
		"POST": {ok: 201, write: true, superOnly: true, body: tmAccountCreateBody},
		"GET":  {ok: 200, list: tmAccountList},
	}},
	"/v1/accounts/{account_id}": {params: []tmParam{{"account_id", tmPAccount}}, methods: map[string]tmMethod{
		"GET":   {ok: 200},
		"PATCH": {ok: 200, write: true, renames: true, body: tmAccountPatchBody},
	}},
	"/v1/entities": {methods: map[string]tmMethod{
		"POST": {ok: 201, write: true, bodyAcct: true, refs: "see", body: tmEntityCreateBody},
		"GET":  {ok: 200, list: tmNativeList},
	}},
	"/v1/entities/{id}": {params: []tmParam{{"id", tmPEntity}}, methods: map[string]tmMethod{
		"GET":    {ok: 200},
		"PUT":    {ok: 200, write: true, refs: "see", body: tmEntityPutBody},
		"PATCH":  {ok: 200, write: true, refs: "see", body: tmEntityPatchBody},
		"DELETE": {ok: 200, write: true},
	}},
	"/v1/entities/{id}/relationships": {params: []tmParam{{"id", tmPEntity}}, methods: map[string]tmMethod{
		"GET": {ok: 200, list: tmNativeList},
	}},
	"/v1/accounts/{account_id}/entity_relationships/batch": {params: []tmParam{{"account_id", tmPAccount}}, methods: map[string]tmMethod{
		"POST": {ok: 200, write: true, refs: "entity_ids", idem: true, body: tmBatchBody},
	}},
	"/v1/accounts/{account_id}/entity_relationships": {params: []tmParam{{"account_id", tmPAccount}}, methods: map[string]tmMethod{
		"GET": {ok: 200, qref: "entity_id", list: tmNativeList},
	}},
	"/v1/accounts/{account_id}/entity_relationships/{entity_id}": {params: []tmParam{{"account_id", tmPAccount}, {"entity_id", tmPRelEntity}}, methods: map[string]tmMethod{
		"DELETE": {ok: 200, write: true, query: "relationship_type=account_holder"},
	}},
	"/v1/api-keys": {methods: map[string]tmMethod{
		"POST": {ok: 201, write: true, keys: true, bodyAcct: true, body: tmKeyCreateBody},
		"GET":  {ok: 200, keys: true, list: tmNativeList},
	}},
	"/v1/api-keys/{key_id}": {params: []tmParam{{"key_id", tmPKey}}, methods: map[string]tmMethod{
		"GET":   {ok: 200, keys: true},
		"PATCH": {ok: 200, write: true, keys: true, body: tmKeyPatchBody},
	}},
	"/v1/client/nonce": {methods: map[string]tmMethod{
		"GET": {ok: 200},
	}},
	"/v1/audit_events": {methods: map[string]tmMethod{
		"GET": {ok: 200, auditor: true, history: true, list: tmNativeList},
	}},
	"/v1/audit_events/verify": {methods: map[string]tmMethod{
		"GET": {ok: 200, auditor: true, history: true},
	}},
	"/v1/audit_events/{id}": {params: []tmParam{{"id", tmPAudit}}, methods: map[string]tmMethod{
		"GET": {ok: 200, auditor: true, history: true},
	}},
	"/v0/accounts/{id}/entity_relationships/batch": {params: []tmParam{{"id", tmPAccount}}, methods: map[string]tmMethod{
		"POST": {ok: 200, write: true, refs: "entity_ids", idem: true, body: tmBatchBody},
	}},
	"/v0/accounts/{id}/entity_relationships": {params: []tmParam{{"id", tmPAccount}}, methods: map[string]tmMethod{
		"GET": {ok: 200, list: tmLeadBankList},
	}},
	"/v0/accounts/{id}/entity_relationships/{entity_id}": {params: []tmParam{{"id", tmPAccount}, {"entity_id", tmPRelEntity}}, methods: map[string]tmMethod{
		"DELETE": {ok: 200, write: true, query: "relationship_type=account_holder"},
	}},
	"/entities": {methods: map[string]tmMethod{
		"POST": {ok: 201, write: true, bodyAcct: true, refs: "see", body: tmEntityCreateBody},
		"GET":  {ok: 200, scopes: true, list: tmConduitList},
	}},
	"/entities/{id}": {params: []tmParam{{"id", tmPEntity}}, methods: map[string]tmMethod{
		"GET":    {ok: 200},
		"PUT":    {ok: 200, write: true, refs: "see", body: tmEntityPutBody},
		"PATCH":  {ok: 200, write: true, refs: "see", body: tmEntityPatchBody},
		"DELETE": {ok: 200, write: true},
	}},
	"/v1/events": {methods: map[string]tmMethod{
		"GET": {ok: 200, history: true, list: tmNativeList},
	}},
	"/v1/events/stream": {methods: map[string]tmMethod{
		"GET": {ok: 200, history: true},
	}},
	"/v1/events/{id}": {params: []tmParam{{"id", tmPEvent}}, methods: map[string]tmMethod{
		"GET": {ok: 200, history: true},
	}},
}

// ---------------------------------------------------------------------------------------------
// The cast.

type tmKind int

const (
	tmSuper tmKind = iota
	tmAdmin
	tmReader
	tmSuspended // an admin of a suspended account
	tmUnauth    // a key of a deleted account, a revoked key, no key
)

type tmRole struct {
	name string
	kind tmKind
	acct string // its own account's letter; "" for the superadmin and refused keys
	home string // whose objects fill the path when the foreign object sits in the query or body
	key  string // the secret; "" sends none
	// history is set on a copy of the role for the event routes (tmMethod.history).
	history bool
}

// tmTenant is one seeded account: A (the tenant), B (the other tenant), S (suspended), D (deleted).
type tmTenant struct {
	letter, id   string
	x1, x2       string // entities: x1 holds account_holder and authorized_signer, x2 authorized_user
	victim       string // an admin key no role uses: the object of the key routes
	victimSecret string
	audit        string // a record of its chain: the object of /v1/audit_events/{id}
	event        string // an event of the account
}

type tmWorld struct {
	e      *env
	svc    *roster.Service
	superP roster.Principal
	ten    map[string]*tmTenant
	roles  []*tmRole
	// What names each letter's data, lower case: hex ids, key prefixes; names all contain
	// "zz-secret-<letter>". Letters: A B S D the tenants, N accounts made by the matrix, Z the
	// superadmin's own key.
	hexOf    map[string]string
	prefixOf map[string]string
	base     map[string]string // the last snapshot
	n        int
	snaps    int           // snapshots taken
	snapTime time.Duration // time spent taking them
	// Objects made for allowed writes (kind and bare id), deleted now and then so that the
	// snapshots stay small.
	trash []string
	// events appends the tenants' events beside the server.
	events roster.Store
}

func (w *tmWorld) next() int { w.n++; return w.n }

// role finds a role of the cast by name.
func (w *tmWorld) role(name string) *tmRole {
	for _, r := range w.roles {
		if r.name == name {
			return r
		}
	}
	panic("tenant matrix: no role " + name)
}

// do sends a request as key (none when ""), presenting it the way the surface's clients do. An
// event stream, which never ends, is read for a moment: what it sends at once (the events the
// caller may see, or a heartbeat) is its body.
func (w *tmWorld) do(t *testing.T, key, method, path string, body any, headers ...string) resp {
	t.Helper()
	e := w.e.forT(t)
	headers = append(authFor(path, key), headers...)
	if !strings.HasPrefix(path, "/v1/events/stream") || method != "GET" {
		return e.req(method, path, body, headers...)
	}
	return e.streamHead(path, 300*time.Millisecond, headers...)
}

func (w *tmWorld) must(t *testing.T, r resp, status int) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("want %d, got %s", status, r)
	}
	return r.Obj()
}

func (w *tmWorld) own(letter, hexID string) {
	w.hexOf[strings.ToLower(bareID(hexID))] = letter
}

func (w *tmWorld) entity(t *testing.T, letter, name string) string {
	t.Helper()
	id := w.must(t, w.do(t, w.e.super, "POST", "/v1/entities", map[string]any{
		"account_id": w.ten[letter].id, "name": name, "module_ids": []any{"m1"}, "source": "seller", "recipient": nil,
		"description": name + " private notes",
	}), 201)["id"].(string)
	w.own(letter, id)
	return id
}

// event records an event of the tenant, beside the server (until writes record their own).
func (w *tmWorld) event(t *testing.T, letter string) string {
	t.Helper()
	if w.events == nil {
		w.events = relSideStore(t, w.e.database)
	}
	rec := feedRecord(w.ten[letter].id, roster.EventEntityUpdated, w.ten[letter].x1, time.Now())
	rec.Data = []byte(`{"object":{"name":"zz-secret-` + letter + ` event"}}`)
	id := roster.KindEvent.Prefixed(feedAppend(t, w.events, rec)[0].ID)
	w.own(letter, id)
	return id
}

func (w *tmWorld) relate(t *testing.T, letter, entity, typ string) {
	t.Helper()
	w.must(t, w.do(t, w.e.super, "POST", "/v1/accounts/"+w.ten[letter].id+"/entity_relationships/batch",
		map[string]any{"entity_ids": []any{entity}, "relationship_type": typ}, "Idempotency-Key", fmt.Sprintf("tm-seed-%d", w.next())), 200)
}

// key makes a key for the letter's account and returns its prefixed id and secret.
func (w *tmWorld) key(t *testing.T, letter string, role roster.Role, name string) (string, string) {
	t.Helper()
	ck, err := w.svc.CreateKey(context.Background(), roster.Operator(),
		roster.KeyCreate{AccountID: bareID(w.ten[letter].id), Role: role, Name: name}.Body())
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	k, secret := ck.Key, ck.Secret
	w.own(letter, k.ID)
	w.prefixOf[strings.ToLower(k.Prefix)] = letter
	return roster.KindKey.Prefixed(k.ID), secret
}

// freshEntity, freshKey and freshRel make objects for one allowed write, so that the shared
// targets of refused requests never change.
func (w *tmWorld) freshEntity(t *testing.T, letter string) string {
	t.Helper()
	id := w.entity(t, letter, fmt.Sprintf("zz-secret-%s fresh %d", letter, w.next()))
	w.trash = append(w.trash, "entity "+bareID(id))
	return id
}

func (w *tmWorld) freshKey(t *testing.T, letter string) (string, string) {
	t.Helper()
	id, secret := w.key(t, letter, roster.RoleAdmin, fmt.Sprintf("zz-secret-%s fresh key %d", letter, w.next()))
	w.trash = append(w.trash, "key "+bareID(id))
	return id, secret
}

// collect deletes the objects made for allowed writes, once there are enough of them, and
// takes a new snapshot: every snapshot reads every row, so fewer rows make a faster matrix.
func (w *tmWorld) collect(t *testing.T, atLeast int) {
	t.Helper()
	if len(w.trash) < atLeast {
		return
	}
	ctx := context.Background()
	for _, item := range w.trash {
		kind, id, _ := strings.Cut(item, " ")
		var err error
		switch kind {
		case "entity":
			_, err = w.svc.DeleteEntity(ctx, &roster.Request{Principal: w.superP}, id)
		case "key":
			_, err = w.svc.PatchKey(ctx, &roster.Request{Principal: w.superP}, id, []byte(`{"deleted":true}`))
		case "account":
			_, err = w.svc.PatchAccount(ctx, &roster.Request{Principal: w.superP}, id, []byte(`{"deleted":true}`))
		}
		if err != nil && roster.ErrorCode(err) != roster.CodeNotFound { // a DELETE case removed it already
			t.Fatalf("clean up %s: %v", item, err)
		}
	}
	w.trash = w.trash[:0]
	w.base = w.snapshot(t)
}

func (w *tmWorld) freshRel(t *testing.T, letter string) string {
	t.Helper()
	id := w.freshEntity(t, letter)
	w.relate(t, letter, id, "account_holder")
	return id
}

// tmSeed builds the cast on a fresh server.
func tmSeed(t *testing.T, e *env) *tmWorld {
	t.Helper()
	w := &tmWorld{e: e, svc: e.app.Service, ten: map[string]*tmTenant{}, hexOf: map[string]string{}, prefixOf: map[string]string{}}
	p, err := w.svc.Authenticate(context.Background(), e.super)
	if err != nil {
		t.Fatal(err)
	}
	w.superP = p
	w.own("Z", p.KeyID)
	w.prefixOf[strings.ToLower(e.super[:roster.KeyPrefixLen])] = "Z"

	for _, l := range []string{"A", "B", "S", "D"} {
		a := w.must(t, w.do(t, e.super, "POST", "/v1/accounts", map[string]any{"name": "zz-secret-" + l + " Holdings"}), 201)
		tn := &tmTenant{letter: l, id: a["id"].(string)}
		w.ten[l] = tn
		w.own(l, tn.id)
		tn.x1 = w.entity(t, l, "zz-secret-"+l+" entity one")
		tn.x2 = w.entity(t, l, "zz-secret-"+l+" entity two")
		w.relate(t, l, tn.x1, "account_holder")
		w.relate(t, l, tn.x1, "authorized_signer")
		w.relate(t, l, tn.x2, "authorized_user")
		tn.victim, tn.victimSecret = w.key(t, l, roster.RoleAdmin, "zz-secret-"+l+" victim key")
		recs := w.must(t, w.do(t, e.super, "GET", "/v1/audit_events?limit=1&account_id="+tn.id, nil), 200)["data"].([]any)
		tn.audit = recs[0].(map[string]any)["id"].(string)
		tn.event = w.event(t, l)
	}
	_, adminA := w.key(t, "A", roster.RoleAdmin, "zz-secret-A admin key")
	_, readerA := w.key(t, "A", roster.RoleReader, "zz-secret-A reader key")
	_, adminB := w.key(t, "B", roster.RoleAdmin, "zz-secret-B admin key")
	_, adminS := w.key(t, "S", roster.RoleAdmin, "zz-secret-S admin key")
	_, keyD := w.key(t, "D", roster.RoleAdmin, "zz-secret-D admin key")
	revokedID, revoked := w.key(t, "A", roster.RoleAdmin, "zz-secret-A revoked key")
	w.must(t, w.do(t, e.super, "PATCH", "/v1/api-keys/"+revokedID, map[string]any{"status": "revoked"}), 200)
	w.must(t, w.do(t, e.super, "PATCH", "/v1/accounts/"+w.ten["S"].id, map[string]any{"status": "suspended"}), 200)
	w.must(t, w.do(t, e.super, "PATCH", "/v1/accounts/"+w.ten["D"].id, map[string]any{"deleted": true}), 200)

	w.roles = []*tmRole{
		{name: "superadmin", kind: tmSuper, home: "A", key: e.super},
		{name: "admin of A", kind: tmAdmin, acct: "A", home: "A", key: adminA},
		{name: "reader of A", kind: tmReader, acct: "A", home: "A", key: readerA},
		{name: "admin of B", kind: tmAdmin, acct: "B", home: "B", key: adminB},
		{name: "admin of suspended S", kind: tmSuspended, acct: "S", home: "S", key: adminS},
		{name: "key of deleted D", kind: tmUnauth, home: "A", key: keyD},
		{name: "revoked key of A", kind: tmUnauth, home: "A", key: revoked},
		{name: "no key", kind: tmUnauth, home: "A"},
	}
	w.base = w.snapshot(t)
	return w
}

// ---------------------------------------------------------------------------------------------
// Snapshots: everything the superadmin can list (accounts, the entities of every account, the
// relationships of every account, keys), keyed so that a change names its object.

func (w *tmWorld) snapshot(t *testing.T) map[string]string {
	t.Helper()
	began := time.Now()
	defer func() { w.snaps, w.snapTime = w.snaps+1, w.snapTime+time.Since(began) }()
	ctx := context.Background()
	out := map[string]string{}
	put := func(k string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = string(b)
	}
	req := func(cursor string) roster.PageRequest {
		return roster.PageRequest{Limit: 100, Cursor: cursor, Filters: map[string]string{}, Principal: w.superP}
	}
	fail := func(what string, err error) {
		t.Helper()
		t.Fatalf("snapshot: list %s as the superadmin: %v", what, err)
	}
	var accounts []string
	for c, more := "", true; more; {
		p, err := w.svc.ListAccounts(ctx, w.superP, req(c))
		if err != nil {
			fail("accounts", err)
		}
		for _, a := range p.Items {
			put("account "+a.ID, a)
			accounts = append(accounts, a.ID)
		}
		c, more = p.Next, p.HasNext
	}
	// The superadmin's entity list spans every account.
	for c, more := "", true; more; {
		p, err := w.svc.ListEntities(ctx, w.superP, roster.EntityListing, req(c))
		if err != nil {
			fail("entities", err)
		}
		for _, en := range p.Items {
			put("entity "+en.ID, en)
		}
		c, more = p.Next, p.HasNext
	}
	for _, acct := range accounts {
		for c, more := "", true; more; {
			p, err := w.svc.ListRelationships(ctx, w.superP, acct, req(c))
			if err != nil {
				fail("relationships", err)
			}
			for _, r := range p.Items {
				put("rel "+r.EntityID+" "+r.Type+" "+r.AccountID, r)
			}
			c, more = p.Next, p.HasNext
		}
	}
	for c, more := "", true; more; {
		p, err := w.svc.ListKeys(ctx, w.superP, req(c))
		if err != nil {
			fail("keys", err)
		}
		for _, k := range p.Items {
			k.LastUsedAt = nil // moves when a key is used, which every request does
			put("key "+k.ID, k)
		}
		c, more = p.Next, p.HasNext
	}
	return out
}

// tmDiff lists the keys whose value differs between two snapshots.
func tmDiff(before, after map[string]string) []string {
	var out []string
	for k, v := range before {
		if a, ok := after[k]; !ok {
			out = append(out, "removed "+k)
		} else if a != v {
			out = append(out, "changed "+k+": "+v+" → "+a)
		}
	}
	for k, v := range after {
		if _, ok := before[k]; !ok {
			out = append(out, "added "+k+": "+v)
		}
	}
	sort.Strings(out)
	return out
}

// tmDiffOutside lists the changes of objects not in touched (bare hex ids): for a relationship
// the entity counts.
func tmDiffOutside(diff []string, touched map[string]bool) []string {
	var out []string
	for _, d := range diff {
		f := strings.Fields(d)
		if len(f) < 3 || !touched[strings.TrimSuffix(f[2], ":")] {
			out = append(out, d)
		}
	}
	return out
}

// ---------------------------------------------------------------------------------------------
// Leaks.

var (
	tmHexRun    = regexp.MustCompile(`[0-9a-f]{24,}`)
	tmPrefixRun = regexp.MustCompile(`rk_[0-9a-z]{9}`)
	// tmEventActor is the key that acted, in an event's request (SPEC §13): body lower-cased.
	tmEventActor = regexp.MustCompile(`"request":\{"id":"(?:[^"\\]|\\.)*","idempotency_key":(?:null|"(?:[^"\\]|\\.)*"),"key_id":"key_([0-9a-f]{24})"\}`)
)

// platformActors blanks, in s, the request.key_id of events that names a key of the platform
// (letter Z): the superadmin key that acted on a tenant (created its account, its entities) is
// named in the tenant's events, as in its audit trail (docs/decisions.md). Only there: the same
// id anywhere else in a tenant's answer is still a leak.
func (w *tmWorld) platformActors(s string) string {
	return tmEventActor.ReplaceAllStringFunc(s, func(m string) string {
		hex := tmEventActor.FindStringSubmatch(m)[1]
		if w.hexOf[hex] != "Z" {
			return m
		}
		return strings.TrimSuffix(m, `"key_`+hex+`"}`) + `"platform key"}`
	})
}

// forbidden says whether a role may see the data of letter.
func (r *tmRole) forbidden(letter string) bool {
	switch r.kind {
	case tmSuper:
		// A deleted account vanishes from everything, for everyone, but the history of what
		// was committed: its events, its deletion last, stay in the superadmin's feed.
		return letter == "D" && !r.history
	case tmUnauth:
		return true
	}
	return letter != r.acct
}

// leaks returns what of the data r may not see is in body, once every string the request
// itself sent (an echo is no leak) is taken out.
func (w *tmWorld) leaks(r *tmRole, sent []string, body []byte) []string {
	s := w.platformActors(strings.ToLower(string(body)))
	sent = slices.Clone(sent)
	sort.Slice(sent, func(i, j int) bool { return len(sent[i]) > len(sent[j]) })
	for _, v := range sent {
		if len(v) >= 8 {
			s = strings.ReplaceAll(s, strings.ToLower(v), "\x00")
		}
	}
	var found []string
	for _, l := range []string{"A", "B", "S", "D", "N", "Z"} {
		if r.forbidden(l) && strings.Contains(s, "zz-secret-"+strings.ToLower(l)) {
			i := strings.Index(s, "zz-secret-"+strings.ToLower(l))
			found = append(found, fmt.Sprintf("a name of %s (%q)", l, s[i:min(len(s), i+40)]))
		}
	}
	for _, run := range tmHexRun.FindAllString(s, -1) {
		for i := 0; i+24 <= len(run); i++ {
			if l, ok := w.hexOf[run[i:i+24]]; ok && r.forbidden(l) {
				found = append(found, fmt.Sprintf("an id of %s (%s)", l, run[i:i+24]))
			}
		}
	}
	for _, p := range tmPrefixRun.FindAllString(s, -1) {
		if l, ok := w.prefixOf[p]; ok && r.forbidden(l) {
			found = append(found, fmt.Sprintf("a key prefix of %s (%s)", l, p))
		}
	}
	return found
}

// tmStrings collects the strings of a request: path segments, query values, body strings, and
// the bare form of every prefixed id among them.
func tmStrings(path string, body any) []string {
	var out []string
	add := func(s string) {
		out = append(out, s)
		if b := bareID(s); b != s {
			out = append(out, b)
		}
	}
	p, q, _ := strings.Cut(path, "?")
	for _, seg := range strings.Split(p, "/") {
		add(seg)
	}
	if vals, err := url.ParseQuery(q); err == nil {
		for _, vs := range vals {
			for _, v := range vs {
				add(v)
			}
		}
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			add(x)
		case []any:
			for _, it := range x {
				walk(it)
			}
		case map[string]any:
			for _, it := range x {
				walk(it)
			}
		}
	}
	walk(body)
	return out
}

// tmAccountIDs collects every account_id string in a decoded body.
func tmAccountIDs(v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && k == "account_id" {
				*out = append(*out, s)
			}
			tmAccountIDs(val, out)
		}
	case []any:
		for _, it := range x {
			tmAccountIDs(it, out)
		}
	}
}

// ---------------------------------------------------------------------------------------------
// Expectations.

// tmPlace is where the object of the tenant owner sits: "plain" (a route that names nothing),
// "path", "path2" (only the second path parameter), "query" (?account_id=), "qref" (a query
// filter naming an entity), "body.account_id", "body.see", "body.entity_ids".
type tmPlace struct {
	kind, owner string
}

func (p tmPlace) String() string {
	if p.kind == "plain" {
		return "plain"
	}
	return p.kind + ":" + p.owner
}

type tmWant struct {
	status int
	code   string // for 401, 403, 404
	loc    []any  // for a 422: where the not_found problem is
}

func (w tmWant) String() string {
	if w.loc != nil {
		return fmt.Sprintf("%d not_found at %v", w.status, w.loc)
	}
	if w.code != "" {
		return fmt.Sprintf("%d %s", w.status, w.code)
	}
	return fmt.Sprint(w.status)
}

// tmCase is one cell of the matrix.
type tmCase struct {
	route         tmRoute
	pat           tmPattern
	m             tmMethod
	role          *tmRole
	place         tmPlace
	P, Q, Bd, E2  string // whose objects fill the path, ?account_id=, the body, the 2nd path parameter
	want          tmWant
	why           string // the rule that gave want
	surface       string
	allowedWrites bool
}

func (c *tmCase) name() string {
	return c.route.String() + "|" + c.role.name + "|" + c.place.String()
}

func (pt tmPattern) has(k tmParamKind) bool {
	for _, p := range pt.params {
		if p.kind == k {
			return true
		}
	}
	return false
}

// foreign says whether the account of letter l is not the caller's own.
func (c *tmCase) foreign(l string) bool { return c.role.kind != tmSuper && l != c.role.acct }

// tmRule is one line of the decision table: the first rule that holds gives the answer. The
// order is SPEC §5's order of checks: authentication (401), role and tenancy (403), then the
// operation (404 for what the caller may not see, 422 for a body naming what it may not use).
type tmRule struct {
	why  string
	when func(c *tmCase) bool
	want tmWant
}

var (
	tmForbidden = tmWant{403, "forbidden", nil}
	tmRules     = []tmRule{
		{"§3: a key of a deleted account, a revoked key, no key are 401",
			func(c *tmCase) bool { return c.role.kind == tmUnauth }, tmWant{401, "unauthorized", nil}},
		{"§3: ?account_id= naming another account is 403 on every /v1 route (and on LeadConduit's list, which filters by it)",
			func(c *tmCase) bool { return c.Q != "" && c.foreign(c.Q) && (c.surface == "native" || c.m.scopes) }, tmForbidden},
		{"§3, §7: only a superadmin creates accounts",
			func(c *tmCase) bool { return c.m.superOnly && c.role.kind != tmSuper }, tmForbidden},
		{"§3: /v1/api-keys is 403 for a reader",
			func(c *tmCase) bool { return c.m.keys && c.role.kind == tmReader }, tmForbidden},
		{"§15: the audit trail is 403 for a reader",
			func(c *tmCase) bool { return c.m.auditor && c.role.kind == tmReader }, tmForbidden},
		{"§15: another tenant's audit record, named by its id, is 404",
			func(c *tmCase) bool { return c.pat.has(tmPAudit) && c.foreign(c.P) }, tmWant{404, "not_found", nil}},
		{"§3: an account in the path that is not the caller's is 403",
			func(c *tmCase) bool { return c.pat.has(tmPAccount) && c.foreign(c.P) }, tmForbidden},
		{"§3: every write of a reader is 403",
			func(c *tmCase) bool { return c.m.write && c.role.kind == tmReader }, tmForbidden},
		{"§3: a suspended account's writes are 403 account_suspended",
			func(c *tmCase) bool { return c.m.write && c.role.kind == tmSuspended }, tmWant{403, "account_suspended", nil}},
		{"§3: a body account_id that chooses another account is 403",
			func(c *tmCase) bool { return c.place.kind == "body.account_id" && c.foreign(c.Bd) }, tmForbidden},
		{"§3: another tenant's entity, key or event, named by its id, is 404",
			func(c *tmCase) bool {
				return (c.pat.has(tmPEntity) || c.pat.has(tmPKey) || c.pat.has(tmPEvent)) && c.foreign(c.P)
			}, tmWant{404, "not_found", nil}},
		{"§9: no such relationship (the entity is another account's) is 404",
			func(c *tmCase) bool { return c.pat.has(tmPRelEntity) && c.E2 != c.P }, tmWant{404, "not_found", nil}},
		{"§2, §8: see naming an entity of another account is 422 not_found",
			func(c *tmCase) bool { return c.place.kind == "body.see" && c.Bd != c.P }, tmWant{422, "", []any{"body", "see"}}},
		{"§2, §9: entity_ids naming an entity of another account is 422 not_found",
			func(c *tmCase) bool { return c.place.kind == "body.entity_ids" && c.Bd != c.P }, tmWant{422, "", []any{"body", "entity_ids", 0}}},
	}
)

// tmExpect derives the answer SPEC gives and says why.
func tmExpect(c *tmCase) (tmWant, string) {
	for _, r := range tmRules {
		if r.when(c) {
			return r.want, r.why
		}
	}
	return tmWant{status: c.m.ok}, "allowed"
}

// tmPlaces lists where the foreign object can sit on a route for a role.
func tmPlaces(pt tmPattern, m tmMethod, r *tmRole) []tmPlace {
	var out []tmPlace
	owners := []string{"A", "B"}
	if len(pt.params) == 0 {
		out = append(out, tmPlace{kind: "plain"})
	} else {
		for _, o := range owners {
			out = append(out, tmPlace{"path", o})
		}
		if r.home != "A" && r.home != "B" {
			out = append(out, tmPlace{"path", r.home})
		}
	}
	if pt.has(tmPRelEntity) {
		for _, o := range owners {
			out = append(out, tmPlace{"path2", o})
		}
	}
	for _, o := range owners {
		out = append(out, tmPlace{"query", o})
		if m.qref != "" {
			out = append(out, tmPlace{"qref", o})
		}
		if m.bodyAcct {
			out = append(out, tmPlace{"body.account_id", o})
		}
		if m.refs != "" {
			out = append(out, tmPlace{"body." + m.refs, o})
		}
	}
	return out
}

// ---------------------------------------------------------------------------------------------
// Bodies.

// tmFill is what a body builder needs to know about its case.
type tmFill struct {
	w       *tmWorld
	bare    bool // LeadConduit: roster's ids in bare hex
	super   bool
	place   tmPlace
	P, Bd   string
	n       int
	bodyEnt string // the entity a batch names
}

func (x *tmFill) id(prefixed string) string {
	if x.bare {
		return bareID(prefixed)
	}
	return prefixed
}

// owner is the account a created object lands in.
func (x *tmFill) owner() string {
	if x.place.kind == "body.account_id" {
		return x.Bd
	}
	return x.P
}

func tmAccountCreateBody(x *tmFill) any {
	return map[string]any{"name": fmt.Sprintf("zz-secret-N account %d", x.n)}
}

func tmAccountPatchBody(x *tmFill) any {
	return map[string]any{"name": fmt.Sprintf("zz-secret-%s Holdings r%d", x.P, x.n)}
}

func tmEntityCreateBody(x *tmFill) any {
	b := map[string]any{"name": fmt.Sprintf("zz-secret-%s created %d", x.owner(), x.n), "module_ids": []any{"m1"}, "source": "form", "recipient": nil}
	if x.super || x.place.kind == "body.account_id" {
		b["account_id"] = x.id(x.w.ten[x.owner()].id)
	}
	if x.place.kind == "body.see" {
		b["deprecated"], b["see"] = true, x.id(x.w.ten[x.Bd].x2)
	}
	return b
}

func tmEntityPutBody(x *tmFill) any {
	b := map[string]any{"name": fmt.Sprintf("zz-secret-%s put %d", x.P, x.n), "module_ids": []any{"m2"}, "source": "other", "recipient": "crm",
		"description": fmt.Sprintf("zz-secret-%s put description %d", x.P, x.n)}
	if x.place.kind == "body.see" {
		b["deprecated"], b["see"] = true, x.id(x.w.ten[x.Bd].x2)
	}
	return b
}

func tmEntityPatchBody(x *tmFill) any {
	b := map[string]any{"name": fmt.Sprintf("zz-secret-%s patch %d", x.P, x.n)}
	if x.place.kind == "body.see" {
		b["deprecated"], b["see"] = true, x.id(x.w.ten[x.Bd].x2)
	}
	return b
}

func tmBatchBody(x *tmFill) any {
	// x1 holds account_holder and authorized_signer: a refused batch that slipped through
	// would add a pair the snapshot shows.
	return map[string]any{"entity_ids": []any{x.bodyEnt}, "relationship_type": "authorized_user"}
}

func tmKeyCreateBody(x *tmFill) any {
	return map[string]any{"account_id": x.w.ten[x.owner()].id, "name": fmt.Sprintf("zz-secret-%s key %d", x.owner(), x.n)}
}

func tmKeyPatchBody(x *tmFill) any {
	return map[string]any{"name": fmt.Sprintf("zz-secret-%s key renamed %d", x.P, x.n)}
}

// ---------------------------------------------------------------------------------------------
// The matrix.

func TestTenantMatrix(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		t.Parallel() // the engines side by side: their servers are already up
		began := time.Now()
		w := tmSeed(t, e)
		routes := tmRouteTable(t, e)
		tmCheckCoverage(t, routes)
		if t.Failed() {
			return
		}
		t.Run("public routes", func(t *testing.T) { w.publicRoutes(t, routes) })
		t.Run("leak detector", func(t *testing.T) { w.canary(t) })
		var n int
		t.Run("matrix", func(t *testing.T) { n = w.matrix(t, routes) })
		var nm int
		t.Run("mass assignment", func(t *testing.T) { nm = w.massAssignment(t, routes) })
		var nc int
		t.Run("cursor binding", func(t *testing.T) { nc = w.cursorBinding(t, routes) })
		t.Logf("%d matrix cases, %d mass assignment cases, %d cursor cases in %v (%d snapshots: %v)", n, nm, nc,
			time.Since(began).Round(time.Millisecond), w.snaps, w.snapTime.Round(time.Millisecond))
	})
}

// tmCheckCoverage fails for every route the matrix cannot build, every route whose access or
// surface in the route table is not what the matrix expects, and every description that no
// longer matches a route.
func tmCheckCoverage(t *testing.T, routes []tmRoute) {
	t.Helper()
	seen := map[string]bool{}
	var unknown []string
	for _, rt := range routes {
		seen[rt.String()] = true
		if rt.public {
			if !tmPublic[rt.String()] {
				unknown = append(unknown, rt.String()+" (public: add it to tmPublic if it truly needs no key)")
			}
			continue
		}
		pt, ok := tmSpecs[rt.pattern]
		if !ok {
			unknown = append(unknown, rt.String()+" (no pattern in tmSpecs)")
			continue
		}
		m, ok := pt.methods[rt.method]
		if !ok {
			unknown = append(unknown, rt.String()+" (no method in tmSpecs)")
			continue
		}
		if (rt.method == "POST" || rt.method == "PUT" || rt.method == "PATCH") && m.body == nil {
			unknown = append(unknown, rt.String()+" (no body builder)")
		}
		if _, ok := tmMassBuilders[rt.String()]; m.body != nil && !ok {
			unknown = append(unknown, rt.String()+" (no mass assignment cases in tmMassBuilders)")
		}
		for _, p := range pt.params {
			if !strings.Contains(rt.pattern, "{"+p.name+"}") {
				unknown = append(unknown, rt.String()+" (tmSpecs names a parameter "+p.name+" it does not have)")
			}
		}
		if n := strings.Count(rt.pattern, "{"); n != len(pt.params) {
			unknown = append(unknown, rt.String()+" (tmSpecs does not fill every path parameter)")
		}
		if want := tmAccess(pt, m); rt.access != want {
			unknown = append(unknown, fmt.Sprintf("%s (the route table says access %q, the matrix expects %q)", rt, rt.access, want))
		}
		if want := surfaceOf(rt.pattern); rt.surface != want {
			unknown = append(unknown, fmt.Sprintf("%s (the route table says surface %q, want %q)", rt, rt.surface, want))
		}
	}
	if len(unknown) > 0 {
		t.Errorf("routes the tenant matrix cannot build a case for, or sees otherwise than the route table:\n  %s", strings.Join(unknown, "\n  "))
	}
	var stale []string
	for p, pt := range tmSpecs {
		for m := range pt.methods {
			if !seen[m+" "+p] {
				stale = append(stale, m+" "+p)
			}
		}
	}
	for k := range tmMassBuilders {
		if !seen[k] {
			stale = append(stale, k+" (tmMassBuilders)")
		}
	}
	if len(stale) > 0 {
		sort.Strings(stale)
		t.Errorf("tmSpecs describes routes the server does not have:\n  %s", strings.Join(stale, "\n  "))
	}
}

// tmAccess is who may call a route by the matrix's description of it, which the route table's
// Access must say too: the superadmin alone; the key family's managers (admins of the account,
// the superadmin); the audit trail's readers (the same); a reader or a writer of the account in the path; any writer; any key.
func tmAccess(pt tmPattern, m tmMethod) roster.Access {
	pathAccount := slices.ContainsFunc(pt.params, func(p tmParam) bool { return p.kind == tmPAccount })
	switch {
	case m.superOnly:
		return roster.Superadmin
	case m.keys && m.write:
		return roster.KeyWriter
	case m.keys:
		return roster.KeyManager
	case m.auditor:
		return roster.Auditor
	case pathAccount && m.write:
		return roster.AccountWriter
	case pathAccount:
		return roster.AccountReader
	case m.write:
		return roster.Writer
	}
	return roster.AnyKey
}

// canary makes sure the leak detector is not blind: B's entity, judged as A's admin, is a leak
// (of a name and of ids), and judged as B's admin it is not.
func (w *tmWorld) canary(t *testing.T) {
	r := w.do(t, w.e.super, "GET", "/entities/"+bareID(w.ten["B"].x1), nil)
	if r.Status != 200 {
		t.Fatalf("GET B's entity as the superadmin: %s", r)
	}
	adminA, adminB := w.role("admin of A"), w.role("admin of B")
	got := strings.Join(w.leaks(adminA, nil, r.Body), " ")
	if !strings.Contains(got, "a name of B") || !strings.Contains(got, "an id of B") {
		t.Fatalf("the leak detector does not see B's entity in %s: %q", r, got)
	}
	if l := w.leaks(adminB, nil, r.Body); len(l) > 0 {
		t.Fatalf("the leak detector flags B's own entity for B: %v", l)
	}
	k := w.do(t, w.e.super, "GET", "/v1/api-keys/"+w.ten["B"].victim, nil)
	if got := strings.Join(w.leaks(adminA, nil, k.Body), " "); !strings.Contains(got, "a key prefix of B") {
		t.Fatalf("the leak detector does not see B's key prefix in %s: %q", k, got)
	}
}

// publicRoutes: what needs no key shows no tenant's data.
func (w *tmWorld) publicRoutes(t *testing.T, routes []tmRoute) {
	none := &tmRole{name: "no key", kind: tmUnauth}
	for _, rt := range routes {
		if !rt.public || strings.Contains(rt.pattern, "{") {
			continue
		}
		r := w.do(t, "", rt.method, rt.pattern, nil)
		if r.Status != 200 {
			t.Errorf("%s without a key: %d", rt, r.Status)
		}
		if l := w.leaks(none, nil, r.Body); len(l) > 0 {
			t.Errorf("%s shows tenant data: %v", rt, l)
		}
	}
}

// matrix runs every case; one server, one sequence, a snapshot after every request.
func (w *tmWorld) matrix(t *testing.T, routes []tmRoute) int {
	n := 0
	for _, rt := range routes {
		if rt.public {
			continue
		}
		pt := tmSpecs[rt.pattern]
		m := pt.methods[rt.method]
		for _, role := range w.roles {
			for _, pl := range tmPlaces(pt, m, role) {
				c := &tmCase{route: rt, pat: pt, m: m, role: role, place: pl, surface: rt.surface}
				c.P, c.Bd, c.E2 = role.home, role.home, role.home
				switch pl.kind {
				case "path":
					c.P, c.Bd, c.E2 = pl.owner, pl.owner, pl.owner
				case "path2":
					c.E2 = pl.owner
				case "query":
					c.Q = pl.owner
				case "body.account_id", "body.see", "body.entity_ids":
					c.Bd = pl.owner
				}
				c.want, c.why = tmExpect(c)
				c.allowedWrites = m.write && c.want.status < 300
				n++
				t.Run(c.name(), func(t *testing.T) { w.run(t, c) })
				w.collect(t, 12)
			}
		}
	}
	return n
}

func (w *tmWorld) run(t *testing.T, c *tmCase) {
	x := &tmFill{w: w, bare: c.surface == "leadconduit", super: c.role.kind == tmSuper, place: c.place, P: c.P, Bd: c.Bd, n: w.next()}
	touched := map[string]bool{}
	fresh := false
	path := c.route.pattern
	for _, prm := range c.pat.params {
		var v string
		switch prm.kind {
		case tmPAccount:
			v = w.ten[c.P].id
			if c.m.renames && c.allowedWrites {
				touched[bareID(v)] = true
			}
		case tmPEntity:
			v = w.ten[c.P].x1
			if c.allowedWrites {
				v, fresh = w.freshEntity(t, c.P), true
				touched[bareID(v)] = true
			}
		case tmPKey:
			v = w.ten[c.P].victim
			if c.allowedWrites {
				v, _ = w.freshKey(t, c.P)
				fresh, touched[bareID(v)] = true, true
			}
		case tmPAudit:
			v = w.ten[c.P].audit
		case tmPRelEntity:
			v = w.ten[c.E2].x1
			if c.allowedWrites {
				v, fresh = w.freshRel(t, c.P), true
				touched[bareID(v)] = true
			}
		case tmPEvent:
			v = w.ten[c.P].event
		}
		path = strings.Replace(path, "{"+prm.name+"}", x.id(v), 1)
	}
	if c.m.refs == "entity_ids" {
		x.bodyEnt = w.ten[c.Bd].x1
		if c.allowedWrites {
			x.bodyEnt, fresh = w.freshEntity(t, c.Bd), true
			touched[bareID(x.bodyEnt)] = true
		}
	}
	var query []string
	if c.m.query != "" {
		query = append(query, c.m.query)
	}
	if c.Q != "" {
		query = append(query, "account_id="+x.id(w.ten[c.Q].id))
	}
	if c.place.kind == "qref" {
		query = append(query, c.m.qref+"="+x.id(w.ten[c.place.owner].x1))
	}
	if len(query) > 0 {
		path += "?" + strings.Join(query, "&")
	}
	var body any
	if c.m.body != nil {
		body = c.m.body(x)
	}
	var headers []string
	if c.m.idem {
		headers = append(headers, "Idempotency-Key", fmt.Sprintf("tm-%d", x.n))
	}
	if fresh {
		w.base = w.snapshot(t)
	}
	before := w.base
	r := w.do(t, c.role.key, c.route.method, path, body, headers...)
	after := w.snapshot(t)
	w.base = after

	request := c.route.method + " " + path
	if body != nil {
		b, _ := json.Marshal(body)
		request += " " + string(b)
	}
	tmCheckAnswer(t, c.surface, r, c.want, request+"\n  rule: "+c.why)

	if c.route.method == "GET" && r.Status == 200 && c.m.list == nil && tmIsList(r) {
		t.Errorf("%s answers a list, but tmSpecs gives it no tmList: the cursor binding test cannot cover it", c.route)
	}
	who := c.role
	if c.m.history {
		h := *c.role
		h.history, who = true, &h
	}
	seen := tmStrings(path, body)
	if c.m.auditor {
		// A tenant's audit trail names the superadmin key that acted on the tenant, by its id
		// and role (who did it: SPEC §15, docs/decisions.md); nothing else of it.
		seen = append(seen, w.superP.KeyID)
	}
	if l := w.leaks(who, seen, r.Body); len(l) > 0 {
		t.Errorf("defect: %s as %s: the response shows data it may not see: %v\n  request: %s\n  response: %s", c.route, c.role.name, l, request, r)
	}
	if c.role.kind != tmSuper && r.Status < 300 {
		var accts []string
		tmAccountIDs(r.JSON(), &accts)
		for _, a := range accts {
			if strings.ToLower(bareID(a)) != bareID(w.ten[c.role.acct].id) {
				t.Errorf("defect: %s as %s: the response carries account_id %s\n  request: %s", c.route, c.role.name, a, request)
			}
		}
	}

	diff := tmDiff(before, after)
	if !c.allowedWrites || r.Status >= 300 {
		if len(diff) > 0 {
			t.Errorf("defect: %s as %s answered %d and changed the database:\n  request: %s\n  %s", c.route, c.role.name, r.Status, request, strings.Join(diff, "\n  "))
		}
		return
	}
	// An allowed write changes its own objects, and nothing else.
	if id, ok := r.Obj()["id"].(string); ok {
		touched[strings.ToLower(bareID(id))] = true
		owner, kind := x.owner(), "entity"
		switch {
		case c.route.pattern == "/v1/accounts":
			owner, kind = "N", "account"
		case strings.HasPrefix(c.route.pattern, "/v1/api-keys"):
			kind = "key"
		}
		w.own(owner, id)
		if c.route.method == "POST" {
			w.trash = append(w.trash, kind+" "+strings.ToLower(bareID(id)))
		}
	}
	if len(diff) == 0 {
		t.Errorf("%s as %s answered %d and changed nothing\n  request: %s", c.route, c.role.name, r.Status, request)
	}
	if out := tmDiffOutside(diff, touched); len(out) > 0 {
		t.Errorf("defect: %s as %s changed objects it did not name:\n  request: %s\n  %s", c.route, c.role.name, request, strings.Join(out, "\n  "))
	}
}

// tmIsList says whether a body is a list in the shape of one of the surfaces (SPEC §6, §8, §9).
func tmIsList(r resp) bool {
	switch v := r.JSON().(type) {
	case []any:
		return true
	case map[string]any:
		_, native := v["pagination"]
		_, leadBank := v["has_more"]
		return native || leadBank
	}
	return false
}

// tmCheckAnswer checks the status and, for errors, the code in the surface's shape.
func tmCheckAnswer(t *testing.T, surface string, r resp, want tmWant, request string) {
	t.Helper()
	if r.Status != want.status {
		t.Errorf("defect: want %s, got %s\n  request: %s", want, r, request)
		return
	}
	body := r.Obj()
	switch {
	case want.loc != nil && surface == "leadbank":
		param := fmt.Sprintf("%v", want.loc[1])
		if len(want.loc) > 2 {
			param += fmt.Sprintf("[%v]", want.loc[2])
		}
		found := false
		ps, _ := body["invalid_parameters"].([]any)
		for _, p := range ps {
			if pm, _ := p.(map[string]any); pm["parameter"] == param && pm["reason"] == "not_found" {
				found = true
			}
		}
		if body["code"] != "parameters_invalid" || !found {
			t.Errorf("want parameters_invalid with %s not_found, got %s\n  request: %s", param, r, request)
		}
	case want.loc != nil:
		wantLoc, _ := json.Marshal(want.loc)
		found := false
		ds, _ := body["detail"].([]any)
		for _, d := range ds {
			dm, _ := d.(map[string]any)
			loc, _ := json.Marshal(dm["loc"])
			if string(loc) == string(wantLoc) && dm["type"] == "not_found" {
				found = true
			}
		}
		if !found {
			t.Errorf("want not_found at %s, got %s\n  request: %s", wantLoc, r, request)
		}
	case want.code != "":
		if body["code"] != want.code {
			t.Errorf("defect: want code %s, got %s\n  request: %s", want.code, r, request)
		}
		if surface == "leadconduit" {
			if s, _ := body["error"].(string); s == "" {
				t.Errorf("a LeadConduit error without error: %s", r)
			}
		}
		if want.status == 401 && r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("401 without WWW-Authenticate\n  request: %s", request)
		}
	}
}

// ---------------------------------------------------------------------------------------------
// Mass assignment: read-only and unknown fields never change stored values (SPEC §5).

type tmMass struct {
	name    string
	key     string
	method  string
	path    string
	body    map[string]any
	hdr     []string
	want    tmWant
	problem string             // for a 422: "<loc json> <type>" that must be among the problems
	or      int                // where SPEC leaves it open, this success status is right too
	touched []string           // prefixed or bare ids the request may change; none: nothing may change
	check   func(r resp) error // what a success must say
}

const tmOld = "2001-02-03T04:05:06Z"

// tmEntityReadOnly are an entity's read-only fields with values no stored entity has.
func tmEntityReadOnly(w *tmWorld, bare bool) map[string]any {
	id := func(s string) string {
		if bare {
			return bareID(s)
		}
		return s
	}
	return map[string]any{
		"id": id(w.ten["B"].x1), "created_at": tmOld, "updated_at": tmOld, "standard": true, "account": true,
		"pending": true, "expired": true, "connected": true, "connected_account_id": "ffffffffffffffffffffffff",
		"invitation_expires_at": tmOld,
	}
}

// tmFields checks that obj has these values (a nil want: JSON null).
func tmFields(obj map[string]any, want map[string]any) error {
	for k, v := range want {
		got, ok := obj[k]
		if !ok {
			return fmt.Errorf("no %s in %v", k, obj)
		}
		gs, ws := fmt.Sprint(got), fmt.Sprint(v)
		if s, ok := got.(string); ok {
			gs = strings.ToLower(s)
		}
		if s, ok := v.(string); ok {
			ws = strings.ToLower(s)
		}
		if got == nil || v == nil {
			if got != v {
				return fmt.Errorf("%s: want %v, got %v", k, v, got)
			}
			continue
		}
		if gs != ws {
			return fmt.Errorf("%s: want %v, got %v", k, v, got)
		}
	}
	return nil
}

func tmNot(obj map[string]any, k string, v any) error {
	if fmt.Sprint(obj[k]) == fmt.Sprint(v) {
		return fmt.Errorf("%s took the value sent, %v", k, v)
	}
	return nil
}

func tmFirst(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// tmEntityMass are the cases of an entity write on a surface.
func tmEntityMass(method string, conduit bool) func(w *tmWorld, t *testing.T) []tmMass {
	return func(w *tmWorld, t *testing.T) []tmMass {
		a, b := w.ten["A"], w.ten["B"]
		id := func(s string) string {
			if conduit {
				return bareID(s)
			}
			return s
		}
		list := "/v1/entities"
		if conduit {
			list = "/entities"
		}
		ro := tmEntityReadOnly(w, conduit)
		nameOf := func() string { return fmt.Sprintf("zz-secret-A mass %d", w.next()) }
		defaults := map[string]any{"standard": false, "account": false, "pending": false, "expired": false,
			"connected": nil, "connected_account_id": nil, "invitation_expires_at": nil}
		if method == "POST" {
			body := with(ro, "name", nameOf(), "module_ids", []any{}, "source", nil, "recipient", nil, "account_id", id(a.id))
			return []tmMass{
				{name: "read-only fields ignored", key: w.role("admin of A").key, method: "POST", path: list, body: body, want: tmWant{status: 201},
					check: func(r resp) error {
						o := r.Obj()
						return tmFirst(tmFields(o, with(defaults, "account_id", id(a.id))), tmNot(o, "id", id(b.x1)), tmNot(o, "created_at", tmOld), tmNot(o, "updated_at", tmOld))
					}},
				{name: "unknown field", key: w.role("admin of A").key, method: "POST", path: list, body: with(body, "zz_unknown", 1),
					want: tmWant{status: 422}, problem: `["body","zz_unknown"] extra_forbidden`},
			}
		}
		f := w.freshEntity(t, "A")
		stored := w.must(t, w.do(t, w.e.super, "GET", "/v1/entities/"+f, nil), 200)
		path := list + "/" + id(f)
		ro = with(ro, "account_id", id(b.id))
		body := with(ro, "name", nameOf(), "module_ids", []any{"m3"}, "source", "form", "recipient", "esp")
		touched := []string{f}
		if method == "PATCH" {
			body, touched = ro, nil // only read-only fields: nothing changes
		}
		return []tmMass{
			{name: "read-only fields ignored", key: w.role("admin of A").key, method: method, path: path, body: body, want: tmWant{status: 200}, touched: touched,
				check: func(r resp) error {
					return tmFields(r.Obj(), with(defaults, "id", id(f), "account_id", id(a.id), "created_at", stored["created_at"]))
				}},
			{name: "unknown field", key: w.role("admin of A").key, method: method, path: path, body: with(body, "zz_unknown", 1),
				want: tmWant{status: 422}, problem: `["body","zz_unknown"] extra_forbidden`},
		}
	}
}

// tmBatchMass: a batch body with fields that are not the batch request's writes nothing but
// what the path names. account_id and created_at are not fields of the request; they are fields
// of what batches answer and lists show, so SPEC §5 can be read either way: 422 extra_forbidden,
// or accepted and ignored (the pair lands on the path's account, created now).
func tmBatchMass(surface string) func(w *tmWorld, t *testing.T) []tmMass {
	return func(w *tmWorld, t *testing.T) []tmMass {
		a, b := w.ten["A"], w.ten["B"]
		admin := w.role("admin of A").key
		path := "/" + surface + "/accounts/" + a.id + "/entity_relationships/batch"
		idem := func() []string { return []string{"Idempotency-Key", fmt.Sprintf("tm-mass-%d", w.next())} }
		var out []tmMass
		for _, extra := range []struct {
			name  string
			field string
			value any
		}{{"account_id of another tenant", "account_id", b.id}, {"created_at", "created_at", tmOld}} {
			f := w.freshEntity(t, "A")
			out = append(out, tmMass{name: extra.name, key: admin, method: "POST", path: path, hdr: idem(),
				body: map[string]any{"entity_ids": []any{f}, "relationship_type": "account_holder", extra.field: extra.value},
				want: tmWant{status: 422}, problem: `["body","` + extra.field + `"] extra_forbidden`, or: 200, touched: []string{f},
				check: func(r resp) error {
					return tmFields(r.Obj(), map[string]any{"account_id": a.id, "relationship_type": "account_holder"})
				}})
		}
		f := w.freshEntity(t, "A")
		return append(out, tmMass{name: "unknown field", key: admin, method: "POST", path: path, hdr: idem(),
			body: map[string]any{"entity_ids": []any{f}, "relationship_type": "account_holder", "zz_unknown": 1},
			want: tmWant{status: 422}, problem: `["body","zz_unknown"] extra_forbidden`})
	}
}

// tmMassBuilders: for every route with a body, the mass assignment cases.
var tmMassBuilders = map[string]func(w *tmWorld, t *testing.T) []tmMass{
	"POST /v1/accounts": func(w *tmWorld, t *testing.T) []tmMass {
		body := map[string]any{"name": fmt.Sprintf("zz-secret-N mass %d", w.next()), "id": w.ten["B"].id, "created_at": tmOld, "updated_at": tmOld}
		return []tmMass{
			{name: "read-only fields ignored", key: w.e.super, method: "POST", path: "/v1/accounts", body: body, want: tmWant{status: 201},
				check: func(r resp) error {
					o := r.Obj()
					return tmFirst(tmNot(o, "id", w.ten["B"].id), tmNot(o, "created_at", tmOld), tmNot(o, "updated_at", tmOld), tmFields(o, map[string]any{"status": "active"}))
				}},
			{name: "unknown field", key: w.e.super, method: "POST", path: "/v1/accounts", body: with(body, "zz_unknown", 1),
				want: tmWant{status: 422}, problem: `["body","zz_unknown"] extra_forbidden`},
		}
	},
	"PATCH /v1/accounts/{account_id}": func(w *tmWorld, t *testing.T) []tmMass {
		a, b := w.ten["A"], w.ten["B"]
		admin := w.role("admin of A").key
		path := "/v1/accounts/" + a.id
		stored := w.must(t, w.do(t, w.e.super, "GET", path, nil), 200)
		same := func(r resp) error {
			return tmFields(r.Obj(), map[string]any{"id": a.id, "created_at": stored["created_at"], "status": "active", "slug": stored["slug"]})
		}
		rename := fmt.Sprintf("zz-secret-A Holdings m%d", w.next())
		return []tmMass{
			{name: "read-only fields ignored", key: admin, method: "PATCH", path: path,
				body: map[string]any{"id": b.id, "created_at": tmOld, "updated_at": tmOld}, want: tmWant{status: 200}, check: same},
			{name: "same status", key: admin, method: "PATCH", path: path, body: map[string]any{"status": "active"}, want: tmWant{status: 200}, check: same},
			{name: "deleted false", key: admin, method: "PATCH", path: path, body: map[string]any{"deleted": false}, want: tmWant{status: 200}, check: same},
			{name: "same status and deleted false with a new name", key: admin, method: "PATCH", path: path,
				body: map[string]any{"status": "active", "deleted": false, "name": rename}, want: tmWant{status: 200}, touched: []string{a.id},
				check: func(r resp) error {
					return tmFields(r.Obj(), map[string]any{"id": a.id, "name": rename, "status": "active"})
				}},
			{name: "another status", key: admin, method: "PATCH", path: path, body: map[string]any{"status": "suspended", "name": "zz-secret-A never"},
				want: tmWant{403, "forbidden", nil}},
			{name: "deleted true", key: admin, method: "PATCH", path: path, body: map[string]any{"deleted": true}, want: tmWant{403, "forbidden", nil}},
			{name: "account_id of another tenant", key: admin, method: "PATCH", path: path, body: map[string]any{"account_id": b.id},
				want: tmWant{status: 422}, problem: `["body","account_id"] extra_forbidden`},
			{name: "unknown field", key: admin, method: "PATCH", path: path, body: map[string]any{"zz_unknown": 1},
				want: tmWant{status: 422}, problem: `["body","zz_unknown"] extra_forbidden`},
			{name: "suspended account, same status", key: w.role("admin of suspended S").key, method: "PATCH", path: "/v1/accounts/" + w.ten["S"].id,
				body: map[string]any{"status": "suspended"}, want: tmWant{403, "account_suspended", nil}},
		}
	},
	"POST /v1/entities":       tmEntityMass("POST", false),
	"PUT /v1/entities/{id}":   tmEntityMass("PUT", false),
	"PATCH /v1/entities/{id}": tmEntityMass("PATCH", false),
	"POST /entities":          tmEntityMass("POST", true),
	"PUT /entities/{id}":      tmEntityMass("PUT", true),
	"PATCH /entities/{id}":    tmEntityMass("PATCH", true),
	"POST /v1/accounts/{account_id}/entity_relationships/batch": tmBatchMass("v1"),
	"POST /v0/accounts/{id}/entity_relationships/batch":         tmBatchMass("v0"),
	"POST /v1/api-keys": func(w *tmWorld, t *testing.T) []tmMass {
		a, b := w.ten["A"], w.ten["B"]
		admin := w.role("admin of A").key
		name := func() string { return fmt.Sprintf("zz-secret-A mass key %d", w.next()) }
		isAdmin := func(r resp) error {
			return tmFields(r.Obj(), map[string]any{"account_id": a.id, "role": "admin", "status": "active"})
		}
		return []tmMass{
			{name: "role superadmin by an admin", key: admin, method: "POST", path: "/v1/api-keys",
				body: map[string]any{"account_id": a.id, "name": name(), "role": "superadmin"}, want: tmWant{403, "forbidden", nil}},
			{name: "superadmin key without account by an admin", key: admin, method: "POST", path: "/v1/api-keys",
				body: map[string]any{"account_id": nil, "name": name(), "role": "superadmin"}, want: tmWant{403, "forbidden", nil}},
			{name: "user_id ignored", key: admin, method: "POST", path: "/v1/api-keys",
				body: map[string]any{"account_id": a.id, "name": name(), "user_id": "zz-user"}, want: tmWant{status: 201}, check: isAdmin},
			{name: "read-only fields ignored (SPEC §5)", key: admin, method: "POST", path: "/v1/api-keys",
				body: map[string]any{"account_id": a.id, "name": name(), "id": b.victim, "prefix": "rk_zzzzzzzzz",
					"last_used_at": tmOld, "created_at": tmOld, "updated_at": tmOld}, want: tmWant{status: 201},
				check: func(r resp) error {
					o := r.Obj()
					return tmFirst(isAdmin(r), tmNot(o, "id", b.victim), tmNot(o, "prefix", "rk_zzzzzzzzz"), tmNot(o, "created_at", tmOld))
				}},
			{name: "unknown field", key: admin, method: "POST", path: "/v1/api-keys",
				body: map[string]any{"account_id": a.id, "name": name(), "zz_unknown": 1}, want: tmWant{status: 422}, problem: `["body","zz_unknown"] extra_forbidden`},
		}
	},
	"PATCH /v1/api-keys/{key_id}": func(w *tmWorld, t *testing.T) []tmMass {
		a, b := w.ten["A"], w.ten["B"]
		admin := w.role("admin of A").key
		k, secret := w.freshKey(t, "A")
		path := "/v1/api-keys/" + k
		stored := w.must(t, w.do(t, w.e.super, "GET", path, nil), 200)
		same := func(r resp) error {
			return tmFields(r.Obj(), map[string]any{"id": k, "account_id": a.id, "role": "admin", "status": "active",
				"prefix": stored["prefix"], "expires_at": nil, "created_at": stored["created_at"]})
		}
		return []tmMass{
			{name: "read-only fields ignored", key: admin, method: "PATCH", path: path,
				body: map[string]any{"id": b.victim, "account_id": b.id, "role": "superadmin", "prefix": "rk_zzzzzzzzz", "last_used_at": tmOld,
					"expires_at": tmOld, "created_at": tmOld, "updated_at": tmOld, "user_id": "zz-user"}, want: tmWant{status: 200},
				check: func(r resp) error {
					if err := same(r); err != nil {
						return err
					}
					// ... and the key is still an admin of A, not a superadmin.
					if rr := w.do(t, secret, "GET", "/v1/api-keys/"+roster.KindKey.Prefixed(w.superP.KeyID), nil); rr.Status != 404 {
						return fmt.Errorf("the key sees the superadmin key: %s", rr)
					}
					if rr := w.do(t, secret, "GET", "/v1/accounts/"+b.id, nil); rr.Status != 403 {
						return fmt.Errorf("the key reads account B: %s", rr)
					}
					return nil
				}},
			{name: "same status", key: admin, method: "PATCH", path: path, body: map[string]any{"status": "active"}, want: tmWant{status: 200}, check: same},
			{name: "unknown field", key: admin, method: "PATCH", path: path, body: map[string]any{"zz_unknown": 1},
				want: tmWant{status: 422}, problem: `["body","zz_unknown"] extra_forbidden`},
		}
	},
}

func (w *tmWorld) massAssignment(t *testing.T, routes []tmRoute) int {
	n := 0
	for _, rt := range routes {
		build, ok := tmMassBuilders[rt.String()]
		if rt.public || !ok {
			continue
		}
		t.Run(rt.String(), func(t *testing.T) {
			cases := build(w, t)
			b := w.ten["B"]
			sentinels := []string{tmOld[:10], "rk_zzzzzzzzz", "ffffffffffffffffffffffff", `"Role":"superadmin"`,
				bareID(b.id), bareID(b.x1), bareID(b.victim)}
			w.base = w.snapshot(t)
			for _, mc := range cases {
				n++
				t.Run(mc.name, func(t *testing.T) {
					before := w.base
					r := w.do(t, mc.key, mc.method, mc.path, mc.body, mc.hdr...)
					after := w.snapshot(t)
					w.base = after
					sent, _ := json.Marshal(mc.body)
					request := mc.method + " " + mc.path + " " + string(sent)
					surface := surfaceOf(mc.path)
					switch {
					case mc.or != 0 && r.Status == mc.or:
					case mc.problem != "":
						tmCheckProblem(t, surface, r, mc.problem, request)
					default:
						tmCheckAnswer(t, surface, r, mc.want, request)
					}
					if r.Status < 300 && (r.Status == mc.want.status || r.Status == mc.or) && mc.check != nil {
						if err := mc.check(r); err != nil {
							t.Errorf("defect: %s: %v\n  request: %s\n  response: %s", mc.name, err, request, r)
						}
					}
					touched := map[string]bool{}
					for _, id := range mc.touched {
						touched[strings.ToLower(bareID(id))] = true
					}
					if id, ok := r.Obj()["id"].(string); ok && mc.method == "POST" && r.Status < 300 {
						touched[strings.ToLower(bareID(id))] = true
						owner := "A"
						if mc.path == "/v1/accounts" {
							owner = "N"
						}
						w.own(owner, id)
					}
					if out := tmDiffOutside(tmDiff(before, after), touched); len(out) > 0 {
						t.Errorf("defect: %s answered %d and changed stored values it may not:\n  request: %s\n  %s", mc.name, r.Status, request, strings.Join(out, "\n  "))
					}
					// What was written holds none of the read-only values sent.
					for k, v := range after {
						if before[k] == v {
							continue
						}
						for _, sent := range sentinels {
							if strings.Contains(v, sent) {
								t.Errorf("defect: %s stored a read-only value it was sent (%s):\n  request: %s\n  %s: %s", mc.name, sent, request, k, v)
							}
						}
					}
				})
			}
		})
	}
	return n
}

// tmCheckProblem checks a 422 carries the problem "<loc json> <type>" in the surface's shape.
func tmCheckProblem(t *testing.T, surface string, r resp, problem, request string) {
	t.Helper()
	if r.Status != 422 {
		t.Errorf("defect: want 422 %s, got %s\n  request: %s", problem, r, request)
		return
	}
	locJSON, typ, _ := strings.Cut(problem, " ")
	var loc []any
	_ = json.Unmarshal([]byte(locJSON), &loc)
	body := r.Obj()
	if surface == "leadbank" {
		param := fmt.Sprint(loc[len(loc)-1])
		ps, _ := body["invalid_parameters"].([]any)
		for _, p := range ps {
			if pm, _ := p.(map[string]any); pm["parameter"] == param && pm["reason"] == typ {
				return
			}
		}
		t.Errorf("want %s %s, got %s\n  request: %s", param, typ, r, request)
		return
	}
	ds, _ := body["detail"].([]any)
	for _, d := range ds {
		dm, _ := d.(map[string]any)
		got, _ := json.Marshal(dm["loc"])
		if string(got) == locJSON && dm["type"] == typ {
			return
		}
	}
	t.Errorf("want %s, got %s\n  request: %s", problem, r, request)
}

// ---------------------------------------------------------------------------------------------
// Cursor binding: a cursor is bound to the caller it was issued to (SPEC §6).

func (w *tmWorld) cursorBinding(t *testing.T, routes []tmRoute) int {
	n := 0
	fill := func(pattern string, pt tmPattern, letter string) string {
		path := pattern
		for _, p := range pt.params {
			v := w.ten[letter].id
			if p.kind == tmPEntity {
				v = w.ten[letter].x1
			}
			if surfaceOf(pattern) == "leadconduit" {
				v = bareID(v)
			}
			path = strings.Replace(path, "{"+p.name+"}", v, 1)
		}
		return path
	}
	adminA, adminB, adminS := w.role("admin of A"), w.role("admin of B"), w.role("admin of suspended S")
	for _, rt := range routes {
		if rt.public || rt.method != "GET" {
			continue
		}
		pt := tmSpecs[rt.pattern]
		lst := pt.methods["GET"].list
		if lst == nil {
			continue
		}
		t.Run(rt.String(), func(t *testing.T) {
			issuer, issuerKey, sameTenantKey := adminA, adminA.key, w.ten["A"].victimSecret
			if lst.issuer == tmSuper {
				issuer, issuerKey, sameTenantKey = w.role("superadmin"), w.e.super, w.e.super
			}
			pathA := fill(rt.pattern, pt, "A")
			first := w.do(t, issuerKey, "GET", pathA+"?limit=1", nil)
			cursor := lst.next(first)
			if first.Status != 200 || cursor == "" {
				t.Fatalf("%s as %s gave no next cursor: %s", pathA, issuer.name, first)
			}
			// The same caller's other key pages on with it.
			n++
			r := w.do(t, sameTenantKey, "GET", pathA+"?"+lst.param+"="+url.QueryEscape(cursor), nil)
			if r.Status != 200 {
				t.Errorf("the cursor of %s, presented by another key of the same caller: %s", issuer.name, r)
			}
			var seen []string
			if pt.methods["GET"].auditor {
				seen = append(seen, w.superP.KeyID) // as in run: a trail names the superadmin key that acted
			}
			if l := w.leaks(issuer, seen, r.Body); len(l) > 0 {
				t.Errorf("defect: the second page of %s shows %v: %s", issuer.name, l, r)
			}
			// Any other caller, on its own instance of the same list (the superadmin on the very
			// same one): 400 cursor_mismatch, and none of the rows the cursor points into.
			for _, other := range []*tmRole{w.role("superadmin"), adminA, adminB, adminS} {
				if other == issuer {
					continue
				}
				n++
				path := fill(rt.pattern, pt, other.home) + "?" + lst.param + "=" + url.QueryEscape(cursor)
				before := w.base
				r := w.do(t, other.key, "GET", path, nil)
				w.base = w.snapshot(t)
				want := tmWant{400, "cursor_mismatch", nil}
				if rt.surface == "leadbank" {
					// Lead Bank's list answers bad parameters with 400 parameters_invalid (SPEC §5).
					want.code = "parameters_invalid"
					if !strings.Contains(string(r.Body), `"invalid_parameters":[{"parameter":"starting_after","reason":"cursor_mismatch"}]`) {
						t.Errorf("defect: want starting_after cursor_mismatch, got %s\n  request: GET %s as %s", r, path, other.name)
					}
				}
				tmCheckAnswer(t, rt.surface, r, want, "GET "+path+" as "+other.name+" with the cursor of "+issuer.name)
				if l := w.leaks(other, nil, r.Body); len(l) > 0 {
					t.Errorf("defect: %s with the cursor of %s shows %v: %s", other.name, issuer.name, l, r)
				}
				if strings.Contains(strings.ToLower(string(r.Body)), "zz-secret-") {
					t.Errorf("defect: %s with the cursor of %s shows rows: %s", other.name, issuer.name, r)
				}
				if d := tmDiff(before, w.base); len(d) > 0 {
					t.Errorf("defect: a refused cursor changed the database: %v", d)
				}
			}
		})
	}
	return n
}
