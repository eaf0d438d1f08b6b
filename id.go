package roster

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Kind names a family of roster-owned ids; its value is the id prefix.
type Kind string

// The kinds of id roster issues.
const (
	KindAccount Kind = "account_"
	KindEntity  Kind = "entity_"
	KindKey     Kind = "key_"
)

// TimeFormat is how every timestamp roster shows is written (SPEC §7: RFC 3339, UTC), with
// microseconds. Format times in UTC with it.
const TimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// NewID returns a fresh 24-hex id: 4 bytes of big-endian Unix seconds, then 8 random bytes,
// so ids sort roughly by creation time like a BSON ObjectId.
func NewID(now time.Time) string {
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], uint32(now.Unix()))
	if _, err := rand.Read(b[4:]); err != nil {
		panic("roster: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// NewSequentialID returns a fresh 24-hex id laid out as a BSON ObjectId: 4 bytes of big-endian
// Unix seconds, 5 random bytes drawn once per process, then a 3-byte counter that starts at a
// random value. A process's ids of one second therefore sort in the order it made them, so a
// table that only grows (events, audit records) adds each id at the end of its unique index,
// in a page the write before it already touched, instead of at a random place in the second's
// range. They are no more guessable across processes than NewID's; within a process the next
// one is, which is harmless for records read only through their tenant's scope.
func NewSequentialID(now time.Time) string {
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], uint32(now.Unix()))
	copy(b[4:9], idProcess[:])
	c := idCounter.Add(1)
	b[9], b[10], b[11] = byte(c>>16), byte(c>>8), byte(c)
	return hex.EncodeToString(b[:])
}

var (
	idProcess [5]byte
	idCounter atomic.Uint32
)

func init() {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("roster: crypto/rand failed: " + err.Error())
	}
	copy(idProcess[:], b[:5])
	idCounter.Store(binary.BigEndian.Uint32(b[4:]) & 0xffffff)
}

// Prefixed renders a bare id in the native form, e.g. "account_5fd4...".
func (k Kind) Prefixed(hexID string) string { return string(k) + hexID }

// ParseID reads an id in either accepted form: the prefixed one (prefix in lower case) or the
// bare 24 hex of LeadConduit, the hex in any case. It returns the canonical bare lower-case hex.
//
// ok is false when s breaks the documented pattern of its kind (a 422). When s is well formed but
// cannot name anything roster made (say "entity_xyz"), ok is true and id is "": the caller then
// answers 404 for a path id or a not_found item for a body id.
func ParseID(k Kind, s string) (id string, ok bool) {
	if !utf8.ValidString(s) {
		return "", false
	}
	if isHex24(s) {
		return strings.ToLower(s), true
	}
	rest, found := strings.CutPrefix(s, string(k))
	if !found || !matchesPattern(k, rest) {
		return "", false
	}
	if isHex24(rest) {
		return strings.ToLower(rest), true
	}
	return "", true
}

// parsePathID reads the id of kind k in the path parameter name: 422 when it breaks the pattern,
// "" when it is well formed but names nothing roster made (the operation's 404).
func parsePathID(k Kind, raw, name string) (string, error) {
	id, ok := ParseID(k, raw)
	if !ok {
		return "", Invalid("string_pattern_mismatch", "String should match pattern '"+k.Pattern()+"'", "path", name)
	}
	return id, nil
}

// IsHex24 reports whether s is exactly 24 hexadecimal digits in any case.
func IsHex24(s string) bool { return isHex24(s) }

// parseIDOf reads an id of any of kinds, prefixed or bare, as ParseID does: bare lower-case hex;
// ok is false when s breaks the pattern of every kind; id is "" when s is well formed but cannot
// name anything roster made (a filter by it matches nothing).
func parseIDOf(s string, kinds ...Kind) (id string, ok bool) {
	if isHex24(s) {
		return strings.ToLower(s), true
	}
	for _, k := range kinds {
		if strings.HasPrefix(s, string(k)) {
			return ParseID(k, s)
		}
	}
	return "", false
}

func isHex24(s string) bool {
	if len(s) != 24 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return false
		}
	}
	return true
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// matchesPattern applies the documented pattern to what follows the prefix:
// \w+ for accounts and keys, [^\s]{1,33} for entities (as Lead Bank declares).
func matchesPattern(k Kind, rest string) bool {
	if rest == "" {
		return false
	}
	if k == KindEntity {
		n := 0
		for _, r := range rest {
			if r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\v' || r == 0x85 || r == 0xA0 ||
				r == 0x1680 || (r >= 0x2000 && r <= 0x200a) || r == 0x2028 || r == 0x2029 || r == 0x202f || r == 0x205f || r == 0x3000 {
				return false
			}
			n++
		}
		return n <= 33
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// Pattern is the documented pattern of a kind, for messages and the OpenAPI document.
func (k Kind) Pattern() string {
	switch k {
	case KindEntity:
		return `^entity_[^\s]{1,33}$`
	default:
		return "^" + string(k) + `\w+$`
	}
}
