// Package api serves roster over HTTP. A request enters at Server.ServeHTTP and the route table
// (routes, in this file), which states who may call each route; serveRoute runs the checks every
// route shares and enforces that access. A handler then reads the request (request.go), makes
// one call to the core (package roster) and renders the answer in the look of the route's
// surface: native.go (/v1), leadbank.go (/v0), conduit.go (the root), over what surface.go
// shares. Writes go through write.go, which hands the core the headers idempotency and nonces
// need and sends back a saved or replayed response as it is.
package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"path"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

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
	waiting  *inFlight // long polls and event streams open per account (per key for a superadmin)
	metrics  *metrics
	cors     cors
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
	// CORSOrigins are the origins browsers may call roster from (exact, as in the Origin
	// header, or "*" for any); none turns CORS off.
	CORSOrigins []string
}

// New builds the handler over a service.
func New(svc *roster.Service, log *slog.Logger, opts Options) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{svc: svc, log: log, mux: http.NewServeMux(), metrics: newMetrics(opts.Collectors...),
		keys: newLimiter("per-key", opts.RateLimit), accounts: newLimiter("per-account", accountLimit(opts)), running: newInFlight(opts.MaxInFlight),
		waiting: newInFlight(MaxWaiting),
		cors:    newCORS(opts.CORSOrigins)}
	s.mount()
	return s
}

// Route is one line of the route table, as data: what it serves, on which surface, and who may
// call it (roster.Access, enforced once for every route by serveRoute).
type Route struct {
	Method  string
	Pattern string
	// Surface is the name of the route's surface ("native", "leadbank", "leadconduit"); "" for
	// the operational routes, which take no key.
	Surface string
	Access  roster.Access
}

// route is a Route with its handler.
type route struct {
	Route
	handle func(*call) error
}

// Routes returns the route table as data, for the tests that hold the OpenAPI document and the
// tenant matrix to it.
func (s *Server) Routes() []Route {
	rts := s.routes()
	out := make([]Route, len(rts))
	for i, rt := range rts {
		out[i] = rt.Route
	}
	return out
}

// routes is the route table: every path roster serves, who may call it, and its handler.
func (s *Server) routes() []route {
	return []route{
		r("GET", "/{$}", roster.Public, s.root),
		r("GET", "/healthz", roster.Public, s.healthz),
		r("GET", "/readyz", roster.Public, s.readyz),
		r("GET", "/metrics", roster.Public, s.serveMetrics),
		r("GET", "/openapi.json", roster.Public, s.openAPI),
		r("GET", "/docs", roster.Public, s.docs),
		r("GET", "/docs/{$}", roster.Public, s.root),
		r("GET", "/docs/{file}", roster.Public, s.docsAsset),

		r("POST", "/v1/accounts", roster.Superadmin, s.createAccount),
		r("GET", "/v1/accounts", roster.AnyKey, s.listAccounts),
		r("GET", "/v1/accounts/{account_id}", roster.AccountReader, s.getAccount),
		r("PATCH", "/v1/accounts/{account_id}", roster.AccountWriter, s.patchAccount),

		r("POST", "/v1/entities", roster.Writer, s.createEntity),
		r("GET", "/v1/entities", roster.AnyKey, s.listEntities),
		r("GET", "/v1/entities/{id}", roster.AnyKey, s.getEntity),
		r("PUT", "/v1/entities/{id}", roster.Writer, s.putEntity),
		r("PATCH", "/v1/entities/{id}", roster.Writer, s.patchEntity),
		r("DELETE", "/v1/entities/{id}", roster.Writer, s.deleteEntity),
		r("GET", "/v1/entities/{id}/relationships", roster.AnyKey, s.entityRelationships),

		r("POST", "/v1/accounts/{account_id}/entity_relationships/batch", roster.AccountWriter, s.batchRelationships),
		r("GET", "/v1/accounts/{account_id}/entity_relationships", roster.AccountReader, s.listRelationships),
		r("DELETE", "/v1/accounts/{account_id}/entity_relationships/{entity_id}", roster.AccountWriter, s.deleteRelationship),

		r("POST", "/v1/api-keys", roster.KeyWriter, s.createKey),
		r("GET", "/v1/api-keys", roster.KeyManager, s.listKeys),
		r("GET", "/v1/api-keys/{key_id}", roster.KeyManager, s.getKey),
		r("PATCH", "/v1/api-keys/{key_id}", roster.KeyWriter, s.patchKey),

		r("GET", "/v1/client/nonce", roster.AnyKey, s.nonce),

		r("POST", "/v0/accounts/{id}/entity_relationships/batch", roster.AccountWriter, s.batchRelationships),
		r("GET", "/v0/accounts/{id}/entity_relationships", roster.AccountReader, s.listLeadBankRelationships),
		r("DELETE", "/v0/accounts/{id}/entity_relationships/{entity_id}", roster.AccountWriter, s.deleteRelationship),

		r("POST", "/entities", roster.Writer, s.createEntity),
		r("GET", "/entities", roster.AnyKey, s.listConduitEntities),
		r("GET", "/entities/{id}", roster.AnyKey, s.getEntity),
		r("PUT", "/entities/{id}", roster.Writer, s.putEntity),
		r("PATCH", "/entities/{id}", roster.Writer, s.patchEntity),
		r("DELETE", "/entities/{id}", roster.Writer, s.deleteEntity),

		r("GET", "/v1/events", roster.AnyKey, s.listEvents),
		r("GET", "/v1/events/stream", roster.AnyKey, s.eventStream),
		r("GET", "/v1/events/{id}", roster.AnyKey, s.getEvent),

		r("GET", "/v1/audit_events", roster.Auditor, s.listAudit),
		r("GET", "/v1/audit_events/verify", roster.Auditor, s.verifyAudit),
		r("GET", "/v1/audit_events/{id}", roster.Auditor, s.getAudit),
	}
}

// r makes a line of the route table; its surface is the one its path is under.
func r(method, pattern string, access roster.Access, handle func(*call) error) route {
	rt := route{Route: Route{Method: method, Pattern: pattern, Access: access}, handle: handle}
	if access != roster.Public {
		rt.Surface = surfaceFor(pattern).name
	}
	return rt
}

// accountParam is the path wildcard that names the account of a route whose access is decided
// on it: the first of its pattern.
func (rt route) accountParam() string {
	_, rest, ok := strings.Cut(rt.Pattern, "{")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "}")
	return name
}

// mount registers every path once, with a dispatcher that serves HEAD wherever GET is served
// (net/http sends the head and drops the body), answers CORS preflights (cors.go) and 405 for
// other methods, and a catch-all that answers 404 in the shape of the path's surface.
func (s *Server) mount() {
	byPattern := map[string]map[string]route{}
	var order []string
	for _, rt := range s.routes() {
		if byPattern[rt.Pattern] == nil {
			byPattern[rt.Pattern] = map[string]route{}
			order = append(order, rt.Pattern)
		}
		byPattern[rt.Pattern][rt.Method] = rt
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
			if !ok && s.cors.preflight(c.w, c.r, allow) {
				c.status = http.StatusNoContent
				return nil
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

// ServeHTTP implements http.Handler. A path that is not in clean form (//, /./, /../; a
// trailing slash is clean) names nothing: it is a 404 in the surface's shape, never the
// standard library's redirect.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Path; p == "" || p[0] != '/' || (path.Clean(p) != p && path.Clean(p)+"/" != p) {
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
	// account is the path's account of a route whose access is decided on it (Access.NamesAccount):
	// canonical hex, or "" when it is well formed but names nothing.
	account string
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
		s.cors.decorate(w, r)
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

// serveRoute runs the checks every route shares, in SPEC §5's order, then the handler: the key
// (401), the rate limits (429), the body's size and type (413, 415), and who may call the route
// (403, the route's roster.Access). What follows — decoding, validation, idempotency, the nonce
// and the operation — is the core's, in one call.
func (s *Server) serveRoute(c *call, rt route) (err error) {
	if rt.Access == roster.Public {
		return rt.handle(c)
	}
	defer func() { s.auditRefusal(c, err) }() // 401 and 403 go to the audit trail
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
	// ?account_id= is accepted on every route of a surface that declares it; for anyone but a
	// superadmin it must name the caller's own account.
	if c.sf.accountQuery && !p.IsSuperadmin() {
		if raw := c.param("account_id"); raw != "" {
			if _, err := p.PathAccount(raw); err != nil {
				return err
			}
		}
	}
	var name string
	if rt.Access.NamesAccount() {
		name = rt.accountParam()
	}
	if c.account, err = p.Allow(rt.Access, c.r.PathValue(name), "path", name); err != nil {
		return err
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
	if !errors.As(err, &e) || e.Code == roster.CodeInternal || e.Code == roster.CodeConflict {
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
