package postgres

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
)

// roundTrips counts what a connection sends: statements alone and batches.
type roundTrips struct{ queries, batches atomic.Int32 }

func (c *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.queries.Add(1)
	return ctx
}
func (c *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.batches.Add(1)
	return ctx
}
func (c *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (c *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// TestPipeSendsHeldWithNext: a statement held back (a write's events) goes out with the next
// statement, in one batch, and its failure is that statement's; Send sends it alone.
func TestPipeSendsHeldWithNext(t *testing.T) {
	url := os.Getenv("ROSTER_TEST_POSTGRES")
	if url == "" {
		t.Skip("ROSTER_TEST_POSTGRES is not set")
	}
	ctx := t.Context()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	var trips roundTrips
	cfg.Tracer = &trips
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `CREATE TEMPORARY TABLE piped (n int NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	p := &pipe{conn: tx}
	trips.queries.Store(0)
	p.Defer(nil, `INSERT INTO piped VALUES (1)`)
	p.Defer(nil, `INSERT INTO piped VALUES (2)`)
	rows, err := p.Query(ctx, `SELECT count(*) FROM piped`)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	rows.Close()
	if n != 2 || trips.batches.Load() != 1 || trips.queries.Load() != 0 {
		t.Fatalf("two held inserts and a count: count %d in %d batches and %d statements alone, want 2 in 1 and 0",
			n, trips.batches.Load(), trips.queries.Load())
	}
	p.Defer(nil, `INSERT INTO piped VALUES (3)`)
	if err := p.Send(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := p.Exec(ctx, `DELETE FROM piped WHERE n = 3`); err != nil || got != 1 {
		t.Fatalf("sent alone, the held insert left %d rows to delete (%v)", got, err)
	}
	none := errors.New("no row")
	p.Defer(func(n int64) error {
		if n == 0 {
			return none
		}
		return nil
	}, `DELETE FROM piped WHERE n = 3`)
	if _, err := p.Exec(ctx, `SELECT 1`); !errors.Is(err, none) {
		t.Fatalf("a held statement its check refuses: the next statement's error is %v", err)
	}
	p.Defer(nil, `INSERT INTO piped VALUES (NULL)`)
	if _, err := p.Exec(ctx, `SELECT 1`); err == nil {
		t.Fatal("a held statement that fails: the next statement succeeded")
	}
}
