package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// feedPatience is how long a test waits for the feed of every account to show what committed: on
// PostgreSQL any transaction open anywhere on the cluster holds it back (docs/events.md), and a
// shared test server may have a long one (a bulk load) open for a while.
const feedPatience = time.Minute

// eventRec is a record of account (bare hex; "" for none) with an object and a type.
func eventRec(account, typ, object string, created time.Time) roster.EventRecord {
	return roster.EventRecord{AccountID: account, Type: typ, ObjectID: object, Data: []byte(`{"object":{"id":"` + object + `"}}`),
		RequestID: "req-" + object, CreatedAt: created}
}

func appendEvents(t *testing.T, s roster.Store, recs ...roster.EventRecord) []roster.Event {
	t.Helper()
	var out []roster.Event
	update(t, s, func(ctx context.Context, tx roster.Tx) error {
		var err error
		out, err = tx.AppendEvents(ctx, recs)
		return err
	})
	return out
}

func eventHorizon(t *testing.T, s roster.Store, account string) roster.EventHorizon {
	t.Helper()
	var h roster.EventHorizon
	view(t, s, func(ctx context.Context, tx roster.Tx) error {
		var err error
		h, err = tx.EventHorizon(ctx, account)
		return err
	})
	return h
}

func readEvents(t *testing.T, s roster.Store, q roster.EventQuery) roster.EventScan {
	t.Helper()
	var out roster.EventScan
	view(t, s, func(ctx context.Context, tx roster.Tx) error {
		var err error
		out, err = tx.Events(ctx, q)
		return err
	})
	return out
}

// drainAll reads the feed of every account from after to its end, a few events at a time, and
// returns what it read and where it ended.
func drainAll(t *testing.T, s roster.Store, after roster.FeedPosition) ([]roster.Event, roster.FeedPosition) {
	t.Helper()
	var out []roster.Event
	for {
		sc := readEvents(t, s, roster.EventQuery{All: true, After: after, Limit: 7})
		out = append(out, sc.Events...)
		if sc.Examined == 0 {
			return out, after
		}
		if !after.Less(sc.Last.Position) {
			t.Fatalf("the feed went back: %+v after %+v", sc.Last.Position, after)
		}
		after = sc.Last.Position
	}
}

func eventIDs(es []roster.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func testEvents(t *testing.T, s roster.Store) {
	a, b := roster.NewID(base), roster.NewID(base)
	got := appendEvents(t, s,
		eventRec(a, roster.EventEntityCreated, "e1", at(time.Second)),
		eventRec(b, roster.EventAccountUpdated, b, at(time.Second)),
		eventRec(a, roster.EventEntityUpdated, "e1", at(time.Second)),
		eventRec("", roster.EventKeyCreated, "k1", at(time.Second)))
	got = append(got, appendEvents(t, s,
		eventRec(a, roster.EventRelationshipCreated, "e1", at(2*time.Second)),
		eventRec(a, roster.EventEntityCreated, "e2", at(2*time.Second)))...)
	same(t, "sequences", []int64{got[0].Sequence, got[1].Sequence, got[2].Sequence, got[3].Sequence, got[4].Sequence, got[5].Sequence},
		[]int64{1, 1, 2, 1, 3, 4})
	for i := 1; i < len(got); i++ {
		if !got[i-1].Position.Less(got[i].Position) {
			t.Fatalf("positions out of append order: %+v then %+v", got[i-1].Position, got[i].Position)
		}
	}
	for _, e := range got {
		var one roster.Event
		view(t, s, func(ctx context.Context, tx roster.Tx) error {
			var err error
			one, err = tx.EventByID(ctx, e.ID)
			return err
		})
		same(t, "event by id", one, e)
	}
	wantErr(t, "unknown event", viewErr(t, s, func(ctx context.Context, tx roster.Tx) error {
		_, err := tx.EventByID(ctx, roster.NewID(base))
		return err
	}), roster.ErrNotFound)

	// Once visible, always visible: the reads below need not wait.
	all, _ := drainAllAtLeast(t, s, roster.FeedPosition{}, len(got))
	same(t, "feed of every account", eventIDs(all), eventIDs(got))

	acct := readEvents(t, s, roster.EventQuery{AccountID: a, Limit: 10})
	same(t, "account feed", eventIDs(acct.Events), eventIDs([]roster.Event{got[0], got[2], got[4], got[5]}))
	acct = readEvents(t, s, roster.EventQuery{AccountID: a, AfterSequence: 2, Limit: 1})
	same(t, "account feed after 2, one", eventIDs(acct.Events), []string{got[4].ID})
	platform := readEvents(t, s, roster.EventQuery{AccountID: "", Limit: 10})
	same(t, "platform feed", eventIDs(platform.Events), []string{got[3].ID})

	for _, tc := range []struct {
		name string
		q    roster.EventQuery
		want []roster.Event
	}{
		{"type", roster.EventQuery{AccountID: a, Type: roster.EventEntityCreated}, []roster.Event{got[0], got[5]}},
		{"type prefix", roster.EventQuery{All: true, TypePrefix: "entity."}, []roster.Event{got[0], got[2], got[5]}},
		{"object", roster.EventQuery{All: true, ObjectID: "e1"}, []roster.Event{got[0], got[2], got[4]}},
		{"object and type", roster.EventQuery{AccountID: a, ObjectID: "e1", TypePrefix: "relationship."}, []roster.Event{got[4]}},
		{"no match", roster.EventQuery{All: true, Type: roster.EventAccountDeleted}, nil},
	} {
		tc.q.Limit, tc.q.Window = 10, 100
		sc := readEvents(t, s, tc.q)
		same(t, tc.name, eventIDs(sc.Events), eventIDs(tc.want))
		if sc.Examined != len(got) && tc.q.All || !tc.q.All && sc.Examined != 4 {
			t.Fatalf("%s: examined %d events", tc.name, sc.Examined)
		}
	}
	// A filtered read examines at most its window: it stops there, and says where.
	sc := readEvents(t, s, roster.EventQuery{All: true, Type: roster.EventEntityCreated, Limit: 10, Window: 3})
	same(t, "windowed read", eventIDs(sc.Events), []string{got[0].ID})
	if sc.Examined != 3 || sc.Last.Position != got[2].Position {
		t.Fatalf("windowed read: examined %d, last %+v; want 3 ending at %+v", sc.Examined, sc.Last.Position, got[2].Position)
	}
	// and a read that fills its limit stops at the last match.
	sc = readEvents(t, s, roster.EventQuery{All: true, TypePrefix: "entity.", Limit: 2, Window: 100})
	same(t, "limited read", eventIDs(sc.Events), []string{got[0].ID, got[2].ID})
	if sc.Last.Position != got[2].Position {
		t.Fatalf("limited read ends at %+v, want %+v", sc.Last.Position, got[2].Position)
	}
}

// testEventsRollback checks that a write that fails leaves neither its events nor a counter
// step, also when it shares a group commit with writes that succeed.
func testEventsRollback(t *testing.T, s roster.Store) {
	a := roster.NewID(base)
	boom := errors.New("boom")
	err := updateErr(t, s, func(ctx context.Context, tx roster.Tx) error {
		if _, err := tx.AppendEvents(ctx, []roster.EventRecord{eventRec(a, roster.EventEntityCreated, "x", at(0))}); err != nil {
			return err
		}
		return boom
	})
	wantErr(t, "failing write", err, boom)
	if all, _ := drainAll(t, s, roster.FeedPosition{}); len(all) != 0 {
		t.Fatalf("a rolled-back write left %d events", len(all))
	}
	var wg sync.WaitGroup
	const writers = 24
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.Update(t.Context(), func(tx roster.Tx) error {
				if _, err := tx.AppendEvents(t.Context(), []roster.EventRecord{eventRec(a, roster.EventEntityCreated, fmt.Sprint(i), at(0))}); err != nil {
					return err
				}
				if i%2 == 1 {
					return boom
				}
				return nil
			})
		}()
	}
	wg.Wait()
	sc := readEvents(t, s, roster.EventQuery{AccountID: a, Limit: 100})
	if len(sc.Events) != writers/2 {
		t.Fatalf("%d events after %d writes that succeeded", len(sc.Events), writers/2)
	}
	for i, e := range sc.Events {
		var n int
		if _, err := fmt.Sscan(e.ObjectID, &n); err != nil || n%2 == 1 {
			t.Fatalf("event of a failed write: %+v", e)
		}
		if e.Sequence != int64(i+1) {
			t.Fatalf("event %d has sequence %d: a rolled-back write took a number", i, e.Sequence)
		}
	}
}

// testEventsRecorded: events appended with RecordEvents, which a store may hold back until the
// transaction's next statement or its commit (PostgreSQL's pipeline), are in the feed as
// AppendEvents' are: kept when the transaction commits, whether a statement follows them or
// not, gone with a rollback; and when their statement fails, the write fails and leaves
// nothing.
func testEventsRecorded(t *testing.T, s roster.Store) {
	a := roster.NewID(base)
	rec := func(object string) roster.EventRecord { return eventRec(a, roster.EventEntityUpdated, object, at(0)) }
	feed := func() []string {
		var out []string
		for _, e := range readEvents(t, s, roster.EventQuery{AccountID: a, Limit: 100}).Events {
			out = append(out, fmt.Sprint(e.Sequence, " ", e.ObjectID))
		}
		return out
	}
	update(t, s, func(ctx context.Context, tx roster.Tx) error {
		if err := tx.RecordEvents(ctx, []roster.EventRecord{rec("1"), rec("2")}); err != nil {
			return err
		}
		_, err := tx.EventHorizon(ctx, a) // a statement after them (which may carry them)
		return err
	})
	update(t, s, func(ctx context.Context, tx roster.Tx) error {
		return tx.RecordEvents(ctx, []roster.EventRecord{rec("3")}) // and nothing after it
	})
	same(t, "feed after two recording writes", feed(), []string{"1 1", "2 2", "3 3"})
	boom := errors.New("boom")
	wantErr(t, "a write that fails after recording", updateErr(t, s, func(ctx context.Context, tx roster.Tx) error {
		if err := tx.RecordEvents(ctx, []roster.EventRecord{rec("rolled back")}); err != nil {
			return err
		}
		return boom
	}), boom)
	bad := rec("bad")
	bad.Data = nil // events.data is NOT NULL: the statement fails wherever the store sends it
	if err := updateErr(t, s, func(ctx context.Context, tx roster.Tx) error {
		return tx.RecordEvents(ctx, []roster.EventRecord{rec("with the bad one"), bad})
	}); err == nil {
		t.Fatal("a write whose events' statement fails committed")
	}
	if err := updateErr(t, s, func(ctx context.Context, tx roster.Tx) error {
		if err := tx.RecordEvents(ctx, []roster.EventRecord{bad}); err != nil {
			return err
		}
		_, err := tx.EventHorizon(ctx, a) // the next statement carries the failure
		return err
	}); err == nil {
		t.Fatal("a write whose events' statement fails, read after it, committed")
	}
	update(t, s, func(ctx context.Context, tx roster.Tx) error {
		return tx.RecordEvents(ctx, []roster.EventRecord{rec("4")})
	})
	same(t, "feed after the failed writes and one more", feed(), []string{"1 1", "2 2", "3 3", "4 4"})
}

// testEventsConcurrentSequence races writers over a few accounts: every account's sequence is
// 1..n with no gap and no repeat, and the feed of every account holds each account's events in
// sequence order.
func testEventsConcurrentSequence(t *testing.T, s roster.Store) {
	accounts := []string{roster.NewID(base), roster.NewID(base), roster.NewID(base)}
	const writers, each = 12, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				a, b := accounts[(w+i)%len(accounts)], accounts[(w+i+1)%len(accounts)]
				recs := []roster.EventRecord{eventRec(a, roster.EventEntityUpdated, fmt.Sprintf("w%d-%d", w, i), at(0))}
				if i%3 == 0 { // some writes touch two accounts
					recs = append(recs, eventRec(b, roster.EventEntityUpdated, fmt.Sprintf("w%d-%d-b", w, i), at(0)))
				}
				if err := s.Update(t.Context(), func(tx roster.Tx) error {
					_, err := tx.AppendEvents(t.Context(), recs)
					return err
				}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("append: %v", err)
	}
	var all []roster.Event
	deadline := time.Now().Add(feedPatience)
	total := writers*each + writers*((each+2)/3)
	for {
		all, _ = drainAll(t, s, roster.FeedPosition{})
		// On PostgreSQL a transaction of another database of the cluster may hold the feed of
		// every account back for a moment.
		if len(all) >= total || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(all) != total {
		t.Fatalf("the feed of every account holds %d events, want %d", len(all), total)
	}
	seen := map[string]bool{}
	last := map[string]int64{}
	for _, e := range all {
		if seen[e.ID] {
			t.Fatalf("event %s twice in the feed", e.ID)
		}
		seen[e.ID] = true
		if e.Sequence != last[e.AccountID]+1 {
			t.Fatalf("account %s: sequence %d after %d in the feed of every account", e.AccountID, e.Sequence, last[e.AccountID])
		}
		last[e.AccountID] = e.Sequence
	}
	for _, a := range accounts {
		sc := readEvents(t, s, roster.EventQuery{AccountID: a, Limit: 1000})
		for i, e := range sc.Events {
			if e.Sequence != int64(i+1) {
				t.Fatalf("account feed %s: event %d has sequence %d", a, i, e.Sequence)
			}
		}
		if int64(len(sc.Events)) != last[a] {
			t.Fatalf("account %s: %d events in its feed, %d in the feed of every account", a, len(sc.Events), last[a])
		}
	}
}

// testEventsLateCommit holds a transaction open after it appended, lets another commit, and
// reads the feed of every account in between: the reader must not pass the open transaction's
// place, so that once it commits the next read from the same cursor finds it.
func testEventsLateCommit(t *testing.T, s roster.Store) {
	a, b := roster.NewID(base), roster.NewID(base)
	appendEvents(t, s, eventRec(a, roster.EventEntityCreated, "before", at(0)))
	before, cursor := drainAllAtLeast(t, s, roster.FeedPosition{}, 1)
	same(t, "before", len(before), 1)

	appended, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	defer unblock()
	firstDone, secondDone := make(chan error, 1), make(chan error, 1)
	go func() {
		firstDone <- s.Update(t.Context(), func(tx roster.Tx) error {
			_, err := tx.AppendEvents(t.Context(), []roster.EventRecord{eventRec(a, roster.EventEntityUpdated, "late", at(0))})
			close(appended)
			<-release
			return err
		})
	}()
	<-appended
	go func() {
		secondDone <- s.Update(t.Context(), func(tx roster.Tx) error {
			_, err := tx.AppendEvents(t.Context(), []roster.EventRecord{eventRec(b, roster.EventEntityUpdated, "early", at(0))})
			return err
		})
	}()
	// PostgreSQL commits the second while the first is open; SQLite's one writer makes it wait.
	select {
	case err := <-secondDone:
		if err != nil {
			t.Fatalf("second write: %v", err)
		}
		secondDone <- nil
		early := readEvents(t, s, roster.EventQuery{AccountID: b, Limit: 10})
		same(t, "the committed event in its account's feed", len(early.Events), 1)
	case <-time.After(300 * time.Millisecond):
	}
	mid, cursor2 := drainAll(t, s, cursor)
	if len(mid) != 0 {
		t.Fatalf("while an earlier transaction is open, the feed of every account passed it: read %+v", mid)
	}
	unblock()
	if err := <-firstDone; err != nil {
		t.Fatalf("first write: %v", err)
	}
	if err := <-secondDone; err != nil {
		t.Fatalf("second write: %v", err)
	}
	after, _ := drainAllAtLeast(t, s, cursor2, 2)
	var objects []string
	for _, e := range after {
		objects = append(objects, e.ObjectID)
	}
	slices.Sort(objects)
	same(t, "events read after both committed", objects, []string{"early", "late"})
}

// drainAllAtLeast is drainAll until it has read n events (a transaction of another database of
// the PostgreSQL cluster may hold the feed back for a moment).
func drainAllAtLeast(t *testing.T, s roster.Store, after roster.FeedPosition, n int) ([]roster.Event, roster.FeedPosition) {
	t.Helper()
	var out []roster.Event
	deadline := time.Now().Add(feedPatience)
	for {
		es, end := drainAll(t, s, after)
		out, after = append(out, es...), end
		if len(out) >= n || time.Now().After(deadline) {
			return out, after
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testEventsPrune checks that pruning deletes the oldest events only, in feed order, and moves
// the horizons that turn an old cursor into cursor_expired.
func testEventsPrune(t *testing.T, s roster.Store) {
	a, b := roster.NewID(base), roster.NewID(base)
	var recs []roster.EventRecord
	for i := range 10 {
		acct := a
		if i%3 == 2 {
			acct = b
		}
		recs = append(recs, eventRec(acct, roster.EventEntityUpdated, fmt.Sprint(i), at(time.Duration(i)*time.Minute)))
	}
	// One event out of time order: later in the feed than events created after it.
	recs = append(recs, eventRec(a, roster.EventEntityUpdated, "old", at(0)))
	var got []roster.Event
	for _, r := range recs {
		got = append(got, appendEvents(t, s, r)...)
	}
	prune := func(before time.Time, limit int) int {
		var n int
		update(t, s, func(ctx context.Context, tx roster.Tx) error {
			var err error
			n, err = tx.PruneEvents(ctx, before, limit)
			return err
		})
		return n
	}
	horizon := func(account string) roster.EventHorizon { return eventHorizon(t, s, account) }
	// Pruning takes only events every reader may see; wait until all of them are.
	drainAllAtLeast(t, s, roster.FeedPosition{}, len(got))
	same(t, "horizon before any pruning", horizon(a), roster.EventHorizon{})
	if n := prune(at(0), 100); n != 0 {
		t.Fatalf("pruned %d events older than the oldest", n)
	}
	if n := prune(at(4*time.Minute), 2); n != 2 {
		t.Fatalf("pruned %d events with a limit of 2", n)
	}
	same(t, "horizon of a after pruning 2", horizon(a), roster.EventHorizon{Sequence: 2, Position: got[1].Position})
	if n := prune(at(4*time.Minute), 100); n != 2 {
		t.Fatalf("pruned %d more events before minute 4, want 2", n)
	}
	same(t, "horizon of b", horizon(b), roster.EventHorizon{Sequence: 1, Position: got[3].Position})
	same(t, "horizon of a", horizon(a), roster.EventHorizon{Sequence: 3, Position: got[3].Position})
	rest, _ := drainAll(t, s, roster.FeedPosition{})
	same(t, "events left", eventIDs(rest), eventIDs(got[4:]))
	wantErr(t, "a pruned event", viewErr(t, s, func(ctx context.Context, tx roster.Tx) error {
		_, err := tx.EventByID(ctx, got[0].ID)
		return err
	}), roster.ErrNotFound)
	// The last event is old but follows newer ones: it goes with them, never before.
	if n := prune(at(9*time.Minute), 100); n != 5 {
		t.Fatalf("pruned %d events before minute 9, want 5", n)
	}
	if n := prune(at(time.Hour), 100); n != 2 {
		t.Fatalf("pruned %d events at the end, want 2", n)
	}
	same(t, "horizon of the empty feed", horizon(a).Position, got[len(got)-1].Position)
	more := appendEvents(t, s, eventRec(a, roster.EventEntityUpdated, "new", at(time.Hour)))
	if fresh, _ := drainAllAtLeast(t, s, roster.FeedPosition{}, 1); len(fresh) != 1 {
		t.Fatalf("after pruning everything and appending one, the feed holds %d events", len(fresh))
	}
	if more[0].Sequence != got[len(got)-1].Sequence+1 || !got[len(got)-1].Position.Less(more[0].Position) {
		t.Fatalf("after pruning everything, a new event took sequence %d at %+v", more[0].Sequence, more[0].Position)
	}
}

// testEventsPruneManyAccounts: one pruning that empties the feeds of more accounts than one
// statement moves the horizons of moves every one of them.
func testEventsPruneManyAccounts(t *testing.T, s roster.Store) {
	const accounts = 75 // more than two statements' worth
	ids := make([]string, accounts)
	for i := range ids {
		ids[i] = roster.NewID(base)
	}
	var got []roster.Event
	for round := range 2 {
		for _, a := range ids {
			got = append(got, appendEvents(t, s, eventRec(a, roster.EventEntityUpdated, fmt.Sprint(round), at(0)))...)
		}
	}
	drainAllAtLeast(t, s, roster.FeedPosition{}, len(got))
	update(t, s, func(ctx context.Context, tx roster.Tx) error {
		n, err := tx.PruneEvents(ctx, at(time.Minute), len(got))
		if err == nil && n != len(got) {
			t.Errorf("pruned %d events, want %d", n, len(got))
		}
		return err
	})
	for _, a := range ids {
		same(t, "horizon of account "+a, eventHorizon(t, s, a), roster.EventHorizon{Sequence: 2, Position: got[len(got)-1].Position})
	}
}

// testEventsConcurrentPrune: two pruners (two processes, on PostgreSQL) run beside appenders to
// three accounts. Each event is pruned once (the counts add up to what was appended), nothing
// fails or deadlocks, and at the end every account's horizon is its last sequence and the feed's
// horizon its last position: no horizon went back, none was left behind.
func testEventsConcurrentPrune(t *testing.T, s roster.Store) {
	accounts := []string{roster.NewID(base), roster.NewID(base), roster.NewID(base)}
	const appenders, each = 4, 30
	var pruned atomic.Int64
	prune := func() (int, error) {
		var n int
		err := s.Update(t.Context(), func(tx roster.Tx) error {
			var err error
			n, err = tx.PruneEvents(t.Context(), at(time.Hour), 7)
			return err
		})
		pruned.Add(int64(n))
		return n, err
	}
	var appending, pruning sync.WaitGroup
	var mu sync.Mutex
	var got []roster.Event
	done := make(chan struct{})
	for w := range appenders {
		appending.Go(func() {
			for i := range each {
				r := eventRec(accounts[(w+i)%len(accounts)], roster.EventEntityUpdated, fmt.Sprint(w, "-", i), at(0))
				var out []roster.Event
				err := s.Update(t.Context(), func(tx roster.Tx) error {
					var err error
					out, err = tx.AppendEvents(t.Context(), []roster.EventRecord{r})
					return err
				})
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				mu.Lock()
				got = append(got, out...)
				mu.Unlock()
			}
		})
	}
	for range 2 {
		pruning.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := prune(); err != nil {
					t.Errorf("prune beside appends: %v", err)
					return
				}
			}
		})
	}
	appending.Wait()
	close(done)
	pruning.Wait()
	if t.Failed() {
		return
	}
	// What is left, once every reader may see it, goes now, by both pruners at once.
	deadline := time.Now().Add(feedPatience)
	for pruned.Load() < int64(len(got)) && time.Now().Before(deadline) {
		var both sync.WaitGroup
		for range 2 {
			both.Go(func() {
				if _, err := prune(); err != nil {
					t.Errorf("prune: %v", err)
				}
			})
		}
		both.Wait()
		time.Sleep(5 * time.Millisecond)
	}
	same(t, "events pruned", pruned.Load(), int64(len(got)))
	last := map[string]int64{}
	var end roster.FeedPosition
	for _, e := range got {
		last[e.AccountID] = max(last[e.AccountID], e.Sequence)
		if end.Less(e.Position) {
			end = e.Position
		}
	}
	for _, a := range accounts {
		same(t, "an account's horizon", eventHorizon(t, s, a), roster.EventHorizon{Sequence: last[a], Position: end})
	}
}
