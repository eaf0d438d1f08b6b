package e2e

// A superadmin's ?account_id= is a filter like any other (SPEC §6): every page of such a list,
// reached by next_cursor, by prev_cursor or by LeadConduit's Link URL, holds that account's rows
// only. The rows of two accounts are made alternately, so that the other account's rows lie
// between this account's in every order.

import (
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
)

// lsWalk walks route from its first page (query) to the last by next_cursor alone, then back
// to the first by prev_cursor alone, and returns the ids seen each way, checking that every row
// has field equal to want.
func lsWalk(t *testing.T, e *env, route, query string, limit int, field, want string) (forward, backward []string) {
	t.Helper()
	n := strconv.Itoa(limit)
	p := getPage(t, e, e.super, route+"?"+query+"&limit="+n)
	pages := []nativePage{p}
	for p.hasNext {
		p = getPage(t, e, e.super, route+"?cursor="+url.QueryEscape(p.next)+"&limit="+n)
		pages = append(pages, p)
		if len(pages) > 100 {
			t.Fatal("the walk does not end")
		}
	}
	check := func(rows []map[string]any, into *[]string) {
		for _, m := range rows {
			if str(m, field) != want {
				t.Fatalf("%s?%s: a row of another account: %v", route, query, m)
			}
			*into = append(*into, str(m, "id"))
		}
	}
	for _, pg := range pages {
		check(pg.rows, &forward)
	}
	back := [][]map[string]any{p.rows}
	for p.hasPrev {
		p = getPage(t, e, e.super, route+"?cursor="+url.QueryEscape(p.prev)+"&limit="+n)
		back = append([][]map[string]any{p.rows}, back...)
		if len(back) > 100 {
			t.Fatal("the walk back does not end")
		}
	}
	for _, rows := range back {
		check(rows, &backward)
	}
	return forward, backward
}

func TestSuperadminScopeEveryPage(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		a := e.account("Scope A")["id"].(string)
		b := e.account("Scope B")["id"].(string)
		adminA, adminB := e.key(a, roster.RoleAdmin), e.key(b, roster.RoleAdmin)
		var entA []string
		for i := range 5 {
			entA = append(entA, entCreate(t, e, adminA, entMin("a"+strconv.Itoa(i)))["id"].(string))
			entCreate(t, e, adminB, entMin("b"+strconv.Itoa(i)))
			mustStatus(t, e.as(e.super, "POST", "/v1/api-keys", map[string]any{"account_id": a, "name": "a" + strconv.Itoa(i), "role": "reader"}), 201)
			mustStatus(t, e.as(e.super, "POST", "/v1/api-keys", map[string]any{"account_id": b, "name": "b" + strconv.Itoa(i), "role": "reader"}), 201)
		}

		t.Run("entities", func(t *testing.T) {
			for _, s := range []string{"", "created_at:asc", "name:desc", "updated_at:asc,name:asc"} {
				q := qs("account_id", a, "sort", s)
				all := getPage(t, e, e.super, "/v1/entities?"+q+"&limit=100")
				if all.hasNext || len(all.rows) != 5 {
					t.Fatalf("sort %q: the one-page list has %d rows", s, len(all.rows))
				}
				var want []string
				for _, m := range all.rows {
					want = append(want, str(m, "id"))
				}
				sameIDSet(t, want, entA)
				fw, bw := lsWalk(t, e, "/v1/entities", q, 2, "account_id", a)
				sameIDs(t, fw, want)
				sameIDs(t, bw, want)
			}
		})
		t.Run("api-keys", func(t *testing.T) {
			all := getPage(t, e, e.super, "/v1/api-keys?account_id="+a+"&limit=100")
			var want []string
			for _, m := range all.rows {
				want = append(want, str(m, "id"))
			}
			// Five reader keys made by the superadmin and the admin key of the setup.
			if len(want) != 6 {
				t.Fatalf("account A has %d keys, want 6: %v", len(want), want)
			}
			for _, s := range []string{"", "name:asc", "updated_at:desc"} {
				fw, bw := lsWalk(t, e, "/v1/api-keys", qs("account_id", a, "sort", s), 2, "account_id", a)
				if s == "" {
					sameIDs(t, fw, want)
				}
				sameIDSet(t, fw, want)
				sameIDs(t, bw, fw)
			}
		})
		t.Run("accounts", func(t *testing.T) {
			for _, s := range []string{"", "name:asc"} {
				fw, bw := lsWalk(t, e, "/v1/accounts", qs("account_id", a, "sort", s), 1, "id", a)
				sameIDs(t, fw, []string{a})
				sameIDs(t, bw, []string{a})
			}
		})
		t.Run("conduit", func(t *testing.T) {
			bare := strings.TrimPrefix(a, string(roster.KindAccount))
			pages := entConduitWalk(t, e, e.super, "/entities?account_id="+bare+"&limit=2")
			var got []string
			for _, pg := range pages {
				for _, m := range pg {
					if str(m, "account_id") != bare {
						t.Fatalf("a row of account %v on a Link page: %v", m["account_id"], m)
					}
					got = append(got, str(m, "id"))
				}
			}
			if len(pages) != 3 {
				t.Fatalf("want 3 pages of at most 2, got %d: %v", len(pages), got)
			}
			var want []string
			for _, id := range entA {
				want = append(want, strings.TrimPrefix(id, string(roster.KindEntity)))
			}
			sameIDs(t, got, want)
		})
	})
}
