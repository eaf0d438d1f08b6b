package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Backups of a live database (roster backup, roster restore). VACUUM INTO reads the database in
// one read transaction, a snapshot, and writes it into a new file: in WAL mode writers go on
// meanwhile, and the copy holds every transaction committed before it started and none after.
// The copy is written beside its destination, synced, checked (PRAGMA integrity_check) and only
// then renamed into place, so a file at the destination is always a whole, checked backup.

// Backup writes a consistent copy of the database at path into dest, which must not exist.
func Backup(ctx context.Context, path, dest string) error {
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("%s exists: a backup never overwrites a file", dest)
	}
	tmp := dest + ".tmp"
	_ = os.Remove(tmp)                       // what a backup interrupted before left
	db, err := sql.Open("sqlite", dsn(path)) // query_only would refuse VACUUM INTO
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("backup of %s: %w", path, err)
	}
	if err := placeChecked(ctx, tmp, dest); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}

// placeChecked syncs the file tmp, checks it and renames it to dest.
func placeChecked(ctx context.Context, tmp, dest string) error {
	if err := syncFile(tmp); err != nil {
		return err
	}
	if err := IntegrityCheck(ctx, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dest); err != nil {
		return err
	}
	return syncFile(filepath.Dir(dest))
}

// IntegrityCheck opens the database file at path read-only and runs PRAGMA integrity_check.
func IntegrityCheck(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", fileURI(path)+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return fmt.Errorf("%s: integrity check: %w", path, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return err
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: integrity check: %w", path, err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s fails its integrity check: %s", path, strings.Join(problems, "; "))
	}
	return nil
}

// ErrInUse is returned by Restore when a process has the database open.
var ErrInUse = errors.New("the database is in use: stop every roster serve (and any other program) that has it open")

// Restore puts the backup at backup (checked first) in place of the database at path, which no
// process may have open: SQLite lets a connection leave WAL mode only when it is the only one,
// which is how Restore finds out. The database's -wal and -shm files go with it.
func Restore(ctx context.Context, backup, path string) error {
	if err := IntegrityCheck(ctx, backup); err != nil {
		return err
	}
	if _, err := os.Stat(path); err == nil {
		if err := quiesce(ctx, path); err != nil {
			return err
		}
	}
	tmp := path + ".restore"
	if err := copyFile(backup, tmp); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := placeChecked(ctx, tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return syncFile(filepath.Dir(path))
}

// quiesce checks that no other connection has the database at path open, and copies its WAL
// into it, by switching it out of WAL mode.
func quiesce(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", fileURI(path)+"?_pragma=busy_timeout(0)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var mode string
	err = db.QueryRowContext(ctx, `PRAGMA journal_mode = DELETE`).Scan(&mode)
	var se *sqlite.Error
	switch {
	case errors.As(err, &se) && (se.Code()&0xff == sqlite3.SQLITE_BUSY || se.Code()&0xff == sqlite3.SQLITE_LOCKED):
		return ErrInUse
	case err != nil:
		// Not a database SQLite can read: nothing can be using it as one; the backup replaces it.
		return nil
	case mode != "delete":
		return ErrInUse
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// syncFile flushes a file or a folder (its entries) to disk.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
