package roster

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// KeyCreate is a validated key creation request.
type KeyCreate struct {
	AccountID string // bare hex; "" for a superadmin key
	Name      string
	Role      Role
	ExpiresAt *time.Time
}

// MaxActiveKeys is how many keys that are not revoked, deleted or expired one account may hold
// (SPEC §10): minting keys must not multiply a tenant's share of the server.
const MaxActiveKeys = 100

// System is the principal of the operator at the command line: a superadmin without a key.
var System = Principal{Role: RoleSuperadmin}

// CreatedKey is a new key with its secret, shown once.
type CreatedKey struct {
	Key    APIKey
	Secret string
}

// CreateKey makes a key and returns it with its secret, which is never stored.
func (s *Service) CreateKey(ctx context.Context, p Principal, in KeyCreate, w *Write) (APIKey, string, error) {
	ck, err := s.CreateKeyWrite(ctx, p, in, w)
	return ck.Key, ck.Secret, err
}

// CreateKeyWrite is CreateKey for the API: the idempotent write renders a CreatedKey.
func (s *Service) CreateKeyWrite(ctx context.Context, p Principal, in KeyCreate, w *Write) (CreatedKey, error) {
	if in.Role == "" {
		in.Role = RoleAdmin
	}
	if in.Role == RoleSuperadmin || in.AccountID == "" {
		if err := p.RequireSuperadmin(); err != nil {
			return CreatedKey{}, err
		}
		if in.Role != RoleSuperadmin || in.AccountID != "" {
			return CreatedKey{}, Invalid("value_error", "Value error, a superadmin key has no account_id and an account key needs one", "body", "account_id")
		}
	} else if err := p.CanWrite(in.AccountID); err != nil {
		return CreatedKey{}, err
	}
	secret := NewSecret()
	return commit(ctx, s, p, w, Exclusive, func(tx Tx) (CreatedKey, error) {
		now := s.Now()
		if in.AccountID != "" {
			// Exclusive, not shared: two creations must not both count 99 and both insert. An
			// admin's own account is held so by commit already; a superadmin's is locked here.
			if p.IsSuperadmin() {
				if _, err := findAccountWith(ctx, tx.AccountForUpdate, in.AccountID); err != nil {
					return CreatedKey{}, err
				}
			}
			n, err := tx.CountActiveKeys(ctx, in.AccountID, now)
			if err != nil {
				return CreatedKey{}, err
			}
			if n >= MaxActiveKeys {
				return CreatedKey{}, Invalid("value_error", fmt.Sprintf("Value error, the account has %d active keys, the most it may have; revoke or delete one first", n), "body", "account_id")
			}
		}
		k := APIKey{ID: NewID(now), AccountID: in.AccountID, Name: in.Name, Role: in.Role, Prefix: secret[:KeyPrefixLen],
			Hash: HashSecret(secret), ExpiresAt: in.ExpiresAt, CreatedAt: now, UpdatedAt: now}
		return CreatedKey{Key: k, Secret: secret}, tx.InsertKey(ctx, &k)
	})
}

// Keys is how keys are listed.
var Keys = Listing{
	Fields:       map[string]FieldKind{"id": FieldString, "name": FieldString, "created_at": FieldTime, "updated_at": FieldTime},
	DefaultSort:  "created_at:desc,id:asc",
	TieBreak:     []string{"id"},
	DefaultLimit: 20,
	MaxLimit:     100,
}

// KeyValue returns the value of a sortable field of k.
func KeyValue(k APIKey, field string) any {
	switch field {
	case "name":
		return k.Name
	case "created_at":
		return k.CreatedAt
	case "updated_at":
		return k.UpdatedAt
	default:
		return k.ID
	}
}

// ListKeys lists the keys p may see: a superadmin every key (or one account's), anyone else
// only its own account's (never superadmin keys). Filters: status, account_id.
func (s *Service) ListKeys(ctx context.Context, p Principal, req PageRequest) (Page[APIKey], error) {
	if !p.IsSuperadmin() && p.Role != RoleAdmin {
		return Page[APIKey]{}, Errorf(CodeForbidden, "a reader key cannot manage keys")
	}
	if err := forCaller(p, &req); err != nil {
		return Page[APIKey]{}, err
	}
	ok := true
	pl, err := Keys.Plan(req, func(raw map[string]string) ([]Filter, error) {
		var fs []Filter
		var ps Problems
		if v, has := raw["status"]; has {
			switch KeyStatus(v) {
			case KeyActive, KeyRevoked, KeyExpired:
				fs = append(fs, Filter{Field: "status", Value: v})
			default:
				ps.Enum([]string{"active", "revoked", "expired"}, "query", "status")
			}
		}
		scope, found, err := listScope(p, raw, &ps)
		if err != nil {
			return nil, err
		}
		ok = found
		if scope != "" {
			fs = append(fs, Filter{Field: "account_id", Value: scope})
		}
		return fs, ps.Err()
	})
	if err != nil {
		return Page[APIKey]{}, err
	}
	if !ok {
		return BuildPage[APIKey](nil, pl, KeyValue), nil
	}
	pl.Query.Now = s.Now()
	var rows []APIKey
	err = s.store.View(ctx, func(tx Tx) error {
		var err error
		rows, err = tx.ListKeys(ctx, pl.Query)
		return err
	})
	if err != nil {
		return Page[APIKey]{}, err
	}
	return BuildPage(rows, pl, KeyValue), nil
}

// Key reads one key visible to p: another tenant's key, or a superadmin key for an admin, is 404.
func (s *Service) Key(ctx context.Context, p Principal, id string) (APIKey, error) {
	var k APIKey
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		k, err = findKey(ctx, tx, p, id)
		return err
	})
	return k, err
}

func findKey(ctx context.Context, tx Tx, p Principal, id string) (APIKey, error) {
	return findKeyWith(ctx, tx.Key, p, id)
}

// lockKey is findKey for a write that changes the key: the row is held until the transaction
// ends, so a concurrent rename cannot write back a revocation it did not see.
func lockKey(ctx context.Context, tx Tx, p Principal, id string) (APIKey, error) {
	return findKeyWith(ctx, tx.KeyForUpdate, p, id)
}

func findKeyWith(ctx context.Context, read func(context.Context, string) (APIKey, error), p Principal, id string) (APIKey, error) {
	if !p.IsSuperadmin() && p.Role != RoleAdmin {
		return APIKey{}, Errorf(CodeForbidden, "a reader key cannot manage keys")
	}
	notFound := Errorf(CodeNotFound, "key not found")
	if id == "" {
		return APIKey{}, notFound
	}
	k, err := read(ctx, id)
	if errors.Is(err, ErrNotFound) || err == nil && !p.IsSuperadmin() && k.AccountID != p.AccountID {
		return APIKey{}, notFound
	}
	return k, err
}

// KeyPatch is a validated key update.
type KeyPatch struct {
	Name     Opt[string]
	Revoke   bool
	Activate bool // asking for "active": a no-op on an active key, 422 on a revoked one
	Deleted  bool
}

// PatchKey renames, revokes or deletes a key. Revocation is final.
func (s *Service) PatchKey(ctx context.Context, p Principal, id string, in KeyPatch, w *Write) (APIKey, error) {
	if !p.IsSuperadmin() {
		if err := p.CanWrite(p.AccountID); err != nil {
			return APIKey{}, err
		}
	}
	return commit(ctx, s, p, w, Exclusive, func(tx Tx) (APIKey, error) {
		// The key's account first, exclusively, as every write takes the account before its
		// keys: writes by this key hold that row (commit), so a revocation waits for them and
		// they for it. An admin's own account is held so already; a superadmin (or the command
		// line) learns the key's account by reading the key first.
		if p.IsSuperadmin() {
			k, err := findKey(ctx, tx, p, id)
			if err != nil {
				return k, err
			}
			if k.AccountID != "" {
				if _, err := tx.AccountForUpdate(ctx, k.AccountID); err != nil && !errors.Is(err, ErrNotFound) {
					return k, err
				}
			}
		}
		k, err := lockKey(ctx, tx, p, id)
		if err != nil {
			return k, err
		}
		if in.Activate && k.Revoked {
			return k, Invalid("value_error", "Value error, revocation is final", "body", "status")
		}
		changed := false
		if in.Name.Has() && in.Name.V != k.Name {
			k.Name, changed = in.Name.V, true
		}
		if in.Revoke && !k.Revoked {
			k.Revoked, changed = true, true
		}
		if in.Deleted {
			k.Deleted, changed = true, true
		}
		if !changed {
			return k, nil
		}
		k.UpdatedAt = s.Now()
		return k, tx.UpdateKey(ctx, &k)
	})
}

// Bootstrap creates a superadmin key when the database has none, returning its secret ("" when
// keys exist).
func (s *Service) Bootstrap(ctx context.Context) (string, error) {
	var n int
	if err := s.store.View(ctx, func(tx Tx) error {
		var err error
		n, err = tx.CountKeys(ctx)
		return err
	}); err != nil || n > 0 {
		return "", err
	}
	_, secret, err := s.CreateKey(ctx, System, KeyCreate{Name: "bootstrap superadmin", Role: RoleSuperadmin}, nil)
	return secret, err
}
