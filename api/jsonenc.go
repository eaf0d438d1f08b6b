package api

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/rosterhq/roster"
)

// jsonAppender is a view that writes its own JSON, for the list pages where encoding/json's
// reflection dominated the CPU. The bytes must be exactly what json.Marshal gives for the same
// value (jsonenc_test.go holds every appender to that). The error, as in encoding.TextAppender,
// is there for the items a list leaves to encoding/json.
type jsonAppender interface {
	appendJSON(b []byte) ([]byte, error)
}

// jsonSize guesses how long v's JSON is, so that encode allocates once and clears little more
// than it writes: with a flat 1 KiB an entity, clearing the buffer cost a tenth of a page.
func jsonSize(v any) int {
	switch v := v.(type) {
	case entityView:
		// 500 bytes of names, literals and timestamps when nothing optional is set, then the
		// strings; escapes take the slack.
		n := 600 + len(v.Name) + len(v.ID) + len(v.AccountID)
		for _, s := range [...]*string{v.Source, v.Recipient, v.Description, v.Connected, v.ConnectedAccountID,
			v.See, v.FieldSuffix, v.InvitationID, v.LogoURL, v.TimeZone, v.Website} {
			if s != nil {
				n += len(*s)
			}
		}
		for _, s := range v.ModuleIDs {
			n += len(s) + 3
		}
		for _, s := range v.FlowIDs {
			n += len(s) + 3
		}
		return n
	case listView:
		n := 128
		for _, item := range v.Data {
			n += jsonSize(item)
		}
		return n
	}
	// An item of a list that encoding/json writes.
	return 256
}

// appendEntityArray appends the JSON array of the entities as sf renders them, stopping before
// the first that would take the array past room bytes (the first is always taken: one entity
// is far below any room given). It returns the buffer and how many entities the array holds.
func appendEntityArray(b []byte, items []roster.Entity, sf *surface, room int) ([]byte, int) {
	start := len(b)
	b, n := appendEntityItems(append(b, '['), start, items, sf, room)
	return append(b, ']'), n
}

// appendEntityItems continues the JSON array that opens at b[start] (its '[' written, its ']'
// not yet) with the entities, stopping before the first that would take the closed array past
// room bytes; an array's first entity is always taken. It returns the buffer and how many of
// items it took. A page read in chunks (entityPage) renders each chunk into one array so.
func appendEntityItems(b []byte, start int, items []roster.Entity, sf *surface, room int) ([]byte, int) {
	views := make([]entityView, len(items))
	size := 0
	for i, e := range items {
		views[i] = sf.entityView(e)
		size += jsonSize(views[i]) + 1
	}
	b = slices.Grow(b, max(0, min(size, room+1-(len(b)-start))))
	for i, v := range views {
		mark := len(b)
		first := mark == start+1
		if !first {
			b = append(b, ',')
		}
		b, _ = v.appendJSON(b)
		if !first && len(b)-start+1 > room {
			return b[:mark], i
		}
	}
	return b, len(items)
}

func (v entityView) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"name":`...)
	b = appendString(b, v.Name)
	b = append(b, `,"module_ids":`...)
	b = appendStrings(b, v.ModuleIDs)
	b = append(b, `,"source":`...)
	b = appendOptString(b, v.Source)
	b = append(b, `,"recipient":`...)
	b = appendOptString(b, v.Recipient)
	b = append(b, `,"id":`...)
	b = appendString(b, v.ID)
	b = append(b, `,"account_id":`...)
	b = appendString(b, v.AccountID)
	b = append(b, `,"description":`...)
	b = appendOptString(b, v.Description)
	b = append(b, `,"standard":`...)
	b = strconv.AppendBool(b, v.Standard)
	b = append(b, `,"account":`...)
	if v.Account == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendBool(b, *v.Account)
	}
	b = append(b, `,"pending":`...)
	b = strconv.AppendBool(b, v.Pending)
	b = append(b, `,"connected":`...)
	b = appendOptString(b, v.Connected)
	b = append(b, `,"connected_account_id":`...)
	b = appendOptString(b, v.ConnectedAccountID)
	b = append(b, `,"deprecated":`...)
	b = strconv.AppendBool(b, v.Deprecated)
	b = append(b, `,"see":`...)
	b = appendOptString(b, v.See)
	b = append(b, `,"field_suffix":`...)
	b = appendOptString(b, v.FieldSuffix)
	b = append(b, `,"invitation_id":`...)
	b = appendOptString(b, v.InvitationID)
	b = append(b, `,"invitation_expires_at":`...)
	if v.InvitationExpiresAt == nil {
		b = append(b, "null"...)
	} else {
		b = appendStamp(b, *v.InvitationExpiresAt)
	}
	b = append(b, `,"expired":`...)
	b = strconv.AppendBool(b, v.Expired)
	b = append(b, `,"flow_ids":`...)
	b = appendStrings(b, v.FlowIDs)
	b = append(b, `,"logo_url":`...)
	b = appendOptString(b, v.LogoURL)
	b = append(b, `,"time_zone":`...)
	b = appendOptString(b, v.TimeZone)
	b = append(b, `,"trustedform_certified_vendor":`...)
	b = strconv.AppendBool(b, v.TrustedFormCertifiedVendor)
	b = append(b, `,"website":`...)
	b = appendOptString(b, v.Website)
	b = append(b, `,"created_at":`...)
	b = appendStamp(b, v.CreatedAt)
	b = append(b, `,"updated_at":`...)
	b = appendStamp(b, v.UpdatedAt)
	return append(b, '}'), nil
}

func (v paginationView) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"count":`...)
	b = strconv.AppendInt(b, int64(v.Count), 10)
	b = append(b, `,"has_next":`...)
	b = strconv.AppendBool(b, v.HasNext)
	b = append(b, `,"has_prev":`...)
	b = strconv.AppendBool(b, v.HasPrev)
	b = append(b, `,"next_cursor":`...)
	b = appendOptString(b, v.NextCursor)
	b = append(b, `,"prev_cursor":`...)
	b = appendOptString(b, v.PrevCursor)
	return append(b, '}'), nil
}

// appendJSON appends the items that can append themselves and has encoding/json write the
// others straight into b.
func (v listView) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"data":`...)
	if v.Data == nil {
		b = append(b, "null"...)
	} else {
		var w *appendWriter
		var enc *json.Encoder
		b = append(b, '[')
		for i, item := range v.Data {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if a, ok := item.(jsonAppender); ok {
				b, err = a.appendJSON(b)
			} else {
				if enc == nil {
					w = new(appendWriter)
					enc = json.NewEncoder(w)
				}
				w.b = b
				if err = enc.Encode(item); err == nil {
					b = w.b[:len(w.b)-1] // Encode ends every value with a newline
				}
			}
			if err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	b, err := v.Pagination.appendJSON(append(b, `,"pagination":`...))
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// appendWriter lets a json.Encoder append to the buffer being built: an item without an
// appender costs what it cost inside json.Marshal, without a copy of its own.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func appendOptString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

// appendStrings writes nil as null and empty as [], as encoding/json does.
func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// appendString quotes s as encoding/json does with HTML escaping on (json.Marshal's default):
// <, > and & as \u003c, \u003e and \u0026, U+2028 and U+2029 escaped for JSONP, each byte of
// invalid UTF-8 as \ufffd, and the short escapes for \b, \f, \n, \r and \t only.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendStamp writes t quoted, as MarshalText renders it, without AppendFormat parsing the
// layout for every timestamp of a page. Years outside 0–9999 are left to AppendFormat.
func appendStamp(b []byte, t stamp) []byte {
	u := time.Time(t).UTC()
	b = append(b, '"')
	year, month, day := u.Date()
	if year < 0 || year > 9999 {
		b = u.AppendFormat(b, timeFormat)
		return append(b, '"')
	}
	hour, minute, sec := u.Clock()
	micro := u.Nanosecond() / 1000
	b = append(b,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+month/10), byte('0'+month%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.',
		byte('0'+micro/100000), byte('0'+micro/10000%10), byte('0'+micro/1000%10),
		byte('0'+micro/100%10), byte('0'+micro/10%10), byte('0'+micro%10), 'Z', '"')
	return b
}
