package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rosterhq/roster/cmd/roster/internal/bench"
)

const benchUsage = `usage: roster bench [flags]

Seeds a fresh database through the store's bulk path, starts roster serve on it on 127.0.0.1
(with --rate-limit 0; the noisy-neighbour scenarios run on a second one with the default rate
limits), drives keep-alive HTTP load through every scenario and prints a markdown
table of req/s, latency percentiles, errors and the ratio to this machine's floors, measured in
the same run, then checks the run against its targets (below): with --check, a missed target
makes it exit non-zero. It never touches $ROSTER_DATABASE: it always seeds a database of its own.
Ctrl-C stops it cleanly: the servers it started end and a temporary database is removed.

`

// benchCmd runs `roster bench`, and `roster bench serve-floor`, the floor servers it starts.
func benchCmd(ctx context.Context, args []string, _ func(string, string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "serve-floor" {
		return serveFloor(ctx, args[1:], stderr)
	}
	fs := flag.NewFlagSet("roster bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		// Asked for, the help goes to stdout; after a mistake, to stderr.
		w := stderr
		for _, a := range args {
			if a == "-h" || a == "-help" || a == "--help" {
				w = stdout
			}
		}
		fmt.Fprint(w, benchUsage+bench.TargetsHelp()+"\nflags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(stderr)
	}
	database := fs.String("database", "", "where to seed: sqlite:PATH (a new file, kept) or postgres://... (a fresh schema in that database, dropped afterwards); default a temporary SQLite file, removed afterwards")
	accounts := fs.Int("accounts", 1000, "accounts to seed, each with one admin key")
	entities := fs.Int("entities", 1_000_000, "entities to seed, spread over the accounts")
	relationships := fs.Int("relationships", 2_000_000, "relationships to seed, at most three per entity")
	connections := fs.Int("connections", 32, "keep-alive connections driving the load")
	duration := fs.Duration("duration", 10*time.Second, "how long each scenario is measured (after a warm-up of a fifth of it, at most 1s)")
	noisyEntities := fs.Int("noisy-entities", 1000, "entities at the maximum field sizes the noisy tenant owns (seeded only when a noisy scenario runs)")
	noisyConns := fs.Int("noisy-connections", 0, "connections the noisy tenant floods on; default --connections")
	check := fs.Bool("check", false, "exit non-zero when the run misses a target (for CI)")
	out := fs.String("out", "results", "directory to write results.json and results.md into; empty for none")
	scenarios := fs.String("scenarios", "", "comma-separated scenarios or prefixes (e.g. get-entity,list-deep); default all; the floors always run. Scenarios: "+
		strings.Join(bench.ScenarioNames(), ", "))
	rounds := fs.Int("rounds", 5, "measure the compared scenarios (create entity against it without events and without the audit trail; a feed page against a list page) this many times: after the normal pass, N-1 more rounds of each compared group on the same servers, alternated, their order rotated every round, each of the same --duration and warm-up; those three targets are judged by the median of their N ratios (the default applies when --scenarios picks such a pair, else one round)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rounds < 1 {
		return fmt.Errorf("--rounds must be at least 1 (1: the normal pass alone), got %d", *rounds)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("roster bench takes no arguments, only flags (got %q)", fs.Arg(0))
	}
	cfg := bench.Config{Database: *database, Accounts: *accounts, Entities: *entities, Relationships: *relationships,
		Connections: *connections, Duration: *duration, NoisyEntities: *noisyEntities, NoisyConnections: *noisyConns, Out: *out, Progress: stderr, Rounds: *rounds}
	for _, s := range strings.Split(*scenarios, ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.Scenarios = append(cfg.Scenarios, s)
		}
	}
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "rounds" })
	if !explicit && !bench.Compares(cfg.Scenarios) {
		cfg.Rounds = 1 // nothing to repeat; an explicit --rounds says so (Config.check)
	}
	rep, err := bench.Run(ctx, cfg)
	if err != nil && ctx.Err() != nil {
		// Ctrl-C (or SIGTERM): whatever error the interruption surfaced as, say what happened.
		fmt.Fprintln(stderr)
		return errBenchInterrupted
	}
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, rep.Markdown())
	if *out != "" {
		fmt.Fprintf(stderr, "roster bench: wrote %s/results.json and %s/results.md\n", *out, *out)
	}
	if *check {
		return checkTargets(rep)
	}
	return nil
}

// checkTargets is the error of a run that missed a target, nil when it met them all.
func checkTargets(rep *bench.Report) error {
	missed := rep.Missed()
	if len(missed) == 0 {
		return nil
	}
	names := make([]string, len(missed))
	for i, t := range missed {
		names[i] = t.Target
	}
	return fmt.Errorf("bench: %d of %d targets missed (--check): %s", len(missed), len(rep.Targets), strings.Join(names, "; "))
}

// errBenchInterrupted is the error of a run stopped by a signal.
var errBenchInterrupted = errors.New("bench interrupted: its servers were stopped and a temporary database removed; no results were written")

// serveFloor is the child process of a floor: see bench.ServeFloor.
func serveFloor(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("roster bench serve-floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kind := fs.String("kind", bench.FloorNoDB, "nodb (a bare handler), select (one primary-key SELECT) or list (one 20-row list page)")
	database := fs.String("database", "", "the benchmark database, for --kind select and list")
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return bench.ServeFloor(ctx, *kind, *database, *addr, stderr)
}
