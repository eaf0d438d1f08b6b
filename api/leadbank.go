package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/rosterhq/roster"
)

// leadBank is Lead Bank's surface under /v0: its relationship routes, its APIError bodies, 400
// for a body that is not JSON, and its {objects, has_more, cursor} list.
var leadBank = &surface{
	name:        "leadbank",
	prefix:      "/v0",
	statuses:    map[roster.Code]int{roster.CodePayloadInvalid: http.StatusBadRequest},
	renderError: leadBankError,
	viewRelationship: func(s *surface, r roster.Relationship) any {
		return leadBankRelationship{EntityID: s.id(roster.KindEntity, r.EntityID), RelationshipType: r.Type}
	},
}

type leadBankErrorBody struct {
	Code              string             `json:"code"`
	Title             string             `json:"title"`
	Detail            string             `json:"detail"`
	Status            string             `json:"status"`
	InvalidParameters []invalidParameter `json:"invalid_parameters,omitempty"`
}

type invalidParameter struct {
	Parameter string `json:"parameter"`
	Reason    string `json:"reason"`
}

func leadBankError(status int, e *roster.Error) any {
	b := leadBankErrorBody{Code: string(e.Code), Title: http.StatusText(status), Detail: e.Message, Status: strconv.Itoa(status)}
	switch e.Code {
	case roster.CodeInvalid:
		b.Code = "parameters_invalid"
		b.Detail = "One or more parameters are invalid."
		for _, p := range e.Problems {
			b.InvalidParameters = append(b.InvalidParameters, invalidParameter{Parameter: paramName(p), Reason: p.Type})
		}
	case roster.CodePayloadInvalid:
		b.Code = "payload_invalid"
	case roster.CodeIdempotencyKeyMissing:
		b.Code = "idempotency_error"
	case roster.CodeIdempotencyKeyReused:
		b.Code = "idempotency_request_inconsistent"
	case roster.CodeRateLimited:
		b.Code = "rate_limit_exceeded"
	}
	return b
}

// leadBankRelationship is Lead Bank's EntityRelationship.
type leadBankRelationship struct {
	EntityID         string `json:"entity_id"`
	RelationshipType string `json:"relationship_type"`
}

// leadBankList is Lead Bank's list envelope; cursor only when has_more.
type leadBankList struct {
	Objects []any  `json:"objects"`
	HasMore bool   `json:"has_more"`
	Cursor  string `json:"cursor,omitempty"`
}

// leadBankRelationships is Lead Bank's paging: limit 1–100, default 25.
var leadBankRelationships = func() roster.Listing {
	l := roster.RelationshipListing
	l.DefaultLimit = 25
	return l
}()

// listLeadBankRelationships is Lead Bank's list of an account's relationships: limit and
// starting_after, no sort, no filter.
func (s *Server) listLeadBankRelationships(c *call) error {
	req := c.pageRequest(leadBankRelationships)
	req.Sort, req.Cursor = "", c.param("starting_after")
	page, err := s.svc.ListRelationships(c.ctx(), c.p, c.account, req)
	if err != nil {
		return c.leadBankListParams(err)
	}
	out := leadBankList{Objects: make([]any, len(page.Items)), HasMore: page.HasNext, Cursor: page.Next}
	for i, r := range page.Items {
		out.Objects[i] = c.sf.relationship(r)
	}
	return c.reply(http.StatusOK, out)
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
