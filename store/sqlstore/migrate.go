package sqlstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// The schema is the migrations, applied in the order of their names, each once. A version is
// the engine's file of that name (its tables, in its own column types) followed by this
// package's (the indexes, and what else is the same on both engines), run in one transaction;
// either file may be missing. The indexes are declared only here: the bulk loaders read them back
// from the database's catalogue.
//
//go:embed migrations/*.sql
var sharedMigrations embed.FS

// Migrate applies every migration not applied yet. engine holds the engine's migrations/*.sql;
// inTx runs fn in one transaction, on one connection for every call (for PostgreSQL, the one
// that holds the migration lock).
func Migrate(ctx context.Context, engine fs.FS, d *Dialect, inTx func(fn func(Querier) error) error) error {
	versions, err := migrationVersions(engine)
	if err != nil {
		return err
	}
	if err := inTx(func(q Querier) error {
		_, err := q.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY)`)
		return err
	}); err != nil {
		return err
	}
	for _, version := range versions {
		body, err := migrationBody(engine, version)
		if err != nil {
			return err
		}
		err = inTx(func(q Querier) error {
			t := NewTx(q, d)
			n, err := queryOne(ctx, t, scanInt, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version)
			if err != nil || n > 0 {
				return err
			}
			// The body is run as written: Rebind would take a ? in it for a placeholder.
			if _, err := q.Exec(ctx, body); err != nil {
				return fmt.Errorf("%s: %w", version, err)
			}
			_, err = t.exec(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, version)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Current reports whether q's database has every migration applied already, reading only, so
// that a process opening a database that is up to date takes no write lock for it (a command
// that only reads, beside busy writers, would otherwise wait for one).
func Current(ctx context.Context, engine fs.FS, q Querier) (bool, error) {
	versions, err := migrationVersions(engine)
	if err != nil {
		return false, err
	}
	rows, err := q.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return false, nil // no table yet: not current
	}
	defer rows.Close()
	applied := map[string]bool{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return false, err
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return false, err
	}
	for _, v := range versions {
		if !applied[v] {
			return false, nil
		}
	}
	return true, nil
}

// migrationVersions names every version, the engine's and the shared ones, in order.
func migrationVersions(engine fs.FS) ([]string, error) {
	var versions []string
	for _, fsys := range []fs.FS{engine, sharedMigrations} {
		names, err := fs.Glob(fsys, "migrations/*.sql")
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			versions = append(versions, strings.TrimSuffix(path.Base(name), ".sql"))
		}
	}
	slices.Sort(versions)
	return slices.Compact(versions), nil
}

// migrationBody is the SQL of one version: the engine's part, then the shared part.
func migrationBody(engine fs.FS, version string) (string, error) {
	var parts []string
	for _, fsys := range []fs.FS{engine, sharedMigrations} {
		b, err := fs.ReadFile(fsys, "migrations/"+version+".sql")
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		parts = append(parts, string(b))
	}
	return strings.Join(parts, "\n"), nil
}
