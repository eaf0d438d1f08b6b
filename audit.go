package roster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
)

// The audit trail (SPEC §15, docs/audit.md): one record for every committed write, written by
// the write envelope in the write's own transaction; one for each 401 and 403 (bounded under
// floods, audit_refusal.go); one for each read of the trail. Each account's records, and the
// platform's, form a hash chain whose head the store keeps apart from the records.

// KindAudit is the prefix of audit record ids.
const KindAudit Kind = "audit_"

// The actions of audit records that are not writes (a write's action is its mutation's:
// "entity.update", "api_key.create"…).
const (
	ActionAuthFailed   = "auth.failed"
	ActionAccessDenied = "access.denied"
	ActionAuditRead    = "audit.read"
)

// The actor types of an audit record.
const (
	ActorKey       = "key"
	ActorCLI       = "cli"
	ActorAnonymous = "anonymous"
)

// The outcomes of an audit record.
const (
	OutcomeSuccess = "success"
	OutcomeDenied  = "denied"
)

// GenesisHash is the prev_hash of a chain's first record.
var GenesisHash = strings.Repeat("0", 64)

// Source is where a request came from, as its audit record says: the peer's address (the
// connection's, never a header a client can forge) and its User-Agent.
type Source struct {
	IP        string
	UserAgent string
}

// AuditRecord is one record of the trail, as stored. Ids are bare hex; "" stands for null.
type AuditRecord struct {
	ID         string
	AccountID  string // "" for the platform's chain
	Sequence   int64
	OccurredAt time.Time
	ActorType  string
	ActorKeyID string
	ActorRole  Role
	Source     Source
	RequestID  string
	// IdempotencyKey is the request's Idempotency-Key, "" when it sent none.
	IdempotencyKey string
	Action         string
	TargetType     string // "account", "entity", "api_key", "audit_event"; "" for none
	TargetID       string
	Outcome        string
	Status         int // the HTTP status answered; 0 at the command line
	// Count is how many requests the record stands for: 1, or more for a refusal record that
	// stands for a flood (SPEC §15).
	Count    int
	Changes  json.RawMessage // {"before":…,"after":…}; nil for none
	PrevHash string
	Hash     string
	// Position orders a list: the record's sequence in a list of one chain, its place in the
	// table in a list of every chain. Set by the store on reads; not part of the record.
	Position int64
}

// AuditHead is the last record of a chain as the chain's head row keeps it: sequence 0 and
// GenesisHash for a chain with no record.
type AuditHead struct {
	Sequence int64
	Hash     string
}

// AuditTx is what a transaction does with the trail. The store keeps each chain's head in a
// row of its own, apart from the records, so that a record cut from a chain's tail is found.
type AuditTx interface {
	// LockAuditHead returns the head of the chain of accountID ("" for the platform's),
	// creating it when the chain has none, and holds its row exclusively until the
	// transaction ends: appends to one chain are serialized, across processes too.
	LockAuditHead(ctx context.Context, accountID string) (AuditHead, error)
	// AppendAudit inserts rec and moves its chain's head to rec's sequence and hash; the
	// head must be held (LockAuditHead). The store may send it with the transaction's next
	// statement or its commit, whose error its own then is.
	AppendAudit(ctx context.Context, rec *AuditRecord) error
	// AuditHead reads the head of a chain without holding it; ErrNotFound when it has none.
	AuditHead(ctx context.Context, accountID string) (AuditHead, error)
	// AuditChains lists the accounts that have a chain head ("" for the platform), in order.
	AuditChains(ctx context.Context) ([]string, error)
	// AuditChain reads up to limit records of a chain with a sequence above after, in
	// sequence order.
	AuditChain(ctx context.Context, accountID string, after int64, limit int) ([]AuditRecord, error)
	// AuditRecord reads one record by id.
	AuditRecord(ctx context.Context, id string) (AuditRecord, error)
	// ListAudit reads one page of records, newest first (AuditListing). Its filters are
	// account_id (the one an index leads with), and action, actor_key_id, target_id (bare
	// hex), since and until (time.Time), which it applies to a window of at most a few pages
	// of rows, stopping short (q.Stop) when the window held too few matches.
	ListAudit(ctx context.Context, q ListQuery) ([]AuditRecord, error)
}

// auditView is a record as the API returns it and as its hash covers it: every field but hash.
type auditView struct {
	ID             string          `json:"id"`
	Sequence       int64           `json:"sequence"`
	OccurredAt     string          `json:"occurred_at"`
	AccountID      *string         `json:"account_id"`
	Actor          actorView       `json:"actor"`
	Source         sourceView      `json:"source"`
	RequestID      *string         `json:"request_id"`
	IdempotencyKey *string         `json:"idempotency_key"`
	Action         string          `json:"action"`
	Target         *targetView     `json:"target"`
	Outcome        string          `json:"outcome"`
	Status         *int            `json:"status"`
	Count          int             `json:"count"`
	Changes        json.RawMessage `json:"changes"`
	PrevHash       string          `json:"prev_hash"`
}

type actorView struct {
	Type  string  `json:"type"`
	KeyID *string `json:"key_id"`
	Role  *string `json:"role"`
}

type sourceView struct {
	IP        *string `json:"ip"`
	UserAgent *string `json:"user_agent"`
}

type targetView struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// targetKinds are the id prefixes of the types of target.
var targetKinds = map[string]Kind{"account": KindAccount, "entity": KindEntity, "api_key": KindKey, "audit_event": KindAudit}

func (r *AuditRecord) view() auditView {
	v := auditView{ID: KindAudit.Prefixed(r.ID), Sequence: r.Sequence, OccurredAt: r.OccurredAt.UTC().Format(TimeFormat),
		Actor: actorView{Type: r.ActorType}, Source: sourceView{IP: orNull(r.Source.IP), UserAgent: orNull(r.Source.UserAgent)},
		RequestID: orNull(r.RequestID), IdempotencyKey: orNull(r.IdempotencyKey), Action: r.Action, Outcome: r.Outcome,
		Count: r.Count, Changes: r.Changes, PrevHash: r.PrevHash}
	if r.AccountID != "" {
		v.AccountID = orNull(KindAccount.Prefixed(r.AccountID))
	}
	if r.ActorKeyID != "" {
		v.Actor.KeyID = orNull(KindKey.Prefixed(r.ActorKeyID))
	}
	v.Actor.Role = orNull(string(r.ActorRole))
	if r.TargetType != "" {
		v.Target = &targetView{Type: r.TargetType, ID: string(targetKinds[r.TargetType]) + r.TargetID}
	}
	if r.Status != 0 {
		v.Status = &r.Status
	}
	if len(r.Changes) == 0 {
		v.Changes = json.RawMessage("null")
	}
	return v
}

// MarshalJSON renders the record as the API returns it (SPEC §15), hash included.
func (r AuditRecord) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		auditView
		Hash string `json:"hash"`
	}{r.view(), r.Hash})
}

// ComputeHash is the hash a record must carry: SHA-256, lower-case hex, of the RFC 8785
// canonical JSON of the record as the API returns it, without hash. It canonicalizes the record
// directly (audit_canon.go; TestCanonRecordMatchesReference and FuzzComputeHash hold it equal to
// rendering the record and running the reference canonicalizer, which is about five times slower); its
// changes are canonicalized again, so that a record read back from storage, edited or not, is
// hashed as the API would show it. An error means the record cannot be shown: its changes are
// not JSON.
func (r *AuditRecord) ComputeHash() (string, error) {
	rec := *r
	if len(rec.Changes) > 0 {
		// The canonicalizer trusts its input; an edited record's may not be JSON, or not UTF-8
		// (which RFC 8785 has no form for: the reference refuses it too).
		if !json.Valid(rec.Changes) || !utf8.Valid(rec.Changes) {
			return "", errCanon
		}
		c, err := appendCanonJSON(make([]byte, 0, len(rec.Changes)), rec.Changes)
		if err != nil {
			return "", err
		}
		rec.Changes = c
	}
	sum := sha256.Sum256(rec.canonical(make([]byte, 0, 512+len(rec.Changes))))
	return hex.EncodeToString(sum[:]), nil
}

// HashAuditJSON hashes a record given as JSON without its hash field: what anyone can run on
// the API's answer, once hash is removed, to check a record.
func HashAuditJSON(doc []byte) (string, error) {
	canon, err := jcs.Transform(doc)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:]), nil
}

// auditor is the service's part of the trail: whether it is on, and the refusals it is
// gathering (audit_refusal.go).
type auditor struct {
	off      bool
	refusals refusals
}

// SetAudit turns the audit trail on (the default) or off. Off is for the benchmark that
// measures what the trail costs: a roster serving requests never runs with it off.
func (s *Service) SetAudit(on bool) { s.audit.off = !on }

// actor fills the actor of a record from the caller.
func (rec *AuditRecord) setActor(p Principal) {
	switch {
	case p.KeyID != "":
		rec.ActorType, rec.ActorKeyID, rec.ActorRole = ActorKey, p.KeyID, p.Role
	case p.Role == "":
		rec.ActorType = ActorAnonymous
	default:
		rec.ActorType = ActorCLI
	}
}

// maxUserAgent bounds the User-Agent a record keeps, in bytes.
const maxUserAgent = 512

// cleanText makes a header's value storable and renderable: valid UTF-8 without NUL, at most
// max bytes (cut at a character's boundary).
func cleanText(s string, max int) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "")
	}
	return s
}

// appendAudit chains rec to its account's chain in tx: sequence and prev_hash from the head
// (held until tx ends), occurred_at taken once the head is held, so that a chain's times follow
// its order, then the hash.
func (s *Service) appendAudit(ctx context.Context, tx Tx, rec *AuditRecord) error {
	head, err := tx.LockAuditHead(ctx, rec.AccountID)
	if err != nil {
		return err
	}
	if rec.OccurredAt.IsZero() {
		rec.OccurredAt = s.Now()
	}
	rec.ID = NewSequentialID(rec.OccurredAt)
	rec.Sequence, rec.PrevHash = head.Sequence+1, head.Hash
	if rec.Count == 0 {
		rec.Count = 1
	}
	rec.RequestID, rec.IdempotencyKey = cleanText(rec.RequestID, 255), cleanText(rec.IdempotencyKey, 255)
	rec.Source.UserAgent = cleanText(rec.Source.UserAgent, maxUserAgent)
	sum := sha256.Sum256(rec.canonical(make([]byte, 0, 512+len(rec.Changes))))
	rec.Hash = hex.EncodeToString(sum[:])
	return tx.AppendAudit(ctx, rec)
}

// auditWrite records a committed write (r, its changes ch and the operation's result out) in
// its transaction tx: the write envelope's one call for the trail.
func (s *Service) auditWrite(ctx context.Context, tx Tx, r *Request, ch changes, out any, at time.Time) error {
	if s.audit.off {
		return nil
	}
	rec := AuditRecord{RequestID: r.ID, IdempotencyKey: r.IdempotencyKey, Action: r.Action, Outcome: OutcomeSuccess,
		Status: r.SuccessStatus, Source: r.Source}
	rec.setActor(r.Principal)
	var known bool
	rec.TargetType, rec.TargetID, rec.AccountID, known = auditTarget(out, ch)
	if !known {
		return fmt.Errorf("audit: a write of %T names no target (auditTarget)", out)
	}
	if rec.TargetType == "" && len(ch) > 0 {
		return s.auditEach(ctx, tx, rec, ch, at)
	}
	if rec.TargetType == "" {
		rec.AccountID = r.Principal.AccountID
	}
	var err error
	if rec.Changes, err = auditChanges(ch, at); err != nil {
		return err
	}
	return s.appendAudit(ctx, tx, &rec)
}

// auditEach records a write of several objects that has no one target (an import) as one
// record per object it changed, each in its account's chain, in account order (so that two such
// writes take the chains' heads in one order).
func (s *Service) auditEach(ctx context.Context, tx Tx, base AuditRecord, ch changes, at time.Time) error {
	cs := slices.Clone(ch)
	slices.SortStableFunc(cs, func(a, b Change) int { return strings.Compare(a.AccountID, b.AccountID) })
	for i, c := range cs {
		rec := base
		rec.TargetType, rec.TargetID, rec.AccountID = changeTarget(c)
		var err error
		if rec.Changes, err = auditChanges(cs[i:i+1], at); err != nil {
			return err
		}
		if err := s.appendAudit(ctx, tx, &rec); err != nil {
			return err
		}
	}
	return nil
}

// changeTarget names the object of one change and its account; a relationship's is its entity.
func changeTarget(c Change) (typ, id, account string) {
	if rel, ok := c.Object.(Relationship); ok {
		return "entity", rel.EntityID, rel.AccountID
	}
	if typ, id, account, _ = auditTarget(c.Object, nil); typ != "" {
		return typ, id, account
	}
	return "", "", c.AccountID
}

// auditTarget names what a write is about, from its result out or, for a relationship's
// deletion (whose result is what remains), its change; and the account whose chain records it.
// typ is "" for a write of several objects with no one target (an import: one record per
// object), and for a relationship deletion that removed nothing. known is false for a result
// auditTarget was not taught: a new kind of write must say what its records are about.
func auditTarget(out any, ch changes) (typ, id, account string, known bool) {
	switch o := out.(type) {
	case Account:
		return "account", o.ID, o.ID, true
	case Entity:
		return "entity", o.ID, o.AccountID, true
	case APIKey:
		return "api_key", o.ID, o.AccountID, true
	case CreatedKey:
		return "api_key", o.Key.ID, o.Key.AccountID, true
	case BatchResult:
		return "account", o.AccountID, o.AccountID, true
	case []Relationship:
		for _, c := range ch {
			if rel, ok := c.Object.(Relationship); ok {
				return "entity", rel.EntityID, rel.AccountID, true
			}
		}
		return "", "", "", true
	case ImportOutcome, []ImportOutcome:
		return "", "", "", true
	}
	return "", "", "", false
}

// auditChanges renders what a write changed as a record's changes, in RFC 8785 canonical form
// (nil when nothing): for the write's object, the fields that changed, before and after, in the
// native view (all of them for a creation, after, or a deletion, before); the relationships a
// write created or removed as lists under "relationships". The native views hold no secret and
// no key hash.
func auditChanges(cs []Change, at time.Time) (json.RawMessage, error) {
	if len(cs) == 0 {
		return nil, nil
	}
	var before, after []member
	var relsBefore, relsAfter [][]byte
	for i := range cs {
		c := &cs[i]
		object, old, err := c.views(at)
		if err != nil {
			return nil, err
		}
		if _, ok := c.Object.(Relationship); ok {
			b := object
			if strings.HasSuffix(c.Type, ".deleted") {
				relsBefore = append(relsBefore, b)
			} else {
				relsAfter = append(relsAfter, b)
			}
			continue
		}
		is, err := objectMembers(object)
		if err != nil {
			return nil, err
		}
		switch {
		case c.Before != nil:
			was, err := objectMembers(old)
			if err != nil {
				return nil, err
			}
			old := make(map[string][]byte, len(was))
			for _, m := range was {
				old[m.key] = m.value
			}
			for _, m := range is {
				if v, had := old[m.key]; !had || !bytes.Equal(v, m.value) {
					if had {
						before = append(before, member{m.key, v})
					}
					after = append(after, m)
				}
				delete(old, m.key)
			}
			for k, v := range old {
				before = append(before, member{k, v})
			}
		case strings.HasSuffix(c.Type, ".deleted"):
			before = is
		default:
			after = is
		}
	}
	list := func(views [][]byte) []byte {
		return append(append([]byte{'['}, bytes.Join(views, []byte{','})...), ']')
	}
	if relsBefore != nil {
		before = append(before, member{"relationships", list(relsBefore)})
	}
	if relsAfter != nil {
		after = append(after, member{"relationships", list(relsAfter)})
	}
	if len(before) == 0 && len(after) == 0 {
		return nil, nil
	}
	out, err := appendMembers(append(make([]byte, 0, 1024), `{"after":`...), after)
	if err != nil {
		return nil, err
	}
	out, err = appendMembers(append(out, `,"before":`...), before)
	return append(out, '}'), err
}

// appendMembers appends the canonical object of members ms (sorted here).
func appendMembers(dst []byte, ms []member) ([]byte, error) {
	sortMembers(ms)
	dst = append(dst, '{')
	var err error
	for i, m := range ms {
		if i > 0 {
			if m.key == ms[i-1].key { // RFC 8785 has no form for an object with a key twice
				return dst, errCanon
			}
			dst = append(dst, ',')
		}
		dst = appendCanonString(dst, m.key)
		dst = append(dst, ':')
		if dst, err = appendCanonJSON(dst, m.value); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}
