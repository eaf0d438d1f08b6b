package roster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"
	"unicode/utf8"
)

// NonceTTL is how long an issued client nonce may be spent.
const NonceTTL = 60 * time.Second

// Nonce is a single-use client nonce bound to a key.
type Nonce struct {
	Value     string
	KeyID     string
	ExpiresAt time.Time
	CreatedAt time.Time
}

// IssueNonce creates a single-use nonce for the caller's key.
func (s *Service) IssueNonce(ctx context.Context, p Principal) (Nonce, error) {
	now := s.Now()
	n := Nonce{Value: newUUID(), KeyID: p.KeyID, ExpiresAt: now.Add(NonceTTL), CreatedAt: now}
	err := s.store.Update(ctx, func(tx Tx) error { return tx.InsertNonce(ctx, n) })
	return n, err
}

// spendNonce runs the nonce step of a write: a nonce sent ("" is none) must have been issued to
// the caller's key, be unexpired and unused, and is then used up (412 otherwise).
func (s *Service) spendNonce(ctx context.Context, p Principal, nonce string) error {
	if nonce == "" {
		return nil
	}
	var spent bool
	if utf8.ValidString(nonce) && !HasNUL(nonce) { // anything else was never issued
		err := s.store.Update(ctx, func(tx Tx) error {
			var err error
			spent, err = tx.SpendNonce(ctx, nonce, p.KeyID, s.Now())
			return err
		})
		if err != nil {
			return err
		}
	}
	if !spent {
		return Errorf(CodeNonceInvalid, "the client nonce is unknown, expired, already used or not issued to this key")
	}
	return nil
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
