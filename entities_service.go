package roster

import (
	"context"
	"errors"
	"reflect"
	"strings"
)

// EntityAccount decides which account a new entity belongs to: a superadmin names it (422 when
// missing or malformed), an account key's own account is implied (403 when the body names
// another, malformed or not).
func EntityAccount(p Principal, in EntityInput) (string, Problems, error) {
	var ps Problems
	if !p.IsSuperadmin() {
		if in.AccountID.Has() && (in.AccountIDMalformed || in.AccountID.V != p.AccountID) {
			return "", nil, Errorf(CodeForbidden, "this key cannot create entities for another account")
		}
		return p.AccountID, nil, nil
	}
	switch {
	case !in.AccountID.Has() && !in.AccountIDReported:
		ps.Add("missing", "Field required", "body", "account_id")
	case in.AccountIDMalformed:
		ps.Add("string_pattern_mismatch", "String should match pattern '"+KindAccount.Pattern()+"'", "body", "account_id")
	}
	return in.AccountID.V, ps, nil
}

// CreateEntity makes an entity on accountID (from EntityAccount).
func (s *Service) CreateEntity(ctx context.Context, p Principal, accountID string, in EntityInput, w *Write) (Entity, error) {
	if err := p.CanWrite(accountID); err != nil {
		return Entity{}, err
	}
	return commit(ctx, s, p, w, Shared, func(tx Tx) (Entity, error) {
		if !IsHex24(accountID) {
			return Entity{}, Invalid("not_found", "no account has this id", "body", "account_id")
		}
		// An account key writes to its own account, which commit share-locks first; a
		// superadmin's names any account, locked here.
		if p.IsSuperadmin() {
			if _, err := tx.LockAccount(ctx, accountID); errors.Is(err, ErrNotFound) {
				return Entity{}, Invalid("not_found", "no account has this id", "body", "account_id")
			} else if err != nil {
				return Entity{}, err
			}
		}
		now := s.Now()
		e := Entity{ID: NewID(now), AccountID: accountID, CreatedAt: now}
		in.Apply(&e, EntityCreate)
		e.UpdatedAt = now
		if err := checkSee(ctx, tx, e); err != nil {
			return Entity{}, err
		}
		return e, tx.InsertEntity(ctx, &e)
	})
}

// checkSee enforces what see may name: only on a deprecated entity, and only another live
// entity of the same account.
func checkSee(ctx context.Context, tx Tx, e Entity) error {
	if e.See == nil {
		return nil
	}
	if !e.Deprecated {
		return Invalid("value_error", "Value error, see is only allowed when deprecated is true", "body", "see")
	}
	if *e.See == "" || *e.See == e.ID {
		return Invalid("not_found", "see must name another entity of the same account", "body", "see")
	}
	other, err := tx.LockEntity(ctx, *e.See)
	if errors.Is(err, ErrNotFound) || err == nil && other.AccountID != e.AccountID {
		return Invalid("not_found", "see must name another entity of the same account", "body", "see")
	}
	return err
}

// findEntity reads an entity p may see; another tenant's is 404.
func findEntity(ctx context.Context, tx Tx, p Principal, id string) (Entity, error) {
	return findEntityWith(ctx, tx.Entity, p, id)
}

// lockEntity is findEntity for a write that changes or deletes the entity: the row is held
// until the transaction ends (Tx.EntityForUpdate).
func lockEntity(ctx context.Context, tx Tx, p Principal, id string) (Entity, error) {
	return findEntityWith(ctx, tx.EntityForUpdate, p, id)
}

func findEntityWith(ctx context.Context, read func(context.Context, string) (Entity, error), p Principal, id string) (Entity, error) {
	notFound := Errorf(CodeNotFound, "entity not found")
	if id == "" {
		return Entity{}, notFound
	}
	e, err := read(ctx, id)
	if errors.Is(err, ErrNotFound) || err == nil && !p.IsSuperadmin() && e.AccountID != p.AccountID {
		return Entity{}, notFound
	}
	return e, err
}

// Entity reads one entity.
func (s *Service) Entity(ctx context.Context, p Principal, id string) (Entity, error) {
	var e Entity
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		e, err = findEntity(ctx, tx, p, id)
		return err
	})
	return e, err
}

// UpdateEntity replaces (EntityReplace) or patches (EntityPatch) an entity.
func (s *Service) UpdateEntity(ctx context.Context, p Principal, id string, in EntityInput, mode EntityMode, w *Write) (Entity, error) {
	return commit(ctx, s, p, w, Shared, func(tx Tx) (Entity, error) {
		e, err := lockEntity(ctx, tx, p, id)
		if err != nil {
			return e, err
		}
		if err := p.CanWrite(e.AccountID); err != nil {
			return e, err
		}
		before := e
		in.Apply(&e, mode)
		e.UpdatedAt = before.UpdatedAt
		// A see kept as it was, on an entity still deprecated, is not judged again: the entity
		// it names may have been deleted since, and a write that leaves see alone (a PATCH of
		// another field, a PUT of what was read) must not fail because of it.
		keptSee := e.See != nil && before.See != nil && *e.See == *before.See && e.Deprecated
		if !keptSee {
			if err := checkSee(ctx, tx, e); err != nil {
				return e, err
			}
		}
		if reflect.DeepEqual(before, e) {
			return e, nil
		}
		e.UpdatedAt = s.Now()
		return e, tx.UpdateEntity(ctx, &e)
	})
}

// DeleteEntity removes an entity and its relationships, returning it as it was.
func (s *Service) DeleteEntity(ctx context.Context, p Principal, id string, w *Write) (Entity, error) {
	return commit(ctx, s, p, w, Shared, func(tx Tx) (Entity, error) {
		e, err := lockEntity(ctx, tx, p, id)
		if err != nil {
			return e, err
		}
		if err := p.CanWrite(e.AccountID); err != nil {
			return e, err
		}
		return e, tx.DeleteEntity(ctx, id)
	})
}

// ListEntities lists the entities p may see through listing l. Filters: source, recipient,
// deprecated, account_id (a superadmin's scope).
func (s *Service) ListEntities(ctx context.Context, p Principal, l Listing, req PageRequest) (Page[Entity], error) {
	if err := forCaller(p, &req); err != nil {
		return Page[Entity]{}, err
	}
	ok := true
	pl, err := l.Plan(req, func(raw map[string]string) ([]Filter, error) {
		var fs []Filter
		var ps Problems
		scope, found, err := listScope(p, raw, &ps)
		if err != nil {
			return nil, err
		}
		ok = found
		if scope != "" {
			fs = append(fs, Filter{Field: "account_id", Value: scope})
		}
		for _, f := range []struct {
			name    string
			allowed []string
		}{{"source", EntitySources}, {"recipient", EntityRecipients}} {
			if v, has := raw[f.name]; has {
				if !contains(f.allowed, v) {
					ps.Enum(f.allowed, "query", f.name)
				}
				fs = append(fs, Filter{Field: f.name, Value: v})
			}
		}
		if v, has := raw["deprecated"]; has {
			b, ok := parseBool(v)
			if !ok {
				ps.Add("bool_parsing", "Input should be a valid boolean, unable to interpret input", "query", "deprecated")
			}
			fs = append(fs, Filter{Field: "deprecated", Value: b})
		}
		return fs, ps.Err()
	})
	if err != nil || !ok {
		return BuildPage[Entity](nil, pl, EntityValue), err
	}
	var rows []Entity
	err = s.store.View(ctx, func(tx Tx) error {
		var err error
		rows, err = tx.ListEntities(ctx, pl.Query)
		return err
	})
	if err != nil {
		return Page[Entity]{}, err
	}
	return BuildPage(rows, pl, EntityValue), nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// parseBool reads a boolean query value the way pydantic does.
func parseBool(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "true", "1", "yes", "on", "t", "y":
		return true, true
	case "false", "0", "no", "off", "f", "n":
		return false, true
	}
	return false, false
}
