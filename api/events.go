package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/rosterhq/roster"
)

// An event as SPEC §13 shows it:
//
//	{"id":"event_…","type":"entity.created","account_id":"account_…" or null,"sequence":7,
//	 "created_at":"…","data":{…},"request":{"id":"…","idempotency_key":"…" or null,"key_id":"key_…" or null}}
//
// appendEvent writes it straight from the stored event, with no view in between: a feed page's
// CPU went to the views, their ids' strings and encode's buffer (docs/performance.md, "Feed
// page"). The bytes are json.Marshal's of that object (events_json_test.go holds it to them).
//
// data is spliced in as stored: the write rendered it with json.Marshal (changeData), compact,
// with <, >, &, U+2028 and U+2029 escaped, so encoding/json would give the same bytes back
// after scanning and copying every one of them (a page of 100 events is ~100 KB of data).
func (s *surface) appendEvent(b []byte, e *roster.Event) []byte {
	b = append(b, `{"id":`...)
	b = s.appendID(b, roster.KindEvent, e.ID)
	b = append(b, `,"type":`...)
	b = appendString(b, e.Type)
	b = append(b, `,"account_id":`...)
	if e.AccountID == "" {
		b = append(b, "null"...)
	} else {
		b = s.appendID(b, roster.KindAccount, e.AccountID)
	}
	b = append(b, `,"sequence":`...)
	b = strconv.AppendInt(b, e.Sequence, 10)
	b = append(b, `,"created_at":`...)
	b = appendStamp(b, stamp(e.CreatedAt))
	b = append(b, `,"data":`...)
	if e.Data == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, e.Data...)
	}
	b = append(b, `,"request":{"id":`...)
	b = appendString(b, e.RequestID)
	b = append(b, `,"idempotency_key":`...)
	if e.IdempotencyKey == "" {
		b = append(b, "null"...)
	} else {
		b = appendString(b, e.IdempotencyKey)
	}
	b = append(b, `,"key_id":`...)
	if e.KeyID == "" {
		b = append(b, "null"...)
	} else {
		b = s.appendID(b, roster.KindKey, e.KeyID)
	}
	return append(b, "}}"...)
}

// eventSize guesses the length of an event's JSON: its data and the strings, and room for the
// names, the ids and the timestamp.
func eventSize(e *roster.Event) int {
	return 320 + len(e.Data) + len(e.Type) + len(e.RequestID) + len(e.IdempotencyKey)
}

// appendID writes a roster-owned id as s.id renders it, quoted, without making the string. The
// ids roster stores are hex, which needs no escape; anything else is quoted by appendString.
func (s *surface) appendID(b []byte, k roster.Kind, hexID string) []byte {
	for i := 0; i < len(hexID); i++ {
		if c := hexID[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return appendString(b, s.id(k, hexID))
		}
	}
	b = append(b, '"')
	if !s.bare {
		b = append(b, k...)
	}
	b = append(b, hexID...)
	return append(b, '"')
}

// eventRequest reads a feed request's query: limit, cursor, wait and the filters type,
// object_id and account_id.
func (c *call) eventRequest() roster.EventRequest {
	limit, err := roster.EventFeed.CheckLimit(c.param("limit"))
	req := roster.EventRequest{Limit: limit, Cursor: c.param("cursor"), Filters: map[string]string{}}
	_ = req.Problems.Absorb(err)
	req.Wait, err = roster.ParseEventWait(c.param("wait"))
	_ = req.Problems.Absorb(err)
	for _, f := range []string{"type", "object_id", "account_id"} {
		if v := c.param(f); v != "" && req.Problems.Text(v, "query", f) {
			req.Filters[f] = v
		}
	}
	return req
}

// MaxWaiting is how many long polls (GET /v1/events with wait) and event streams one account's
// keys together may have open at once.
const MaxWaiting = 32

// whileWaiting runs a request that may wait for events (a long poll, a stream) without holding
// one of its account's --max-in-flight places: an idle wait costs the server nothing, and a
// consumer's open stream must not starve the account's other requests. The place is taken back
// (past the limit, for a moment) before the request ends, for serveRoute to give back.
//
// Waiting requests have their own bound instead: at most MaxWaiting per account (a superadmin
// key: per key), beyond which 429, as each holds a goroutine and a watcher woken by every commit.
func (c *call) whileWaiting(fn func() error) error {
	tenant := c.p.Scope()
	if !c.s.waiting.acquire(tenant) {
		c.w.Header().Set("Retry-After", "1")
		return roster.Errorf(roster.CodeRateLimited, "this account has %d long polls and event streams open, the most it may; close one or retry in 1 s", MaxWaiting)
	}
	defer c.s.waiting.release(tenant)
	c.s.running.release(tenant)
	defer c.s.running.retake(tenant)
	return fn()
}

// retake takes a place of id's back whatever the limit (see whileWaiting).
func (f *inFlight) retake(id string) {
	if f.max <= 0 {
		return
	}
	f.mu.Lock()
	f.n[id]++
	f.mu.Unlock()
}

func (s *Server) listEvents(c *call) error {
	req := c.eventRequest()
	var page roster.EventPage
	read := func() error {
		var err error
		page, err = s.svc.ListEvents(c.r.Context(), c.p, req)
		return err
	}
	var err error
	if req.Wait > 0 {
		err = c.whileWaiting(func() error {
			// The server's write timeout would cut a long poll short.
			_ = http.NewResponseController(c.w).SetWriteDeadline(time.Now().Add(req.Wait + 30*time.Second))
			return read()
		})
	} else {
		err = read()
	}
	if err != nil {
		return err
	}
	// The bytes of listView.appendJSON, the items written by appendEvent, in a buffer of the
	// entity pages' pool (sent, then given back).
	size := 128 + len(page.Next)
	for i := range page.Items {
		size += eventSize(&page.Items[i]) + 1
	}
	b := append(slices.Grow(getPageBuffer(), size), `{"data":[`...)
	// SPEC §10: no response over 8 MiB. An event of an entity at the field limits, updated, holds
	// it twice (object and previous_attributes), so a page of 100 can pass that: the page then
	// ends after the last event that fits, its next cursor right after it (a client following
	// the cursors still reads every event once). The first event always fits.
	count, next, hasNext := len(page.Items), page.Next, page.HasNext
	for i := range page.Items {
		mark := len(b)
		if i > 0 {
			b = append(b, ',')
		}
		b = c.sf.appendEvent(b, &page.Items[i])
		if i > 0 && len(b) > listRoom {
			b = b[:mark]
			count, next, hasNext = i, page.CursorAfter(i-1), true
			break
		}
	}
	pv := paginationView{Count: count, HasNext: hasNext, NextCursor: &next}
	b, _ = pv.appendJSON(append(b, `],"pagination":`...))
	b = append(b, '}')
	c.send(http.StatusOK, b)
	putPageBuffer(b)
	return nil
}

func (s *Server) getEvent(c *call) error {
	id, ok := roster.ParseID(roster.KindEvent, c.r.PathValue("id"))
	if !ok {
		return roster.Invalid("string_pattern_mismatch", "String should match pattern '"+roster.KindEvent.Pattern()+"'", "path", "id")
	}
	e, err := s.svc.Event(c.r.Context(), c.p, id)
	if err != nil {
		return err
	}
	c.send(http.StatusOK, c.sf.appendEvent(make([]byte, 0, eventSize(&e)), &e))
	return nil
}

// sseHeartbeat is how long an open stream stays silent before a comment line keeps it open.
const sseHeartbeat = 15 * time.Second

// eventStream serves the feed as Server-Sent Events: each event with its type and, as its id,
// the cursor after it, so a client that reconnects with Last-Event-ID resumes where it was.
// Errors found before the stream starts (a bad cursor, 410) are answered as JSON; once it has
// started, an expired cursor ends it with an "error" event.
func (s *Server) eventStream(c *call) error {
	req := c.eventRequest()
	if last := c.header("Last-Event-ID"); last != "" {
		req.Cursor = last
	}
	req.Wait = 0
	if c.param("limit") == "" {
		// A stream has no pages to show: without a limit it reads the most a page may hold, so
		// that it keeps up with a busy feed (with 20 a read it fell behind 1,000 events/s on
		// the PostgreSQL feed of every account).
		req.Limit = roster.EventFeed.MaxLimit
	}
	ctx := c.r.Context()
	page, err := s.svc.ListEvents(ctx, c.p, req)
	if err != nil {
		return err
	}
	return c.whileWaiting(func() error {
		rc := http.NewResponseController(c.w)
		_ = rc.SetWriteDeadline(time.Time{}) // a stream has no end a write timeout could fit
		h := c.w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		c.status = http.StatusOK
		c.w.WriteHeader(http.StatusOK)
		if c.r.Method == http.MethodHead {
			return nil // the head of the stream, without the stream
		}
		stop, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-s.streams.done():
				cancel()
			case <-stop.Done():
			}
		}()
		for {
			var buf []byte
			for i := range page.Items {
				e := &page.Items[i]
				buf = append(buf, "id: "...)
				buf = append(buf, page.CursorAfter(i)...)
				buf = append(buf, "\nevent: "...)
				buf = append(buf, e.Type...)
				buf = append(buf, "\ndata: "...)
				buf = append(c.sf.appendEvent(buf, e), "\n\n"...)
			}
			if len(page.Items) == 0 && !page.HasNext {
				buf = append(buf, ": heartbeat\n\n"...)
			}
			if _, err := c.w.Write(buf); err != nil {
				return nil // the client went away
			}
			if err := rc.Flush(); err != nil {
				return nil
			}
			req.Cursor, req.Filters, req.Wait = page.Next, nil, sseHeartbeat
			if page.HasNext {
				req.Wait = 0
			}
			page, err = s.svc.ListEvents(stop, c.p, req)
			if stop.Err() != nil {
				return nil // shutdown, or the client went away: the stream ends cleanly
			}
			if err != nil {
				if e := (*roster.Error)(nil); errors.As(err, &e) && e.Code == roster.CodeCursorExpired {
					b, _ := encode(c.sf.renderError(http.StatusGone, e))
					_, _ = c.w.Write(append(append([]byte("event: error\ndata: "), b...), "\n\n"...))
					return nil
				}
				var e *roster.Error
				if !errors.As(err, &e) || e.Code == roster.CodeInternal {
					s.log.Error("event stream", "request_id", c.reqID, "err", err)
				}
				return nil
			}
		}
	})
}

// streamStop ends the open event streams when the server shuts down (SPEC §13: SIGTERM ends
// streams cleanly, where net/http's Shutdown would wait for them until its timeout). The zero
// value is ready.
type streamStop struct {
	mu sync.Mutex
	ch chan struct{}
}

func (s *streamStop) done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.chanLocked()
}

func (s *streamStop) chanLocked() chan struct{} {
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// CloseStreams ends every open event stream, now and from now on. Register it with
// http.Server.RegisterOnShutdown.
func (s *Server) CloseStreams() {
	s.streams.mu.Lock()
	defer s.streams.mu.Unlock()
	ch := s.streams.chanLocked()
	select {
	case <-ch:
	default:
		close(ch)
	}
}
