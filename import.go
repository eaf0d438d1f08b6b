package roster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"time"
)

// Import (roster import) writes objects read from an export as they were — their ids, times and
// status — each validated as the API validates a body, through the one write path (write), so
// that what it creates is recorded as any write is. An object whose id exists is left alone:
// Same when it matches, Differs when it does not; an object that cannot be written (its account
// or entity does not exist, its slug is taken) is Invalid with the reason.

// ImportStatus is what an import did with one object.
type ImportStatus int

// Import statuses.
const (
	ImportCreated ImportStatus = iota
	ImportSame
	ImportDiffers
	ImportInvalid
)

// ImportOutcome is what an import did with one object, and why when it wrote nothing.
type ImportOutcome struct {
	Status ImportStatus
	Reason string
}

// importFields takes the fields an export adds to what a create body holds out of an object:
// its id of kind (none when kind is ""), its creation time, its update time when updated, and
// the string fields more.
func importFields(v any, kind Kind, updated bool, more ...string) (rest map[string]any, id string, createdAt, updatedAt time.Time, extra map[string]string, err error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, "", createdAt, updatedAt, nil, Invalid("model_attributes_type", "Input should be a valid dictionary or object", "body")
	}
	rest = maps.Clone(m)
	var ps Problems
	take := func(name string) string {
		s, ok := rest[name].(string)
		if !ok {
			ps.Add("missing", "Field required (a string)", "body", name)
		}
		delete(rest, name)
		return s
	}
	if kind != "" {
		raw := take("id")
		if id, ok = ParseID(kind, raw); !ok || id == "" {
			ps.Add("string_pattern_mismatch", "String should match pattern '"+kind.Pattern()+"'", "body", "id")
		}
	}
	parse := func(name string) time.Time {
		s := take(name)
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil && s != "" {
			ps.Add("datetime_parsing", "Input should be a valid datetime", "body", name)
		}
		return t.UTC().Truncate(time.Microsecond)
	}
	createdAt = parse("created_at")
	if updated {
		updatedAt = parse("updated_at")
	}
	extra = map[string]string{}
	for _, name := range more {
		extra[name] = take(name)
	}
	return rest, id, createdAt, updatedAt, extra, ps.Err()
}

// DecodeImportedAccount reads an account as an export writes it (the native view).
func DecodeImportedAccount(v any) (Account, error) {
	rest, id, created, updated, extra, err := importFields(v, KindAccount, true, "status")
	if err != nil {
		return Account{}, err
	}
	in, err := DecodeAccountCreate(rest)
	if err != nil {
		return Account{}, err
	}
	status := AccountStatus(extra["status"])
	if status != AccountActive && status != AccountSuspended {
		return Account{}, Invalid("enum", "Input should be 'active' or 'suspended'", "body", "status")
	}
	return Account{ID: id, Name: in.Name, Slug: in.Slug, Status: status, CreatedAt: created, UpdatedAt: updated}, nil
}

// DecodeImportedEntity reads an entity as an export writes it (the native view).
func DecodeImportedEntity(v any) (Entity, error) {
	rest, id, created, updated, extra, err := importFields(v, KindEntity, true, "account_id")
	if err != nil {
		return Entity{}, err
	}
	account, ok := ParseID(KindAccount, extra["account_id"])
	if !ok || account == "" {
		return Entity{}, Invalid("string_pattern_mismatch", "String should match pattern '"+KindAccount.Pattern()+"'", "body", "account_id")
	}
	in, err := DecodeEntity(rest, EntityReplace)
	if err != nil {
		return Entity{}, err
	}
	e := Entity{ID: id, AccountID: account, CreatedAt: created}
	in.Apply(&e, EntityReplace)
	e.UpdatedAt = updated
	return e, nil
}

// DecodeImportedRelationship reads a relationship as an export writes it (the native view).
func DecodeImportedRelationship(v any) (Relationship, error) {
	rest, _, created, _, extra, err := importFields(v, "", false, "account_id", "entity_id", "relationship_type")
	if err != nil {
		return Relationship{}, err
	}
	var ps Problems
	account, ok := ParseID(KindAccount, extra["account_id"])
	if !ok || account == "" {
		ps.Add("string_pattern_mismatch", "String should match pattern '"+KindAccount.Pattern()+"'", "body", "account_id")
	}
	entity, ok := ParseID(KindEntity, extra["entity_id"])
	if !ok || entity == "" {
		ps.Add("string_pattern_mismatch", "String should match pattern '"+KindEntity.Pattern()+"'", "body", "entity_id")
	}
	if !ValidRelationshipType(extra["relationship_type"]) {
		ps.Add("enum", "not a relationship type", "body", "relationship_type")
	}
	for k := range rest {
		ps.Add("extra_forbidden", "Extra inputs are not permitted", "body", k)
	}
	return Relationship{AccountID: account, EntityID: entity, Type: extra["relationship_type"], CreatedAt: created}, ps.Err()
}

// ImportAccount writes one account read from an export.
func (s *Service) ImportAccount(ctx context.Context, r *Request, a Account) (ImportOutcome, error) {
	return write(ctx, s, r, mutation[ImportOutcome]{action: "account.create", mode: Shared, prepare: func(*Problems) (operation[ImportOutcome], error) {
		return func(tx Tx, ch *changes) (ImportOutcome, error) {
			old, err := tx.Account(ctx, a.ID)
			switch {
			case err == nil:
				return compared(old, a), nil
			case !errors.Is(err, ErrNotFound):
				return ImportOutcome{}, err
			}
			if err := tx.InsertAccount(ctx, &a); err != nil {
				return ImportOutcome{}, slugTaken(err) // or its id is a deleted account's
			}
			ch.add("account.created", a.ID, a.ID, a, nil)
			return ImportOutcome{Status: ImportCreated}, nil
		}, nil
	}})
}

// ImportEntities writes entities read from an export, in one transaction: es[i]'s outcome is
// the result's i-th. An entity's see must name an entity that exists by then (earlier in es, or
// stored).
func (s *Service) ImportEntities(ctx context.Context, r *Request, es []Entity) ([]ImportOutcome, error) {
	return importMany(ctx, s, r, "entity.create", es, func(tx Tx, ch *changes, e Entity) (ImportOutcome, error) {
		old, err := tx.Entity(ctx, e.ID)
		switch {
		case err == nil:
			return compared(old, e), nil
		case !errors.Is(err, ErrNotFound):
			return ImportOutcome{}, err
		}
		if _, err := tx.LockAccount(ctx, e.AccountID); errors.Is(err, ErrNotFound) {
			return ImportOutcome{ImportInvalid, "its account " + KindAccount.Prefixed(e.AccountID) + " does not exist"}, nil
		} else if err != nil {
			return ImportOutcome{}, err
		}
		if err := checkSee(ctx, tx, e); err != nil {
			var re *Error
			if errors.As(err, &re) {
				return ImportOutcome{ImportInvalid, re.Error()}, nil
			}
			return ImportOutcome{}, err
		}
		if err := tx.InsertEntity(ctx, &e); err != nil {
			return ImportOutcome{}, err
		}
		ch.add("entity.created", e.AccountID, e.ID, e, nil)
		return ImportOutcome{Status: ImportCreated}, nil
	})
}

// ImportRelationships writes relationships read from an export, in one transaction.
func (s *Service) ImportRelationships(ctx context.Context, r *Request, rs []Relationship) ([]ImportOutcome, error) {
	return importMany(ctx, s, r, "relationship.create", rs, func(tx Tx, ch *changes, rel Relationship) (ImportOutcome, error) {
		if _, err := tx.LockAccount(ctx, rel.AccountID); errors.Is(err, ErrNotFound) {
			return ImportOutcome{ImportInvalid, "its account " + KindAccount.Prefixed(rel.AccountID) + " does not exist"}, nil
		} else if err != nil {
			return ImportOutcome{}, err
		}
		found, err := tx.ExistingEntities(ctx, rel.AccountID, []string{rel.EntityID})
		if err != nil {
			return ImportOutcome{}, err
		}
		if !found[rel.EntityID] {
			return ImportOutcome{ImportInvalid, "its entity " + KindEntity.Prefixed(rel.EntityID) + " is not an entity of its account"}, nil
		}
		created, err := tx.InsertRelationships(ctx, []Relationship{rel})
		if err != nil {
			return ImportOutcome{}, err
		}
		if len(created) == 0 {
			return ImportOutcome{Status: ImportSame}, nil
		}
		ch.add("relationship.created", rel.AccountID, rel.EntityID, created[0], nil)
		return ImportOutcome{Status: ImportCreated}, nil
	})
}

// importMany writes items in one transaction through the write path, one outcome each.
func importMany[T any](ctx context.Context, s *Service, r *Request, action string, items []T,
	one func(Tx, *changes, T) (ImportOutcome, error)) ([]ImportOutcome, error) {
	return write(ctx, s, r, mutation[[]ImportOutcome]{action: action, mode: Shared, prepare: func(*Problems) (operation[[]ImportOutcome], error) {
		return func(tx Tx, ch *changes) ([]ImportOutcome, error) {
			out := make([]ImportOutcome, len(items))
			for i, it := range items {
				o, err := one(tx, ch, it)
				if err != nil {
					return nil, fmt.Errorf("item %d: %w", i+1, err)
				}
				out[i] = o
			}
			return out, nil
		}, nil
	}})
}

// compared is the outcome for an object that exists already as old.
func compared[T any](old, imported T) ImportOutcome {
	if reflect.DeepEqual(old, imported) {
		return ImportOutcome{Status: ImportSame}
	}
	return ImportOutcome{ImportDiffers, "an object with its id exists and differs from it"}
}
