// Package bench is roster's load benchmark (`roster bench`): it seeds a fresh database through
// the store's bulk path, starts `roster serve` on it as a child process, drives keep-alive HTTP
// load with realistic ids and keys through a list of scenarios, and measures the same machine's
// floors (a bare net/http handler, and one with a single primary-key SELECT on the same
// database) in the same run, so that every result can be read as a ratio to what this machine
// can do at all.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/store"
)

// Config is what `roster bench` takes.
type Config struct {
	// Database is where to seed: "" for a fresh SQLite file in a temporary directory (removed
	// afterwards), "sqlite:PATH" for a file that must not exist yet (kept), or "postgres://..."
	// (a fresh schema is made in that database for the run and dropped afterwards).
	Database string
	// Sizes of the seed. Relationships may be at most three per entity.
	Accounts, Entities, Relationships int
	// Connections is how many keep-alive connections drive the load; Duration how long each
	// scenario is measured, after a warm-up of Warmup (default: a fifth of Duration, at most 1 s).
	Connections int
	Duration    time.Duration
	Warmup      time.Duration
	// Scenarios picks scenarios by name or name prefix ("list-deep"); empty runs all. The two
	// floors always run: every ratio needs them.
	Scenarios []string
	// NoisyEntities is how many entities at the maximum field sizes the noisy tenant owns
	// (default 1,000, LeadConduit's largest page); seeded only when a noisy scenario runs.
	NoisyEntities int
	// NoisyConnections is how many connections the noisy tenant floods on (default
	// Connections): no limit of the server bounds a key's concurrent requests.
	NoisyConnections int
	// Out is a directory to write results.json and results.md into; "" writes nothing.
	Out string
	// Exe is the roster binary the servers run from ("" for this executable). The bench runs
	// `Exe serve --addr 127.0.0.1:0 --database URL --rate-limit 0 --max-in-flight 0` and
	// `Exe bench serve-floor --kind KIND --database URL --addr 127.0.0.1:0`.
	Exe string
	// Env is added to the servers' environment.
	Env []string
	// Progress receives the progress bar and a line per finished scenario; nil for none.
	Progress io.Writer
	// Rounds is how many times the compared scenarios are measured (0 is 1): after the normal
	// pass, Rounds-1 more rounds of each compared group (comparedGroups), their order rotated
	// from round to round, and each compared target is judged by the median of its rounds'
	// ratios (judgeRounds).
	Rounds int
}

func (c *Config) check() error {
	if c.Accounts < 1 || c.Entities < 0 || c.Relationships < 0 {
		return errors.New("--accounts must be at least 1, --entities and --relationships at least 0")
	}
	if c.Relationships > 3*c.Entities {
		return errors.New("--relationships can be at most three per entity (one of each type)")
	}
	if c.Connections < 1 || c.Duration <= 0 {
		return errors.New("--connections must be at least 1 and --duration positive")
	}
	if c.NoisyEntities < 0 {
		return errors.New("--noisy-entities must be at least 0")
	}
	if c.NoisyEntities == 0 {
		c.NoisyEntities = 1000
	}
	if c.NoisyConnections <= 0 {
		c.NoisyConnections = c.Connections
	}
	if c.Warmup <= 0 {
		c.Warmup = min(time.Second, c.Duration/5)
	}
	if c.Rounds < 0 {
		return errors.New("--rounds must be at least 1 (1: the normal pass alone)")
	}
	c.Rounds = max(c.Rounds, 1)
	for _, p := range c.Scenarios {
		ok := false
		for _, n := range scenarioNames() {
			ok = ok || selected(n, []string{p})
		}
		if !ok {
			return fmt.Errorf("no scenario is called %q; scenarios: %s", p, strings.Join(scenarioNames(), ", "))
		}
	}
	if c.Rounds > 1 && len(comparedGroups(c.Scenarios)) == 0 {
		return errors.New("--rounds repeats the compared scenarios (create-entity with create-entity-no-events or create-entity-no-audit; list-page-100 with feed-page-100), and --scenarios selects no such pair")
	}
	return nil
}

// Run seeds, serves, measures and reports. The report is also written to cfg.Out.
func Run(ctx context.Context, cfg Config) (rep *Report, err error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if cfg.Exe == "" {
		if cfg.Exe, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	rep = &Report{Started: time.Now().UTC(), Revision: revision(), Machine: describeMachine(), Sizes: Sizes{Accounts: cfg.Accounts, Entities: cfg.Entities,
		Relationships: cfg.Relationships, Connections: cfg.Connections, DurationSec: cfg.Duration.Seconds()}}
	logf := func(format string, args ...any) { fmt.Fprintf(cfg.Progress, format+"\n", args...) }

	database, engine, cleanup, err := prepareDatabase(ctx, cfg.Database)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := cleanup(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	rep.Engine, rep.Database = engine, redact(database)
	logf("roster bench: %s database %s", engine, rep.Database)

	// Seed.
	d := newDataset(time.Now(), cfg.Accounts, cfg.Entities, cfg.Relationships)
	noisy := selected("noisy-alone", cfg.Scenarios) || selected("noisy-neighbour", cfg.Scenarios)
	if noisy {
		d.addNoisy(cfg.NoisyEntities)
	}
	st, err := store.Open(ctx, database)
	if err != nil {
		return nil, err
	}
	stats, creds, err := seed(ctx, st, d, cfg.Progress)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("seeding: %w", err)
	}
	rep.Seed = stats
	logf("seeded %d accounts, %d entities (%.1f s), %d relationships, %d keys in %.1f s",
		stats.Accounts, stats.Entities, stats.EntitiesSeconds, stats.Relationships, stats.Keys, stats.TotalSeconds)

	w := newWorld(d, creds)
	all := w.scenarios()
	run := func(c *child, sc scenario, i int) Result {
		base := c.base
		res := Result{Scenario: sc.name, Title: sc.title, Group: sc.group, Server: sc.server}
		if sc.skip != "" {
			res.Skipped = sc.skip
			logf("%-70s skipped: %s", sc.title, sc.skip)
			return res
		}
		phase(cfg.Progress, sc.name, "warm-up", cfg.Warmup, func(live *liveCount) {
			drive(ctx, base, cfg.Connections, cfg.Warmup, uint64(1000+i), sc.gen, live)
		})
		cpu0 := c.cpu()
		var lr loadResult
		phase(cfg.Progress, sc.name, "measuring", cfg.Duration, func(live *liveCount) {
			lr = drive(ctx, base, cfg.Connections, cfg.Duration, uint64(i), sc.gen, live)
		})
		fmt.Fprintf(cfg.Progress, "%-70s ", sc.title)
		res.fill(lr)
		if used := c.cpu() - cpu0; used > 0 && lr.requests > 0 {
			res.CPUMicros = float64(used.Microseconds()) / float64(lr.requests)
		}
		logf("%7.0f req/s  p50 %6.2f ms  p99 %7.2f ms  p99.9 %7.2f ms  errors %d  server CPU %4.0f µs/req", res.RPS, res.P50Ms, res.P99Ms, res.P999Ms, res.Errors, res.CPUMicros)
		if res.Errors > 0 {
			logf("  first error: %s", res.FirstError)
		}
		return res
	}

	// The floors, each in its own child process, like roster.
	var selectFloor *child
	var selectSc scenario
	for i, sc := range all {
		if sc.group != groupFloor {
			continue
		}
		c, serr := startChild(ctx, "floor "+sc.server, cfg.Exe,
			[]string{"bench", "serve-floor", "--kind", sc.server, "--database", database, "--addr", "127.0.0.1:0"}, cfg.Env, "/readyz")
		if serr != nil {
			return nil, serr
		}
		res := run(c, sc, i)
		res.PeakRSS, _ = c.memory()
		rep.Results = append(rep.Results, res)
		if sc.server == FloorSelect && res.Skipped == "" {
			// Kept running: each roster scenario is preceded by a run of this floor, so that
			// its ratio compares two measurements taken under the same load on the machine.
			selectFloor, selectSc = c, sc
			defer func() {
				if serr := c.stop(); serr != nil && err == nil {
					err = serr
				}
			}()
		} else if serr := c.stop(); serr != nil {
			return nil, serr
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}

	// roster.
	srv, err := startChild(ctx, "roster serve", cfg.Exe,
		[]string{"serve", "--addr", "127.0.0.1:0", "--database", database, "--rate-limit", "0", "--max-in-flight", "0"}, cfg.Env, "/readyz")
	if err != nil {
		return nil, err
	}
	defer func() {
		if serr := srv.stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	needDeep, needGlobal := false, false
	for _, sc := range all {
		needDeep = needDeep || selected(sc.name, cfg.Scenarios) && (strings.HasPrefix(sc.name, "list-deep-") || sc.name == "mix")
		needGlobal = needGlobal || selected(sc.name, cfg.Scenarios) && strings.HasPrefix(sc.name, "list-all-deep-")
	}
	if needDeep {
		pctx, cancel := prepContext(ctx)
		err := w.walkDeepCursors(pctx, srv.base)
		cancel()
		if err != nil {
			logf("walking to 90%% depth: %v", err)
			rep.Notes = append(rep.Notes, "walking to 90% depth: "+err.Error())
		}
	}
	if needGlobal {
		pctx, cancel := prepContext(ctx)
		err := w.globalCursors(pctx, srv.base)
		cancel()
		if err != nil {
			logf("superadmin cursors at 90%% depth: %v", err)
			rep.Notes = append(rep.Notes, "superadmin cursors at 90% depth: "+err.Error())
		}
	}
	all = w.scenarios() // now with the cursors
	var noEvents *child // roster serve --events=false, started for its scenario
	var noAudit *child  // roster serve --audit=false --events=false, likewise (stopped after it, with one round)
	defer func() {
		for _, c := range []*child{noEvents, noAudit} {
			if c != nil {
				if serr := c.stop(); serr != nil && err == nil {
					err = serr
				}
			}
		}
	}()
	latencyDone, feedsFilled := false, false
	for i, sc := range all {
		if sc.group == groupFloor || sc.group == groupNoisy || !selected(sc.name, cfg.Scenarios) {
			continue
		}
		if !srv.alive() {
			return nil, fmt.Errorf("roster serve exited during the run (%v): %s", srv.err, srv.stderrTail())
		}
		if (sc.name == "list-page-100" || sc.name == "feed-page-100") && !feedsFilled {
			// Both pages hold 100 items (fillFeeds), whichever runs alone.
			feedsFilled = true
			pctx, cancel := prepContext(ctx)
			n, err := w.fillFeeds(pctx, srv.base)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("filling the feeds to 100 events: %w", err)
			}
			if n > 0 {
				rep.Notes = append(rep.Notes, fmt.Sprintf("Before list-page-100 and feed-page-100, %s entities were created so that every feed they read holds 100 events.", thousands(n)))
			}
		}
		if sc.server == serverConsumers {
			if latencyDone {
				continue
			}
			latencyDone = true
			rs, err := runFeedLatency(ctx, cfg, srv, w, logf)
			if err != nil {
				return nil, err
			}
			rep.Results = append(rep.Results, rs...)
			continue
		}
		target := srv
		if sc.server == serverNoEvents {
			if noEvents == nil {
				noEvents, err = startChild(ctx, "roster serve --events=false", cfg.Exe,
					[]string{"serve", "--addr", "127.0.0.1:0", "--database", database, "--rate-limit", "0", "--max-in-flight", "0", "--events=false"}, cfg.Env, "/readyz")
				if err != nil {
					return nil, err
				}
			}
			target = noEvents
		}
		var adjacent float64
		if selectFloor != nil {
			// The adjacent floor: half the scenario's time, just before it.
			var fl loadResult
			phase(cfg.Progress, sc.name, "adjacent floor", cfg.Warmup+cfg.Duration/2, func(live *liveCount) {
				drive(ctx, selectFloor.base, cfg.Connections, cfg.Warmup, uint64(2000+i), selectSc.gen, live)
				fl = drive(ctx, selectFloor.base, cfg.Connections, cfg.Duration/2, uint64(3000+i), selectSc.gen, live)
			})
			if fl.errors == 0 {
				adjacent = fl.rate()
			}
		}
		if sc.server == ServerNoAudit {
			if noAudit, err = startNoAudit(ctx, cfg, database); err != nil {
				return nil, err
			}
			target = noAudit
		}
		res := run(target, sc, i)
		res.FloorRPS = adjacent
		res.PeakRSS, _ = target.memory()
		if sc.server == ServerNoAudit && cfg.Rounds == 1 {
			// With more rounds it serves them all, like the server without events.
			err := noAudit.stop()
			noAudit = nil
			if err != nil {
				return nil, err
			}
		}
		rep.Results = append(rep.Results, res)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	// The rounds after the normal pass (Config.Rounds): the compared scenarios again, one group
	// at a time, on the servers of the normal pass, the order of each group rotated by one
	// every round so that no scenario always runs first, or first after the writes. No
	// adjacent floor: the compared targets are ratios of the group's own measurements.
	groups := comparedGroups(cfg.Scenarios)
	for r := 2; r <= cfg.Rounds; r++ {
		logf("round %d of %d", r, cfg.Rounds)
		round := Round{Round: r}
		for _, g := range groups {
			for _, name := range rotate(g, r-1) {
				i := slices.IndexFunc(all, func(sc scenario) bool { return sc.name == name })
				sc := all[i]
				target := srv
				switch sc.server {
				case serverNoEvents:
					target = noEvents
				case ServerNoAudit:
					target = noAudit
				}
				if !target.alive() {
					return nil, fmt.Errorf("%s exited during the run (%v): %s", target.name, target.err, target.stderrTail())
				}
				shown := sc
				shown.name = fmt.Sprintf("%s, round %d/%d", sc.name, r, cfg.Rounds)
				res := run(target, shown, 10000*r+i)
				res.Scenario = sc.name
				res.PeakRSS, _ = target.memory()
				round.Results = append(round.Results, res)
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
			}
		}
		rep.Rounds = append(rep.Rounds, round)
	}
	rep.ServerPeakRSS, _ = srv.memory()
	if noisy {
		// Both or neither: B with A is judged against B alone.
		var alone, with scenario
		for _, sc := range all {
			switch sc.name {
			case "noisy-alone":
				alone = sc
			case "noisy-neighbour":
				with = sc
			}
		}
		if alone.skip != "" {
			for _, sc := range []scenario{alone, with} {
				rep.Results = append(rep.Results, Result{Scenario: sc.name, Title: sc.title, Group: sc.group, Server: sc.server, Skipped: sc.skip})
			}
		} else {
			// The main server sits idle meanwhile (it is stopped at the end).
			rs, err := runNoisy(ctx, cfg, database, w, alone, with, logf)
			if err != nil {
				return nil, err
			}
			rep.Results = append(rep.Results, rs...)
		}
	}
	rep.Finished = time.Now().UTC()
	rep.Machine.LoadAfter = loadAverage()
	rep.finish()
	if cfg.Out != "" {
		if err := rep.write(cfg.Out); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// phase runs one timed phase of a scenario (fn drives the load, counting into live) with a
// progress line on w, redrawn twice a second: the scenario, the phase, the time so far against
// its length, the requests and the errors so far. The line is short, so that \r redraws it in
// place in any terminal, and is wiped when the phase ends.
func phase(w io.Writer, name, what string, d time.Duration, fn func(live *liveCount)) {
	live := &liveCount{}
	start := time.Now()
	line := func() string {
		return fmt.Sprintf("\r  %s: %s %4.1f/%.1f s, %s requests, %d errors ", name, what, min(time.Since(start), d).Seconds(), d.Seconds(),
			thousands(int(live.requests.Load())), live.errors.Load())
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	fmt.Fprint(w, line())
	wg.Go(func() {
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				fmt.Fprint(w, line())
			}
		}
	})
	fn(live)
	close(done)
	wg.Wait()
	fmt.Fprint(w, "\r"+strings.Repeat(" ", len(line()))+"\r")
}

// prepareDatabase makes the fresh database of a run and returns its URL, its engine and how to
// remove what the run made.
func prepareDatabase(ctx context.Context, database string) (string, string, func() error, error) {
	none := func() error { return nil }
	switch {
	case database == "":
		dir, err := os.MkdirTemp("", "roster-bench-")
		if err != nil {
			return "", "", nil, err
		}
		return "sqlite:" + filepath.Join(dir, "bench.db"), "sqlite", func() error { return os.RemoveAll(dir) }, nil
	case strings.HasPrefix(database, "sqlite:"):
		path := strings.TrimPrefix(database, "sqlite:")
		if path == "" {
			return "", "", nil, errors.New("--database sqlite: needs a file path")
		}
		if _, err := os.Stat(path); err == nil {
			return "", "", nil, fmt.Errorf("--database %s exists: the bench seeds a fresh database, give a new path", database)
		}
		return database, "sqlite", none, nil
	case strings.HasPrefix(database, "postgres://"), strings.HasPrefix(database, "postgresql://"):
		var b [6]byte
		_, _ = rand.Read(b[:])
		schema := "roster_bench_" + hex.EncodeToString(b[:])
		conn, err := pgx.Connect(ctx, database)
		if err != nil {
			return "", "", nil, fmt.Errorf("postgres: %w", err)
		}
		_, err = conn.Exec(ctx, "CREATE SCHEMA "+schema)
		conn.Close(ctx)
		if err != nil {
			return "", "", nil, fmt.Errorf("postgres: creating the bench schema: %w", err)
		}
		u, err := url.Parse(database)
		if err != nil {
			return "", "", nil, err
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		drop := func() error {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			conn, err := pgx.Connect(ctx, database)
			if err != nil {
				return fmt.Errorf("postgres: dropping the bench schema %s: %w", schema, err)
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
				return fmt.Errorf("postgres: dropping the bench schema %s: %w", schema, err)
			}
			return nil
		}
		return u.String(), "postgres", drop, nil
	default:
		return "", "", nil, fmt.Errorf("--database %q: want sqlite:PATH or a postgres:// URL", database)
	}
}

// redact hides a password in a database URL.
func redact(database string) string {
	u, err := url.Parse(database)
	if err != nil || u.User == nil {
		return database
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxx")
	}
	return u.String()
}

// revision names the source the bench (and so the server, the same binary) was built from:
// the VCS revision Go stamped into the binary, marked when the tree had uncommitted changes.
func revision() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" && modified == "true" {
		rev += " (with uncommitted changes)"
	}
	return rev
}

// Machine describes where a run took place.
type Machine struct {
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	MemoryMiB  int64  `json:"memory_mib"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	LoadBefore string `json:"load_average_before"`
	LoadAfter  string `json:"load_average_after"`
}

func describeMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH, LoadBefore: loadAverage()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				var kb int64
				fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
				m.MemoryMiB = kb >> 10
			}
		}
	}
	return m
}

// loadAverage is the 1, 5 and 15 minute load averages, as /proc/loadavg gives them.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
