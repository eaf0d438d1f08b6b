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
	// EventCursor is the position in /v1/events of the export's state: a consumer that reads
	// the feed from it (GET /v1/events?cursor=…, with a superadmin key) gets exactly the
	// events whose changes the export does not hold.
	EventCursor *string `json:"event_cursor"`
}

func stampOf(t time.Time) string { return t.UTC().Format(exportTime) }

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
	end, err := export(ctx, snap, pg, accountID, c.stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "exported %d accounts, %d entities, %d relationships in %s\n", end.Counts["account"], end.Counts["entity"],
		end.Counts["relationship"], time.Since(start).Round(time.Millisecond))
	return nil
}

// export writes the export of snap to w. pg says whether snap is PostgreSQL (its feed cut
// needs the snapshot's xmin, ExportCut). Without accountID the closing line's cursor is in the
// feed of every account, and the export's state is rolled back to that cut; with it, the cursor
// is in that account's feed, which the snapshot matches as it is.
func export(ctx context.Context, snap sqlstore.Copier, pg bool, accountID string, w io.Writer) (exportEnd, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	var end exportEnd
	giveUp := time.Now().Add(10 * time.Second)
	for {
		h := sha256.New()
		end = exportEnd{Kind: "end", Counts: map[string]int{"account": 0, "entity": 0, "relationship": 0}}
		line := lineWriter{w: io.MultiWriter(bw, h)}
		err := snap.Snapshot(ctx, func(q sqlstore.Querier) error {
			cursor, back, err := exportCursor(ctx, q, pg, accountID)
			if err != nil {
				return err
			}
			end.EventCursor = &cursor
			return exportObjects(ctx, q, accountID, back, line, end.Counts)
		})
		if errors.Is(err, errCutMoved) && time.Now().Before(giveUp) {
			// Nothing was written: try a new snapshot (an account deleted in the moment of the
			// snapshot, while an older transaction was still running; rare, and soon over).
			select {
			case <-ctx.Done():
				return end, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		if errors.Is(err, errCutMoved) {
			return end, errors.New("export: for 10 s every snapshot held the deletion of an account past the change feed's cut, " +
				"which a transaction held open on the PostgreSQL cluster keeps back (see pg_stat_activity); try again once it has ended")
		}
		if err != nil {
			return end, err
		}
		end.SHA256 = hex.EncodeToString(h.Sum(nil))
		break
	}
	if err := (lineWriter{w: bw}).write(end); err != nil {
		return end, err
	}
	return end, bw.Flush()
}

// exportCursor reads, in the export's snapshot q, the cursor of the closing line and what the
// export must roll back to match it (see ExportCut). The cursor is a superadmin's: of the feed
// of every account, or with --account of the feed GET /v1/events?account_id=… reads.
func exportCursor(ctx context.Context, q sqlstore.Querier, pg bool, accountID string) (string, rollback, error) {
	if accountID != "" {
		seq, err := sqlstore.AccountCut(ctx, q, accountID)
		if err != nil {
			return "", rollback{}, err
		}
		c, err := roster.FeedCursor(roster.System, map[string]string{"account_id": roster.KindAccount.Prefixed(accountID)}, seq, roster.FeedPosition{})
		return c, rollback{}, err
	}
	cut, err := sqlstore.ExportCut(ctx, q, pg)
	if err != nil {
		return "", rollback{}, err
	}
	back, err := rollbackOf(cut.Later)
	if err != nil {
		return "", back, err
	}
	c, err := roster.FeedCursor(roster.System, nil, 0, cut.Position)
	return c, back, err
}

// exportObjects writes the objects of the snapshot q, as the rollback back leaves them.
func exportObjects(ctx context.Context, q sqlstore.Querier, accountID string, back rollback, line lineWriter, counts map[string]int) error {
	write := func(kind string) func(v any) error {
		return func(v any) error {
			counts[kind]++
			return line.write(v)
		}
	}
	accounts := newMerge(back.accounts, write("account"))
	entities := newMerge(back.entities, write("entity"))
	relationships := newMerge(back.relationships, write("relationship"))
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

// rollback holds, for each object that events after the export's cut changed, its state before
// the first of them: nil when it did not exist then. Keys are the export's order (prefixed ids;
// exportRelationship.key).
type rollback struct {
	accounts      map[string]*exportAccount
	entities      map[string]*exportEntity
	relationships map[string]*exportRelationship
}

// errCutMoved is an account deleted after the cut: its entities, deleted with it without
// events of their own, cannot be put back from the events, so the export takes a new snapshot.
var errCutMoved = errors.New("export: an account was deleted after the feed's cut")

// rollbackOf reads the state before later, events in feed order: the first event about an
// object has its state before it (nothing for a creation; data.object for a deletion; data.object
// with previous_attributes over it for an update). Events of keys and webhook endpoints change
// nothing an export holds.
func rollbackOf(later []roster.Event) (rollback, error) {
	back := rollback{accounts: map[string]*exportAccount{}, entities: map[string]*exportEntity{}, relationships: map[string]*exportRelationship{}}
	for _, e := range later {
		resource, action, _ := strings.Cut(e.Type, ".")
		if resource != "account" && resource != "entity" && resource != "relationship" {
			continue
		}
		if e.Type == roster.EventAccountDeleted {
			return back, errCutMoved
		}
		var data struct {
			Object   map[string]json.RawMessage `json:"object"`
			Previous map[string]json.RawMessage `json:"previous_attributes"`
		}
		if err := json.Unmarshal(e.Data, &data); err != nil {
			return back, fmt.Errorf("export: event %s: %w", roster.KindEvent.Prefixed(e.ID), err)
		}
		// The object's state before e: for a creation none (the object's id is read from after it).
		existed := action != "created"
		if existed {
			for k, v := range data.Previous {
				data.Object[k] = v
			}
		}
		object, err := json.Marshal(data.Object)
		if err != nil {
			return back, err
		}
		switch resource {
		case "account":
			err = keepFirst(back.accounts, object, existed, "account", func(v *exportAccount) string { return v.ID })
		case "entity":
			err = keepFirst(back.entities, object, existed, "entity", func(v *exportEntity) string { return v.ID })
		case "relationship":
			err = keepFirst(back.relationships, object, existed, "relationship", (*exportRelationship).key)
		}
		if err != nil {
			return back, fmt.Errorf("export: event %s: %w", roster.KindEvent.Prefixed(e.ID), err)
		}
	}
	return back, nil
}

// keepFirst records in m the state before an event of object (the native view, as it was before
// the event when existed, else as it is after it), unless an earlier event recorded it.
func keepFirst[T any](m map[string]*T, object []byte, existed bool, kind string, key func(*T) string) error {
	v := new(T)
	if err := json.Unmarshal(object, v); err != nil {
		return err
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
	if _, seen := m[k]; seen {
		return nil
	}
	if !existed {
		v = nil
	}
	m[k] = v
	return nil
}

// merge writes objects in the export's order, as a rollback leaves them: one whose key the
// rollback holds is written as it was (or not at all), and one it holds that the snapshot does
// not (deleted after the cut) is written in its place in the order.
type merge[T any] struct {
	back    map[string]*T
	restore []string // keys of back to write that the snapshot has not reached yet, in order
	write   func(v any) error
}

func newMerge[T any](back map[string]*T, write func(v any) error) *merge[T] {
	m := &merge[T]{back: back, write: write}
	for k, v := range back {
		if v != nil {
			m.restore = append(m.restore, k)
		}
	}
	slices.Sort(m.restore)
	return m
}

// next writes the objects to restore before key, then v (key's state in the snapshot) as the
// rollback leaves it.
func (m *merge[T]) next(key string, v *T) error {
	for len(m.restore) > 0 && m.restore[0] <= key {
		k := m.restore[0]
		m.restore = m.restore[1:]
		if k != key {
			if err := m.write(m.back[k]); err != nil {
				return err
			}
		}
	}
	if b, ok := m.back[key]; ok {
		if b == nil {
			return nil
		}
		v = b
	}
	return m.write(v)
}

// finish writes the objects to restore that sort after every object of the snapshot.
func (m *merge[T]) finish() error {
	for _, k := range m.restore {
		if err := m.write(m.back[k]); err != nil {
			return err
		}
	}
	m.restore = nil
	return nil
}

// lineWriter writes values as JSON lines, <, > and & as themselves.
type lineWriter struct{ w io.Writer }

func (l lineWriter) write(v any) error {
	enc := json.NewEncoder(l.w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
