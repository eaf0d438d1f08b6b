package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store/sqlstore"
)

// The export format (SPEC §12): NDJSON, one object a line with a "kind" — "account", "entity",
// "relationship", in that order, each kind in id order, each object as the native API shows it
// (its stored fields) — and last a line {"kind":"end"} with the counts, the SHA-256 of every
// line before it (newlines included) and the event cursor of the snapshot.

const exportTime = "2006-01-02T15:04:05.000000Z07:00" // the API's timestamps

type exportAccount struct {
	Kind      string `json:"kind"`
	ID        string `json:"id"`
	Name      string `json:"name"`
	Slug      string `json:"slug"`
	Status    string `json:"status"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

type exportEntity struct {
	Kind                       string   `json:"kind"`
	ID                         string   `json:"id"`
	AccountID                  string   `json:"account_id"`
	Name                       string   `json:"name"`
	ModuleIDs                  []string `json:"module_ids"`
	Source                     *string  `json:"source"`
	Recipient                  *string  `json:"recipient"`
	Description                *string  `json:"description"`
	Deprecated                 bool     `json:"deprecated"`
	See                        *string  `json:"see"`
	FieldSuffix                *string  `json:"field_suffix"`
	InvitationID               *string  `json:"invitation_id"`
	FlowIDs                    []string `json:"flow_ids"`
	LogoURL                    *string  `json:"logo_url"`
	Website                    *string  `json:"website"`
	TimeZone                   *string  `json:"time_zone"`
	TrustedFormCertifiedVendor bool     `json:"trustedform_certified_vendor"`
	CreatedAt                  string   `json:"created_at"`
	UpdatedAt                  string   `json:"updated_at"`
}

type exportRelationship struct {
	Kind             string `json:"kind"`
	AccountID        string `json:"account_id"`
	EntityID         string `json:"entity_id"`
	RelationshipType string `json:"relationship_type"`
	CreatedAt        string `json:"created_at"`
}

// exportEnd is the closing line.
type exportEnd struct {
	Kind   string         `json:"kind"`
	Counts map[string]int `json:"counts"`
	SHA256 string         `json:"sha256"`
	// EventCursor is the position in /v1/events of the snapshot: a consumer tails the feed
	// from it without missing or repeating a change. null until the database keeps events.
	EventCursor *string `json:"event_cursor"`
}

func stampOf(t time.Time) string { return t.UTC().Format(exportTime) }

func exportCmd(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("export", `usage: roster export [--database URL] [--account ID] > FILE

Writes the live accounts, entities and relationships (of one account with --account) to stdout
as NDJSON, from one consistent snapshot while servers go on: one object a line with a "kind",
each as the native API shows it, and a last line
  {"kind":"end","counts":{"account":N,"entity":N,"relationship":N},"sha256":"…","event_cursor":…}
with the SHA-256 of every line before it. API keys are not exported (roster copy moves them).
It only reads: a database that does not exist is an error.`)
	database := c.database(fs)
	account := fs.String("account", "", "export only this account (`ID`: account_…)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.args(0, 0); err != nil {
		return err
	}
	var accountID string
	if *account != "" {
		id, ok := roster.ParseID(roster.KindAccount, *account)
		if !ok || id == "" {
			return usagef("export", "--account %q is not an account id", *account)
		}
		accountID = id
	}
	st, err := openStore(ctx, *database, true)
	if err != nil {
		return err
	}
	defer st.Close()
	snap, ok := st.(sqlstore.Copier)
	if !ok {
		return fmt.Errorf("this store cannot be exported")
	}
	start := time.Now()
	end, err := export(ctx, snap, accountID, c.stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "exported %d accounts, %d entities, %d relationships in %s\n", end.Counts["account"], end.Counts["entity"],
		end.Counts["relationship"], time.Since(start).Round(time.Millisecond))
	return nil
}

// export writes the export of snap to w.
func export(ctx context.Context, snap sqlstore.Copier, accountID string, w io.Writer) (exportEnd, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	h := sha256.New()
	end := exportEnd{Kind: "end", Counts: map[string]int{"account": 0, "entity": 0, "relationship": 0}}
	line := lineWriter{w: io.MultiWriter(bw, h)}
	err := snap.Snapshot(ctx, func(q sqlstore.Querier) error {
		// The event cursor of this snapshot goes here, read in this same snapshot, once the
		// database keeps events (SPEC §13).
		return sqlstore.Export(ctx, q, accountID, sqlstore.Exporter{
			Account: func(a roster.Account) error {
				end.Counts["account"]++
				return line.write(exportAccount{Kind: "account", ID: roster.KindAccount.Prefixed(a.ID), Name: a.Name, Slug: a.Slug,
					Status: string(a.Status), CreatedAt: stampOf(a.CreatedAt), UpdatedAt: stampOf(a.UpdatedAt)})
			},
			Entity: func(e roster.Entity) error {
				end.Counts["entity"]++
				var see *string
				if e.See != nil {
					s := roster.KindEntity.Prefixed(*e.See)
					see = &s
				}
				return line.write(exportEntity{Kind: "entity", ID: roster.KindEntity.Prefixed(e.ID), AccountID: roster.KindAccount.Prefixed(e.AccountID),
					Name: e.Name, ModuleIDs: e.ModuleIDs, Source: e.Source, Recipient: e.Recipient, Description: e.Description,
					Deprecated: e.Deprecated, See: see, FieldSuffix: e.FieldSuffix, InvitationID: e.InvitationID, FlowIDs: e.FlowIDs,
					LogoURL: e.LogoURL, Website: e.Website, TimeZone: e.TimeZone, TrustedFormCertifiedVendor: e.TrustedFormCertifiedVendor,
					CreatedAt: stampOf(e.CreatedAt), UpdatedAt: stampOf(e.UpdatedAt)})
			},
			Relationship: func(r roster.Relationship) error {
				end.Counts["relationship"]++
				return line.write(exportRelationship{Kind: "relationship", AccountID: roster.KindAccount.Prefixed(r.AccountID),
					EntityID: roster.KindEntity.Prefixed(r.EntityID), RelationshipType: r.Type, CreatedAt: stampOf(r.CreatedAt)})
			},
		})
	})
	if err != nil {
		return end, err
	}
	end.SHA256 = hex.EncodeToString(h.Sum(nil))
	if err := (lineWriter{w: bw}).write(end); err != nil {
		return end, err
	}
	return end, bw.Flush()
}

// lineWriter writes values as JSON lines, <, > and & as themselves.
type lineWriter struct{ w io.Writer }

func (l lineWriter) write(v any) error {
	enc := json.NewEncoder(l.w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
