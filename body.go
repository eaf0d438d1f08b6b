package roster

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// No text roster stores may hold a NUL character: PostgreSQL cannot store one.
const (
	nulType = "string_nul"
	nulMsg  = "String should not contain a NUL character"
)

// HasNUL reports whether s holds a NUL character, which no stored text may.
func HasNUL(s string) bool { return strings.IndexByte(s, 0) >= 0 }

// NUL records a NUL character found at loc.
func (ps *Problems) NUL(loc ...any) { ps.Add(nulType, nulMsg, loc...) }

// Text checks a string taken from a query or a header before it can reach storage: it must be
// UTF-8 (PostgreSQL refuses anything else) without NUL. It records a problem at loc and reports
// whether s passed.
func (ps *Problems) Text(s string, loc ...any) bool {
	switch {
	case !utf8.ValidString(s):
		ps.Add(unicodeType, unicodeMsg, loc...)
		return false
	case HasNUL(s):
		ps.NUL(loc...)
		return false
	}
	return true
}

// Opt is a field of a request body: absent, null, or a value.
type Opt[T any] struct {
	Set  bool // the key was present
	Null bool // its value was null
	V    T
}

// Has reports whether the field carries a value (present and not null).
func (o Opt[T]) Has() bool { return o.Set && !o.Null }

// Body reads the fields of one decoded JSON object, recording every problem as FastAPI would.
// Bodies come from DecodeJSON, which keeps numbers as their text.
type Body struct {
	m        map[string]any
	read     map[string]bool
	Problems Problems
}

// NewBody wraps a decoded JSON value. A value that is not an object is one problem.
func NewBody(v any) *Body {
	b := &Body{read: map[string]bool{}}
	m, ok := v.(map[string]any)
	if !ok {
		b.Problems.Add("model_attributes_type", "Input should be a valid dictionary or object to extract fields from", "body")
		m = map[string]any{}
	}
	b.m = m
	return b
}

// Valid reports whether the body is an object (so field problems are worth collecting).
func (b *Body) Valid() bool {
	return len(b.Problems) == 0 || b.Problems[0].Type != "model_attributes_type"
}

func (b *Body) get(name string, required bool) (any, bool) {
	b.read[name] = true
	v, ok := b.m[name]
	if !ok && required {
		b.Problems.Add("missing", "Field required", "body", name)
	}
	return v, ok
}

// Given reports whether the body holds the field with a value other than null, valid or not.
func (b *Body) Given(name string) bool {
	v, ok := b.m[name]
	return ok && v != nil
}

// String reads a string field.
func (b *Body) String(name string, required bool) Opt[string] {
	v, ok := b.get(name, required)
	if !ok {
		return Opt[string]{}
	}
	if v == nil {
		return Opt[string]{Set: true, Null: true}
	}
	if _, bad := v.(invalidText); bad {
		b.Problems.Add(unicodeType, unicodeMsg, "body", name)
		return Opt[string]{}
	}
	s, isStr := v.(string)
	if !isStr {
		b.Problems.Add("string_type", "Input should be a valid string", "body", name)
		return Opt[string]{}
	}
	if strings.IndexByte(s, 0) >= 0 {
		b.Problems.Add(nulType, nulMsg, "body", name)
		return Opt[string]{}
	}
	return Opt[string]{Set: true, V: s}
}

// Bool reads a boolean field. Like pydantic in strict JSON mode, only true and false are booleans.
func (b *Body) Bool(name string, required bool) Opt[bool] {
	v, ok := b.get(name, required)
	if !ok {
		return Opt[bool]{}
	}
	if v == nil {
		return Opt[bool]{Set: true, Null: true}
	}
	x, isBool := v.(bool)
	if !isBool {
		b.Problems.Add("bool_type", "Input should be a valid boolean", "body", name)
		return Opt[bool]{}
	}
	return Opt[bool]{Set: true, V: x}
}

// Strings reads an array of strings, reporting each bad item at its index.
func (b *Body) Strings(name string, required bool) Opt[[]string] {
	return b.StringList(name, required, ListLimits{})
}

// ListLimits bounds an array of strings: at most MaxItems items (0: no bound), each of
// MinLen to MaxLen characters (MaxLen 0: no bound).
type ListLimits struct {
	MaxItems, MinLen, MaxLen int
}

// StringList reads an array of strings within lim. As pydantic does, an array over MaxItems is
// one too_long problem and its items are not judged; otherwise each bad item is reported at
// its index.
func (b *Body) StringList(name string, required bool, lim ListLimits) Opt[[]string] {
	v, ok := b.get(name, required)
	if !ok {
		return Opt[[]string]{}
	}
	if v == nil {
		return Opt[[]string]{Set: true, Null: true}
	}
	arr, isArr := v.([]any)
	if !isArr {
		b.Problems.Add("list_type", "Input should be a valid list", "body", name)
		return Opt[[]string]{}
	}
	if lim.MaxItems > 0 && len(arr) > lim.MaxItems {
		b.Problems.Add("too_long", fmt.Sprintf("List should have at most %d item%s after validation, not %d",
			lim.MaxItems, plural(lim.MaxItems), len(arr)), "body", name)
		return Opt[[]string]{}
	}
	out := make([]string, 0, len(arr))
	bad := false
	for i, item := range arr {
		if _, isBad := item.(invalidText); isBad {
			b.Problems.Add(unicodeType, unicodeMsg, "body", name, i)
			bad = true
			continue
		}
		s, isStr := item.(string)
		if !isStr {
			b.Problems.Add("string_type", "Input should be a valid string", "body", name, i)
			bad = true
			continue
		}
		if strings.IndexByte(s, 0) >= 0 {
			b.Problems.Add(nulType, nulMsg, "body", name, i)
			bad = true
			continue
		}
		if (lim.MinLen > 0 || lim.MaxLen > 0) && !b.Problems.CheckLen(s, lim.MinLen, lim.MaxLen, "body", name, i) {
			bad = true
			continue
		}
		out = append(out, s)
	}
	if bad {
		return Opt[[]string]{}
	}
	return Opt[[]string]{Set: true, V: out}
}

// Ignore marks fields as accepted and ignored (read-only fields a client may send back).
func (b *Body) Ignore(names ...string) {
	for _, n := range names {
		b.read[n] = true
	}
}

// Finish reports every field that was not read as extra_forbidden and returns all problems.
func (b *Body) Finish() error {
	var extra []string
	for k := range b.m {
		if !b.read[k] {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	for _, k := range extra {
		b.Problems.Add("extra_forbidden", "Extra inputs are not permitted", "body", k)
	}
	return b.Problems.Err()
}

// DecodeJSON parses a request body into a generic value, keeping numbers as text (decode.go).
// A body that is not JSON, or not UTF-8, is a json_invalid problem that says where (its byte
// offset) and why (ctx.error), as FastAPI does.
func DecodeJSON(data []byte) (any, error) {
	v, err := parseJSON(data)
	if err != nil {
		return nil, &Error{Code: CodePayloadInvalid,
			Message: fmt.Sprintf("the body is not valid JSON: %s (byte %d)", err.Reason, err.Offset),
			Problems: Problems{{Loc: []any{"body", err.Offset}, Msg: "JSON decode error", Type: "json_invalid",
				Ctx: &ProblemContext{Error: err.Reason}}}}
	}
	return v, nil
}

// StrLen counts characters as Python does (code points).
func StrLen(s string) int { return utf8.RuneCountInString(s) }

// CheckLen records string_too_short / string_too_long for s at loc.
func (ps *Problems) CheckLen(s string, min, max int, loc ...any) bool {
	n := StrLen(s)
	if n < min {
		ps.Add("string_too_short", fmt.Sprintf("String should have at least %d character%s", min, plural(min)), loc...)
		return false
	}
	if max > 0 && n > max {
		ps.Add("string_too_long", fmt.Sprintf("String should have at most %d character%s", max, plural(max)), loc...)
		return false
	}
	return true
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// EnumProblem records an enum mismatch the way pydantic words it.
func (ps *Problems) Enum(allowed []string, loc ...any) {
	q := make([]string, len(allowed))
	for i, a := range allowed {
		q[i] = "'" + a + "'"
	}
	msg := "Input should be " + q[0]
	if len(q) > 1 {
		msg = "Input should be " + strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
	}
	ps.Add("enum", msg, loc...)
}
