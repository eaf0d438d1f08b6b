package roster

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"hash/crc32"
	"math/big"
	"time"
	"unsafe"
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

const (
	secretPrefix  = "rk_"
	secretBodyLen = 43 // 32 bytes in base62
	secretSumLen  = 6  // CRC32 in base62
	// SecretLen is the length of every secret roster issues.
	SecretLen = len(secretPrefix) + secretBodyLen + secretSumLen
	// KeyPrefixLen is how much of a secret is kept in the clear to recognise a key.
	KeyPrefixLen = 12
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewSecret returns a fresh secret: "rk_" + 32 random bytes in base62 + a base62 CRC32 of them.
func NewSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("roster: crypto/rand failed: " + err.Error())
	}
	body := encodeBase62(new(big.Int).SetBytes(b[:]), secretBodyLen)
	return secretPrefix + body + checksum(body)
}

func checksum(body string) string {
	sum := checksumOf(body)
	return string(sum[:])
}

// checksumOf is the base62 CRC32 of a secret's body, without allocating.
func checksumOf(body string) [secretSumLen]byte {
	var out [secretSumLen]byte
	n := uint64(crc32.Update(0, crc32.IEEETable, unsafeBytes(body)))
	for i := secretSumLen - 1; i >= 0; i-- {
		out[i] = base62[n%62]
		n /= 62
	}
	return out
}

func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func encodeBase62(n *big.Int, width int) string {
	out := make([]byte, width)
	base := big.NewInt(62)
	mod := new(big.Int)
	for i := width - 1; i >= 0; i-- {
		n.DivMod(n, base, mod)
		out[i] = base62[mod.Int64()]
	}
	return string(out)
}

// WellFormedSecret reports whether s has the shape and checksum of a roster secret, so that
// garbage is refused without a database look-up.
func WellFormedSecret(s string) bool {
	if len(s) != SecretLen || s[:len(secretPrefix)] != secretPrefix {
		return false
	}
	body := s[len(secretPrefix) : len(secretPrefix)+secretBodyLen]
	for i := 0; i < len(s)-len(secretPrefix); i++ {
		c := s[len(secretPrefix)+i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	sum := checksumOf(body)
	return string(sum[:]) == s[len(secretPrefix)+secretBodyLen:]
}

// HashSecret is the at-rest form of a secret.
func HashSecret(s string) string {
	h := sha256.Sum256(unsafeBytes(s))
	return hex.EncodeToString(h[:])
}

// Principal is the authenticated caller of a request.
type Principal struct {
	KeyID     string
	AccountID string // "" for a superadmin
	Role      Role
	Suspended bool // the key's account is suspended: reads only
}

// IsSuperadmin reports whether the caller sees every account.
func (p Principal) IsSuperadmin() bool { return p.Role == RoleSuperadmin }

// Scope is the idempotency scope of the caller: its account, or its key for a superadmin.
func (p Principal) Scope() string {
	if p.IsSuperadmin() {
		return "key:" + p.KeyID
	}
	return "account:" + p.AccountID
}

// CanRead reports whether the caller may read account accountID (bare hex, or the raw path value
// when it was malformed).
func (p Principal) CanRead(accountID string) error {
	if p.IsSuperadmin() || accountID == p.AccountID {
		return nil
	}
	return Errorf(CodeForbidden, "this key has no access to that account")
}

// CanWrite reports whether the caller may change account accountID and what it owns.
func (p Principal) CanWrite(accountID string) error {
	if err := p.CanRead(accountID); err != nil {
		return err
	}
	return p.canWriteOwn()
}

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

// RequireSuperadmin refuses every caller but a superadmin.
func (p Principal) RequireSuperadmin() error {
	if p.IsSuperadmin() {
		return nil
	}
	return Errorf(CodeForbidden, "only a superadmin may do this")
}
