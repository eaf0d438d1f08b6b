package main

import (
	"context"
	"fmt"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/sqlstore"
)

func copyCmd(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("copy", `usage: roster copy [--database URL] --to URL

Copies everything in the --database into the empty database --to, of either engine: accounts,
API keys with their hashes (so every key keeps working), entities, relationships, saved
idempotent responses and nonces, deleted rows included, table by table from one consistent
snapshot of the source, with a progress bar on stderr; then checks that every table holds as
many rows as the source did. The way from the embedded SQLite default to PostgreSQL (or back):

  roster copy --database sqlite:roster.db --to 'postgres://roster@db.internal:5432/roster'

The source may be in use (the copy holds what was committed when it started); stop the servers
first if nothing written after that may be lost. The target is created and migrated if needed,
and must hold no rows.`)
	database := c.database(fs)
	to := fs.String("to", "", "the database to copy into: sqlite:PATH or postgres://...")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.args(0, 0); err != nil {
		return err
	}
	if *to == "" {
		return usagef("copy", "--to URL is required")
	}
	if *to == *database {
		return usagef("copy", "--to names the --database itself")
	}
	src, err := openStore(ctx, *database, true)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := openStore(ctx, *to, false)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	defer dst.Close()
	start := time.Now()
	bar := newProgress(c.stderr)
	counts, err := store.Copy(ctx, src, dst, bar.update)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "copied in %s; rows verified:", time.Since(start).Round(time.Millisecond))
	for _, t := range sqlstore.Tables {
		fmt.Fprintf(c.stdout, " %s %d", t, counts[t])
	}
	fmt.Fprintln(c.stdout)
	return verifyAuditChains(ctx, roster.NewService(dst, nil, nil), c.stdout)
}
