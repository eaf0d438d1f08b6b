package api

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"github.com/rosterhq/roster"
)

// ctx is the request's context.
func (c *call) ctx() context.Context { return c.r.Context() }

// header returns a header's value; an empty value counts as absent.
func (c *call) header(name string) string { return strings.TrimSpace(c.r.Header.Get(name)) }

// readBody enforces the size and media type rules and keeps the body.
func (c *call) readBody() error {
	r := c.r
	if r.ContentLength > MaxBody {
		return roster.Errorf(roster.CodePayloadTooLarge, "the body is larger than %d bytes", MaxBody)
	}
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 && len(r.TransferEncoding) == 0 {
		return nil
	}
	data, err := io.ReadAll(http.MaxBytesReader(c.w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return roster.Errorf(roster.CodePayloadTooLarge, "the body is larger than %d bytes", MaxBody)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
			// The connection ended before the body did: the client went away.
			return errAbandoned
		}
		return roster.Errorf(roster.CodePayloadInvalid, "the body could not be read")
	}
	if len(data) == 0 {
		return nil
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		return roster.Errorf(roster.CodeUnsupportedMediaType, "the body must be application/json")
	}
	c.body = data
	return nil
}

func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

// pageRequest reads limit, cursor, sort and the named filters from the query. Empty values
// count as absent; unknown parameters are ignored. Problems (a bad limit, a NUL character) go
// into req.Problems, which Plan reports together with the filters' own, all at once.
func (c *call) pageRequest(l roster.Listing, filters ...string) roster.PageRequest {
	limit, err := l.CheckLimit(c.param("limit"))
	req := roster.PageRequest{Limit: limit, Sort: c.param("sort"), Cursor: c.param("cursor"), Filters: map[string]string{},
		Principal: c.p}
	_ = req.Problems.Absorb(err)
	for _, f := range filters {
		if v := c.param(f); v != "" && req.Problems.Text(v, "query", f) {
			req.Filters[f] = v
		}
	}
	return req
}

// params is the request's query, read once by parseQuery. Every query parameter roster reads
// comes from here, never from url.URL.Query, which drops a pair that holds a ';'.
func (c *call) params() url.Values {
	if c.query == nil {
		c.query = parseQuery(c.r.URL.RawQuery)
	}
	return c.query
}

// param is the value of a query parameter: the last one when it is repeated, as FastAPI reads
// a scalar parameter (Starlette's query_params[name]); "" when absent.
func (c *call) param(name string) string {
	vs := c.params()[name]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// parseQuery reads a query string as Starlette does (SPEC §5): pairs are split on '&' only, so
// ';' is an ordinary character; a pair without '=' is a key with an empty value; keys and
// values are unescaped with '+' as a space, and a '%' that does not start an escape is kept as
// written (so "seller;" and "50%" are values, never a parameter dropped in silence).
func parseQuery(raw string) url.Values {
	q := url.Values{}
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k = queryUnescape(k)
		q[k] = append(q[k], queryUnescape(v))
	}
	return q
}

// queryUnescape decodes %XX escapes and '+' of one key or value.
func queryUnescape(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
