// Package postgres is roster's production store on PostgreSQL, through a pgx pool. Any number
// of roster processes may share one database.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock that serialises migrations across processes.
const migrationLock = 0x726f73746572 // "roster"

// Store is a roster.Store on PostgreSQL.
type Store struct {
	pool    *pgxpool.Pool
	dialect *sqlstore.Dialect
	events  *sqlstore.Notifier
}

var _ roster.Store = (*Store)(nil)

// Open connects to the database at url and applies pending migrations.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{pool: pool, dialect: &sqlstore.Dialect{Numbered: true, ShareLock: " FOR SHARE", UpdateLock: " FOR UPDATE", MapErr: mapErr,
		TxID: pgTxID, Visible: pgVisible}}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	s.events = sqlstore.NewNotifier(eventPoll, s.eventHead)
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock) //nolint:errcheck
	return sqlstore.Migrate(ctx, migrations, s.dialect, func(fn func(sqlstore.Querier) error) error {
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error { return fn(querier{tx}) })
	})
}

// maxAttempts bounds how often a write transaction runs when PostgreSQL aborts it to break a
// deadlock or a serialisation conflict (SQLSTATE 40P01, 40001).
const maxAttempts = 4

// run runs fn in a transaction. A transaction PostgreSQL aborted to break a deadlock between
// row locks runs again from the start, at most maxAttempts times: nothing of the aborted
// attempt was committed, and fn reads again what it decides on.
func (s *Store) run(ctx context.Context, lazy bool, fn func(roster.Tx) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		var t *sqlstore.Tx
		t, err = s.attempt(ctx, lazy, fn)
		if err == nil && t.Appended() {
			s.events.Wake()
		}
		if attempt == maxAttempts || !retryable(err) || ctx.Err() != nil {
			return mapErr(err)
		}
	}
}

// attempt runs fn once in a transaction on a connection of its own, through a pipe: BEGIN
// goes out with fn's first statement, COMMIT with what fn left held back.
func (s *Store) attempt(ctx context.Context, lazy bool, fn func(roster.Tx) error) (*sqlstore.Tx, error) {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	// A connection left inside a transaction (a ROLLBACK that failed) is not reused: the pool
	// closes a connection released in any state but idle.
	defer c.Release()
	p := &pipe{conn: c.Conn()}
	p.Defer(nil, `BEGIN`)
	if lazy {
		p.Defer(nil, `SET LOCAL synchronous_commit TO OFF`)
	}
	t := sqlstore.NewTx(p, s.dialect)
	if err = fn(t); err == nil {
		p.Defer(nil, `COMMIT`)
		err = t.Flush(ctx)
	}
	if err != nil {
		p.drop()
		if c.Conn().PgConn().TxStatus() != 'I' {
			_, _ = c.Conn().Exec(context.WithoutCancel(ctx), `ROLLBACK`)
		}
		return t, err
	}
	return t, nil
}

// retryable reports whether PostgreSQL aborted the transaction to resolve a conflict between
// transactions, so that running it again may succeed.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// View implements roster.Store.
// Each statement of fn runs on the pool outside any transaction (no BEGIN/COMMIT round trips,
// and pgx's statement cache applies); the statements of one View are not one snapshot.
func (s *Store) View(ctx context.Context, fn func(roster.Tx) error) error {
	return mapErr(fn(sqlstore.NewTx(querier{s.pool}, s.dialect)))
}

// Update implements roster.Store.
func (s *Store) Update(ctx context.Context, fn func(roster.Tx) error) error {
	return s.run(ctx, false, fn)
}

// UpdateLazy implements roster.Store with an asynchronous commit: PostgreSQL flushes it with
// the next synchronous commit's WAL flush, which covers every record before it.
func (s *Store) UpdateLazy(ctx context.Context, fn func(roster.Tx) error) error {
	return s.run(ctx, true, fn)
}

// Ping implements roster.Store.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Close implements roster.Store.
func (s *Store) Close() error {
	s.events.Close()
	s.pool.Close()
	return nil
}

func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var re *roster.Error
	if errors.As(err, &re) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return fmt.Errorf("%w: %v", roster.ErrConflict, err)
	}
	return err
}

// querier runs sqlstore's statements on a transaction or, for a View, on the pool.
type querier struct {
	db interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	}
}

func (q querier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.db.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

func (q querier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := q.db.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}
