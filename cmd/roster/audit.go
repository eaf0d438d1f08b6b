package main

import (
	"context"
	"fmt"
	"io"

	"github.com/rosterhq/roster"
)

const auditHelp = `usage: roster audit verify [--database URL] [--account ID]

Checks the audit chains offline (SPEC §15, docs/audit.md): every chain, or the one of --account,
from its first record to the head the database keeps apart from the records, recomputing every
hash. Prints one line per chain; at the first broken record, names it (sequence, id, why) and
exits 1. It only reads, and writes nothing, not even a record of its read: a database that does
not exist is an error.`

// verifyAuditChains checks every audit chain of a copy's target (SPEC §12: a copy verifies its
// audit chains at the end) and says so in one line.
func verifyAuditChains(ctx context.Context, svc *roster.Service, stdout io.Writer) error {
	chains, err := svc.AuditChains(ctx)
	if err != nil {
		return err
	}
	var records int64
	for _, chain := range chains {
		v, err := svc.CheckAuditChain(ctx, chain, nil)
		if err != nil {
			return err
		}
		if !v.OK {
			return fmt.Errorf("the copy's audit chain of %q is broken at sequence %d: %s", chain, v.FirstBad.Sequence, v.FirstBad.Reason)
		}
		records += v.Records
	}
	fmt.Fprintf(stdout, "audit chains verified: %d chains, %d records\n", len(chains), records)
	return nil
}

func auditCmd(ctx context.Context, c *cli, args []string) error {
	if ok, err := c.subcommand(args, "audit", "verify", auditHelp); !ok {
		return err
	}
	fs := c.flags("audit verify", auditHelp)
	database := c.database(fs)
	account := fs.String("account", "", "verify this account's chain only (`ID`: account_…)")
	if err := fs.parse(args[1:]); err != nil {
		return err
	}
	if err := fs.args(0, 0); err != nil {
		return err
	}
	chains := []string{""}
	if *account != "" {
		id, ok := roster.ParseID(roster.KindAccount, *account)
		if !ok || id == "" {
			return usagef("audit verify", "--account %q is not an account id", *account)
		}
		chains[0] = id
	}
	svc, closeFn, err := openService(ctx, *database, true)
	if err != nil {
		return err
	}
	defer closeFn()
	if *account == "" {
		if chains, err = svc.AuditChains(ctx); err != nil {
			return err
		}
	}
	for _, chain := range chains {
		name := "platform"
		if chain != "" {
			name = roster.KindAccount.Prefixed(chain)
		}
		v, err := svc.CheckAuditChain(ctx, chain, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if !v.OK {
			id := "missing"
			if v.FirstBad.ID != "" {
				id = roster.KindAudit.Prefixed(v.FirstBad.ID)
			}
			fmt.Fprintf(c.stdout, "%s: BROKEN at sequence %d (%s): %s; %d records checked\n", name, v.FirstBad.Sequence, id, v.FirstBad.Reason, v.Records)
			return fmt.Errorf("the audit chain of %s is broken at sequence %d (%s)", name, v.FirstBad.Sequence, id)
		}
		fmt.Fprintf(c.stdout, "%s: ok, %d records, head %d:%s\n", name, v.Records, v.Head.Sequence, v.Head.Hash)
	}
	return nil
}
