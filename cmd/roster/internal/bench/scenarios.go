package bench

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rosterhq/roster"
)

// Scenario groups, which decide what a result is compared with.
const (
	groupFloor = "floor"
	groupRead  = "read"
	groupList  = "list"
	groupWrite = "write"
	groupMix   = "mix"
	groupNoisy = "noisy"
)

// scenario is one timed run against one server.
type scenario struct {
	name   string // as --scenarios names it
	title  string // as the table shows it
	group  string
	server string // FloorNoDB, FloorSelect, FloorList or "roster"
	gen    generator
	// skip, when set, says why the scenario cannot run (say, no cursor could be made).
	skip string
}

// sorts are the entity sorts a client may ask for, each with the direction a list page uses.
var sorts = []struct{ field, param string }{
	{"id", "id:asc"},
	{"name", "name:asc"},
	{"created_at", "created_at:desc"},
	{"updated_at", "updated_at:desc"},
}

// world is what the scenarios draw their requests from.
type world struct {
	d     *dataset
	creds credentials
	// populated lists the accounts that own at least one entity.
	populated []int32
	// deep holds, per sort field, cursors at 90% depth of some accounts' entity lists.
	deep map[string][]deepCursor
	// global holds, per sort field, a superadmin cursor at 90% depth of every entity.
	global map[string]string
	// tied lists the populated accounts whose entities share one updated_at.
	tied []int32
	// quiet is tenant B of the noisy-neighbour scenarios (-1 if no account has entities).
	quiet int32
}

type deepCursor struct {
	account int32
	cursor  string
}

func newWorld(d *dataset, creds credentials) *world {
	w := &world{d: d, creds: creds, deep: map[string][]deepCursor{}, global: map[string]string{}, quiet: -1}
	for j, ents := range d.byAccount {
		if len(ents) > 0 && int32(j) != d.noisy {
			w.populated = append(w.populated, int32(j))
			if d.tied[j] {
				w.tied = append(w.tied, int32(j))
			}
		}
	}
	// Tenant B of the noisy-neighbour scenarios: the populated account with most entities
	// (any account would do; this one is the same in every run of a size).
	for _, j := range w.populated {
		if w.quiet < 0 || len(d.byAccount[j]) > len(d.byAccount[w.quiet]) {
			w.quiet = j
		}
	}
	return w
}

func (w *world) account(r *rand.Rand) int32 { return w.populated[r.IntN(len(w.populated))] }

func (w *world) accountPath(j int32) string {
	return "/v1/accounts/" + roster.KindAccount.Prefixed(w.d.accounts[j].ID)
}

// entity picks a random account and one of its entities.
func (w *world) entity(r *rand.Rand) (int32, int32) {
	j := w.account(r)
	ents := w.d.byAccount[j]
	return j, ents[r.IntN(len(ents))]
}

func randomHex(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return hex.EncodeToString(b)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// The request makers, one per kind of request.

func (w *world) getAccount(r *rand.Rand) request {
	j := w.account(r)
	return request{method: http.MethodGet, path: w.accountPath(j), secret: w.creds.account[j]}
}

func (w *world) getEntity(r *rand.Rand) request {
	j, e := w.entity(r)
	return request{method: http.MethodGet, path: "/v1/entities/" + roster.KindEntity.Prefixed(w.d.entityID(e)), secret: w.creds.account[j]}
}

func (w *world) listFirst(sort string) generator {
	return func(r *rand.Rand) request {
		j := w.account(r)
		return request{method: http.MethodGet, path: "/v1/entities?limit=20&sort=" + sort, secret: w.creds.account[j], items: true}
	}
}

func (w *world) listDeep(field string) generator {
	return func(r *rand.Rand) request {
		cs := w.deep[field]
		c := cs[r.IntN(len(cs))]
		return request{method: http.MethodGet, path: "/v1/entities?limit=20&cursor=" + c.cursor, secret: w.creds.account[c.account], items: true}
	}
}

// worstFilter is the first page of a filter that matches about 0.1% of an account's entities
// (deprecated=true, see dataset.deprecated), sorted by id like the plain first page it is
// compared with: no index leads with the filter, so it is a bounded read.
func (w *world) worstFilter(r *rand.Rand) request {
	j := w.account(r)
	return request{method: http.MethodGet, path: "/v1/entities?limit=20&deprecated=true&sort=id:asc", secret: w.creds.account[j], items: true}
}

// worstTie is the first page of a two-field sort whose first field is one value for every
// entity of the account (updated_at in a tied account): a bounded read of one large group.
func (w *world) worstTie(r *rand.Rand) request {
	j := w.tied[r.IntN(len(w.tied))]
	return request{method: http.MethodGet, path: "/v1/entities?limit=20&sort=updated_at:desc,name:asc", secret: w.creds.account[j], items: true}
}

// noisyList is the costliest request a tenant may send: LeadConduit's list at its largest
// limit, over the noisy tenant's entities at the maximum field sizes (the page is cut under
// 8 MiB, after reading 1,001 rows).
func (w *world) noisyList(*rand.Rand) request {
	return request{method: http.MethodGet, path: "/entities?limit=1000", secret: w.creds.account[w.d.noisy]}
}

// quietGet is tenant B's get entity: one of its own entities, at random.
func (w *world) quietGet(r *rand.Rand) request {
	ents := w.d.byAccount[w.quiet]
	return request{method: http.MethodGet, path: "/v1/entities/" + roster.KindEntity.Prefixed(w.d.entityID(ents[r.IntN(len(ents))])),
		secret: w.creds.account[w.quiet]}
}

func (w *world) listAllFirst(sort string) generator {
	return func(r *rand.Rand) request {
		return request{method: http.MethodGet, path: "/v1/entities?limit=20&sort=" + sort, secret: w.creds.super}
	}
}

func (w *world) listAllDeep(field string) generator {
	return func(r *rand.Rand) request {
		return request{method: http.MethodGet, path: "/v1/entities?limit=20&cursor=" + w.global[field], secret: w.creds.super}
	}
}

type entityBody struct {
	Name        string   `json:"name"`
	ModuleIDs   []string `json:"module_ids"`
	Source      *string  `json:"source"`
	Recipient   *string  `json:"recipient"`
	Description *string  `json:"description,omitempty"`
	Website     *string  `json:"website,omitempty"`
	TimeZone    *string  `json:"time_zone,omitempty"`
	FlowIDs     []string `json:"flow_ids,omitempty"`
}

func (w *world) newEntityBody(r *rand.Rand) entityBody {
	n := r.Uint64()
	b := entityBody{
		Name:      fmt.Sprintf("%s %s %s %d", nameFirst[n%32], nameSecond[n>>8%16], nameThird[n>>16%8], n>>24%100000),
		ModuleIDs: moduleSets[n>>28%3],
		Source:    &roster.EntitySources[n>>32%3],
		Recipient: &roster.EntityRecipients[n>>34%6],
	}
	if n>>40%2 == 0 {
		b.Website = ptr(fmt.Sprintf("https://www.example-%d.com", n>>42%100000))
		b.TimeZone = &timeZones[n>>60%5]
	}
	if n>>41%4 == 0 {
		b.Description = ptr("Created by roster bench")
		b.FlowIDs = []string{randomHex(r, 12)}
	}
	return b
}

func (w *world) putEntity(r *rand.Rand) request {
	j, e := w.entity(r)
	return request{method: http.MethodPut, path: "/v1/entities/" + roster.KindEntity.Prefixed(w.d.entityID(e)),
		body: mustJSON(w.newEntityBody(r)), secret: w.creds.account[j]}
}

func (w *world) patchAccount(r *rand.Rand) request {
	j := w.account(r)
	name := fmt.Sprintf("%s %s", w.d.accounts[j].Name, randomHex(r, 3))
	return request{method: http.MethodPatch, path: w.accountPath(j), body: mustJSON(map[string]string{"name": name}), secret: w.creds.account[j]}
}

func (w *world) createEntity(r *rand.Rand) request {
	j := w.account(r)
	return request{method: http.MethodPost, path: "/v1/entities", body: mustJSON(w.newEntityBody(r)), secret: w.creds.account[j]}
}

// batchRelationships puts 20 distinct entities of one account (fewer if it has fewer) in a
// random role, with a fresh Idempotency-Key.
func (w *world) batchRelationships(r *rand.Rand) request {
	j := w.account(r)
	ents := w.d.byAccount[j]
	k := min(20, len(ents))
	picked := make(map[int32]bool, k)
	ids := make([]string, 0, k)
	for len(ids) < k {
		e := ents[r.IntN(len(ents))]
		if !picked[e] {
			picked[e] = true
			ids = append(ids, roster.KindEntity.Prefixed(w.d.entityID(e)))
		}
	}
	body := mustJSON(map[string]any{"entity_ids": ids, "relationship_type": roster.RelationshipTypes[r.IntN(3)]})
	return request{method: http.MethodPost, path: w.accountPath(j) + "/entity_relationships/batch", body: body,
		secret: w.creds.account[j], idem: randomHex(r, 16)}
}

// mix is 90% reads and 10% writes, in the proportions below.
func (w *world) mix() generator {
	type part struct {
		weight int
		gen    generator
	}
	parts := []part{
		{40, w.getEntity},
		{20, w.getAccount},
		{20, w.listFirst("created_at:desc")},
		{4, w.putEntity},
		{3, w.createEntity},
		{2, w.batchRelationships},
		{1, w.patchAccount},
	}
	if len(w.deep["created_at"]) > 0 {
		parts = append(parts, part{10, w.listDeep("created_at")})
	} else {
		parts[2].weight += 10
	}
	total := 0
	for _, p := range parts {
		total += p.weight
	}
	return func(r *rand.Rand) request {
		n := r.IntN(total)
		for _, p := range parts {
			if n < p.weight {
				return p.gen(r)
			}
			n -= p.weight
		}
		return parts[0].gen(r)
	}
}

// scenarios lists every scenario in the order they run: floors, reads, lists, writes, the mix.
func (w *world) scenarios() []scenario {
	out := []scenario{
		{name: "floor-nodb", title: "floor: net/http, no database", group: groupFloor, server: FloorNoDB,
			gen: func(*rand.Rand) request { return request{method: http.MethodGet, path: "/floor"} }},
		{name: "floor-select", title: "floor: net/http + one primary-key SELECT", group: groupFloor, server: FloorSelect,
			gen: func(r *rand.Rand) request {
				_, e := w.entity(r)
				return request{method: http.MethodGet, path: "/floor/" + w.d.entityID(e)}
			}},
		{name: "floor-list", title: "floor: net/http + one list-page SELECT (20 rows)", group: groupFloor, server: FloorList,
			gen: func(r *rand.Rand) request {
				return request{method: http.MethodGet, path: "/floor-list/" + w.d.accounts[w.account(r)].ID}
			}},
		{name: "get-account", title: "get account", group: groupRead, server: "roster", gen: w.getAccount},
		{name: "get-entity", title: "get entity", group: groupRead, server: "roster", gen: w.getEntity},
	}
	// Each sort's deep page runs right after its first page: their p50s are compared with
	// each other, and on a shared machine two measurements a minute apart can differ by a
	// quarter with nothing changed in between.
	for _, s := range sorts {
		out = append(out, scenario{name: "list-first-" + s.field, title: "list entities, first page, sort=" + s.param,
			group: groupList, server: "roster", gen: w.listFirst(s.param)})
		sc := scenario{name: "list-deep-" + s.field, title: "list entities, 90% deep, sort=" + s.param,
			group: groupList, server: "roster", gen: w.listDeep(s.field)}
		if len(w.deep[s.field]) == 0 {
			sc.skip = "no cursor at 90% depth could be made"
		}
		out = append(out, sc)
		if s.field == "id" {
			// The worst lists, right after the plain first page their p50 is judged against.
			out = append(out, scenario{name: "list-worst-filter", title: "list entities, first page, deprecated=true (0.1% match), sort=id:asc",
				group: groupList, server: "roster", gen: w.worstFilter})
			sc := scenario{name: "list-worst-tie", title: "list entities, first page, sort=updated_at:desc,name:asc, updated_at one value in the account",
				group: groupList, server: "roster", gen: w.worstTie}
			if len(w.tied) == 0 {
				sc.skip = "no account has its entities' updated_at tied (the second of every 50 accounts does)"
			}
			out = append(out, sc)
		}
	}
	for _, s := range sorts {
		out = append(out, scenario{name: "list-all-first-" + s.field, title: "superadmin list of all entities, first page, sort=" + s.param,
			group: groupList, server: "roster", gen: w.listAllFirst(s.param)})
		sc := scenario{name: "list-all-deep-" + s.field, title: "superadmin list of all entities, 90% deep, sort=" + s.param,
			group: groupList, server: "roster", gen: w.listAllDeep(s.field)}
		if w.global[s.field] == "" {
			sc.skip = "no cursor at 90% depth could be made"
		}
		out = append(out, sc)
	}
	out = append(out,
		scenario{name: "put-entity", title: "PUT entity", group: groupWrite, server: "roster", gen: w.putEntity},
		scenario{name: "patch-account", title: "PATCH account (name)", group: groupWrite, server: "roster", gen: w.patchAccount},
		// The cost of the audit trail: the same creations on a roster serve --audit=false, just
		// before the audited ones (which then face the larger table).
		scenario{name: "create-entity-no-audit", title: "create entity, audit trail off (serve --audit=false)", group: groupWrite, server: ServerNoAudit, gen: w.createEntity},
		scenario{name: "create-entity", title: "create entity", group: groupWrite, server: "roster", gen: w.createEntity},
		// Right after create entity, on a roster serve that records no events: what they cost.
		scenario{name: "create-entity-no-events", title: "create entity, events off (serve --events=false)", group: groupWrite, server: serverNoEvents, gen: w.createEntity},
		scenario{name: "batch-relationships", title: "batch relationships (20 ids, fresh Idempotency-Key)", group: groupWrite, server: "roster", gen: w.batchRelationships},
	)
	out = append(out, w.eventScenarios()...) // after the writes, which recorded the events they read
	out = append(out,
		scenario{name: "mix", title: "mix: 90% reads, 10% writes", group: groupMix, server: "roster", gen: w.mix()},
	)
	// The noisy neighbour runs on a roster serve with the default rate limits (noisy.go).
	alone := scenario{name: "noisy-alone", title: "tenant B: get entity at " + strconv.Itoa(quietRate) + "/s, alone (default rate limits)",
		group: groupNoisy, server: "roster-limited", gen: w.quietGet}
	with := scenario{name: "noisy-neighbour", title: "tenant B: get entity at " + strconv.Itoa(quietRate) + "/s, while tenant A floods",
		group: groupNoisy, server: "roster-limited", gen: w.quietGet}
	if w.quiet < 0 || w.d.noisy < 0 {
		alone.skip = "no noisy tenant was seeded"
		with.skip = alone.skip
	}
	return append(out, alone, with)
}

// scenarioNames lists the names --scenarios accepts.
func scenarioNames() []string {
	w := &world{d: &dataset{noisy: -1}, deep: map[string][]deepCursor{}, global: map[string]string{}, quiet: -1}
	var names []string
	for _, s := range w.scenarios() {
		names = append(names, s.name)
	}
	return names
}

// selected reports whether scenario name is picked by the --scenarios list: by its name, or by
// a prefix of whole words ("list-deep" picks every list-deep-*). An empty list picks all.
func selected(name string, picks []string) bool {
	if len(picks) == 0 {
		return true
	}
	for _, p := range picks {
		if p == "all" || p == name || strings.HasPrefix(name, p+"-") {
			return true
		}
	}
	return false
}

// walkDeepCursors walks the entity lists of up to 64 accounts through the server, once per
// sort, and keeps the next_cursor found at 90% of each list: the real cursors a client deep in
// its list would hold.
func (w *world) walkDeepCursors(ctx context.Context, base string) error {
	accounts := slices.Clone(w.populated)
	r := rand.New(rand.NewPCG(7, 7))
	r.Shuffle(len(accounts), func(i, j int) { accounts[i], accounts[j] = accounts[j], accounts[i] })
	accounts = accounts[:min(len(accounts), 64)]
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	work := make(chan int32)
	for range 8 {
		wg.Go(func() {
			c := newClient()
			defer c.CloseIdleConnections()
			for j := range work {
				for _, s := range sorts {
					cur, err := w.walk(ctx, c, base, j, s.param)
					mu.Lock()
					if err != nil && firstErr == nil {
						firstErr = err
					}
					if cur != "" {
						w.deep[s.field] = append(w.deep[s.field], deepCursor{account: j, cursor: cur})
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, j := range accounts {
		work <- j
	}
	close(work)
	wg.Wait()
	return firstErr
}

// walk pages through account j's entities in sort order, 100 at a time, and returns the cursor
// that starts the page at 90% of them ("" when the account has too few entities for one).
func (w *world) walk(ctx context.Context, c *http.Client, base string, j int32, sort string) (string, error) {
	target := len(w.d.byAccount[j]) * 9 / 10
	if target == 0 {
		return "", nil
	}
	seen, cursor := 0, ""
	for seen < target {
		limit := min(100, target-seen)
		path := "/v1/entities?limit=" + strconv.Itoa(limit)
		if cursor == "" {
			path += "&sort=" + sort
		} else {
			path += "&cursor=" + cursor
		}
		status, body, err := do(ctx, c, base, request{method: http.MethodGet, path: path, secret: w.creds.account[j]})
		if err != nil {
			return "", err
		}
		if status != http.StatusOK {
			return "", fmt.Errorf("walking to 90%% depth: GET %s: %d %s", path, status, truncate(string(body), 300))
		}
		var page struct {
			Data       []json.RawMessage `json:"data"`
			Pagination struct {
				NextCursor *string `json:"next_cursor"`
			} `json:"pagination"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return "", fmt.Errorf("walking to 90%% depth: GET %s: %w", path, err)
		}
		if page.Pagination.NextCursor == nil || len(page.Data) == 0 {
			return "", nil
		}
		seen += len(page.Data)
		cursor = *page.Pagination.NextCursor
	}
	return cursor, nil
}

// globalCursors makes, for each sort, a superadmin cursor at 90% of all the seeded entities.
// A walk there would take thousands of requests, so the cursor is made from the seeded rows
// the way the server makes one (base64url JSON of the sort, the caller and the boundary row's
// values, see page.go); check then asks the server for the page after it and keeps the cursor
// only if the server takes it and answers the expected row first.
func (w *world) globalCursors(ctx context.Context, base string) error {
	d := w.d
	n := len(d.ids)
	if n < 10 {
		return nil
	}
	c := newClient()
	defer c.CloseIdleConnections()
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	byID := func(a, b int32) int { return slices.Compare(d.ids[a][:], d.ids[b][:]) }
	var names []string
	var firstErr error
	for _, s := range sorts {
		var order func(a, b int32) int
		var values func(i int32) []string
		switch s.field {
		case "id":
			order = byID
			values = func(i int32) []string { return []string{d.entityID(i)} }
		case "name":
			if names == nil {
				names = make([]string, n)
				for i := range names {
					names[i] = d.entityName(int32(i))
				}
			}
			order = func(a, b int32) int { return cmp.Or(strings.Compare(names[a], names[b]), byID(a, b)) }
			values = func(i int32) []string { return []string{names[i], d.entityID(i)} }
		case "created_at":
			order = func(a, b int32) int { return cmp.Or(cmp.Compare(d.created[b], d.created[a]), byID(a, b)) }
			values = func(i int32) []string { return []string{strconv.FormatInt(d.created[i], 10), d.entityID(i)} }
		case "updated_at":
			order = func(a, b int32) int { return cmp.Or(cmp.Compare(d.updated[b], d.updated[a]), byID(a, b)) }
			values = func(i int32) []string { return []string{strconv.FormatInt(d.updated[i], 10), d.entityID(i)} }
		}
		slices.SortFunc(idx, order)
		at := n * 9 / 10
		full, err := roster.EntityListing.ParseSort(s.param)
		if err != nil {
			return err
		}
		tok := base64.RawURLEncoding.EncodeToString(mustJSON(struct {
			Sort    string   `json:"s"`
			Account string   `json:"a"`
			Values  []string `json:"v"`
		}{full.String(), "*", values(idx[at-1])}))
		status, body, err := do(ctx, c, base, request{method: http.MethodGet, path: "/v1/entities?limit=1&cursor=" + tok, secret: w.creds.super})
		want := roster.KindEntity.Prefixed(d.entityID(idx[at]))
		var page struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		switch {
		case err != nil:
		case status != http.StatusOK:
			err = fmt.Errorf("a superadmin cursor at 90%% depth, sort=%s: %d %s", s.param, status, truncate(string(body), 300))
		case json.Unmarshal(body, &page) != nil || len(page.Data) != 1 || page.Data[0].ID != want:
			err = fmt.Errorf("a superadmin cursor at 90%% depth, sort=%s: expected %s first, got %s", s.param, want, truncate(string(body), 300))
		}
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		w.global[s.field] = tok
	}
	return firstErr
}

// prepContext bounds a preparation step (a walk to 90% depth): it gets a minute.
func prepContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, time.Minute)
}

// ScenarioNames lists the scenarios, in the order they run.
func ScenarioNames() []string { return scenarioNames() }
