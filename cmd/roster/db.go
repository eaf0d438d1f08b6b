package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// sqliteHeader starts every SQLite database file.
const sqliteHeader = "SQLite format 3\x00"

// sqlitePath returns the file of a sqlite: URL, "" for another engine.
func sqlitePath(database string) string {
	if p, ok := strings.CutPrefix(database, "sqlite:"); ok {
		return p
	}
	return ""
}

// checkDatabase says in one line what stops roster from opening the database, before the
// driver would say it less clearly: for SQLite, a folder that is missing or not writable, a file
// that is not a SQLite database, or (readOnly: a command that only reads, which never creates
// a database) a file that does not exist; for PostgreSQL, a server that does not answer.
func checkDatabase(ctx context.Context, database string, readOnly bool) error {
	if path := sqlitePath(database); path != "" {
		return checkSQLite(path, readOnly)
	}
	if strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://") {
		return checkPostgres(ctx, database)
	}
	_, err := store.Open(ctx, database) // the one message for a URL of no engine
	return err
}

func checkSQLite(path string, readOnly bool) error {
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return fmt.Errorf("database %s is a folder, not a file", path)
	case err == nil:
		return checkSQLiteFile(path, fi, readOnly)
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("database %s: %w", path, err)
	case readOnly:
		return fmt.Errorf("database %s does not exist (this command only reads, so it does not create one)", path)
	}
	dir := filepath.Dir(path)
	di, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("cannot create database %s: the folder %s does not exist", path, dir)
	case err != nil:
		return fmt.Errorf("cannot create database %s: %w", path, err)
	case !di.IsDir():
		return fmt.Errorf("cannot create database %s: %s is not a folder", path, dir)
	case !writable(dir):
		return fmt.Errorf("cannot create database %s: the folder %s is not writable", path, dir)
	}
	return nil
}

// checkSQLiteFile checks that an existing file is a SQLite database and, unless readOnly, that
// roster can write it and its folder, where SQLite keeps the WAL.
func checkSQLiteFile(path string, fi os.FileInfo, readOnly bool) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("database %s cannot be read: %w", path, err)
	}
	head := make([]byte, len(sqliteHeader))
	n, err := io.ReadFull(f, head)
	f.Close()
	if fi.Size() > 0 && (err != nil || !bytes.Equal(head[:n], []byte(sqliteHeader))) {
		return fmt.Errorf("%s is not a SQLite database", path)
	}
	if readOnly {
		return nil
	}
	if !writable(path) {
		return fmt.Errorf("database %s is not writable", path)
	}
	if dir := filepath.Dir(path); !writable(dir) {
		return fmt.Errorf("the folder %s of database %s is not writable (SQLite keeps its -wal and -shm files there)", dir, path)
	}
	return nil
}

// writable reports whether this process may write path (a file, or a folder to create files in).
func writable(path string) bool { return syscall.Access(path, 2 /* W_OK */) == nil }

// checkPostgres connects once, for at most 10 seconds, and says plainly when the server does
// not answer or refuses the connection.
func checkPostgres(ctx context.Context, database string) error {
	cfg, err := pgx.ParseConfig(database)
	if err != nil {
		return fmt.Errorf("database %s: %v", redact(database), err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return conn.Close(context.WithoutCancel(ctx))
	}
	where := fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
	var ne net.Error
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe):
		return fmt.Errorf("database %s: the server at %s refused: %s (SQLSTATE %s)", redact(database), where, pe.Message, pe.Code)
	case errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("database %s: the PostgreSQL server at %s is not answering (%s)", redact(database), where, lastCause(err))
	}
	return fmt.Errorf("database %s: %s", redact(database), lastCause(err))
}

// lastCause is the innermost message of err, the one that names what happened.
func lastCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// redact hides the password of a database URL.
func redact(database string) string {
	u, err := url.Parse(database)
	if err != nil || u.User == nil {
		return database
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// openStore checks and opens the database (migrating it, as every open does).
func openStore(ctx context.Context, database string, readOnly bool) (roster.Store, error) {
	if err := checkDatabase(ctx, database, readOnly); err != nil {
		return nil, err
	}
	return store.Open(ctx, database)
}

// openService opens the database and the core over it.
func openService(ctx context.Context, database string, readOnly bool) (*roster.Service, func() error, error) {
	st, err := openStore(ctx, database, readOnly)
	if err != nil {
		return nil, nil, err
	}
	return roster.NewService(st, nil, nil), st.Close, nil
}
