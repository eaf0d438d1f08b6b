package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store/postgres"
	"github.com/rosterhq/roster/store/sqlstore"
)

// The export format (SPEC §12): NDJSON, one object a line with a "kind" — "account", "entity",
// "relationship", in that order, each kind in id order, each object as the native API shows it
// (its stored fields) — and last a line {"kind":"end"} with the counts, the SHA-256 of every
// line before it (newlines included) and the event cursor of the snapshot.

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
	// EventCursor is the position in /v1/events of the export's state: a consumer that reads
	// the feed from it (GET /v1/events?cursor=…, with a superadmin key) gets exactly the
	// events whose changes the export does not hold.
	EventCursor *string `json:"event_cursor"`
}

func stampOf(t time.Time) string { return t.UTC().Format(roster.TimeFormat) }

func exportCmd(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("export", `usage: roster export [--database URL] [--account ID] > FILE

Writes the live accounts, entities and relationships (of one account with --account) to stdout
as NDJSON, from one consistent snapshot while servers go on: one object a line with a "kind",
each as the native API shows it, and a last line
  {"kind":"end","counts":{"account":N,"entity":N,"relationship":N},"sha256":"…","event_cursor":…}
with the SHA-256 of every line before it and a superadmin's cursor of the change feed (of every
account; with --account, of that account's): GET /v1/events?cursor=… from it returns exactly the
changes made after the export's state. API keys are not exported (roster copy moves them).
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
	_, pg := st.(*postgres.Store)
	end, err := export(ctx, snap, pg, accountID, c.stdout, c.stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "exported %d accounts, %d entities, %d relationships in %s\n", end.Counts["account"], end.Counts["entity"],
		end.Counts["relationship"], time.Since(start).Round(time.Millisecond))
	return nil
}

// export writes the export of snap to w, and notes about waiting to notes. pg says whether
// snap is PostgreSQL. Without accountID the closing line's cursor is in the feed of every
// account (see exportCursor); with it, in that account's feed, which the snapshot matches as it
// is: an account's events commit in sequence order on both engines.
func export(ctx context.Context, snap sqlstore.Copier, pg bool, accountID string, w, notes io.Writer) (exportEnd, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	h := sha256.New()
	end := exportEnd{Kind: "end", Counts: map[string]int{"account": 0, "entity": 0, "relationship": 0}}
	line := lineWriter{w: io.MultiWriter(bw, h)}
	err := snap.Snapshot(ctx, func(q sqlstore.Querier) error {
		cursor, fwd, err := exportCursor(ctx, snap, q, pg, accountID, notes)
		if err != nil {
			return err
		}
		end.EventCursor = &cursor
		return exportObjects(ctx, q, accountID, fwd, line, end.Counts)
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

// exportCursor reads the cursor of the closing line for the export's snapshot q, and what the
// export must add to q's objects to match it. The cursor is a superadmin's: of the feed of every
// account, or with --account of the feed GET /v1/events?account_id=… reads.
//
// On PostgreSQL the state an export writes is that of every event with tx below the snapshot's
// xmax (sqlstore.FeedCut): the snapshot, plus the changes of the transactions that were still
// running when it was taken. It waits until they have all ended (milliseconds, unless a
// transaction is held open on the cluster, which the feed of every account waits for too), then
// reads their events and applies them to the objects it writes.
func exportCursor(ctx context.Context, snap sqlstore.Copier, q sqlstore.Querier, pg bool, accountID string, notes io.Writer) (string, forward, error) {
	if accountID != "" {
		seq, err := sqlstore.AccountCut(ctx, q, accountID)
		if err != nil {
			return "", forward{}, err
		}
		c, err := roster.FeedCursor(roster.System, map[string]string{"account_id": roster.KindAccount.Prefixed(accountID)}, seq, roster.FeedPosition{})
		return c, forward{}, err
	}
	cut, err := sqlstore.ExportCut(ctx, q, pg)
	if err != nil || !pg {
		c, cerr := roster.FeedCursor(roster.System, nil, 0, cut.Position)
		return c, forward{}, errors.Join(err, cerr)
	}
	start, said := time.Now(), time.Duration(0)
	for {
		var events []roster.Event
		var last roster.FeedPosition
		var ready bool
		err := snap.Snapshot(ctx, func(q2 sqlstore.Querier) error {
			var err error
			events, last, ready, err = sqlstore.FeedSince(ctx, q2, cut)
			return err
		})
		if err != nil {
			return "", forward{}, err
		}
		if ready {
			fwd, err := forwardOf(events)
			if err != nil {
				return "", fwd, err
			}
			c, err := roster.FeedCursor(roster.System, nil, 0, last)
			return c, fwd, err
		}
		if waited := time.Since(start); waited-said >= 10*time.Second {
			said = waited
			fmt.Fprintf(notes, "export: waiting %s for transactions older than the snapshot to end (one held open on the PostgreSQL cluster holds the export back, as it holds the change feed: see pg_stat_activity)\n",
				waited.Round(time.Second))
		}
		select {
		case <-ctx.Done():
			return "", forward{}, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// exportObjects writes the objects of the snapshot q, as fwd leaves them.
func exportObjects(ctx context.Context, q sqlstore.Querier, accountID string, fwd forward, line lineWriter, counts map[string]int) error {
	write := func(kind string) func(v any) error {
		return func(v any) error {
			counts[kind]++
			return line.write(v)
		}
	}
	gone := func(account string) bool { return fwd.gone[account] }
	accounts := newMerge(fwd.accounts, write("account"), func(*exportAccount) bool { return false })
	entities := newMerge(fwd.entities, write("entity"), func(v *exportEntity) bool { return gone(v.AccountID) })
	relationships := newMerge(fwd.relationships, write("relationship"), func(v *exportRelationship) bool { return gone(v.AccountID) })
	err := sqlstore.Export(ctx, q, accountID, sqlstore.Exporter{
		Account: func(a roster.Account) error {
			v := &exportAccount{Kind: "account", ID: roster.KindAccount.Prefixed(a.ID), Name: a.Name, Slug: a.Slug,
				Status: string(a.Status), CreatedAt: stampOf(a.CreatedAt), UpdatedAt: stampOf(a.UpdatedAt)}
			return accounts.next(v.ID, v)
		},
		Entity: func(e roster.Entity) error {
			if err := accounts.finish(); err != nil {
				return err
			}
			var see *string
			if e.See != nil {
				s := roster.KindEntity.Prefixed(*e.See)
				see = &s
			}
			v := &exportEntity{Kind: "entity", ID: roster.KindEntity.Prefixed(e.ID), AccountID: roster.KindAccount.Prefixed(e.AccountID),
				Name: e.Name, ModuleIDs: e.ModuleIDs, Source: e.Source, Recipient: e.Recipient, Description: e.Description,
				Deprecated: e.Deprecated, See: see, FieldSuffix: e.FieldSuffix, InvitationID: e.InvitationID, FlowIDs: e.FlowIDs,
				LogoURL: e.LogoURL, Website: e.Website, TimeZone: e.TimeZone, TrustedFormCertifiedVendor: e.TrustedFormCertifiedVendor,
				CreatedAt: stampOf(e.CreatedAt), UpdatedAt: stampOf(e.UpdatedAt)}
			return entities.next(v.ID, v)
		},
		Relationship: func(r roster.Relationship) error {
			if err := accounts.finish(); err != nil {
				return err
			}
			if err := entities.finish(); err != nil {
				return err
			}
			v := &exportRelationship{Kind: "relationship", AccountID: roster.KindAccount.Prefixed(r.AccountID),
				EntityID: roster.KindEntity.Prefixed(r.EntityID), RelationshipType: r.Type, CreatedAt: stampOf(r.CreatedAt)}
			return relationships.next(v.key(), v)
		},
	})
	if err != nil {
		return err
	}
	for _, m := range []interface{ finish() error }{accounts, entities, relationships} {
		if err := m.finish(); err != nil {
			return err
		}
	}
	return nil
}

// key orders relationships as the export does: by account, entity and type (ids of one
// length, types without spaces).
func (r *exportRelationship) key() string {
	return r.AccountID + " " + r.EntityID + " " + r.RelationshipType
}

// forward holds, for each object that events the snapshot did not hold changed, its state after
// the last of them: nil when it no longer exists. Keys are the export's order (prefixed ids;
// exportRelationship.key). gone holds the accounts those events deleted: their entities and
// relationships go with them (without events of their own).
type forward struct {
	accounts      map[string]*exportAccount
	entities      map[string]*exportEntity
	relationships map[string]*exportRelationship
	gone          map[string]bool
}

// forwardOf reads the state after events, in feed order: the last event about an object has its
// state (data.object; nothing for a deletion). Events of keys and webhook endpoints change
// nothing an export holds.
func forwardOf(events []roster.Event) (forward, error) {
	fwd := forward{accounts: map[string]*exportAccount{}, entities: map[string]*exportEntity{},
		relationships: map[string]*exportRelationship{}, gone: map[string]bool{}}
	for _, e := range events {
		resource, action, _ := strings.Cut(e.Type, ".")
		var data struct {
			Object json.RawMessage `json:"object"`
		}
		var err error
		switch resource {
		case "account", "entity", "relationship":
			err = json.Unmarshal(e.Data, &data)
		default:
			continue
		}
		if err == nil {
			switch resource {
			case "account":
				var id string
				id, err = put(fwd.accounts, data.Object, action, "account", func(v *exportAccount) string { return v.ID })
				if action == "deleted" {
					fwd.gone[id] = true
				}
			case "entity":
				_, err = put(fwd.entities, data.Object, action, "entity", func(v *exportEntity) string { return v.ID })
			case "relationship":
				_, err = put(fwd.relationships, data.Object, action, "relationship", (*exportRelationship).key)
			}
		}
		if err != nil {
			return fwd, fmt.Errorf("export: event %s: %w", roster.KindEvent.Prefixed(e.ID), err)
		}
	}
	return fwd, nil
}

// put records in m the state of object (the native view) after an event of action about it,
// and returns its key.
func put[T any](m map[string]*T, object []byte, action, kind string, key func(*T) string) (string, error) {
	v := new(T)
	if err := json.Unmarshal(object, v); err != nil {
		return "", err
	}
	switch x := any(v).(type) {
	case *exportAccount:
		x.Kind = kind
	case *exportEntity:
		x.Kind = kind
	case *exportRelationship:
		x.Kind = kind
	}
	k := key(v)
	if action == "deleted" {
		v = nil
	}
	m[k] = v
	return k, nil
}

// merge writes objects in the export's order, as a forward leaves them: one whose key it holds
// is written in its state there (or not at all), one it holds that the snapshot does not
// (created after it) in its place in the order, and none that skip says to leave out.
type merge[T any] struct {
	fwd   map[string]*T
	add   []string // keys of fwd to write that the snapshot has not reached yet, in order
	write func(v any) error
	skip  func(*T) bool
}

func newMerge[T any](fwd map[string]*T, write func(v any) error, skip func(*T) bool) *merge[T] {
	m := &merge[T]{fwd: fwd, write: write, skip: skip}
	for k, v := range fwd {
		if v != nil {
			m.add = append(m.add, k)
		}
	}
	slices.Sort(m.add)
	return m
}

func (m *merge[T]) put(v *T) error {
	if v == nil || m.skip(v) {
		return nil
	}
	return m.write(v)
}

// next writes the objects to add before key, then v (key's state in the snapshot) as the
// forward leaves it.
func (m *merge[T]) next(key string, v *T) error {
	for len(m.add) > 0 && m.add[0] <= key {
		k := m.add[0]
		m.add = m.add[1:]
		if k != key {
			if err := m.put(m.fwd[k]); err != nil {
				return err
			}
		}
	}
	if f, ok := m.fwd[key]; ok {
		v = f
	}
	return m.put(v)
}

// finish writes the objects to add that sort after every object of the snapshot.
func (m *merge[T]) finish() error {
	for _, k := range m.add {
		if err := m.put(m.fwd[k]); err != nil {
			return err
		}
	}
	m.add = nil
	return nil
}

// lineWriter writes values as JSON lines, <, > and & as themselves.
type lineWriter struct{ w io.Writer }

func (l lineWriter) write(v any) error {
	enc := json.NewEncoder(l.w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
