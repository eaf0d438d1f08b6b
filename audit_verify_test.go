package roster_test

import (
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
