package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store/sqlite"
)

// eventView is an event as SPEC §13 shows it, for encoding/json: the reference appendEvent is
// held to, byte for byte (it is how the feed was rendered before appendEvent).
type eventView struct {
	ID        string           `json:"id"`
	Type      string           `json:"type"`
	AccountID *string          `json:"account_id"`
	Sequence  int64            `json:"sequence"`
	CreatedAt stamp            `json:"created_at"`
	Data      json.RawMessage  `json:"data"`
	Request   eventRequestView `json:"request"`
}

type eventRequestView struct {
	ID             string  `json:"id"`
	IdempotencyKey *string `json:"idempotency_key"`
	KeyID          *string `json:"key_id"`
}

func refEventView(s *surface, e roster.Event) eventView {
	v := eventView{ID: s.id(roster.KindEvent, e.ID), Type: e.Type, Sequence: e.Sequence, CreatedAt: stamp(e.CreatedAt),
		Data: e.Data, Request: eventRequestView{ID: e.RequestID}}
	if e.AccountID != "" {
		id := s.id(roster.KindAccount, e.AccountID)
		v.AccountID = &id
	}
	if e.IdempotencyKey != "" {
		v.Request.IdempotencyKey = &e.IdempotencyKey
	}
	if e.KeyID != "" {
		id := s.id(roster.KindKey, e.KeyID)
		v.Request.KeyID = &id
	}
	return v
}

func marshalEvent(t testing.TB, s *surface, e roster.Event) []byte {
	t.Helper()
	b, err := json.Marshal(refEventView(s, e))
	if err != nil {
		t.Fatalf("json.Marshal of %#v: %v", e, err)
	}
	return b
}

// marshalEventPage is a feed page as json.Marshal renders it.
func marshalEventPage(t testing.TB, s *surface, page roster.EventPage) []byte {
	t.Helper()
	out := listView{Data: make([]any, len(page.Items)), Pagination: paginationView{
		Count: len(page.Items), HasNext: page.HasNext, NextCursor: &page.Next}}
	for i, e := range page.Items {
		out.Data[i] = refEventView(s, e)
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// randData is an event's data as the write renders it (json.Marshal): an object and, for an
// update, previous attributes, with strings of every kind encoding/json escapes.
func randData(r *rand.Rand) []byte {
	obj := map[string]any{"id": "entity_" + roster.NewID(time.Now()), "name": randString(r), "module_ids": randStrings(r),
		"description": randOptString(r), "deprecated": r.IntN(2) == 0, "n": r.IntN(1000)}
	data := map[string]any{"object": obj}
	if r.IntN(2) == 0 {
		data["previous_attributes"] = map[string]any{"name": randString(r), "website": nil}
	}
	b, err := json.Marshal(data)
	if err != nil {
		panic(err)
	}
	return b
}

func randEvent(r *rand.Rand, times []time.Time) roster.Event {
	id := func() string {
		switch r.IntN(6) {
		case 0:
			return ""
		case 1:
			return randString(r) // no id roster stores, but rendered all the same
		}
		return roster.NewID(randTime(r, times))
	}
	e := roster.Event{ID: id(), Sequence: r.Int64() >> r.IntN(64), EventRecord: roster.EventRecord{
		AccountID: id(), Type: roster.EventTypes[r.IntN(len(roster.EventTypes))], ObjectID: roster.NewID(time.Now()),
		Data: randData(r), RequestID: randString(r), KeyID: id(), CreatedAt: randTime(r, times)}}
	if r.IntN(2) == 0 {
		e.Sequence = -e.Sequence
	}
	if r.IntN(4) == 0 {
		e.Type = randString(r)
	}
	if r.IntN(2) == 0 {
		e.IdempotencyKey = randString(r)
	}
	if r.IntN(10) == 0 {
		e.Data = nil
	}
	return e
}

// TestAppendEventJSON: appendEvent writes an event as json.Marshal writes its view, on every
// surface, whatever its strings hold (the escapes of <, >, &, U+2028, control characters and
// invalid UTF-8 included), with its nullable members null when empty.
func TestAppendEventJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 5))
	times := jsonTimes(t)
	check := func(e roster.Event) {
		t.Helper()
		for _, sf := range surfaces {
			want := marshalEvent(t, sf, e)
			got := sf.appendEvent([]byte("prefix"), &e)
			if !bytes.Equal(got[len("prefix"):], want) {
				t.Fatalf("%s: appendEvent differs from json.Marshal for %#v\n got: %s\nwant: %s", sf.name, e, got[len("prefix"):], want)
			}
		}
	}
	for range 5000 {
		check(randEvent(r, times))
	}
	for _, tm := range times {
		check(roster.Event{EventRecord: roster.EventRecord{CreatedAt: tm}})
	}
	check(roster.Event{})
}

// eventWorld is a server whose feed holds events of every shape the writes record: of no account
// (a superadmin key's), from the command line (no key), with and without an Idempotency-Key,
// updates with previous attributes, and names, keys and request ids with HTML, JSON and
// non-ASCII characters.
type eventWorld struct {
	h            http.Handler
	svc          *roster.Service
	admin, super string
	account      string
	entities     []string
}

func newEventWorld(t *testing.T) *eventWorld {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := roster.NewService(st, nil, nil)
	w := &eventWorld{h: New(svc, nil, Options{}), svc: svc}
	sk, err := svc.CreateKey(ctx, roster.Operator(), roster.KeyCreate{Role: roster.RoleSuperadmin, Name: "super <&> \u2028 é"}.Body())
	if err != nil {
		t.Fatal(err)
	}
	w.super = sk.Secret
	var a map[string]any
	w.do(t, w.super, "POST", "/v1/accounts", `{"name":"Acme <b>&amp;</b> \u2028 Société 📦","slug":"acme"}`, "", "req<&>\"\\1", http.StatusCreated, &a)
	w.account = a["id"].(string)
	var k map[string]any
	w.do(t, w.super, "POST", "/v1/api-keys", `{"account_id":"`+w.account+`","role":"admin","name":"admin"}`, "", "", http.StatusCreated, &k)
	w.admin = k["key"].(string)
	names := []string{`<script>alert("x")</script>`, "Ünïcödé 日本 😀", "line\u2028sep\u2029para", `back\slash "quoted" & co`, "plain"}
	for i, name := range names {
		body, _ := json.Marshal(map[string]any{"name": name, "module_ids": []string{"m<1>", "m&2"}, "source": "form", "recipient": nil,
			"description": "desc " + name, "website": "https://example.com/?a=1&b=<2>"})
		idem := ""
		if i%2 == 0 {
			idem = fmt.Sprintf("idem-%d <&> \u2028 \"é\"", i)
		}
		var e map[string]any
		w.do(t, w.admin, "POST", "/v1/entities", string(body), idem, fmt.Sprintf("req-%d-<&>", i), http.StatusCreated, &e)
		w.entities = append(w.entities, e["id"].(string))
	}
	for i, id := range w.entities[:3] {
		body, _ := json.Marshal(map[string]any{"name": "renamed <" + names[i] + ">", "description": nil})
		w.do(t, w.admin, "PATCH", "/v1/entities/"+id, string(body), "", "", http.StatusOK, nil)
	}
	w.do(t, w.admin, "DELETE", "/v1/entities/"+w.entities[4], "", "", "", http.StatusOK, nil)
	return w
}

// do sends a request and checks its status, decoding the body into out when given.
func (w *eventWorld) do(t *testing.T, secret, method, path, body, idem, reqID string, status int, out any) []byte {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+secret)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if idem != "" {
		r.Header.Set("Idempotency-Key", idem)
	}
	if reqID != "" {
		r.Header.Set("X-Request-Id", reqID)
	}
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, r)
	if rec.Code != status {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, rec.Code, status, rec.Body)
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return rec.Body.Bytes()
}

// TestEventFeedBytes: GET /v1/events and GET /v1/events/{id} answer exactly the bytes
// json.Marshal gives for the events the service reads, for an account's admin and for a
// superadmin (whose feed holds events of no account), page by page, with and without filters.
func TestEventFeedBytes(t *testing.T) {
	w := newEventWorld(t)
	ctx := context.Background()
	seen := 0
	for _, secret := range []string{w.admin, w.super} {
		p, err := w.svc.Authenticate(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		for _, query := range []map[string]string{
			{"limit": "100"},
			{"limit": "3"},
			{"type": roster.EventEntityUpdated},
			{"type": "entity.*", "limit": "2"},
			{"object_id": w.entities[0]},
		} {
			if p.IsSuperadmin() && query["type"] == "" && query["object_id"] == "" {
				query["account_id"] = ""
			}
			req := roster.EventRequest{Filters: map[string]string{}}
			for k, v := range query {
				switch k {
				case "limit":
					req.Limit, _ = roster.EventFeed.CheckLimit(v)
				default:
					if v != "" {
						req.Filters[k] = v
					}
				}
			}
			if req.Limit == 0 {
				req.Limit, _ = roster.EventFeed.CheckLimit("")
			}
			q := make([]string, 0, len(query))
			for k, v := range query {
				if v != "" {
					q = append(q, k+"="+v)
				}
			}
			path := "/v1/events?" + strings.Join(q, "&")
			for pages := 0; ; pages++ {
				page, err := w.svc.ListEvents(ctx, p, req)
				if err != nil {
					t.Fatal(err)
				}
				got := w.do(t, secret, "GET", path, "", "", "", http.StatusOK, nil)
				if want := marshalEventPage(t, native, page); !bytes.Equal(got, want) {
					t.Fatalf("GET %s differs from json.Marshal\n got: %s\nwant: %s", path, got, want)
				}
				for _, e := range page.Items {
					seen++
					got := w.do(t, secret, "GET", "/v1/events/"+roster.KindEvent.Prefixed(e.ID), "", "", "", http.StatusOK, nil)
					if want := marshalEvent(t, native, e); !bytes.Equal(got, want) {
						t.Fatalf("GET /v1/events/%s differs from json.Marshal\n got: %s\nwant: %s", e.ID, got, want)
					}
				}
				if !page.HasNext || pages > 20 {
					break
				}
				req.Cursor = page.Next
				req.Filters = map[string]string{}
				path = "/v1/events?limit=" + query["limit"] + "&cursor=" + page.Next
				if query["limit"] == "" {
					path = "/v1/events?cursor=" + page.Next
				}
			}
		}
	}
	// The shapes the world promises are all there: of no account, without a key, with an
	// Idempotency-Key, with previous attributes, with escapes.
	p, _ := w.svc.Authenticate(ctx, w.super)
	page, err := w.svc.ListEvents(ctx, p, roster.EventRequest{Limit: 100, Filters: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	body := string(marshalEventPage(t, native, page))
	for _, want := range []string{`"account_id":null`, `"key_id":null`, `"idempotency_key":null`, `"idempotency_key":"idem-0 \u003c\u0026\u003e \u2028 \"é\""`,
		`"previous_attributes":`, `\u003cscript\u003e`, `\u2028`, `日本 😀`, `"id":"req\u003c\u0026\u003e\"\\1"`, `"type":"entity.deleted"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the superadmin's feed holds no %s:\n%s", want, body)
		}
	}
	if seen < 2*len(page.Items) {
		t.Errorf("read %d events one by one, want at least %d", seen, 2*len(page.Items))
	}
}

// TestEventStreamBytes: each event of GET /v1/events/stream is its cursor, its type and, as
// its data, the bytes json.Marshal gives for it.
func TestEventStreamBytes(t *testing.T) {
	w := newEventWorld(t)
	srv := httptest.NewServer(w.h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := w.svc.Authenticate(ctx, w.super)
	if err != nil {
		t.Fatal(err)
	}
	page, err := w.svc.ListEvents(ctx, p, roster.EventRequest{Limit: 100, Filters: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i, e := range page.Items {
		fmt.Fprintf(&want, "id: %s\nevent: %s\ndata: %s\n\n", page.CursorAfter(i), e.Type, marshalEvent(t, native, e))
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/events/stream", nil)
	req.Header.Set("Authorization", "Bearer "+w.super)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	// The stream's first events, each ended by an empty line.
	var got strings.Builder
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for blocks := 0; blocks < len(page.Items) && sc.Scan(); {
		got.WriteString(sc.Text() + "\n")
		if sc.Text() == "" {
			blocks++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%v after %q", err, got.String())
	}
	if got.String() != want.String() {
		t.Fatalf("the stream differs from json.Marshal\n got: %s\nwant: %s", got.String(), want.String())
	}
}
