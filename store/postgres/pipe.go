package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rosterhq/roster/store/sqlstore"
)

// pipe runs the statements of a write transaction (Store.run). A statement whose result the
// write does not need (sqlstore.Pipeliner: a write's events) is held back and sent in one round
// trip with the statement after it, or before the commit: a write that records its events pays
// for their statement's work, not for one more wait on the network and the server. PostgreSQL
// runs the statements of a batch one after another, in order, as if sent one by one; the first
// that fails aborts the transaction and its error is the batch's.
type pipe struct {
	tx   pgx.Tx
	held *pgx.Batch
}

var _ sqlstore.Pipeliner = (*pipe)(nil)

// Defer implements sqlstore.Pipeliner.
func (p *pipe) Defer(sql string, args ...any) {
	if p.held == nil {
		p.held = &pgx.Batch{}
	}
	p.held.Queue(sql, args...)
}

// Send implements sqlstore.Pipeliner.
func (p *pipe) Send(ctx context.Context) error {
	b := p.take()
	if b == nil {
		return nil
	}
	return p.tx.SendBatch(ctx, b).Close()
}

func (p *pipe) take() *pgx.Batch {
	b := p.held
	p.held = nil
	return b
}

func (p *pipe) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	b := p.take()
	if b == nil {
		tag, err := p.tx.Exec(ctx, sql, args...)
		return tag.RowsAffected(), err
	}
	var n int64
	b.Queue(sql, args...).Exec(func(tag pgconn.CommandTag) error {
		n = tag.RowsAffected()
		return nil
	})
	return n, p.tx.SendBatch(ctx, b).Close()
}

func (p *pipe) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	b := p.take()
	if b == nil {
		rows, err := p.tx.Query(ctx, sql, args...)
		if err != nil {
			return nil, err
		}
		return rows, nil
	}
	held := b.Len()
	b.Queue(sql, args...)
	br := p.tx.SendBatch(ctx, b)
	for range held {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return nil, err
		}
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
