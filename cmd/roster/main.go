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
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/app"
)

// commands is the command line, one line a command: its name, its arguments as the overview
// shows them, what it does, and the function that runs it.
var commands = []command{
	{"serve", "[--addr 127.0.0.1:8080] [--database URL]", "serve the API", serveCmd},
	{"migrate", "[--database URL]", "apply the schema migrations", migrateCmd},
	{"accounts", "create --name N [--slug S]", "create an account; its id alone on the last line", accountsCmd},
	{"keys", "create|list|revoke ...", "make, list and revoke API keys (roster keys --help)", keysCmd},
	{"backup", "FILE", "write a verified copy of a live SQLite database and print its SHA-256", backupCmd},
	{"restore", "FILE", "put a backup in place of a SQLite database no server is using", restoreCmd},
	{"copy", "--to URL", "copy everything into an empty database of either engine", copyCmd},
	{"export", "[--account ID] > FILE", "write accounts, entities and relationships as NDJSON", exportCmd},
	{"import", "[--dry-run] FILE", "read an export into the database, idempotently", importCmd},
	{"audit", "verify [--account ID]", "check the audit chains offline; exit 1 at the first broken record", auditCmd},
	{"version", "", "print the version of this build", versionCmd},
	{"bench", "[flags]", "load benchmark: seed, serve, measure (roster bench --help)", func(ctx context.Context, c *cli, args []string) error {
		return benchCmd(ctx, args, c.env, c.stdout, c.stderr)
	}},
}

// command is one entry of the command line.
type command struct {
	name, args, summary string
	run                 func(ctx context.Context, c *cli, args []string) error
}

func usage() string {
	var b strings.Builder
	b.WriteString("usage: roster <command> [flags]\n\ncommands:\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s %s\t%s\n", c.name, c.args, c.summary)
	}
	tw.Flush()
	b.WriteString(`  help [COMMAND]` + "\n\n" + `Every command takes --database URL: sqlite:PATH or postgres://..., default $ROSTER_DATABASE,
else sqlite:roster.db; serve takes --addr, default $ROSTER_ADDR, else 127.0.0.1:8080.
"roster COMMAND --help" prints a command's help. Exit status: 0 success, 1 failure, 2 a command
line roster cannot read.
`)
	return b.String()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(report(os.Stderr, err))
}

// report prints err in one line and returns the exit status it means: 0 for none (or a help
// that was asked for), 2 for a command line roster cannot read, 1 for anything else.
func report(stderr io.Writer, err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", " ")), " ")
	fmt.Fprintf(stderr, "roster: %s\n", msg)
	var ue usageError
	if errors.As(err, &ue) || errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

// errUsage marks an error as a command line roster cannot read (exit status 2), wrapped
// ("…: %w") where a usageError is not at hand.
var errUsage = errors.New("see --help")

// usageError is a command line roster cannot read: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string {
	return e.err.Error() + " (see roster " + helpOf(e.err) + "--help)"
}
func (e usageError) Unwrap() error { return e.err }

// helpOf is the command whose help a usage error points to, "" for roster's own.
func helpOf(err error) string {
	var ce *commandError
	if errors.As(err, &ce) && ce.command != "" {
		return ce.command + " "
	}
	return ""
}

// commandError is an error of one command's command line.
type commandError struct {
	command string
	err     error
}

func (e *commandError) Error() string { return e.err.Error() }
func (e *commandError) Unwrap() error { return e.err }

// usagef is a usage error of the command named.
func usagef(command, format string, args ...any) error {
	return usageError{&commandError{command, fmt.Errorf(format, args...)}}
}

// cli is what a command runs with: the environment and the outputs.
type cli struct {
	getenv         func(string) string
	stdout, stderr io.Writer
}

// env returns the environment variable name, or def when it is unset or empty.
func (c *cli) env(name, def string) string {
	if v := c.getenv(name); v != "" {
		return v
	}
	return def
}

// flags is the flag set of a command: name is its full name ("keys create"), help what its
// --help prints before the flags.
func (c *cli) flags(name, help string) *flagSet {
	fs := flag.NewFlagSet("roster "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &flagSet{FlagSet: fs, name: name, help: help, stdout: c.stdout}
}

// database adds the --database flag every command that opens a database takes.
func (c *cli) database(fs *flagSet) *string {
	return fs.String("database", c.env("ROSTER_DATABASE", "sqlite:roster.db"), "database `URL`: sqlite:PATH or postgres://... (env ROSTER_DATABASE)")
}

// flagSet is a command's flags and its help.
type flagSet struct {
	*flag.FlagSet
	name, help string
	stdout     io.Writer
}

// parse reads args: --help prints the help to stdout and returns flag.ErrHelp (exit 0), a flag
// roster cannot read is a usage error. Flags may come after the arguments too.
func (fs *flagSet) parse(args []string) error {
	var rest []string
	for {
		if err := fs.FlagSet.Parse(args); errors.Is(err, flag.ErrHelp) {
			fs.printHelp()
			return err
		} else if err != nil {
			return usagef(fs.name, "%v", err)
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs.FlagSet.Parse(append([]string{"--"}, rest...))
}

func (fs *flagSet) printHelp() {
	fmt.Fprintf(fs.stdout, "%s\n", strings.TrimRight(fs.help, "\n"))
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(fs.stdout, "\nflags:")
		fs.SetOutput(fs.stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

// args checks the count of positional arguments: between lo and hi (hi < 0: no limit).
func (fs *flagSet) args(lo, hi int) error {
	switch n := fs.NArg(); {
	case n < lo:
		return usagef(fs.name, "missing argument")
	case hi >= 0 && n > hi:
		return usagef(fs.name, "unexpected argument %q", fs.Arg(hi))
	}
	return nil
}

// wantsHelp reports whether args ask for help before any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help", "--h":
			return true
		}
	}
	return false
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := &cli{getenv: getenv, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return usageError{errors.New("no command given")}
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" || name == "-help" {
		if len(args) > 1 && args[1] != "" && args[1][0] != '-' {
			return run(ctx, []string{args[1], "--help"}, getenv, stdout, stderr)
		}
		fmt.Fprint(stdout, usage())
		return nil
	}
	for _, cmd := range commands {
		if cmd.name == name {
			if wantsHelp(args[1:]) {
				// A command's help goes to stdout, also where its flag set writes to stderr.
				c.stderr = stdout
			}
			return cmd.run(ctx, c, args[1:])
		}
	}
	return usageError{fmt.Errorf("unknown command %q", name)}
}

func serveCmd(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("serve", `usage: roster serve [--addr 127.0.0.1:8080] [--database URL] [flags]

Serves the API. With no key in the database it creates a superadmin key and prints its secret
once to stderr.`)
	database := c.database(fs)
	web := serveWebFlags(fs.FlagSet, c.getenv) // --tls-cert, --tls-key, --cors-origins (serveweb.go)
	cfg, err := serveConfig(fs, args, c.getenv)
	if err == nil {
		err = web.apply(&cfg)
	}
	var ue usageError
	if err != nil && !errors.Is(err, flag.ErrHelp) && !errors.Is(err, errUsage) && !errors.As(err, &ue) {
		return usageError{&commandError{"serve", err}}
	} else if err != nil {
		return err
	}
	if err := checkDatabase(ctx, *database, false); err != nil {
		return err
	}
	cfg.Database, cfg.Log, cfg.Notice = *database, c.stdout, c.stderr
	a, err := app.New(ctx, cfg)
	if err != nil {
		return err
	}
	return a.Serve(ctx, nil)
}

func migrateCmd(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("migrate", `usage: roster migrate [--database URL]

Applies the schema migrations embedded in this binary (every command that opens a database
applies them too).`)
	database := c.database(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.args(0, 0); err != nil {
		return err
	}
	st, err := openStore(ctx, *database, false)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, "migrations applied")
	return st.Close()
}

// serveConfig reads the flags of `roster serve` (after their environment variables) into a
// configuration; the caller sets the database and the outputs.
func serveConfig(fs *flagSet, args []string, getenv func(string) string) (app.Config, error) {
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
	audit := fs.Bool("audit", true, "record the audit trail; false only to measure what it costs (roster bench)")
	events := fs.Bool("events", true, "record events (SPEC §13); false only to measure what they cost, as roster bench does: the feed then misses every write")
	if err := envFlags(fs, getenv, map[string]string{"rate-limit": "ROSTER_RATE_LIMIT", "rate-burst": "ROSTER_RATE_BURST",
		"rate-limit-account": "ROSTER_RATE_LIMIT_ACCOUNT", "rate-burst-account": "ROSTER_RATE_BURST_ACCOUNT", "max-in-flight": "ROSTER_MAX_IN_FLIGHT",
		"read-header-timeout": "ROSTER_READ_HEADER_TIMEOUT", "read-timeout": "ROSTER_READ_TIMEOUT", "write-timeout": "ROSTER_WRITE_TIMEOUT",
		"idle-timeout": "ROSTER_IDLE_TIMEOUT", "shutdown-timeout": "ROSTER_SHUTDOWN_TIMEOUT", "event-retention": "ROSTER_EVENT_RETENTION"}); err != nil {
		return app.Config{}, err
	}
	if err := fs.parse(args); err != nil {
		return app.Config{}, err
	}
	if err := fs.args(0, 0); err != nil {
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
		ReadHeaderTimeout: *readHeader, ReadTimeout: *read, WriteTimeout: *write, IdleTimeout: *idle, ShutdownTimeout: *drain, EventRetention: *retention,
		NoAudit: !*audit, NoEvents: !*events}, nil
}

// envFlags sets flags from their environment variables, before the command line overrides them.
func envFlags(fs *flagSet, getenv func(string) string, vars map[string]string) error {
	for name, v := range vars {
		if val := getenv(v); val != "" {
			if err := fs.Set(name, val); err != nil {
				return fmt.Errorf("%s=%q: %w", v, val, err)
			}
		}
	}
	return nil
}
