package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rosterhq/roster/store/sqlstore"
)

// pipe runs the statements of a write transaction (Store.run) on one connection, sending those
// whose answer can wait in one round trip with the statement after them: the transaction's
// BEGIN goes with its first statement, and a statement held back (sqlstore.Pipeliner: a write's
// events, its audit record) with the next one or with the COMMIT. A write of an entity with its
// events and audit record takes four round trips instead of seven. PostgreSQL runs the
// statements of a batch one after another, in order, as if they came one by one; after the
// first that fails it skips the rest, and that failure is the batch's.
type pipe struct {
	conn   pipeConn
	held   *pgx.Batch
	checks []func(rows int64) error // of each held statement; nil for none
}

// pipeConn is what a pipe sends on: a connection, or a transaction (in tests).
type pipeConn interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

var _ sqlstore.Pipeliner = (*pipe)(nil)

// Defer implements sqlstore.Pipeliner.
func (p *pipe) Defer(check func(rows int64) error, sql string, args ...any) {
	if p.held == nil {
		p.held = &pgx.Batch{}
	}
	p.held.Queue(sql, args...)
	p.checks = append(p.checks, check)
}

// Send implements sqlstore.Pipeliner.
func (p *pipe) Send(ctx context.Context) error {
	if p.held == nil {
		return nil
	}
	br, err := p.send(ctx, "", nil)
	if err != nil {
		return err
	}
	return br.Close()
}

// drop forgets what is held (a transaction that ends before sending it).
func (p *pipe) drop() { p.held, p.checks = nil, nil }

// send sends what is held, then sql (if any) in the same batch, and reads the held statements'
// answers: br is left at sql's. On an error br is closed.
func (p *pipe) send(ctx context.Context, sql string, args []any) (pgx.BatchResults, error) {
	b, checks := p.held, p.checks
	p.drop()
	if sql != "" {
		b.Queue(sql, args...)
	}
	br := p.conn.SendBatch(ctx, b)
	for _, check := range checks {
		tag, err := br.Exec()
		if err == nil && check != nil {
			err = check(tag.RowsAffected())
		}
		if err != nil {
			br.Close()
			return nil, err
		}
	}
	return br, nil
}

func (p *pipe) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	if p.held == nil {
		tag, err := p.conn.Exec(ctx, sql, args...)
		return tag.RowsAffected(), err
	}
	br, err := p.send(ctx, sql, args)
	if err != nil {
		return 0, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag.RowsAffected(), err
}

func (p *pipe) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	if p.held == nil {
		rows, err := p.conn.Query(ctx, sql, args...)
		if err != nil {
			return nil, err
		}
		return rows, nil
	}
	br, err := p.send(ctx, sql, args)
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return nil, err
	}
	return batchRows{rows, br}, nil
}

// batchRows are the rows of a batch's last statement; closing them ends the batch.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
}

func (r batchRows) Close() {
	r.Rows.Close()
	r.br.Close()
}
