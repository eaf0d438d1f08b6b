package roster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"
	"unicode/utf8"
)

// Service holds every rule of roster: authentication, roles and tenancy, validation that needs
// stored state, idempotency and nonces. Surfaces call it; stores serve it.
type Service struct {
	store Store
	now   Clock
	log   *slog.Logger
}

// NewService wires a service over a store. now may be nil for the wall clock.
func NewService(store Store, now func() time.Time, log *slog.Logger) *Service {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, now: Clock(now), log: log}
}

// Now is the service's clock, truncated to what storage keeps.
func (s *Service) Now() time.Time { return s.now.Now() }

// Ready reports whether the database answers.
func (s *Service) Ready(ctx context.Context) error { return s.store.Ping(ctx) }

func unauthorized() error { return Errorf(CodeUnauthorized, "authentication failed") }

// keyTouchInterval bounds how often last_used_at is written for one key.
const keyTouchInterval = time.Minute

// Authenticate turns a presented secret into a principal, or a 401.
func (s *Service) Authenticate(ctx context.Context, secret string) (Principal, error) {
	if !WellFormedSecret(secret) {
		return Principal{}, unauthorized()
	}
	var k Credential
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		k, err = tx.KeyByHash(ctx, HashSecret(secret))
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return Principal{}, unauthorized()
	}
	if err != nil {
		return Principal{}, err
	}
	now := s.Now()
	if k.Status(now) != KeyActive {
		return Principal{}, unauthorized()
	}
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= keyTouchInterval {
		if err := s.store.Update(ctx, func(tx Tx) error { return tx.TouchKey(ctx, k.KeyID, now) }); err != nil {
			s.log.WarnContext(ctx, "recording key use failed", "key_id", KindKey.Prefixed(k.KeyID), "err", err)
		}
	}
	return Principal{KeyID: k.KeyID, AccountID: k.AccountID, Role: k.Role, Suspended: k.AccountStatus == AccountSuspended}, nil
}

// PathAccount resolves an account id taken from a path for caller p: 403 when it is not the
// caller's own (malformed included), 422 when a superadmin sends a malformed one, and "" (which
// the operation turns into 404) when it is well formed but names nothing roster made.
func (p Principal) PathAccount(raw string, loc ...any) (string, error) {
	id, ok := ParseID(KindAccount, raw)
	if !p.IsSuperadmin() {
		if !ok || id != p.AccountID {
			return "", Errorf(CodeForbidden, "this key has no access to that account")
		}
		return id, nil
	}
	if !ok {
		return "", Invalid("string_pattern_mismatch", "String should match pattern '"+KindAccount.Pattern()+"'", loc...)
	}
	return id, nil
}

// Write is the envelope of a mutation: its idempotency claim, if the client sent a key, and
// how the surface renders the result, so the rendered response commits with the write.
type Write struct {
	Claim  *Claim
	Render func(v any) (status int, body []byte, err error)
	// Saved, when set, renders the copy kept for replays instead of Render (a created key's
	// replay must not carry its secret).
	Saved func(v any) (status int, body []byte, err error)
	// Status and Body hold the rendered response once an idempotent write committed.
	Status int
	Body   []byte
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

// IdempotencyTTL is how long keys are kept; IdempotencyLease how long an in-flight claim holds.
const (
	IdempotencyTTL    = 24 * time.Hour
	IdempotencyLease  = 60 * time.Second
	NonceTTL          = 60 * time.Second
	MaxIdempotencyKey = 255
)

// BeginWrite runs the idempotency and nonce steps of a mutation, in that order (SPEC §5): it
// returns a replay when the key was already answered, or the claim the write must complete.
// Both key and nonce may be "" (absent).
func (s *Service) BeginWrite(ctx context.Context, p Principal, key, fingerprint, nonce string) (*Claim, *Replay, error) {
	var claim *Claim
	if key != "" {
		now := s.Now()
		rec := IdempotencyRecord{Scope: p.Scope(), Key: key, Fingerprint: fingerprint, Token: newToken(),
			LeaseUntil: now.Add(IdempotencyLease), CreatedAt: now}
		var existing IdempotencyRecord
		var claimed bool
		// Lazy: the request's own durable commit follows; a crash before it loses both.
		err := s.store.UpdateLazy(ctx, func(tx Tx) error {
			var err error
			existing, claimed, err = tx.ClaimIdempotency(ctx, rec)
			return err
		})
		if err != nil {
			return nil, nil, err
		}
		if !claimed {
			switch {
			case existing.Fingerprint != fingerprint:
				return nil, nil, Errorf(CodeIdempotencyKeyReused, "this Idempotency-Key was used with another request")
			case existing.Status == 0:
				return nil, nil, Errorf(CodeIdempotencyKeyInFlight, "a request with this Idempotency-Key is in progress")
			default:
				return nil, &Replay{Status: existing.Status, Body: existing.Body}, nil
			}
		}
		claim = &Claim{Scope: rec.Scope, Key: key, Token: rec.Token}
	}
	if nonce != "" {
		var spent bool
		var err error
		if utf8.ValidString(nonce) && !HasNUL(nonce) { // anything else was never issued
			err = s.store.Update(ctx, func(tx Tx) error {
				var err error
				spent, err = tx.SpendNonce(ctx, nonce, p.KeyID, s.Now())
				return err
			})
		}
		if err == nil && !spent {
			err = Errorf(CodeNonceInvalid, "the client nonce is unknown, expired, already used or not issued to this key")
		}
		if err != nil {
			s.release(ctx, claim)
			return nil, nil, err
		}
	}
	return claim, nil, nil
}

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

// commit runs a mutation of p's in one transaction and, when it holds an idempotency claim,
// saves the rendered response in that same transaction. Any error releases the claim.
//
// Before fn, it re-checks p in the transaction and locks what let p in (holdPrincipal): the
// caller's account, shared, or exclusively when mode is exclusive — the mode of an operation that
// will change that account or one of its keys, so that the row is taken once in the strength it
// needs rather than shared and then upgraded (two such writes would deadlock). Every write thus
// takes its locks in one order: the account, then its keys, then its entities.
func commit[T any](ctx context.Context, s *Service, p Principal, w *Write, mode LockMode, fn func(tx Tx) (T, error)) (T, error) {
	var out T
	err := s.store.Update(ctx, func(tx Tx) error {
		if err := s.holdPrincipal(ctx, tx, p, mode); err != nil {
			return err
		}
		v, err := fn(tx)
		if err != nil {
			return err
		}
		out = v
		if w == nil || w.Claim == nil {
			return nil
		}
		render := w.Render
		if w.Saved != nil {
			render = w.Saved
		}
		status, body, err := render(v)
		if err != nil {
			return err
		}
		if err := tx.CompleteIdempotency(ctx, w.Claim.Scope, w.Claim.Key, w.Claim.Token, status, body); err != nil {
			if errors.Is(err, ErrNotFound) {
				return Errorf(CodeIdempotencyKeyInFlight, "the idempotency lease ran out before the request finished; retry")
			}
			return err
		}
		if w.Saved == nil { // the saved copy is the live response too
			w.Status, w.Body = status, body
		}
		return nil
	})
	if err != nil && w != nil {
		s.release(ctx, w.Claim)
	}
	return out, err
}

// LockMode is how strongly a write holds its caller's account: Shared for a write under the
// account, Exclusive for one that changes the account or one of its keys.
type LockMode int

const (
	Shared LockMode = iota
	Exclusive
)

// holdPrincipal re-reads, in a write's transaction, what let p write when it was authenticated:
// its key live and active, its account live and, for an account key, not suspended, and holds
// the account row (a superadmin key: its own row) until the write commits. Every change of a key
// (revocation, deletion) takes its account's row exclusively first, and so does every change of
// an account, so a revocation, suspension or deletion either committed before (and the write is
// refused as the next request would be: 401, or 403 account_suspended) or waits for the write:
// no write lands after one of those was acknowledged (SPEC §11). The operator at the command line
// has no key to check.
func (s *Service) holdPrincipal(ctx context.Context, tx Tx, p Principal, mode LockMode) error {
	if p.KeyID == "" {
		return nil
	}
	if p.IsSuperadmin() {
		k, err := tx.LockKey(ctx, p.KeyID)
		if errors.Is(err, ErrNotFound) || err == nil && k.Status(s.Now()) != KeyActive {
			return unauthorized()
		}
		return err
	}
	// The key itself needs no lock: whatever changes it holds this account row exclusively.
	c, err := tx.LockCaller(ctx, p.KeyID, p.AccountID, mode == Exclusive)
	if errors.Is(err, ErrNotFound) || err == nil && c.Status(s.Now()) != KeyActive {
		return unauthorized()
	}
	if err != nil {
		return err
	}
	if c.AccountStatus == AccountSuspended {
		return Principal{Role: p.Role, Suspended: true}.canWriteOwn()
	}
	return nil
}

// IssueNonce creates a single-use nonce for the caller's key.
func (s *Service) IssueNonce(ctx context.Context, p Principal) (Nonce, error) {
	now := s.Now()
	n := Nonce{Value: newUUID(), KeyID: p.KeyID, ExpiresAt: now.Add(NonceTTL), CreatedAt: now}
	err := s.store.Update(ctx, func(tx Tx) error { return tx.InsertNonce(ctx, n) })
	return n, err
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Purge deletes expired idempotency records and nonces.
func (s *Service) Purge(ctx context.Context) error {
	now := s.Now()
	return s.store.Update(ctx, func(tx Tx) error {
		if _, err := tx.PurgeIdempotency(ctx, now.Add(-IdempotencyTTL)); err != nil {
			return err
		}
		_, err := tx.PurgeNonces(ctx, now)
		return err
	})
}

// RunPurger purges every interval until ctx ends.
func (s *Service) RunPurger(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Purge(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("purge failed", "err", err)
			}
		}
	}
}
