package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// This file covers SPEC §9 on the native surface (/v1) and holds the helpers that the
// relationship, Lead Bank, idempotency and nonce tests share. Every helper is prefixed "rel" so
// it cannot collide with the other e2e files of the package.

// relFor returns a copy of e whose helpers report to t (for subtests).
func relFor(e *env, t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// relTenant is an account with an admin and a reader key.
type relTenant struct {
	id     string // prefixed
	admin  string
	reader string
}

func relNewTenant(e *env, name string) relTenant {
	e.t.Helper()
	a := e.account(name)
	id := a["id"].(string)
	return relTenant{id: id, admin: e.key(id, roster.RoleAdmin), reader: e.key(id, roster.RoleReader)}
}

// relEntityBody is the smallest valid entity.
func relEntityBody(name string) map[string]any {
	return map[string]any{"name": name, "module_ids": []string{}, "source": nil, "recipient": nil}
}

// relEntity creates an entity with key (an account key) and returns its prefixed id.
func relEntity(e *env, key, name string) string {
	e.t.Helper()
	r := e.must(e.as(key, "POST", "/v1/entities", relEntityBody(name)), 201)
	id, _ := r.Obj()["id"].(string)
	if !regexp.MustCompile(`^entity_[0-9a-f]{24}$`).MatchString(id) {
		e.t.Fatalf("entity id %q in %s", id, r)
	}
	return id
}

// relEntities creates n entities, a few at a time (fixtures only: nothing depends on their
// creation order), and returns their prefixed ids.
func relEntities(e *env, key string, n int) []string {
	e.t.Helper()
	out := make([]string, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 6)
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			body, _ := json.Marshal(relEntityBody(fmt.Sprintf("entity %d", i)))
			r, err := relRaw(e, key, "POST", "/v1/entities", body)
			var m struct {
				ID string `json:"id"`
			}
			switch {
			case err != nil:
				errs[i] = err
			case r.Status != 201 || json.Unmarshal(r.Body, &m) != nil || !regexp.MustCompile(`^entity_[0-9a-f]{24}$`).MatchString(m.ID):
				errs[i] = fmt.Errorf("create entity: %s", r)
			default:
				out[i] = m.ID
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			e.t.Fatal(err)
		}
	}
	return out
}

func relHavePostgres() bool { return os.Getenv("ROSTER_TEST_POSTGRES") != "" }

// relUnknownEntity is a well-formed entity id that names nothing.
func relUnknownEntity() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "entity_" + hex.EncodeToString(b[:])
}

// relIdem is a fresh Idempotency-Key.
func relIdem(tag string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return tag + "-" + hex.EncodeToString(b[:])
}

// relDecode decodes JSON with numbers as json.Number.
func relDecode(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, data)
	}
	return v
}

// relWantJSON checks the status and that the body is the same JSON value as want (key order
// aside; objects must have exactly the same keys).
func relWantJSON(t *testing.T, r resp, status int, want any) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("want status %d, got %s", status, r)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q on %s", ct, r)
	}
	wb, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	got, exp := relDecode(t, r.Body), relDecode(t, wb)
	if !reflect.DeepEqual(got, exp) {
		t.Fatalf("body:\n got  %s\n want %s", r.Body, wb)
	}
}

// relNativeError checks a native {"detail","code"} error exactly.
func relNativeError(t *testing.T, r resp, status int, code string) {
	t.Helper()
	wantError(t, r, status, code)
	m := r.Obj()
	if d, ok := m["detail"].(string); !ok || d == "" || len(m) != 2 {
		t.Fatalf("native error body must be exactly {detail, code}: %s", r)
	}
}

// relItem is one relationship as the native list renders it.
type relItem struct {
	AccountID        string `json:"account_id"`
	EntityID         string `json:"entity_id"`
	RelationshipType string `json:"relationship_type"`
	CreatedAt        string `json:"created_at"`
}

func (i relItem) pair() string { return i.EntityID + " " + i.RelationshipType }

// relPage is a native list page.
type relPage struct {
	Data       []relItem `json:"data"`
	Pagination pageMeta  `json:"pagination"`
}

var relStamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

// relList reads one native relationship page and checks its shape strictly.
func relList(e *env, key, path string) relPage {
	e.t.Helper()
	r := e.must(e.as(key, "GET", path, nil), 200)
	return relParsePage(e.t, r)
}

func relParsePage(t *testing.T, r resp) relPage {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	var p relPage
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("list body: %v: %s", err, r.Body)
	}
	// Every key must be present (null cursors included), and every item complete.
	var raw struct {
		Data       []map[string]any `json:"data"`
		Pagination map[string]any   `json:"pagination"`
	}
	_ = json.Unmarshal(r.Body, &raw)
	if len(raw.Pagination) != 5 || raw.Data == nil {
		t.Fatalf("list envelope incomplete: %s", r.Body)
	}
	for _, it := range raw.Data {
		if len(it) != 4 {
			t.Fatalf("relationship item must have exactly account_id, entity_id, relationship_type, created_at: %s", r.Body)
		}
	}
	for _, it := range p.Data {
		if !relStamp.MatchString(it.CreatedAt) {
			t.Fatalf("created_at %q is not RFC 3339 UTC with microseconds", it.CreatedAt)
		}
	}
	if p.Pagination.Count != len(p.Data) {
		t.Fatalf("count %d for %d items", p.Pagination.Count, len(p.Data))
	}
	if p.Pagination.HasNext != (p.Pagination.NextCursor != nil) || p.Pagination.HasPrev != (p.Pagination.PrevCursor != nil) {
		t.Fatalf("has_next/has_prev disagree with the cursors: %s", r.Body)
	}
	return p
}

func relPairs(items []relItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.pair()
	}
	return out
}

// relBatchOrder is the list order of one batch's rows: they share created_at, so entity_id
// decides.
func relBatchOrder(typ string, ids ...string) []string {
	s := slices.Clone(ids)
	slices.Sort(s)
	out := make([]string, len(s))
	for i, id := range s {
		out[i] = id + " " + typ
	}
	return out
}

// relBatch posts a native batch that must succeed and checks its exact body.
func relBatch(e *env, key, account, typ string, ids ...string) {
	e.t.Helper()
	r := e.as(key, "POST", "/v1/accounts/"+account+"/entity_relationships/batch",
		map[string]any{"entity_ids": ids, "relationship_type": typ}, "Idempotency-Key", relIdem("batch"))
	want := make([]string, len(ids))
	for i, id := range ids {
		want[i] = "entity_" + strings.ToLower(bareID(id))
	}
	relWantJSON(e.t, r, 200, map[string]any{"account_id": "account_" + bareID(account), "relationship_type": typ, "entity_ids": want})
}

// relWalk follows next_cursor from path (which carries limit and filters) to the end and
// checks has_prev / has_next on the way; it returns every page.
func relWalk(e *env, key, path string) []relPage {
	e.t.Helper()
	var pages []relPage
	p := relList(e, key, path)
	pages = append(pages, p)
	// The limit is repeated (a cursor does not carry it); sort and filters come from the cursor.
	base, query, _ := strings.Cut(path, "?")
	q, _ := url.ParseQuery(query)
	if l := q.Get("limit"); l != "" {
		base += "?limit=" + l + "&"
	} else {
		base += "?"
	}
	for p.Pagination.HasNext {
		if len(pages) > 100 {
			relNoRepeats(e.t, relPairs(relFlatten(pages)))
			e.t.Fatal("cursor walk does not end")
		}
		p = relList(e, key, base+"cursor="+url.QueryEscape(*p.Pagination.NextCursor))
		if !p.Pagination.HasPrev {
			e.t.Fatalf("page %d has no has_prev", len(pages))
		}
		pages = append(pages, p)
	}
	if pages[0].Pagination.HasPrev {
		e.t.Fatal("the first page claims a previous page")
	}
	relNoRepeats(e.t, relPairs(relFlatten(pages)))
	return pages
}

// relNoRepeats fails when a walk saw a row twice (a seek that is not strict, say).
func relNoRepeats(t *testing.T, pairs []string) {
	t.Helper()
	seen := map[string]int{}
	for i, p := range pairs {
		if j, dup := seen[p]; dup {
			t.Fatalf("the walk returned %q twice (rows %d and %d): a page repeats a row of the page before", p, j, i)
		}
		seen[p] = i
	}
}

func relFlatten(pages []relPage) []relItem {
	var out []relItem
	for _, p := range pages {
		out = append(out, p.Data...)
	}
	return out
}

func relSizes(pages []relPage) []int {
	out := make([]int, len(pages))
	for i, p := range pages {
		out[i] = len(p.Data)
	}
	return out
}

// relRaw sends one request without a testing.T, for goroutines.
func relRaw(e *env, key, method, path string, body []byte, headers ...string) (resp, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		return resp{}, err
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		r.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.client.Do(r)
	if err != nil {
		return resp{}, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	return resp{Status: res.StatusCode, Header: res.Header, Body: data}, err
}

// relEntityCount counts the entities a key sees (walking every page).
func relEntityCount(e *env, key string) int {
	e.t.Helper()
	n := 0
	path := "/v1/entities?limit=100"
	for {
		r := e.must(e.as(key, "GET", path, nil), 200)
		var p struct {
			Data       []any `json:"data"`
			Pagination struct {
				NextCursor *string `json:"next_cursor"`
			} `json:"pagination"`
		}
		if err := json.Unmarshal(r.Body, &p); err != nil {
			e.t.Fatal(err)
		}
		n += len(p.Data)
		if p.Pagination.NextCursor == nil {
			return n
		}
		path = "/v1/entities?limit=100&cursor=" + url.QueryEscape(*p.Pagination.NextCursor)
	}
}

// relSideService opens a second store on the database of a running server, with a service
// whose clock is shifted by offset. It stands in for another roster process (one that crashed,
// or whose clock lets a test reach past a lease or a nonce's life without waiting).
func relSideService(t *testing.T, database string, offset time.Duration) *roster.Service {
	t.Helper()
	return roster.NewService(relSideStore(t, database), func() time.Time { return time.Now().Add(offset) }, nil)
}

// relSideStore opens the database beside the server, as another process would.
func relSideStore(t *testing.T, database string) roster.Store {
	t.Helper()
	st, err := store.Open(context.Background(), database)
	if err != nil {
		t.Fatalf("open a second store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// relPrincipal authenticates a secret as the server would.
func relPrincipal(t *testing.T, e *env, secret string) roster.Principal {
	t.Helper()
	p, err := e.app.Service.Authenticate(context.Background(), secret)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// relEngines is engines with the database URL, for the tests that open the database beside
// the server.
func relEngines(t *testing.T, fn func(t *testing.T, e *env, database string)) {
	t.Helper()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			if engine == "postgres" && !relHavePostgres() {
				t.Skip("ROSTER_TEST_POSTGRES is not set; skipping the PostgreSQL run")
			}
			db := databaseURL(t, engine)
			fn(t, startWith(t, db), db)
		})
	}
}

// ---------------------------------------------------------------------------------------------

func TestRelationshipBatchValidation(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := relNewTenant(e, "Batch Validation")
		ids := relEntities(e, a.admin, 3)
		path := "/v1/accounts/" + a.id + "/entity_relationships/batch"
		post := func(body any, headers ...string) resp {
			return e.as(a.admin, "POST", path, body, append([]string{"Idempotency-Key", relIdem("v")}, headers...)...)
		}

		many := make([]string, 21)
		for i := range many {
			many[i] = relUnknownEntity()
		}
		wantProblems(t, post(map[string]any{"entity_ids": many, "relationship_type": "authorized_user"}),
			`["body","entity_ids"] too_long`)
		wantProblems(t, post(map[string]any{"entity_ids": []string{}, "relationship_type": "authorized_user"}),
			`["body","entity_ids"] too_short`)
		// The same entity, prefixed, bare and bare in upper case.
		wantProblems(t, post(map[string]any{"entity_ids": []string{ids[0], ids[1], bareID(ids[0]), strings.ToUpper(bareID(ids[1]))},
			"relationship_type": "authorized_user"}),
			`["body","entity_ids",2] duplicate`, `["body","entity_ids",3] duplicate`)
		wantProblems(t, post(map[string]any{"entity_ids": []string{ids[0], "entity_has space", "account_" + bareID(ids[1]), "", "entity_"},
			"relationship_type": "authorized_user"}),
			`["body","entity_ids",1] string_pattern_mismatch`, `["body","entity_ids",2] string_pattern_mismatch`,
			`["body","entity_ids",3] string_pattern_mismatch`, `["body","entity_ids",4] string_pattern_mismatch`)
		wantProblems(t, post(map[string]any{"entity_ids": []string{ids[0]}, "relationship_type": "owner"}),
			`["body","relationship_type"] enum`)
		wantProblems(t, post(map[string]any{"entity_ids": []any{ids[0], 7}, "relationship_type": nil, "extra": true}),
			`["body","entity_ids",1] string_type`, `["body","relationship_type"] enum`, `["body","extra"] extra_forbidden`)
		wantProblems(t, post(map[string]any{}), `["body","entity_ids"] missing`, `["body","relationship_type"] missing`)
		wantProblems(t, post("[1]"), `["body"] model_attributes_type`)
		wantProblems(t, post(`{"entity_ids": [`), `["body",16] json_invalid`)
		wantProblems(t, e.as(a.admin, "POST", path, nil, "Idempotency-Key", relIdem("v")), `["body"] missing`)

		// Idempotency-Key: 255 characters is fine, 256 is a 422 reported with the body's problems.
		ok := map[string]any{"entity_ids": []string{ids[0]}, "relationship_type": "authorized_user"}
		wantProblems(t, e.as(a.admin, "POST", path, ok, "Idempotency-Key", strings.Repeat("k", 256)),
			`["header","Idempotency-Key"] string_too_long`)
		wantProblems(t, e.as(a.admin, "POST", path, map[string]any{"entity_ids": []string{"x"}, "relationship_type": "x"},
			"Idempotency-Key", strings.Repeat("k", 256)),
			`["header","Idempotency-Key"] string_too_long`, `["body","entity_ids",0] string_pattern_mismatch`, `["body","relationship_type"] enum`)
		relWantJSON(t, e.as(a.admin, "POST", path, ok, "Idempotency-Key", strings.Repeat("k", 255)), 200,
			map[string]any{"account_id": a.id, "relationship_type": "authorized_user", "entity_ids": []string{ids[0]}})

		// The key is required on batches: missing or empty is 400 idempotency_key_missing, after
		// validation (SPEC §5 order: 422 before idempotency).
		relNativeError(t, e.as(a.admin, "POST", path, ok), 400, "idempotency_key_missing")
		relNativeError(t, e.as(a.admin, "POST", path, ok, "Idempotency-Key", ""), 400, "idempotency_key_missing")
		wantProblems(t, e.as(a.admin, "POST", path, map[string]any{"entity_ids": []string{}, "relationship_type": "authorized_user"}),
			`["body","entity_ids"] too_short`)

		// Nothing but the 255-character batch was written.
		p := relList(e, a.admin, "/v1/accounts/"+a.id+"/entity_relationships")
		if got := relPairs(p.Data); !slices.Equal(got, []string{ids[0] + " authorized_user"}) {
			t.Fatalf("relationships after validation failures: %v", got)
		}
	})
}

func TestRelationshipBatchAllOrNothing(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := relNewTenant(e, "All Or Nothing")
		b := relNewTenant(e, "Other Tenant")
		ids := relEntities(e, a.admin, 3)
		foreign := relEntity(e, b.admin, "foreign")
		path := "/v1/accounts/" + a.id + "/entity_relationships/batch"
		list := "/v1/accounts/" + a.id + "/entity_relationships"

		// One missing entity (index 1), a well-formed id roster never makes (index 2) and another
		// tenant's entity (index 3): every one is a not_found item, and nothing is written.
		key := relIdem("aon")
		body := map[string]any{"entity_ids": []string{ids[0], relUnknownEntity(), "entity_8kL9jH7gF6dS5aQ4wE3rT2yU1iO", foreign},
			"relationship_type": "authorized_signer"}
		wantProblems(t, e.as(a.admin, "POST", path, body, "Idempotency-Key", key),
			`["body","entity_ids",1] not_found`, `["body","entity_ids",2] not_found`, `["body","entity_ids",3] not_found`)
		if p := relList(e, a.admin, list); len(p.Data) != 0 {
			t.Fatalf("a failed batch wrote %v", relPairs(p.Data))
		}
		if p := relList(e, b.admin, "/v1/accounts/"+b.id+"/entity_relationships"); len(p.Data) != 0 {
			t.Fatalf("a failed batch wrote on the other tenant: %v", relPairs(p.Data))
		}
		// A deleted entity names nothing either.
		gone := relEntity(e, a.admin, "deleted")
		e.must(e.as(a.admin, "DELETE", "/v1/entities/"+gone, nil), 200)
		wantProblems(t, e.as(a.admin, "POST", path, map[string]any{"entity_ids": []string{gone, ids[2]}, "relationship_type": "authorized_signer"},
			"Idempotency-Key", relIdem("gone")), `["body","entity_ids",0] not_found`)
		if p := relList(e, a.admin, list); len(p.Data) != 0 {
			t.Fatalf("a failed batch wrote %v", relPairs(p.Data))
		}
		// The error was not saved: the same key with the cause fixed runs.
		fixed := map[string]any{"entity_ids": []string{ids[0], ids[1]}, "relationship_type": "authorized_signer"}
		r := e.as(a.admin, "POST", path, fixed, "Idempotency-Key", key)
		relWantJSON(t, r, 200, map[string]any{"account_id": a.id, "relationship_type": "authorized_signer", "entity_ids": []string{ids[0], ids[1]}})
		if r.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("a first success claims to be a replay: %v", r.Header)
		}
		// Now the key is saved: the original (failing) body is another request.
		relNativeError(t, e.as(a.admin, "POST", path, body, "Idempotency-Key", key), 409, "idempotency_key_reused")

		before := relList(e, a.admin, list)
		if got, want := relPairs(before.Data), relBatchOrder("authorized_signer", ids[0], ids[1]); !slices.Equal(got, want) {
			t.Fatalf("got %v want %v", got, want)
		}

		// Pairs that already exist are not an error and keep their created_at; ids come back in
		// request order, in the form roster renders them.
		relBatch(e, a.admin, a.id, "authorized_signer", bareID(ids[2]), strings.ToUpper(bareID(ids[1])))
		after := relList(e, a.admin, list)
		if len(after.Data) != 3 {
			t.Fatalf("want 3 relationships, got %v", relPairs(after.Data))
		}
		created := map[string]string{}
		for _, it := range after.Data {
			created[it.pair()] = it.CreatedAt
		}
		for _, it := range before.Data {
			if created[it.pair()] != it.CreatedAt {
				t.Fatalf("re-adding %s changed created_at from %s to %s", it.pair(), it.CreatedAt, created[it.pair()])
			}
		}
		// One entity may hold several types on one account.
		relBatch(e, a.admin, a.id, "account_holder", ids[0])
		if p := relList(e, a.admin, list+"?entity_id="+ids[0]); len(p.Data) != 2 {
			t.Fatalf("entity with two roles: %v", relPairs(p.Data))
		}
	})
}

func TestRelationshipLists(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := relNewTenant(e, "Lists")
		ids := relEntities(e, a.admin, 6)
		relBatch(e, a.admin, a.id, "authorized_user", ids[0], ids[1], ids[2], ids[3])
		relBatch(e, a.admin, a.id, "account_holder", ids[5], ids[4], ids[3], ids[2])
		relBatch(e, a.admin, a.id, "authorized_signer", ids[0])
		list := "/v1/accounts/" + a.id + "/entity_relationships"

		// Default order: created_at, then entity_id, then relationship_type, ascending.
		all := relList(e, a.reader, list)
		want := slices.Concat(relBatchOrder("authorized_user", ids[:4]...), relBatchOrder("account_holder", ids[2:6]...),
			relBatchOrder("authorized_signer", ids[0]))
		if got := relPairs(all.Data); !slices.Equal(got, want) {
			t.Fatalf("default order:\n got  %v\n want %v", got, want)
		}
		if all.Pagination.HasNext || all.Pagination.HasPrev || all.Pagination.Count != 9 {
			t.Fatalf("pagination of a single page: %+v", all.Pagination)
		}
		for i, it := range all.Data {
			if it.AccountID != a.id {
				t.Fatalf("item %d account_id %q", i, it.AccountID)
			}
		}
		// One batch shares one created_at; later batches are later.
		bounds := [][2]int{{0, 4}, {4, 8}, {8, 9}}
		for bi, bd := range bounds {
			for i := bd[0]; i < bd[1]; i++ {
				if all.Data[i].CreatedAt != all.Data[bd[0]].CreatedAt {
					t.Fatalf("batch %d rows differ in created_at: %v", bi, all.Data)
				}
			}
			if bi > 0 && !(all.Data[bd[0]].CreatedAt > all.Data[bounds[bi-1][0]].CreatedAt) {
				t.Fatalf("batch %d is not after batch %d", bi, bi-1)
			}
		}
		byPair := map[string]relItem{}
		for _, it := range all.Data {
			byPair[it.pair()] = it
		}
		items := func(pairs ...string) []relItem {
			out := make([]relItem, len(pairs))
			for i, p := range pairs {
				out[i] = byPair[p]
			}
			return out
		}
		page := func(items []relItem) map[string]any {
			return map[string]any{"data": items, "pagination": map[string]any{"count": len(items), "has_next": false,
				"has_prev": false, "next_cursor": nil, "prev_cursor": nil}}
		}

		// Filters, exact bodies.
		relWantJSON(t, e.as(a.admin, "GET", list+"?relationship_type=account_holder", nil), 200,
			page(items(relBatchOrder("account_holder", ids[2:6]...)...)))
		relWantJSON(t, e.as(a.admin, "GET", list+"?entity_id="+ids[3], nil), 200,
			page(items(ids[3]+" authorized_user", ids[3]+" account_holder")))
		relWantJSON(t, e.as(a.admin, "GET", list+"?entity_id="+strings.ToUpper(bareID(ids[3])), nil), 200,
			page(items(ids[3]+" authorized_user", ids[3]+" account_holder")))
		relWantJSON(t, e.as(a.admin, "GET", list+"?entity_id="+ids[0]+"&relationship_type=authorized_signer", nil), 200,
			page(items(ids[0]+" authorized_signer")))
		relWantJSON(t, e.as(a.admin, "GET", list+"?entity_id="+relUnknownEntity(), nil), 200, page([]relItem{}))
		wantProblems(t, e.as(a.admin, "GET", list+"?relationship_type=owner&entity_id=nope", nil),
			`["query","relationship_type"] enum`, `["query","entity_id"] string_pattern_mismatch`)
		wantProblems(t, e.as(a.admin, "GET", list+"?limit=0", nil), `["query","limit"] greater_than_equal`)
		wantProblems(t, e.as(a.admin, "GET", list+"?limit=101", nil), `["query","limit"] less_than_equal`)
		relNativeError(t, e.as(a.admin, "GET", list+"?sort=entity_id", nil), 400, "invalid_sort")
		relNativeError(t, e.as(a.admin, "GET", list+"?sort=created_at:sideways", nil), 400, "invalid_sort")
		relNativeError(t, e.as(a.admin, "GET", list+"?cursor=garbage!", nil), 400, "invalid_cursor")

		// Cursor walk: every row once, in order; prev_cursor walks back.
		pages := relWalk(e, a.admin, list+"?limit=2")
		if got := relPairs(relFlatten(pages)); !slices.Equal(got, want) {
			t.Fatalf("walk limit=2:\n got  %v\n want %v", got, want)
		}
		if s := relSizes(pages); !slices.Equal(s, []int{2, 2, 2, 2, 1}) {
			t.Fatalf("page sizes %v", s)
		}
		back := relList(e, a.admin, list+"?limit=2&cursor="+url.QueryEscape(*pages[4].Pagination.PrevCursor))
		if !slices.Equal(relPairs(back.Data), relPairs(pages[3].Data)) || !back.Pagination.HasNext || !back.Pagination.HasPrev {
			t.Fatalf("walking back from the last page: %v", relPairs(back.Data))
		}
		// A filtered walk: the cursor carries the filter; repeating it must be exact.
		fpages := relWalk(e, a.admin, list+"?relationship_type=account_holder&limit=3")
		if got := relPairs(relFlatten(fpages)); !slices.Equal(got, relBatchOrder("account_holder", ids[2:6]...)) || len(fpages) != 2 {
			t.Fatalf("filtered walk: %v", got)
		}
		next := url.QueryEscape(*fpages[0].Pagination.NextCursor)
		e.must(e.as(a.admin, "GET", list+"?relationship_type=account_holder&cursor="+next, nil), 200)
		relNativeError(t, e.as(a.admin, "GET", list+"?relationship_type=authorized_user&cursor="+next, nil), 400, "cursor_mismatch")
		relNativeError(t, e.as(a.admin, "GET", list+"?sort=created_at:desc&cursor="+next, nil), 400, "cursor_mismatch")

		// A cursor belongs to the list it was issued for: another account's list (a superadmin
		// reads both), another entity's, or the other kind of list is a cursor_mismatch, not a
		// seek into rows it was not issued for.
		other := relNewTenant(e, "Lists Other")
		oids := relEntities(e, other.admin, 2)
		relBatch(e, other.admin, other.id, "authorized_user", oids...)
		superNext := *relList(e, e.super, list+"?limit=2").Pagination.NextCursor
		relNativeError(t, e.as(e.super, "GET", "/v1/accounts/"+other.id+"/entity_relationships?limit=2&cursor="+url.QueryEscape(superNext), nil),
			400, "cursor_mismatch")
		relWantAPIError(t, relV0(t, e, e.super, "GET", "/v0/accounts/"+other.id+"/entity_relationships?limit=2&starting_after="+url.QueryEscape(superNext), nil),
			400, "parameters_invalid", "starting_after cursor_mismatch")
		entNext := *relList(e, a.admin, "/v1/entities/"+ids[0]+"/relationships?limit=1").Pagination.NextCursor
		relNativeError(t, e.as(a.admin, "GET", "/v1/entities/"+ids[2]+"/relationships?limit=1&cursor="+url.QueryEscape(entNext), nil),
			400, "cursor_mismatch")
		relNativeError(t, e.as(a.admin, "GET", list+"?cursor="+url.QueryEscape(entNext), nil), 400, "cursor_mismatch")
		relNativeError(t, e.as(a.admin, "GET", "/v1/entities/"+ids[0]+"/relationships?cursor="+url.QueryEscape(next), nil), 400, "cursor_mismatch")
		// The same cursor on its own list, by the bare account id, is fine.
		e.must(e.as(e.super, "GET", "/v1/accounts/"+bareID(a.id)+"/entity_relationships?limit=2&cursor="+url.QueryEscape(superNext), nil), 200)

		// created_at:desc: batches newest first; within one batch the tie-breakers stay ascending.
		desc := slices.Concat(relBatchOrder("authorized_signer", ids[0]), relBatchOrder("account_holder", ids[2:6]...),
			relBatchOrder("authorized_user", ids[:4]...))
		dpages := relWalk(e, a.admin, list+"?sort=created_at:desc&limit=4")
		if got := relPairs(relFlatten(dpages)); !slices.Equal(got, desc) {
			t.Fatalf("created_at:desc:\n got  %v\n want %v", got, desc)
		}
		if got := relPairs(relList(e, a.admin, list+"?sort=created_at:asc").Data); !slices.Equal(got, want) {
			t.Fatalf("created_at:asc: %v", got)
		}

		// One entity's roles, by its prefixed or bare id, for a reader too.
		for _, id := range []string{ids[2], bareID(ids[2]), strings.ToUpper(bareID(ids[2]))} {
			relWantJSON(t, e.as(a.reader, "GET", "/v1/entities/"+id+"/relationships", nil), 200,
				page(items(ids[2]+" authorized_user", ids[2]+" account_holder")))
		}
		ep := relWalk(e, a.admin, "/v1/entities/"+ids[0]+"/relationships?limit=1")
		if got := relPairs(relFlatten(ep)); !slices.Equal(got, []string{ids[0] + " authorized_user", ids[0] + " authorized_signer"}) {
			t.Fatalf("entity walk: %v", got)
		}
		relWantJSON(t, e.as(a.admin, "GET", "/v1/entities/"+relEntity(e, a.admin, "no roles")+"/relationships", nil), 200, page([]relItem{}))
		relNativeError(t, e.as(a.admin, "GET", "/v1/entities/"+relUnknownEntity()+"/relationships", nil), 404, "not_found")
		wantProblems(t, e.as(a.admin, "GET", "/v1/entities/nope/relationships", nil), `["path","id"] string_pattern_mismatch`)

		// The superadmin sees the same list; ?account_id= names the caller's own account.
		if got := relPairs(relList(e, e.super, list).Data); !slices.Equal(got, want) {
			t.Fatalf("superadmin list: %v", got)
		}
		e.must(e.as(a.admin, "GET", list+"?account_id="+a.id, nil), 200)
	})
}

func TestRelationshipDelete(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := relNewTenant(e, "Delete")
		ids := relEntities(e, a.admin, 3)
		relBatch(e, a.admin, a.id, "authorized_user", ids...)
		relBatch(e, a.admin, a.id, "account_holder", ids[0])
		list := "/v1/accounts/" + a.id + "/entity_relationships"
		del := func(entity, query string) resp {
			return e.as(a.admin, "DELETE", list+"/"+entity+query, nil)
		}

		wantProblems(t, del(ids[0], ""), `["query","relationship_type"] missing`)
		wantProblems(t, del(ids[0], "?relationship_type="), `["query","relationship_type"] missing`)
		wantProblems(t, del(ids[0], "?relationship_type=owner"), `["query","relationship_type"] enum`)
		wantProblems(t, del("nope", "?relationship_type=owner"),
			`["path","entity_id"] string_pattern_mismatch`, `["query","relationship_type"] enum`)

		// The answer is the account's relationships after the delete, in list order, as items
		// of this surface.
		r := del(bareID(ids[1]), "?relationship_type=authorized_user")
		rest := relList(e, a.admin, list)
		if got, want := relPairs(rest.Data), slices.DeleteFunc(slices.Concat(relBatchOrder("authorized_user", ids...),
			relBatchOrder("account_holder", ids[0])), func(s string) bool { return s == ids[1]+" authorized_user" }); !slices.Equal(got, want) {
			t.Fatalf("after delete: got %v want %v", got, want)
		}
		relWantJSON(t, r, 200, map[string]any{"objects": rest.Data})

		// Gone: 404, as is a relationship of another type, an unknown entity or an id roster
		// never makes.
		relNativeError(t, del(ids[1], "?relationship_type=authorized_user"), 404, "not_found")
		relNativeError(t, del(ids[1], "?relationship_type=authorized_signer"), 404, "not_found")
		relNativeError(t, del(relUnknownEntity(), "?relationship_type=authorized_user"), 404, "not_found")
		relNativeError(t, del("entity_xyz", "?relationship_type=authorized_user"), 404, "not_found")

		// Deleting the entity removes its relationships.
		e.must(e.as(a.admin, "DELETE", "/v1/entities/"+ids[0], nil), 200)
		if got := relPairs(relList(e, a.admin, list).Data); !slices.Equal(got, []string{ids[2] + " authorized_user"}) {
			t.Fatalf("after deleting the entity: %v", got)
		}
		relWantJSON(t, del(ids[2], "?relationship_type=authorized_user"), 200, map[string]any{"objects": []any{}})
	})
}

func TestRelationshipTenancy(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := relNewTenant(e, "Tenant A")
		b := relNewTenant(e, "Tenant B")
		ea := relEntities(e, a.admin, 2)
		relBatch(e, a.admin, a.id, "authorized_user", ea[0])
		batch := map[string]any{"entity_ids": []string{ea[1]}, "relationship_type": "authorized_user"}
		list := "/v1/accounts/" + a.id + "/entity_relationships"
		var unknownAccount [12]byte
		_, _ = rand.Read(unknownAccount[:])
		nowhere := "account_" + hex.EncodeToString(unknownAccount[:])

		// Another account's admin: 403 on the path account, whatever form it takes, before any
		// validation, idempotency or existence check.
		for _, acct := range []string{a.id, bareID(a.id), nowhere, "account_bad-id", "x"} {
			p := "/v1/accounts/" + acct + "/entity_relationships"
			relNativeError(t, e.as(b.admin, "POST", p+"/batch", batch, "Idempotency-Key", relIdem("t")), 403, "forbidden")
			relNativeError(t, e.as(b.admin, "POST", p+"/batch", "{not json"), 403, "forbidden")
			relNativeError(t, e.as(b.admin, "GET", p, nil), 403, "forbidden")
			relNativeError(t, e.as(b.admin, "DELETE", p+"/"+ea[0]+"?relationship_type=authorized_user", nil), 403, "forbidden")
			relNativeError(t, e.as(b.reader, "GET", p, nil), 403, "forbidden")
		}
		// Another tenant's entity is 404 on the entity route.
		relNativeError(t, e.as(b.admin, "GET", "/v1/entities/"+ea[0]+"/relationships", nil), 404, "not_found")

		// A reader reads, and every write is 403 (before the missing Idempotency-Key).
		relNativeError(t, e.as(a.reader, "POST", list+"/batch", batch, "Idempotency-Key", relIdem("t")), 403, "forbidden")
		relNativeError(t, e.as(a.reader, "POST", list+"/batch", batch), 403, "forbidden")
		relNativeError(t, e.as(a.reader, "DELETE", list+"/"+ea[0]+"?relationship_type=authorized_user", nil), 403, "forbidden")
		relNativeError(t, e.as(a.reader, "DELETE", list+"/"+ea[0], nil), 403, "forbidden")
		if got := relPairs(relList(e, a.reader, list).Data); !slices.Equal(got, []string{ea[0] + " authorized_user"}) {
			t.Fatalf("reader list: %v", got)
		}

		// No key: 401.
		r := e.req("GET", list, nil)
		relNativeError(t, r, 401, "unauthorized")
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Fatal("401 without WWW-Authenticate")
		}

		// The superadmin: a malformed account is 422, an unknown one 404.
		wantProblems(t, e.as(e.super, "GET", "/v1/accounts/account_bad-id/entity_relationships", nil), `["path","account_id"] string_pattern_mismatch`)
		relNativeError(t, e.as(e.super, "GET", "/v1/accounts/"+nowhere+"/entity_relationships", nil), 404, "not_found")
		relNativeError(t, e.as(e.super, "POST", "/v1/accounts/"+nowhere+"/entity_relationships/batch", batch, "Idempotency-Key", relIdem("t")), 404, "not_found")
		relNativeError(t, e.as(e.super, "DELETE", "/v1/accounts/"+nowhere+"/entity_relationships/"+ea[0]+"?relationship_type=authorized_user", nil), 404, "not_found")
		// The superadmin may write any account; the entity must still be that account's.
		relBatch(e, e.super, a.id, "authorized_signer", ea[1])
		wantProblems(t, e.as(e.super, "POST", "/v1/accounts/"+b.id+"/entity_relationships/batch", batch, "Idempotency-Key", relIdem("t")),
			`["body","entity_ids",0] not_found`)

		// A suspended account's keys read but do not write.
		e.must(e.as(e.super, "PATCH", "/v1/accounts/"+a.id, map[string]any{"status": "suspended"}), 200)
		relNativeError(t, e.as(a.admin, "POST", list+"/batch", batch, "Idempotency-Key", relIdem("t")), 403, "account_suspended")
		relNativeError(t, e.as(a.admin, "DELETE", list+"/"+ea[0]+"?relationship_type=authorized_user", nil), 403, "account_suspended")
		e.must(e.as(a.admin, "GET", list, nil), 200)

		// A deleted account: its keys stop working, and its relationships vanish.
		e.must(e.as(e.super, "PATCH", "/v1/accounts/"+a.id, map[string]any{"deleted": true}), 200)
		relNativeError(t, e.as(a.admin, "GET", list, nil), 401, "unauthorized")
		relNativeError(t, e.as(e.super, "GET", list, nil), 404, "not_found")
	})
}
