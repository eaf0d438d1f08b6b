package roster

import (
	"context"
	"errors"
	"unicode/utf8"
)

// Request is a request as a surface hands it to the core: who asks, and what SPEC §4 and §5
// read from its headers. A write fills in the response it saved or replayed.
type Request struct {
	Principal Principal
	// ID is the request's X-Request-Id ("" at the command line).
	ID string
	// IdempotencyKey and Nonce are the headers as sent, "" when absent.
	IdempotencyKey string
	Nonce          string
	// Fingerprint identifies the request among those sent with the same Idempotency-Key.
	Fingerprint string
	// Render renders an operation's result as the surface answers it: an idempotent write saves
	// the rendered response in its own transaction. Saved, when set, renders the copy kept for
	// replays instead (a created key's replay must not carry its secret).
	Render func(v any) (status int, body []byte, err error)
	Saved  func(v any) (status int, body []byte, err error)

	// Action names the write ("entity.update"), set when it starts.
	Action string
	// Source is where the request came from, and SuccessStatus the status a success answers
	// with (0 at the command line): for its audit record.
	Source        Source
	SuccessStatus int
	// Changes are what the write did, set once it has committed.
	Changes []Change
	// Replayed, Status and Body are set by a write that answered from an earlier request's saved
	// response (Replayed), or saved its own: the surface sends them as they are.
	Replayed bool
	Status   int
	Body     []byte
}

// Operator is a request of the operator at the command line: a superadmin without a key, with
// no idempotency key and no nonce.
func Operator() *Request { return &Request{Principal: System} }

// mutation is one kind of write: how it reads its request and the operation it then runs.
type mutation[T any] struct {
	// action names the write as audit records do: "entity.update", "api_key.create"…
	action string
	// mode is how the write holds its caller's account (holdPrincipal).
	mode LockMode
	// keyRequired makes Idempotency-Key mandatory (a relationship batch, SPEC §9).
	keyRequired bool
	// prepare decodes and validates the request: problems into ps, reported at once with the
	// headers' own; any other refusal as its error. It returns the operation to run.
	prepare func(ps *Problems) (op operation[T], err error)
}

// operation is the body of a write, run in its transaction: it records in ch every change it
// makes, and changes nothing it does not record.
type operation[T any] func(tx Tx, ch *changes) (T, error)

// write is the one way roster changes anything, from every surface and the command line. After
// the route's access (Principal.Allow), it runs SPEC §5's remaining checks in order — decoding
// and validation (422), idempotency (a replay, 409), the nonce (412) — and then the operation
// in one transaction that re-checks the caller (holdPrincipal) and, for an idempotent request,
// saves the rendered response before it commits. A write that records more of itself (events,
// audit) records it here, in that transaction, so none can exist without it.
//
// A replay returns the zero T with r.Replayed set.
func write[T any](ctx context.Context, s *Service, r *Request, m mutation[T]) (T, error) {
	var zero T
	r.Action = m.action
	var ps Problems
	op, err := m.prepare(&ps)
	if err != nil {
		return zero, err
	}
	key := r.IdempotencyKey
	if utf8.RuneCountInString(key) > MaxIdempotencyKey {
		ps.Add("string_too_long", "String should have at most 255 characters", "header", "Idempotency-Key")
	} else {
		ps.Text(key, "header", "Idempotency-Key")
	}
	if err := ps.Err(); err != nil {
		return zero, err
	}
	if m.keyRequired && key == "" {
		return zero, Errorf(CodeIdempotencyKeyMissing, "an Idempotency-Key header is required")
	}
	claim, replay, err := s.claim(ctx, r.Principal, key, r.Fingerprint)
	if err != nil {
		return zero, err
	}
	if replay != nil {
		r.Replayed, r.Status, r.Body = true, replay.Status, replay.Body
		return zero, nil
	}
	if err := s.spendNonce(ctx, r.Principal, r.Nonce); err != nil {
		s.release(ctx, claim)
		return zero, err
	}
	out, err := commit(ctx, s, r, claim, m.mode, op)
	if err != nil {
		s.release(ctx, claim)
	}
	return out, err
}

// commit runs op in one transaction and, when the request holds an idempotency claim, saves
// the rendered response in that same transaction.
//
// Before op, it re-checks the caller in the transaction and locks what let it in
// (holdPrincipal): the caller's account, shared, or exclusively when mode is Exclusive — the
// mode of an operation that will change that account or one of its keys, so that the row is
// taken once in the strength it needs rather than shared and then upgraded (two such writes
// would deadlock). Every write thus takes its locks in one order: the account, then its keys,
// then its entities.
func commit[T any](ctx context.Context, s *Service, r *Request, claim *Claim, mode LockMode, op operation[T]) (T, error) {
	var out T
	var ch changes
	err := s.store.Update(ctx, func(tx Tx) error {
		ch = ch[:0] // a transaction retried runs op again
		if err := s.holdPrincipal(ctx, tx, r.Principal, mode); err != nil {
			return err
		}
		v, err := op(tx, &ch)
		if err != nil {
			return err
		}
		out = v
		// What the write changed, recorded in its own transaction (SPEC §13): none on a rollback,
		// none for a replay (which never gets here), none for a write that changed nothing.
		// One moment for the write's records (a key's status in its views depends on it), each
		// object rendered once for both (Change.views).
		at := s.Now()
		recs, err := eventRecords(r, s.recorded(ch), at)
		if err != nil {
			return err
		}
		if err := tx.RecordEvents(ctx, recs); err != nil {
			return err
		}
		// Then its audit record (SPEC §15), in the same transaction: events first, audit second,
		// in every write, as both take a row of the account at the end of the write.
		if err := s.auditWrite(ctx, tx, r, ch, v, at); err != nil {
			return err
		}
		if claim == nil {
			return nil
		}
		render := r.Render
		if r.Saved != nil {
			render = r.Saved
		}
		status, body, err := render(v)
		if err != nil {
			return err
		}
		if err := tx.CompleteIdempotency(ctx, claim.Scope, claim.Key, claim.Token, status, body); err != nil {
			if errors.Is(err, ErrNotFound) {
				return Errorf(CodeIdempotencyKeyInFlight, "the idempotency lease ran out before the request finished; retry")
			}
			return err
		}
		if r.Saved == nil { // the saved copy is the live response too
			r.Status, r.Body = status, body
		}
		return nil
	})
	if err == nil {
		r.Changes = ch
	}
	return out, err
}

// decodeBody parses a request body as JSON (SPEC §5's strict reader); a missing body is a
// missing-body problem.
func decodeBody(body []byte) (any, error) {
	if body == nil {
		return nil, Invalid("missing", "Field required", "body")
	}
	return DecodeJSON(body)
}
