package roster

import (
	"encoding/json"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// The JSON reader of request bodies (SPEC §5 "Text"). encoding/json would take a body that is
// not UTF-8, and a \u escape of a lone surrogate, and turn both into U+FFFD silently, so text the
// client never sent would be stored; and its errors do not say where they are in the terms
// FastAPI uses. This reader takes exactly RFC 8259 JSON in UTF-8 and gives the same values as
// encoding/json with UseNumber (objects as map[string]any, arrays as []any, numbers as
// json.Number, the last of duplicate keys), except that a string holding a lone surrogate
// escape is an invalidText, which the field readers of Body report as string_unicode at its loc.
// Its reasons are the messages of Python's json module, which FastAPI puts in ctx.error; its
// offsets count bytes.

// invalidText stands for a JSON string that holds a \u escape of a lone surrogate: no text.
type invalidText struct{}

// The problem reported for an invalidText, as pydantic words it.
const (
	unicodeType = "string_unicode"
	unicodeMsg  = "Input should be a valid string, unable to parse raw data as a unicode string"
)

// maxJSONDepth is how deeply arrays and objects may nest, as in encoding/json.
const maxJSONDepth = 10000

// jsonSyntaxError is where a body stops being JSON and why.
type jsonSyntaxError struct {
	Offset int // in bytes from the start of the body
	Reason string
}

type jsonReader struct {
	data  []byte
	pos   int
	depth int
}

// parseJSON reads one JSON value that fills data (white space around it allowed).
func parseJSON(data []byte) (any, *jsonSyntaxError) {
	if !utf8.Valid(data) {
		for i := 0; i < len(data); {
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				return nil, &jsonSyntaxError{i, fmt.Sprintf("Invalid UTF-8 byte 0x%02x", data[i])}
			}
			i += size
		}
	}
	p := &jsonReader{data: data}
	p.space()
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos < len(data) {
		return nil, p.fail("Extra data")
	}
	return v, nil
}

func (p *jsonReader) fail(reason string) *jsonSyntaxError {
	return &jsonSyntaxError{p.pos, reason}
}

// peek returns the byte at the read position, 0 at the end.
func (p *jsonReader) peek() byte {
	if p.pos < len(p.data) {
		return p.data[p.pos]
	}
	return 0
}

func (p *jsonReader) space() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonReader) value() (any, *jsonSyntaxError) {
	switch c := p.peek(); {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, ok, err := p.str()
		if err != nil {
			return nil, err
		}
		if !ok {
			return invalidText{}, nil
		}
		return s, nil
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == 't':
		return p.literal("true", true)
	case c == 'f':
		return p.literal("false", false)
	case c == 'n':
		return p.literal("null", nil)
	}
	return nil, p.fail("Expecting value")
}

func (p *jsonReader) literal(word string, v any) (any, *jsonSyntaxError) {
	if len(p.data)-p.pos < len(word) || string(p.data[p.pos:p.pos+len(word)]) != word {
		return nil, p.fail("Expecting value")
	}
	p.pos += len(word)
	return v, nil
}

func (p *jsonReader) nest() *jsonSyntaxError {
	if p.depth++; p.depth > maxJSONDepth {
		return p.fail("Maximum nesting depth exceeded")
	}
	p.pos++
	p.space()
	return nil
}

func (p *jsonReader) object() (any, *jsonSyntaxError) {
	if err := p.nest(); err != nil {
		return nil, err
	}
	m := map[string]any{}
	if p.peek() == '}' {
		p.pos++
		p.depth--
		return m, nil
	}
	for {
		if p.peek() != '"' {
			return nil, p.fail("Expecting property name enclosed in double quotes")
		}
		start := p.pos
		k, ok, err := p.str()
		if err != nil {
			return nil, err
		}
		if !ok {
			// No field is named by a lone surrogate: the key stays as the client wrote it,
			// escapes and all, so that it is reported as an unknown field without a U+FFFD.
			k = string(p.data[start+1 : p.pos-1])
		}
		p.space()
		if p.peek() != ':' {
			return nil, p.fail("Expecting ':' delimiter")
		}
		p.pos++
		p.space()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		m[k] = v
		p.space()
		switch p.peek() {
		case '}':
			p.pos++
			p.depth--
			return m, nil
		case ',':
			comma := p.pos
			p.pos++
			p.space()
			if p.peek() == '}' {
				p.pos = comma
				return nil, p.fail("Illegal trailing comma before end of object")
			}
		default:
			return nil, p.fail("Expecting ',' delimiter")
		}
	}
}

func (p *jsonReader) array() (any, *jsonSyntaxError) {
	if err := p.nest(); err != nil {
		return nil, err
	}
	a := []any{}
	if p.peek() == ']' {
		p.pos++
		p.depth--
		return a, nil
	}
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		p.space()
		switch p.peek() {
		case ']':
			p.pos++
			p.depth--
			return a, nil
		case ',':
			comma := p.pos
			p.pos++
			p.space()
			if p.peek() == ']' {
				p.pos = comma
				return nil, p.fail("Illegal trailing comma before end of array")
			}
		default:
			return nil, p.fail("Expecting ',' delimiter")
		}
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)? and keeps its text. What follows
// a number that is not part of it (a "." with no digit, a second leading zero) is left for the
// caller, which finds it is no delimiter: the same places Python's json reports.
func (p *jsonReader) number() (any, *jsonSyntaxError) {
	d, start, i := p.data, p.pos, p.pos
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && isDigit(d[i]):
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	default:
		return nil, p.fail("Expecting value")
	}
	if i+1 < len(d) && d[i] == '.' && isDigit(d[i+1]) {
		for i += 2; i < len(d) && isDigit(d[i]); i++ {
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		j := i + 1
		if j < len(d) && (d[j] == '+' || d[j] == '-') {
			j++
		}
		if j < len(d) && isDigit(d[j]) {
			for i = j + 1; i < len(d) && isDigit(d[i]); i++ {
			}
		}
	}
	p.pos = i
	return json.Number(d[start:i]), nil
}

// str reads a string at the read position. ok is false when it holds a \u escape of a lone
// surrogate (the string then leaves that escape out, and must not be used as text).
func (p *jsonReader) str() (s string, ok bool, err *jsonSyntaxError) {
	d, start := p.data, p.pos
	i := start + 1
	for i < len(d) && d[i] != '"' && d[i] != '\\' && d[i] >= 0x20 {
		i++
	}
	if i < len(d) && d[i] == '"' {
		p.pos = i + 1
		return string(d[start+1 : i]), true, nil
	}
	b := append([]byte(nil), d[start+1:i]...)
	ok = true
	for {
		if i >= len(d) {
			p.pos = start
			return "", false, p.fail("Unterminated string starting at")
		}
		switch c := d[i]; {
		case c == '"':
			p.pos = i + 1
			return string(b), ok, nil
		case c < 0x20:
			p.pos = i
			return "", false, p.fail("Invalid control character at")
		case c != '\\':
			b = append(b, c)
			i++
			continue
		}
		if i+1 >= len(d) {
			p.pos = start
			return "", false, p.fail("Unterminated string starting at")
		}
		switch e := d[i+1]; e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, good := hex4(d, i+2)
			if !good {
				p.pos = i + 1
				return "", false, p.fail("Invalid \\uXXXX escape")
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r < 0xDC00 && i+1 < len(d) && d[i] == '\\' && d[i+1] == 'u' {
					if lo, good := hex4(d, i+2); good && lo >= 0xDC00 && lo < 0xE000 {
						b = utf8.AppendRune(b, utf16.DecodeRune(r, lo))
						i += 6
						continue
					}
				}
				ok = false
				continue
			}
			b = utf8.AppendRune(b, r)
			continue
		default:
			r, _ := utf8.DecodeRune(d[i+1:])
			p.pos = i + 1
			return "", false, p.fail(fmt.Sprintf("Invalid \\escape: '%c'", r))
		}
		i += 2
	}
}

// hex4 reads the four hex digits of a \u escape at d[i:].
func hex4(d []byte, i int) (rune, bool) {
	if i+4 > len(d) {
		return 0, false
	}
	var r rune
	for _, c := range d[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
