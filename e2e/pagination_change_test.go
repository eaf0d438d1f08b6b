package e2e

// Pagination under change (SPEC §6): walk every allowed entity sort, in both directions, while
// rows are inserted, updated and deleted between pages and concurrently. Rows that existed when
// the walk began and were left alone during it are seen exactly once, in order; rows inserted
// during the walk are seen at most once; nothing is seen that does not exist. Without changes,
// the whole walk is in the documented order and prev(next(page)) == page for every page.

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	pcStable   = 40 // rows the mutators never touch
	pcVolatile = 20 // rows they update and delete, replaced by inserts
	pcLimit    = 7
)

// pcNames has ties, case, accents and spaces, so that name order exercises the tie-breaker and
// bytewise comparison on both engines.
var pcNames = []string{"alpha", "Alpha", "beta", "Émile", "emile", "émile", "Zed", "zed", "a b", "a-b", "a", "ß", "日本", "alpha"}

// pcItem is one entity as a list shows it, with its sort values.
type pcItem struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

type pcPage struct {
	Data       []pcItem `json:"data"`
	Pagination pageMeta `json:"pagination"`
}

func (p pcPage) ids() []string {
	out := make([]string, len(p.Data))
	for i, it := range p.Data {
		out[i] = it.ID
	}
	return out
}

// pcLess orders two items as sort ("field:dir") does, id ascending as the last tie-breaker.
func pcLess(sort string, a, b pcItem) bool {
	field, dir, _ := strings.Cut(sort, ":")
	var x, y string
	switch field {
	case "name":
		x, y = a.Name, b.Name
	case "created_at":
		x, y = a.CreatedAt, b.CreatedAt // fixed-width RFC 3339 in UTC: text order is time order
	case "updated_at":
		x, y = a.UpdatedAt, b.UpdatedAt
	default:
		x, y = a.ID, b.ID
	}
	if x != y {
		return (x < y) != (dir == "desc")
	}
	return a.ID < b.ID
}

// pcRig holds the rows and who touched them.
type pcRig struct {
	t      *testing.T
	base   string
	admin  string
	client *http.Client

	mu       sync.Mutex
	alive    map[string]bool
	stable   map[string]bool // never touched by a mutator
	volatile []string        // alive rows the mutators may touch
	touched  map[string]bool // updated or deleted during the current walk
	created  map[string]bool // inserted during the current walk
	errs     []string
	changes  int
	seq      int
	// emptyPages counts pages that came back empty (their cursors are checked like any other).
	emptyPages int
}

func TestPaginationUnderChange(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		acct := e.account("Pagination Change")
		rig := &pcRig{t: t, base: e.base, admin: e.key(acct["id"].(string), "admin"), client: &http.Client{Timeout: 30 * time.Second},
			alive: map[string]bool{}, stable: map[string]bool{}, touched: map[string]bool{}, created: map[string]bool{}}
		seed := time.Now().UnixNano()
		t.Logf("seed %d", seed)
		rng := rand.New(rand.NewPCG(uint64(seed), 1))
		for i := range pcStable + pcVolatile {
			id := rig.create(rng)
			if id == "" {
				t.Fatalf("seeding: %v", rig.errs)
			}
			if i < pcStable {
				rig.stable[id] = true
			} else {
				rig.volatile = append(rig.volatile, id)
			}
		}
		sorts := []string{"id:asc", "id:desc", "name:asc", "name:desc", "created_at:asc", "created_at:desc", "updated_at:asc", "updated_at:desc"}
		walks := 0
		for i, sort := range sorts {
			rig.walkUnderChange(sort, i%2 == 0, rand.New(rand.NewPCG(uint64(seed), uint64(i)+2)))
			walks++
		}
		for _, sort := range sorts {
			rig.walkStill(sort)
		}
		for _, msg := range rig.errs {
			t.Error(msg)
		}
		t.Logf("%d walks under %d concurrent changes, %d still walks with prev(next(page)) checked; %d empty pages",
			walks, rig.changes, len(sorts), rig.emptyPages)
	})
}

// create inserts a row and returns its id ("" on failure, recorded).
func (r *pcRig) create(rng *rand.Rand) string {
	r.mu.Lock()
	r.seq++
	name := pcNames[rng.IntN(len(pcNames))]
	if r.seq%5 == 0 {
		name = fmt.Sprintf("%s %d", name, r.seq)
	}
	r.mu.Unlock()
	body, _ := json.Marshal(map[string]any{"name": name, "module_ids": []string{}, "source": nil, "recipient": nil})
	a := crSend(r.client, "POST", r.base+"/v1/entities", r.admin, body)
	var it pcItem
	if a.err != nil || a.status != 201 || json.Unmarshal(a.body, &it) != nil {
		r.fail("create: %s", a)
		return ""
	}
	r.mu.Lock()
	r.alive[it.ID] = true
	r.mu.Unlock()
	return it.ID
}

func (r *pcRig) fail(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// mutate makes one change: an insert, an update (name and updated_at move) or a delete.
func (r *pcRig) mutate(rng *rand.Rand) {
	op := rng.IntN(3)
	r.mu.Lock()
	r.changes++
	if len(r.volatile) < 5 {
		op = 0
	}
	var id string
	if op > 0 {
		i := rng.IntN(len(r.volatile))
		id = r.volatile[i]
		r.touched[id] = true // before the change can land
		// Out of the pool while the change runs, so that no other mutator picks it meanwhile.
		r.volatile = slices.Delete(r.volatile, i, i+1)
	}
	r.mu.Unlock()
	switch op {
	case 0:
		if id := r.create(rng); id != "" {
			r.mu.Lock()
			r.created[id] = true
			r.volatile = append(r.volatile, id)
			r.mu.Unlock()
		}
	case 1:
		body, _ := json.Marshal(map[string]any{"name": pcNames[rng.IntN(len(pcNames))], "description": fmt.Sprint(rng.Int())})
		if a := crSend(r.client, "PATCH", r.base+"/v1/entities/"+id, r.admin, body); a.err != nil || a.status != 200 {
			r.fail("update %s: %s", id, a)
		}
		r.mu.Lock()
		r.volatile = append(r.volatile, id)
		r.mu.Unlock()
	case 2:
		if a := crSend(r.client, "DELETE", r.base+"/v1/entities/"+id, r.admin, nil); a.err != nil || a.status != 200 {
			r.fail("delete %s: %s", id, a)
		}
		r.mu.Lock()
		delete(r.alive, id)
		r.mu.Unlock()
	}
}

// page fetches one page.
func (r *pcRig) page(query url.Values) (pcPage, bool) {
	var p pcPage
	a := crSend(r.client, "GET", r.base+"/v1/entities?"+query.Encode(), r.admin, nil)
	if a.err != nil || a.status != 200 || json.Unmarshal(a.body, &p) != nil {
		r.fail("GET /v1/entities?%s: %s", query.Encode(), a)
		return p, false
	}
	pg := p.Pagination
	if len(p.Data) == 0 {
		r.mu.Lock()
		r.emptyPages++
		r.mu.Unlock()
	}
	if pg.Count != len(p.Data) || pg.HasNext != (pg.NextCursor != nil) || pg.HasPrev != (pg.PrevCursor != nil) {
		r.fail("GET /v1/entities?%s: inconsistent pagination %+v", query.Encode(), p.Pagination)
	}
	return p, true
}

// walkUnderChange walks sort forward while rows change between pages and concurrently.
// repeatSort sends the sort with every cursor (it must be repeated exactly) instead of leaving
// it to the cursor.
func (r *pcRig) walkUnderChange(sort string, repeatSort bool, rng *rand.Rand) {
	r.mu.Lock()
	before := map[string]bool{}
	for id := range r.alive {
		before[id] = true
	}
	r.touched, r.created = map[string]bool{}, map[string]bool{}
	r.mu.Unlock()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	bg := rand.New(rand.NewPCG(rng.Uint64(), 9))
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			r.mutate(bg)
			time.Sleep(time.Duration(bg.IntN(3)) * time.Millisecond)
		}
	})
	var seen []pcItem
	q := url.Values{"limit": {fmt.Sprint(pcLimit)}, "sort": {sort}}
	for pages := 0; ; pages++ {
		if pages > 1000 {
			r.fail("%s: the walk does not end", sort)
			break
		}
		p, ok := r.page(q)
		if !ok {
			break
		}
		seen = append(seen, p.Data...)
		if !p.Pagination.HasNext {
			break
		}
		for range 3 {
			r.mutate(rng)
		}
		q = url.Values{"limit": {fmt.Sprint(pcLimit)}, "cursor": {*p.Pagination.NextCursor}}
		if repeatSort {
			q.Set("sort", sort)
		}
	}
	close(stop)
	wg.Wait()

	r.mu.Lock()
	defer r.mu.Unlock()
	count := map[string]int{}
	var stableSeen []pcItem
	for _, it := range seen {
		count[it.ID]++
		if before[it.ID] && !r.touched[it.ID] {
			stableSeen = append(stableSeen, it)
		}
		if !before[it.ID] && !r.created[it.ID] {
			r.errs = append(r.errs, fmt.Sprintf("%s: row %s seen but neither there before the walk nor inserted during it", sort, it.ID))
		}
	}
	for id := range before {
		if !r.touched[id] && count[id] != 1 {
			r.errs = append(r.errs, fmt.Sprintf("%s: row %s, unchanged during the walk, seen %d times", sort, id, count[id]))
		}
	}
	for id := range r.created {
		if !r.touched[id] && count[id] > 1 {
			r.errs = append(r.errs, fmt.Sprintf("%s: row %s, inserted during the walk, seen %d times", sort, id, count[id]))
		}
	}
	for i := 1; i < len(stableSeen); i++ {
		if !pcLess(sort, stableSeen[i-1], stableSeen[i]) {
			r.errs = append(r.errs, fmt.Sprintf("%s: unchanged rows out of order: %+v before %+v", sort, stableSeen[i-1], stableSeen[i]))
		}
	}
	for id := range r.stable {
		if r.touched[id] {
			r.errs = append(r.errs, fmt.Sprintf("test bug: stable row %s touched", id))
		}
	}
}

// walkStill walks sort with no change at all: every row once, in order, and each page's
// prev_cursor leads back to exactly the page before it.
func (r *pcRig) walkStill(sort string) {
	var pages []pcPage
	q := url.Values{"limit": {fmt.Sprint(pcLimit)}, "sort": {sort}}
	for len(pages) < 1000 {
		p, ok := r.page(q)
		if !ok {
			return
		}
		pages = append(pages, p)
		if !p.Pagination.HasNext {
			break
		}
		q = url.Values{"limit": {fmt.Sprint(pcLimit)}, "cursor": {*p.Pagination.NextCursor}}
	}
	var all []pcItem
	for _, p := range pages {
		all = append(all, p.Data...)
	}
	r.mu.Lock()
	alive := len(r.alive)
	r.mu.Unlock()
	if len(all) != alive {
		r.fail("%s: still walk saw %d rows, %d exist", sort, len(all), alive)
	}
	for i := 1; i < len(all); i++ {
		if !pcLess(sort, all[i-1], all[i]) {
			r.fail("%s: out of order: %+v before %+v", sort, all[i-1], all[i])
		}
	}
	if pages[0].Pagination.HasPrev {
		r.fail("%s: the first page has a previous page", sort)
	}
	for i := 1; i < len(pages); i++ {
		if pages[i].Pagination.PrevCursor == nil {
			r.fail("%s: page %d has no prev_cursor", sort, i)
			continue
		}
		back, ok := r.page(url.Values{"limit": {fmt.Sprint(pcLimit)}, "cursor": {*pages[i].Pagination.PrevCursor}})
		if !ok {
			continue
		}
		if !slices.Equal(back.ids(), pages[i-1].ids()) {
			r.fail("%s: prev(next(page %d)) = %v, want %v", sort, i-1, back.ids(), pages[i-1].ids())
		}
		if !back.Pagination.HasNext || back.Pagination.HasPrev != (i-1 > 0) {
			r.fail("%s: prev(next(page %d)) says has_next %v has_prev %v", sort, i-1, back.Pagination.HasNext, back.Pagination.HasPrev)
		}
		// And next(prev(page)) comes forward again to the same page.
		if back.Pagination.NextCursor != nil {
			fwd, ok := r.page(url.Values{"limit": {fmt.Sprint(pcLimit)}, "cursor": {*back.Pagination.NextCursor}})
			if ok && !slices.Equal(fwd.ids(), pages[i].ids()) {
				r.fail("%s: next(prev(page %d)) = %v, want %v", sort, i, fwd.ids(), pages[i].ids())
			}
		}
	}
}

// TestPaginationEmptyPagePrevCursor: when the rows after a next_cursor are gone by the time it is
// followed, the page comes back empty, and its prev_cursor (SPEC §6: a cursor is null only when
// there is no such page) leads back to the page the client came from, boundary row included.
func TestPaginationEmptyPagePrevCursor(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		acct := e.account("Empty Page")
		admin := e.key(acct["id"].(string), "admin")
		var ids []string
		for range 3 {
			r := e.must(e.as(admin, "POST", "/v1/entities", map[string]any{"name": "x", "module_ids": []string{}, "source": nil, "recipient": nil}), 201)
			ids = append(ids, r.Obj()["id"].(string))
		}
		slices.Sort(ids)
		first := e.must(e.as(admin, "GET", "/v1/entities?limit=2&sort=id:asc", nil), 200)
		var p pcPage
		if err := json.Unmarshal(first.Body, &p); err != nil || p.Pagination.NextCursor == nil {
			t.Fatalf("first page: %s", first)
		}
		e.must(e.as(admin, "DELETE", "/v1/entities/"+ids[2], nil), 200)
		r := e.must(e.as(admin, "GET", "/v1/entities?limit=2&cursor="+url.QueryEscape(*p.Pagination.NextCursor), nil), 200)
		var empty pcPage
		if err := json.Unmarshal(r.Body, &empty); err != nil || len(empty.Data) != 0 {
			t.Fatalf("want an empty page, got %s", r)
		}
		if empty.Pagination.HasPrev != (empty.Pagination.PrevCursor != nil) {
			t.Fatalf("empty page: has_prev %v but prev_cursor %v", empty.Pagination.HasPrev, empty.Pagination.PrevCursor)
		}
		if empty.Pagination.PrevCursor != nil {
			back := e.must(e.as(admin, "GET", "/v1/entities?limit=2&cursor="+url.QueryEscape(*empty.Pagination.PrevCursor), nil), 200)
			var b pcPage
			_ = json.Unmarshal(back.Body, &b)
			if !slices.Equal(b.ids(), ids[:2]) {
				t.Fatalf("prev of the empty page: %v, want %v", b.ids(), ids[:2])
			}
		}
	})
}
