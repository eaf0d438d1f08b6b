package roster

import (
	"regexp"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// AccountStatus is whether an account may write.
type AccountStatus string

// Account statuses.
const (
	AccountActive    AccountStatus = "active"
	AccountSuspended AccountStatus = "suspended"
)

// Account is a tenant of the platform.
type Account struct {
	ID        string
	Name      string
	Slug      string
	Status    AccountStatus
	CreatedAt time.Time
	UpdatedAt time.Time
	Deleted   bool
}

// Accounts is how accounts are listed (SPEC §7).
var Accounts = Listing{
	Fields:       map[string]FieldKind{"id": FieldString, "name": FieldString, "slug": FieldString, "created_at": FieldTime, "updated_at": FieldTime},
	DefaultSort:  "created_at:desc,id:asc",
	TieBreak:     []string{"id"},
	DefaultLimit: 20,
	MaxLimit:     100,
}

// AccountValue returns the value of a sortable field of a.
func AccountValue(a Account, field string) any {
	switch field {
	case "name":
		return a.Name
	case "slug":
		return a.Slug
	case "created_at":
		return a.CreatedAt
	case "updated_at":
		return a.UpdatedAt
	default:
		return a.ID
	}
}

var slugPattern = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)

// SlugPattern is the documented slug pattern.
const SlugPattern = `^[a-z0-9]+(?:-[a-z0-9]+)*$`

// accountReadOnly are the fields of an account a client may send back but never sets.
var accountReadOnly = []string{"id", "created_at", "updated_at"}

// AccountCreate is a validated create request.
type AccountCreate struct {
	Name string
	Slug string // derived from Name when the client gave none
}

// DecodeAccountCreate reads and validates a create body.
func DecodeAccountCreate(v any) (AccountCreate, error) {
	b := NewBody(v)
	var in AccountCreate
	if !b.Valid() {
		return in, b.Problems.Err()
	}
	name := b.String("name", true)
	slug := b.String("slug", false)
	if name.Null {
		b.Problems.Add("string_type", "Input should be a valid string", "body", "name")
	}
	nameOK := false
	if name.Has() {
		in.Name = strings.TrimSpace(name.V)
		nameOK = b.Problems.CheckLen(in.Name, 2, 100, "body", "name")
	}
	if slug.Has() {
		if checkSlug(&b.Problems, slug.V) {
			in.Slug = slug.V
		}
	} else if nameOK {
		in.Slug = DeriveSlug(in.Name)
		if StrLen(in.Slug) < 2 {
			b.Problems.Add("string_too_short", "String should have at least 2 characters (the slug derived from name)", "body", "slug")
		}
	}
	// Read-only fields are accepted and ignored (SPEC §5), as on PATCH and on entities.
	b.Ignore(accountReadOnly...)
	return in, b.Finish()
}

func checkSlug(ps *Problems, s string) bool {
	if !ps.CheckLen(s, 2, 50, "body", "slug") {
		return false
	}
	if !slugPattern.MatchString(s) {
		ps.Add("string_pattern_mismatch", "String should match pattern '"+SlugPattern+"'", "body", "slug")
		return false
	}
	return true
}

// AccountPatch is a validated update request.
type AccountPatch struct {
	Name    Opt[string]
	Slug    Opt[string]
	Status  Opt[AccountStatus]
	Deleted Opt[bool]
}

// DecodeAccountPatch reads and validates a PATCH body. null means "not given" for every field,
// none of which can be null.
func DecodeAccountPatch(v any) (AccountPatch, error) {
	b := NewBody(v)
	var in AccountPatch
	if !b.Valid() {
		return in, b.Problems.Err()
	}
	if name := b.String("name", false); name.Has() {
		n := strings.TrimSpace(name.V)
		if b.Problems.CheckLen(n, 2, 100, "body", "name") {
			in.Name = Opt[string]{Set: true, V: n}
		}
	}
	if slug := b.String("slug", false); slug.Has() && checkSlug(&b.Problems, slug.V) {
		in.Slug = slug
	}
	if st := b.String("status", false); st.Has() {
		switch s := AccountStatus(st.V); s {
		case AccountActive, AccountSuspended:
			in.Status = Opt[AccountStatus]{Set: true, V: s}
		default:
			b.Problems.Enum([]string{"active", "suspended"}, "body", "status")
		}
	}
	if del := b.Bool("deleted", false); del.Has() {
		in.Deleted = del
	}
	b.Ignore(accountReadOnly...)
	return in, b.Finish()
}

// DeriveSlug makes a slug from a name: letters folded to ASCII where they have a plain form,
// lower-cased, every run of other characters one "-", trimmed, cut to 50 at a "-" if possible.
func DeriveSlug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFKD.String(name) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		r = unicode.ToLower(r)
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	s := b.String()
	if len(s) <= 50 {
		return s
	}
	cut := s[:50]
	if s[50] == '-' {
		return cut
	}
	if i := strings.LastIndexByte(cut, '-'); i >= 2 {
		return cut[:i]
	}
	return cut
}
