package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rosterhq/roster/store/sqlite"
)

const pgDumpHelp = `on PostgreSQL, back up with pg_dump, which takes a consistent snapshot while servers run:
  pg_dump --format=custom --file=roster.dump "$ROSTER_DATABASE"
and restore into an empty database with pg_restore --dbname=URL roster.dump (docs/operations.md)`

func backupCmd(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("backup", `usage: roster backup [--database sqlite:PATH] FILE

Writes a consistent copy of a SQLite database into FILE (which must not exist), while servers
go on reading and writing it: the copy holds every write acknowledged before the backup
started. The copy is checked (PRAGMA integrity_check) before it is put in place, and its
SHA-256 is printed on the last line, as sha256sum prints it. It only reads the database: a
database that does not exist is an error. On PostgreSQL, pg_dump is the tool; roster says how.`)
	database := c.database(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.args(1, 1); err != nil {
		return err
	}
	if err := checkDatabase(ctx, *database, true); err != nil {
		return err
	}
	path := sqlitePath(*database)
	if path == "" {
		return fmt.Errorf("roster backup copies SQLite databases; %s", pgDumpHelp)
	}
	dest := fs.Arg(0)
	start := time.Now()
	if err := sqlite.Backup(ctx, path, dest); err != nil {
		return err
	}
	sum, size, err := fileSHA256(dest)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "backed up %s to %s: %d bytes in %s, integrity check ok\n", path, dest, size, time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(c.stdout, "%s  %s\n", sum, dest)
	return nil
}

func restoreCmd(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("restore", `usage: roster restore [--database sqlite:PATH] FILE

Puts the backup FILE (checked first with PRAGMA integrity_check) in place of the SQLite database,
which no server may be using: stop every roster serve on it first; restore refuses a database
another process has open. The database's -wal and -shm files are removed with it. Prints the
SHA-256 of the backup it restored. On PostgreSQL, pg_restore is the tool; roster says how.`)
	database := c.database(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.args(1, 1); err != nil {
		return err
	}
	path := sqlitePath(*database)
	if path == "" {
		return fmt.Errorf("roster restore restores SQLite databases; %s", pgDumpHelp)
	}
	backup := fs.Arg(0)
	if err := checkSQLite(backup, true); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := checkSQLite(path, false); err != nil {
		return err
	}
	sum, _, err := fileSHA256(backup)
	if err != nil {
		return err
	}
	if err := sqlite.Restore(ctx, backup, path); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "restored %s from %s\n", path, backup)
	fmt.Fprintf(c.stdout, "%s  %s\n", sum, backup)
	return nil
}

// fileSHA256 returns the SHA-256 of a file in lower-case hex, and its size.
func fileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
