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

func (s *surface) entity(e roster.Entity) any { return s.entityView(e) }

func (s *surface) entityView(e roster.Entity) entityView {
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

// MaxResponse is the largest response body roster sends (SPEC §10).
const MaxResponse = 8 << 20

// listRoom is what a native entity page may spend on its items: the rest is the envelope,
// whose two cursors carry at most a 200-character name each (a few KiB).
const listRoom = MaxResponse - 64<<10

func (s *Server) listEntities(c *call) error {
	req := c.pageRequest(roster.Entities, entityFilters...)
	page, items, err := s.entityPage(c, roster.Entities, req, listRoom)
	if err != nil {
		return err
	}
	// The bytes of listView.appendJSON, with the items already written.
	pv := paginationView{Count: len(page.Items), HasNext: page.HasNext, HasPrev: page.HasPrev,
		NextCursor: optString(page.Next), PrevCursor: optString(page.Prev)}
	b := make([]byte, 0, len(items)+len(page.Next)+len(page.Prev)+160)
	b = append(append(b, `{"data":`...), items...)
	b, _ = pv.appendJSON(append(b, `,"pagination":`...))
	c.send(http.StatusOK, append(b, '}'))
	return nil
}

// listConduitEntities is LeadConduit's list: a bare array in creation order, the next page's
// URL in an RFC 8288 Link header.
func (s *Server) listConduitEntities(c *call) error {
	req := c.pageRequest(roster.ConduitEntities, entityFilters...)
	req.Sort = ""
	page, items, err := s.entityPage(c, roster.ConduitEntities, req, MaxResponse)
	if err != nil {
		return err
	}
	if page.HasNext {
		q := url.Values{"cursor": {page.Next}, "limit": {strconv.Itoa(req.Limit)}}
		c.w.Header().Set("Link", "<"+c.r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
	}
	c.send(http.StatusOK, items)
	return nil
}

// entityPage reads a page of entities and renders its items as a JSON array of at most room
// bytes (SPEC §10: no response over 8 MiB). At the field limits of SPEC §8 an entity's JSON
// can reach about 90 KB (jsonenc_test.go works out the worst case), so 100 of them would not
// fit, nor 1,000 on LeadConduit. When the items do not fit, the page is read again with the
// limit of those that do: it is then shorter than the limit asked, and its next cursor resumes
// right after its last item, so a client that follows the cursors still sees every entity once.
// Each round lowers the limit, so this ends (one entity always fits).
func (s *Server) entityPage(c *call, l roster.Listing, req roster.PageRequest, room int) (roster.Page[roster.Entity], []byte, error) {
	for {
		page, err := s.svc.ListEntities(c.r.Context(), c.p, l, req)
		if err != nil {
			return page, nil, err
		}
		b, n := appendEntityArray(nil, page.Items, c.sf, room)
		if n == len(page.Items) {
			return page, b, nil
		}
		req.Limit = n
	}
}
