// Command roster serves the roster API and administers its database.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/app"
	"github.com/rosterhq/roster/store"
)

const usage = `usage: roster <command> [flags]

commands:
  serve     [--addr 127.0.0.1:8080] [--database URL]   serve the API
  migrate   [--database URL]                           apply schema migrations
  keys create (--superadmin | --account ID [--role admin|reader]) [--name N] [--database URL]
  keys list   [--database URL]
  keys revoke ID [--database URL]
  version                                              print the version
  bench     [flags]                                    load benchmark: seed, serve, measure (roster bench -h)

--database defaults to $ROSTER_DATABASE, else sqlite:roster.db; --addr to $ROSTER_ADDR, else 127.0.0.1:8080.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "roster:", err)
		}
		os.Exit(2)
	}
}

// errUsage is returned for a command line roster cannot read.
var errUsage = errors.New("see roster help")

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("roster "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	database := fs.String("database", env("ROSTER_DATABASE", "sqlite:roster.db"), "database URL: sqlite:PATH or postgres://... (env ROSTER_DATABASE)")
	switch args[0] {
	case "serve":
		web := serveWebFlags(fs, getenv) // --tls-cert, --tls-key, --cors-origins (serveweb.go)
		cfg, err := serveConfig(fs, args[1:], getenv)
		if err == nil {
			err = web.apply(&cfg)
		}
		if err != nil {
			return err
		}
		cfg.Database, cfg.Log, cfg.Notice = *database, stdout, stderr
		a, err := app.New(ctx, cfg)
		if err != nil {
			return err
		}
		return a.Serve(ctx, nil)
	case "migrate":
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		st, err := store.Open(ctx, *database)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, "migrations applied")
		return st.Close()
	case "keys":
		return keys(ctx, args[1:], env, stdout, stderr)
	case "bench":
		return benchCmd(ctx, args[1:], env, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "roster", version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

// serveConfig reads the flags of `roster serve` (after their environment variables) into a
// configuration; the caller sets the database and the outputs.
func serveConfig(fs *flag.FlagSet, args []string, getenv func(string) string) (app.Config, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	addr := fs.String("addr", env("ROSTER_ADDR", "127.0.0.1:8080"), "listen address (env ROSTER_ADDR)")
	rateLimit := fs.Float64("rate-limit", 100, "requests per second per key; 0 turns rate limiting off (env ROSTER_RATE_LIMIT)")
	rateBurst := fs.Int("rate-burst", 200, "burst per key (env ROSTER_RATE_BURST)")
	accountLimit := fs.String("rate-limit-account", "", "`N` requests per second over all keys of one account together; default 4 × --rate-limit; 0 turns the per-account limit off (env ROSTER_RATE_LIMIT_ACCOUNT)")
	accountBurst := fs.String("rate-burst-account", "", "`N` burst over all keys of one account together; default 4 × --rate-burst (env ROSTER_RATE_BURST_ACCOUNT)")
	maxInFlight := fs.Int("max-in-flight", 8, "`N` requests one account's keys together (a superadmin key: itself) may have running at once, beyond which 429; 0 turns this limit off (env ROSTER_MAX_IN_FLIGHT)")
	readHeader := fs.Duration("read-header-timeout", 5*time.Second, "time to read request headers (env ROSTER_READ_HEADER_TIMEOUT)")
	read := fs.Duration("read-timeout", 30*time.Second, "time to read a whole request (env ROSTER_READ_TIMEOUT)")
	write := fs.Duration("write-timeout", 30*time.Second, "time to write a response (env ROSTER_WRITE_TIMEOUT)")
	idle := fs.Duration("idle-timeout", 120*time.Second, "keep-alive idle time (env ROSTER_IDLE_TIMEOUT)")
	drain := fs.Duration("shutdown-timeout", 15*time.Second, "time in-flight requests get to finish on SIGTERM (env ROSTER_SHUTDOWN_TIMEOUT)")
	retention := fs.Duration("event-retention", roster.DefaultEventRetention, "how long events are kept; older ones are pruned in the background (env ROSTER_EVENT_RETENTION)")
	events := fs.Bool("events", true, "record events (SPEC §13); false only to measure what they cost, as roster bench does: the feed then misses every write")
	if err := envFlags(fs, getenv, map[string]string{"rate-limit": "ROSTER_RATE_LIMIT", "rate-burst": "ROSTER_RATE_BURST",
		"rate-limit-account": "ROSTER_RATE_LIMIT_ACCOUNT", "rate-burst-account": "ROSTER_RATE_BURST_ACCOUNT", "max-in-flight": "ROSTER_MAX_IN_FLIGHT",
		"read-header-timeout": "ROSTER_READ_HEADER_TIMEOUT", "read-timeout": "ROSTER_READ_TIMEOUT", "write-timeout": "ROSTER_WRITE_TIMEOUT",
		"idle-timeout": "ROSTER_IDLE_TIMEOUT", "shutdown-timeout": "ROSTER_SHUTDOWN_TIMEOUT", "event-retention": "ROSTER_EVENT_RETENTION"}); err != nil {
		return app.Config{}, err
	}
	if err := fs.Parse(args); err != nil {
		return app.Config{}, err
	}
	if *rateLimit < 0 || *rateBurst < 1 {
		return app.Config{}, fmt.Errorf("--rate-limit must be >= 0 and --rate-burst >= 1")
	}
	if *maxInFlight < 0 {
		return app.Config{}, fmt.Errorf("--max-in-flight must be >= 0")
	}
	if *retention <= 0 {
		return app.Config{}, fmt.Errorf("--event-retention must be positive")
	}
	// The zero value of each field is 4 × the per-key one (api.Options); 0 on the command line
	// turns the per-account limit off, a negative Rate for api.
	var account api.RateLimit
	if *accountLimit != "" {
		v, err := strconv.ParseFloat(*accountLimit, 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return app.Config{}, fmt.Errorf("--rate-limit-account must be a number >= 0, not %q", *accountLimit)
		}
		account.Rate = v
		if v == 0 {
			account.Rate = -1
		}
	}
	if *accountBurst != "" {
		v, err := strconv.Atoi(*accountBurst)
		if err != nil || v < 1 {
			return app.Config{}, fmt.Errorf("--rate-burst-account must be an integer >= 1, not %q", *accountBurst)
		}
		account.Burst = v
	}
	return app.Config{Addr: *addr, RateLimit: api.RateLimit{Rate: *rateLimit, Burst: *rateBurst}, AccountRateLimit: account, MaxInFlight: *maxInFlight,
		ReadHeaderTimeout: *readHeader, ReadTimeout: *read, WriteTimeout: *write, IdleTimeout: *idle, ShutdownTimeout: *drain, EventRetention: *retention, NoEvents: !*events}, nil
}

// envFlags sets flags from their environment variables, before the command line overrides them.
func envFlags(fs *flag.FlagSet, getenv func(string) string, vars map[string]string) error {
	for name, v := range vars {
		if val := getenv(v); val != "" {
			if err := fs.Set(name, val); err != nil {
				return fmt.Errorf("%s=%q: %w", v, val, err)
			}
		}
	}
	return nil
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func keys(ctx context.Context, args []string, env func(string, string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	fs := flag.NewFlagSet("roster keys "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	database := fs.String("database", env("ROSTER_DATABASE", "sqlite:roster.db"), "database URL (env ROSTER_DATABASE)")
	open := func() (*roster.Service, func() error, error) {
		st, err := store.Open(ctx, *database)
		if err != nil {
			return nil, nil, err
		}
		return roster.NewService(st, nil, nil), st.Close, nil
	}
	switch args[0] {
	case "create":
		superadmin := fs.Bool("superadmin", false, "make a superadmin key")
		account := fs.String("account", "", "the account the key belongs to")
		role := fs.String("role", "admin", "admin or reader (with --account)")
		name := fs.String("name", "", "a name for the key")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		in := roster.KeyCreate{Name: *name, Role: roster.Role(*role)}
		switch {
		case *superadmin && *account == "":
			in.Role = roster.RoleSuperadmin
		case !*superadmin && *account != "":
			id, ok := roster.ParseID(roster.KindAccount, *account)
			if !ok || id == "" {
				return fmt.Errorf("--account %q is not an account id", *account)
			}
			if in.Role != roster.RoleAdmin && in.Role != roster.RoleReader {
				return fmt.Errorf("--role must be admin or reader")
			}
			in.AccountID = id
		default:
			return fmt.Errorf("give exactly one of --superadmin or --account ID")
		}
		if in.Name == "" {
			in.Name = string(in.Role) + " key"
		}
		svc, closeFn, err := open()
		if err != nil {
			return err
		}
		defer closeFn()
		ck, err := svc.CreateKey(ctx, roster.Operator(), in.Body())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created %s (%s)\n%s\n", roster.KindKey.Prefixed(ck.Key.ID), ck.Key.Role, ck.Secret)
		return nil
	case "list":
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		svc, closeFn, err := open()
		if err != nil {
			return err
		}
		defer closeFn()
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tACCOUNT\tROLE\tNAME\tPREFIX\tSTATUS\tCREATED")
		req := roster.PageRequest{Limit: 100, Principal: roster.System}
		for {
			page, err := svc.ListKeys(ctx, roster.System, req)
			if err != nil {
				return err
			}
			for _, k := range page.Items {
				acct := "-"
				if k.AccountID != "" {
					acct = roster.KindAccount.Prefixed(k.AccountID)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", roster.KindKey.Prefixed(k.ID), acct, k.Role, k.Name, k.Prefix,
					k.Status(svc.Now()), k.CreatedAt.Format(time.RFC3339))
			}
			if !page.HasNext {
				break
			}
			req.Cursor = page.Next
		}
		return tw.Flush()
	case "revoke":
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			return fmt.Errorf("usage: roster keys revoke ID")
		}
		raw := fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil { // flags may also follow the id
			return err
		}
		id, ok := roster.ParseID(roster.KindKey, raw)
		if !ok || id == "" {
			return fmt.Errorf("%q is not a key id", raw)
		}
		svc, closeFn, err := open()
		if err != nil {
			return err
		}
		defer closeFn()
		if _, err := svc.PatchKey(ctx, roster.Operator(), id, []byte(`{"status":"revoked"}`)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s\n", roster.KindKey.Prefixed(id))
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown keys command %q", args[0])
	}
}
