package bench

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/app"
	"github.com/rosterhq/roster/store"
)

// The bench starts its servers as child processes of a roster binary. In these tests the test
// binary plays that binary: run with benchChild set, it serves what the bench asks for (roster
// serve through app, as the CLI does, or a floor) instead of running the tests.
const benchChild = "ROSTER_BENCH_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(benchChild) == "1" {
		if err := playRoster(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func playRoster(args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	switch {
	case len(args) > 0 && args[0] == "serve":
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		addr := fs.String("addr", "127.0.0.1:0", "")
		database := fs.String("database", "", "")
		rate := fs.Float64("rate-limit", 100, "")
		inFlight := fs.Int("max-in-flight", 8, "")
		events := fs.Bool("events", true, "")
		audit := fs.Bool("audit", true, "")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		a, err := app.New(ctx, app.Config{Addr: *addr, Database: *database, Notice: os.Stderr, RateLimit: api.RateLimit{Rate: *rate, Burst: 200}, MaxInFlight: *inFlight,
			NoEvents: !*events, NoAudit: !*audit})
		if err != nil {
			return err
		}
		return a.Serve(ctx, nil)
	case len(args) > 1 && args[0] == "bench" && args[1] == "serve-floor":
		fs := flag.NewFlagSet("serve-floor", flag.ContinueOnError)
		kind := fs.String("kind", "", "")
		database := fs.String("database", "", "")
		addr := fs.String("addr", "127.0.0.1:0", "")
		if err := fs.Parse(args[2:]); err != nil {
			return err
		}
		return ServeFloor(ctx, *kind, *database, *addr, os.Stderr)
	default:
		return fmt.Errorf("unexpected arguments %q", args)
	}
}

// TestRun seeds a tiny SQLite database, runs the floors and two scenarios against child
// servers for half a second each, and checks what the bench reports and writes.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := t.TempDir()
	var progress strings.Builder
	rep, err := Run(ctx, Config{
		Accounts: 5, Entities: 500, Relationships: 700, Connections: 4,
		Duration: 500 * time.Millisecond, Scenarios: []string{"get-entity", "list-deep-name"},
		Out: out, Exe: os.Args[0], Env: []string{benchChild + "=1"}, Progress: &progress,
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, progress.String())
	}
	if rep.Seed.Entities != 500 || rep.Seed.Relationships != 700 || rep.Seed.Keys != 6 {
		t.Errorf("seed = %+v", rep.Seed)
	}
	var names []string
	for _, r := range rep.Results {
		names = append(names, r.Scenario)
		if r.Skipped != "" {
			t.Errorf("%s skipped: %s", r.Scenario, r.Skipped)
			continue
		}
		if r.Requests == 0 || r.RPS <= 0 || r.P50Ms <= 0 || r.P99Ms < r.P50Ms {
			t.Errorf("%s: implausible result %+v", r.Scenario, r)
		}
		if r.Errors != 0 {
			t.Errorf("%s: %d errors, first: %s", r.Scenario, r.Errors, r.FirstError)
		}
	}
	if got := strings.Join(names, ","); got != "floor-nodb,floor-select,floor-list,get-entity,list-deep-name" {
		t.Errorf("scenarios run = %s", got)
	}
	// Every roster scenario is divided by the floor measured just before it.
	for _, name := range []string{"get-entity", "list-deep-name"} {
		r := rep.result(name)
		if r.FloorRPS <= 0 || math.Abs(r.Ratio-r.RPS/r.FloorRPS) > 1e-9 {
			t.Errorf("%s: ratio %v with adjacent floor %v req/s and %v req/s", name, r.Ratio, r.FloorRPS, r.RPS)
		}
	}
	if rep.result("floor-select").Ratio != 1 {
		t.Errorf("the select floor's ratio to itself = %v", rep.result("floor-select").Ratio)
	}
	if rep.ServerPeakRSS <= 0 {
		t.Errorf("server peak RSS = %d", rep.ServerPeakRSS)
	}
	// Half a second of load on two cores uses far more than one 10 ms tick of server CPU.
	for _, name := range []string{"floor-select", "floor-list", "get-entity"} {
		if r := rep.result(name); r.CPUMicros <= 0 || r.CPUMicros > 1e6 {
			t.Errorf("%s: server CPU per request = %v µs", name, r.CPUMicros)
		}
	}
	for _, f := range []string{"results.json", "results.md"} {
		if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	// Progress while each scenario runs, not only after it.
	for _, want := range []string{"  get-entity: warm-up ", "  get-entity: measuring ", "  list-deep-name: adjacent floor ", " requests, 0 errors"} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("the progress lacks %q:\n%s", want, progress.String())
		}
	}
	md := rep.Markdown()
	for _, want := range []string{"| get entity |", "| list entities, 90% deep, sort=name:asc |", "| target | wanted | measured | met |", "Targets met: ", "server CPU µs/req", "adjacent floor req/s",
		"| floor: net/http + one list-page SELECT (20 rows) |", "; the list-page floor: "} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// TestFeedAndListPages: list-page-100 and feed-page-100, run alone, compare pages alike: 100
// entities against 100 events of the same accounts (the feeds were filled to 100 first; they
// held one event each, the account key's creation, and the feed page one item).
func TestFeedAndListPages(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var progress strings.Builder
	rep, err := Run(ctx, Config{
		Accounts: 3, Entities: 600, Connections: 4,
		Duration: 500 * time.Millisecond, Scenarios: []string{"list-page-100", "feed-page-100"},
		Exe: os.Args[0], Env: []string{benchChild + "=1"}, Progress: &progress,
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, progress.String())
	}
	for _, name := range []string{"list-page-100", "feed-page-100"} {
		r := rep.result(name)
		if r == nil {
			t.Fatalf("%s did not run:\n%s", name, progress.String())
		}
		if r.Errors != 0 || r.Pages == 0 || r.Pages != r.Requests || r.ItemsPerPage != 100 {
			t.Errorf("%s: %d errors, %d pages of %d requests, %v items a page", name, r.Errors, r.Pages, r.Requests, r.ItemsPerPage)
		}
	}
	var target *Target
	for i, tg := range rep.Targets {
		if strings.HasPrefix(tg.Target, "a feed page of 100 events against a list page of 100 entities") {
			target = &rep.Targets[i]
		}
	}
	if target == nil || !strings.Contains(target.Measured, "; 100 against 100 items a page)") {
		t.Errorf("feed page target = %+v", target)
	}
	// One round (the default): no rounds, the target judged by its one ratio.
	if target != nil && (target.Ratios != nil || strings.Contains(target.Measured, "median") || len(rep.Rounds) != 0) {
		t.Errorf("one round: feed page target = %+v, %d rounds", target, len(rep.Rounds))
	}
	if md := rep.Markdown(); !strings.Contains(md, "entities were created so that every feed they read holds 100 events") {
		t.Errorf("the report does not say the feeds were filled:\n%s", md)
	}
}

// TestDeepFollowsFirst: a deep page's p50 is judged against its first page's, so the two run
// one after the other.
func TestDeepFollowsFirst(t *testing.T) {
	names := ScenarioNames()
	at := map[string]int{}
	for i, n := range names {
		at[n] = i
	}
	for _, prefix := range []string{"list-", "list-all-"} {
		for _, s := range sorts {
			first, ok1 := at[prefix+"first-"+s.field]
			deep, ok2 := at[prefix+"deep-"+s.field]
			if !ok1 || !ok2 || deep != first+1 {
				t.Errorf("%sdeep-%s at %d, its first page at %d (found %v %v): %v", prefix, s.field, deep, first, ok1, ok2, names)
			}
		}
	}
}

func TestSelected(t *testing.T) {
	for _, c := range []struct {
		name  string
		picks []string
		want  bool
	}{
		{"get-entity", nil, true},
		{"get-entity", []string{"get-entity"}, true},
		{"list-deep-name", []string{"list-deep"}, true},
		{"list-deep-name", []string{"list"}, true},
		{"list-all-deep-name", []string{"list-deep"}, false},
		{"get-entity", []string{"get-ent"}, false},
	} {
		if got := selected(c.name, c.picks); got != c.want {
			t.Errorf("selected(%q, %q) = %v", c.name, c.picks, got)
		}
	}
}

func TestDataset(t *testing.T) {
	d := newDataset(time.Now(), 7, 1000, 2500)
	seen := map[string]bool{}
	n := 0
	for e := range d.entities() {
		if seen[e.ID] {
			t.Fatalf("duplicate id %s", e.ID)
		}
		seen[e.ID] = true
		if e.UpdatedAt.Before(e.CreatedAt) || !e.CreatedAt.Before(d.now) {
			t.Fatalf("entity %s: created %v updated %v", e.ID, e.CreatedAt, e.UpdatedAt)
		}
		n++
	}
	rels, pairs := 0, map[string]bool{}
	for r := range d.relationshipSeq() {
		k := r.EntityID + r.Type
		if pairs[k] {
			t.Fatalf("duplicate relationship %s", k)
		}
		pairs[k] = true
		rels++
	}
	if n != 1000 || rels != 2500 {
		t.Errorf("%d entities, %d relationships", n, rels)
	}
	total := 0
	for _, ents := range d.byAccount {
		total += len(ents)
	}
	if total != 1000 {
		t.Errorf("byAccount holds %d entities", total)
	}
}

// TestListFloor checks that the list-page floor reads what roster's per-account list reads:
// the account's first 20 entities by name, then id, with every column.
func TestListFloor(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	database := "sqlite:" + filepath.Join(t.TempDir(), "floor.db")
	d := newDataset(time.Now(), 2, 120, 0)
	st, err := store.Open(ctx, database)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := seed(ctx, st, d, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	notice := &addrWriter{addr: make(chan string, 1)}
	served := make(chan error, 1)
	sctx, stop := context.WithCancel(ctx)
	go func() { served <- ServeFloor(sctx, FloorList, database, "127.0.0.1:0", notice) }()
	var base string
	select {
	case base = <-notice.addr:
	case err := <-served:
		stop()
		t.Fatalf("ServeFloor ended before listening: %v", err)
	}
	defer func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("ServeFloor: %v", err)
		}
	}()
	account := d.accounts[0].ID
	resp, err := http.Get(base + "/floor-list/" + account)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, decode: %v", resp.StatusCode, err)
	}
	if len(page.Data) != 20 {
		t.Fatalf("%d rows, want 20", len(page.Data))
	}
	for i, e := range page.Data {
		if len(e) != 18 || e["account_id"] != account {
			t.Errorf("row %d: %d columns, account %v: %v", i, len(e), e["account_id"], e)
		}
		if i > 0 {
			prev := page.Data[i-1]
			if pn, n := prev["name"].(string), e["name"].(string); pn > n || pn == n && prev["id"].(string) >= e["id"].(string) {
				t.Errorf("rows %d and %d out of (name, id) order: %v, %v", i-1, i, prev, e)
			}
		}
	}
}

// addrWriter takes the address a server announces as "roster: listening on http://ADDR".
type addrWriter struct{ addr chan string }

func (w *addrWriter) Write(p []byte) (int, error) {
	if _, a, ok := strings.Cut(strings.TrimSpace(string(p)), "listening on "); ok {
		select {
		case w.addr <- a:
		default:
		}
	}
	return len(p), nil
}

// TestWorstListsAndNoisyNeighbour runs the scenarios of issue 16 at a tiny size: the worst
// lists next to the plain first page, and tenant B alone and beside a flooding tenant A on a
// server with the default rate limits. It checks that they ran and what the report says of
// them, not how fast they were.
func TestWorstListsAndNoisyNeighbour(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var progress strings.Builder
	rep, err := Run(ctx, Config{
		Accounts: 5, Entities: 1000, Relationships: 0, Connections: 4, NoisyEntities: 200, NoisyConnections: 2,
		Duration: 500 * time.Millisecond, Scenarios: []string{"list-first-id", "list-worst", "noisy"},
		Exe: os.Args[0], Env: []string{benchChild + "=1"}, Progress: &progress,
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, progress.String())
	}
	if rep.Seed.Accounts != 5 || rep.Seed.Entities != 1000 || rep.Seed.NoisyEntities != 200 || rep.Seed.Keys != 7 {
		t.Errorf("seed = %+v", rep.Seed)
	}
	var names []string
	for _, r := range rep.Results {
		names = append(names, r.Scenario)
		if r.Skipped != "" {
			t.Errorf("%s skipped: %s", r.Scenario, r.Skipped)
			continue
		}
		if r.Requests == 0 || r.P50Ms <= 0 || r.P99Ms < r.P50Ms || r.Errors != 0 {
			t.Errorf("%s: implausible result %+v\n%s", r.Scenario, r, progress.String())
		}
	}
	want := "floor-nodb,floor-select,floor-list,list-first-id,list-worst-filter,list-worst-tie,noisy-alone,noisy-neighbour,noisy-tenant"
	if got := strings.Join(names, ","); got != want {
		t.Fatalf("scenarios run = %s, want %s", got, want)
	}
	// Every page of the plain list is full; the worst ones may be short, never longer.
	for _, name := range []string{"list-first-id", "list-worst-filter", "list-worst-tie"} {
		r := rep.result(name)
		if r.Pages != r.Requests || r.ItemsPerPage < 0 || r.ItemsPerPage > 20 || name == "list-first-id" && r.ItemsPerPage != 20 {
			t.Errorf("%s: %d pages of %d requests, %v items a page", name, r.Pages, r.Requests, r.ItemsPerPage)
		}
	}
	// Tenant B sends quietRate requests a second, alone and beside A, and none is refused.
	for _, name := range []string{"noisy-alone", "noisy-neighbour"} {
		r := rep.result(name)
		if wantN := int(quietRate * 0.5); r.Requests != wantN || r.Statuses["200"] != wantN {
			t.Errorf("%s: %d requests, statuses %v; want %d answered 200", name, r.Requests, r.Statuses, wantN)
		}
	}
	// Tenant A's pages were answered (200) or refused by the rate limit (429), nothing else.
	a := rep.result("noisy-tenant")
	if a.Statuses["200"] == 0 || a.Statuses["200"]+a.Limited != a.Requests || a.Statuses["429"] != a.Limited {
		t.Errorf("tenant A: %d requests, %d limited, statuses %v", a.Requests, a.Limited, a.Statuses)
	}
	targets := map[string]Target{}
	for _, tg := range rep.Targets {
		targets[tg.Target] = tg
	}
	for _, name := range []string{
		"list entities, first page, deprecated=true (0.1% match), sort=id:asc: p50 against the plain first page's (sort=id:asc)",
		"list entities, first page, sort=updated_at:desc,name:asc, updated_at one value in the account: p50 against the plain first page's (sort=id:asc)",
		"tenant B's get entity p99 while tenant A floods, against B alone",
	} {
		tg, ok := targets[name]
		if !ok || tg.Wanted != "≤ 2 ×" || !strings.Contains(tg.Measured, " × (") {
			t.Errorf("target %q = %+v (present %v)", name, tg, ok)
		}
	}
	md := rep.Markdown()
	for _, want := range []string{"| list entities, first page, deprecated=true (0.1% match), sort=id:asc |", "| tenant B: get entity at 80/s, while tenant A floods |",
		"| tenant A: LeadConduit GET /entities?limit=1000", "Items a page held on average", "default rate limits", "| target | wanted | measured | met |", "Targets met: "} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// TestWorstData checks the data the worst lists and the noisy tenant rely on: about 0.1% of
// every account's entities deprecated (at least one), every entity of a tied account updated
// at one instant after all their creations, and the noisy tenant's entities at the SPEC §8
// maximum sizes.
func TestWorstData(t *testing.T) {
	d := newDataset(time.Now(), 60, 30000, 0)
	d.addNoisy(10)
	tied := 0
	for j, ents := range d.byAccount {
		if int32(j) == d.noisy {
			continue
		}
		dep := 0
		for _, e := range ents {
			if d.entity(e).Deprecated {
				dep++
			}
		}
		if want := max(1, (len(ents)+500)/1000); dep != want {
			t.Errorf("account %d: %d of %d entities deprecated, want %d", j, dep, len(ents), want)
		}
		if !d.tied[j] {
			continue
		}
		tied++
		at := d.entity(ents[0]).UpdatedAt
		for _, i := range ents {
			e := d.entity(i)
			if !e.UpdatedAt.Equal(at) || e.UpdatedAt.Before(e.CreatedAt) || !e.UpdatedAt.Before(d.now) {
				t.Fatalf("tied account %d: entity %s created %v updated %v, the account's %v", j, e.ID, e.CreatedAt, e.UpdatedAt, at)
			}
		}
	}
	if tied != 2 {
		t.Errorf("%d tied accounts of 60, want 2", tied)
	}
	if len(d.byAccount[d.noisy]) != 10 || len(d.ids) != 30010 || d.normal != 30000 {
		t.Fatalf("noisy tenant: %d entities, %d in all", len(d.byAccount[d.noisy]), len(d.ids))
	}
	e := d.entity(d.byAccount[d.noisy][3])
	if n := utf8.RuneCountInString(*e.Description); n != 5000 {
		t.Errorf("description of %d characters", n)
	}
	if len(e.Name) != 200 || len(e.ModuleIDs) != 50 || len(e.ModuleIDs[49]) != 64 || len(e.FlowIDs) != 500 || len(*e.LogoURL) != 2048 || len(*e.Website) != 2048 {
		t.Errorf("heavy entity: name %d, %d modules, %d flows, logo %d, website %d", len(e.Name), len(e.ModuleIDs), len(e.FlowIDs), len(*e.LogoURL), len(*e.Website))
	}
	for _, f := range e.FlowIDs {
		if _, err := hex.DecodeString(f); err != nil || len(f) != 24 {
			t.Fatalf("flow id %q", f)
		}
	}
}
