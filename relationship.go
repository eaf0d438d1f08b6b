package roster

import (
	"context"
	"fmt"
	"maps"
	"time"
)

// Relationship puts an entity in a role on the account that owns it.
type Relationship struct {
	AccountID string
	EntityID  string
	Type      string
	CreatedAt time.Time
}

// RelationshipTypes are the roles an entity can hold.
var RelationshipTypes = []string{"account_holder", "authorized_signer", "authorized_user"}

// ValidRelationshipType reports whether t is one of RelationshipTypes.
func ValidRelationshipType(t string) bool {
	for _, r := range RelationshipTypes {
		if r == t {
			return true
		}
	}
	return false
}

// RelationshipListing is how relationships are listed: by creation, then entity, then type.
var RelationshipListing = Listing{
	Fields:       map[string]FieldKind{"created_at": FieldTime, "entity_id": FieldString, "relationship_type": FieldString},
	Sortable:     []string{"created_at"},
	DefaultSort:  "created_at:asc",
	TieBreak:     []string{"entity_id", "relationship_type"},
	DefaultLimit: 20,
	MaxLimit:     100,
}

// RelationshipValue returns the value of a sortable field of r.
func RelationshipValue(r Relationship, field string) any {
	switch field {
	case "entity_id":
		return r.EntityID
	case "relationship_type":
		return r.Type
	default:
		return r.CreatedAt
	}
}

// RelationshipBatch is a validated batch request: entity ids canonical, in request order.
// An id that is well formed but cannot name an entity roster made is "" (a not_found later).
type RelationshipBatch struct {
	EntityIDs []string
	Raw       []string
	Type      string
}

// MaxBatch is the most entity ids one batch may carry.
const MaxBatch = 20

// DecodeRelationshipBatch reads and validates a batch body.
func DecodeRelationshipBatch(v any) (RelationshipBatch, error) {
	b := NewBody(v)
	var in RelationshipBatch
	if !b.Valid() {
		return in, b.Problems.Err()
	}
	ps := &b.Problems
	// The count comes first, as pydantic's max_length: a list over MaxBatch is one too_long
	// problem whatever its items are.
	ids := b.StringList("entity_ids", true, ListLimits{MaxItems: MaxBatch})
	if ids.Null {
		ps.Add("list_type", "Input should be a valid list", "body", "entity_ids")
	}
	typ := b.String("relationship_type", true)
	if ids.Has() {
		switch n := len(ids.V); {
		case n == 0:
			ps.Add("too_short", "List should have at least 1 item after validation, not 0", "body", "entity_ids")
		default:
			seen := map[string]int{}
			for i, raw := range ids.V {
				id, ok := ParseID(KindEntity, raw)
				if !ok {
					ps.Add("string_pattern_mismatch", "String should match pattern '"+KindEntity.Pattern()+"'", "body", "entity_ids", i)
					continue
				}
				canon := id
				if canon == "" {
					canon = "raw:" + raw
				}
				if first, dup := seen[canon]; dup {
					ps.Add("duplicate", fmt.Sprintf("Value error, the same entity as entity_ids[%d]", first), "body", "entity_ids", i)
					continue
				}
				seen[canon] = i
				in.EntityIDs = append(in.EntityIDs, id)
				in.Raw = append(in.Raw, raw)
			}
		}
	}
	if typ.Null {
		ps.Add("enum", "Input should be 'account_holder', 'authorized_signer' or 'authorized_user'", "body", "relationship_type")
	} else if typ.Has() {
		if ValidRelationshipType(typ.V) {
			in.Type = typ.V
		} else {
			ps.Enum(RelationshipTypes, "body", "relationship_type")
		}
	}
	return in, b.Finish()
}

// BatchResult is what a batch answers.
type BatchResult struct {
	AccountID string
	Type      string
	EntityIDs []string
}

// CreateRelationships puts every entity of a batch body in the role on the account (the path's,
// resolved by the route's access), all or nothing: each id that names no entity of the account
// is a not_found problem. A batch needs an Idempotency-Key (SPEC §9).
func (s *Service) CreateRelationships(ctx context.Context, r *Request, accountID string, body []byte) (BatchResult, error) {
	p := r.Principal
	return write(ctx, s, r, mutation[BatchResult]{action: "relationship.create", mode: Shared, keyRequired: true, prepare: func(ps *Problems) (operation[BatchResult], error) {
		v, err := decodeBody(body)
		if err != nil {
			return nil, err
		}
		in, err := DecodeRelationshipBatch(v)
		if err := ps.Absorb(err); err != nil {
			return nil, err
		}
		return func(tx Tx, ch *changes) (BatchResult, error) {
			return s.createRelationships(ctx, tx, ch, p, accountID, in)
		}, nil
	}})
}

func (s *Service) createRelationships(ctx context.Context, tx Tx, ch *changes, p Principal, accountID string, in RelationshipBatch) (BatchResult, error) {
	// As in createEntity: commit share-locks an account key's own account.
	if p.IsSuperadmin() {
		if _, err := lockAccount(ctx, tx, accountID); err != nil {
			return BatchResult{}, err
		}
	}
	var lookup []string
	for _, id := range in.EntityIDs {
		if id != "" {
			lookup = append(lookup, id)
		}
	}
	found, err := tx.ExistingEntities(ctx, accountID, lookup)
	if err != nil {
		return BatchResult{}, err
	}
	var ps Problems
	now := s.Now()
	rs := make([]Relationship, 0, len(in.EntityIDs))
	for i, id := range in.EntityIDs {
		if !found[id] {
			ps.Add("not_found", "no entity of this account has this id", "body", "entity_ids", i)
			continue
		}
		rs = append(rs, Relationship{AccountID: accountID, EntityID: id, Type: in.Type, CreatedAt: now})
	}
	if err := ps.Err(); err != nil {
		return BatchResult{}, err
	}
	created, err := tx.InsertRelationships(ctx, rs)
	if err != nil {
		return BatchResult{}, err
	}
	// One relationship.created per pair the batch added, in the batch's order (SPEC §13).
	added := make(map[string]Relationship, len(created))
	for _, rel := range created {
		added[rel.EntityID] = rel
	}
	for _, id := range in.EntityIDs {
		if rel, ok := added[id]; ok {
			ch.add("relationship.created", accountID, id, rel, nil)
		}
	}
	return BatchResult{AccountID: accountID, Type: in.Type, EntityIDs: in.EntityIDs}, nil
}

// bindList records which list a page request reads (the account or entity of its path) among
// the filters a cursor carries, so that a cursor issued for one list is refused on another
// (SPEC §6: cursor_mismatch) instead of seeking past rows of a list it was not issued for. A
// request with only a cursor keeps the cursor's filters, the binding included.
func bindList(req PageRequest, key, id string) PageRequest {
	if req.Cursor != "" && len(req.Filters) == 0 {
		return req
	}
	f := make(map[string]string, len(req.Filters)+1)
	maps.Copy(f, req.Filters)
	f[key] = id
	req.Filters = f
	return req
}

func errOtherList() error {
	return Errorf(CodeCursorMismatch, "the cursor was issued for another list")
}

// ListRelationships lists an account's relationships (the path's account, resolved by the route's
// access). Filters: relationship_type, entity_id.
func (s *Service) ListRelationships(ctx context.Context, p Principal, accountID string, req PageRequest) (Page[Relationship], error) {
	req.Principal = p
	req = bindList(req, "account", accountID)
	pl, err := RelationshipListing.Plan(req, func(raw map[string]string) ([]Filter, error) {
		if raw["account"] != accountID {
			return nil, errOtherList()
		}
		fs := []Filter{{Field: "account_id", Value: accountID}}
		var ps Problems
		if v, has := raw["relationship_type"]; has {
			if !ValidRelationshipType(v) {
				ps.Enum(RelationshipTypes, "query", "relationship_type")
			}
			fs = append(fs, Filter{Field: "relationship_type", Value: v})
		}
		if v, has := raw["entity_id"]; has {
			id, ok := ParseID(KindEntity, v)
			if !ok {
				ps.Add("string_pattern_mismatch", "String should match pattern '"+KindEntity.Pattern()+"'", "query", "entity_id")
			}
			fs = append(fs, Filter{Field: "entity_id", Value: id})
		}
		return fs, ps.Err()
	})
	if err != nil {
		return Page[Relationship]{}, err
	}
	rows, err := read(ctx, s, func(tx Tx) ([]Relationship, error) {
		if _, err := findAccount(ctx, tx, accountID); err != nil {
			return nil, err
		}
		return tx.ListRelationships(ctx, pl.Query)
	})
	if err != nil {
		return Page[Relationship]{}, err
	}
	return BuildPage(rows, pl, RelationshipValue), nil
}

// EntityRelationships lists the roles one entity holds.
func (s *Service) EntityRelationships(ctx context.Context, p Principal, rawID string, req PageRequest) (Page[Relationship], error) {
	entityID, err := parsePathID(KindEntity, rawID, "id")
	if err != nil {
		return Page[Relationship]{}, err
	}
	req.Principal = p
	req = bindList(req, "entity", entityID)
	pl, err := RelationshipListing.Plan(req, func(raw map[string]string) ([]Filter, error) {
		if raw["entity"] != entityID {
			return nil, errOtherList()
		}
		return []Filter{{Field: "entity_id", Value: entityID}}, nil
	})
	if err != nil {
		return Page[Relationship]{}, err
	}
	rows, err := read(ctx, s, func(tx Tx) ([]Relationship, error) {
		e, err := findEntity(ctx, tx, p, entityID)
		if err != nil {
			return nil, err
		}
		pl.Query.Filters = append(pl.Query.Filters, Filter{Field: "account_id", Value: e.AccountID})
		return tx.ListRelationships(ctx, pl.Query)
	})
	if err != nil {
		return Page[Relationship]{}, err
	}
	return BuildPage(rows, pl, RelationshipValue), nil
}

// DeleteRelationshipsResultLimit is how many remaining relationships a delete answers with.
const DeleteRelationshipsResultLimit = 100

// DeleteRelationship removes one relationship of the account (the path's, resolved by the
// route's access) and answers with the account's first 100 remaining relationships in list
// order.
func (s *Service) DeleteRelationship(ctx context.Context, r *Request, accountID, rawEntityID, typ string) ([]Relationship, error) {
	return write(ctx, s, r, mutation[[]Relationship]{action: "relationship.delete", mode: Shared, prepare: func(ps *Problems) (operation[[]Relationship], error) {
		entity, ok := ParseID(KindEntity, rawEntityID)
		if !ok {
			ps.Add("string_pattern_mismatch", "String should match pattern '"+KindEntity.Pattern()+"'", "path", "entity_id")
		}
		switch {
		case typ == "":
			ps.Add("missing", "Field required", "query", "relationship_type")
		case !ValidRelationshipType(typ):
			ps.Enum(RelationshipTypes, "query", "relationship_type")
		}
		rel := Relationship{AccountID: accountID, EntityID: entity, Type: typ}
		return func(tx Tx, ch *changes) ([]Relationship, error) { return deleteRelationship(ctx, tx, ch, rel) }, nil
	}})
}

func deleteRelationship(ctx context.Context, tx Tx, ch *changes, r Relationship) ([]Relationship, error) {
	if _, err := findAccount(ctx, tx, r.AccountID); err != nil {
		return nil, err
	}
	if r.EntityID == "" {
		return nil, Errorf(CodeNotFound, "no such relationship")
	}
	gone, err := tx.DeleteRelationship(ctx, r)
	if err != nil {
		if ErrorCode(err) == CodeNotFound {
			return nil, Errorf(CodeNotFound, "no such relationship")
		}
		return nil, err
	}
	ch.add("relationship.deleted", gone.AccountID, gone.EntityID, gone, nil)
	order, _ := RelationshipListing.ParseSort("")
	rest, err := tx.ListRelationships(ctx, ListQuery{Filters: []Filter{{Field: "account_id", Value: r.AccountID}},
		Order: order, Limit: DeleteRelationshipsResultLimit})
	if rest == nil {
		rest = []Relationship{}
	}
	return rest, err
}
