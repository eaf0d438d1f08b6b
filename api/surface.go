package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/rosterhq/roster"
)

// surface is how one published contract looks on the wire: the form of ids in responses and
// the shape of errors. Handlers are written once; the route table names the surface.
type surface struct {
	name string
	// bare renders roster's own ids as bare 24 hex (LeadConduit) instead of prefixed.
	bare bool
	// renderError turns an error into the surface's status and body.
	renderError func(status int, e *roster.Error) any
}

var (
	native = &surface{name: "native", renderError: nativeError}
	// conduit is LeadConduit's surface at the root.
	conduit = &surface{name: "leadconduit", bare: true, renderError: conduitError}
	// leadBank is Lead Bank's surface under /v0.
	leadBank = &surface{name: "leadbank", renderError: leadBankError}
)

// surfaceFor decides the surface of a path, 404 and 405 included.
func surfaceFor(path string) *surface {
	switch {
	case path == "/v1" || strings.HasPrefix(path, "/v1/"):
		return native
	case path == "/v0" || strings.HasPrefix(path, "/v0/"):
		return leadBank
	default:
		return conduit
	}
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

// statusOf is the one code → status map.
func statusOf(s *surface, code roster.Code) int {
	switch code {
	case roster.CodeInvalid:
		return http.StatusUnprocessableEntity
	case roster.CodePayloadInvalid:
		if s == leadBank {
			return http.StatusBadRequest
		}
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

type validationBody struct {
	Detail []roster.Problem `json:"detail"`
	Error  string           `json:"error,omitempty"`
}

type errorBody struct {
	Detail string `json:"detail"`
	Code   string `json:"code"`
	Error  string `json:"error,omitempty"`
}

func nativeError(status int, e *roster.Error) any {
	if len(e.Problems) > 0 {
		return validationBody{Detail: e.Problems}
	}
	return errorBody{Detail: e.Message, Code: string(e.Code)}
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
		parts[i] = p.Param() + ": " + p.Msg
	}
	return strings.Join(parts, "; ")
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
			b.InvalidParameters = append(b.InvalidParameters, invalidParameter{Parameter: p.Param(), Reason: p.Type})
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
