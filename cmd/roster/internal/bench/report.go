package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Report is the outcome of a run, as results.json holds it.
type Report struct {
	Started       time.Time `json:"started"`
	Finished      time.Time `json:"finished"`
	Revision      string    `json:"revision,omitempty"`
	Engine        string    `json:"engine"`
	Database      string    `json:"database"`
	Machine       Machine   `json:"machine"`
	Sizes         Sizes     `json:"sizes"`
	Seed          SeedStats `json:"seed"`
	Results       []Result  `json:"results"`
	ServerPeakRSS int64     `json:"server_peak_rss_bytes"`
	Targets       []Target  `json:"targets"`
	// Rounds are the compared scenarios measured again after the normal pass (round 1), one
	// entry a round (Config.Rounds); none with one round.
	Rounds []Round  `json:"rounds,omitempty"`
	Notes  []string `json:"notes,omitempty"`
}

// Sizes are the run's parameters.
type Sizes struct {
	Accounts      int     `json:"accounts"`
	Entities      int     `json:"entities"`
	Relationships int     `json:"relationships"`
	Connections   int     `json:"connections"`
	DurationSec   float64 `json:"duration_seconds"`
}

// Result is one scenario's measurement.
type Result struct {
	Scenario string `json:"scenario"`
	Title    string `json:"title"`
	Group    string `json:"group"`
	Server   string `json:"server"`
	Requests int    `json:"requests"`
	// Errors counts non-2xx answers and transport errors.
	Errors  int     `json:"errors"`
	Seconds float64 `json:"seconds"`
	RPS     float64 `json:"requests_per_second"`
	P50Ms   float64 `json:"p50_ms"`
	P99Ms   float64 `json:"p99_ms"`
	P999Ms  float64 `json:"p99_9_ms"`
	MaxMs   float64 `json:"max_ms"`
	Ratio   float64 `json:"ratio_to_select_floor"`
	// FloorRPS is the one-SELECT floor measured just before this scenario (half its duration);
	// Ratio divides by it when there is one, else by the floor measured at the start.
	FloorRPS   float64        `json:"adjacent_select_floor_rps,omitempty"`
	Statuses   map[string]int `json:"statuses,omitempty"`
	FirstError string         `json:"first_error,omitempty"`
	// CPUMicros is the server's CPU time (user and system) per request while measured: unlike
	// req/s, it does not move when the load generator or a neighbour takes the cores.
	CPUMicros float64 `json:"server_cpu_us_per_request,omitempty"`
	// PeakRSS is the peak resident set of the server so far, when the scenario ended.
	PeakRSS int64  `json:"server_peak_rss_bytes,omitempty"`
	Skipped string `json:"skipped,omitempty"`
	// Pages counts the successful native list pages whose items were counted, and
	// ItemsPerPage is how many items they held on average: a bounded read may answer a short
	// page (SPEC §6).
	Pages        int     `json:"list_pages,omitempty"`
	ItemsPerPage float64 `json:"items_per_page"`
	// Limited counts the 429 answers of the noisy tenant (not counted in Errors: they are the
	// rate limit at work).
	Limited int `json:"rate_limited,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (r *Result) fill(lr loadResult) {
	r.Requests, r.Errors, r.Seconds, r.RPS = lr.requests, lr.errors, lr.elapsed.Seconds(), lr.rate()
	r.P50Ms, r.P99Ms, r.P999Ms = ms(lr.percentile(0.50)), ms(lr.percentile(0.99)), ms(lr.percentile(0.999))
	if n := len(lr.latencies); n > 0 {
		r.MaxMs = ms(lr.latencies[n-1])
	}
	r.Statuses, r.FirstError = lr.statusCounts(), lr.sample
	r.Pages = lr.pages
	if lr.pages > 0 {
		r.ItemsPerPage = float64(lr.items) / float64(lr.pages)
	}
}

// The targets a run is checked against (TargetsHelp states them; finish checks them). They are
// set for SQLite, 1,000,000 entities and 32 connections on the project's 2-core machine.
const (
	readFloorRatio = 0.6  // get account, get entity: req/s against the one-SELECT floor's
	listFloorRatio = 0.35 // every entity list page, first and 90% deep
	deepP50Ratio   = 1.2  // a 90%-deep page's p50 against the first page's, per sort
	worstP50Ratio  = 2.0  // the worst lists' p50 against the plain first page's
	noisyP99Ratio  = 2.0  // tenant B's p99 while tenant A floods, against B alone
	writesPerSec   = 3000 // acknowledged writes a second, create entity and batch relationships
	writeP99Ms     = 30.0
	peakRSSMiB     = 150
	eventsRatio    = 0.9   // create entity with events: req/s against the same without them
	auditRatio     = 0.85  // create entity with events and audit: req/s against the same with neither
	feedLagP99Ms   = 100.0 // commit to a long-poll or SSE consumer, p99, at 1,000 writes/s
	feedPageRatio  = 1.0   // a feed page of 100 events: server CPU per request against a list page of 100 entities
)

// TargetsHelp states the targets, for roster bench --help and the report.
func TargetsHelp() string {
	return fmt.Sprintf(`Targets (set for SQLite, 1,000,000 entities and 32 connections; every run is checked against them):
  get account, get entity             ≥ %.2f × the one-SELECT floor's req/s
  every entity list page              ≥ %.2f × that floor (first and 90%% deep; per account and superadmin; each sort)
  a 90%%-deep page                     p50 ≤ %.1f × the first page's, per sort
  the worst lists                     p50 ≤ %.0f × the plain first page's (a 0.1%% filter; a tie on updated_at)
  a noisy neighbour                   tenant B's get entity p99 ≤ %.0f × B alone while tenant A floods
  create entity, batch relationships  ≥ %s acknowledged writes/s, p99 < %.0f ms
  create entity with events           ≥ %.2f × the req/s of create entity with them off (serve --events=false), same run
  create entity with the audit trail  ≥ %.2f × the req/s with neither events nor audit (serve --audit=false --events=false), same run
  commit to a feed consumer           p99 < %.0f ms for a long poll and for an SSE stream at 1,000 writes/s, none missing
  a feed page of 100 events           server CPU per request ≤ %.1f × a list page of 100 entities
  roster serve                        peak RSS < %d MiB through the run
  errors                              none (non-2xx or transport) in any scenario
The three comparisons (events, the audit trail, the feed page) are judged by the median of their ratios over --rounds N alternated rounds (5 by default). The run also notes, as no target, creates with the audit trail alone (serve --events=false) against neither.
`, readFloorRatio, listFloorRatio, deepP50Ratio, worstP50Ratio, noisyP99Ratio, thousands(writesPerSec), writeP99Ms, eventsRatio, auditRatio, feedLagP99Ms, feedPageRatio, peakRSSMiB)
}

// Target is one of the targets, checked against this run.
type Target struct {
	Target   string `json:"target"`
	Wanted   string `json:"wanted"`
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
	// Ratios are the ratios of a compared target's rounds, the normal pass first, when the run
	// had more than one (Config.Rounds); the target is judged by their median.
	Ratios []float64 `json:"round_ratios,omitempty"`
}

func (rep *Report) result(name string) *Result {
	for i := range rep.Results {
		if rep.Results[i].Scenario == name && rep.Results[i].Skipped == "" {
			return &rep.Results[i]
		}
	}
	return nil
}

// finish computes the ratios to the select floor and checks the targets.
func (rep *Report) finish() {
	floor := rep.result("floor-select")
	for i := range rep.Results {
		r := &rep.Results[i]
		switch {
		case r.Group == groupNoisy:
			// A fixed-rate load: its req/s say nothing about the server.
		case r.FloorRPS > 0:
			r.Ratio = r.RPS / r.FloorRPS
		case floor != nil && floor.RPS > 0:
			r.Ratio = r.RPS / floor.RPS
		}
	}
	var ts []Target
	add := func(target, wanted, measured string, met bool) {
		ts = append(ts, Target{Target: target, Wanted: wanted, Measured: measured, Met: met})
	}
	listFloor := rep.result("floor-list")
	ratio := func(name string, least float64) {
		if r := rep.result(name); r != nil && floor != nil {
			measured := fmt.Sprintf("%.2f × (%.0f req/s)", r.Ratio, r.RPS)
			// The list-page floor reads what a per-account list reads; superadmin lists read
			// the same few rows on every request and are not bounded by it.
			if strings.HasPrefix(name, "list-") && !strings.HasPrefix(name, "list-all-") && listFloor != nil {
				measured += fmt.Sprintf("; the list-page floor: %.2f ×", listFloor.Ratio)
			}
			add(r.Title, fmt.Sprintf("≥ %.2f × floor", least), measured, r.Ratio >= least && r.Errors == 0)
		}
	}
	ratio("get-account", readFloorRatio)
	ratio("get-entity", readFloorRatio)
	for _, prefix := range []string{"list-", "list-all-"} {
		for _, s := range sorts {
			ratio(prefix+"first-"+s.field, listFloorRatio)
			ratio(prefix+"deep-"+s.field, listFloorRatio)
		}
	}
	for _, prefix := range []string{"list-", "list-all-"} {
		for _, s := range sorts {
			first, deep := rep.result(prefix+"first-"+s.field), rep.result(prefix+"deep-"+s.field)
			if first == nil || deep == nil {
				continue
			}
			measured := fmt.Sprintf("%.2f × (%.2f ms against %.2f ms)", deep.P50Ms/first.P50Ms, deep.P50Ms, first.P50Ms)
			if deep.FloorRPS > 0 && first.FloorRPS > 0 {
				// The machine's own drift between the two, for the reader to weigh.
				measured += fmt.Sprintf("; adjacent floors %s and %s req/s", thousands(int(deep.FloorRPS+0.5)), thousands(int(first.FloorRPS+0.5)))
			}
			add(deep.Title+": p50 against the first page's", fmt.Sprintf("≤ %.1f ×", deepP50Ratio), measured, deep.P50Ms <= deepP50Ratio*first.P50Ms)
		}
	}
	// The worst lists against the plain first page, measured just before them.
	if plain := rep.result("list-first-id"); plain != nil {
		for _, name := range []string{"list-worst-filter", "list-worst-tie"} {
			r := rep.result(name)
			if r == nil {
				continue
			}
			measured := fmt.Sprintf("%.2f × (%.2f ms against %.2f ms); %.1f items a page against %.1f", r.P50Ms/plain.P50Ms, r.P50Ms, plain.P50Ms,
				r.ItemsPerPage, plain.ItemsPerPage)
			add(r.Title+": p50 against the plain first page's (sort=id:asc)", fmt.Sprintf("≤ %.0f ×", worstP50Ratio), measured, r.P50Ms <= worstP50Ratio*plain.P50Ms && r.Errors == 0)
		}
	}
	if alone, with, noisy := rep.result("noisy-alone"), rep.result("noisy-neighbour"), rep.result("noisy-tenant"); alone != nil && with != nil && noisy != nil {
		measured := fmt.Sprintf("%.2f × (%.2f ms against %.2f ms alone); tenant A: %.1f answers/s, %d refused with 429, server CPU %.0f ms per answer of A's",
			with.P99Ms/alone.P99Ms, with.P99Ms, alone.P99Ms, float64(noisy.Requests-noisy.Limited-noisy.Errors)/noisy.Seconds, noisy.Limited, noisy.CPUMicros/1000)
		add("tenant B's get entity p99 while tenant A floods, against B alone", fmt.Sprintf("≤ %.0f ×", noisyP99Ratio), measured,
			with.P99Ms <= noisyP99Ratio*alone.P99Ms && with.Errors == 0 && alone.Errors == 0)
	}
	for _, name := range []string{"create-entity", "batch-relationships"} {
		if r := rep.result(name); r != nil {
			acked := float64(r.Requests-r.Errors) / r.Seconds
			measured := fmt.Sprintf("%.0f/s, p99 %.1f ms", acked, r.P99Ms)
			if name == "batch-relationships" {
				// Judged per request; each one acknowledges up to 20 relationship writes.
				measured = fmt.Sprintf("%.0f requests/s (up to %s relationships/s), p99 %.1f ms", acked, thousands(int(20*acked)), r.P99Ms)
			}
			add(r.Title, fmt.Sprintf("≥ %s acknowledged writes/s, p99 < %.0f ms", thousands(writesPerSec), writeP99Ms), measured, acked >= writesPerSec && r.P99Ms < writeP99Ms)
		}
	}
	// The compared targets, judged by the median of their rounds' ratios (rounds.go).
	compared := func(target, wanted string, bound float64, atLeast bool, rounds []comparedRound) {
		measured, ratios, met := judgeRounds(rounds, bound, atLeast)
		ts = append(ts, Target{Target: target, Wanted: wanted, Measured: measured, Met: met, Ratios: ratios})
	}
	if rs := rep.writeRounds("create-entity", "create-entity-no-events"); rs != nil {
		compared("create entity with events against without", fmt.Sprintf("≥ %.2f ×", eventsRatio), eventsRatio, true, rs)
	}
	if rs := rep.writeRounds("create-entity", "create-entity-no-audit"); rs != nil {
		compared("create entity with events and audit against neither", fmt.Sprintf("≥ %.2f ×", auditRatio), auditRatio, true, rs)
	}
	// Not a target: the audit trail alone against neither, the other reading of the audit bound
	// ("with audit on"), which docs/performance.md reports beside the one judged above.
	if rs := rep.writeRounds("create-entity-no-events", "create-entity-no-audit"); rs != nil {
		measured, _, _ := judgeRounds(rs, 0, true)
		rep.Notes = append(rep.Notes, "Not a target: create entity with the audit trail alone (serve --events=false) against neither: "+measured+".")
	}
	for _, name := range []string{"feed-latency-poll", "feed-latency-stream"} {
		if r := rep.result(name); r != nil {
			add(r.Title+": p99", fmt.Sprintf("< %.0f ms, none missing", feedLagP99Ms),
				fmt.Sprintf("%.1f ms (p50 %.1f ms, max %.1f ms), %d events, %d missing", r.P99Ms, r.P50Ms, r.MaxMs, r.Requests, r.Errors),
				r.P99Ms < feedLagP99Ms && r.Errors == 0 && r.Requests > 0)
		}
	}
	var pages []comparedRound
	for k, p := range rep.rounds("feed-page-100", "list-page-100") {
		feed, list := p[0], p[1]
		if list.CPUMicros <= 0 {
			if k == 0 {
				break
			}
			pages = append(pages, comparedRound{detail: "no server CPU measured for the list page"})
			continue
		}
		pages = append(pages, comparedRound{feed.CPUMicros / list.CPUMicros,
			// Met only by pages alike: as many items in each (fillFeeds sees to it).
			feed.Errors == 0 && feed.ItemsPerPage >= list.ItemsPerPage,
			fmt.Sprintf("%.2f × (%.0f against %.0f µs; p50 %.2f against %.2f ms; %.0f against %.0f items a page)", feed.CPUMicros/list.CPUMicros,
				feed.CPUMicros, list.CPUMicros, feed.P50Ms, list.P50Ms, feed.ItemsPerPage, list.ItemsPerPage)})
	}
	if pages != nil {
		compared("a feed page of 100 events against a list page of 100 entities: server CPU per request", fmt.Sprintf("≤ %.1f ×, as many items a page", feedPageRatio),
			feedPageRatio, false, pages)
	}
	if rep.ServerPeakRSS > 0 {
		add("server peak RSS through the run", fmt.Sprintf("< %d MiB", peakRSSMiB), fmt.Sprintf("%.1f MiB", float64(rep.ServerPeakRSS)/(1<<20)), rep.ServerPeakRSS < peakRSSMiB<<20)
	}
	errs := 0
	for _, r := range rep.Results {
		errs += r.Errors
	}
	for _, round := range rep.Rounds {
		for _, r := range round.Results {
			errs += r.Errors
		}
	}
	add("errors (non-2xx or transport) in every scenario", "0", fmt.Sprint(errs), errs == 0)
	rep.Targets = ts
}

// writeRounds pairs the creates of scenario onName with those of offName, round by round, as
// a compared target's rounds; nil when the normal pass did not measure both.
func (rep *Report) writeRounds(onName, offName string) []comparedRound {
	var out []comparedRound
	for k, p := range rep.rounds(onName, offName) {
		on, off := p[0], p[1]
		if off.RPS <= 0 {
			if k == 0 {
				return nil
			}
			out = append(out, comparedRound{detail: fmt.Sprintf("no %s answered", offName)})
			continue
		}
		out = append(out, comparedRound{on.RPS / off.RPS, on.Errors == 0 && off.Errors == 0,
			fmt.Sprintf("%.2f × (%.0f against %.0f req/s; server CPU %.0f against %.0f µs/req)", on.RPS/off.RPS, on.RPS, off.RPS, on.CPUMicros, off.CPUMicros)})
	}
	return out
}

// Missed lists the targets this run did not meet.
func (rep *Report) Missed() []Target {
	var out []Target
	for _, t := range rep.Targets {
		if !t.Met {
			out = append(out, t)
		}
	}
	return out
}

// Markdown renders the results table, the seeding times and the targets.
func (rep *Report) Markdown() string {
	var b strings.Builder
	s := rep.Sizes
	fmt.Fprintf(&b, "### roster bench: %s, %s accounts, %s entities, %s relationships, %d connections, %gs per scenario\n\n",
		rep.Engine, thousands(s.Accounts), thousands(s.Entities), thousands(s.Relationships), s.Connections, s.DurationSec)
	b.WriteString("| scenario | req/s | p50 ms | p99 ms | p99.9 ms | errors | adjacent floor req/s | × floor | server CPU µs/req |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rep.Results {
		if r.Skipped != "" {
			fmt.Fprintf(&b, "| %s | skipped: %s | | | | | | | |\n", r.Title, r.Skipped)
			continue
		}
		adj := ""
		if r.FloorRPS > 0 {
			adj = thousands(int(r.FloorRPS + 0.5))
		}
		ratio := fmt.Sprintf("%.2f", r.Ratio)
		if r.Group == groupNoisy {
			ratio = ""
		}
		fmt.Fprintf(&b, "| %s | %s | %.2f | %.2f | %.2f | %d | %s | %s | %.0f |\n", r.Title, thousands(int(r.RPS+0.5)), r.P50Ms, r.P99Ms, r.P999Ms, r.Errors, adj, ratio, r.CPUMicros)
	}
	b.WriteString("\n× floor is req/s divided by the one-SELECT floor's, measured for half the scenario's time just before it " +
		"(the adjacent floor; the floor rows at the top were measured at the start). The list-page floor is a bare handler reading the page " +
		"a per-account list by name reads (20 rows, every column) without authentication or cursors: no per-account list can do much better than its ratio. " +
		"Errors are non-2xx answers and transport errors. " +
		"Server CPU is the user and system time of the server process per measured request (10 ms ticks from /proc); " +
		"the load generator's own CPU is not in it.\n\n")
	if len(rep.Rounds) > 0 {
		fmt.Fprintf(&b, "Rounds: after the normal pass (round 1), the compared scenarios were measured %d more times, one group at a time on the same servers, "+
			"the order within a group rotated by one every round; each compared target is judged by the median of its %d rounds' ratios "+
			"(of an even count, the mean of the middle two).\n\n", len(rep.Rounds), len(rep.Rounds)+1)
		b.WriteString("| round | scenario | req/s | p50 ms | p99 ms | errors | server CPU µs/req | items a page |\n|---:|---|---:|---:|---:|---:|---:|---:|\n")
		for _, round := range rep.Rounds {
			for _, r := range round.Results {
				items := ""
				if r.Pages > 0 {
					items = fmt.Sprintf("%.1f", r.ItemsPerPage)
				}
				fmt.Fprintf(&b, "| %d | %s | %s | %.2f | %.2f | %d | %.0f | %s |\n", round.Round, r.Title, thousands(int(r.RPS+0.5)), r.P50Ms, r.P99Ms, r.Errors, r.CPUMicros, items)
			}
		}
		b.WriteString("\n")
	}
	var short []string
	for _, r := range rep.Results {
		if r.Pages > 0 && strings.HasPrefix(r.Scenario, "list-worst-") {
			short = append(short, fmt.Sprintf("%s %.1f", r.Title, r.ItemsPerPage))
		}
	}
	if len(short) > 0 {
		fmt.Fprintf(&b, "Items a page held on average (limit 20; a bounded read may answer a short page with a next cursor): %s.\n\n", strings.Join(short, "; "))
	}
	if r := rep.result("noisy-tenant"); r != nil {
		fmt.Fprintf(&b, "The tenant rows ran on a second roster serve with the default rate limits (100/s and a burst of 200 per key, 4 × that per account); "+
			"tenant B sends %d requests a second on its own (an open loop, latency from each request's due time); tenant A's 429 answers (%s) are not counted as errors, "+
			"and its server CPU is the server's while B was measured, B's own share taken out, per answer of A's; that server's peak RSS was %.1f MiB.\n\n",
			quietRate, thousands(r.Limited), float64(r.PeakRSS)/(1<<20))
	}
	st := rep.Seed
	fmt.Fprintf(&b, "Seeding through the bulk path: %s entities in %.1f s (rows %.1f s, indexes and commit %.1f s); %s relationships in %.1f s; %d keys through the service in %.1f s; %.1f s in all.\n\n",
		thousands(st.Entities), st.EntitiesSeconds, st.Steps["entities"], st.Steps["entities indexes"],
		thousands(st.Relationships), st.Steps["relationships"]+st.Steps["relationships indexes"], st.Keys, st.Steps["keys"], st.TotalSeconds)
	if st.NoisyEntities > 0 {
		fmt.Fprintf(&b, "The noisy tenant's %s entities at the maximum field sizes are one more account, seeded with the others.\n\n", thousands(st.NoisyEntities))
	}
	fmt.Fprintf(&b, "roster serve peak RSS (VmHWM) through the run: %.1f MiB.\n\n", float64(rep.ServerPeakRSS)/(1<<20))
	if rep.Revision != "" {
		fmt.Fprintf(&b, "roster revision: %s.\n\n", rep.Revision)
	}
	m := rep.Machine
	fmt.Fprintf(&b, "Machine: %s, %d cores, %s MiB memory, %s; load average %s before the run, %s after.\n\n",
		m.CPU, m.Cores, thousands(int(m.MemoryMiB)), m.GoVersion, m.LoadBefore, m.LoadAfter)
	if len(rep.Targets) > 0 {
		if rep.Engine != "sqlite" || s.Entities < 1_000_000 || s.Connections != 32 {
			b.WriteString("The targets are set for SQLite, 1,000,000 entities and 32 connections (`roster bench --help` states them); this run is checked against them all the same.\n\n")
		}
		b.WriteString("| target | wanted | measured | met |\n|---|---|---|---|\n")
		for _, t := range rep.Targets {
			met := "no"
			if t.Met {
				met = "yes"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", t.Target, t.Wanted, t.Measured, met)
		}
		missed := rep.Missed()
		fmt.Fprintf(&b, "\nTargets met: %d of %d.\n\n", len(rep.Targets)-len(missed), len(rep.Targets))
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(&b, "Note: %s\n\n", n)
	}
	return b.String()
}

func (rep *Report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "results.md"), []byte(rep.Markdown()), 0o644)
}

// thousands writes n with comma separators.
func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
