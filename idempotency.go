package roster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"
)

// The lifetimes of SPEC §4: how long an idempotency key is kept, how long an in-flight claim
// holds it, and the longest key.
const (
	IdempotencyTTL    = 24 * time.Hour
	IdempotencyLease  = 60 * time.Second
	MaxIdempotencyKey = 255
)

// IdempotencyRecord is a saved or in-flight idempotent request.
type IdempotencyRecord struct {
	Scope       string
	Key         string
	Fingerprint string
	Token       string // identifies the holder of the lease
	LeaseUntil  time.Time
	Status      int    // 0 while in flight
	Body        []byte // the saved response body
	CreatedAt   time.Time
}

// Claim is a held idempotency key.
type Claim struct {
	Scope, Key, Token string
}

// Replay is a saved response to send back unchanged.
type Replay struct {
	Status int
	Body   []byte
}

// claim runs the idempotency step of a write (SPEC §4): with no key, nothing; otherwise the
// claim the write must complete, or the saved response of the request that held the key first,
// or 409 when that request was another or is still running.
func (s *Service) claim(ctx context.Context, p Principal, key, fingerprint string) (*Claim, *Replay, error) {
	if key == "" {
		return nil, nil, nil
	}
	now := s.Now()
	rec := IdempotencyRecord{Scope: p.Scope(), Key: key, Fingerprint: fingerprint, Token: newToken(),
		LeaseUntil: now.Add(IdempotencyLease), CreatedAt: now}
	var existing IdempotencyRecord
	var claimed bool
	// Lazy: the request's own durable commit follows; a crash before it loses both.
	err := s.store.UpdateLazy(ctx, func(tx Tx) error {
		var err error
		existing, claimed, err = tx.ClaimIdempotency(ctx, rec, now.Add(-IdempotencyTTL))
		return err
	})
	switch {
	case err != nil:
		return nil, nil, err
	case claimed:
		return &Claim{Scope: rec.Scope, Key: key, Token: rec.Token}, nil, nil
	case existing.Fingerprint != fingerprint:
		return nil, nil, Errorf(CodeIdempotencyKeyReused, "this Idempotency-Key was used with another request")
	case existing.Status == 0:
		return nil, nil, Errorf(CodeIdempotencyKeyInFlight, "a request with this Idempotency-Key is in progress")
	default:
		return nil, &Replay{Status: existing.Status, Body: existing.Body}, nil
	}
}

// release gives back a claim whose write failed, so that a retry may run.
func (s *Service) release(ctx context.Context, c *Claim) {
	if c == nil {
		return
	}
	// Lazy: lost in a crash, the claim simply waits out its lease.
	err := s.store.UpdateLazy(context.WithoutCancel(ctx), func(tx Tx) error {
		return tx.ReleaseIdempotency(ctx, c.Scope, c.Key, c.Token)
	})
	if err != nil {
		s.log.ErrorContext(ctx, "releasing an idempotency key failed", "err", err)
	}
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
