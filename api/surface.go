package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/rosterhq/roster"
)

// surface is how one published contract looks on the wire: where its paths live, the form of
// its ids, the statuses and error bodies it declares, and how it shows a relationship. Handlers
// are written once over it; each surface's file (native.go, leadbank.go, conduit.go) builds its
// own, with the handlers only that surface has (its lists), and a fourth surface is one more
// file and one more line in surfaces.
type surface struct {
	name string
	// prefix is where the surface's paths start ("" for the root).
	prefix string
	// bare renders roster's own ids as bare 24 hex (LeadConduit) instead of prefixed.
	bare bool
	// accountQuery accepts ?account_id= on every route, to be checked against the caller's
	// tenancy before anything else (LEADR declares it on every /v1 route).
	accountQuery bool
	// statuses are the statuses the surface declares where they differ from statusOf's.
	statuses map[roster.Code]int
	// renderError turns an error into the surface's body for status.
	renderError func(status int, e *roster.Error) any
	// viewRelationship renders one relationship.
	viewRelationship func(s *surface, r roster.Relationship) any
}

// surfaces are every surface, the root's last: surfaceFor takes the first whose prefix a path
// is under.
var surfaces = []*surface{native, leadBank, conduit}

// surfaceFor decides the surface of a path, 404 and 405 included.
func surfaceFor(path string) *surface {
	for _, s := range surfaces {
		if s.prefix == "" || path == s.prefix || strings.HasPrefix(path, s.prefix+"/") {
			return s
		}
	}
	return conduit
}

// id renders a roster-owned id in the surface's form.
func (s *surface) id(k roster.Kind, hexID string) string {
	if s.bare {
		return hexID
	}
	return k.Prefixed(hexID)
}

func (s *surface) optID(k roster.Kind, hexID *string) *string {
	if hexID == nil {
		return nil
	}
	v := s.id(k, *hexID)
	return &v
}

// statusOf is the status of an error code on surface s.
func statusOf(s *surface, code roster.Code) int {
	if status, ok := s.statuses[code]; ok {
		return status
	}
	switch code {
	case roster.CodeInvalid, roster.CodePayloadInvalid:
		return http.StatusUnprocessableEntity
	case roster.CodeInvalidCursor, roster.CodeInvalidSort, roster.CodeCursorMismatch, roster.CodeIdempotencyKeyMissing:
		return http.StatusBadRequest
	case roster.CodeUnauthorized:
		return http.StatusUnauthorized
	case roster.CodeForbidden, roster.CodeAccountSuspended:
		return http.StatusForbidden
	case roster.CodeNotFound:
		return http.StatusNotFound
	case roster.CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case roster.CodeSlugTaken, roster.CodeIdempotencyKeyReused, roster.CodeIdempotencyKeyInFlight:
		return http.StatusConflict
	case roster.CodeNonceInvalid:
		return http.StatusPreconditionFailed
	case roster.CodePayloadTooLarge:
		return http.StatusRequestEntityTooLarge
	case roster.CodeUnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	case roster.CodeRateLimited:
		return http.StatusTooManyRequests
	case roster.CodeCursorExpired:
		return http.StatusGone
	case roster.CodeServiceUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// validationBody is FastAPI's HTTPValidationError, with LeadConduit's "error" when set.
type validationBody struct {
	Detail []roster.Problem `json:"detail"`
	Error  string           `json:"error,omitempty"`
}

// errorBody is every other error: a message and a code, with LeadConduit's "error" when set.
type errorBody struct {
	Detail string `json:"detail"`
	Code   string `json:"code"`
	Error  string `json:"error,omitempty"`
}

// paramName renders a problem's location as a parameter name: "entity_ids[3]", "name".
func paramName(p roster.Problem) string {
	s := ""
	for i, part := range p.Loc {
		if i == 0 && len(p.Loc) > 1 {
			if str, ok := part.(string); ok && (str == "body" || str == "query" || str == "path" || str == "header") {
				continue
			}
		}
		switch v := part.(type) {
		case int:
			s += "[" + strconv.Itoa(v) + "]"
		case string:
			if s != "" {
				s += "."
			}
			s += v
		}
	}
	return s
}

// encode marshals v as the body of a response. Views that append their own JSON (jsonenc.go)
// skip encoding/json's reflection; the bytes are the same either way.
func encode(v any) ([]byte, error) {
	if a, ok := v.(jsonAppender); ok {
		return a.appendJSON(make([]byte, 0, jsonSize(a)))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return b, nil
}
