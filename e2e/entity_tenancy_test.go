package e2e

import (
	"strings"
	"testing"
)

// entSurface is one of the two surfaces that serve entities, for the tenancy matrix.
type entSurface struct {
	name string
	bare bool
	path func(id string) string // the entity route for a prefixed id
	list string                 // the list route, one page for everything here
	do   func(key, method, path string, body any) resp
	err  func(t *testing.T, r resp, status int, code string)
	ids  func(t *testing.T, r resp) []string // the prefixed ids of a list response
}

func entSurfaces(e *env) []entSurface {
	return []entSurface{
		{
			name: "native", path: func(id string) string { return "/v1/entities/" + id }, list: "/v1/entities?limit=100",
			do:  func(key, method, path string, body any) resp { return e.as(key, method, path, body) },
			err: wantError,
			ids: func(t *testing.T, r resp) []string { return entIDs(entData(t, r)) },
		},
		{
			name: "leadconduit", bare: true, path: func(id string) string { return "/entities/" + bareID(id) }, list: "/entities?limit=1000",
			do:  func(key, method, path string, body any) resp { return entConduit(e, key, method, path, body) },
			err: entWantConduitError,
			ids: func(t *testing.T, r resp) []string {
				var out []string
				for _, id := range entIDs(entArray(t, r)) {
					out = append(out, "entity_"+id)
				}
				return out
			},
		},
	}
}

func TestEntityTenancy(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		a := e.account("Tenant A")["id"].(string)
		b := e.account("Tenant B")["id"].(string)
		s := e.account("Tenant Suspended")["id"].(string)
		adminA, readerA := e.key(a, "admin"), e.key(a, "reader")
		adminB, readerB := e.key(b, "admin"), e.key(b, "reader")
		adminS, readerS := e.key(s, "admin"), e.key(s, "reader")

		x := entCreate(t, e, adminA, entFull("X of A"))["id"].(string)
		xb := entCreate(t, e, adminB, entFull("X of B"))["id"].(string)
		y := entCreate(t, e, adminS, entFull("Y of S"))["id"].(string)
		sus := mustStatus(t, e.as(e.super, "PATCH", "/v1/accounts/"+s, map[string]any{"status": "suspended"}), 200).Obj()
		if sus["status"] != "suspended" {
			t.Fatalf("suspend: %v", sus)
		}

		put := with(entMin("Hijacked"), "description", "hijacked")
		writes := []struct {
			method string
			body   any
		}{{"PUT", put}, {"PATCH", map[string]any{"name": "Hijacked"}}, {"DELETE", nil}}
		bad := map[string]any{"name": "", "source": "web", "nope": 1} // invalid: the role check comes first

		for _, sf := range entSurfaces(e) {
			t.Run(sf.name, func(t *testing.T) {
				get := func(key, id string) map[string]any {
					t.Helper()
					r := mustStatus(t, sf.do(key, "GET", sf.path(id), nil), 200).Obj()
					entShape(t, r, sf.bare)
					return r
				}
				listed := func(key, query string) []string {
					t.Helper()
					return sf.ids(t, mustStatus(t, sf.do(key, "GET", sf.list+query, nil), 200))
				}
				beforeX, beforeXB, beforeY := get(e.super, x), get(e.super, xb), get(e.super, y)
				unchanged := func() {
					t.Helper()
					entSame(t, get(e.super, x), beforeX)
					entSame(t, get(e.super, xb), beforeXB)
					entSame(t, get(e.super, y), beforeY)
				}

				// Own admin: reads and writes (a PATCH that changes nothing keeps it the same).
				entSame(t, get(adminA, x), beforeX)
				entSame(t, mustStatus(t, sf.do(adminA, "PATCH", sf.path(x), map[string]any{"name": "X of A"}), 200).Obj(), beforeX)
				if ids := listed(adminA, ""); len(ids) != 1 || ids[0] != x {
					t.Fatalf("admin A lists %v", ids)
				}

				// Another account's admin: 404 on every route, for every accepted form of the id.
				listPath := strings.Split(sf.list, "?")[0]
				for _, form := range []string{x, bareID(x), strings.ToUpper(bareID(x)), "entity_" + strings.ToUpper(bareID(x))} {
					path := listPath + "/" + form
					sf.err(t, sf.do(adminB, "GET", path, nil), 404, "not_found")
					for _, w := range writes {
						sf.err(t, sf.do(adminB, w.method, path, w.body), 404, "not_found")
					}
				}
				// ... and its reader: 404 on read, 403 on every write (the role decides first).
				sf.err(t, sf.do(readerB, "GET", sf.path(x), nil), 404, "not_found")
				for _, w := range writes {
					sf.err(t, sf.do(readerB, w.method, sf.path(x), w.body), 403, "forbidden")
				}
				// Its lists never show A's entities, filtered or not.
				for _, q := range []string{"", "&source=seller", "&recipient=crm&deprecated=false"} {
					if ids := listed(adminB, q); len(ids) != 1 || ids[0] != xb {
						t.Fatalf("admin B lists%s: %v", q, ids)
					}
				}
				// Naming A in ?account_id= is 403, on the list and (native) on the entity route.
				sf.err(t, sf.do(adminB, "GET", sf.list+"&account_id="+a, nil), 403, "forbidden")
				if !sf.bare {
					sf.err(t, sf.do(adminB, "GET", sf.path(x)+"?account_id="+a, nil), 403, "forbidden")
					sf.err(t, sf.do(adminB, "GET", sf.path(x)+"/relationships", nil), 404, "not_found")
				}
				unchanged()

				// A reader reads its account's entities; every write is 403, before validation.
				entSame(t, get(readerA, x), beforeX)
				if ids := listed(readerA, ""); len(ids) != 1 || ids[0] != x {
					t.Fatalf("reader A lists %v", ids)
				}
				if !sf.bare {
					mustStatus(t, sf.do(readerA, "GET", sf.path(x)+"/relationships", nil), 200)
				}
				sf.err(t, sf.do(readerA, "POST", listPath, entMin("By Reader")), 403, "forbidden")
				sf.err(t, sf.do(readerA, "POST", listPath, bad), 403, "forbidden")
				for _, w := range writes {
					sf.err(t, sf.do(readerA, w.method, sf.path(x), w.body), 403, "forbidden")
				}
				sf.err(t, sf.do(readerA, "PUT", sf.path(x), bad), 403, "forbidden")
				sf.err(t, sf.do(readerA, "DELETE", sf.path("entity_000000000000000000000000"), nil), 403, "forbidden")
				unchanged()

				// A suspended account's admin reads; its writes are 403 account_suspended.
				entSame(t, get(adminS, y), beforeY)
				entSame(t, get(readerS, y), beforeY)
				if ids := listed(adminS, ""); len(ids) != 1 || ids[0] != y {
					t.Fatalf("suspended admin lists %v", ids)
				}
				sf.err(t, sf.do(adminS, "POST", listPath, entMin("While Suspended")), 403, "account_suspended")
				sf.err(t, sf.do(adminS, "POST", listPath, bad), 403, "account_suspended")
				for _, w := range writes {
					sf.err(t, sf.do(adminS, w.method, sf.path(y), w.body), 403, "account_suspended")
					sf.err(t, sf.do(readerS, w.method, sf.path(y), w.body), 403, "forbidden")
				}
				sf.err(t, sf.do(adminS, "PATCH", sf.path(y), bad), 403, "account_suspended")
				// Another tenant's entity stays invisible to it.
				sf.err(t, sf.do(adminS, "GET", sf.path(x), nil), 404, "not_found")
				unchanged()

				// The superadmin sees every account's entities, in lists too.
				if ids := listed(e.super, ""); len(ids) != 3 || !entHas(ids, x) || !entHas(ids, xb) || !entHas(ids, y) {
					t.Fatalf("superadmin lists %v", ids)
				}
				if ids := listed(e.super, "&account_id="+b); len(ids) != 1 || ids[0] != xb {
					t.Fatalf("superadmin lists account B: %v", ids)
				}
				// ... and writes to any of them, a suspended account's included; then deletes.
				acctForm := a
				if sf.bare {
					acctForm = bareID(a)
				}
				tmp := mustStatus(t, sf.do(e.super, "POST", listPath, with(entMin("Temp"), "account_id", acctForm)), 201).Obj()
				tmpID := "entity_" + bareID(tmp["id"].(string))
				entExpect(t, mustStatus(t, sf.do(e.super, "PUT", sf.path(tmpID), entMin("Temp 2")), 200).Obj(), map[string]any{"name": "Temp 2"})
				entExpect(t, mustStatus(t, sf.do(e.super, "PATCH", sf.path(tmpID), map[string]any{"source": "other"}), 200).Obj(), map[string]any{"source": "other"})
				entExpect(t, mustStatus(t, sf.do(e.super, "DELETE", sf.path(tmpID), nil), 200).Obj(), map[string]any{"name": "Temp 2", "source": "other"})
				sf.err(t, sf.do(e.super, "GET", sf.path(tmpID), nil), 404, "not_found")
				// Only now, with the checks on y done: the superadmin is no key of the suspended account.
				entExpect(t, mustStatus(t, sf.do(e.super, "PATCH", sf.path(y), map[string]any{"description": "by super " + sf.name}), 200).Obj(),
					map[string]any{"description": "by super " + sf.name})
				entSame(t, get(e.super, x), beforeX)
				entSame(t, get(e.super, xb), beforeXB)
			})
		}
	})
}
