package roster

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"hash/crc32"
	"math/big"
	"unsafe"
)

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
