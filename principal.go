package roster

import (
	"context"
	"errors"
	"time"
)

// Principal is the authenticated caller of a request.
type Principal struct {
	KeyID     string
	AccountID string // "" for a superadmin
	Role      Role
	Suspended bool // the key's account is suspended: reads only
}

// System is the principal of the operator at the command line: a superadmin without a key.
var System = Principal{Role: RoleSuperadmin}

// IsSuperadmin reports whether the caller sees every account.
func (p Principal) IsSuperadmin() bool { return p.Role == RoleSuperadmin }

// Scope is the idempotency scope of the caller: its account, or its key for a superadmin.
func (p Principal) Scope() string {
	if p.IsSuperadmin() {
		return "key:" + p.KeyID
	}
	return "account:" + p.AccountID
}

// Access is who may call a route. The route table states it for every route, and Allow, called
// once per request before the body is decoded, enforces it (SPEC §3, §5: role and tenancy of the
// path come before validation). What a caller may then see of the data (another tenant's entity
// is a 404) and rules that depend on a request's values (only a superadmin may suspend) belong to
// the operations.
type Access string

// The accesses of SPEC §3. "The path's account" is the first wildcard of the route's pattern.
const (
	// Public routes take no key (health, metrics, the document).
	Public Access = "public"
	// AnyKey is any valid key; what it reads is scoped to its own account.
	AnyKey Access = "key"
	// Superadmin is a superadmin key only.
	Superadmin Access = "superadmin"
	// AccountReader is any key of the path's account, or a superadmin.
	AccountReader Access = "account_reader"
	// AccountWriter is an admin key of the path's account, not suspended, or a superadmin.
	AccountWriter Access = "account_writer"
	// Writer is an admin key of an account that is not suspended, or a superadmin: the object
	// written decides the account.
	Writer Access = "writer"
	// KeyManager is an admin key or a superadmin.
	KeyManager Access = "key_manager"
	// KeyWriter is an admin key of an account that is not suspended, or a superadmin.
	KeyWriter Access = "key_writer"
)

// Accesses lists every access, in the order of SPEC §3's table.
var Accesses = []Access{Public, AnyKey, Superadmin, AccountReader, AccountWriter, Writer, KeyManager, KeyWriter}

// NamesAccount reports whether the access is decided on the account of the path.
func (a Access) NamesAccount() bool { return a == AccountReader || a == AccountWriter }

// Allow decides whether p may call a route of access a. For an access that names the path's
// account, rawAccount is that path value and loc where it sits; the account is returned as
// canonical hex ("" when it is well formed but names nothing: the operation's 404).
func (p Principal) Allow(a Access, rawAccount string, loc ...any) (account string, err error) {
	switch a {
	case Public, AnyKey:
		return "", nil
	case Superadmin:
		if p.IsSuperadmin() {
			return "", nil
		}
		return "", Errorf(CodeForbidden, "only a superadmin may do this")
	case AccountReader, AccountWriter:
		id, err := p.PathAccount(rawAccount, loc...)
		if err != nil || a == AccountReader {
			return id, err
		}
		return id, p.canWriteOwn()
	case Writer:
		return "", p.canWriteOwn()
	case KeyManager, KeyWriter:
		if p.IsSuperadmin() {
			return "", nil
		}
		if p.Role != RoleAdmin {
			return "", Errorf(CodeForbidden, "a reader key cannot manage keys")
		}
		if a == KeyWriter {
			return "", p.canWriteOwn()
		}
		return "", nil
	}
	return "", Errorf(CodeForbidden, "no key may do this")
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

// canWriteOwn refuses readers and the keys of a suspended account.
func (p Principal) canWriteOwn() error {
	if p.IsSuperadmin() {
		return nil
	}
	if p.Role != RoleAdmin {
		return Errorf(CodeForbidden, "a reader key cannot write")
	}
	if p.Suspended {
		return Errorf(CodeAccountSuspended, "the account is suspended: its keys may only read")
	}
	return nil
}

// requireSuperadmin refuses every caller but a superadmin: for what a request's values ask (a
// superadmin key, a suspension), beyond what its route allows.
func (p Principal) requireSuperadmin() error {
	if p.IsSuperadmin() {
		return nil
	}
	return Errorf(CodeForbidden, "only a superadmin may do this")
}

// scopeFilter turns ?account_id= into the account a list is limited to: a non-superadmin is
// always limited to its own account (and any other value is 403); a superadmin to the one it
// names, or none. It returns ok false when a superadmin names an account that cannot exist.
func (p Principal) scopeFilter(raw string) (accountID string, ok bool, err error) {
	if !p.IsSuperadmin() {
		if raw != "" {
			if _, err := p.PathAccount(raw); err != nil {
				return "", false, err
			}
		}
		return p.AccountID, true, nil
	}
	if raw == "" {
		return "", true, nil
	}
	id, err := p.PathAccount(raw, "query", "account_id")
	return id, id != "", err
}

// findOwned reads object id with read for caller p: one that does not exist, or that belongs
// to another tenant, is the same 404 naming noun (SPEC §3: another tenant's objects are not
// told apart from missing ones).
func findOwned[T any](ctx context.Context, read func(context.Context, string) (T, error), account func(T) string, p Principal, id, noun string) (T, error) {
	var zero T
	notFound := Errorf(CodeNotFound, "%s not found", noun)
	if id == "" {
		return zero, notFound
	}
	v, err := read(ctx, id)
	if errors.Is(err, ErrNotFound) || err == nil && !p.IsSuperadmin() && account(v) != p.AccountID {
		return zero, notFound
	}
	return v, err
}

func unauthorized() error { return Errorf(CodeUnauthorized, "authentication failed") }

// keyTouchInterval bounds how often last_used_at is written for one key.
const keyTouchInterval = time.Minute

// Authenticate turns a presented secret into a principal, or a 401.
func (s *Service) Authenticate(ctx context.Context, secret string) (Principal, error) {
	if !WellFormedSecret(secret) {
		return Principal{}, unauthorized()
	}
	k, err := read(ctx, s, func(tx Tx) (Credential, error) { return tx.KeyByHash(ctx, HashSecret(secret)) })
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

// LockMode is how strongly a write holds its caller's account: Shared for a write under the
// account, Exclusive for one that changes the account or one of its keys.
type LockMode int

// The lock modes.
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
