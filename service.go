package roster

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Service is roster's core: every rule of SPEC lives in it, above a Store. Surfaces (package
// api) and the command line call it; they decode and render, nothing more.
type Service struct {
	store Store
	now   Clock
	log   *slog.Logger
	audit auditor
	// noEvents turns event recording off (SetEventRecording).
	noEvents bool
	// verifying holds the chains being verified through the API (VerifyAudit): one at a time each.
	verifying sync.Map
}

// SetEventRecording turns the recording of events (SPEC §13) on or off; it is on unless turned
// off. Off breaks SPEC §13 and exists only so that `roster bench` can measure what recording
// costs a write (serve --events=false); call it before serving.
func (s *Service) SetEventRecording(on bool) { s.noEvents = !on }

// recorded is what a write's changes record as events: all of them, or none when recording is
// off.
func (s *Service) recorded(ch changes) changes {
	if s.noEvents {
		return nil
	}
	return ch
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

// Clock returns the current time; tests replace it.
type Clock func() time.Time

// Now truncates to microseconds, the precision both engines store.
func (c Clock) Now() time.Time { return c().UTC().Truncate(time.Microsecond) }

// Now is the service's clock, truncated to what storage keeps.
func (s *Service) Now() time.Time { return s.now.Now() }

// read runs fn in a read-only view of the store and returns what it read.
func read[T any](ctx context.Context, s *Service, fn func(Tx) (T, error)) (T, error) {
	var out T
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	return out, err
}

// Ready reports whether the database answers.
func (s *Service) Ready(ctx context.Context) error { return s.store.Ping(ctx) }

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
