package roster

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/gowebpki/jcs"
)

// RFC 8785 (JSON Canonicalization Scheme) for audit records, written directly. An audit record
// is hashed in the write's transaction, where every microsecond is on the one writer's path
// (SQLite) or holds the chain's head (PostgreSQL); rendering it with encoding/json and then
// canonicalizing it with github.com/gowebpki/jcs cost more than the rest of the audit. So the
// write path appends the canonical form itself, and verification (ComputeHash) takes the
// reference path, json.Marshal then jcs.Transform, exactly as SPEC §15 defines the hash. The
// two are held equal by audit_canon_test.go, on RFC 8785's examples and on random records.

// appendCanonString appends s as RFC 8785 writes a string (ECMAScript's JSON.stringify): the
// quote and backslash escaped, \b \t \n \f \r, other controls as \u00xx, everything else as its
// UTF-8 (s must be valid UTF-8).
func appendCanonString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' {
			continue
		}
		if c >= utf8.RuneSelf {
			// Valid UTF-8 goes as it is; each byte of an invalid sequence becomes U+FFFD, as
			// encoding/json renders it in the API's answer (a stored record is valid UTF-8; one
			// edited in the database need not be).
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size - 1
				continue
			}
			dst = append(append(dst, s[start:i]...), "\uFFFD"...)
			start = i + 1
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			const hex = "0123456789abcdef"
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

var errCanon = errors.New("roster: not valid JSON")

// appendCanonJSON appends the RFC 8785 form of the JSON value raw (one value, valid JSON):
// objects with their members sorted by key (UTF-16 code units), no whitespace, strings as
// appendCanonString, numbers as ECMAScript writes them.
func appendCanonJSON(dst, raw []byte) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return dst, errCanon
	}
	switch raw[0] {
	case '{':
		members, err := objectMembers(raw)
		if err != nil {
			return dst, err
		}
		return appendMembers(dst, members)
	case '[':
		dst = append(dst, '[')
		for i, p := 1, 0; ; p++ {
			i = skipSpace(raw, i)
			if i >= len(raw) {
				return dst, errCanon
			}
			if raw[i] == ']' {
				return append(dst, ']'), nil
			}
			if p > 0 {
				if raw[i] != ',' {
					return dst, errCanon
				}
				i = skipSpace(raw, i+1)
				dst = append(dst, ',')
			}
			end, err := skipValue(raw, i)
			if err != nil {
				return dst, err
			}
			if dst, err = appendCanonJSON(dst, raw[i:end]); err != nil {
				return dst, err
			}
			i = end
		}
	case '"':
		if plainString(raw) {
			return append(dst, raw...), nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return dst, err
		}
		return appendCanonString(dst, s), nil
	case 't', 'f', 'n':
		return append(dst, raw...), nil
	default:
		if plainInteger(raw) {
			return append(dst, raw...), nil
		}
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return dst, err
		}
		n, err := jcs.NumberToJSON(f)
		if err != nil {
			return dst, err
		}
		return append(dst, n...), nil
	}
}

// plainString reports whether a JSON string literal is already canonical: no escape, no
// control character, valid UTF-8.
func plainString(raw []byte) bool {
	body := raw[1 : len(raw)-1]
	for _, c := range body {
		if c < 0x20 || c == '\\' {
			return false
		}
	}
	return utf8.Valid(body)
}

// plainInteger reports whether a JSON number is an integer ECMAScript writes as it is: no
// fraction or exponent, not -0, at most 15 digits (exact in a double).
func plainInteger(raw []byte) bool {
	digits := raw
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 15 || string(raw) == "-0" {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

type member struct {
	key   string
	value []byte
}

// objectMembers splits a JSON object into its members, in their order. The keys share raw's
// memory: raw must not change while they are in use.
func objectMembers(raw []byte) ([]member, error) {
	out := make([]member, 0, 32)
	i := skipSpace(raw, 1)
	if i < len(raw) && raw[i] == '}' {
		return out, nil
	}
	for {
		if i >= len(raw) || raw[i] != '"' {
			return nil, errCanon
		}
		end, err := skipValue(raw, i)
		if err != nil {
			return nil, err
		}
		var key string
		if plainString(raw[i:end]) {
			key = unsafe.String(unsafe.SliceData(raw[i+1:end-1]), end-1-i-1)
		} else if err := json.Unmarshal(raw[i:end], &key); err != nil {
			return nil, err
		}
		i = skipSpace(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return nil, errCanon
		}
		i = skipSpace(raw, i+1)
		if end, err = skipValue(raw, i); err != nil {
			return nil, err
		}
		out = append(out, member{key: key, value: raw[i:end]})
		i = skipSpace(raw, end)
		if i >= len(raw) {
			return nil, errCanon
		}
		if raw[i] == '}' {
			return out, nil
		}
		if raw[i] != ',' {
			return nil, errCanon
		}
		i = skipSpace(raw, i+1)
	}
}

// sortMembers orders members by their keys' UTF-16 code units, as RFC 8785 sorts.
func sortMembers(ms []member) {
	slices.SortFunc(ms, func(a, b member) int { return compareUTF16(a.key, b.key) })
}

// compareUTF16 orders a and b by their UTF-16 code units. UTF-8's byte order is code point
// order, which is UTF-16's too except that a character past U+FFFF (a surrogate pair, from
// 0xD800) sorts before one from U+E000 to U+FFFF; so only two differing non-ASCII characters
// need decoding.
func compareUTF16(a, b string) int {
	i, n := 0, min(len(a), len(b))
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		return cmp.Compare(len(a), len(b))
	}
	if a[i] < utf8.RuneSelf || b[i] < utf8.RuneSelf {
		return cmp.Compare(a[i], b[i])
	}
	for i > 0 && !utf8.RuneStart(a[i]) {
		i--
	}
	ra, _ := utf8.DecodeRuneInString(a[i:])
	rb, _ := utf8.DecodeRuneInString(b[i:])
	return cmp.Compare(utf16Unit(ra), utf16Unit(rb))
}

// utf16Unit is r's first UTF-16 code unit, then r (which orders the second units of two
// characters with the same first).
func utf16Unit(r rune) int64 {
	if r < 0x10000 {
		return int64(r) << 21
	}
	hi, _ := utf16.EncodeRune(r)
	return int64(hi)<<21 | int64(r)
}

func skipSpace(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value that starts at raw[i].
func skipValue(raw []byte, i int) (int, error) {
	if i >= len(raw) {
		return 0, errCanon
	}
	switch raw[i] {
	case '"':
		for j := i + 1; j < len(raw); j++ {
			switch raw[j] {
			case '\\':
				j++
			case '"':
				return j + 1, nil
			}
		}
		return 0, errCanon
	case '{', '[':
		depth := 0
		for j := i; j < len(raw); j++ {
			switch raw[j] {
			case '"':
				end, err := skipValue(raw, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errCanon
	default:
		j := i
		for j < len(raw) && raw[j] != ',' && raw[j] != '}' && raw[j] != ']' && raw[j] != ' ' && raw[j] != '\n' && raw[j] != '\t' && raw[j] != '\r' {
			j++
		}
		if j == i {
			return 0, errCanon
		}
		return j, nil
	}
}

// appendCanonOpt appends s as a canonical string, or null when it is "".
func appendCanonOpt(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, "null"...)
	}
	return appendCanonString(dst, s)
}

// canonical appends the RFC 8785 form of the record as the API returns it, without hash: its
// members in sorted order. Its changes must already be canonical (as auditChanges makes them).
func (r *AuditRecord) canonical(dst []byte) []byte {
	dst = append(dst, `{"account_id":`...)
	if r.AccountID != "" {
		dst = appendCanonString(dst, KindAccount.Prefixed(r.AccountID))
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"action":`...)
	dst = appendCanonString(dst, r.Action)
	dst = append(dst, `,"actor":{"key_id":`...)
	if r.ActorKeyID != "" {
		dst = appendCanonString(dst, KindKey.Prefixed(r.ActorKeyID))
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"role":`...)
	dst = appendCanonOpt(dst, string(r.ActorRole))
	dst = append(dst, `,"type":`...)
	dst = appendCanonString(dst, r.ActorType)
	dst = append(dst, `},"changes":`...)
	if len(r.Changes) > 0 {
		dst = append(dst, r.Changes...)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"count":`...)
	dst = strconv.AppendInt(dst, int64(r.Count), 10)
	dst = append(dst, `,"id":`...)
	dst = appendCanonString(dst, KindAudit.Prefixed(r.ID))
	dst = append(dst, `,"idempotency_key":`...)
	dst = appendCanonOpt(dst, r.IdempotencyKey)
	dst = append(dst, `,"occurred_at":"`...)
	dst = r.OccurredAt.UTC().AppendFormat(dst, TimeFormat)
	dst = append(dst, `","outcome":`...)
	dst = appendCanonString(dst, r.Outcome)
	dst = append(dst, `,"prev_hash":`...)
	dst = appendCanonString(dst, r.PrevHash)
	dst = append(dst, `,"request_id":`...)
	dst = appendCanonOpt(dst, r.RequestID)
	dst = append(dst, `,"sequence":`...)
	dst = strconv.AppendInt(dst, r.Sequence, 10)
	dst = append(dst, `,"source":{"ip":`...)
	dst = appendCanonOpt(dst, r.Source.IP)
	dst = append(dst, `,"user_agent":`...)
	dst = appendCanonOpt(dst, r.Source.UserAgent)
	dst = append(dst, `},"status":`...)
	if r.Status != 0 {
		dst = strconv.AppendInt(dst, int64(r.Status), 10)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"target":`...)
	if r.TargetType != "" {
		dst = append(dst, `{"id":`...)
		dst = appendCanonString(dst, string(targetKinds[r.TargetType])+r.TargetID)
		dst = append(dst, `,"type":`...)
		dst = appendCanonString(dst, r.TargetType)
		dst = append(dst, '}')
	} else {
		dst = append(dst, "null"...)
	}
	return append(dst, '}')
}
