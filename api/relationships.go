package api

import (
	"errors"
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

type relationshipView struct {
	AccountID        string `json:"account_id"`
	EntityID         string `json:"entity_id"`
	RelationshipType string `json:"relationship_type"`
	CreatedAt        stamp  `json:"created_at"`
}

// leadBankRelationship is Lead Bank's EntityRelationship.
type leadBankRelationship struct {
	EntityID         string `json:"entity_id"`
	RelationshipType string `json:"relationship_type"`
}

func (s *surface) relationship(r roster.Relationship) any {
	if s == leadBank {
		return leadBankRelationship{EntityID: s.id(roster.KindEntity, r.EntityID), RelationshipType: r.Type}
	}
	return relationshipView{AccountID: s.id(roster.KindAccount, r.AccountID), EntityID: s.id(roster.KindEntity, r.EntityID),
		RelationshipType: r.Type, CreatedAt: stamp(r.CreatedAt)}
}

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

// leadBankList is Lead Bank's list envelope; cursor only when has_more.
type leadBankList struct {
	Objects []any  `json:"objects"`
	HasMore bool   `json:"has_more"`
	Cursor  string `json:"cursor,omitempty"`
}

// relationshipAccount reads the account of a relationship route: {account_id} on /v1, {id}
// on /v0 as Lead Bank names it.
func (c *call) relationshipAccount() (string, error) {
	if c.sf == leadBank {
		return c.pathAccount("id")
	}
	return c.pathAccount("account_id")
}

func (s *Server) batchRelationships(c *call) error {
	account, err := c.relationshipAccount()
	if err != nil {
		return err
	}
	if err := c.p.CanWrite(account); err != nil {
		return err
	}
	v, err := c.decodeBody()
	if err != nil {
		return err
	}
	in, err := roster.DecodeRelationshipBatch(v)
	problems := problemsOf(err)
	if err != nil && problems == nil {
		return err
	}
	return mutate(c, http.StatusOK, true, problems, c.sf.batch, func(w *roster.Write) (roster.BatchResult, error) {
		return s.svc.CreateRelationships(c.r.Context(), c.p, account, in, w)
	})
}

// leadBankRelationships is Lead Bank's paging: limit 1–100, default 25.
var leadBankRelationships = func() roster.Listing {
	l := roster.Relationships
	l.DefaultLimit = 25
	return l
}()

func (s *Server) listRelationships(c *call) error {
	account, err := c.relationshipAccount()
	if err != nil {
		return err
	}
	if c.sf == leadBank {
		req := c.pageRequest(leadBankRelationships)
		req.Sort, req.Cursor = "", c.param("starting_after")
		page, err := s.svc.ListRelationships(c.r.Context(), c.p, account, req)
		if err != nil {
			return c.leadBankListParams(err)
		}
		out := leadBankList{Objects: make([]any, len(page.Items)), HasMore: page.HasNext, Cursor: page.Next}
		for i, r := range page.Items {
			out.Objects[i] = c.sf.relationship(r)
		}
		return c.reply(http.StatusOK, out)
	}
	req := c.pageRequest(roster.Relationships, "relationship_type", "entity_id")
	page, err := s.svc.ListRelationships(c.r.Context(), c.p, account, req)
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, nativePage(page, c.sf.relationship))
}

// leadBankListParams renders a bad limit or starting_after of the Lead Bank list as Lead Bank
// declares it (SPEC §5): 400 parameters_invalid, one invalid_parameters item per problem, a
// cursor that is garbage or belongs to another list included. Other errors pass unchanged.
func (c *call) leadBankListParams(err error) error {
	var e *roster.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Code {
	case roster.CodeInvalid:
		for _, p := range e.Problems {
			if len(p.Loc) == 0 || p.Loc[0] != "query" {
				return err
			}
		}
	case roster.CodeInvalidCursor, roster.CodeCursorMismatch:
		err = roster.Invalid(string(e.Code), e.Message, "query", "starting_after")
	default:
		return err
	}
	c.paramStatus = http.StatusBadRequest
	return err
}

func (s *Server) entityRelationships(c *call) error {
	id, err := c.pathEntity()
	if err != nil {
		return err
	}
	req := c.pageRequest(roster.Relationships)
	page, err := s.svc.EntityRelationships(c.r.Context(), c.p, id, req)
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, nativePage(page, c.sf.relationship))
}

func (s *Server) deleteRelationship(c *call) error {
	account, err := c.relationshipAccount()
	if err != nil {
		return err
	}
	if err := c.p.CanWrite(account); err != nil {
		return err
	}
	var ps roster.Problems
	entity, ok := roster.ParseID(roster.KindEntity, c.r.PathValue("entity_id"))
	if !ok {
		ps.Add("string_pattern_mismatch", "String should match pattern '"+roster.KindEntity.Pattern()+"'", "path", "entity_id")
	}
	typ := c.param("relationship_type")
	switch {
	case typ == "":
		ps.Add("missing", "Field required", "query", "relationship_type")
	case !roster.ValidRelationshipType(typ):
		ps.Enum(roster.RelationshipTypes, "query", "relationship_type")
	}
	rel := roster.Relationship{AccountID: account, EntityID: entity, Type: typ}
	return mutate(c, http.StatusOK, false, ps, c.sf.objects, func(w *roster.Write) ([]roster.Relationship, error) {
		return s.svc.DeleteRelationship(c.r.Context(), c.p, rel, w)
	})
}
