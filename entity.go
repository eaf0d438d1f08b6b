package roster

import (
	"context"
	_ "embed"
	"errors"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"time"
	_ "time/tzdata" // the IANA database timezones.txt lists, the same on every machine
)

// The size limits of an entity's fields (SPEC §8), in characters (code points) and items.
// With them one entity's JSON is at most about 90 KB (api/jsonenc.go has the worst case).
const (
	MaxEntityName        = 200
	MaxEntityDescription = 5000
	MaxEntityModuleIDs   = 50
	MaxEntityModuleID    = 64
	MaxEntityFlowIDs     = 500
	MaxEntityURL         = 2048
)

// Entity is a person or company an account deals with (SPEC §8).
type Entity struct {
	ID                         string
	AccountID                  string
	Name                       string
	ModuleIDs                  []string
	Source                     *string
	Recipient                  *string
	Description                *string
	Deprecated                 bool
	See                        *string // bare hex id of an entity of the same account
	FieldSuffix                *string
	InvitationID               *string
	FlowIDs                    []string
	LogoURL                    *string
	Website                    *string
	TimeZone                   *string
	TrustedFormCertifiedVendor bool
	CreatedAt                  time.Time
	UpdatedAt                  time.Time
}

// Pending is true while an invitation is attached.
func (e Entity) Pending() bool { return e.InvitationID != nil }

// EntityListing is how entities are listed.
var EntityListing = Listing{
	Fields:       map[string]FieldKind{"id": FieldString, "name": FieldString, "created_at": FieldTime, "updated_at": FieldTime},
	DefaultSort:  "created_at:desc,id:asc",
	TieBreak:     []string{"id"},
	DefaultLimit: 20,
	MaxLimit:     100,
}

// ConduitEntityListing is the LeadConduit list: ascending creation order, up to 1,000 a page.
var ConduitEntityListing = Listing{
	Fields:       EntityListing.Fields,
	DefaultSort:  "created_at:asc,id:asc",
	TieBreak:     []string{"id"},
	DefaultLimit: 100,
	MaxLimit:     1000,
}

// EntityValue returns the value of a sortable field of e.
func EntityValue(e Entity, field string) any {
	switch field {
	case "name":
		return e.Name
	case "created_at":
		return e.CreatedAt
	case "updated_at":
		return e.UpdatedAt
	default:
		return e.ID
	}
}

// The enums of an entity.
var (
	EntitySources    = []string{"form", "seller", "other"}
	EntityRecipients = []string{"buyer", "crm", "analytics", "enhancement", "esp", "other"}
)

// EntityReadOnly lists the fields a client may send back and that are ignored.
var EntityReadOnly = []string{"id", "created_at", "updated_at", "standard", "account", "pending",
	"invitation_expires_at", "connected", "connected_account_id", "expired"}

// EntityInput is a validated entity body. On create and PUT every field is Set (defaults
// filled in); on PATCH only the fields the client gave are.
type EntityInput struct {
	AccountID                  Opt[string] // create only: bare hex, or raw text when malformed (403 for non-superadmins)
	AccountIDMalformed         bool
	AccountIDReported          bool // the body's problems already cover account_id (not a string, or no object at all)
	Name                       Opt[string]
	ModuleIDs                  Opt[[]string]
	Source                     Opt[string]
	Recipient                  Opt[string]
	Description                Opt[string]
	Deprecated                 Opt[bool]
	See                        Opt[string] // bare hex; V == "" with Set when it names nothing roster made
	FieldSuffix                Opt[string]
	InvitationID               Opt[string]
	FlowIDs                    Opt[[]string]
	LogoURL                    Opt[string]
	Website                    Opt[string]
	TimeZone                   Opt[string]
	TrustedFormCertifiedVendor Opt[bool]
}

// EntityMode says which request an entity body belongs to.
type EntityMode int

// Entity request kinds.
const (
	EntityCreate EntityMode = iota
	EntityReplace
	EntityPatch
)

var (
	fieldSuffixPattern = regexp.MustCompile(`^[0-9a-zA-Z]+$`)
	hex24Pattern       = `^[0-9a-fA-F]{24}$`
)

// DecodeEntity reads and validates an entity body for the given request kind.
func DecodeEntity(v any, mode EntityMode) (EntityInput, error) {
	b := NewBody(v)
	var in EntityInput
	if !b.Valid() {
		in.AccountIDReported = true
		return in, b.Problems.Err()
	}
	full := mode != EntityPatch
	ps := &b.Problems

	if mode == EntityCreate {
		n := len(*ps)
		a := b.String("account_id", false)
		in.AccountIDReported = len(*ps) > n
		if a.Has() {
			id, ok := ParseID(KindAccount, a.V)
			in.AccountID = Opt[string]{Set: true, V: id}
			if !ok || id == "" {
				in.AccountIDMalformed = !ok
				in.AccountID.V = a.V
			}
		}
	} else {
		b.Ignore("account_id")
	}
	in.Name = b.String("name", full)
	if in.Name.Null {
		if full {
			ps.Add("string_type", "Input should be a valid string", "body", "name")
		}
		in.Name = Opt[string]{}
	} else if in.Name.Has() && !ps.CheckLen(in.Name.V, 1, MaxEntityName, "body", "name") {
		in.Name = Opt[string]{}
	}
	in.ModuleIDs = b.StringList("module_ids", full, ListLimits{MaxItems: MaxEntityModuleIDs, MinLen: 1, MaxLen: MaxEntityModuleID})
	if in.ModuleIDs.Null {
		if full {
			ps.Add("list_type", "Input should be a valid list", "body", "module_ids")
		}
		in.ModuleIDs = Opt[[]string]{}
	}
	in.Source = enumField(b, "source", full, EntitySources)
	in.Recipient = enumField(b, "recipient", full, EntityRecipients)
	in.Description = b.String("description", false)
	if in.Description.Has() && !ps.CheckLen(in.Description.V, 0, MaxEntityDescription, "body", "description") {
		in.Description = Opt[string]{}
	}
	in.Deprecated = b.Bool("deprecated", false)
	if see := b.String("see", false); see.Has() {
		id, ok := ParseID(KindEntity, see.V)
		if !ok {
			ps.Add("string_pattern_mismatch", "String should match pattern '"+hex24Pattern+"'", "body", "see")
		} else {
			in.See = Opt[string]{Set: true, V: id}
		}
	} else {
		in.See = see
	}
	in.FieldSuffix = b.String("field_suffix", false)
	if in.FieldSuffix.Has() {
		if !ps.CheckLen(in.FieldSuffix.V, 3, 5, "body", "field_suffix") {
			in.FieldSuffix = Opt[string]{}
		} else if !fieldSuffixPattern.MatchString(in.FieldSuffix.V) {
			ps.Add("string_pattern_mismatch", "String should match pattern '^[0-9a-zA-Z]+$'", "body", "field_suffix")
		}
	}
	in.InvitationID = b.String("invitation_id", false)
	if in.InvitationID.Has() && !IsHex24(in.InvitationID.V) {
		ps.Add("string_pattern_mismatch", "String should match pattern '"+hex24Pattern+"'", "body", "invitation_id")
	}
	in.FlowIDs = b.StringList("flow_ids", false, ListLimits{MaxItems: MaxEntityFlowIDs})
	if in.FlowIDs.Has() {
		for i, f := range in.FlowIDs.V {
			if !IsHex24(f) {
				ps.Add("string_pattern_mismatch", "String should match pattern '"+hex24Pattern+"'", "body", "flow_ids", i)
			}
		}
	}
	in.LogoURL = urlField(b, "logo_url")
	in.Website = urlField(b, "website")
	in.TimeZone = b.String("time_zone", false)
	if in.TimeZone.Has() && !ValidTimeZone(in.TimeZone.V) {
		msg := "Value error, unknown time zone"
		if StrLen(in.TimeZone.V) <= 64 { // no zone name is longer; a longer one is not echoed
			msg += ": " + in.TimeZone.V
		}
		ps.Add("value_error", msg, "body", "time_zone")
	}
	in.TrustedFormCertifiedVendor = b.Bool("trustedform_certified_vendor", false)
	b.Ignore(EntityReadOnly...)

	// null means "not given" for the fields that cannot be null.
	if in.Deprecated.Null {
		in.Deprecated = Opt[bool]{}
	}
	if in.FlowIDs.Null {
		in.FlowIDs = Opt[[]string]{}
	}
	if in.TrustedFormCertifiedVendor.Null {
		in.TrustedFormCertifiedVendor = Opt[bool]{}
	}
	// On create and PUT, see needs deprecated true in the same body; reported with the other
	// problems, all at once (a PATCH is judged against the stored entity by the service).
	if full && in.See.Has() && !(in.Deprecated.Has() && in.Deprecated.V) {
		ps.Add("value_error", "Value error, see is only allowed when deprecated is true", "body", "see")
	}
	return in, b.Finish()
}

func enumField(b *Body, name string, required bool, allowed []string) Opt[string] {
	o := b.String(name, required)
	if o.Has() {
		for _, a := range allowed {
			if o.V == a {
				return o
			}
		}
		b.Problems.Enum(allowed, "body", name)
		return Opt[string]{}
	}
	return o
}

func urlField(b *Body, name string) Opt[string] {
	o := b.String(name, false)
	if !o.Has() {
		return o
	}
	if !b.Problems.CheckLen(o.V, 0, MaxEntityURL, "body", name) {
		return Opt[string]{}
	}
	u, err := url.Parse(o.V)
	switch {
	case err != nil || u.Host == "" || !u.IsAbs():
		if err == nil && u.Scheme != "" && !isHTTP(u.Scheme) {
			b.Problems.Add("url_scheme", "URL scheme should be 'http' or 'https'", "body", name)
		} else {
			b.Problems.Add("url_parsing", "Input should be a valid URL, an absolute http or https URL", "body", name)
		}
		return Opt[string]{}
	case !isHTTP(u.Scheme):
		b.Problems.Add("url_scheme", "URL scheme should be 'http' or 'https'", "body", name)
		return Opt[string]{}
	}
	return o
}

func isHTTP(scheme string) bool {
	return strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https")
}

// timeZones are the names of the zones in the IANA database that time/tzdata embeds in the
// binary (Go's lib/time/zoneinfo.zip), one a line; scripts/tznames writes the file and a test
// holds it to the toolchain's. A fixed list, not time.LoadLocation, decides: LoadLocation reads
// the server's own zoneinfo files first, where "localtime", "posixrules", "./UTC" and
// "Etc//UTC" name files that are no zone of the database.
//
//go:generate sh -c "go run ./scripts/tznames > timezones.txt"
//go:embed timezones.txt
var timeZoneList string

var timeZones = func() map[string]bool {
	m := map[string]bool{}
	for _, name := range strings.Split(strings.TrimSpace(timeZoneList), "\n") {
		m[name] = true
	}
	return m
}()

// ValidTimeZone accepts the name of a zone of the embedded IANA database, with a space allowed
// in place of each underscore ("America/Los Angeles").
func ValidTimeZone(s string) bool {
	return len(s) <= 64 && timeZones[strings.ReplaceAll(s, " ", "_")]
}

// Apply writes the given fields of in onto e. For a replace, fields not given return to their
// defaults first.
func (in EntityInput) Apply(e *Entity, mode EntityMode) {
	if mode != EntityPatch {
		accountID, id, created := e.AccountID, e.ID, e.CreatedAt
		*e = Entity{ID: id, AccountID: accountID, CreatedAt: created, ModuleIDs: []string{}, FlowIDs: []string{}}
	}
	setStr := func(dst **string, o Opt[string]) {
		if !o.Set {
			return
		}
		if o.Null {
			*dst = nil
			return
		}
		v := o.V
		*dst = &v
	}
	if in.Name.Has() {
		e.Name = in.Name.V
	}
	if in.ModuleIDs.Has() {
		e.ModuleIDs = in.ModuleIDs.V
	}
	setStr(&e.Source, in.Source)
	setStr(&e.Recipient, in.Recipient)
	setStr(&e.Description, in.Description)
	if in.Deprecated.Has() {
		e.Deprecated = in.Deprecated.V
	}
	setStr(&e.See, in.See)
	setStr(&e.FieldSuffix, in.FieldSuffix)
	setStr(&e.InvitationID, in.InvitationID)
	if in.FlowIDs.Has() {
		e.FlowIDs = in.FlowIDs.V
	}
	setStr(&e.LogoURL, in.LogoURL)
	setStr(&e.Website, in.Website)
	setStr(&e.TimeZone, in.TimeZone)
	if in.TrustedFormCertifiedVendor.Has() {
		e.TrustedFormCertifiedVendor = in.TrustedFormCertifiedVendor.V
	}
	if e.ModuleIDs == nil {
		e.ModuleIDs = []string{}
	}
	if e.FlowIDs == nil {
		e.FlowIDs = []string{}
	}
}

// entityAccount decides which account a new entity belongs to: a superadmin names it (422 when
// missing or malformed), an account key's own account is implied (403 when the body names
// another, malformed or not).
func entityAccount(p Principal, in EntityInput) (string, Problems, error) {
	var ps Problems
	if !p.IsSuperadmin() {
		if in.AccountID.Has() && (in.AccountIDMalformed || in.AccountID.V != p.AccountID) {
			return "", nil, Errorf(CodeForbidden, "this key cannot create entities for another account")
		}
		return p.AccountID, nil, nil
	}
	switch {
	case !in.AccountID.Has() && !in.AccountIDReported:
		ps.Add("missing", "Field required", "body", "account_id")
	case in.AccountIDMalformed:
		ps.Add("string_pattern_mismatch", "String should match pattern '"+KindAccount.Pattern()+"'", "body", "account_id")
	}
	return in.AccountID.V, ps, nil
}

// CreateEntity makes an entity from a create body (SPEC §8).
func (s *Service) CreateEntity(ctx context.Context, r *Request, body []byte) (Entity, error) {
	p := r.Principal
	return write(ctx, s, r, mutation[Entity]{action: "entity.create", mode: Shared, prepare: func(ps *Problems) (operation[Entity], error) {
		v, err := decodeBody(body)
		if err != nil {
			return nil, err
		}
		in, err := DecodeEntity(v, EntityCreate)
		if err := ps.Absorb(err); err != nil {
			return nil, err
		}
		account, more, err := entityAccount(p, in)
		if err != nil {
			return nil, err
		}
		ps.Join(more)
		return func(tx Tx, ch *changes) (Entity, error) { return s.createEntity(ctx, tx, ch, p, account, in) }, nil
	}})
}

func (s *Service) createEntity(ctx context.Context, tx Tx, ch *changes, p Principal, accountID string, in EntityInput) (Entity, error) {
	if !IsHex24(accountID) {
		return Entity{}, Invalid("not_found", "no account has this id", "body", "account_id")
	}
	// An account key writes to its own account, which commit share-locks first; a superadmin's
	// names any account, locked here.
	if p.IsSuperadmin() {
		if _, err := tx.LockAccount(ctx, accountID); errors.Is(err, ErrNotFound) {
			return Entity{}, Invalid("not_found", "no account has this id", "body", "account_id")
		} else if err != nil {
			return Entity{}, err
		}
	}
	now := s.Now()
	e := Entity{ID: NewID(now), AccountID: accountID, CreatedAt: now}
	in.Apply(&e, EntityCreate)
	e.UpdatedAt = now
	if err := checkSee(ctx, tx, e); err != nil {
		return Entity{}, err
	}
	ch.add("entity.created", e.AccountID, e.ID, e, nil)
	return e, tx.InsertEntity(ctx, &e)
}

// checkSee enforces what see may name: only on a deprecated entity, and only another live
// entity of the same account.
func checkSee(ctx context.Context, tx Tx, e Entity) error {
	if e.See == nil {
		return nil
	}
	if !e.Deprecated {
		return Invalid("value_error", "Value error, see is only allowed when deprecated is true", "body", "see")
	}
	if *e.See == "" || *e.See == e.ID {
		return Invalid("not_found", "see must name another entity of the same account", "body", "see")
	}
	other, err := tx.LockEntity(ctx, *e.See)
	if errors.Is(err, ErrNotFound) || err == nil && other.AccountID != e.AccountID {
		return Invalid("not_found", "see must name another entity of the same account", "body", "see")
	}
	return err
}

// findEntity reads an entity p may see; another tenant's is 404.
func findEntity(ctx context.Context, tx Tx, p Principal, id string) (Entity, error) {
	return findEntityWith(ctx, tx.Entity, p, id)
}

// lockEntity is findEntity for a write that changes or deletes the entity: the row is held
// until the transaction ends (Tx.EntityForUpdate).
func lockEntity(ctx context.Context, tx Tx, p Principal, id string) (Entity, error) {
	return findEntityWith(ctx, tx.EntityForUpdate, p, id)
}

func findEntityWith(ctx context.Context, read func(context.Context, string) (Entity, error), p Principal, id string) (Entity, error) {
	return findOwned(ctx, read, func(e Entity) string { return e.AccountID }, p, id, "entity")
}

// Entity reads one entity p may see.
func (s *Service) Entity(ctx context.Context, p Principal, rawID string) (Entity, error) {
	id, err := parsePathID(KindEntity, rawID, "id")
	if err != nil {
		return Entity{}, err
	}
	return read(ctx, s, func(tx Tx) (Entity, error) { return findEntity(ctx, tx, p, id) })
}

// UpdateEntity replaces (EntityReplace) or patches (EntityPatch) an entity.
func (s *Service) UpdateEntity(ctx context.Context, r *Request, rawID string, body []byte, mode EntityMode) (Entity, error) {
	p := r.Principal
	return write(ctx, s, r, mutation[Entity]{action: "entity.update", mode: Shared, prepare: func(ps *Problems) (operation[Entity], error) {
		id, idErr := parsePathID(KindEntity, rawID, "id")
		v, err := decodeBody(body)
		if err != nil {
			return nil, err
		}
		in, err := DecodeEntity(v, mode)
		ps.Absorb(idErr)
		if err := ps.Absorb(err); err != nil {
			return nil, err
		}
		return func(tx Tx, ch *changes) (Entity, error) { return s.updateEntity(ctx, tx, ch, p, id, in, mode) }, nil
	}})
}

func (s *Service) updateEntity(ctx context.Context, tx Tx, ch *changes, p Principal, id string, in EntityInput, mode EntityMode) (Entity, error) {
	e, err := lockEntity(ctx, tx, p, id)
	if err != nil {
		return e, err
	}
	before := e
	in.Apply(&e, mode)
	e.UpdatedAt = before.UpdatedAt
	// A see kept as it was, on an entity still deprecated, is not judged again: the entity it
	// names may have been deleted since, and a write that leaves see alone (a PATCH of another
	// field, a PUT of what was read) must not fail because of it.
	keptSee := e.See != nil && before.See != nil && *e.See == *before.See && e.Deprecated
	if !keptSee {
		if err := checkSee(ctx, tx, e); err != nil {
			return e, err
		}
	}
	if reflect.DeepEqual(before, e) {
		return e, nil
	}
	e.UpdatedAt = s.Now()
	ch.add("entity.updated", e.AccountID, e.ID, e, before)
	return e, tx.UpdateEntity(ctx, &e)
}

// DeleteEntity removes an entity and its relationships, returning it as it was.
func (s *Service) DeleteEntity(ctx context.Context, r *Request, rawID string) (Entity, error) {
	p := r.Principal
	return write(ctx, s, r, mutation[Entity]{action: "entity.delete", mode: Shared, prepare: func(ps *Problems) (operation[Entity], error) {
		id, err := parsePathID(KindEntity, rawID, "id")
		if err != nil {
			return nil, err
		}
		return func(tx Tx, ch *changes) (Entity, error) {
			e, err := lockEntity(ctx, tx, p, id)
			if err != nil {
				return e, err
			}
			removed, err := tx.DeleteEntity(ctx, id)
			ch.add("entity.deleted", e.AccountID, e.ID, e, nil)
			for _, rel := range removed {
				ch.add("relationship.deleted", rel.AccountID, rel.EntityID, rel, nil)
			}
			return e, err
		}, nil
	}})
}

// ListEntities lists the entities p may see through listing l. Filters: source, recipient,
// deprecated, account_id (a superadmin's scope).
func (s *Service) ListEntities(ctx context.Context, p Principal, l Listing, req PageRequest) (Page[Entity], error) {
	if err := forCaller(p, &req); err != nil {
		return Page[Entity]{}, err
	}
	ok := true
	pl, err := l.Plan(req, func(raw map[string]string) ([]Filter, error) {
		var fs []Filter
		var ps Problems
		scope, found, err := listScope(p, raw, &ps)
		if err != nil {
			return nil, err
		}
		ok = found
		if scope != "" {
			fs = append(fs, Filter{Field: "account_id", Value: scope})
		}
		for _, f := range []struct {
			name    string
			allowed []string
		}{{"source", EntitySources}, {"recipient", EntityRecipients}} {
			if v, has := raw[f.name]; has {
				if !contains(f.allowed, v) {
					ps.Enum(f.allowed, "query", f.name)
				}
				fs = append(fs, Filter{Field: f.name, Value: v})
			}
		}
		if v, has := raw["deprecated"]; has {
			b, ok := parseBool(v)
			if !ok {
				ps.Add("bool_parsing", "Input should be a valid boolean, unable to interpret input", "query", "deprecated")
			}
			fs = append(fs, Filter{Field: "deprecated", Value: b})
		}
		return fs, ps.Err()
	})
	if err != nil || !ok {
		return BuildPage[Entity](nil, pl, EntityValue), err
	}
	rows, err := read(ctx, s, func(tx Tx) ([]Entity, error) { return tx.ListEntities(ctx, pl.Query) })
	if err != nil {
		return Page[Entity]{}, err
	}
	return BuildPage(rows, pl, EntityValue), nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// parseBool reads a boolean query value the way pydantic does.
func parseBool(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "true", "1", "yes", "on", "t", "y":
		return true, true
	case "false", "0", "no", "off", "f", "n":
		return false, true
	}
	return false, false
}
