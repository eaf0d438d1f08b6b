package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
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
