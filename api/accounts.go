package api

import (
	"net/http"

	"github.com/rosterhq/roster"
)

func (s *Server) createAccount(c *call) error {
	if err := c.p.RequireSuperadmin(); err != nil {
		return err
	}
	v, err := c.decodeBody()
	if err != nil {
		return err
	}
	in, err := roster.DecodeAccountCreate(v)
	problems := problemsOf(err)
	if err != nil && problems == nil {
		return err
	}
	return mutate(c, http.StatusCreated, false, problems, c.sf.account, func(w *roster.Write) (roster.Account, error) {
		return s.svc.CreateAccount(c.r.Context(), c.p, in, w)
	})
}

func (s *Server) listAccounts(c *call) error {
	req := c.pageRequest(roster.Accounts, "slug", "status", "account_id")
	page, err := s.svc.ListAccounts(c.r.Context(), c.p, req)
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, nativePage(page, c.sf.account))
}

// pathAccount resolves {account_id} for the caller (403 / 422 in SPEC's order).
func (c *call) pathAccount(name string) (string, error) {
	return c.p.PathAccount(c.r.PathValue(name), "path", name)
}

func (s *Server) getAccount(c *call) error {
	id, err := c.pathAccount("account_id")
	if err != nil {
		return err
	}
	a, err := s.svc.Account(c.r.Context(), c.p, id)
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, c.sf.account(a))
}

func (s *Server) patchAccount(c *call) error {
	id, err := c.pathAccount("account_id")
	if err != nil {
		return err
	}
	if err := c.p.CanWrite(id); err != nil {
		return err
	}
	v, err := c.decodeBody()
	if err != nil {
		return err
	}
	in, err := roster.DecodeAccountPatch(v)
	problems := problemsOf(err)
	if err != nil && problems == nil {
		return err
	}
	return mutate(c, http.StatusOK, false, problems, c.sf.account, func(w *roster.Write) (roster.Account, error) {
		return s.svc.PatchAccount(c.r.Context(), c.p, id, in, w)
	})
}

// problemsOf returns the validation problems inside err, nil if it carries none.
func problemsOf(err error) roster.Problems {
	if e, ok := err.(*roster.Error); ok && e.Code == roster.CodeInvalid {
		return e.Problems
	}
	return nil
}

// pageRequest reads limit, cursor, sort and the named filters from the query. Empty values
// count as absent; unknown parameters are ignored. Problems (a bad limit, a NUL character) go
// into req.Problems, which Plan reports together with the filters' own, all at once.
func (c *call) pageRequest(l roster.Listing, filters ...string) roster.PageRequest {
	limit, err := l.CheckLimit(c.param("limit"))
	req := roster.PageRequest{Limit: limit, Sort: c.param("sort"), Cursor: c.param("cursor"), Filters: map[string]string{},
		Principal: c.p, Problems: problemsOf(err)}
	for _, f := range filters {
		if v := c.param(f); v != "" && req.Problems.Text(v, "query", f) {
			req.Filters[f] = v
		}
	}
	return req
}
