package bench

import (
	"fmt"
	"slices"
	"strings"
)

// Three targets are ratios of scenarios measured minutes apart, and on a shared 2-core machine
// req/s drift by a factor of two within minutes: one measurement of each side cannot judge a
// 10% target. With --rounds N the compared scenarios are measured N times, alternated, and
// each of those targets is judged by the median of its N ratios.

// Round is one round after the normal pass (which is round 1): the compared scenarios
// measured again, in the order they ran.
type Round struct {
	Round   int      `json:"round"`
	Results []Result `json:"results"`
}

// comparedSets are the scenarios the compared targets divide, each in the order the normal
// pass runs them: create entity against the same without events and without the audit trail;
// a feed page against a list page.
var comparedSets = [][]string{
	{"create-entity-no-audit", "create-entity", "create-entity-no-events"},
	{"list-page-100", "feed-page-100"},
}

// comparedGroups are the groups of scenarios the rounds repeat, for the scenarios picked: of
// each compared set, the scenarios picked, when they make at least one of its targets (create
// entity and one of its variants; both pages).
func comparedGroups(picks []string) [][]string {
	var out [][]string
	for _, set := range comparedSets {
		var g []string
		for _, name := range set {
			if selected(name, picks) {
				g = append(g, name)
			}
		}
		if len(g) >= 2 && (set[0] != "create-entity-no-audit" || slices.Contains(g, "create-entity")) {
			out = append(out, g)
		}
	}
	return out
}

// Compares reports whether the scenarios picked (all, when none) make at least one of the
// compared targets, which rounds repeat.
func Compares(picks []string) bool { return len(comparedGroups(picks)) > 0 }

// rotate is g with its first k mod len(g) names moved to its end.
func rotate(g []string, k int) []string {
	k %= len(g)
	return append(slices.Clone(g[k:]), g[:k]...)
}

// median is the middle of xs in order; of an even count, the mean of the two middle ones.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// comparedRound is one round of a compared target: its ratio, whether the round's own
// conditions held (no errors; pages alike) and what it measured, as the report says it.
type comparedRound struct {
	ratio  float64
	ok     bool
	detail string // "0.93 × (…)"
}

// judgeRounds judges a compared target over its rounds (the normal pass first): met when the
// median of the rounds' ratios is at least bound (atLeast) or at most bound (!atLeast), and
// every round's own conditions held. One round is judged and described as before there were
// rounds; of more, measured gives the median, every round's ratio in the order they ran, then
// what each round measured.
func judgeRounds(rounds []comparedRound, bound float64, atLeast bool) (measured string, ratios []float64, met bool) {
	if len(rounds) == 1 {
		r := rounds[0]
		return r.detail, nil, r.ok && (atLeast && r.ratio >= bound || !atLeast && r.ratio <= bound)
	}
	ok := true
	shown, details := make([]string, len(rounds)), make([]string, len(rounds))
	for k, r := range rounds {
		ratios = append(ratios, r.ratio)
		ok = ok && r.ok
		shown[k] = fmt.Sprintf("%.2f", r.ratio)
		details[k] = fmt.Sprintf("round %d: %s", k+1, r.detail)
	}
	m := median(ratios)
	measured = fmt.Sprintf("median %.2f × of %d rounds (%s, in the order they ran); %s", m, len(rounds), strings.Join(shown, ", "), strings.Join(details, "; "))
	return measured, ratios, ok && (atLeast && m >= bound || !atLeast && m <= bound)
}

// rounds gives, for each round that measured every one of names (the normal pass first), their
// results in that order; nil when the normal pass did not measure them all.
func (rep *Report) rounds(names ...string) [][]*Result {
	var out [][]*Result
	pick := func(find func(string) *Result) bool {
		rs := make([]*Result, len(names))
		for k, n := range names {
			if rs[k] = find(n); rs[k] == nil {
				return false
			}
		}
		out = append(out, rs)
		return true
	}
	if !pick(rep.result) {
		return nil
	}
	for k := range rep.Rounds {
		pick(rep.Rounds[k].result)
	}
	return out
}

func (r *Round) result(name string) *Result {
	for i := range r.Results {
		if r.Results[i].Scenario == name && r.Results[i].Skipped == "" {
			return &r.Results[i]
		}
	}
	return nil
}
