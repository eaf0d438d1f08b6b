package sqlite

import (
	"context"
	"database/sql"
	"sync"

	"github.com/rosterhq/roster/store/sqlstore"
)

// stmtCache keeps prepared statements of the reader pool: database/sql prepares each one
// once per connection and reuses it, which saves SQLite's parse and plan on every read.
type stmtCache struct {
	db    *sql.DB
	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
}

// maxStmts bounds the cache; list queries vary with the client's sort and filters.
const maxStmts = 512

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}}
}

// get returns the prepared statement for query, or nil when the cache is full.
func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.RLock()
	st := c.stmts[query]
	c.mu.RUnlock()
	if st != nil {
		return st, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st = c.stmts[query]; st != nil {
		return st, nil
	}
	if len(c.stmts) >= maxStmts {
		return nil, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.stmts[query] = st
	return st, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		_ = st.Close()
	}
	c.stmts = nil
}

// readQuerier runs a View's statements on the reader pool outside any transaction: each
// statement reads committed data on its own, without BEGIN and COMMIT around it.
type readQuerier struct{ c *stmtCache }

func (q readQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.c.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q readQuerier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	st, err := q.c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	var rows *sql.Rows
	if st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = q.c.db.QueryContext(ctx, query, args...)
	}
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

// writeStmts caches prepared statements of the writer connection. The writer's one connection
// is busy inside every batch, so a statement cannot be prepared on the pool there: a batch notes
// the statements it ran unprepared, and they are prepared between batches, when the
// connection is free; Tx.StmtContext then reuses them on that connection.
type writeStmts struct {
	db     *sql.DB
	stmts  map[string]*sql.Stmt // only the write loop touches it
	missed map[string]bool
}

func newWriteStmts(db *sql.DB) *writeStmts {
	return &writeStmts{db: db, stmts: map[string]*sql.Stmt{}, missed: map[string]bool{}}
}

// prepareMissed prepares what the last batch ran unprepared. Called between batches only.
func (w *writeStmts) prepareMissed() {
	for q := range w.missed {
		delete(w.missed, q)
		if len(w.stmts) >= maxStmts {
			continue
		}
		if st, err := w.db.Prepare(q); err == nil {
			w.stmts[q] = st
		}
	}
}

func (w *writeStmts) close() {
	for _, st := range w.stmts {
		_ = st.Close()
	}
	w.stmts = nil
}

// querier runs a write transaction's statements, prepared where the cache has them; without a
// cache (the migrations), each as it comes.
type querier struct {
	tx *sql.Tx
	w  *writeStmts
}

func (q querier) stmt(ctx context.Context, query string) *sql.Stmt {
	if q.w == nil {
		return nil
	}
	if st := q.w.stmts[query]; st != nil {
		return q.tx.StmtContext(ctx, st)
	}
	q.w.missed[query] = true
	return nil
}

func (q querier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	var res sql.Result
	var err error
	if st := q.stmt(ctx, query); st != nil {
		res, err = st.ExecContext(ctx, args...)
	} else {
		res, err = q.tx.ExecContext(ctx, query, args...)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q querier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	var rows *sql.Rows
	var err error
	if st := q.stmt(ctx, query); st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = q.tx.QueryContext(ctx, query, args...)
	}
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}
