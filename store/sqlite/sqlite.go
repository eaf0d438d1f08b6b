// Package sqlite is roster's embedded store: one SQLite file in WAL mode with
// synchronous=FULL, one writer connection and a pool of readers, on a pure-Go driver.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"sort"
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
	appended bool // the batch being written recorded events; the write loop's alone
	counters
}

var _ roster.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path and applies pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	pragmas := []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(ON)", "temp_store(MEMORY)"}
	dsn := func(extra ...string) string {
		q := url.Values{}
		for _, p := range append(pragmas, extra...) {
			q.Add("_pragma", p)
		}
		return fileURI(path) + "?" + q.Encode()
	}
	// The writer gets a large page cache so that a group-committed batch does not spill pages
	// to the WAL before its commit; each reader a smaller one (RSS stays bounded).
	writer, err := sql.Open("sqlite", dsn(writerCache, "wal_autocheckpoint(0)", fmt.Sprintf("journal_size_limit(%d)", walLimitBytes))+"&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	readers, err := sql.Open("sqlite", dsn("query_only(1)", readerCache))
	if err != nil {
		writer.Close()
		return nil, err
	}
	ckpt, err := sql.Open("sqlite", dsn())
	if err != nil {
		writer.Close()
		readers.Close()
		return nil, err
	}
	ckpt.SetMaxOpenConns(1)
	n := max(4, 2*runtime.GOMAXPROCS(0))
	readers.SetMaxOpenConns(n)
	readers.SetMaxIdleConns(n)
	s := &Store{writer: writer, readers: readers, dialect: &sqlstore.Dialect{MapErr: mapErr, TxID: "0"}, stmts: newStmtCache(readers), wstmts: newWriteStmts(writer), ckpt: ckpt,
		writes: make(chan *writeReq, 4*maxBatch), quit: make(chan struct{}), loopDone: make(chan struct{}), ckptDone: make(chan struct{})}
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
	if _, err := s.writer.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		version := strings.TrimSuffix(strings.TrimPrefix(name, "migrations/"), ".sql")
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		err = s.inTx(ctx, s.writer, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil || n > 0 {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, version)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) inTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
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

// DBs exposes the writer and reader pools, for metrics.
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
