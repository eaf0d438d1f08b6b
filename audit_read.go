package roster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// AuditListing is how the trail is listed: newest first, always (no sort parameter). A record's
// position is its sequence in a list of one chain, its place in the table in a list of every
// chain; both follow the order records were appended in.
var AuditListing = Listing{
	Fields:       map[string]FieldKind{"position": FieldString},
	DefaultSort:  "position:desc",
	DefaultLimit: 20,
	MaxLimit:     100,
}

// AuditValue is a record's value of a sort field of AuditListing.
func AuditValue(r AuditRecord, field string) any { return strconv.FormatInt(r.Position, 10) }

// AuditFilters are the filters of the trail's list besides account_id.
var AuditFilters = []string{"action", "actor_key_id", "target_id", "since", "until"}

// ListAudit lists the records r's caller may read (an admin: its account's; a superadmin: every
// chain's, or one account's with ?account_id=), newest first, and records the read.
func (s *Service) ListAudit(ctx context.Context, r *Request, req PageRequest) (Page[AuditRecord], error) {
	p := r.Principal
	if err := forCaller(p, &req); err != nil {
		return Page[AuditRecord]{}, err
	}
	req.Sort = ""
	ok, scope := true, ""
	pl, err := AuditListing.Plan(req, func(raw map[string]string) ([]Filter, error) {
		var fs []Filter
		var ps Problems
		sc, found, err := listScope(p, raw, &ps)
		if err != nil {
			return nil, err
		}
		ok, scope = found, sc
		if sc != "" {
			fs = append(fs, Filter{Field: "account_id", Value: sc})
		}
		if v, has := raw["action"]; has {
			fs = append(fs, Filter{Field: "action", Value: v})
		}
		// An id filter that is well formed but names nothing matches nothing: it must not
		// become "" and match the records with no key or no target.
		if v, has := raw["actor_key_id"]; has {
			if id, good := ParseID(KindKey, v); !good {
				ps.Add("string_pattern_mismatch", "String should match pattern '"+KindKey.Pattern()+"'", "query", "actor_key_id")
			} else {
				ok = ok && id != ""
				fs = append(fs, Filter{Field: "actor_key_id", Value: id})
			}
		}
		if v, has := raw["target_id"]; has {
			if id, good := parseIDOf(v, KindAccount, KindEntity, KindKey, KindAudit); !good {
				ps.Add("string_pattern_mismatch", "String should be an id of an account, entity, key or audit record", "query", "target_id")
			} else {
				ok = ok && id != ""
				fs = append(fs, Filter{Field: "target_id", Value: id})
			}
		}
		for _, f := range []string{"since", "until"} {
			if v, has := raw[f]; has {
				t, err := time.Parse(time.RFC3339Nano, v)
				if err != nil {
					ps.Add("datetime_parsing", "Input should be a valid datetime (RFC 3339)", "query", f)
					continue
				}
				fs = append(fs, Filter{Field: f, Value: t.UTC()})
			}
		}
		return fs, ps.Err()
	})
	if err != nil {
		return Page[AuditRecord]{}, err
	}
	if pl.Query.After != nil {
		// Positions travel as text in cursors; the store reads them as numbers.
		n, err := strconv.ParseInt(pl.Query.After[0].(string), 10, 64)
		if err != nil || n < 0 {
			return Page[AuditRecord]{}, Errorf(CodeInvalidCursor, "the cursor is not valid")
		}
		pl.Query.After[0] = n
	}
	var rows []AuditRecord
	if ok {
		if rows, err = read(ctx, s, func(tx Tx) ([]AuditRecord, error) { return tx.ListAudit(ctx, pl.Query) }); err != nil {
			return Page[AuditRecord]{}, err
		}
	}
	rows = fitAuditPage(rows, pl.Query)
	page := BuildPage(rows, pl, AuditValue)
	return page, s.auditRead(ctx, r, scope, "", "")
}

// auditPageRoom is what a page of records may take of MaxResponse, the rest being the envelope.
const auditPageRoom = MaxResponse - 64<<10

// auditRecordSize bounds a record's JSON as the API renders it: its changes, with what
// encoding/json's HTML-safe escaping adds to them (<, > and & become \u003c…, U+2028 and U+2029
// \u2028…), and 8 KiB for every other field (at most a few KiB escaped).
func auditRecordSize(r *AuditRecord) int {
	n := 8<<10 + len(r.Changes)
	for i := 0; i < len(r.Changes); i++ {
		switch c := r.Changes[i]; {
		case c == '<' || c == '>' || c == '&':
			n += 5
		case c == 0xE2 && i+2 < len(r.Changes) && r.Changes[i+1] == 0x80 && (r.Changes[i+2] == 0xA8 || r.Changes[i+2] == 0xA9):
			n += 3
		}
	}
	return n
}

// fitAuditPage cuts rows, in the order they were read, after the last record that fits in a
// response (SPEC §10): a record of an entity at the field limits, updated, holds it twice (some
// 180 KB), and 100 of them would pass 8 MiB. The page then stops early where the store would
// have (q.Stop): its cursor resumes right after the last record kept. The first always fits.
func fitAuditPage(rows []AuditRecord, q ListQuery) []AuditRecord {
	size := 0
	for i := range rows {
		if size += auditRecordSize(&rows[i]); size > auditPageRoom && i > 0 {
			if q.Stop != nil {
				q.Stop.After = []any{AuditValue(rows[i-1], "")}
			}
			return rows[:i]
		}
	}
	return rows
}

// AuditEvent reads one record r's caller may read (another account's is 404), and records
// the read.
func (s *Service) AuditEvent(ctx context.Context, r *Request, rawID string) (AuditRecord, error) {
	id, err := parsePathID(KindAudit, rawID, "id")
	if err != nil {
		return AuditRecord{}, err
	}
	notFound := Errorf(CodeNotFound, "audit record not found")
	if id == "" {
		return AuditRecord{}, notFound
	}
	rec, err := read(ctx, s, func(tx Tx) (AuditRecord, error) { return tx.AuditRecord(ctx, id) })
	if errors.Is(err, ErrNotFound) || err == nil && !r.Principal.IsSuperadmin() && rec.AccountID != r.Principal.AccountID {
		return AuditRecord{}, notFound
	}
	if err != nil {
		return AuditRecord{}, err
	}
	scope := rec.AccountID
	if !r.Principal.IsSuperadmin() {
		scope = r.Principal.AccountID
	}
	return rec, s.auditRead(ctx, r, scope, "audit_event", rec.ID)
}

// auditRead records a read of the trail by r in the chain of account ("" for the platform's).
func (s *Service) auditRead(ctx context.Context, r *Request, account, targetType, targetID string) error {
	if s.audit.off {
		return nil
	}
	return s.store.Update(ctx, func(tx Tx) error {
		rec := AuditRecord{AccountID: account, RequestID: r.ID, Action: ActionAuditRead, Outcome: OutcomeSuccess, Status: 200,
			Source: r.Source, TargetType: targetType, TargetID: targetID}
		rec.setActor(r.Principal)
		return s.appendAudit(ctx, tx, &rec)
	})
}

// AuditBreak is the first record of a chain that fails verification.
type AuditBreak struct {
	Sequence int64
	ID       string // bare hex; "" when the record is missing
	Reason   string
}

// AuditVerification is the outcome of checking one chain (SPEC §15).
type AuditVerification struct {
	AccountID string // the chain's account, "" for the platform's
	OK        bool
	Records   int64 // records checked (on failure: those before the first bad one)
	Head      AuditHead
	FirstBad  *AuditBreak
}

// VerifyAudit checks the chain r's caller may read (an admin: its account's; a superadmin:
// the platform's, or the account's of rawAccount), and, with rawHead ("SEQ:HASH"), that this
// record is still in it with that hash. The read is recorded (after the check).
func (s *Service) VerifyAudit(ctx context.Context, r *Request, rawAccount, rawHead string) (AuditVerification, error) {
	p := r.Principal
	var ps Problems
	account, found, err := listScope(p, map[string]string{"account_id": rawAccount}, &ps)
	if rawAccount == "" {
		account, found, err = p.AccountID, true, nil
	}
	if err != nil {
		return AuditVerification{}, err
	}
	var want *AuditHead
	if rawHead != "" {
		h, ok := parseHead(rawHead)
		if !ok {
			ps.Add("string_pattern_mismatch", "String should match pattern '^[1-9][0-9]*:[0-9a-f]{64}$'", "query", "head")
		}
		want = &h
	}
	if err := ps.Err(); err != nil {
		return AuditVerification{}, err
	}
	if !found { // a well-formed id that names nothing: a chain without a record
		return AuditVerification{OK: want == nil, Head: AuditHead{Hash: GenesisHash}, FirstBad: noRecord(want)}, nil
	}
	// A verification reads the whole chain, however long: one at a time per chain, so that one
	// tenant cannot keep the server busy hashing with every request it may have in flight.
	if _, busy := s.verifying.LoadOrStore(account, true); busy {
		return AuditVerification{}, Errorf(CodeRateLimited, "this chain is being verified by another request; retry when it has answered")
	}
	defer s.verifying.Delete(account)
	v, err := s.CheckAuditChain(ctx, account, want)
	if err != nil {
		return v, err
	}
	return v, s.auditRead(ctx, r, account, "", "")
}

// noRecord is the first bad record of an empty chain checked against a head: the head's.
func noRecord(want *AuditHead) *AuditBreak {
	if want == nil {
		return nil
	}
	return &AuditBreak{Sequence: want.Sequence, Reason: "the chain has no record"}
}

func parseHead(raw string) (AuditHead, bool) {
	seq, hash, ok := strings.Cut(raw, ":")
	n, err := strconv.ParseInt(seq, 10, 64)
	if !ok || err != nil || n < 1 || len(hash) != 64 || strings.Trim(hash, "0123456789abcdef") != "" {
		return AuditHead{}, false
	}
	return AuditHead{Sequence: n, Hash: hash}, true
}

// auditChainPage is how many records a verification reads at once.
const auditChainPage = 1000

// CheckAuditChain verifies the chain of accountID ("" for the platform's) from its first record
// to the head the store keeps: sequences 1, 2, 3… without a gap, each prev_hash the previous
// record's hash, each hash that of the record's content, the last record the head; and, when
// want is given, that the record of want's sequence is in the chain with want's hash. It records
// nothing: the command line runs it offline.
func (s *Service) CheckAuditChain(ctx context.Context, accountID string, want *AuditHead) (AuditVerification, error) {
	v := AuditVerification{AccountID: accountID}
	head, err := read(ctx, s, func(tx Tx) (AuditHead, error) { return tx.AuditHead(ctx, accountID) })
	if errors.Is(err, ErrNotFound) {
		head, err = AuditHead{Hash: GenesisHash}, nil
	}
	if err != nil {
		return v, err
	}
	bad := func(seq int64, id, reason string) (AuditVerification, error) {
		v.FirstBad = &AuditBreak{Sequence: seq, ID: id, Reason: reason}
		return v, nil
	}
	prev, last, lastID := GenesisHash, int64(0), ""
	for last < head.Sequence {
		recs, err := read(ctx, s, func(tx Tx) ([]AuditRecord, error) {
			return tx.AuditChain(ctx, accountID, last, auditChainPage)
		})
		if err != nil {
			return v, err
		}
		if len(recs) == 0 {
			break
		}
		for i := range recs {
			rec := &recs[i]
			if rec.Sequence > head.Sequence {
				break // appended after the head was read
			}
			if rec.Sequence != last+1 {
				return bad(rec.Sequence, rec.ID, fmt.Sprintf("sequence %d follows %d: record %d is missing", rec.Sequence, last, last+1))
			}
			if rec.PrevHash != prev {
				return bad(rec.Sequence, rec.ID, "prev_hash is not the previous record's hash")
			}
			h, err := rec.ComputeHash()
			if err != nil {
				return bad(rec.Sequence, rec.ID, "changes is not valid JSON in UTF-8")
			}
			if h != rec.Hash {
				return bad(rec.Sequence, rec.ID, "hash does not match the record's content")
			}
			if want != nil && rec.Sequence == want.Sequence && rec.Hash != want.Hash {
				return bad(rec.Sequence, rec.ID, "the record's hash is not the one of the head given")
			}
			prev, last, lastID = rec.Hash, rec.Sequence, rec.ID
			v.Records++
		}
	}
	if last < head.Sequence {
		return bad(last+1, "", fmt.Sprintf("the chain ends at %d but its head is at %d: records were cut from its tail", last, head.Sequence))
	}
	if prev != head.Hash {
		return bad(last, lastID, "the last record's hash is not the chain head's")
	}
	if want != nil && want.Sequence > last {
		return bad(want.Sequence, "", fmt.Sprintf("the chain ends at %d, before the head given", last))
	}
	v.OK, v.Head = true, AuditHead{Sequence: last, Hash: prev}
	return v, nil
}

// AuditChains lists the chains that have records: "" (the platform's) and account ids.
func (s *Service) AuditChains(ctx context.Context) ([]string, error) {
	return read(ctx, s, func(tx Tx) ([]string, error) { return tx.AuditChains(ctx) })
}
