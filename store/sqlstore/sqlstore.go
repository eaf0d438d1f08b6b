// Package sqlstore holds roster's SQL, written once for both engines: the statements and their
// row encoding, the list reads, the migration runner and the indexes (migrations/). An engine
// package opens the connections, declares its tables in its own column types (its migrations/),
// maps driver errors to roster's and hands this package a Querier; what else differs between
// engines is the Dialect.
package sqlstore

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Querier is one open transaction of an engine.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (int64, error)
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
}

// Pipeliner is a Querier that can hold a statement back and send it with the next one, in one
// round trip (PostgreSQL's pipeline). A held statement's error is the next statement's.
type Pipeliner interface {
	Querier
	// Defer holds an Exec back until the next statement, or Send; check, when not nil, judges
	// the rows it affected.
	Defer(check func(rows int64) error, sql string, args ...any)
	// Send sends what Defer holds, now.
	Send(ctx context.Context) error
}

// Rows is the result of a query.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Dialect is what differs between engines.
type Dialect struct {
	// Numbered is true for $1-style placeholders (PostgreSQL), false for ? (SQLite).
	Numbered bool
	// ShareLock is appended to a SELECT that must hold its rows against concurrent updates
	// until the transaction ends (" FOR SHARE"); "" where writers are already serialised.
	ShareLock string
	// UpdateLock is appended to a SELECT whose rows the transaction will change from what it
	// read (" FOR UPDATE"); "" where writers are already serialised.
	UpdateLock string
	// TxID is an SQL expression for the position of the running transaction in the feed of
	// every account (PostgreSQL: its transaction id); "0" where one writer commits in the order
	// it inserts (SQLite). Visible is a condition on an events row alias "e" that holds when no
	// transaction still in flight can commit at or before the row's position ("" for none).
	TxID, Visible string
	// MapErr turns a driver error into a roster error (ErrConflict, ErrNotFound) where it has a
	// meaning, by code, and returns others unchanged.
	MapErr func(error) error

	cache  sync.Map     // SQL with ? → SQL in this dialect
	cached atomic.Int64 // entries in cache, which stops growing at maxCached
}

// maxCached bounds the rebind cache: list queries vary with the client's sort and filters, and
// an unbounded cache would let clients grow it without end.
const maxCached = 2048

// Rebind rewrites a statement written with ? placeholders into the dialect's style.
func (d *Dialect) Rebind(sql string) string {
	if !d.Numbered {
		return sql
	}
	if v, ok := d.cache.Load(sql); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(sql); i++ {
		if sql[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(sql[i])
	}
	out := b.String()
	if len(sql) < 4096 && d.cached.Load() < maxCached {
		if _, loaded := d.cache.LoadOrStore(sql, out); !loaded {
			d.cached.Add(1)
		}
	}
	return out
}
