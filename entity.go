package roster

import (
	_ "embed"
	"net/url"
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

// Entities is how entities are listed.
var Entities = Listing{
	Fields:       map[string]FieldKind{"id": FieldString, "name": FieldString, "created_at": FieldTime, "updated_at": FieldTime},
	DefaultSort:  "created_at:desc,id:asc",
	TieBreak:     []string{"id"},
	DefaultLimit: 20,
	MaxLimit:     100,
}

// ConduitEntities is the LeadConduit list: ascending creation order, up to 1,000 a page.
var ConduitEntities = Listing{
	Fields:       Entities.Fields,
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
