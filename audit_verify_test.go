package roster_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
)

// TestVerifyOneAtATime: while a chain is being verified, another verification of it answers 429
// rate_limited at once instead of reading the whole chain a second time; another chain is not
// held back, and the chain is free again once the first has answered.
func TestVerifyOneAtATime(t *testing.T) {
	f := newFixture(t)
	acct, other := f.account("Verify Co"), f.account("Other Co")
	admin := f.key(acct.ID, roster.RoleAdmin)

	release := f.svc.HoldVerification(acct.ID)
	if _, err := f.svc.VerifyAudit(f.ctx, f.req(admin), "", ""); roster.ErrorCode(err) != roster.CodeRateLimited {
		t.Fatalf("a second verification of one chain: %v, want rate_limited", err)
	}
	if v, err := f.svc.VerifyAudit(f.ctx, f.req(f.key(other.ID, roster.RoleAdmin)), "", ""); err != nil || !v.OK {
		t.Fatalf("another chain meanwhile: %+v, %v", v, err)
	}
	release()
	for range 2 {
		if v, err := f.svc.VerifyAudit(f.ctx, f.req(admin), "", ""); err != nil || !v.OK {
			t.Fatalf("after it answered: %+v, %v", v, err)
		}
	}
}

// TestAuditPageFitsResponseLimit: records of large changes (an entity at the field limits whose
// every large field changes: some 120 KB rendered, HTML characters escaped) would make a page of
// 100 pass SPEC §10's 8 MiB. The page stops after the last record that fits, with a cursor right
// after it, and following the cursors lists every record once, newest first.
func TestAuditPageFitsResponseLimit(t *testing.T) {
	f := newFixture(t)
	acct := f.account("Big Trail")
	admin := f.key(acct.ID, roster.RoleAdmin)
	big := func(c string, i int) map[string]any {
		flows := make([]string, roster.MaxEntityFlowIDs)
		for j := range flows {
			flows[j] = fmt.Sprintf("%08x%016x", i, j)
		}
		modules := make([]string, roster.MaxEntityModuleIDs)
		for j := range modules {
			modules[j] = fmt.Sprintf("%d", j) + strings.Repeat(c, roster.MaxEntityModuleID-3)
		}
		return map[string]any{"name": "Big", "description": strings.Repeat(c, roster.MaxEntityDescription), "flow_ids": flows,
			"module_ids": modules, "source": nil, "recipient": nil}
	}
	e := f.entity(admin, big("<", 0))
	const updates = 90
	for i := 1; i <= updates; i++ {
		c := ">"
		if i%2 == 0 {
			c = "<"
		}
		if _, err := f.svc.UpdateEntity(f.ctx, f.req(admin), e.ID, jsonBody(big(c, i)), roster.EntityReplace); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	seen := map[string]bool{}
	last := int64(1 << 62)
	pages, updated := 0, 0
	for cursor := ""; ; {
		page, err := f.svc.ListAudit(f.ctx, f.req(admin), roster.PageRequest{Limit: 100, Cursor: cursor, Principal: admin,
			Filters: map[string]string{}})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		b, err := json.Marshal(map[string]any{"data": page.Items, "pagination": map[string]any{"next_cursor": page.Next}})
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > roster.MaxResponse-64<<10 {
			t.Fatalf("page %d renders %d bytes, over 8 MiB with its envelope", pages, len(b))
		}
		for _, r := range page.Items {
			if seen[r.ID] || r.Sequence >= last {
				t.Fatalf("record %d again or out of order after %d", r.Sequence, last)
			}
			seen[r.ID], last = true, r.Sequence
			if r.Action == "entity.update" {
				updated++
			}
		}
		if !page.HasNext {
			break
		}
		cursor = page.Next
	}
	if updated != updates || pages < 2 {
		t.Fatalf("listed %d of %d updates over %d pages", updated, updates, pages)
	}
}
