package roster_test

import (
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// TestNonce: a leadr-client-nonce is checked after validation and any replay, and spent when
// the request reaches its operation, whatever the operation's outcome; only a nonce issued to
// the same key, unexpired and unused, passes (SPEC §3, §5).
func TestNonce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.account("Nonce Co")
	admin := f.key(a.ID, roster.RoleAdmin)
	other := f.key(a.ID, roster.RoleAdmin)
	issue := func(p roster.Principal) string {
		n, err := f.svc.IssueNonce(f.ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return n.Value
	}
	valid := jsonBody(minimal("N"))
	invalid := jsonBody(with(minimal("N"), "name", ""))
	patch := func(nonce, key, fingerprint, id string, body []byte) error {
		r := f.idem(admin, key, fingerprint)
		r.Nonce = nonce
		_, err := f.svc.UpdateEntity(f.ctx, r, id, body, roster.EntityReplace)
		return err
	}
	e := f.entity(admin, minimal("Target"))
	shared := issue(admin)
	for _, tc := range []struct {
		name  string
		nonce func() string
		key   string // Idempotency-Key, "" for none
		id    string
		body  []byte
		want  []string
	}{
		{"none", func() string { return "" }, "", e.ID, valid, success},
		{"issued to the key", func() string { return issue(admin) }, "", e.ID, valid, success},
		{"issued to another key", func() string { return issue(other) }, "", e.ID, valid, refused(roster.CodeNonceInvalid)},
		{"never issued", func() string { return "00000000-0000-4000-8000-000000000000" }, "", e.ID, valid, refused(roster.CodeNonceInvalid)},
		{"not UTF-8", func() string { return "\xff" }, "", e.ID, valid, refused(roster.CodeNonceInvalid)},
		{"validation first: not spent", func() string { return shared }, "", e.ID, invalid, []string{`["body","name"] string_too_short`}},
		{"so it still passes, and the operation's 404 spends it", func() string { return shared }, "", "entity_xyz", valid, refused(roster.CodeNotFound)},
		{"used", func() string { return shared }, "", e.ID, valid, refused(roster.CodeNonceInvalid)},
		{"first use of an idempotent request spends it", func() string { return issue(admin) }, "idem", e.ID, valid, success},
		{"a replay spends nothing and checks nothing", func() string { return "00000000-0000-4000-8000-000000000000" }, "idem", e.ID, valid, success},
		{"expired", func() string {
			n := issue(admin)
			f.advance(roster.NonceTTL + time.Second)
			return n
		}, "", e.ID, valid, refused(roster.CodeNonceInvalid)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantOutcome(t, patch(tc.nonce(), tc.key, "fp", tc.id, tc.body), tc.want...)
		})
	}
}
