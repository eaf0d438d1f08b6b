package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/rosterhq/roster"
)

const accountsHelp = `usage: roster accounts create --name N [--slug S]

Creates an account, as POST /v1/accounts does for a superadmin, and prints its id alone on the
last line of stdout; "roster keys create --account ID" then gives it an admin key.`

func accountsCmd(ctx context.Context, c *cli, args []string) error {
	if ok, err := c.subcommand(args, "accounts", "create", accountsHelp); !ok {
		return err
	}
	fs := c.flags("accounts create", accountsHelp)
	database := c.database(fs)
	name := fs.String("name", "", "the account's `name` (2–100 characters)")
	slug := fs.String("slug", "", "its `slug` (default: derived from the name)")
	if err := fs.parse(args[1:]); err != nil {
		return err
	}
	if err := fs.args(0, 0); err != nil {
		return err
	}
	if *name == "" {
		return usagef("accounts create", "--name is required")
	}
	body := map[string]string{"name": *name}
	if *slug != "" {
		body["slug"] = *slug
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	svc, closeFn, err := openService(ctx, *database, false)
	if err != nil {
		return err
	}
	defer closeFn()
	a, err := svc.CreateAccount(ctx, roster.Operator(), b)
	if err != nil {
		return err
	}
	id := roster.KindAccount.Prefixed(a.ID)
	fmt.Fprintf(c.stdout, "created %s (%s, slug %s)\n%s\n", id, a.Name, a.Slug, id)
	return nil
}

// subcommand is what a command with one subcommand does before it: with no arguments, a usage
// error; "help" or --help, its help on stdout; another word, a usage error. It reports whether
// args go on with sub.
func (c *cli) subcommand(args []string, name, sub, help string) (bool, error) {
	if len(args) == 0 {
		return false, usagef(name, "give a command: %s", sub)
	}
	if args[0] == "help" || wantsHelp(args[:1]) {
		fmt.Fprintln(c.stdout, help)
		return false, nil
	}
	if args[0] != sub {
		return false, usagef(name, "unknown %s command %q", name, args[0])
	}
	return true, nil
}
