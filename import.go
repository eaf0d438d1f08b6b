package roster

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"time"
)

// Import (roster import) writes objects read from an export as they were — their ids, times and
// status — each validated as the API validates a body, through the one write path (write), so
// that what it creates is recorded as any write is. An object whose id exists is left alone:
// Same when it matches, Differs when it does not; an object that cannot be written (its account
// or entity does not exist, its slug is taken) is Invalid with the reason.

// ImportStatus is what an import did with one object.
type ImportStatus int

// Import statuses.
const (
	ImportCreated ImportStatus = iota
	ImportSame
	ImportDiffers
	ImportInvalid
)

// ImportOutcome is what an import did with one object, and why when it wrote nothing.
type ImportOutcome struct {
	Status ImportStatus
	Reason string
}

// importFields takes the fields an export adds to what a create body holds out of an object:
// its id of kind (none when kind is ""), its creation time, its update time when updated, and
// the string fields more.
func importFields(v any, kind Kind, updated bool, more ...string) (rest map[string]any, id string, createdAt, updatedAt time.Time, extra map[string]string, err error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, "", createdAt, updatedAt, nil, Invalid("model_attributes_type", "Input should be a valid dictionary or object", "body")
	}
	rest = maps.Clone(m)
	var ps Problems
	take := func(name string) string {
		s, ok := rest[name].(string)
		if !ok {
			ps.Add("missing", "Field required (a string)", "body", name)
		}
		delete(rest, name)
		return s
	}
	if kind != "" {
		raw := take("id")
		if id, ok = ParseID(kind, raw); !ok || id == "" {
			ps.Add("string_pattern_mismatch", "String should match pattern '"+kind.Pattern()+"'", "body", "id")
		}
	}
	parse := func(name string) time.Time {
		s := take(name)
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil && s != "" {
			ps.Add("datetime_parsing", "Input should be a valid datetime", "body", name)
		}
		return t.UTC().Truncate(time.Microsecond)
	}
	createdAt = parse("created_at")
	if updated {
		updatedAt = parse("updated_at")
	}
	extra = map[string]string{}
	for _, name := range more {
		extra[name] = take(name)
	}
	return rest, id, createdAt, updatedAt, extra, ps.Err()
}

// DecodeImportedAccount reads an account as an export writes it (the native view).
func DecodeImportedAccount(v any) (Account, error) {
	rest, id, created, updated, extra, err := importFields(v, KindAccount, true, "status")
	if err != nil {
		return Account{}, err
	}
	in, err := DecodeAccountCreate(rest)
	if err != nil {
		return Account{}, err
	}
	status := AccountStatus(extra["status"])
	if status != AccountActive && status != AccountSuspended {
		return Account{}, Invalid("enum", "Input should be 'active' or 'suspended'", "body", "status")
	}
	return Account{ID: id, Name: in.Name, Slug: in.Slug, Status: status, CreatedAt: created, UpdatedAt: updated}, nil
}

// DecodeImportedEntity reads an entity as an export writes it (the native view).
func DecodeImportedEntity(v any) (Entity, error) {
	rest, id, created, updated, extra, err := importFields(v, KindEntity, true, "account_id")
	if err != nil {
		return Entity{}, err
	}
	account, ok := ParseID(KindAccount, extra["account_id"])
	if !ok || account == "" {
		return Entity{}, Invalid("string_pattern_mismatch", "String should match pattern '"+KindAccount.Pattern()+"'", "body", "account_id")
	}
	in, err := DecodeEntity(rest, EntityReplace)
	if err != nil {
		return Entity{}, err
	}
	e := Entity{ID: id, AccountID: account, CreatedAt: created}
	in.Apply(&e, EntityReplace)
	e.UpdatedAt = updated
	return e, nil
}

// DecodeImportedRelationship reads a relationship as an export writes it (the native view).
func DecodeImportedRelationship(v any) (Relationship, error) {
	rest, _, created, _, extra, err := importFields(v, "", false, "account_id", "entity_id", "relationship_type")
	if err != nil {
		return Relationship{}, err
	}
	var ps Problems
	account, ok := ParseID(KindAccount, extra["account_id"])
	if !ok || account == "" {
		ps.Add("string_pattern_mismatch", "String should match pattern '"+KindAccount.Pattern()+"'", "body", "account_id")
	}
	entity, ok := ParseID(KindEntity, extra["entity_id"])
	if !ok || entity == "" {
		ps.Add("string_pattern_mismatch", "String should match pattern '"+KindEntity.Pattern()+"'", "body", "entity_id")
	}
	if !ValidRelationshipType(extra["relationship_type"]) {
		ps.Add("enum", "not a relationship type", "body", "relationship_type")
	}
	for k := range rest {
		ps.Add("extra_forbidden", "Extra inputs are not permitted", "body", k)
	}
	return Relationship{AccountID: account, EntityID: entity, Type: extra["relationship_type"], CreatedAt: created}, ps.Err()
}

// ImportAccount writes one account read from an export.
func (s *Service) ImportAccount(ctx context.Context, r *Request, a Account) (ImportOutcome, error) {
	return write(ctx, s, r, mutation[ImportOutcome]{action: "account.create", mode: Shared, prepare: func(*Problems) (operation[ImportOutcome], error) {
		return importAccount(ctx, a), nil
	}})
}

func importAccount(ctx context.Context, a Account) operation[ImportOutcome] {
	return func(tx Tx, ch *changes) (ImportOutcome, error) {
		old, err := tx.Account(ctx, a.ID)
		switch {
		case err == nil:
			return compared(old, a), nil
		case !errors.Is(err, ErrNotFound):
			return ImportOutcome{}, err
		}
		if err := tx.InsertAccount(ctx, &a); err != nil {
			return ImportOutcome{}, slugTaken(err) // or its id is a deleted account's
		}
		ch.add("account.created", a.ID, a.ID, a, nil)
		return ImportOutcome{Status: ImportCreated}, nil
	}
}

// ImportEntities writes entities read from an export, in one transaction: es[i]'s outcome is
// the result's i-th. An entity's see must name an entity that exists by then (earlier in es, or
// stored).
func (s *Service) ImportEntities(ctx context.Context, r *Request, es []Entity) ([]ImportOutcome, error) {
	return importMany(ctx, s, r, "entity.create", importEntities(ctx, es))
}

func importEntities(ctx context.Context, es []Entity) operation[[]ImportOutcome] {
	return func(tx Tx, ch *changes) ([]ImportOutcome, error) {
		out := make([]ImportOutcome, len(es))
		accounts := accountLocks{}
		for i, e := range es {
			old, err := tx.Entity(ctx, e.ID)
			switch {
			case err == nil:
				out[i] = compared(old, e)
				continue
			case !errors.Is(err, ErrNotFound):
				return nil, err
			}
			if ok, err := accounts.lock(ctx, tx, e.AccountID); err != nil {
				return nil, err
			} else if !ok {
				out[i] = ImportOutcome{ImportInvalid, "its account " + KindAccount.Prefixed(e.AccountID) + " does not exist"}
				continue
			}
			if err := checkSee(ctx, tx, e); err != nil {
				var re *Error
				if !errors.As(err, &re) {
					return nil, err
				}
				out[i] = ImportOutcome{ImportInvalid, re.Error()}
				continue
			}
			if err := tx.InsertEntity(ctx, &e); err != nil {
				return nil, fmt.Errorf("entity %s: %w", KindEntity.Prefixed(e.ID), err)
			}
			ch.add("entity.created", e.AccountID, e.ID, e, nil)
			out[i] = ImportOutcome{Status: ImportCreated}
		}
		return out, nil
	}
}

// ImportRelationships writes relationships read from an export, in one transaction: rs[i]'s
// outcome is the result's i-th. A relationship that exists is Same.
func (s *Service) ImportRelationships(ctx context.Context, r *Request, rs []Relationship) ([]ImportOutcome, error) {
	return importMany(ctx, s, r, "relationship.create", importRelationships(ctx, rs))
}

func importRelationships(ctx context.Context, rs []Relationship) operation[[]ImportOutcome] {
	return func(tx Tx, ch *changes) ([]ImportOutcome, error) {
		out := make([]ImportOutcome, len(rs))
		accounts := accountLocks{}
		// By account, in the order they come: one look-up of the entities, one insert.
		byAccount := map[string][]int{}
		var order []string
		for i, rel := range rs {
			if _, ok := byAccount[rel.AccountID]; !ok {
				order = append(order, rel.AccountID)
			}
			byAccount[rel.AccountID] = append(byAccount[rel.AccountID], i)
		}
		for _, account := range order {
			idx := byAccount[account]
			if ok, err := accounts.lock(ctx, tx, account); err != nil {
				return nil, err
			} else if !ok {
				for _, i := range idx {
					out[i] = ImportOutcome{ImportInvalid, "its account " + KindAccount.Prefixed(account) + " does not exist"}
				}
				continue
			}
			ids := make([]string, len(idx))
			for k, i := range idx {
				ids[k] = rs[i].EntityID
			}
			found, err := tx.ExistingEntities(ctx, account, ids)
			if err != nil {
				return nil, err
			}
			var valid []Relationship
			for _, i := range idx {
				if !found[rs[i].EntityID] {
					out[i] = ImportOutcome{ImportInvalid, "its entity " + KindEntity.Prefixed(rs[i].EntityID) + " is not an entity of its account"}
					continue
				}
				out[i] = ImportOutcome{Status: ImportSame} // unless the insert reports it created
				valid = append(valid, rs[i])
			}
			if len(valid) == 0 {
				continue
			}
			created, err := tx.InsertRelationships(ctx, valid)
			if err != nil {
				return nil, err
			}
			isNew := map[[2]string]bool{}
			for _, c := range created {
				isNew[[2]string{c.EntityID, c.Type}] = true
				ch.add("relationship.created", c.AccountID, c.EntityID, c, nil)
			}
			for _, i := range idx {
				if out[i].Status == ImportSame && isNew[[2]string{rs[i].EntityID, rs[i].Type}] {
					out[i] = ImportOutcome{Status: ImportCreated}
				}
			}
		}
		return out, nil
	}
}

// accountLocks holds, in one transaction, the accounts an import writes under (LockAccount),
// each looked up once.
type accountLocks map[string]bool

func (a accountLocks) lock(ctx context.Context, tx Tx, id string) (bool, error) {
	if ok, seen := a[id]; seen {
		return ok, nil
	}
	_, err := tx.LockAccount(ctx, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, err
	}
	a[id] = err == nil
	return err == nil, nil
}

// importMany runs op, an import's operation, through the write path.
func importMany(ctx context.Context, s *Service, r *Request, action string, op operation[[]ImportOutcome]) ([]ImportOutcome, error) {
	return write(ctx, s, r, mutation[[]ImportOutcome]{action: action, mode: Shared, prepare: func(*Problems) (operation[[]ImportOutcome], error) {
		return op, nil
	}})
}

// compared is the outcome for an object that exists already as old.
func compared[T any](old, imported T) ImportOutcome {
	if reflect.DeepEqual(old, imported) {
		return ImportOutcome{Status: ImportSame}
	}
	return ImportOutcome{ImportDiffers, "an object with its id exists and differs from it"}
}

// ImportDryRun answers what an import would do with what it reads, and writes nothing: each of
// its calls runs the import's own operation in a transaction that it rolls back, so the
// database refuses what it would refuse in the real import (a slug taken, the id of a deleted
// object, an account or entity that does not exist, a see naming another account's entity).
// What earlier calls would have created is put into that transaction first — accounts as they
// are, entities as placeholders that only carry their account — so a line that names an object
// of an earlier line is judged as the import would judge it. It remembers those objects (an id,
// an account and a fingerprint for each entity: about 150 bytes) for the whole run.
type ImportDryRun struct {
	s        *Service
	accounts map[string]Account
	slugs    map[string]string // slug → id of the accounts it would create
	entities map[string]dryEntity
}

type dryEntity struct {
	account string
	print   [32]byte
}

// NewImportDryRun starts a dry run of an import.
func (s *Service) NewImportDryRun() *ImportDryRun {
	return &ImportDryRun{s: s, accounts: map[string]Account{}, slugs: map[string]string{}, entities: map[string]dryEntity{}}
}

// errDryRun rolls a dry run's transaction back.
var errDryRun = errors.New("dry run")

// run runs op after putting in what earlier calls would have created that the accounts and
// entities named need, and rolls it all back.
func dryRun[T any](ctx context.Context, d *ImportDryRun, accounts, entities []string, op operation[T]) (T, error) {
	var out T
	err := d.s.store.Update(ctx, func(tx Tx) error {
		put := map[string]bool{}
		putAccount := func(id string) error {
			a, ok := d.accounts[id]
			if !ok || put[id] {
				return nil
			}
			put[id] = true
			return tx.InsertAccount(ctx, &a)
		}
		for _, id := range accounts {
			if err := putAccount(id); err != nil {
				return err
			}
		}
		for _, id := range entities {
			m, ok := d.entities[id]
			if !ok || put[id] {
				continue
			}
			put[id] = true
			if err := putAccount(m.account); err != nil {
				return err
			}
			at := time.Unix(0, 0).UTC()
			if err := tx.InsertEntity(ctx, &Entity{ID: id, AccountID: m.account, Name: "dry run", ModuleIDs: []string{}, FlowIDs: []string{},
				CreatedAt: at, UpdatedAt: at}); err != nil {
				return err
			}
		}
		var err error
		if out, err = op(tx, &changes{}); err != nil {
			return err
		}
		return errDryRun
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	return out, err
}

// Account is ImportAccount's answer for a, without writing.
func (d *ImportDryRun) Account(ctx context.Context, a Account) (ImportOutcome, error) {
	if old, ok := d.accounts[a.ID]; ok {
		return compared(old, a), nil
	}
	if _, ok := d.slugs[a.Slug]; ok {
		return ImportOutcome{}, slugTaken(ErrConflict)
	}
	o, err := dryRun(ctx, d, nil, nil, importAccount(ctx, a))
	if err == nil && o.Status == ImportCreated {
		d.accounts[a.ID], d.slugs[a.Slug] = a, a.ID
	}
	return o, err
}

// Entities is ImportEntities's answer for es, without writing.
func (d *ImportDryRun) Entities(ctx context.Context, es []Entity) ([]ImportOutcome, error) {
	out := make([]ImportOutcome, len(es))
	var batch []Entity
	var at []int
	var accounts, named []string
	for i, e := range es {
		if m, ok := d.entities[e.ID]; ok { // an earlier line would have created it
			out[i] = ImportOutcome{Status: ImportSame}
			if m.print != entityPrint(e) {
				out[i] = ImportOutcome{ImportDiffers, "an object with its id exists and differs from it"}
			}
			continue
		}
		batch, at = append(batch, e), append(at, i)
		accounts = append(accounts, e.AccountID)
		if e.See != nil {
			named = append(named, *e.See)
		}
	}
	if len(batch) == 0 {
		return out, nil
	}
	res, err := dryRun(ctx, d, accounts, named, importEntities(ctx, batch))
	if err != nil {
		return nil, err
	}
	for k, o := range res {
		out[at[k]] = o
		if e := batch[k]; o.Status == ImportCreated {
			d.entities[e.ID] = dryEntity{account: e.AccountID, print: entityPrint(e)}
		}
	}
	return out, nil
}

// Relationships is ImportRelationships's answer for rs, without writing. (A relationship that
// an earlier call would have created is not remembered: a file that repeats one in two batches
// has it counted as created twice, where the import finds it unchanged the second time.)
func (d *ImportDryRun) Relationships(ctx context.Context, rs []Relationship) ([]ImportOutcome, error) {
	var accounts, named []string
	for _, r := range rs {
		accounts, named = append(accounts, r.AccountID), append(named, r.EntityID)
	}
	return dryRun(ctx, d, accounts, named, importRelationships(ctx, rs))
}

func entityPrint(e Entity) [32]byte {
	b, _ := json.Marshal(e)
	return sha256.Sum256(b)
}
