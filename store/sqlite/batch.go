package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store/sqlstore"
)

// Group commit. SQLite with synchronous=FULL pays one fsync per commit, which caps
// one-transaction-per-write at the disk's fsync rate. Instead, writes queue for the one
// writer connection; whoever is waiting when the writer is free shares the next transaction,
// each inside its own savepoint, so a failing write rolls back alone. Every caller learns its
// outcome only after the shared COMMIT, so a nil error still means "on disk".

// maxBatch bounds how many writes share one transaction.
const maxBatch = 128

type writeReq struct {
	ctx  context.Context
	fn   func(roster.Tx) error
	lazy bool // may commit without an fsync of its own (see roster.Store.UpdateLazy)
	done chan error
}

var errClosed = errors.New("sqlite: store is closed")

// Update implements roster.Store: fn runs in a transaction it may share with concurrent writes.
func (s *Store) Update(ctx context.Context, fn func(roster.Tx) error) error {
	return s.enqueue(ctx, fn, false)
}

// UpdateLazy implements roster.Store. A batch made only of lazy writes commits with
// synchronous=NORMAL: in WAL mode its frames reach the disk with the next FULL commit's fsync,
// which covers every frame before it.
func (s *Store) UpdateLazy(ctx context.Context, fn func(roster.Tx) error) error {
	return s.enqueue(ctx, fn, true)
}

func (s *Store) enqueue(ctx context.Context, fn func(roster.Tx) error, lazy bool) error {
	req := &writeReq{ctx: ctx, fn: fn, lazy: lazy, done: make(chan error, 1)}
	select {
	case <-s.quit:
		return errClosed
	default:
	}
	select {
	case s.writes <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.quit:
		return errClosed
	}
	// Once queued the write may commit, so wait for its outcome whatever ctx does. The queue
	// may also have taken it after the writer drained it for the last time (a select with a
	// closed quit and room in the queue picks either): the writer answers every write it took
	// before it ends, so once it has ended, no answer means the write never ran.
	select {
	case err := <-req.done:
		return err
	case <-s.loopDone:
		select {
		case err := <-req.done:
			return err
		default:
			return errClosed
		}
	}
}

// writeLoop owns the writer connection until the store closes.
func (s *Store) writeLoop() {
	defer close(s.loopDone)
	batch := make([]*writeReq, 0, maxBatch)
	for {
		select {
		case <-s.quit:
			s.drainClosed()
			return
		case req := <-s.writes:
			batch = append(batch[:0], req)
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case req := <-s.writes:
				batch = append(batch, req)
			default:
				break fill
			}
		}
		s.runBatch(batch)
		s.rewindWAL()
	}
}

func (s *Store) drainClosed() {
	for {
		select {
		case req := <-s.writes:
			req.done <- errClosed
		default:
			return
		}
	}
}

// runBatch runs the writes of one batch in one transaction and one commit.
func (s *Store) runBatch(batch []*writeReq) {
	lazy := true
	for _, req := range batch {
		lazy = lazy && req.lazy
	}
	results := make([]error, len(batch))
	err := s.setSynchronous(lazy)
	var q *sqlstore.Tx
	if err == nil {
		err = s.inTx(context.Background(), s.batchBody(batch, results, &q))
	}
	switch {
	case err == nil:
		q.Kept()
		if q.Appended() {
			s.events.Wake()
		}
	default:
		s.cache.Reset()
	}
	s.wstmts.prepareMissed()
	s.commits.Add(1)
	s.writesDone.Add(int64(len(batch)))
	for i, req := range batch {
		switch {
		case results[i] != nil:
			req.done <- results[i]
		case err != nil:
			req.done <- err
		default:
			req.done <- nil
		}
	}
}

// setSynchronous puts the writer in the durability mode a batch needs: FULL (an fsync at
// COMMIT) unless every write of the batch is lazy. Checked before every batch, so a durable
// batch can never run in the lazy mode; a failure to set it fails the batch.
func (s *Store) setSynchronous(lazy bool) error {
	mode := "FULL"
	if lazy {
		mode = "NORMAL"
	}
	if s.syncMode == mode {
		return nil
	}
	s.syncMode = ""
	if _, err := s.writer.Exec(`PRAGMA synchronous=` + mode); err != nil {
		return err
	}
	s.syncMode = mode
	return nil
}

// batchBody runs the writes of a batch inside its transaction, recording each one's outcome.
func (s *Store) batchBody(batch []*writeReq, results []error, qp **sqlstore.Tx) func(*sql.Tx) error {
	return func(tx *sql.Tx) error {
		w := querier{tx: tx, w: s.wstmts}
		q := sqlstore.NewTx(w, s.dialect)
		*qp = q
		if err := s.checkCache(tx); err != nil {
			return err
		}
		q.Buffer(s.cache) // the batch's events and audit records, written once at its end
		// The savepoint statements go through the writer's statement cache like the writes.
		exec := func(stmt string) error {
			_, err := w.Exec(context.Background(), stmt)
			return err
		}
		shared := len(batch) > 1
		for i, req := range batch {
			if err := req.ctx.Err(); err != nil {
				results[i] = err
				continue
			}
			if shared {
				if err := exec(`SAVEPOINT w`); err != nil {
					return err
				}
			}
			mark := q.Mark()
			results[i] = safeRun(req.fn, q)
			if !shared {
				if results[i] != nil {
					return errRolledBack
				}
				continue
			}
			if results[i] != nil {
				if err := exec(`ROLLBACK TO w`); err != nil {
					return err
				}
				q.Rollback(mark)
			}
			if err := exec(`RELEASE w`); err != nil {
				return err
			}
		}
		return q.Flush(context.Background())
	}
}

// checkCache drops the write cache (sqlstore.WriteCache) when the database may have changed
// since the batch that filled it: another connection committed (PRAGMA data_version, read in
// this transaction, which holds the write lock, so nothing can commit after the check), or a bulk
// load wrote through the writer connection itself.
func (s *Store) checkCache(tx *sql.Tx) error {
	var v int64
	if err := tx.QueryRow(`PRAGMA data_version`).Scan(&v); err != nil {
		return err
	}
	if gen := s.bulkGen.Load(); v != s.dataVersion || gen != s.cacheGen {
		s.cache.Reset()
		s.dataVersion, s.cacheGen = v, gen
	}
	return nil
}

// errRolledBack ends a batch of one whose write failed: its own error is already recorded.
var errRolledBack = errors.New("rolled back")

// safeRun turns a panic in a write into that write's error instead of the writer's death.
func safeRun(fn func(roster.Tx) error, tx roster.Tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("sqlite: write panicked: %v", v)
		}
	}()
	return fn(tx)
}

// GroupCommitStats reports how many commits carried how many writes.
func (s *Store) GroupCommitStats() (commits, writes int64) {
	return s.commits.Load(), s.writesDone.Load()
}

type counters struct {
	commits    atomic.Int64
	writesDone atomic.Int64
	walRewind  atomic.Bool  // the checkpointer asks the write loop to let the WAL rewind
	walRewinds atomic.Int64 // RESTART checkpoints the write loop ran for it (the tests read it)
	bulkGen    atomic.Int64 // bulk loads ended: each drops the write loop's cache
}
