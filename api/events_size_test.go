package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store/sqlite"
)

// TestFeedPageFitsResponseLimit: events of large objects (an entity at the field limits,
// updated, carries it twice: some 180 KB) would make a page of 100 pass SPEC §10's 8 MiB. The
// page ends after the last event that fits instead, with a next cursor right after it, and
// following the cursors reads every event once, in order.
func TestFeedPageFitsResponseLimit(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "feed.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := roster.NewService(st, nil, nil)
	a, err := svc.CreateAccount(t.Context(), roster.Operator(), []byte(`{"name":"Big Feed"}`))
	if err != nil {
		t.Fatal(err)
	}
	ck, err := svc.CreateKey(t.Context(), roster.Operator(), roster.KeyCreate{AccountID: a.ID, Role: roster.RoleAdmin, Name: "k"}.Body())
	if err != nil {
		t.Fatal(err)
	}
	big := `{"object":{"description":"` + strings.Repeat("x", 180_000) + `"}}`
	const events = 120
	for i := range events {
		err := st.Update(t.Context(), func(tx roster.Tx) error {
			_, err := tx.AppendEvents(t.Context(), []roster.EventRecord{{AccountID: a.ID, Type: roster.EventEntityUpdated,
				ObjectID: roster.NewID(time.Now()), Data: []byte(big), RequestID: "req", CreatedAt: time.Now()}})
			return err
		})
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	h := New(svc, nil, Options{})
	seen := map[string]bool{}
	var last int64
	updated := 0
	pages := 0
	for cursor := ""; ; pages++ {
		r := httptest.NewRequest("GET", "/v1/events?limit=100&cursor="+cursor, nil)
		r.Header.Set("Authorization", "Bearer "+ck.Secret)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("status %d: %.300s", w.Code, w.Body)
		}
		if w.Body.Len() > MaxResponse {
			t.Fatalf("page %d is %d bytes, over 8 MiB", pages, w.Body.Len())
		}
		var page struct {
			Data []struct {
				ID       string `json:"id"`
				Type     string `json:"type"`
				Sequence int64  `json:"sequence"`
			} `json:"data"`
			Pagination struct {
				Count      int    `json:"count"`
				HasNext    bool   `json:"has_next"`
				NextCursor string `json:"next_cursor"`
			} `json:"pagination"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil {
			t.Fatal(err)
		}
		if page.Pagination.Count != len(page.Data) {
			t.Fatalf("count %d for %d events", page.Pagination.Count, len(page.Data))
		}
		for _, e := range page.Data {
			if seen[e.ID] || e.Sequence <= last {
				t.Fatalf("event %s (sequence %d) again or out of order after %d", e.ID, e.Sequence, last)
			}
			seen[e.ID], last = true, e.Sequence
			if e.Type == roster.EventEntityUpdated {
				updated++
			}
		}
		if len(page.Data) == 0 || !page.Pagination.HasNext {
			break
		}
		if pages == 0 && len(page.Data) == 100 {
			t.Fatalf("the first page holds 100 events of 180 KB")
		}
		cursor = page.Pagination.NextCursor
	}
	// The account's feed: its creation and its key's, then the large events.
	if updated != events || pages < 2 {
		t.Fatalf("read %d of the %d large events over %d pages", updated, events, pages)
	}
}
