package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/sqlstore"
)

// TestExportCursor: exports taken while writers create, update and delete entities and
// relationships each end with a cursor from which a superadmin's feed returns exactly the
// changes the export does not hold: replaying them, one by one, onto the export's objects finds
// each change's "before" as the export (or an earlier change) left it — none missed, none
// twice — and ends at the state after the writers stopped.
func TestExportCursor(t *testing.T) {
	exportCursorUnderWrites(t, sqliteDatabase(t, "live.db"), false)
}

// TestExportCursorPostgres is the same on PostgreSQL, where one export is taken while an older
// transaction is held open: the writes that commit meanwhile are in the export's snapshot with
// transaction ids above its xmin, which the feed of every account reads only once the older one
// has ended, and writes still running at the snapshot commit after it.
func TestExportCursorPostgres(t *testing.T) {
	exportCursorUnderWrites(t, pgDatabase(t), true)
}

func exportCursorUnderWrites(t *testing.T, db string, pg bool) {
	f := populate(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := roster.NewService(st, nil, nil)
	admin, err := svc.Authenticate(ctx, f.admin)
	if err != nil {
		t.Fatal(err)
	}
	super, err := svc.Authenticate(ctx, f.super)
	if err != nil {
		t.Fatal(err)
	}

	// Writers: each creates an entity, renames it, relates it, and deletes every third one
	// (which removes its relationship too).
	var wg sync.WaitGroup
	var writes sync.Map
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				req := func() *roster.Request { return &roster.Request{Principal: admin} }
				e, err := svc.CreateEntity(ctx, req(), fmt.Appendf(nil, `{"name":"w%d-%d","module_ids":[],"source":null,"recipient":null}`, w, i))
				if err != nil {
					return
				}
				id := roster.KindEntity.Prefixed(e.ID)
				if _, err := svc.UpdateEntity(ctx, req(), id, fmt.Appendf(nil, `{"name":"w%d-%d renamed","description":"d"}`, w, i), roster.EntityPatch); err != nil {
					return
				}
				if _, err := svc.CreateRelationships(ctx, &roster.Request{Principal: admin, IdempotencyKey: fmt.Sprintf("w%d-%d", w, i), Fingerprint: "f",
					Render: func(any) (int, []byte, error) { return 200, []byte(`{}`), nil }}, f.account,
					fmt.Appendf(nil, `{"entity_ids":["%s"],"relationship_type":"account_holder"}`, id)); err != nil {
					return
				}
				if i%3 == 2 {
					if _, err := svc.DeleteEntity(ctx, req(), id); err != nil {
						return
					}
				}
				writes.Store(id, true)
			}
		}()
	}
	made := func() int {
		c := 0
		writes.Range(func(any, any) bool { c++; return true })
		return c
	}
	waitWrites := func(n int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			c := made()
			if c >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the writers made %d entities in 30 s", c)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	var exports []string
	exportNow := func() {
		t.Helper()
		out, errOut, err := runCLI(t, map[string]string{"ROSTER_DATABASE": db}, "export")
		if err != nil {
			t.Fatalf("export: %v %s", err, errOut)
		}
		exports = append(exports, out)
	}
	var accountExport string
	waitWrites(5)
	exportNow()
	waitWrites(15)
	exportNow()
	out, errOut, err := runCLI(t, map[string]string{"ROSTER_DATABASE": db}, "export", "--account", roster.KindAccount.Prefixed(f.account))
	if err != nil {
		t.Fatalf("export --account: %v %s", err, errOut)
	}
	accountExport = out
	if pg {
		// An older transaction holds a transaction id while the writers commit: the export's
		// snapshot holds changes of transactions above its xmin, and misses those of the
		// writers' transactions still running then; it waits for the older one to end.
		conn, err := pgx.Connect(ctx, os.Getenv("ROSTER_TEST_POSTGRES"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		hold, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := hold.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil {
			t.Fatal(err)
		}
		waitWrites(made() + 15) // writes that commit while the older transaction is open
		seen := 0
		if err := st.(sqlstore.Copier).Snapshot(ctx, func(q sqlstore.Querier) error {
			cut, err := sqlstore.ExportCut(ctx, q, true)
			seen = len(cut.Seen)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if seen == 0 {
			t.Fatal("no event at or above the snapshot's xmin while an older transaction is open: the test does not test the cut")
		}
		done := make(chan string, 1)
		go func() {
			out, errOut, err := runCLI(t, map[string]string{"ROSTER_DATABASE": db}, "export")
			if err != nil {
				out = "error: " + err.Error() + " " + errOut
			}
			done <- out
		}()
		waitWrites(40)
		if err := hold.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		out := <-done
		if strings.HasPrefix(out, "error: ") {
			t.Fatal(out)
		}
		exports = append(exports, out)
	}
	waitWrites(45)
	exportNow()
	cancel()
	wg.Wait()

	final, _ := exportState(t, exportLast(t, db))
	for i, out := range exports {
		state, cursor := exportState(t, out)
		n := replayFeed(t, svc, super, cursor, state, final)
		t.Logf("export %d: %d objects, %d events after its cursor", i, len(state), n)
	}

	// With --account, the cursor is in that account's feed (the writers write only there).
	state, cursor := exportState(t, accountExport)
	mine := map[string]string{}
	for k, v := range final {
		if strings.Contains(v, `"account_id":"`+roster.KindAccount.Prefixed(f.account)+`"`) || k == "a "+roster.KindAccount.Prefixed(f.account) {
			mine[k] = v
		}
	}
	n := replayFeed(t, svc, super, cursor, state, mine)
	t.Logf("export --account: %d objects, %d events after its cursor", len(state), n)

	// The cursor is a superadmin's: an account's own key may not use it.
	_, cursor = exportState(t, exports[0])
	var re *roster.Error
	if _, err := svc.ListEvents(context.Background(), admin, roster.EventRequest{Cursor: cursor, Limit: 1}); !errors.As(err, &re) || re.Code != roster.CodeCursorMismatch {
		t.Errorf("an admin key with the export's cursor: %v, want cursor_mismatch", err)
	}
}

// exportLast exports db once more, after the writers stopped.
func exportLast(t *testing.T, db string) string {
	t.Helper()
	out, errOut, err := runCLI(t, map[string]string{"ROSTER_DATABASE": db}, "export")
	if err != nil {
		t.Fatalf("export: %v %s", err, errOut)
	}
	return out
}

// exportState reads an export as objects by key (canonical JSON) and its closing line's cursor.
func exportState(t *testing.T, out string) (map[string]string, string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var end exportEnd
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &end); err != nil || end.EventCursor == nil || *end.EventCursor == "" {
		t.Fatalf("closing line %s: no event cursor (%v)", lines[len(lines)-1], err)
	}
	state := map[string]string{}
	for _, l := range lines[:len(lines)-1] {
		var head struct{ Kind string }
		if err := json.Unmarshal([]byte(l), &head); err != nil {
			t.Fatal(err)
		}
		k, v := canonObject(t, head.Kind, []byte(l))
		state[k] = v
	}
	return state, *end.EventCursor
}

// canonObject reads an object of kind (an export line, or an event's data.object) as its
// export line, and its key.
func canonObject(t *testing.T, kind string, raw []byte) (string, string) {
	t.Helper()
	var v any
	var key func() string
	switch kind {
	case "account":
		a := &exportAccount{}
		v, key = a, func() string { return "a " + a.ID }
	case "entity":
		e := &exportEntity{}
		v, key = e, func() string { return "e " + e.ID }
	case "relationship":
		r := &exportRelationship{}
		v, key = r, func() string { return "r " + r.key() }
	default:
		t.Fatalf("kind %q", kind)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	m["kind"] = kind
	b, _ = json.Marshal(m)
	return key(), string(b)
}

// replayFeed reads the feed of every account from cursor as super and applies each event to
// state, checking that the state before it is the one the event describes, until state is final.
// It returns how many events it applied.
func replayFeed(t *testing.T, svc *roster.Service, super roster.Principal, cursor string, state, final map[string]string) int {
	t.Helper()
	ctx := context.Background()
	state = maps.Clone(state)
	n := 0
	deadline := time.Now().Add(30 * time.Second)
	for !maps.Equal(state, final) {
		if time.Now().After(deadline) {
			t.Fatalf("after %d events from the export's cursor, the state differs from the final one", n)
		}
		page, err := svc.ListEvents(ctx, super, roster.EventRequest{Cursor: cursor, Limit: 100, Wait: time.Second})
		if err != nil {
			t.Fatalf("the feed from the export's cursor: %v", err)
		}
		for _, e := range page.Items {
			applyEvent(t, state, e)
			n++
		}
		cursor = page.Next
	}
	return n
}

// applyEvent applies e to state, failing if the state before it is not what e says it was.
func applyEvent(t *testing.T, state map[string]string, e roster.Event) {
	t.Helper()
	resource, action, _ := strings.Cut(e.Type, ".")
	if resource != "account" && resource != "entity" && resource != "relationship" {
		return
	}
	var data struct {
		Object   map[string]json.RawMessage `json:"object"`
		Previous map[string]json.RawMessage `json:"previous_attributes"`
	}
	if err := json.Unmarshal(e.Data, &data); err != nil {
		t.Fatal(err)
	}
	after, _ := json.Marshal(data.Object)
	key, now := canonObject(t, resource, after)
	was, exists := state[key]
	switch action {
	case "created":
		if exists {
			t.Fatalf("%s %s of %s: the export (or an earlier event) holds it already: an event seen twice", e.Type, roster.KindEvent.Prefixed(e.ID), key)
		}
		state[key] = now
	case "updated", "deleted":
		maps.Copy(data.Object, data.Previous)
		before, _ := json.Marshal(data.Object)
		_, then := canonObject(t, resource, before)
		if !exists || was != then {
			t.Fatalf("%s %s of %s: the state before it is\n%s\nnot\n%s\n(an event missed or seen twice)", e.Type, roster.KindEvent.Prefixed(e.ID), key, was, then)
		}
		if action == "updated" {
			state[key] = now
		} else {
			delete(state, key)
		}
	}
	if e.Type == roster.EventAccountDeleted { // its entities and relationships go with it
		id := key[len("a "):]
		for k, v := range state {
			if strings.Contains(v, `"account_id":"`+id+`"`) {
				delete(state, k)
			}
		}
	}
}

// TestExportCursorAccountDeletedPostgres: an account deleted while an older transaction is
// open (so the deletion's event is above the snapshot's xmin, and its entities go without events
// of their own): the export holds neither the account nor its entities, and its cursor gives
// exactly the changes it does not hold.
func TestExportCursorAccountDeletedPostgres(t *testing.T) {
	db := pgDatabase(t)
	f := populate(t, db)
	ctx := context.Background()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := roster.NewService(st, nil, nil)
	super, err := svc.Authenticate(ctx, f.super)
	if err != nil {
		t.Fatal(err)
	}
	doomed, err := svc.CreateAccount(ctx, roster.Operator(), []byte(`{"name":"Doomed"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateEntity(ctx, &roster.Request{Principal: roster.System}, fmt.Appendf(nil,
		`{"name":"its entity","account_id":%q,"module_ids":[],"source":null,"recipient":null}`, roster.KindAccount.Prefixed(doomed.ID))); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, os.Getenv("ROSTER_TEST_POSTGRES"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	hold, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hold.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PatchAccount(ctx, roster.Operator(), doomed.ID, []byte(`{"deleted":true}`)); err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 1)
	go func() {
		out, errOut, err := runCLI(t, map[string]string{"ROSTER_DATABASE": db}, "export")
		if err != nil {
			out = "error: " + err.Error() + errOut
		}
		done <- out
	}()
	time.Sleep(100 * time.Millisecond) // the export meets the open transaction (if it is slower, the test is only weaker)
	if err := hold.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	out := <-done
	if strings.HasPrefix(out, "error: ") {
		t.Fatal(out)
	}
	state, cursor := exportState(t, out)
	if _, ok := state["a "+roster.KindAccount.Prefixed(doomed.ID)]; ok {
		t.Fatal("the export holds the deleted account")
	}
	final, _ := exportState(t, exportLast(t, db))
	replayFeed(t, svc, super, cursor, state, final)
}
