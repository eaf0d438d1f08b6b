package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// The noisy neighbour: tenant A sends the costliest request a tenant may send (noisyList) on
// many connections, back to back, and only the server's own limits hold it back; tenant B, a
// well-behaved tenant, sends get entity at a steady quietRate. B's latencies are measured
// alone first, then while A floods, on a roster serve with the default rate limits (100/s and
// a burst of 200 per key, 4 × that per account): the run's other server has them off.

// quietRate is tenant B's requests per second: under its key's limit, so that none is refused.
const quietRate = 80

// quietWorkers is how many connections tenant B's requests may use at once: no more than the
// requests an account may have in flight by default (serve --max-in-flight, 8). A well-behaved
// tenant stays within it; with more, a server slowed by A (or by the race detector) refused B's
// ninth concurrent request with 429, which is the limit working, not the isolation failing. A
// request that waits for a connection counts its wait (paced), so B's latencies still show A.
const quietWorkers = 8

// paced sends rate requests a second for d, each at its due time whatever the previous ones
// did (an open loop, as independent users would), on up to workers connections, and measures
// every request from its due time: a request that waited for a free connection counts its
// wait, so a server that stalls shows in the latencies instead of slowing the sender.
func paced(ctx context.Context, base string, rate float64, workers int, d time.Duration, seed uint64, gen generator, live *liveCount) loadResult {
	n := int(rate * d.Seconds())
	due := make(chan time.Time, n)
	start := time.Now()
	go func() {
		defer close(due)
		for k := range n {
			t := start.Add(time.Duration(float64(k) / rate * float64(time.Second)))
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(t)):
			}
			due <- t
		}
	}()
	ws := make([]tally, workers)
	var wg sync.WaitGroup
	for i := range ws {
		w := &ws[i]
		wg.Go(func() {
			c := newClient()
			defer c.CloseIdleConnections()
			r := rand.New(rand.NewPCG(seed, uint64(i)))
			for t := range due {
				rq := gen(r)
				status, body, err := do(ctx, c, base, rq)
				live.add(w.add(rq, time.Since(t), status, body, err))
			}
		})
	}
	wg.Wait()
	return sum(ws, time.Since(start))
}

// runNoisy starts a roster serve with the default rate limits on database and measures tenant B
// alone, then tenant B while tenant A floods: three results (B alone, B with A, A).
func runNoisy(ctx context.Context, cfg Config, database string, w *world, alone, with scenario, logf func(string, ...any)) ([]Result, error) {
	srv, err := startChild(ctx, "roster serve (default rate limits)", cfg.Exe,
		[]string{"serve", "--addr", "127.0.0.1:0", "--database", database}, cfg.Env, "/readyz")
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	newResult := func(sc scenario) Result {
		return Result{Scenario: sc.name, Title: sc.title, Group: sc.group, Server: sc.server}
	}

	// B alone, after a warm-up at the same rate.
	phase(cfg.Progress, alone.name, "warm-up", cfg.Warmup, func(live *liveCount) {
		paced(ctx, srv.base, quietRate, quietWorkers, cfg.Warmup, 4000, alone.gen, live)
	})
	cpu0 := srv.cpu()
	var lr loadResult
	phase(cfg.Progress, alone.name, "measuring", cfg.Duration, func(live *liveCount) {
		lr = paced(ctx, srv.base, quietRate, quietWorkers, cfg.Duration, 4001, alone.gen, live)
	})
	a := newResult(alone)
	a.fill(lr)
	if used := srv.cpu() - cpu0; used > 0 && lr.requests > 0 {
		a.CPUMicros = float64(used.Microseconds()) / float64(lr.requests)
	}
	a.PeakRSS, _ = srv.memory()
	logf("%-70s p50 %6.2f ms  p99 %7.2f ms  errors %d", alone.title, a.P50Ms, a.P99Ms, a.Errors)
	if !srv.alive() {
		return nil, fmt.Errorf("roster serve exited during the run (%v): %s", srv.err, srv.stderrTail())
	}

	// A floods on the run's connections for a warm-up and B's measured time; B starts after
	// the warm-up, so that A is at full pace through all of B's measurement.
	noisy := scenario{name: "noisy-tenant", title: fmt.Sprintf("tenant A: LeadConduit GET /entities?limit=1000, entities at the SPEC §8 maximum sizes, %d connections back to back", cfg.NoisyConnections),
		group: groupNoisy, server: "roster-limited", gen: w.noisyList}
	var alr loadResult
	var cpuA0, cpuA1 time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		alr = drive(ctx, srv.base, cfg.NoisyConnections, cfg.Warmup+cfg.Duration, 5000, noisy.gen, nil)
	}()
	phase(cfg.Progress, with.name, "tenant A's warm-up", cfg.Warmup, func(*liveCount) {
		select {
		case <-time.After(cfg.Warmup):
		case <-ctx.Done():
		}
	})
	cpuA0 = srv.cpu()
	var blr loadResult
	phase(cfg.Progress, with.name, "measuring B", cfg.Duration, func(live *liveCount) {
		blr = paced(ctx, srv.base, quietRate, quietWorkers, cfg.Duration, 4002, with.gen, live)
	})
	cpuA1 = srv.cpu()
	<-done
	b := newResult(with)
	b.fill(blr)
	b.PeakRSS, _ = srv.memory()
	na := newResult(noisy)
	na.fill(alr)
	na.Limited = alr.statuses[http.StatusTooManyRequests]
	na.Errors -= na.Limited // refusals by the rate limit are the limit working, not errors
	na.PeakRSS = b.PeakRSS
	// The server's CPU while B was measured, per request of A's answered in that time; B's
	// share is its CPU alone times its requests, taken out.
	if used := cpuA1 - cpuA0 - time.Duration(a.CPUMicros*float64(blr.requests))*time.Microsecond; used > 0 && alr.elapsed > 0 {
		answered := float64(alr.requests) * (float64(cfg.Duration) / float64(alr.elapsed))
		if answered > 0 {
			na.CPUMicros = float64(used.Microseconds()) / answered
		}
	}
	logf("%-70s p50 %6.2f ms  p99 %7.2f ms  errors %d", with.title, b.P50Ms, b.P99Ms, b.Errors)
	logf("%-70s %7.1f req/s  p50 %6.2f ms  p99 %7.2f ms  429s %d  errors %d  peak RSS %.0f MiB", noisy.title, na.RPS, na.P50Ms, na.P99Ms, na.Limited, na.Errors,
		float64(na.PeakRSS)/(1<<20))
	if na.Errors > 0 {
		logf("  first error: %s", na.FirstError)
	}
	if !srv.alive() {
		return nil, fmt.Errorf("roster serve (default rate limits) exited during the noisy neighbour (%v): %s", srv.err, srv.stderrTail())
	}
	return []Result{a, b, na}, srv.stop()
}
