package api

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/rosterhq/roster"
)

type entityView struct {
	Name                       string   `json:"name"`
	ModuleIDs                  []string `json:"module_ids"`
	Source                     *string  `json:"source"`
	Recipient                  *string  `json:"recipient"`
	ID                         string   `json:"id"`
	AccountID                  string   `json:"account_id"`
	Description                *string  `json:"description"`
	Standard                   bool     `json:"standard"`
	Account                    *bool    `json:"account"`
	Pending                    bool     `json:"pending"`
	Connected                  *string  `json:"connected"`
	ConnectedAccountID         *string  `json:"connected_account_id"`
	Deprecated                 bool     `json:"deprecated"`
	See                        *string  `json:"see"`
	FieldSuffix                *string  `json:"field_suffix"`
	InvitationID               *string  `json:"invitation_id"`
	InvitationExpiresAt        *stamp   `json:"invitation_expires_at"`
	Expired                    bool     `json:"expired"`
	FlowIDs                    []string `json:"flow_ids"`
	LogoURL                    *string  `json:"logo_url"`
	TimeZone                   *string  `json:"time_zone"`
	TrustedFormCertifiedVendor bool     `json:"trustedform_certified_vendor"`
	Website                    *string  `json:"website"`
	CreatedAt                  stamp    `json:"created_at"`
	UpdatedAt                  stamp    `json:"updated_at"`
}

var falseValue = false

func (s *surface) entity(e roster.Entity) any {
	return entityView{
		Name: e.Name, ModuleIDs: e.ModuleIDs, Source: e.Source, Recipient: e.Recipient,
		ID: s.id(roster.KindEntity, e.ID), AccountID: s.id(roster.KindAccount, e.AccountID),
		Description: e.Description, Account: &falseValue, Pending: e.Pending(),
		Deprecated: e.Deprecated, See: s.optID(roster.KindEntity, e.See), FieldSuffix: e.FieldSuffix,
		InvitationID: e.InvitationID, FlowIDs: e.FlowIDs, LogoURL: e.LogoURL, TimeZone: e.TimeZone,
		TrustedFormCertifiedVendor: e.TrustedFormCertifiedVendor, Website: e.Website,
		CreatedAt: stamp(e.CreatedAt), UpdatedAt: stamp(e.UpdatedAt),
	}
}

// pathEntity reads the {id} of an entity route: 422 when it breaks the pattern.
func (c *call) pathEntity() (string, error) {
	raw := c.r.PathValue("id")
	id, ok := roster.ParseID(roster.KindEntity, raw)
	if !ok {
		return "", roster.Invalid("string_pattern_mismatch", "String should match pattern '^[0-9a-fA-F]{24}$'", "path", "id")
	}
	return id, nil
}

// canWriteOwn refuses readers and suspended accounts before the body is read (SPEC §5 order).
func (c *call) canWriteOwn() error {
	if c.p.IsSuperadmin() {
		return nil
	}
	return c.p.CanWrite(c.p.AccountID)
}

func (s *Server) createEntity(c *call) error {
	if err := c.canWriteOwn(); err != nil {
		return err
	}
	v, err := c.decodeBody()
	if err != nil {
		return err
	}
	in, err := roster.DecodeEntity(v, roster.EntityCreate)
	problems := problemsOf(err)
	if err != nil && problems == nil {
		return err
	}
	account, more, err := roster.EntityAccount(c.p, in)
	if err != nil {
		return err
	}
	problems = append(problems, more...)
	return mutate(c, http.StatusCreated, false, problems, c.sf.entity, func(w *roster.Write) (roster.Entity, error) {
		return s.svc.CreateEntity(c.r.Context(), c.p, account, in, w)
	})
}

func (s *Server) getEntity(c *call) error {
	id, err := c.pathEntity()
	if err != nil {
		return err
	}
	e, err := s.svc.Entity(c.r.Context(), c.p, id)
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, c.sf.entity(e))
}

func (s *Server) putEntity(c *call) error   { return s.updateEntity(c, roster.EntityReplace) }
func (s *Server) patchEntity(c *call) error { return s.updateEntity(c, roster.EntityPatch) }

func (s *Server) updateEntity(c *call, mode roster.EntityMode) error {
	if err := c.canWriteOwn(); err != nil {
		return err
	}
	id, idErr := c.pathEntity()
	v, err := c.decodeBody()
	if err != nil {
		return err
	}
	in, err := roster.DecodeEntity(v, mode)
	problems := append(problemsOf(idErr), problemsOf(err)...)
	if err != nil && problemsOf(err) == nil {
		return err
	}
	return mutate(c, http.StatusOK, false, problems, c.sf.entity, func(w *roster.Write) (roster.Entity, error) {
		return s.svc.UpdateEntity(c.r.Context(), c.p, id, in, mode, w)
	})
}

func (s *Server) deleteEntity(c *call) error {
	if err := c.canWriteOwn(); err != nil {
		return err
	}
	id, err := c.pathEntity()
	if err != nil {
		return err
	}
	return mutate(c, http.StatusOK, false, nil, c.sf.entity, func(w *roster.Write) (roster.Entity, error) {
		return s.svc.DeleteEntity(c.r.Context(), c.p, id, w)
	})
}

var entityFilters = []string{"source", "recipient", "deprecated", "account_id"}

func (s *Server) listEntities(c *call) error {
	req := c.pageRequest(roster.Entities, entityFilters...)
	page, err := s.svc.ListEntities(c.r.Context(), c.p, roster.Entities, req)
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, nativePage(page, c.sf.entity))
}

// listConduitEntities is LeadConduit's list: a bare array in creation order, the next page's
// URL in an RFC 8288 Link header.
func (s *Server) listConduitEntities(c *call) error {
	req := c.pageRequest(roster.ConduitEntities, entityFilters...)
	req.Sort = ""
	page, err := s.svc.ListEntities(c.r.Context(), c.p, roster.ConduitEntities, req)
	if err != nil {
		return err
	}
	out := make([]any, len(page.Items))
	for i, e := range page.Items {
		out[i] = c.sf.entity(e)
	}
	if page.HasNext {
		q := url.Values{"cursor": {page.Next}, "limit": {strconv.Itoa(req.Limit)}}
		c.w.Header().Set("Link", "<"+c.r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
	}
	return c.reply(http.StatusOK, out)
}
