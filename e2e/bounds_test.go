package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// Error responses stay small whatever the body (SPEC §10: no response over 8 MiB): at most 100
// problems are reported, then one item that says how many more there were, and a key name the
// client sent is echoed cut to 100 characters.

// boundsUnknownKeys is a body just under 1 MiB: prefix (an object's opening fields) then n
// unknown keys k000000, k000001, …
func boundsUnknownKeys(prefix string, n int) string {
	var b strings.Builder
	b.WriteString(prefix)
	for i := range n {
		fmt.Fprintf(&b, `,"k%06d":0`, i)
	}
	b.WriteString("}")
	return b.String()
}

const boundsKeys = 85_000

// boundsFirst100 is the first 100 extra_forbidden items of boundsUnknownKeys, then the item
// that counts the rest; and the same as LeadConduit's error message and Lead Bank's parameters.
func boundsFirst100() (detail arr, message string, params arr) {
	var parts []string
	for i := range 100 {
		k := fmt.Sprintf("k%06d", i)
		detail = append(detail, obj{"loc": arr{"body", k}, "msg": "Extra inputs are not permitted", "type": "extra_forbidden"})
		parts = append(parts, k+": Extra inputs are not permitted")
		params = append(params, obj{"parameter": k, "reason": "extra_forbidden"})
	}
	more := fmt.Sprintf("%d more problems were not reported (at most 100 are)", boundsKeys-100)
	detail = append(detail, obj{"loc": arr{"body"}, "msg": more, "type": "too_many_problems"})
	parts = append(parts, "body: "+more)
	params = append(params, obj{"parameter": "body", "reason": "too_many_problems"})
	return detail, strings.Join(parts, "; "), params
}

// boundsSmall fails unless the response is far under 8 MiB.
func boundsSmall(t *testing.T, what string, r resp) {
	t.Helper()
	if len(r.Body) > 256<<10 {
		t.Fatalf("%s: %d bytes of error", what, len(r.Body))
	}
}

// TestBoundsManyProblems: a 1 MiB body of 85,000 unknown keys answers the first 100 problems
// and a last item counting the others, on every surface.
func TestBoundsManyProblems(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		acct := str(e.account("Bounds Co"), "id")
		admin := e.key(acct, "admin")
		detail, message, params := boundsFirst100()
		body := boundsUnknownKeys(`{"name":"x","module_ids":[],"source":null,"recipient":null`, boundsKeys)
		if len(body) > 1<<20 {
			t.Fatalf("body of %d bytes is over the 1 MiB limit", len(body))
		}

		r := e.as(admin, "POST", "/v1/entities", body)
		wantBody(t, r, 422, obj{"detail": detail})
		boundsSmall(t, "native", r)

		r = entConduit(e, admin, "POST", "/entities", body)
		wantBody(t, r, 422, obj{"detail": detail, "error": message})
		boundsSmall(t, "LeadConduit", r)

		batch := boundsUnknownKeys(`{"entity_ids":["entity_0123456789abcdef01234567"],"relationship_type":"account_holder"`, boundsKeys)
		r = e.as(admin, "POST", "/v0/accounts/"+acct+"/entity_relationships/batch", batch, "Idempotency-Key", "bounds-1")
		wantBody(t, r, 422, obj{"code": "parameters_invalid", "title": "Unprocessable Entity",
			"detail": "One or more parameters are invalid.", "status": "422", "invalid_parameters": params})
		boundsSmall(t, "Lead Bank", r)

		// 100 problems exactly are all reported, with no counting item.
		r = e.as(admin, "POST", "/v1/entities", boundsUnknownKeys(`{"name":"x","module_ids":[],"source":null,"recipient":null`, 100))
		wantBody(t, r, 422, obj{"detail": detail[:100]})
	})
}

// TestBoundsLongKey: a 1 MiB key name made of "<" (six bytes each once escaped) is echoed cut
// to its first 100 characters and an ellipsis, in loc and in LeadConduit's message.
func TestBoundsLongKey(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		acct := str(e.account("Long Key Co"), "id")
		admin := e.key(acct, "admin")
		key := strings.Repeat("<", 1<<20-100)
		body := `{"name":"x","module_ids":[],"source":null,"recipient":null,"` + key + `":1}`
		cut := strings.Repeat("<", 100) + "…"
		detail := arr{obj{"loc": arr{"body", cut}, "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}}

		r := e.as(admin, "POST", "/v1/entities", body)
		wantBody(t, r, 422, obj{"detail": detail})
		boundsSmall(t, "native", r)

		r = entConduit(e, admin, "POST", "/entities", body)
		wantBody(t, r, 422, obj{"detail": detail, "error": cut + ": Extra inputs are not permitted"})
		boundsSmall(t, "LeadConduit", r)

		batch := `{"entity_ids":["entity_0123456789abcdef01234567"],"relationship_type":"account_holder","` + key + `":1}`
		r = e.as(admin, "POST", "/v0/accounts/"+acct+"/entity_relationships/batch", batch, "Idempotency-Key", "bounds-2")
		wantBody(t, r, 422, obj{"code": "parameters_invalid", "title": "Unprocessable Entity",
			"detail": "One or more parameters are invalid.", "status": "422",
			"invalid_parameters": arr{obj{"parameter": cut, "reason": "extra_forbidden"}}})
		boundsSmall(t, "Lead Bank", r)

		// A key of 100 characters is echoed whole.
		whole := strings.Repeat("<", 100)
		r = e.as(admin, "POST", "/v1/entities", `{"name":"x","module_ids":[],"source":null,"recipient":null,"`+whole+`":1}`)
		wantBody(t, r, 422, obj{"detail": arr{obj{"loc": arr{"body", whole}, "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}}})
	})
}

// TestBoundsBatchCountFirst: a batch of 250,000 items is one too_long problem, as pydantic
// with max_length reports it, however bad its items are.
func TestBoundsBatchCountFirst(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		acct := str(e.account("Batch Count Co"), "id")
		admin := e.key(acct, "admin")
		body := `{"entity_ids":[0` + strings.Repeat(",0", 249_999) + `],"relationship_type":"account_holder"}`
		msg := "List should have at most 20 items after validation, not 250000"

		r := e.as(admin, "POST", "/v1/accounts/"+acct+"/entity_relationships/batch", body, "Idempotency-Key", "count-1")
		wantBody(t, r, 422, obj{"detail": arr{obj{"loc": arr{"body", "entity_ids"}, "msg": msg, "type": "too_long"}}})

		r = e.as(admin, "POST", "/v0/accounts/"+acct+"/entity_relationships/batch", body, "Idempotency-Key", "count-2")
		wantBody(t, r, 422, obj{"code": "parameters_invalid", "title": "Unprocessable Entity",
			"detail": "One or more parameters are invalid.", "status": "422",
			"invalid_parameters": arr{obj{"parameter": "entity_ids", "reason": "too_long"}}})

		// 21 items, some not strings: still the count alone.
		ids := `"entity_0123456789abcdef01234567"` + strings.Repeat(`,1`, 20)
		r = e.as(admin, "POST", "/v1/accounts/"+acct+"/entity_relationships/batch",
			`{"entity_ids":[`+ids+`],"relationship_type":"account_holder"}`, "Idempotency-Key", "count-3")
		wantBody(t, r, 422, obj{"detail": arr{obj{"loc": arr{"body", "entity_ids"},
			"msg": "List should have at most 20 items after validation, not 21", "type": "too_long"}}})

		// Within the count, each bad item is still reported at its index.
		r = e.as(admin, "POST", "/v1/accounts/"+acct+"/entity_relationships/batch",
			`{"entity_ids":[1,"entity_0123456789abcdef01234567"],"relationship_type":"account_holder"}`, "Idempotency-Key", "count-4")
		wantBody(t, r, 422, obj{"detail": arr{obj{"loc": arr{"body", "entity_ids", 0}, "msg": "Input should be a valid string", "type": "string_type"}}})
	})
}

// TestBoundsConduitJSONMessage: LeadConduit's error message for malformed JSON says what the
// other surfaces say: why, and at which byte.
func TestBoundsConduitJSONMessage(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		acct := str(e.account("Malformed Co"), "id")
		admin := e.key(acct, "admin")
		r := entConduit(e, admin, "POST", "/entities", `{"name": }`)
		wantBody(t, r, 422, obj{"detail": arr{obj{"loc": arr{"body", 9}, "msg": "JSON decode error", "type": "json_invalid",
			"ctx": obj{"error": "Expecting value"}}}, "error": "the body is not valid JSON: Expecting value (byte 9)"})
	})
}

// TestBoundsListMemory: one LeadConduit page of 1,000 entities at every limit (about 89 MB of
// JSON, 8 MiB of which fit in a response) holds a bounded part of them at once: the server
// reads the page in chunks and stops reading once the next entity would pass 8 MiB. The peak
// of the heap during the request (sampled, with the collector made eager so the heap follows
// what is live) stays under 48 MiB; reading all 1,000 rows at once held about twice that. Not
// parallel: the heap is the whole test process's.
func TestBoundsListMemory(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		acct := str(e.account("Heap Co"), "id")
		admin := e.key(acct, "admin")
		const n = 1000
		boundsCreateWorst(t, e, admin, n)

		buf := make([]byte, 0, 9<<20)
		old := debug.SetGCPercent(10)
		defer debug.SetGCPercent(old)
		runtime.GC()
		base := boundsHeap()
		stop, peak := make(chan struct{}), make(chan uint64)
		go func() {
			high := base
			tick := time.NewTicker(200 * time.Microsecond)
			defer tick.Stop()
			for {
				if h := boundsHeap(); h > high {
					high = h
				}
				select {
				case <-stop:
					peak <- high
					return
				case <-tick.C:
				}
			}
		}()
		r, err := http.NewRequest("GET", e.base+"/entities?limit=1000", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", basic("API", admin))
		res, err := e.client.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		for err == nil && len(buf) < cap(buf) {
			var k int
			k, err = res.Body.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+k]
		}
		res.Body.Close()
		close(stop)
		grew := (<-peak - base) >> 20
		debug.SetGCPercent(old)

		if res.StatusCode != 200 || len(buf) > 8<<20 || len(buf) < 8<<20-200_000 {
			t.Fatalf("GET /entities?limit=1000: %d, %d bytes; want 200 and just under 8 MiB", res.StatusCode, len(buf))
		}
		var items []map[string]any
		if err := json.Unmarshal(buf, &items); err != nil {
			t.Fatalf("page: %v", err)
		}
		if len(items) < 80 || len(items) >= n || !strings.HasSuffix(str(items[0], "name"), strings.Repeat("<", 197)) {
			t.Fatalf("page of %d entities, the first %q", len(items), str(items[0], "name"))
		}
		if link := res.Header.Get("Link"); !strings.Contains(link, "limit=1000") {
			t.Fatalf("Link %q", link)
		}
		t.Logf("one page of %d entities (%d bytes): the heap grew by at most %d MiB", len(items), len(buf), grew)
		if grew > 48 {
			t.Fatalf("one list request grew the heap by %d MiB", grew)
		}
	})
}

// boundsHeap is the bytes of heap objects, live or not yet swept.
func boundsHeap() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// boundsCreateWorst creates n entities at every limit (limWorst), four at a time, through the
// service (the HTTP path is not what is measured, and under the race detector it takes minutes).
func boundsCreateWorst(t *testing.T, e *env, key string, n int) {
	t.Helper()
	ctx := t.Context()
	p, err := e.app.Service.Authenticate(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				body, err := json.Marshal(limWorst(i))
				if err == nil {
					_, err = e.app.Service.CreateEntity(ctx, &roster.Request{Principal: p}, body)
				}
				if err != nil {
					errs <- fmt.Errorf("create entity %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestBoundsChunkedPages: a LeadConduit page over 100 entities is read in chunks and is the
// same page: exactly limit entities in creation order while they fit, cut before 8 MiB in a
// later chunk when they do not, and walking the Link URLs sees every entity once.
func TestBoundsChunkedPages(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		acct := str(e.account("Chunks Co"), "id")
		admin := e.key(acct, "admin")
		var order []string
		for i := range 250 {
			order = append(order, bareID(str(entCreate(t, e, admin, entMin(fmt.Sprintf("small %03d", i))), "id")))
		}
		boundsCreateWorst(t, e, admin, 100)

		// 250 small entities in pages of 120: chunks of 100 and 20, then 100 and 20, then 10
		// and the first big ones.
		r := mustStatus(t, entConduit(e, admin, "GET", "/entities?limit=120", nil), 200)
		page := entArray(t, r)
		if len(page) != 120 || !strings.Contains(r.Header.Get("Link"), "limit=120") {
			t.Fatalf("first page of 120: %d entities, Link %q", len(page), r.Header.Get("Link"))
		}
		for i, item := range page {
			if str(item, "id") != order[i] {
				t.Fatalf("item %d is %s, want %s", i, str(item, "id"), order[i])
			}
		}

		// limit 1,000: the 250 small ones, then big ones up to 8 MiB, in chunks of 100.
		walk := entConduitWalk(t, e, admin, "/entities?limit=1000")
		if len(walk) < 2 || len(walk[0]) <= 250 || len(walk[0]) >= 350 {
			t.Fatalf("limit 1000 walk: %d pages, the first of %d entities", len(walk), len(walk[0]))
		}
		for i, id := range order {
			if str(walk[0][i], "id") != id {
				t.Fatalf("first page item %d is %s, want %s", i, str(walk[0][i], "id"), id)
			}
		}
		seen := map[string]int{}
		for _, p := range walk {
			for _, item := range p {
				seen[str(item, "id")]++
			}
		}
		for id, c := range seen {
			if c != 1 {
				t.Fatalf("%s seen %d times", id, c)
			}
		}
		if len(seen) != 350 {
			t.Fatalf("the walk saw %d of 350 entities", len(seen))
		}
		r = mustStatus(t, entConduit(e, admin, "GET", "/entities?limit=1000", nil), 200)
		if len(r.Body) > 8<<20 || len(r.Body) < 8<<20-200_000 {
			t.Fatalf("first page: %d bytes, want just under 8 MiB", len(r.Body))
		}
	})
}

// TestBoundsEmptyFirstChunk: a filter that matches nothing in the rows a bounded read examines
// answers an empty page with a next cursor (SPEC §6); the page renderer must take that in
// stride (it divided by the items of the first chunk: a 500 the bench found), on /v1 and on
// LeadConduit's list, whose page spans chunks.
func TestBoundsEmptyFirstChunk(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		acct := str(e.account("Sparse Co"), "id")
		admin := e.key(acct, "admin")
		ctx := t.Context()
		p, err := e.app.Service.Authenticate(ctx, admin)
		if err != nil {
			t.Fatal(err)
		}
		const n = 600
		var match string
		for i := range n {
			body := map[string]any{"name": fmt.Sprint("e", i), "module_ids": []any{}, "source": nil, "recipient": nil}
			if i == n-1 {
				body["deprecated"] = true
			}
			raw, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			en, err := e.app.Service.CreateEntity(ctx, &roster.Request{Principal: p}, raw)
			if err != nil {
				t.Fatal(err)
			}
			match = en.ID
		}
		var found []string
		path := "/v1/entities?deprecated=true&limit=20&sort=id:asc"
		pages := 0
		for path != "" {
			page := e.must(e.as(admin, "GET", path, nil), 200).Obj()
			pages++
			for _, d := range page["data"].([]any) {
				found = append(found, str(d.(map[string]any), "id"))
			}
			path = ""
			if next, _ := page["pagination"].(map[string]any)["next_cursor"].(string); next != "" {
				path = "/v1/entities?limit=20&cursor=" + next
			}
		}
		if len(found) != 1 || found[0] != roster.KindEntity.Prefixed(match) || pages < 2 {
			t.Fatalf("walking deprecated=true found %v in %d pages, want only entity_%s after some empty pages", found, pages, match)
		}
		r := entConduit(e, admin, "GET", "/entities?deprecated=true&limit=1000", nil)
		if r.Status != 200 {
			t.Fatalf("LeadConduit list of a sparse filter: %s", r)
		}
	})
}
