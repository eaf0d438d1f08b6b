package roster

import (
	"context"
	"sync"
	"time"
)

// Refusals (401, 403) are recorded bounded under floods (SPEC §15): at most one record per
// source address, action and account each second. The first refusal of such a triple opens a
// window of refusalWindow; the refusals that follow within it only count; when it closes, one
// record is written for all of them, with their count, the time, request id and user agent of
// the first. A flood of any size from one address thus costs one write a second, whatever the
// number of goroutines serving it. The windows are per process: N processes on one database
// write at most N records a second per triple. A process that stops loses the windows still
// open (at most a second of refusals); SIGTERM flushes them (FlushRefusals).

// refusalWindow is how long refusals of one triple are gathered into one record.
const refusalWindow = time.Second

// maxRefusalWindows bounds the windows open at once (memory under a flood from many
// addresses); past it, refusals are gathered per action and account alone, with no source.
const maxRefusalWindows = 10000

type refusalKey struct {
	ip, action, account string
}

// refusals are the open windows.
type refusals struct {
	mu   sync.Mutex
	open map[refusalKey]*AuditRecord
}

// AuditRefusal records that r was refused with status (401 or 403): in the platform's chain
// for a 401 (the caller is unknown), in the caller's account's chain for a 403 (a superadmin's:
// the platform's). It returns at once; the record is written when its window closes.
func (s *Service) AuditRefusal(r *Request, status int) {
	if s.audit.off {
		return
	}
	rec := AuditRecord{RequestID: r.ID, IdempotencyKey: r.IdempotencyKey, Outcome: OutcomeDenied, Status: status,
		Source: r.Source, Count: 1, OccurredAt: s.Now()}
	if status == 401 {
		rec.Action, rec.ActorType = ActionAuthFailed, ActorAnonymous
	} else {
		rec.Action, rec.AccountID = ActionAccessDenied, r.Principal.AccountID
		rec.setActor(r.Principal)
	}
	key := refusalKey{ip: r.Source.IP, action: rec.Action, account: rec.AccountID}
	w := &s.audit.refusals
	w.mu.Lock()
	if w.open == nil {
		w.open = map[refusalKey]*AuditRecord{}
	}
	if open, ok := w.open[key]; ok {
		open.Count++
		w.mu.Unlock()
		return
	}
	if len(w.open) >= maxRefusalWindows {
		key.ip = ""
		rec.Source = Source{}
		if open, ok := w.open[key]; ok {
			open.Count++
			w.mu.Unlock()
			return
		}
	}
	w.open[key] = &rec
	w.mu.Unlock()
	time.AfterFunc(refusalWindow, func() { s.flushRefusal(key) })
}

// flushRefusal closes the window of key and writes its record.
func (s *Service) flushRefusal(key refusalKey) {
	w := &s.audit.refusals
	w.mu.Lock()
	rec, ok := w.open[key]
	delete(w.open, key)
	w.mu.Unlock()
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.store.Update(ctx, func(tx Tx) error {
		r := *rec // a transaction retried starts again from the gathered record
		return s.appendAudit(ctx, tx, &r)
	})
	if err != nil {
		s.log.Error("recording refused requests in the audit trail failed", "action", rec.Action, "count", rec.Count, "err", err)
	}
}

// FlushRefusals writes the records of every open window now: at shutdown, before the store
// closes.
func (s *Service) FlushRefusals() {
	w := &s.audit.refusals
	w.mu.Lock()
	keys := make([]refusalKey, 0, len(w.open))
	for k := range w.open {
		keys = append(keys, k)
	}
	w.mu.Unlock()
	for _, k := range keys {
		s.flushRefusal(k)
	}
}
