// Package api serves roster over HTTP: one route table, three surfaces (native /v1, Lead Bank
// /v0, LeadConduit at the root) that differ only in how they render, and thin handlers that
// decode, validate, call the core and encode.
package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/url"
	"path"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rosterhq/roster"
)

// MaxBody is the largest request body roster reads.
const MaxBody = 1 << 20

// Server is roster's HTTP handler.
type Server struct {
	svc      *roster.Service
	log      *slog.Logger
	mux      *http.ServeMux
	keys     *limiter  // per key
	accounts *limiter  // per account, over all of its keys
	running  *inFlight // requests running per account (per key for a superadmin)
	metrics  *metrics
	notFound http.Handler
	streams  streamStop // ends event streams at shutdown
}

// Options tune the handler.
type Options struct {
	// RateLimit is the per-key token bucket; the zero value turns it off.
	RateLimit RateLimit
	// AccountRateLimit is the bucket all the keys of one account share (superadmin keys have
	// none). Each zero field is 4 × RateLimit's; a negative Rate turns it off.
	AccountRateLimit RateLimit
	// MaxInFlight is how many requests one account's keys together (a superadmin key: that key)
	// may have running at once; beyond, 429. Zero turns the limit off.
	MaxInFlight int
	// Collectors are extra Prometheus collectors (database pool statistics).
	Collectors []prometheus.Collector
}

// New builds the handler over a service.
func New(svc *roster.Service, log *slog.Logger, opts Options) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{svc: svc, log: log, mux: http.NewServeMux(), metrics: newMetrics(opts.Collectors...),
		keys: newLimiter("per-key", opts.RateLimit), accounts: newLimiter("per-account", accountLimit(opts)), running: newInFlight(opts.MaxInFlight)}
	s.mount()
	return s
}

// access says who may call a route.
type access int

const (
	public access = iota // no key (operational routes)
	keyed                // any valid key; the handler checks role and tenancy
)

// route is one line of the route table.
type route struct {
	method  string
	pattern string
	access  access
	handle  func(*call) error
}

// Routes returns the route table, for the server and for the tests that hold the OpenAPI
// document to it.
func (s *Server) Routes() []route {
	return []route{
		{"GET", "/healthz", public, s.healthz},
		{"GET", "/readyz", public, s.readyz},
		{"GET", "/metrics", public, s.serveMetrics},
		{"GET", "/openapi.json", public, s.openAPI},
		{"GET", "/docs", public, s.docs},
		{"GET", "/docs/{file}", public, s.docsAsset},

		{"POST", "/v1/accounts", keyed, s.createAccount},
		{"GET", "/v1/accounts", keyed, s.listAccounts},
		{"GET", "/v1/accounts/{account_id}", keyed, s.getAccount},
		{"PATCH", "/v1/accounts/{account_id}", keyed, s.patchAccount},

		{"POST", "/v1/entities", keyed, s.createEntity},
		{"GET", "/v1/entities", keyed, s.listEntities},
		{"GET", "/v1/entities/{id}", keyed, s.getEntity},
		{"PUT", "/v1/entities/{id}", keyed, s.putEntity},
		{"PATCH", "/v1/entities/{id}", keyed, s.patchEntity},
		{"DELETE", "/v1/entities/{id}", keyed, s.deleteEntity},
		{"GET", "/v1/entities/{id}/relationships", keyed, s.entityRelationships},

		{"POST", "/v1/accounts/{account_id}/entity_relationships/batch", keyed, s.batchRelationships},
		{"GET", "/v1/accounts/{account_id}/entity_relationships", keyed, s.listRelationships},
		{"DELETE", "/v1/accounts/{account_id}/entity_relationships/{entity_id}", keyed, s.deleteRelationship},

		{"POST", "/v1/api-keys", keyed, s.createKey},
		{"GET", "/v1/api-keys", keyed, s.listKeys},
		{"GET", "/v1/api-keys/{key_id}", keyed, s.getKey},
		{"PATCH", "/v1/api-keys/{key_id}", keyed, s.patchKey},

		{"GET", "/v1/client/nonce", keyed, s.nonce},

		{"POST", "/v0/accounts/{id}/entity_relationships/batch", keyed, s.batchRelationships},
		{"GET", "/v0/accounts/{id}/entity_relationships", keyed, s.listRelationships},
		{"DELETE", "/v0/accounts/{id}/entity_relationships/{entity_id}", keyed, s.deleteRelationship},

		{"POST", "/entities", keyed, s.createEntity},
		{"GET", "/entities", keyed, s.listConduitEntities},
		{"GET", "/entities/{id}", keyed, s.getEntity},
		{"PUT", "/entities/{id}", keyed, s.putEntity},
		{"PATCH", "/entities/{id}", keyed, s.patchEntity},
		{"DELETE", "/entities/{id}", keyed, s.deleteEntity},

		{"GET", "/v1/events", keyed, s.listEvents},
		{"GET", "/v1/events/stream", keyed, s.eventStream},
		{"GET", "/v1/events/{id}", keyed, s.getEvent},
	}
}

// mount registers every path once, with a dispatcher that serves HEAD wherever GET is served
// (net/http sends the head and drops the body), answers 405 for other methods, and a catch-all
// that answers 404 in the shape of the path's surface.
func (s *Server) mount() {
	byPattern := map[string]map[string]route{}
	var order []string
	for _, rt := range s.Routes() {
		if byPattern[rt.pattern] == nil {
			byPattern[rt.pattern] = map[string]route{}
			order = append(order, rt.pattern)
		}
		byPattern[rt.pattern][rt.method] = rt
	}
	for _, pattern := range order {
		methods := byPattern[pattern]
		allow := make([]string, 0, len(methods))
		for m := range methods {
			allow = append(allow, m)
		}
		if _, ok := methods[http.MethodGet]; ok {
			allow = append(allow, http.MethodHead)
		}
		slices.Sort(allow)
		s.mux.Handle(pattern, s.wrap(pattern, func(c *call) error {
			rt, ok := methods[c.r.Method]
			if !ok && c.r.Method == http.MethodHead {
				rt, ok = methods[http.MethodGet]
			}
			if !ok {
				c.w.Header().Set("Allow", strings.Join(allow, ", "))
				return roster.Errorf(roster.CodeMethodNotAllowed, "method %s is not allowed on this path", c.r.Method)
			}
			return s.serveRoute(c, rt)
		}))
	}
	s.notFound = s.wrap("", func(c *call) error {
		return roster.Errorf(roster.CodeNotFound, "no such path")
	})
	s.mux.Handle("/", s.notFound)
}

// ServeHTTP implements http.Handler. A path that is not in clean form (//, /./, /../) names
// nothing: it is a 404 in the surface's shape, never the standard library's redirect.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Path; p == "" || p[0] != '/' || path.Clean(p) != p {
		s.notFound.ServeHTTP(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// call is one request on its way through a route.
type call struct {
	s       *Server
	w       http.ResponseWriter
	r       *http.Request
	sf      *surface
	pattern string
	reqID   string
	p       roster.Principal
	authed  bool
	body    []byte
	status  int
	query   url.Values // parsed on first use, by params
	sent    int        // bytes of the response body
	// paramStatus, when set, is the status of a validation error in place of the surface's
	// (Lead Bank's list declares 400 for bad parameters).
	paramStatus int
}

func (s *Server) wrap(pattern string, h func(*call) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		c := &call{s: s, w: w, r: r, sf: surfaceFor(r.URL.Path), pattern: pattern, reqID: requestID(r.Header.Get("X-Request-Id"))}
		w.Header().Set("X-Request-Id", c.reqID)
		defer func() {
			if v := recover(); v != nil {
				s.log.Error("panic", "request_id", c.reqID, "panic", v, "stack", string(debug.Stack()))
				if c.status == 0 {
					c.fail(errors.New("panic"))
				}
			}
			d := time.Since(start)
			s.metrics.observe(pattern, r.Method, c.status, d)
			route := pattern
			if route == "" {
				route = "unmatched"
			}
			s.log.Info("request", "request_id", c.reqID, "method", r.Method, "route", route, "status", c.status,
				"duration_ms", float64(d.Microseconds())/1000, "account_id", c.accountForLog())
		}()
		if err := h(c); err != nil {
			c.fail(err)
		}
	})
}

func (c *call) accountForLog() string {
	if !c.authed || c.p.AccountID == "" {
		return ""
	}
	return roster.KindAccount.Prefixed(c.p.AccountID)
}

// requestID keeps a sane client id (1–128 visible ASCII) or makes a new one.
func requestID(v string) string {
	if len(v) >= 1 && len(v) <= 128 {
		ok := true
		for i := 0; i < len(v); i++ {
			if v[i] < 0x21 || v[i] > 0x7e {
				ok = false
				break
			}
		}
		if ok {
			return v
		}
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// serveRoute runs the checks every route shares, in SPEC §5's order, then the handler.
func (s *Server) serveRoute(c *call, rt route) error {
	if rt.access == public {
		return rt.handle(c)
	}
	p, err := s.authenticate(c.r)
	if err != nil {
		return err
	}
	c.p, c.authed = p, true
	if err := s.rateLimit(c); err != nil {
		return err
	}
	tenant := p.Scope()
	if !s.running.acquire(tenant) {
		c.w.Header().Set("Retry-After", "1")
		return roster.Errorf(roster.CodeRateLimited, "too many requests of this account are running at once (at most %d); retry in 1 s", s.running.max)
	}
	defer s.running.release(tenant)
	defer s.charge(c)
	if err := c.readBody(); err != nil {
		return err
	}
	// ?account_id= is accepted on every /v1 route, as LEADR declares it; for anyone but a
	// superadmin it must name the caller's own account.
	if c.sf == native && !p.IsSuperadmin() {
		if raw := c.param("account_id"); raw != "" {
			if _, err := p.PathAccount(raw); err != nil {
				return err
			}
		}
	}
	return rt.handle(c)
}

// credentials returns the secret the request presents, "" when none. Every line of
// Authorization and leadr-api-key counts (an empty one counts as absent): two different
// secrets, or an Authorization line that cannot be read, are an error.
func credentials(r *http.Request) (string, error) {
	var found []string
	for _, h := range r.Header.Values("Authorization") {
		if h = strings.TrimSpace(h); h == "" {
			continue
		}
		secret, err := authorizationSecret(h)
		if err != nil {
			return "", err
		}
		found = append(found, secret)
	}
	for _, h := range r.Header.Values("leadr-api-key") {
		if h = strings.TrimSpace(h); h != "" {
			found = append(found, h)
		}
	}
	if len(found) == 0 {
		return "", nil
	}
	for _, s := range found[1:] {
		if s != found[0] {
			return "", roster.Errorf(roster.CodeUnauthorized, "two different keys were presented")
		}
	}
	return found[0], nil
}

// authorizationSecret reads the secret of one Authorization value: Bearer, or Basic with the
// secret as the password.
func authorizationSecret(h string) (string, error) {
	scheme, rest, _ := strings.Cut(h, " ")
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(scheme) {
	case "bearer":
		return rest, nil
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return "", roster.Errorf(roster.CodeUnauthorized, "authentication failed")
		}
		_, pass, ok := strings.Cut(string(raw), ":")
		if !ok {
			return "", roster.Errorf(roster.CodeUnauthorized, "authentication failed")
		}
		return pass, nil
	}
	return "", roster.Errorf(roster.CodeUnauthorized, "authentication failed")
}

func (s *Server) authenticate(r *http.Request) (roster.Principal, error) {
	secret, err := credentials(r)
	if err != nil {
		return roster.Principal{}, err
	}
	if secret == "" {
		return roster.Principal{}, roster.Errorf(roster.CodeUnauthorized, "an API key is required")
	}
	return s.svc.Authenticate(r.Context(), secret)
}

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

// decodeBody parses the body as JSON. A missing body is a missing-body problem.
func (c *call) decodeBody() (any, error) {
	if c.body == nil {
		return nil, roster.Invalid("missing", "Field required", "body")
	}
	return roster.DecodeJSON(c.body)
}

// errAbandoned is the error of a request whose client went away before its body was sent.
var errAbandoned = errors.New("the client closed the connection")

// StatusClientClosedRequest is the status roster logs and counts for a request the client
// abandoned before the answer (nginx's 499): its own doing, neither a success nor a 5xx.
const StatusClientClosedRequest = 499

// fail renders err in the surface's shape. Internal errors are logged, never shown. A request
// whose client went away (its body cut short, or its context canceled, as net/http cancels it
// when the connection closes) is a 499 whatever the error, and gets no body: no one reads it.
func (c *call) fail(err error) {
	if errors.Is(err, errAbandoned) || c.r.Context().Err() != nil {
		c.status = StatusClientClosedRequest
		c.w.Header().Set("Connection", "close")
		c.w.WriteHeader(StatusClientClosedRequest)
		return
	}
	var e *roster.Error
	if !errors.As(err, &e) || roster.ErrorCode(err) == roster.CodeInternal || roster.ErrorCode(err) == roster.CodeConflict {
		if !errors.Is(err, context.Canceled) {
			c.s.log.Error("internal error", "request_id", c.reqID, "err", err)
		}
		e = &roster.Error{Code: roster.CodeInternal, Message: "internal error"}
	}
	status := statusOf(c.sf, e.Code)
	if e.Code == roster.CodeInvalid && c.paramStatus != 0 {
		status = c.paramStatus
	}
	if e.Code == roster.CodeUnauthorized {
		c.w.Header().Set("WWW-Authenticate", `Bearer realm="roster", Basic realm="roster"`)
	}
	if e.Code == roster.CodeIdempotencyKeyInFlight {
		c.w.Header().Set("Retry-After", "1")
	}
	body, _ := encode(c.sf.renderError(status, e))
	c.send(status, body)
}

// send writes a JSON response.
func (c *call) send(status int, body []byte) {
	c.status, c.sent = status, len(body)
	h := c.w.Header()
	h.Set("Content-Type", "application/json")
	// A length, not chunks: a list page is larger than net/http's 2 KiB chunking buffer.
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.w.WriteHeader(status)
	_, _ = c.w.Write(body)
}

// reply encodes v as the response.
func (c *call) reply(status int, v any) error {
	b, err := encode(v)
	if err != nil {
		return err
	}
	c.send(status, b)
	return nil
}

// header returns a header's value; an empty value counts as absent.
func (c *call) header(name string) string { return strings.TrimSpace(c.r.Header.Get(name)) }

// fingerprint identifies a request for idempotency: method, path with ids in canonical form,
// sorted query and a hash of the body.
func (c *call) fingerprint() string {
	segs := strings.Split(c.r.URL.Path, "/")
	for i, seg := range segs {
		for _, k := range []roster.Kind{roster.KindAccount, roster.KindEntity, roster.KindKey} {
			if id, ok := roster.ParseID(k, seg); ok && id != "" {
				segs[i] = id
				break
			}
		}
	}
	h := sha256.Sum256(c.body)
	return c.r.Method + " " + strings.Join(segs, "/") + "?" + c.params().Encode() + " " + hex.EncodeToString(h[:])
}

// mutate runs a write through idempotency and nonce, then op, and sends its response: status
// and view are how the surface renders the result. Header problems join the body's.
func mutate[T any](c *call, status int, required bool, problems roster.Problems, view func(T) any, op func(w *roster.Write) (T, error)) error {
	key := c.header("Idempotency-Key")
	if utf8.RuneCountInString(key) > roster.MaxIdempotencyKey {
		problems.Add("string_too_long", "String should have at most 255 characters", "header", "Idempotency-Key")
	} else {
		problems.Text(key, "header", "Idempotency-Key")
	}
	if err := problems.Err(); err != nil {
		return err
	}
	if required && key == "" {
		return roster.Errorf(roster.CodeIdempotencyKeyMissing, "an Idempotency-Key header is required")
	}
	claim, replay, err := c.s.svc.BeginWrite(c.r.Context(), c.p, key, c.fingerprint(), c.header("leadr-client-nonce"))
	if err != nil {
		return err
	}
	if replay != nil {
		c.w.Header().Set("Idempotent-Replayed", "true")
		c.send(replay.Status, replay.Body)
		return nil
	}
	w := &roster.Write{Claim: claim, Render: func(v any) (int, []byte, error) {
		b, err := encode(view(v.(T)))
		return status, b, err
	}}
	out, err := op(w)
	if err != nil {
		return err
	}
	if w.Body != nil {
		c.send(w.Status, w.Body)
		return nil
	}
	return c.reply(status, view(out))
}

// rateLimit takes a token from the caller key's bucket and from its account's (a superadmin
// key has only its own), answering 429 with Retry-After when either is empty. The IETF
// RateLimit headers name the bucket that binds: the one that refused, or the one with fewer
// tokens left.
func (s *Server) rateLimit(c *call) error {
	checks := []check{{s.keys, c.p.KeyID}}
	if !c.p.IsSuperadmin() {
		checks = append(checks, check{s.accounts, c.p.AccountID})
	}
	v := admit(time.Now(), checks...)
	if v.l == nil {
		return nil
	}
	h := c.w.Header()
	h.Set("RateLimit-Policy", v.l.policy())
	secs := int(math.Ceil(v.wait.Seconds()))
	if v.ok {
		h.Set("RateLimit", `"`+v.l.name+`";r=`+strconv.Itoa(v.remaining)+`;t=`+strconv.Itoa(secs))
		return nil
	}
	secs = max(secs, 1)
	h.Set("RateLimit", `"`+v.l.name+`";r=0;t=`+strconv.Itoa(secs))
	h.Set("Retry-After", strconv.Itoa(secs))
	whose := "key"
	if v.l == s.accounts {
		whose = "account's keys together"
	}
	return roster.Errorf(roster.CodeRateLimited, "too many requests for this %s; retry in %d s", whose, secs)
}

// charge takes the tokens a large response costs beyond its first (see costUnit) from the
// caller's buckets.
func (s *Server) charge(c *call) {
	n := c.sent / costUnit
	if n == 0 {
		return
	}
	now := time.Now()
	s.keys.debit(c.p.KeyID, n, now)
	if !c.p.IsSuperadmin() {
		s.accounts.debit(c.p.AccountID, n, now)
	}
}

func (s *Server) serveMetrics(c *call) error {
	c.status = http.StatusOK
	s.metrics.handler().ServeHTTP(c.w, c.r)
	return nil
}

func (s *Server) healthz(c *call) error {
	return c.reply(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(c *call) error {
	ctx, cancel := context.WithTimeout(c.r.Context(), 2*time.Second)
	defer cancel()
	if err := s.svc.Ready(ctx); err != nil {
		s.log.Warn("not ready", "request_id", c.reqID, "err", err)
		return roster.Errorf(roster.CodeServiceUnavailable, "the database does not answer")
	}
	return c.reply(http.StatusOK, map[string]string{"status": "ready"})
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
