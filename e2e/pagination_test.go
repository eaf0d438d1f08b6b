package e2e

import (
	"encoding/base64"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// listedAccount is one account as a list shows it, with what the expected orders need.
type listedAccount struct {
	id, name, slug   string
	created, updated time.Time
}

func listedAccountOf(t *testing.T, m map[string]any) listedAccount {
	t.Helper()
	return listedAccount{id: str(m, "id"), name: str(m, "name"), slug: str(m, "slug"), created: stampOf(t, m, "created_at"), updated: stampOf(t, m, "updated_at")}
}

// expectedOrder sorts rows as SPEC §6 says: the given sort (default created_at:desc,id:asc),
// text compared bytewise, then id ascending as the last tie-breaker.
func expectedOrder(t *testing.T, rows []listedAccount, spec string) []string {
	t.Helper()
	if spec == "" {
		spec = "created_at:desc,id:asc"
	}
	type key struct {
		field string
		desc  bool
	}
	var keys []key
	hasID := false
	for _, term := range strings.Split(spec, ",") {
		f, d, _ := strings.Cut(term, ":")
		keys = append(keys, key{f, d == "desc"})
		hasID = hasID || f == "id"
	}
	if !hasID {
		keys = append(keys, key{"id", false})
	}
	cmp := func(a, b listedAccount, f string) int {
		switch f {
		case "name":
			return strings.Compare(a.name, b.name)
		case "slug":
			return strings.Compare(a.slug, b.slug)
		case "created_at":
			return a.created.Compare(b.created)
		case "updated_at":
			return a.updated.Compare(b.updated)
		case "id":
			return strings.Compare(a.id, b.id)
		}
		t.Fatalf("unknown sort field %q", f)
		return 0
	}
	out := append([]listedAccount(nil), rows...)
	sort.SliceStable(out, func(i, j int) bool {
		for _, k := range keys {
			c := cmp(out[i], out[j], k.field)
			if k.desc {
				c = -c
			}
			if c != 0 {
				return c < 0
			}
		}
		return false
	})
	ids := make([]string, len(out))
	for i, r := range out {
		ids[i] = r.id
	}
	return ids
}

// listPage gets one page of /v1/accounts?query (getPage, reporting on the engine's test).
func listPage(e *env, key, query string) nativePage {
	e.t.Helper()
	return getPage(e.t, e, key, "/v1/accounts?"+query)
}

// allAccounts lists every account (fewer than 100) as the superadmin.
func allAccounts(e *env) []listedAccount {
	e.t.Helper()
	p := listPage(e, e.super, "limit=100")
	if p.hasNext {
		e.t.Fatal("more than 100 accounts")
	}
	out := make([]listedAccount, len(p.rows))
	for i, m := range p.rows {
		out[i] = listedAccountOf(e.t, m)
	}
	return out
}

func qs(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	return v.Encode()
}

// walkPages follows next_cursor from the first page of query to the last, checking the flags of
// every page, and returns the pages. Odd pages send the cursor alone, even ones repeat query's
// sort and filters (both are allowed).
func walkPages(e *env, key, query string, limit int) []nativePage {
	e.t.Helper()
	n := strconv.Itoa(limit)
	pages := []nativePage{listPage(e, key, query+"&limit="+n)}
	for pages[len(pages)-1].hasNext {
		cur := pages[len(pages)-1].next
		next := "cursor=" + url.QueryEscape(cur) + "&limit=" + n
		if len(pages)%2 == 0 {
			next += "&" + query
		}
		pages = append(pages, listPage(e, key, next))
		if len(pages) > 200 {
			e.t.Fatal("the walk does not end")
		}
	}
	for i, p := range pages {
		last := i == len(pages)-1
		if p.hasPrev != (i > 0) || p.hasNext == last {
			e.t.Fatalf("page %d of %d: has_prev %v, has_next %v", i+1, len(pages), p.hasPrev, p.hasNext)
		}
		if !last && len(p.ids) != limit || last && (len(p.ids) > limit || len(p.ids) == 0 && i > 0) {
			e.t.Fatalf("page %d of %d has %d rows (limit %d)", i+1, len(pages), len(p.ids), limit)
		}
	}
	return pages
}

// walkPagesBack follows prev_cursor from p until the first page, and returns the pages in order
// (p excluded).
func walkPagesBack(e *env, key string, p nativePage, limit int) []nativePage {
	e.t.Helper()
	var pages []nativePage
	for p.hasPrev {
		p = listPage(e, key, "cursor="+url.QueryEscape(p.prev)+"&limit="+strconv.Itoa(limit))
		if !p.hasNext {
			e.t.Fatalf("a page reached backwards has no next page")
		}
		pages = append([]nativePage{p}, pages...)
		if len(pages) > 200 {
			e.t.Fatal("the walk does not end")
		}
	}
	for i, p := range pages {
		if i > 0 && len(p.ids) != limit {
			e.t.Fatalf("backward page %d has %d rows (limit %d)", i+1, len(p.ids), limit)
		}
	}
	return pages
}

func pageIDs(pages []nativePage) []string {
	var out []string
	for _, p := range pages {
		out = append(out, p.ids...)
	}
	return out
}

// TestPaginationLimit: limit is 1–100, default 20; anything else is 422 at ["query","limit"].
func TestPaginationLimit(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		for i := 0; i < 25; i++ {
			e.account("Limit Co " + strconv.Itoa(100+i))
		}
		all := expectedOrder(t, allAccounts(e), "")

		first := listPage(e, e.super, "")
		sameIDs(t, first.ids, all[:20])
		if !first.hasNext || first.hasPrev {
			t.Fatalf("first page flags: %+v", first)
		}
		second := listPage(e, e.super, "cursor="+url.QueryEscape(first.next))
		sameIDs(t, second.ids, all[20:])
		if second.hasNext || !second.hasPrev {
			t.Fatalf("second page flags: %+v", second)
		}
		back := listPage(e, e.super, "cursor="+url.QueryEscape(second.prev))
		sameIDs(t, back.ids, all[:20])
		if !back.hasNext || back.hasPrev {
			t.Fatalf("first page again, flags: %+v", back)
		}
		for _, tc := range []struct {
			limit string
			n     int
		}{{"1", 1}, {"2", 2}, {"20", 20}, {"24", 24}, {"25", 25}, {"26", 25}, {"100", 25}, {"", 20}} {
			p := listPage(e, e.super, "limit="+tc.limit)
			sameIDs(t, p.ids, all[:tc.n])
			if p.hasNext != (tc.n < 25) {
				t.Fatalf("limit %s: has_next %v", tc.limit, p.hasNext)
			}
		}
		// A full first page, with every field.
		r := e.as(e.super, "GET", "/v1/accounts?limit=1", nil)
		wantBody(t, r, 200, obj{"data": arr{accountBody(all[0], "Limit Co 124", "limit-co-124", "active")},
			"pagination": obj{"count": 1, "has_next": true, "has_prev": false, "next_cursor": anyText, "prev_cursor": nil}})

		for _, tc := range []struct{ limit, problem string }{
			{"0", "greater_than_equal"}, {"-1", "greater_than_equal"}, {"101", "less_than_equal"}, {"1000", "less_than_equal"},
			{"abc", "int_parsing"}, {"1.5", "int_parsing"}, {"1e1", "int_parsing"}, {"twenty", "int_parsing"},
		} {
			for _, key := range []string{e.super, e.key(all[0], roster.RoleReader)} {
				wantProblems(t, e.as(key, "GET", "/v1/accounts?limit="+tc.limit, nil), `["query","limit"] `+tc.problem)
				wantProblems(t, e.as(key, "GET", "/v1/accounts?limit="+tc.limit+"&cursor="+url.QueryEscape(first.next), nil), `["query","limit"] `+tc.problem)
			}
		}
		wantBody(t, e.as(e.super, "GET", "/v1/accounts?limit=0", nil), 422,
			obj{"detail": arr{obj{"loc": arr{"query", "limit"}, "msg": anyText, "type": "greater_than_equal"}}})
	})
}

// TestPaginationSortAndCursorErrors: 400 invalid_sort, invalid_cursor and cursor_mismatch.
func TestPaginationSortAndCursorErrors(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		for i := 0; i < 5; i++ {
			e.account("Cursor Co " + strconv.Itoa(i))
		}
		a := ids(t, e.must(e.as(e.super, "GET", "/v1/accounts", nil), 200))[0]
		admin, reader := e.key(a, roster.RoleAdmin), e.key(a, roster.RoleReader)

		for _, s := range []string{"bogus", "bogus:asc", "name:up", "name:", "name:ascending", "status:asc", "deleted_at:desc", "Name:asc",
			"name:asc,name:desc", "name:asc,", ",name:asc", ":asc", "name:asc:desc", "name asc", "created_at:desc,bogus:asc"} {
			for _, key := range []string{e.super, admin} {
				wantNative(t, e.as(key, "GET", "/v1/accounts?"+qs("sort", s), nil), 400, "invalid_sort")
			}
		}
		for _, s := range []string{"id:asc", "id:desc", "name:asc", "name:desc", "slug:asc", "slug:desc", "created_at:asc", "created_at:desc",
			"updated_at:asc", "updated_at:desc", "name:asc,created_at:desc", "slug:desc,id:desc", "created_at:desc,id:asc"} {
			e.must(e.as(e.super, "GET", "/v1/accounts?"+qs("sort", s), nil), 200)
		}

		byName := listPage(e, e.super, "sort=name:asc&limit=2")
		active := listPage(e, e.super, "status=active&limit=2")
		page2 := listPage(e, e.super, "sort=name:asc&limit=2&cursor="+url.QueryEscape(byName.next))
		b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
		for _, c := range []string{
			"garbage", "!!!", "eyJ", b64("not json"), b64("[]"), b64(`{}`), b64(`"name:asc"`),
			byName.next[:len(byName.next)-6], strings.Repeat("A", 5000),
		} {
			wantNative(t, e.as(e.super, "GET", "/v1/accounts?cursor="+url.QueryEscape(c), nil), 400, "invalid_cursor")
			wantNative(t, e.as(admin, "GET", "/v1/accounts?cursor="+url.QueryEscape(c), nil), 400, "invalid_cursor")
		}
		// Well-formed base64url JSON that is no cursor roster issued.
		for _, c := range []string{
			`{"s":"name:asc,id:asc","a":"*","v":["x"]}`,
			`{"s":"bogus:asc,id:asc","a":"*","v":["x","y"]}`,
			`{"s":"created_at:desc,id:asc","a":"*","v":["yesterday","x"]}`,
			`{"s":"name:asc,id:asc","a":"*","v":["x","y"],"extra":1}`,
		} {
			wantNative(t, e.as(e.super, "GET", "/v1/accounts?cursor="+b64(c), nil), 400, "invalid_cursor")
		}
		for _, tc := range []struct{ name, key, query string }{
			{"another sort", e.super, "sort=slug:asc&cursor=" + url.QueryEscape(byName.next)},
			{"the other direction", e.super, "sort=name:desc&cursor=" + url.QueryEscape(byName.next)},
			{"the default sort", e.super, "sort=created_at:desc,id:asc&cursor=" + url.QueryEscape(byName.next)},
			{"another sort, backwards", e.super, "sort=slug:asc&cursor=" + url.QueryEscape(page2.prev)},
			{"a filter the cursor has not", e.super, "status=active&cursor=" + url.QueryEscape(byName.next)},
			{"another status", e.super, "status=suspended&cursor=" + url.QueryEscape(active.next)},
			{"an added filter", e.super, "status=active&slug=cursor-co-1&cursor=" + url.QueryEscape(active.next)},
			{"another sort with the filter", e.super, "status=active&sort=name:asc&cursor=" + url.QueryEscape(active.next)},
			{"another caller: admin", admin, "cursor=" + url.QueryEscape(byName.next)},
			{"another caller: reader", reader, "sort=name:asc&cursor=" + url.QueryEscape(byName.next)},
			{"another caller, with filters", admin, "status=active&cursor=" + url.QueryEscape(active.next)},
			{"another caller, backwards", reader, "cursor=" + url.QueryEscape(page2.prev)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantNative(t, e.forT(t).as(tc.key, "GET", "/v1/accounts?"+tc.query, nil), 400, "cursor_mismatch")
			})
		}
		// Repeating the cursor's sort and filters exactly is fine, as is leaving them out.
		sameIDs(t, listPage(e, e.super, "sort=name:asc&limit=2&cursor="+url.QueryEscape(byName.next)).ids, page2.ids)
		sameIDs(t, listPage(e, e.super, "limit=2&cursor="+url.QueryEscape(byName.next)).ids, page2.ids)
		activeNext := listPage(e, e.super, "limit=2&cursor="+url.QueryEscape(active.next)).ids
		sameIDs(t, listPage(e, e.super, "status=active&limit=2&cursor="+url.QueryEscape(active.next)).ids, activeNext)
		sameIDs(t, listPage(e, e.super, "status=active&sort=created_at:desc,id:asc&limit=2&cursor="+url.QueryEscape(active.next)).ids, activeNext)
		// An empty cursor is no cursor.
		sameIDs(t, listPage(e, e.super, "sort=name:asc&limit=2&cursor=").ids, byName.ids)
		// A bad sort next to a cursor is still a bad sort.
		wantNative(t, e.as(e.super, "GET", "/v1/accounts?sort=bogus:asc&cursor="+url.QueryEscape(byName.next), nil), 400, "invalid_sort")
	})
}

// walkCast creates accounts with ties in name (equal names, different slugs), names that
// compare differently bytewise than by any locale, and updated_at in another order than
// created_at.
func walkCast(e *env) {
	e.t.Helper()
	for _, a := range [][2]string{
		{"Delta", "delta-1"}, {"alpha", "alpha-1"}, {"Delta", "delta-2"}, {"Éclair", "eclair-upper"}, {"éclair", "eclair-lower"},
		{"123 Numbers", "numbers-123"}, {"_under", "under-1"}, {"Delta", "delta-3"}, {"Zulu", "zulu"}, {"beta", "beta-1"},
		{"alpha", "alpha-2"}, {"Mike", "a-mike"}, {"delta", "delta-4"},
	} {
		e.must(e.as(e.super, "POST", "/v1/accounts", map[string]any{"name": a[0], "slug": a[1]}), 201)
	}
	for _, p := range []struct {
		slug string
		body map[string]any
	}{
		{"zulu", map[string]any{"slug": "zulu-x"}},
		{"delta-1", map[string]any{"slug": "delta-0"}},
		{"beta-1", map[string]any{"status": "suspended"}},
		{"alpha-1", map[string]any{"name": "alpha"}}, // no change: updated_at stays
		{"numbers-123", map[string]any{"name": "123 Numbers!"}},
	} {
		id := listPage(e, e.super, "slug="+p.slug).ids[0]
		e.must(e.as(e.super, "PATCH", "/v1/accounts/"+id, p.body), 200)
	}
}

// TestPaginationWalk: walking every page forward and back, under every allowed sort, sees every
// row exactly once, in the expected order.
func TestPaginationWalk(t *testing.T) {
	t.Parallel()
	sorts := []string{"", "id:asc", "id:desc", "name:asc", "name:desc", "slug:asc", "slug:desc", "created_at:asc", "created_at:desc",
		"updated_at:asc", "updated_at:desc", "name:asc,created_at:desc", "name:desc,slug:asc", "name:desc,id:desc", "name:asc,updated_at:asc"}
	engines(t, func(t *testing.T, e *env) {
		walkCast(e)
		rows := allAccounts(e)
		for _, s := range sorts {
			for _, limit := range []int{3, 5, 13, 100} {
				t.Run(s+"/"+strconv.Itoa(limit), func(t *testing.T) {
					e := e.forT(t)
					want := expectedOrder(t, rows, s)
					pages := walkPages(e, e.super, qs("sort", s), limit)
					sameIDs(t, pageIDs(pages), want)
					// Back from the last page, with another page size.
					backLimit := max(limit-1, 2)
					last := pages[len(pages)-1]
					back := walkPagesBack(e, e.super, last, backLimit)
					sameIDs(t, append(pageIDs(back), last.ids...), want)
					// And forward again from the first page reached backwards.
					if len(back) > 0 {
						fwd := []nativePage{back[0]}
						for fwd[len(fwd)-1].hasNext {
							fwd = append(fwd, listPage(e, e.super, "cursor="+url.QueryEscape(fwd[len(fwd)-1].next)+"&limit="+strconv.Itoa(backLimit)))
						}
						sameIDs(t, pageIDs(fwd), want)
					}
				})
			}
		}
		// With a filter, taken from the cursor on every later page.
		t.Run("status filter", func(t *testing.T) {
			e := e.forT(t)
			var activeRows []listedAccount
			for _, r := range rows {
				if r.slug != "beta-1" {
					activeRows = append(activeRows, r)
				}
			}
			for _, s := range []string{"", "name:desc", "updated_at:asc"} {
				want := expectedOrder(t, activeRows, s)
				pages := walkPages(e, e.super, qs("sort", s, "status", "active"), 2)
				sameIDs(t, pageIDs(pages), want)
				last := pages[len(pages)-1]
				sameIDs(t, append(pageIDs(walkPagesBack(e, e.super, last, 3)), last.ids...), want)
			}
			sameIDs(t, pageIDs(walkPages(e, e.super, qs("status", "suspended"), 1)), expectedOrder(t, []listedAccount{rows[indexOfSlug(rows, "beta-1")]}, ""))
		})
		// A superadmin's ?account_id= scopes the list to one account: one page of one row.
		t.Run("account_id scope", func(t *testing.T) {
			e := e.forT(t)
			p := walkPages(e, e.super, qs("account_id", rows[0].id), 1)
			sameIDs(t, pageIDs(p), []string{rows[0].id})
		})
	})
}

func indexOfSlug(rows []listedAccount, slug string) int {
	for i, r := range rows {
		if r.slug == slug {
			return i
		}
	}
	return -1
}

// TestPaginationInsertDuringWalk: rows inserted during a forward walk never cause a duplicate
// or a skip of the others.
func TestPaginationInsertDuringWalk(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		for _, n := range []string{"10", "20", "30", "40", "50", "60", "70", "80", "90"} {
			e.account("Insert " + n)
		}
		for i, s := range []string{"name:asc", "name:desc", "created_at:asc", "", "slug:asc", "id:asc", "updated_at:desc"} {
			t.Run("sort "+s, func(t *testing.T) {
				e := e.forT(t)
				before := allAccounts(e)
				want := expectedOrder(t, before, s)
				original := map[string]bool{}
				for _, id := range want {
					original[id] = true
				}
				inserts := [][]string{{"05", "25", "55", "95"}, {"45", "65", "15"}, {"85", "00", "99"}}
				var got []string
				p := listPage(e, e.super, qs("sort", s, "limit", "3"))
				for step := 0; ; step++ {
					got = append(got, p.ids...)
					if !p.hasNext {
						break
					}
					if step < len(inserts) {
						for _, n := range inserts[step] {
							e.account("Insert " + n + " " + strconv.Itoa(i))
						}
					}
					p = listPage(e, e.super, "cursor="+url.QueryEscape(p.next)+"&limit=3")
				}
				seen := map[string]bool{}
				var kept []string
				for _, id := range got {
					if seen[id] {
						t.Fatalf("%s seen twice in %v", id, got)
					}
					seen[id] = true
					if original[id] {
						kept = append(kept, id)
					}
				}
				sameIDs(t, kept, want)
			})
		}
	})
}
