package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

const auditUsage = `usage: roster audit verify [--account ID] [--database URL]

Checks the audit chains offline (SPEC §15): every chain, or the one of --account, from its first
record to the head the database keeps. Prints one line per chain; exits 1 at the first broken
record, naming it. Never creates a database.
`

// exitError ends roster with its own exit status (main) after the command printed its outcome.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

// ExitCode is the status roster exits with.
func (e exitError) ExitCode() int { return e.code }

// exitCode is the status an error of run ends roster with: its own (exitError), else 2.
func exitCode(err error) int {
	var e exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 2
}

func audit(ctx context.Context, args []string, env func(string, string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, auditUsage)
			return nil
		}
		fmt.Fprint(stderr, auditUsage)
		return errUsage
	}
	fs := flag.NewFlagSet("roster audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), auditUsage) }
	database := fs.String("database", env("ROSTER_DATABASE", "sqlite:roster.db"), "database URL (env ROSTER_DATABASE)")
	account := fs.String("account", "", "verify this account's chain only")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return nil
		}
		return err
	}
	var only string
	if *account != "" {
		id, ok := roster.ParseID(roster.KindAccount, *account)
		if !ok || id == "" {
			return fmt.Errorf("--account %q is not an account id", *account)
		}
		only = id
	}
	if err := mustExist(*database); err != nil {
		return exitError{code: 1, msg: err.Error()}
	}
	st, err := store.Open(ctx, *database)
	if err != nil {
		return exitError{code: 1, msg: err.Error()}
	}
	defer st.Close()
	svc := roster.NewService(st, nil, nil)
	chains := []string{only}
	if *account == "" {
		if chains, err = svc.AuditChains(ctx); err != nil {
			return exitError{code: 1, msg: err.Error()}
		}
	}
	for _, chain := range chains {
		name := "platform"
		if chain != "" {
			name = roster.KindAccount.Prefixed(chain)
		}
		v, err := svc.CheckAuditChain(ctx, chain, nil)
		if err != nil {
			return exitError{code: 1, msg: fmt.Sprintf("%s: %v", name, err)}
		}
		if !v.OK {
			id := "missing"
			if v.FirstBad.ID != "" {
				id = roster.KindAudit.Prefixed(v.FirstBad.ID)
			}
			fmt.Fprintf(stdout, "%s: BROKEN at sequence %d (%s): %s; %d records checked\n", name, v.FirstBad.Sequence, id, v.FirstBad.Reason, v.Records)
			return exitError{code: 1, msg: fmt.Sprintf("audit chain of %s broken at sequence %d (%s)", name, v.FirstBad.Sequence, id)}
		}
		fmt.Fprintf(stdout, "%s: ok, %d records, head %d:%s\n", name, v.Records, v.Head.Sequence, v.Head.Hash)
	}
	return nil
}

// mustExist refuses a SQLite database that does not exist: a command that only reads never
// creates one (SPEC §12).
func mustExist(database string) error {
	path, ok := strings.CutPrefix(database, "sqlite:")
	if !ok {
		return nil
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("database %s does not exist", path)
	}
	return nil
}
