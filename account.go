package roster

import (
	"context"
	"errors"
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

// AccountListing is how accounts are listed (SPEC §7).
var AccountListing = Listing{
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
	} else if nameOK && !b.Given("slug") { // derived only when omitted or null (SPEC §7)
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

func slugTaken(err error) error {
	if errors.Is(err, ErrConflict) {
		return Errorf(CodeSlugTaken, "the slug is taken by another account")
	}
	return err
}

// CreateAccount makes an account from a create body (SPEC §7).
func (s *Service) CreateAccount(ctx context.Context, r *Request, body []byte) (Account, error) {
	return write(ctx, s, r, mutation[Account]{action: "account.create", mode: Shared, prepare: func(ps *Problems) (operation[Account], error) {
		v, err := decodeBody(body)
		if err != nil {
			return nil, err
		}
		in, err := DecodeAccountCreate(v)
		if err := ps.Absorb(err); err != nil {
			return nil, err
		}
		return func(tx Tx, ch *changes) (Account, error) {
			now := s.Now()
			a := Account{ID: NewID(now), Name: in.Name, Slug: in.Slug, Status: AccountActive, CreatedAt: now, UpdatedAt: now}
			ch.add("account.created", a.ID, a.ID, a, nil)
			return a, slugTaken(tx.InsertAccount(ctx, &a))
		}, nil
	}})
}

// Account reads one account; id is the path's account, resolved by the route's access.
func (s *Service) Account(ctx context.Context, id string) (Account, error) {
	return read(ctx, s, func(tx Tx) (Account, error) { return findAccount(ctx, tx, id) })
}

func findAccount(ctx context.Context, tx Tx, id string) (Account, error) {
	return findAccountWith(ctx, tx.Account, id)
}

// lockAccount is findAccount for a write that adds rows under the account (see Tx.LockAccount).
func lockAccount(ctx context.Context, tx Tx, id string) (Account, error) {
	return findAccountWith(ctx, tx.LockAccount, id)
}

// findAccountWith reads a live account with read (Account, LockAccount or AccountForUpdate);
// a missing one is 404.
func findAccountWith(ctx context.Context, read func(context.Context, string) (Account, error), id string) (Account, error) {
	if id == "" {
		return Account{}, Errorf(CodeNotFound, "account not found")
	}
	a, err := read(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return a, Errorf(CodeNotFound, "account not found")
	}
	return a, err
}

// ListAccounts lists the accounts p may see. Filters: slug, status, account_id.
func (s *Service) ListAccounts(ctx context.Context, p Principal, req PageRequest) (Page[Account], error) {
	if err := forCaller(p, &req); err != nil {
		return Page[Account]{}, err
	}
	ok := true
	pl, err := AccountListing.Plan(req, func(raw map[string]string) ([]Filter, error) {
		var fs []Filter
		var ps Problems
		if v, has := raw["status"]; has {
			if v != string(AccountActive) && v != string(AccountSuspended) {
				ps.Enum([]string{"active", "suspended"}, "query", "status")
			}
			fs = append(fs, Filter{Field: "status", Value: v})
		}
		if v, has := raw["slug"]; has {
			fs = append(fs, Filter{Field: "slug", Value: v})
		}
		scope, found, err := listScope(p, raw, &ps)
		if err != nil {
			return nil, err
		}
		ok = found
		if scope != "" {
			fs = append(fs, Filter{Field: "id", Value: scope})
		}
		return fs, ps.Err()
	})
	if err != nil {
		return Page[Account]{}, err
	}
	if !ok {
		return BuildPage[Account](nil, pl, AccountValue), nil
	}
	rows, err := read(ctx, s, func(tx Tx) ([]Account, error) { return tx.ListAccounts(ctx, pl.Query) })
	if err != nil {
		return Page[Account]{}, err
	}
	if _, bySlug := pl.Filters["slug"]; bySlug && len(rows) == 0 && pl.Query.After == nil {
		return Page[Account]{}, Errorf(CodeNotFound, "no account has that slug")
	}
	return BuildPage(rows, pl, AccountValue), nil
}

// PatchAccount changes an account (id: the path's account, resolved by the route's access).
// name and slug: its admin or a superadmin; status and deleted: a superadmin (403 for others
// only when the value would change).
func (s *Service) PatchAccount(ctx context.Context, r *Request, id string, body []byte) (Account, error) {
	p := r.Principal
	return write(ctx, s, r, mutation[Account]{action: "account.update", mode: Exclusive, prepare: func(ps *Problems) (operation[Account], error) {
		v, err := decodeBody(body)
		if err != nil {
			return nil, err
		}
		in, err := DecodeAccountPatch(v)
		if err := ps.Absorb(err); err != nil {
			return nil, err
		}
		return func(tx Tx, ch *changes) (Account, error) { return s.patchAccount(ctx, tx, ch, p, id, in) }, nil
	}})
}

func (s *Service) patchAccount(ctx context.Context, tx Tx, ch *changes, p Principal, id string, in AccountPatch) (Account, error) {
	a, err := findAccountWith(ctx, tx.AccountForUpdate, id)
	if err != nil {
		return a, err
	}
	now := s.Now()
	if in.Deleted.Has() && in.Deleted.V {
		if err := p.requireSuperadmin(); err != nil {
			return a, err
		}
		ch.add("account.deleted", a.ID, a.ID, a, nil)
		a.Deleted = true
		a.UpdatedAt = now
		return a, tx.DeleteAccount(ctx, id, now)
	}
	if in.Status.Has() && in.Status.V != a.Status {
		if err := p.requireSuperadmin(); err != nil {
			return a, err
		}
	}
	before := a
	changed := false
	if in.Name.Has() && in.Name.V != a.Name {
		a.Name, changed = in.Name.V, true
	}
	if in.Slug.Has() && in.Slug.V != a.Slug {
		a.Slug, changed = in.Slug.V, true
	}
	if in.Status.Has() && in.Status.V != a.Status {
		a.Status, changed = in.Status.V, true
	}
	if !changed {
		return a, nil
	}
	a.UpdatedAt = now
	ch.add("account.updated", a.ID, a.ID, a, before)
	return a, slugTaken(tx.UpdateAccount(ctx, &a))
}
