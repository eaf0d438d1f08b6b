package roster

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestAuditTargetKnowsEveryWrite: each kind of write's result names its record's target (or,
// for an import, asks for one record per object); a result auditTarget was not taught makes the
// write fail rather than be recorded as if it were an import.
func TestAuditTargetKnowsEveryWrite(t *testing.T) {
	for _, out := range []any{Account{}, Entity{}, APIKey{}, CreatedKey{}, BatchResult{}, []Relationship{}, ImportOutcome{}, []ImportOutcome{}} {
		if _, _, _, known := auditTarget(out, nil); !known {
			t.Errorf("auditTarget does not know a write of %T", out)
		}
	}
	type unknownResult struct{}
	s := &Service{}
	err := s.auditWrite(context.Background(), nil, &Request{Principal: System}, changes{{AccountID: "a"}}, unknownResult{}, time.Now())
	if err == nil || !strings.Contains(err.Error(), "names no target") {
		t.Fatalf("a write of a result auditTarget does not know: %v", err)
	}
}
