package api

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/rosterhq/roster"
)

// conduit is LeadConduit's surface at the root: its entity routes with bare 24-hex ids, error
// bodies that also carry "error", and a bare array for a list with the next page in a Link
// header.
var conduit = &surface{
	name:             "leadconduit",
	bare:             true,
	renderError:      conduitError,
	viewRelationship: native.viewRelationship,
}

func conduitError(status int, e *roster.Error) any {
	msg := e.Message
	if e.Code == roster.CodeUnauthorized {
		msg = "authentication failed"
	}
	if len(e.Problems) > 0 {
		if e.Code == roster.CodePayloadInvalid {
			// Malformed JSON: why and at which byte, as Lead Bank's detail says it.
			msg = e.Message
		} else {
			msg = problemsMessage(e.Problems)
		}
		return validationBody{Detail: e.Problems, Error: msg}
	}
	return errorBody{Detail: e.Message, Code: string(e.Code), Error: msg}
}

func problemsMessage(ps []roster.Problem) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = paramName(p) + ": " + p.Msg
	}
	return strings.Join(parts, "; ")
}

// listConduitEntities is LeadConduit's list: a bare array in creation order, the next page's
// URL in an RFC 8288 Link header.
func (s *Server) listConduitEntities(c *call) error {
	req := c.pageRequest(roster.ConduitEntityListing, entityFilters...)
	req.Sort = ""
	page, err := s.entityPage(c, roster.ConduitEntityListing, req, MaxResponse, "")
	if err != nil {
		return err
	}
	defer putPageBuffer(page.items)
	if page.HasNext {
		q := url.Values{"cursor": {page.Next}, "limit": {strconv.Itoa(req.Limit)}}
		c.w.Header().Set("Link", "<"+c.r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
	}
	c.send(http.StatusOK, page.items)
	return nil
}
