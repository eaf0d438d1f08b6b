package api

import (
	"net/http"

	"github.com/rosterhq/roster"
)

type batchView struct {
	AccountID        string   `json:"account_id"`
	RelationshipType string   `json:"relationship_type"`
	EntityIDs        []string `json:"entity_ids"`
}

func (s *surface) batch(b roster.BatchResult) any {
	ids := make([]string, len(b.EntityIDs))
	for i, id := range b.EntityIDs {
		ids[i] = s.id(roster.KindEntity, id)
	}
	return batchView{AccountID: s.id(roster.KindAccount, b.AccountID), RelationshipType: b.Type, EntityIDs: ids}
}

func (s *surface) relationship(r roster.Relationship) any { return s.viewRelationship(s, r) }

type objectsView struct {
	Objects []any `json:"objects"`
}

func (s *surface) objects(rs []roster.Relationship) any {
	out := objectsView{Objects: make([]any, len(rs))}
	for i, r := range rs {
		out.Objects[i] = s.relationship(r)
	}
	return out
}

func (s *Server) batchRelationships(c *call) error {
	w := newWrite(c, http.StatusOK, c.sf.batch)
	return w.answer(s.svc.CreateRelationships(c.ctx(), w.req, c.account, c.body))
}

func (s *Server) listRelationships(c *call) error {
	req := c.pageRequest(roster.RelationshipListing, "relationship_type", "entity_id")
	page, err := s.svc.ListRelationships(c.ctx(), c.p, c.account, req)
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, nativePage(page, c.sf.relationship))
}

func (s *Server) entityRelationships(c *call) error {
	req := c.pageRequest(roster.RelationshipListing)
	page, err := s.svc.EntityRelationships(c.ctx(), c.p, c.r.PathValue("id"), req)
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, nativePage(page, c.sf.relationship))
}

func (s *Server) deleteRelationship(c *call) error {
	w := newWrite(c, http.StatusOK, c.sf.objects)
	return w.answer(s.svc.DeleteRelationship(c.ctx(), w.req, c.account, c.r.PathValue("entity_id"), c.param("relationship_type")))
}
