package api

import (
	"net/http"

	"github.com/rosterhq/roster"
)

type accountView struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Slug      string `json:"slug"`
	Status    string `json:"status"`
	CreatedAt stamp  `json:"created_at"`
	UpdatedAt stamp  `json:"updated_at"`
}

func (s *surface) account(a roster.Account) any {
	return accountView{ID: s.id(roster.KindAccount, a.ID), Name: a.Name, Slug: a.Slug, Status: string(a.Status),
		CreatedAt: stamp(a.CreatedAt), UpdatedAt: stamp(a.UpdatedAt)}
}

func (s *Server) createAccount(c *call) error {
	w := newWrite(c, http.StatusCreated, c.sf.account)
	return w.answer(s.svc.CreateAccount(c.ctx(), w.req, c.body))
}

func (s *Server) listAccounts(c *call) error {
	req := c.pageRequest(roster.AccountListing, "slug", "status", "account_id")
	page, err := s.svc.ListAccounts(c.ctx(), c.p, req)
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, nativePage(page, c.sf.account))
}

func (s *Server) getAccount(c *call) error {
	a, err := s.svc.Account(c.ctx(), c.account)
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, c.sf.account(a))
}

func (s *Server) patchAccount(c *call) error {
	w := newWrite(c, http.StatusOK, c.sf.account)
	return w.answer(s.svc.PatchAccount(c.ctx(), w.req, c.account, c.body))
}
