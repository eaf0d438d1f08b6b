package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/rosterhq/roster"
)

const keysHelp = `usage: roster keys <command> [flags]

commands:
  create (--superadmin | --account ID [--role admin|reader]) [--name N]
                 make a key; prints its secret alone on the last line of stdout
  list           list the keys (never their secrets)
  revoke ID      revoke a key: it fails on the server's next request

A key made while a server runs on the same database works on the server's next request.
"roster keys COMMAND --help" prints a command's help.`

func keysCmd(ctx context.Context, c *cli, args []string) error {
	if len(args) == 0 || args[0] == "help" || wantsHelp(args[:1]) {
		if len(args) == 0 {
			return usagef("keys", "give a command: create, list or revoke")
		}
		fmt.Fprintln(c.stdout, keysHelp)
		return nil
	}
	switch args[0] {
	case "create":
		return keysCreate(ctx, c, args[1:])
	case "list":
		return keysList(ctx, c, args[1:])
	case "revoke":
		return keysRevoke(ctx, c, args[1:])
	default:
		return usagef("keys", "unknown keys command %q", args[0])
	}
}

func keysCreate(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("keys create", `usage: roster keys create (--superadmin | --account ID [--role admin|reader]) [--name N]

Makes an API key and prints "created key_… (role)" and then its secret alone on the last line
of stdout. The secret is shown this once: only its hash is stored.`)
	database := c.database(fs)
	superadmin := fs.Bool("superadmin", false, "make a superadmin key")
	account := fs.String("account", "", "the account the key belongs to (`ID`: account_…)")
	role := fs.String("role", "admin", "admin or reader (with --account)")
	name := fs.String("name", "", "a `name` for the key (default: \"<role> key\")")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.args(0, 0); err != nil {
		return err
	}
	in := roster.KeyCreate{Name: *name, Role: roster.Role(*role)}
	switch {
	case *superadmin && *account == "":
		in.Role = roster.RoleSuperadmin
	case !*superadmin && *account != "":
		id, ok := roster.ParseID(roster.KindAccount, *account)
		if !ok || id == "" {
			return usagef("keys create", "--account %q is not an account id", *account)
		}
		if in.Role != roster.RoleAdmin && in.Role != roster.RoleReader {
			return usagef("keys create", "--role must be admin or reader")
		}
		in.AccountID = id
	default:
		return usagef("keys create", "give exactly one of --superadmin or --account ID")
	}
	if in.Name == "" {
		in.Name = string(in.Role) + " key"
	}
	svc, closeFn, err := openService(ctx, *database, false)
	if err != nil {
		return err
	}
	defer closeFn()
	ck, err := svc.CreateKey(ctx, roster.Operator(), in.Body())
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "created %s (%s)\n%s\n", roster.KindKey.Prefixed(ck.Key.ID), ck.Key.Role, ck.Secret)
	return nil
}

func keysList(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("keys list", `usage: roster keys list [--database URL]

Lists every key that is not deleted: id, account, role, name, prefix, status and creation time.
It only reads: a database that does not exist is an error, never created.`)
	database := c.database(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.args(0, 0); err != nil {
		return err
	}
	svc, closeFn, err := openService(ctx, *database, true)
	if err != nil {
		return err
	}
	defer closeFn()
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tACCOUNT\tROLE\tNAME\tPREFIX\tSTATUS\tCREATED")
	req := roster.PageRequest{Limit: 100, Principal: roster.System}
	for {
		page, err := svc.ListKeys(ctx, roster.System, req)
		if err != nil {
			return err
		}
		for _, k := range page.Items {
			acct := "-"
			if k.AccountID != "" {
				acct = roster.KindAccount.Prefixed(k.AccountID)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", roster.KindKey.Prefixed(k.ID), acct, k.Role, k.Name, k.Prefix,
				k.Status(svc.Now()), k.CreatedAt.Format(time.RFC3339))
		}
		if !page.HasNext {
			break
		}
		req.Cursor = page.Next
	}
	return tw.Flush()
}

func keysRevoke(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("keys revoke", `usage: roster keys revoke ID [--database URL]

Revokes the key key_…: it fails on the server's next request. A revocation is final.`)
	database := c.database(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.args(1, 1); err != nil {
		return usagef("keys revoke", "usage: roster keys revoke ID")
	}
	raw := fs.Arg(0)
	id, ok := roster.ParseID(roster.KindKey, raw)
	if !ok || id == "" {
		return usagef("keys revoke", "%q is not a key id", raw)
	}
	svc, closeFn, err := openService(ctx, *database, false)
	if err != nil {
		return err
	}
	defer closeFn()
	if _, err := svc.PatchKey(ctx, roster.Operator(), id, []byte(`{"status":"revoked"}`)); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "revoked %s\n", roster.KindKey.Prefixed(id))
	return nil
}
