package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store/sqlite"
)

// benchServer is a handler on a fresh SQLite store with one account and its admin key.
type benchServer struct {
	h       http.Handler
	svc     *roster.Service
	st      *sqlite.Store
	account roster.Account
	secret  string
}

func newBenchServer(b *testing.B) *benchServer {
	b.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	svc := roster.NewService(st, nil, nil)
	a, secret := benchAccount(b, svc)
	return &benchServer{h: New(svc, nil, Options{}), svc: svc, st: st, account: a, secret: secret}
}

// benchAccount makes the account "Bench" and an admin key of it, and returns the key's secret.
func benchAccount(b *testing.B, svc *roster.Service) (roster.Account, string) {
	b.Helper()
	a, err := svc.CreateAccount(context.Background(), roster.Operator(), []byte(`{"name":"Bench","slug":"bench"}`))
	if err != nil {
		b.Fatal(err)
	}
	ck, err := svc.CreateKey(context.Background(), roster.Operator(), roster.KeyCreate{AccountID: a.ID, Role: roster.RoleAdmin, Name: "b"}.Body())
	if err != nil {
		b.Fatal(err)
	}
	return a, ck.Secret
}

// run sends the request concurrently until the benchmark ends, failing on another status.
func (s *benchServer) run(b *testing.B, method, path, body string, status int) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest(method, path, strings.NewReader(body))
			r.Header.Set("Authorization", "Bearer "+s.secret)
			if body != "" {
				r.Header.Set("Content-Type", "application/json")
			}
			w := httptest.NewRecorder()
			s.h.ServeHTTP(w, r)
			if w.Code != status {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
}

// BenchmarkGetAccount measures one authenticated read through the whole handler on SQLite:
// authentication, the account read and the JSON response, without the network.
func BenchmarkGetAccount(b *testing.B) {
	s := newBenchServer(b)
	s.run(b, "GET", "/v1/accounts/"+roster.KindAccount.Prefixed(s.account.ID), "", http.StatusOK)
}

// BenchmarkListEntities measures a first page of 20 entities of one account through the whole
// handler on SQLite, without the network.
func BenchmarkListEntities(b *testing.B) {
	s := newBenchServer(b)
	p := roster.Principal{AccountID: s.account.ID, Role: roster.RoleAdmin}
	for i := range 200 {
		body := []byte(`{"name":"entity ` + string(rune('a'+i%26)) + `","module_ids":["m1","m2"],"source":"form","recipient":null,
			"flow_ids":["5fd4371e940df5a34a3888b2"],"time_zone":"America/Los Angeles","website":"https://example.com"}`)
		if _, err := s.svc.CreateEntity(context.Background(), &roster.Request{Principal: p}, body); err != nil {
			b.Fatal(err)
		}
	}
	s.run(b, "GET", "/v1/entities?limit=20&sort=id:asc", "", http.StatusOK)
}

// BenchmarkCreateEntity measures durable creates through the handler on SQLite with 32
// concurrent clients, so group commit has company to batch.
func BenchmarkCreateEntity(b *testing.B) {
	s := newBenchServer(b)
	b.SetParallelism(16)
	s.run(b, "POST", "/v1/entities", `{"name":"created","module_ids":["m1"],"source":"form","recipient":null,"website":"https://example.com"}`, http.StatusCreated)
	commits, writes := s.st.GroupCommitStats()
	b.ReportMetric(float64(writes)/float64(max(commits, 1)), "writes/commit")
}

// BenchmarkCreateEntityRecording measures durable creates spread over 100 accounts (as roster
// bench drives them) with what a write records switched on and off: neither, events only, audit
// only, both. Each account's indexed rows then land in pages of their own, as in production.
func BenchmarkCreateEntityRecording(b *testing.B) {
	for _, mode := range []struct {
		name          string
		events, audit bool
	}{{"neither", false, false}, {"events", true, false}, {"audit", false, true}, {"both", true, true}} {
		b.Run(mode.name, func(b *testing.B) {
			s := newBenchServer(b)
			s.svc.SetEventRecording(mode.events)
			s.svc.SetAudit(mode.audit)
			secrets := []string{s.secret}
			for i := range 99 {
				a, err := s.svc.CreateAccount(context.Background(), roster.Operator(), []byte(`{"name":"Bench `+strconv.Itoa(i)+`"}`))
				if err != nil {
					b.Fatal(err)
				}
				ck, err := s.svc.CreateKey(context.Background(), roster.Operator(), roster.KeyCreate{AccountID: a.ID, Role: roster.RoleAdmin, Name: "b"}.Body())
				if err != nil {
					b.Fatal(err)
				}
				secrets = append(secrets, ck.Secret)
			}
			var next atomic.Int64
			b.SetParallelism(16)
			b.ReportAllocs()
			cpu0, w0 := processCPU(), writeCalls()
			c0, n0 := s.st.GroupCommitStats()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					secret := secrets[next.Add(1)%int64(len(secrets))]
					r := httptest.NewRequest("POST", "/v1/entities", strings.NewReader(`{"name":"created","module_ids":["m1"],"source":"form","recipient":null,"website":"https://example.com"}`))
					r.Header.Set("Authorization", "Bearer "+secret)
					r.Header.Set("Content-Type", "application/json")
					w := httptest.NewRecorder()
					s.h.ServeHTTP(w, r)
					if w.Code != http.StatusCreated {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
			})
			// CPU time per create holds steadier than wall time on a shared machine.
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
			// Write calls (nearly all of them WAL frames, two a frame, and fsync-free) per create:
			// what a write costs the disk, steadier still; it depends on the batch size, reported too.
			b.ReportMetric(float64(writeCalls()-w0)/float64(b.N), "writes/op")
			c1, n1 := s.st.GroupCommitStats()
			b.ReportMetric(float64(n1-n0)/float64(max(c1-c0, 1)), "creates/commit")
		})
	}
}

// writeCalls is how many write system calls the process has made (syscw of /proc/self/io), 0
// where there is no such file.
func writeCalls() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// processCPU is the user and system time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
