package roster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Role is what a key may do.
type Role string

// The roles of SPEC §3.
const (
	RoleSuperadmin Role = "superadmin"
	RoleAdmin      Role = "admin"
	RoleReader     Role = "reader"
)

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool { return r == RoleSuperadmin || r == RoleAdmin || r == RoleReader }

// KeyStatus is the lifecycle state of an API key as clients see it.
type KeyStatus string

// Key statuses. Expired is derived from ExpiresAt, never stored.
const (
	KeyActive  KeyStatus = "active"
	KeyRevoked KeyStatus = "revoked"
	KeyExpired KeyStatus = "expired"
)

// APIKey is a stored key: everything but the secret, of which only a SHA-256 hash is kept.
type APIKey struct {
	ID         string // bare hex
	AccountID  string // bare hex; "" for a superadmin key
	Name       string
	Role       Role
	Prefix     string // first 12 characters of the secret
	Hash       string // hex SHA-256 of the secret
	Revoked    bool
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Deleted    bool
}

// Status derives the client-visible status at time now.
func (k APIKey) Status(now time.Time) KeyStatus { return keyStatus(k.Revoked, k.ExpiresAt, now) }

func keyStatus(revoked bool, expiresAt *time.Time, now time.Time) KeyStatus {
	switch {
	case revoked:
		return KeyRevoked
	case expiresAt != nil && !now.Before(*expiresAt):
		return KeyExpired
	default:
		return KeyActive
	}
}

// Credential is what authentication reads of a key on every request, and nothing more: who it
// is, what it may do, whether it still works, and its account's status.
type Credential struct {
	KeyID         string
	AccountID     string // "" for a superadmin key
	Role          Role
	Revoked       bool
	ExpiresAt     *time.Time
	LastUsedAt    *time.Time
	AccountStatus AccountStatus // "" for a superadmin key
}

// Status derives the key's status at time now.
func (c Credential) Status(now time.Time) KeyStatus { return keyStatus(c.Revoked, c.ExpiresAt, now) }

// KeyCreate is a validated key creation request.
type KeyCreate struct {
	AccountID string // bare hex; "" for a superadmin key
	Name      string
	Role      Role
	ExpiresAt *time.Time
}

// Body renders in as the body of a key creation, for callers in Go (the command line): every
// write, theirs too, is decoded and validated as the API's are.
func (in KeyCreate) Body() []byte {
	body := map[string]any{"name": in.Name, "role": in.Role}
	if in.AccountID != "" {
		body["account_id"] = KindAccount.Prefixed(in.AccountID)
	}
	if in.ExpiresAt != nil {
		body["expires_at"] = in.ExpiresAt.Format(time.RFC3339Nano)
	}
	b, _ := json.Marshal(body)
	return b
}

// MaxActiveKeys is how many keys that are not revoked, deleted or expired one account may hold
// (SPEC §10): minting keys must not multiply a tenant's share of the server.
const MaxActiveKeys = 100

// CreatedKey is a new key with its secret, shown once.
type CreatedKey struct {
	Key    APIKey
	Secret string
}

// decodeKeyCreate reads {account_id, name, role?, expires_at?, user_id (ignored)}. The
// account_id tenancy check (403) comes first, as for every body that chooses an account.
func decodeKeyCreate(p Principal, v any, now time.Time) (KeyCreate, error) {
	b := NewBody(v)
	var in KeyCreate
	if !b.Valid() {
		return in, b.Problems.Err()
	}
	ps := &b.Problems
	role := b.String("role", false)
	in.Role = RoleAdmin
	if role.Has() {
		switch r := Role(role.V); r {
		case RoleAdmin, RoleReader, RoleSuperadmin:
			in.Role = r
		default:
			ps.Enum([]string{"admin", "reader", "superadmin"}, "body", "role")
		}
	}
	account := b.String("account_id", in.Role != RoleSuperadmin)
	unknown := false // a well-formed id that names nothing: 404, once the body is otherwise valid
	if account.Has() {
		if !p.IsSuperadmin() {
			if _, err := p.PathAccount(account.V); err != nil {
				return in, err
			}
		}
		id, ok := ParseID(KindAccount, account.V)
		switch {
		case !ok:
			ps.Add("string_pattern_mismatch", "String should match pattern '"+KindAccount.Pattern()+"'", "body", "account_id")
		case id == "":
			unknown = true
		default:
			in.AccountID = id
		}
	} else if account.Null && in.Role != RoleSuperadmin {
		ps.Add("string_type", "Input should be a valid string", "body", "account_id")
	}
	name := b.String("name", true)
	if name.Null {
		ps.Add("string_type", "Input should be a valid string", "body", "name")
	} else if name.Has() && ps.CheckLen(name.V, 1, 100, "body", "name") {
		in.Name = name.V
	}
	if exp := b.String("expires_at", false); exp.Has() {
		t, err := time.Parse(time.RFC3339Nano, exp.V)
		switch {
		case err != nil:
			ps.Add("datetime_from_date_parsing", "Input should be a valid datetime", "body", "expires_at")
		case !t.After(now):
			ps.Add("value_error", "Value error, expires_at must be in the future", "body", "expires_at")
		default:
			t = t.UTC().Truncate(time.Microsecond)
			in.ExpiresAt = &t
		}
	}
	b.Ignore("user_id", "id", "prefix", "status", "last_used_at", "created_at", "updated_at")
	if err := b.Finish(); err != nil || !unknown {
		return in, err
	}
	return in, Errorf(CodeNotFound, "account not found")
}

// CreateKey makes a key from a create body (SPEC §3) and returns it with its secret, which is
// never stored.
func (s *Service) CreateKey(ctx context.Context, r *Request, body []byte) (CreatedKey, error) {
	p := r.Principal
	var in KeyCreate
	secret := NewSecret()
	return write(ctx, s, r, mutation[CreatedKey]{action: "api_key.create", mode: Exclusive, prepare: func(ps *Problems) (operation[CreatedKey], error) {
		v, err := decodeBody(body)
		if err != nil {
			return nil, err
		}
		if in, err = decodeKeyCreate(p, v, s.Now()); ps.Absorb(err) != nil {
			return nil, err
		}
		return func(tx Tx, ch *changes) (CreatedKey, error) { return s.createKey(ctx, tx, ch, p, in, secret) }, nil
	}})
}

func (s *Service) createKey(ctx context.Context, tx Tx, ch *changes, p Principal, in KeyCreate, secret string) (CreatedKey, error) {
	if in.Role == RoleSuperadmin || in.AccountID == "" {
		if err := p.requireSuperadmin(); err != nil {
			return CreatedKey{}, err
		}
		if in.Role != RoleSuperadmin || in.AccountID != "" {
			return CreatedKey{}, Invalid("value_error", "Value error, a superadmin key has no account_id and an account key needs one", "body", "account_id")
		}
	}
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
	ch.add("api_key.created", k.AccountID, k.ID, k, nil)
	return CreatedKey{Key: k, Secret: secret}, tx.InsertKey(ctx, &k)
}

// KeyListing is how keys are listed.
var KeyListing = Listing{
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

// ListKeys lists the keys p may see: a superadmin every key (or one account's), an admin only
// its own account's (never superadmin keys). Filters: status, account_id.
func (s *Service) ListKeys(ctx context.Context, p Principal, req PageRequest) (Page[APIKey], error) {
	if err := forCaller(p, &req); err != nil {
		return Page[APIKey]{}, err
	}
	ok := true
	pl, err := KeyListing.Plan(req, func(raw map[string]string) ([]Filter, error) {
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
	rows, err := read(ctx, s, func(tx Tx) ([]APIKey, error) { return tx.ListKeys(ctx, pl.Query) })
	if err != nil {
		return Page[APIKey]{}, err
	}
	return BuildPage(rows, pl, KeyValue), nil
}

// Key reads one key visible to p: another tenant's key, or a superadmin key for an admin, is 404.
func (s *Service) Key(ctx context.Context, p Principal, rawID string) (APIKey, error) {
	id, err := parsePathID(KindKey, rawID, "key_id")
	if err != nil {
		return APIKey{}, err
	}
	return read(ctx, s, func(tx Tx) (APIKey, error) { return findKey(ctx, tx, p, id) })
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
	return findOwned(ctx, read, func(k APIKey) string { return k.AccountID }, p, id, "key")
}

// KeyPatch is a validated key update.
type KeyPatch struct {
	Name     Opt[string]
	Revoke   bool
	Activate bool // asking for "active": a no-op on an active key, 422 on a revoked one
	Deleted  bool
}

// decodeKeyPatch reads {name?, status?, deleted?}; read-only fields are ignored.
func decodeKeyPatch(v any) (KeyPatch, error) {
	b := NewBody(v)
	var in KeyPatch
	if b.Valid() {
		if name := b.String("name", false); name.Has() && b.Problems.CheckLen(name.V, 1, 100, "body", "name") {
			in.Name = name
		}
		if st := b.String("status", false); st.Has() {
			switch KeyStatus(st.V) {
			case KeyRevoked:
				in.Revoke = true
			case KeyActive:
				in.Activate = true
			default:
				b.Problems.Enum([]string{"active", "revoked"}, "body", "status")
			}
		}
		if del := b.Bool("deleted", false); del.Has() {
			in.Deleted = del.V
		}
		b.Ignore("id", "account_id", "role", "prefix", "last_used_at", "expires_at", "created_at", "updated_at", "user_id")
	}
	return in, b.Finish()
}

// PatchKey renames, revokes or deletes a key. Revocation is final.
func (s *Service) PatchKey(ctx context.Context, r *Request, rawID string, body []byte) (APIKey, error) {
	p := r.Principal
	return write(ctx, s, r, mutation[APIKey]{action: "api_key.update", mode: Exclusive, prepare: func(ps *Problems) (operation[APIKey], error) {
		id, idErr := parsePathID(KindKey, rawID, "key_id")
		v, err := decodeBody(body)
		if err != nil {
			return nil, err
		}
		in, err := decodeKeyPatch(v)
		ps.Absorb(idErr)
		ps.Absorb(err)
		return func(tx Tx, ch *changes) (APIKey, error) { return s.patchKey(ctx, tx, ch, p, id, in) }, nil
	}})
}

func (s *Service) patchKey(ctx context.Context, tx Tx, ch *changes, p Principal, id string, in KeyPatch) (APIKey, error) {
	// The key's account first, exclusively, as every write takes the account before its keys:
	// writes by this key hold that row (commit), so a revocation waits for them and they for
	// it. An admin's own account is held so already; a superadmin (or the command line) learns
	// the key's account by reading the key first.
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
	before := k
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
	// One event, named by the strongest change: a deletion, else a revocation, else an update.
	switch {
	case k.Deleted:
		ch.add("api_key.deleted", k.AccountID, k.ID, before, nil)
	case k.Revoked && !before.Revoked:
		ch.add("api_key.revoked", k.AccountID, k.ID, k, before)
	default:
		ch.add("api_key.updated", k.AccountID, k.ID, k, before)
	}
	return k, tx.UpdateKey(ctx, &k)
}

// Bootstrap creates a superadmin key when the database has none, returning its secret ("" when
// keys exist).
func (s *Service) Bootstrap(ctx context.Context) (string, error) {
	if n, err := read(ctx, s, func(tx Tx) (int, error) { return tx.CountKeys(ctx) }); err != nil || n > 0 {
		return "", err
	}
	ck, err := s.CreateKey(ctx, Operator(), []byte(`{"name":"bootstrap superadmin","role":"superadmin"}`))
	return ck.Secret, err
}
