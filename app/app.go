// Package app wires roster together: the store a URL names, the service, the HTTP server and
// its lifecycle. The command line and the end-to-end tests both start roster through it.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/store"
)

// Config is everything `roster serve` takes.
type Config struct {
	Addr     string
	Database string
	// Log receives roster's JSON log: a line per request, and the warnings and errors; nil
	// discards.
	Log io.Writer
	// Notice receives the bootstrap key and the listening address (stderr for the CLI).
	Notice io.Writer
	// ShutdownTimeout bounds how long in-flight requests may drain; zero is 15 s.
	ShutdownTimeout time.Duration
	// RateLimit is the per-key token bucket (requests per second and burst); zero turns it off.
	RateLimit api.RateLimit
	// AccountRateLimit is the token bucket all keys of one account share; each zero field is
	// 4 × RateLimit's, a negative Rate turns it off.
	AccountRateLimit api.RateLimit
	// MaxInFlight is how many requests one account's keys together (a superadmin key: that key)
	// may have running at once; zero is no limit.
	MaxInFlight int
	// EventRetention is how long events are kept (SPEC §13); zero is roster.DefaultEventRetention.
	EventRetention time.Duration
	// EventPruneInterval is how often events past EventRetention are pruned; zero is a minute.
	EventPruneInterval time.Duration
	// NoEvents turns the recording of events off (serve --events=false). It breaks SPEC §13 and
	// exists only for `roster bench` to measure what events cost a write.
	NoEvents bool
	// Server timeouts (http.Server's); each zero takes its default: 5 s for the header, 30 s
	// for the read and the write, 120 s idle.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// TLSCert and TLSKey are PEM files (the certificate chain and its private key): with both,
	// roster serves HTTPS only; with neither, plain HTTP. A renewed pair written over the files
	// is picked up at the next handshake, without a restart.
	TLSCert, TLSKey string
	// CORSOrigins are the origins browsers may call the API from ("*": any); none turns CORS off.
	CORSOrigins []string
	// NoAudit turns the audit trail off (SPEC §15): only to measure what it costs (roster bench).
	NoAudit bool
}

// defaults fills in every zero field of cfg that has a default.
func (cfg *Config) defaults() {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Notice == nil {
		cfg.Notice = io.Discard
	}
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&cfg.ShutdownTimeout, 15*time.Second)
	set(&cfg.ReadHeaderTimeout, 5*time.Second)
	set(&cfg.ReadTimeout, 30*time.Second)
	set(&cfg.WriteTimeout, 30*time.Second)
	set(&cfg.IdleTimeout, 120*time.Second)
	set(&cfg.EventRetention, roster.DefaultEventRetention)
	set(&cfg.EventPruneInterval, time.Minute)
}

// App is a configured roster: its store and service, ready to serve.
type App struct {
	cfg   Config
	log   *slog.Logger
	tls   *certificate // nil: plain HTTP
	store roster.Store
	// Service is the core the server calls; the tests also call it directly.
	Service *roster.Service
}

// New opens and migrates the database and wires the service. When the database holds no key
// yet, it creates the first superadmin key and prints it to cfg.Notice.
func New(ctx context.Context, cfg Config) (*App, error) {
	cfg.defaults()
	log := slog.New(slog.NewJSONHandler(cfg.Log, nil))
	var cert *certificate
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		var err error
		if cert, err = loadCertificate(cfg.TLSCert, cfg.TLSKey, log); err != nil {
			return nil, err
		}
	}
	st, err := store.Open(ctx, cfg.Database)
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log, tls: cert, store: st, Service: roster.NewService(st, nil, log)}
	a.Service.SetAudit(!cfg.NoAudit)
	a.Service.SetEventRecording(!cfg.NoEvents)
	secret, err := a.Service.Bootstrap(ctx)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("creating the first superadmin key: %w", err)
	}
	if secret != "" {
		fmt.Fprintf(cfg.Notice, "roster: created a superadmin key (shown once, keep it safe):\n%s\n", secret)
	}
	return a, nil
}

// Serve runs the HTTP server and the purge of expired idempotency records and nonces until ctx
// ends, then drains in-flight requests and closes the store.
// ready, if set, is called with the listening address once the server accepts connections.
func (a *App) Serve(ctx context.Context, ready func(addr string)) error {
	defer a.store.Close()
	defer a.Service.FlushRefusals() // the refusals still being gathered, before the store closes
	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return err
	}
	handler := api.New(a.Service, a.log, api.Options{RateLimit: a.cfg.RateLimit, AccountRateLimit: a.cfg.AccountRateLimit, MaxInFlight: a.cfg.MaxInFlight,
		Collectors: store.Collectors(a.store), CORSOrigins: a.cfg.CORSOrigins})
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: a.cfg.ReadHeaderTimeout,
		ReadTimeout:       a.cfg.ReadTimeout,
		WriteTimeout:      a.cfg.WriteTimeout,
		IdleTimeout:       a.cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	purgeCtx, stopPurge := context.WithCancel(context.Background())
	defer stopPurge()
	go a.Service.RunPurger(purgeCtx, time.Minute)
	go a.Service.RunEventPruner(purgeCtx, a.cfg.EventRetention, a.cfg.EventPruneInterval)
	srv.RegisterOnShutdown(handler.CloseStreams)

	scheme := "http"
	if a.tls != nil {
		scheme = "https"
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: a.tls.get}
	}
	errc := make(chan error, 1)
	go func() {
		if a.tls != nil {
			errc <- srv.ServeTLS(ln, "", "")
			return
		}
		errc <- srv.Serve(ln)
	}()
	fmt.Fprintf(a.cfg.Notice, "roster: listening on %s://%s\n", scheme, ln.Addr())
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); errors.Is(err, context.DeadlineExceeded) {
		// The drain is bounded: what is still running after the timeout is cut off, and the
		// store closes under it (an unacknowledged write is then rolled back, never half done).
		fmt.Fprintf(a.cfg.Notice, "roster: shutdown timeout (%s) reached; closing the connections still open\n", a.cfg.ShutdownTimeout)
		a.log.Warn("shutdown timeout reached; closing open connections", "timeout", a.cfg.ShutdownTimeout.String())
		_ = srv.Close()
	} else if err != nil {
		return err
	}
	if serveErr := <-errc; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	fmt.Fprintln(a.cfg.Notice, "roster: stopped")
	return nil
}
