package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// The size limits of an entity's fields (SPEC §8) and of a response (SPEC §10).

// limTooBig is a body with every bounded field one past its limit.
func limTooBig() map[string]any {
	flows := make([]any, 501)
	for i := range flows {
		flows[i] = fmt.Sprintf("%024x", i)
	}
	modules := make([]any, 51)
	for i := range modules {
		modules[i] = "m"
	}
	return with(entMin("Too big"), "module_ids", modules, "description", strings.Repeat("é", 5001), "flow_ids", flows,
		"logo_url", "https://x.example/"+strings.Repeat("a", 2049-len("https://x.example/")),
		"website", "https://x.example/"+strings.Repeat("b", 2049-len("https://x.example/")))
}

var limTooBigProblems = arr{
	obj{"loc": arr{"body", "module_ids"}, "msg": "List should have at most 50 items after validation, not 51", "type": "too_long"},
	obj{"loc": arr{"body", "description"}, "msg": "String should have at most 5000 characters", "type": "string_too_long"},
	obj{"loc": arr{"body", "flow_ids"}, "msg": "List should have at most 500 items after validation, not 501", "type": "too_long"},
	obj{"loc": arr{"body", "logo_url"}, "msg": "String should have at most 2048 characters", "type": "string_too_long"},
	obj{"loc": arr{"body", "website"}, "msg": "String should have at most 2048 characters", "type": "string_too_long"},
}

const limTooBigError = "module_ids: List should have at most 50 items after validation, not 51; " +
	"description: String should have at most 5000 characters; " +
	"flow_ids: List should have at most 500 items after validation, not 501; " +
	"logo_url: String should have at most 2048 characters; website: String should have at most 2048 characters"

// TestLimitsEntityFields: a field over its limit is a 422 at its loc, every one at once, on
// every write of both surfaces; at the limit (counted in characters, not bytes) it is kept.
func TestLimitsEntityFields(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		acct := str(e.account("Limits Co"), "id")
		admin := e.key(acct, "admin")
		id := str(entCreate(t, e, admin, entMin("Target")), "id")
		bare := bareID(id)
		native := obj{"detail": limTooBigProblems}
		conduitWant := obj{"detail": limTooBigProblems, "error": limTooBigError}
		for _, m := range []string{"POST", "PUT", "PATCH"} {
			path := "/v1/entities/" + id
			if m == "POST" {
				path = "/v1/entities"
			}
			wantBody(t, e.as(admin, m, path, limTooBig()), 422, native)
			wantBody(t, entConduit(e, admin, m, strings.Replace(strings.Replace(path, "/v1", "", 1), id, bare, 1), limTooBig()), 422, conduitWant)
		}

		// Module ids are 1–64 characters each.
		items := with(entMin("Modules"), "module_ids", []any{"", strings.Repeat("x", 65), "ok"})
		wantBody(t, e.as(admin, "POST", "/v1/entities", items), 422, obj{"detail": arr{
			obj{"loc": arr{"body", "module_ids", 0}, "msg": "String should have at least 1 character", "type": "string_too_short"},
			obj{"loc": arr{"body", "module_ids", 1}, "msg": "String should have at most 64 characters", "type": "string_too_long"},
		}})

		// At every limit, in multi-byte characters where the field allows them: kept as sent.
		modules := make([]any, 50)
		for i := range modules {
			modules[i] = strings.Repeat("ü", 64)
		}
		flows := make([]any, 500)
		for i := range flows {
			flows[i] = fmt.Sprintf("%024X", i)
		}
		logo := "https://x.example/" + strings.Repeat("é", 2048-len("https://x.example/"))
		full := with(entMin(strings.Repeat("名", 200)), "module_ids", modules, "description", strings.Repeat("😀", 5000),
			"flow_ids", flows, "logo_url", logo, "website", logo)
		got := entCreate(t, e, admin, full)
		entExpect(t, got, full)
		entExpect(t, mustStatus(t, e.as(admin, "PUT", "/v1/entities/"+str(got, "id"), full), 200).Obj(), full)
		entExpect(t, mustStatus(t, entConduit(e, admin, "PATCH", "/entities/"+bareID(str(got, "id")), full), 200).Obj(), full)
	})
}

// TestLimitsTimeZone: time_zone names a zone of the IANA database in the binary, never a file
// of the server; the space form is kept as sent.
func TestLimitsTimeZone(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		acct := str(e.account("Zones Co"), "id")
		admin := e.key(acct, "admin")
		for _, tz := range []string{"localtime", "posixrules", "./UTC", "Etc//UTC", "../zoneinfo/UTC", "Etc/../UTC", "UTC/",
			"right/UTC", "posix/Europe/Paris", "zone.tab", "utc", "America/Los  Angeles", " UTC", "Local", "Factory/"} {
			want := obj{"detail": arr{obj{"loc": arr{"body", "time_zone"}, "msg": "Value error, unknown time zone: " + tz, "type": "value_error"}}}
			wantBody(t, e.as(admin, "POST", "/v1/entities", with(entMin("Zone"), "time_zone", tz)), 422, want)
			wantBody(t, entConduit(e, admin, "POST", "/entities", with(entMin("Zone"), "time_zone", tz)), 422,
				obj{"detail": want["detail"], "error": "time_zone: Value error, unknown time zone: " + tz})
		}
		long := strings.Repeat("Europe/Paris", 10)
		wantBody(t, e.as(admin, "POST", "/v1/entities", with(entMin("Zone"), "time_zone", long)), 422,
			obj{"detail": arr{obj{"loc": arr{"body", "time_zone"}, "msg": "Value error, unknown time zone", "type": "value_error"}}})
		for _, tz := range []string{"America/Los Angeles", "America/Los_Angeles", "Etc/UTC", "UTC", "US/Pacific", "America/Argentina/Buenos Aires",
			"Etc/GMT+5", "America/Port-au-Prince"} {
			entExpect(t, entCreate(t, e, admin, with(entMin("Zone"), "time_zone", tz)), map[string]any{"time_zone": tz})
		}
	})
}

// limWorst is an entity at every limit, in the characters whose JSON escape is longest: "<"
// (stored as one byte, written \u003c, six) and U+2028 (three bytes, written \u2028).
func limWorst(i int) map[string]any {
	modules := make([]any, 50)
	for j := range modules {
		modules[j] = strings.Repeat("<", 64)
	}
	flows := make([]any, 500)
	for j := range flows {
		flows[j] = fmt.Sprintf("%024x", j)
	}
	link := "https://x.example/?" + strings.Repeat("&", 2048-len("https://x.example/?"))
	return with(entMin(fmt.Sprintf("%03d", i)+strings.Repeat("<", 197)), "module_ids", modules,
		"description", strings.Repeat("\u2028", 5000), "flow_ids", flows, "logo_url", link, "website", link,
		"field_suffix", "abcde", "invitation_id", entInvitation, "time_zone", "America/Argentina/ComodRivadavia")
}

// TestLimitsPagesUnder8MiB: with entities at every limit, a full page (100 on /v1, 1,000 on
// LeadConduit) would pass 8 MiB; the page stops short of it, and walking the cursors or the
// Link URLs still returns every entity once.
func TestLimitsPagesUnder8MiB(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		acct := str(e.account("Big Co"), "id")
		admin := e.key(acct, "admin")
		const n = 110
		want := map[string]bool{}
		for i := range n {
			want[str(entCreate(t, e, admin, limWorst(i)), "id")] = true
		}
		const max = 8 << 20

		// /v1: next_cursor to the end, then prev_cursor back to the start.
		seen := map[string]int{}
		path, pages := "/v1/entities?limit=100&sort=name:asc", 0
		var prev *string
		for path != "" {
			r := mustStatus(t, e.as(admin, "GET", path, nil), 200)
			if len(r.Body) > max {
				t.Fatalf("GET %s: %d bytes, over 8 MiB", path, len(r.Body))
			}
			for _, id := range entIDs(entData(t, r)) {
				seen[id]++
			}
			pg := limMeta(t, r)
			if pages++; pages == 1 && (pg.Pagination.Count >= 100 || !pg.Pagination.HasNext) {
				t.Fatalf("first page of %d entities at the limits: count %d, has_next %v", n, pg.Pagination.Count, pg.Pagination.HasNext)
			}
			path, prev = "", pg.Pagination.PrevCursor
			if pg.Pagination.NextCursor != nil {
				path = "/v1/entities?limit=100&cursor=" + url.QueryEscape(*pg.Pagination.NextCursor)
			}
		}
		limEveryOnce(t, "/v1 next_cursor walk", seen, want)
		back := map[string]int{}
		for prev != nil {
			r := mustStatus(t, e.as(admin, "GET", "/v1/entities?limit=100&cursor="+url.QueryEscape(*prev), nil), 200)
			if len(r.Body) > max {
				t.Fatalf("prev page: %d bytes, over 8 MiB", len(r.Body))
			}
			for _, id := range entIDs(entData(t, r)) {
				back[id]++
			}
			pg := limMeta(t, r)
			prev = pg.Pagination.PrevCursor
		}
		// The walk back covers every page but the last one it started from.
		for id, c := range back {
			if c != 1 || !want[id] {
				t.Fatalf("prev_cursor walk saw %s %d times", id, c)
			}
		}
		if len(back) == 0 || len(back) >= n {
			t.Fatalf("prev_cursor walk saw %d entities", len(back))
		}

		// LeadConduit: limit 1,000, pages cut at 8 MiB, Link to the rest.
		walk := entConduitWalk(t, e, admin, "/entities?limit=1000")
		if len(walk) < 2 || len(walk[0]) >= n {
			t.Fatalf("LeadConduit walk: %d pages, the first of %d entities", len(walk), len(walk[0]))
		}
		seen = map[string]int{}
		for _, page := range walk {
			for _, id := range entIDs(page) {
				seen[bareID(id)]++
			}
		}
		bareWant := map[string]bool{}
		for id := range want {
			bareWant[bareID(id)] = true
		}
		limEveryOnce(t, "LeadConduit Link walk", seen, bareWant)
		r := mustStatus(t, entConduit(e, admin, "GET", "/entities?limit=1000", nil), 200)
		if len(r.Body) > max || len(r.Body) < max-200_000 {
			t.Fatalf("LeadConduit first page: %d bytes, want just under 8 MiB", len(r.Body))
		}
		t.Logf("LeadConduit first page at the limits: %d entities, %d bytes", len(walk[0]), len(r.Body))
		if link := r.Header.Get("Link"); !strings.Contains(link, "limit=1000") {
			t.Fatalf("Link %q does not keep the limit asked", link)
		}
	})
}

// limMeta decodes a native page's pagination.
func limMeta(t *testing.T, r resp) (pg struct{ Pagination pageMeta }) {
	t.Helper()
	if err := json.Unmarshal(r.Body, &pg); err != nil {
		t.Fatalf("page: %v", err)
	}
	return pg
}

func limEveryOnce(t *testing.T, what string, seen map[string]int, want map[string]bool) {
	t.Helper()
	for id, c := range seen {
		if c != 1 || !want[id] {
			t.Fatalf("%s: %s seen %d times", what, id, c)
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("%s: saw %d of %d entities", what, len(seen), len(want))
	}
}
