package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store/sqlite"
)

// BenchmarkGetAccount measures one authenticated read through the whole handler on SQLite:
// authentication, the account read and the JSON response, without the network.
func BenchmarkGetAccount(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	svc := roster.NewService(st, nil, nil)
	a, err := svc.CreateAccount(ctx, roster.System, roster.AccountCreate{Name: "Bench", Slug: "bench"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	_, secret, err := svc.CreateKey(ctx, roster.System, roster.KeyCreate{AccountID: a.ID, Role: roster.RoleAdmin, Name: "b"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	h := New(svc, nil, Options{})
	path := "/v1/accounts/" + roster.KindAccount.Prefixed(a.ID)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest("GET", path, nil)
			r.Header.Set("Authorization", "Bearer "+secret)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
}

// BenchmarkListEntities measures a first page of 20 entities of one account through the whole
// handler on SQLite, without the network.
func BenchmarkListEntities(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	svc := roster.NewService(st, nil, nil)
	a, err := svc.CreateAccount(ctx, roster.System, roster.AccountCreate{Name: "Bench", Slug: "bench"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	_, secret, err := svc.CreateKey(ctx, roster.System, roster.KeyCreate{AccountID: a.ID, Role: roster.RoleAdmin, Name: "b"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	p := roster.Principal{AccountID: a.ID, Role: roster.RoleAdmin}
	for i := range 200 {
		v, _ := roster.DecodeJSON([]byte(`{"name":"entity ` + string(rune('a'+i%26)) + `","module_ids":["m1","m2"],"source":"form","recipient":null,
			"flow_ids":["5fd4371e940df5a34a3888b2"],"time_zone":"America/Los Angeles","website":"https://example.com"}`))
		in, err := roster.DecodeEntity(v, roster.EntityCreate)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := svc.CreateEntity(ctx, p, a.ID, in, nil); err != nil {
			b.Fatal(err)
		}
	}
	h := New(svc, nil, Options{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest("GET", "/v1/entities?limit=20&sort=id:asc", nil)
			r.Header.Set("Authorization", "Bearer "+secret)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
}

// BenchmarkCreateEntity measures durable creates through the handler on SQLite with 32
// concurrent clients, so group commit has company to batch.
func BenchmarkCreateEntity(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	svc := roster.NewService(st, nil, nil)
	a, err := svc.CreateAccount(ctx, roster.System, roster.AccountCreate{Name: "Bench", Slug: "bench"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	_, secret, err := svc.CreateKey(ctx, roster.System, roster.KeyCreate{AccountID: a.ID, Role: roster.RoleAdmin, Name: "b"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	h := New(svc, nil, Options{})
	body := `{"name":"created","module_ids":["m1"],"source":"form","recipient":null,"website":"https://example.com"}`
	b.SetParallelism(16)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest("POST", "/v1/entities", strings.NewReader(body))
			r.Header.Set("Authorization", "Bearer "+secret)
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusCreated {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
	commits, writes := st.GroupCommitStats()
	b.ReportMetric(float64(writes)/float64(max(commits, 1)), "writes/commit")
}
