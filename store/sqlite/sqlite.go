// Package sqlite is roster's embedded store: one SQLite file in WAL mode with
// synchronous=FULL, one writer connection and a pool of readers, on a pure-Go driver.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Page cache sizes (negative: KiB).
const (
	writerCache = "cache_size(-32768)"
	readerCache = "cache_size(-4096)"
)

// Store is a roster.Store on one SQLite file.
type Store struct {
	writer  *sql.DB
	readers *sql.DB
	dialect *sqlstore.Dialect

	stmts    *stmtCache
	wstmts   *writeStmts // the write loop's alone
	ckpt     *sql.DB     // the checkpointer's connection
	syncMode string      // the writer's synchronous pragma as last set; the write loop's alone
	ckptDone chan struct{}
	writes   chan *writeReq
	quit     chan struct{}
	loopDone chan struct{}
	closing  sync.Once
	events   *sqlstore.Notifier
	// The write loop's alone: the event counters and chain heads its last batch left
	// (batch.go), valid while the database's data_version and bulkGen are what they were then.
	cache       *sqlstore.WriteCache
	dataVersion int64
	cacheGen    int64
	counters
}

var _ roster.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path and applies pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	// The writer gets a large page cache so that a group-committed batch does not spill pages
	// to the WAL before its commit; each reader a smaller one (RSS stays bounded).
	writer, err := sql.Open("sqlite", dsn(path, writerCache, "wal_autocheckpoint(0)", fmt.Sprintf("journal_size_limit(%d)", walLimitBytes))+"&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	readers, err := OpenReaders(path)
	if err != nil {
		writer.Close()
		return nil, err
	}
	ckpt, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		writer.Close()
		readers.Close()
		return nil, err
	}
	ckpt.SetMaxOpenConns(1)
	s := &Store{writer: writer, readers: readers, dialect: &sqlstore.Dialect{MapErr: mapErr, TxID: "0"}, stmts: newStmtCache(readers), wstmts: newWriteStmts(writer), ckpt: ckpt,
		writes: make(chan *writeReq, 4*maxBatch), cache: sqlstore.NewWriteCache(), quit: make(chan struct{}), loopDone: make(chan struct{}), ckptDone: make(chan struct{})}
	if err := s.migrate(ctx); err != nil {
		writer.Close()
		readers.Close()
		ckpt.Close()
		return nil, fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	s.events = sqlstore.NewNotifier(eventPoll, s.eventHead)
	go s.writeLoop()
	go s.checkpointLoop(s.ckpt)
	return s, nil
}

// OpenReaders opens a pool of read-only connections to the database at path, as a Store's
// readers are: the same pragmas, page cache and pool size. The benchmark's floor reads through
// one, to measure what the driver alone costs.
func OpenReaders(path string) (*sql.DB, error) {
	readers, err := sql.Open("sqlite", dsn(path, "query_only(1)", readerCache))
	if err != nil {
		return nil, err
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	readers.SetMaxOpenConns(n)
	readers.SetMaxIdleConns(n)
	return readers, nil
}

// dsn is the driver's name for the database at path, with every connection's pragmas and extra.
func dsn(path string, extra ...string) string {
	q := url.Values{}
	for _, p := range append([]string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(ON)", "temp_store(MEMORY)"}, extra...) {
		q.Add("_pragma", p)
	}
	return fileURI(path) + "?" + q.Encode()
}

// fileURI turns a file path into the SQLite URI that names it: the driver opens every DSN as a
// URI, where "?" starts the parameters, "#" a fragment and "%XX" an escape, so a path holding any
// of them would otherwise open another file.
func fileURI(path string) string {
	escaped := strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
	if strings.HasPrefix(path, "/") {
		// An empty authority, so that a path starting with "//" is not read as a host.
		return "file://" + escaped
	}
	return "file:" + escaped
}

func (s *Store) migrate(ctx context.Context) error {
	// Read first, on a reader: a database that is up to date needs no write transaction.
	tx, err := s.readers.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return mapErr(err)
	}
	current, err := sqlstore.Current(ctx, migrations, querier{tx: tx})
	_ = tx.Rollback()
	if err != nil || current {
		return err
	}
	return sqlstore.Migrate(ctx, migrations, s.dialect, func(fn func(sqlstore.Querier) error) error {
		return s.inTx(ctx, func(tx *sql.Tx) error { return fn(querier{tx: tx}) })
	})
}

// inTx runs fn in a transaction of the writer connection.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return mapErr(tx.Commit())
}

// View implements roster.Store.
// Each statement of fn reads committed data on its own (no BEGIN/COMMIT round trips); the
// statements of one View are not one snapshot.
func (s *Store) View(ctx context.Context, fn func(roster.Tx) error) error {
	return fn(sqlstore.NewTx(readQuerier{s.stmts}, s.dialect))
}

// Ping implements roster.Store.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.readers.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
}

// Close implements roster.Store. The batch being written finishes; writes still queued fail.
func (s *Store) Close() error {
	s.closing.Do(func() {
		close(s.quit)
		s.events.Close()
		<-s.loopDone
		<-s.ckptDone
		s.stmts.close()
		s.wstmts.close()
	})
	return errors.Join(s.readers.Close(), s.writer.Close(), s.ckpt.Close())
}

// DBs exposes the writer and reader pools, for tests.
func (s *Store) DBs() (writer, readers *sql.DB) { return s.writer, s.readers }

func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", roster.ErrConflict, err)
		}
	}
	return err
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }
