package roster

import (
	"context"
	"errors"
)

func slugTaken(err error) error {
	if errors.Is(err, ErrConflict) {
		return Errorf(CodeSlugTaken, "the slug is taken by another account")
	}
	return err
}

// CreateAccount makes an account (superadmin only).
func (s *Service) CreateAccount(ctx context.Context, p Principal, in AccountCreate, w *Write) (Account, error) {
	if err := p.RequireSuperadmin(); err != nil {
		return Account{}, err
	}
	return commit(ctx, s, p, w, Shared, func(tx Tx) (Account, error) {
		now := s.Now()
		a := Account{ID: NewID(now), Name: in.Name, Slug: in.Slug, Status: AccountActive, CreatedAt: now, UpdatedAt: now}
		return a, slugTaken(tx.InsertAccount(ctx, &a))
	})
}

// Account reads one account visible to p. id is canonical (from PathAccount).
func (s *Service) Account(ctx context.Context, p Principal, id string) (Account, error) {
	if err := p.CanRead(id); err != nil {
		return Account{}, err
	}
	var a Account
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		a, err = findAccount(ctx, tx, id)
		return err
	})
	return a, err
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

// ScopeFilter turns ?account_id= into the account a list is limited to: a non-superadmin is
// always limited to its own account (and any other value is 403); a superadmin to the one it
// names, or none. It returns ok false when a superadmin names an account that cannot exist.
func (p Principal) ScopeFilter(raw string) (accountID string, ok bool, err error) {
	if !p.IsSuperadmin() {
		if raw != "" {
			if _, err := p.PathAccount(raw); err != nil {
				return "", false, err
			}
		}
		return p.AccountID, true, nil
	}
	if raw == "" {
		return "", true, nil
	}
	id, err := p.PathAccount(raw, "query", "account_id")
	return id, id != "", err
}

// ListAccounts lists the accounts p may see. Filters: slug, status, account_id.
func (s *Service) ListAccounts(ctx context.Context, p Principal, req PageRequest) (Page[Account], error) {
	if err := forCaller(p, &req); err != nil {
		return Page[Account]{}, err
	}
	ok := true
	pl, err := Accounts.Plan(req, func(raw map[string]string) ([]Filter, error) {
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
	var rows []Account
	err = s.store.View(ctx, func(tx Tx) error {
		var err error
		rows, err = tx.ListAccounts(ctx, pl.Query)
		return err
	})
	if err != nil {
		return Page[Account]{}, err
	}
	if _, bySlug := pl.Filters["slug"]; bySlug && len(rows) == 0 && pl.Query.After == nil {
		return Page[Account]{}, Errorf(CodeNotFound, "no account has that slug")
	}
	return BuildPage(rows, pl, AccountValue), nil
}

// PatchAccount changes an account. name and slug: its admin or a superadmin; status and
// deleted: a superadmin (403 for others only when the value would change).
func (s *Service) PatchAccount(ctx context.Context, p Principal, id string, in AccountPatch, w *Write) (Account, error) {
	if err := p.CanWrite(id); err != nil {
		return Account{}, err
	}
	return commit(ctx, s, p, w, Exclusive, func(tx Tx) (Account, error) {
		a, err := findAccountWith(ctx, tx.AccountForUpdate, id)
		if err != nil {
			return a, err
		}
		now := s.Now()
		if in.Deleted.Has() && in.Deleted.V {
			if err := p.RequireSuperadmin(); err != nil {
				return a, err
			}
			a.Deleted = true
			a.UpdatedAt = now
			return a, tx.DeleteAccount(ctx, id, now)
		}
		if in.Status.Has() && in.Status.V != a.Status {
			if err := p.RequireSuperadmin(); err != nil {
				return a, err
			}
		}
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
		return a, slugTaken(tx.UpdateAccount(ctx, &a))
	})
}
