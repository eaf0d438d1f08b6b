package api

import (
	"net/http"
	"slices"
	"strings"
)

// corsExposed are the response headers a browser client needs to read beyond the CORS-safelisted
// ones: the request id, an idempotent replay, the rate limit and its wait, the next page.
const corsExposed = "X-Request-Id, Idempotent-Replayed, RateLimit, RateLimit-Policy, Retry-After, Link, WWW-Authenticate, Allow"

// corsMaxAge is how long (seconds) a browser may keep a preflight's answer.
const corsMaxAge = "600"

// cors is the --cors-origins policy: the exact origins a browser may call roster from, or any
// origin ("*"). The zero value allows none: no CORS header is ever sent and a preflight is 405.
type cors struct {
	any     bool
	origins []string
}

// newCORS reads the configured origins; "*" among them allows any origin. An origin compares
// as the browser sends it (scheme://host[:port]), without a trailing slash.
func newCORS(origins []string) cors {
	var c cors
	for _, o := range origins {
		o = strings.TrimSuffix(strings.TrimSpace(o), "/")
		switch {
		case o == "":
		case o == "*":
			c.any = true
		default:
			c.origins = append(c.origins, o)
		}
	}
	return c
}

func (c cors) enabled() bool { return c.any || len(c.origins) > 0 }

// allowed is the value of Access-Control-Allow-Origin for a request from origin, "" when that
// origin gets no CORS header.
func (c cors) allowed(origin string) string {
	switch {
	case origin == "":
		return ""
	case slices.Contains(c.origins, origin):
		return origin
	case c.any:
		return "*"
	}
	return ""
}

// decorate adds the CORS headers of an actual (not preflight) response.
func (c cors) decorate(w http.ResponseWriter, r *http.Request) {
	if !c.enabled() {
		return
	}
	h := w.Header()
	if !c.any || len(c.origins) > 0 {
		// The answer depends on the origin: caches must keep one per origin.
		h.Add("Vary", "Origin")
	}
	if allow := c.allowed(r.Header.Get("Origin")); allow != "" {
		h.Set("Access-Control-Allow-Origin", allow)
		h.Set("Access-Control-Expose-Headers", corsExposed)
	}
}

// preflight reports whether r is a CORS preflight roster answers (OPTIONS with
// Access-Control-Request-Method from an allowed origin) and, if so, answers it: 204 with the
// path's methods and the request headers the browser asked for. Any other OPTIONS falls through
// to the 405 every unserved method gets.
func (c cors) preflight(w http.ResponseWriter, r *http.Request, methods []string) bool {
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	allow := c.allowed(r.Header.Get("Origin"))
	if allow == "" {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", allow)
	h.Set("Access-Control-Allow-Methods", strings.Join(methods, ", "))
	if asked := r.Header.Values("Access-Control-Request-Headers"); len(asked) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(asked, ", "))
	}
	h.Set("Access-Control-Max-Age", corsMaxAge)
	h.Add("Vary", "Access-Control-Request-Method, Access-Control-Request-Headers")
	w.WriteHeader(http.StatusNoContent)
	return true
}
