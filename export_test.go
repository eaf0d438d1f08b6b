package roster

import (
	"context"
	"time"
)

// What the tests of package roster_test reach inside the core: the steps of the write
// envelope, to stand for a request that stopped between them.

// ClaimKey is the idempotency step of a write alone.
func (s *Service) ClaimKey(ctx context.Context, p Principal, key, fingerprint string) (*Claim, *Replay, error) {
	return s.claim(ctx, p, key, fingerprint)
}

// ChangeData renders a change as an event's data.
func ChangeData(c Change, at time.Time) ([]byte, error) { return changeData(&c, at) }

func RenderObject(v any, at time.Time) ([]byte, error) { return objectView(v, at) }

// CommitClaimed is the envelope's transaction alone, for a request that took claim earlier.
func CommitClaimed[T any](ctx context.Context, s *Service, r *Request, claim *Claim, op func(Tx) (T, error)) (T, error) {
	return commit(ctx, s, r, claim, Shared, func(tx Tx, _ *changes) (T, error) { return op(tx) })
}

// HoldVerification stands for a verification of accountID's chain that is running, until
// release.
func (s *Service) HoldVerification(accountID string) (release func()) {
	s.verifying.Store(accountID, true)
	return func() { s.verifying.Delete(accountID) }
}
