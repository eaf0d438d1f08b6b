package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestJudgeRounds: a compared target is judged by the median of its rounds' ratios (of an even
// count, the mean of the middle two), not by its first round, nor by their mean, and only
// when every round's own conditions held.
func TestJudgeRounds(t *testing.T) {
	rounds := func(ratios ...float64) []comparedRound {
		var out []comparedRound
		for _, r := range ratios {
			out = append(out, comparedRound{ratio: r, ok: true, detail: fmt.Sprintf("%.2f × (…)", r)})
		}
		return out
	}
	for _, c := range []struct {
		name    string
		rounds  []comparedRound
		bound   float64
		atLeast bool
		median  float64
		met     bool
	}{
		{"five rounds", rounds(1.02, 0.88, 0.93, 0.97, 0.91), 0.90, true, 0.93, true},
		{"the first round alone would miss", rounds(0.85, 0.95, 0.92), 0.90, true, 0.92, true},
		{"the mean would miss", rounds(0.95, 0.70, 0.92), 0.90, true, 0.92, true},
		{"the mean would meet", rounds(0.80, 0.95, 0.85, 0.96, 0.84), 0.90, true, 0.85, false},
		{"even: the mean of the middle two meets at least", rounds(0.86, 1.00, 0.80, 0.95), 0.90, true, 0.905, true},
		{"even: the mean of the middle two misses at most", rounds(0.86, 1.00, 0.80, 0.95), 0.90, false, 0.905, false},
		{"at most: the median misses", rounds(0.90, 1.10, 1.05), 1.0, false, 1.05, false},
		{"at most: the median meets", rounds(1.20, 0.80, 0.95), 1.0, false, 0.95, true},
		{"a round with an error", append(rounds(0.95, 0.96), comparedRound{ratio: 0.97, detail: "0.97 × (…)"}), 0.90, true, 0.96, false},
	} {
		measured, ratios, met := judgeRounds(c.rounds, c.bound, c.atLeast)
		if m := median(ratios); math.Abs(m-c.median) > 1e-9 || met != c.met {
			t.Errorf("%s: median %v, met %v; want %v, %v", c.name, m, met, c.median, c.met)
		}
		if len(ratios) != len(c.rounds) {
			t.Errorf("%s: %d ratios of %d rounds", c.name, len(ratios), len(c.rounds))
		}
		want := fmt.Sprintf("median %.2f × of %d rounds (", c.median, len(c.rounds))
		if !strings.HasPrefix(measured, want) || !strings.Contains(measured, fmt.Sprintf("; round %d: ", len(c.rounds))) {
			t.Errorf("%s: measured %q, want it to start %q and describe every round", c.name, measured, want)
		}
	}
	measured, _, _ := judgeRounds(rounds(1.02, 0.88, 0.93, 0.97, 0.91), 0.9, true)
	if want := "median 0.93 × of 5 rounds (1.02, 0.88, 0.93, 0.97, 0.91, in the order they ran); round 1: 1.02 × (…); round 2: 0.88 × (…)"; !strings.HasPrefix(measured, want) {
		t.Errorf("measured %q, want it to start %q", measured, want)
	}
	// One round: said and judged as before there were rounds.
	for _, c := range []struct {
		round   comparedRound
		atLeast bool
		met     bool
	}{
		{comparedRound{0.91, true, "0.91 × (x)"}, true, true},
		{comparedRound{0.89, true, "0.89 × (x)"}, true, false},
		{comparedRound{0.91, false, "0.91 × (x)"}, true, false},
		{comparedRound{0.89, true, "0.89 × (x)"}, false, true},
	} {
		measured, ratios, met := judgeRounds([]comparedRound{c.round}, 0.9, c.atLeast)
		if measured != c.round.detail || ratios != nil || met != c.met {
			t.Errorf("one round %+v (at least %v): %q, %v, met %v", c.round, c.atLeast, measured, ratios, met)
		}
	}
}

// TestComparedGroups: the rounds repeat, of the scenarios picked, those a compared target
// divides, and rotate each group's order from round to round.
func TestComparedGroups(t *testing.T) {
	writes := []string{"create-entity-no-audit", "create-entity", "create-entity-no-events"}
	pages := []string{"list-page-100", "feed-page-100"}
	for _, c := range []struct {
		picks []string
		want  [][]string
	}{
		{nil, [][]string{writes, pages}},
		{[]string{"create-entity", "list-page-100", "feed-page-100"}, [][]string{writes, pages}},
		{[]string{"create-entity"}, [][]string{writes}},                      // a prefix of its variants' names
		{[]string{"create-entity-no-events", "create-entity-no-audit"}, nil}, // nothing to divide them by
		{[]string{"create-entity-no-events", "feed-page-100"}, nil},
		{[]string{"get-entity", "list-page-100"}, nil},
	} {
		if got := comparedGroups(c.picks); !slices.EqualFunc(got, c.want, slices.Equal) {
			t.Errorf("comparedGroups(%q) = %q, want %q", c.picks, got, c.want)
		}
	}
	for k, want := range [][]string{writes, {"create-entity", "create-entity-no-events", "create-entity-no-audit"},
		{"create-entity-no-events", "create-entity-no-audit", "create-entity"}, writes} {
		if got := rotate(writes, k); !slices.Equal(got, want) {
			t.Errorf("rotate by %d = %q, want %q", k, got, want)
		}
	}
	if !slices.Equal(writes, []string{"create-entity-no-audit", "create-entity", "create-entity-no-events"}) {
		t.Errorf("rotate changed its argument: %q", writes)
	}
	cfg := Config{Accounts: 1, Connections: 1, Duration: time.Second, Rounds: -1}
	if err := cfg.check(); err == nil || !strings.Contains(err.Error(), "--rounds must be at least 1") {
		t.Errorf("Rounds -1: %v", err)
	}
	cfg = Config{Accounts: 1, Connections: 1, Duration: time.Second, Rounds: 3, Scenarios: []string{"get-entity"}}
	if err := cfg.check(); err == nil || !strings.Contains(err.Error(), "--scenarios selects no such pair") {
		t.Errorf("Rounds 3 of get-entity: %v", err)
	}
	cfg = Config{Accounts: 1, Connections: 1, Duration: time.Second}
	if err := cfg.check(); err != nil || cfg.Rounds != 1 {
		t.Errorf("Rounds 0: %v, then %d", err, cfg.Rounds)
	}
}

// TestRounds runs the compared scenarios in three rounds at a tiny size: the normal pass, then
// two more rounds of each group on the same servers, rotated; each compared target carries its
// three ratios, each computed from its own round's measurements, and is judged by their median.
func TestRounds(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out := t.TempDir()
	var progress strings.Builder
	rep, err := Run(ctx, Config{
		Accounts: 3, Entities: 300, Connections: 4, Duration: 300 * time.Millisecond, Rounds: 3,
		Scenarios: []string{"create-entity", "list-page-100", "feed-page-100"},
		Out:       out, Exe: os.Args[0], Env: []string{benchChild + "=1"}, Progress: &progress,
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, progress.String())
	}
	var names []string
	for _, r := range rep.Results {
		names = append(names, r.Scenario)
	}
	if got, want := strings.Join(names, ","), "floor-nodb,floor-select,floor-list,create-entity-no-audit,create-entity,create-entity-no-events,list-page-100,feed-page-100"; got != want {
		t.Errorf("the normal pass ran %s, want %s", got, want)
	}
	orders := []string{
		"create-entity,create-entity-no-events,create-entity-no-audit,feed-page-100,list-page-100",
		"create-entity-no-events,create-entity-no-audit,create-entity,list-page-100,feed-page-100",
	}
	if len(rep.Rounds) != 2 {
		t.Fatalf("%d rounds after the normal pass, want 2", len(rep.Rounds))
	}
	for k, round := range rep.Rounds {
		var names []string
		for _, r := range round.Results {
			names = append(names, r.Scenario)
			if r.Requests == 0 || r.Errors != 0 || r.CPUMicros <= 0 {
				t.Errorf("round %d, %s: %d requests, %d errors (%s), %v µs of server CPU a request", round.Round, r.Scenario, r.Requests, r.Errors, r.FirstError, r.CPUMicros)
			}
			if strings.HasSuffix(r.Scenario, "-page-100") && (r.Pages != r.Requests || r.ItemsPerPage != 100) {
				t.Errorf("round %d, %s: %d pages of %d requests, %v items a page", round.Round, r.Scenario, r.Pages, r.Requests, r.ItemsPerPage)
			}
		}
		if got := strings.Join(names, ","); round.Round != k+2 || got != orders[k] {
			t.Errorf("round %d ran %s, want round %d: %s", round.Round, got, k+2, orders[k])
		}
	}
	// Each target's ratios, recomputed from each round's own results.
	rps := func(a, b *Result) float64 { return a.RPS / b.RPS }
	cpu := func(a, b *Result) float64 { return a.CPUMicros / b.CPUMicros }
	for _, c := range []struct {
		target, num, den string
		ratio            func(a, b *Result) float64
		bound            float64
		atLeast          bool
	}{
		{"create entity with events against without", "create-entity", "create-entity-no-events", rps, eventsRatio, true},
		{"create entity with events and audit against neither", "create-entity", "create-entity-no-audit", rps, auditRatio, true},
		{"a feed page of 100 events against a list page of 100 entities: server CPU per request", "feed-page-100", "list-page-100", cpu, feedPageRatio, false},
	} {
		i := slices.IndexFunc(rep.Targets, func(tg Target) bool { return tg.Target == c.target })
		if i < 0 {
			t.Errorf("no target %q", c.target)
			continue
		}
		tg := rep.Targets[i]
		want := []float64{c.ratio(rep.result(c.num), rep.result(c.den))}
		for _, round := range rep.Rounds {
			want = append(want, c.ratio(round.result(c.num), round.result(c.den)))
		}
		if !slices.Equal(tg.Ratios, want) {
			t.Errorf("%s: ratios %v, want %v", c.target, tg.Ratios, want)
		}
		m := median(want)
		if met := c.atLeast && m >= c.bound || !c.atLeast && m <= c.bound; tg.Met != met {
			t.Errorf("%s: met %v with the median %v against %v", c.target, tg.Met, m, c.bound)
		}
		if !strings.HasPrefix(tg.Measured, fmt.Sprintf("median %.2f × of 3 rounds (", m)) || !strings.Contains(tg.Measured, "; round 3: ") {
			t.Errorf("%s: measured %q", c.target, tg.Measured)
		}
		if c.atLeast && strings.Count(tg.Measured, "µs/req)") != 3 {
			t.Errorf("%s: measured %q, want the server CPU of every round", c.target, tg.Measured)
		}
	}
	// The audit trail alone against neither, reported as a note over the same rounds.
	alone := []float64{rps(rep.result("create-entity-no-events"), rep.result("create-entity-no-audit"))}
	for _, round := range rep.Rounds {
		alone = append(alone, rps(round.result("create-entity-no-events"), round.result("create-entity-no-audit")))
	}
	note := fmt.Sprintf("Not a target: create entity with the audit trail alone (serve --events=false) against neither: median %.2f × of 3 rounds (", median(alone))
	if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.HasPrefix(n, note) }) {
		t.Errorf("notes %q lack %q", rep.Notes, note)
	}
	md := rep.Markdown()
	for _, want := range []string{"Rounds: after the normal pass (round 1), the compared scenarios were measured 2 more times", "| 2 | create entity |", "Note: Not a target: create entity with the audit trail alone",
		"| 3 | event feed, 100 a page |", "of 3 rounds ("} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var js struct {
		Rounds []struct {
			Round   int `json:"round"`
			Results []struct {
				Scenario string  `json:"scenario"`
				CPU      float64 `json:"server_cpu_us_per_request"`
			} `json:"results"`
		} `json:"rounds"`
		Targets []struct {
			Target string    `json:"target"`
			Ratios []float64 `json:"round_ratios"`
		} `json:"targets"`
	}
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatal(err)
	}
	withRatios := 0
	for _, tg := range js.Targets {
		if len(tg.Ratios) == 3 {
			withRatios++
		}
	}
	if len(js.Rounds) != 2 || len(js.Rounds[1].Results) != 5 || js.Rounds[1].Round != 3 || withRatios != 3 {
		t.Errorf("results.json: %d rounds, %d targets with 3 ratios:\n%s", len(js.Rounds), withRatios, b)
	}
}
