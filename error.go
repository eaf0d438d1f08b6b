package roster

import (
	"errors"
	"fmt"
	"strconv"
)

// Code is the machine-readable kind of an error. Every surface maps a code to one HTTP status.
type Code string

// The error codes of SPEC §5.
const (
	CodeInvalid                Code = "validation_error" // a 422 with Problems
	CodeInvalidCursor          Code = "invalid_cursor"
	CodeInvalidSort            Code = "invalid_sort"
	CodeCursorMismatch         Code = "cursor_mismatch"
	CodeIdempotencyKeyMissing  Code = "idempotency_key_missing"
	CodePayloadInvalid         Code = "payload_invalid" // malformed JSON; a 422 json_invalid problem on native surfaces
	CodeUnauthorized           Code = "unauthorized"
	CodeForbidden              Code = "forbidden"
	CodeAccountSuspended       Code = "account_suspended"
	CodeNotFound               Code = "not_found"
	CodeMethodNotAllowed       Code = "method_not_allowed"
	CodeSlugTaken              Code = "slug_taken"
	CodeIdempotencyKeyReused   Code = "idempotency_key_reused"
	CodeIdempotencyKeyInFlight Code = "idempotency_key_in_progress"
	CodeNonceInvalid           Code = "nonce_invalid"
	CodePayloadTooLarge        Code = "payload_too_large"
	CodeUnsupportedMediaType   Code = "unsupported_media_type"
	CodeRateLimited            Code = "rate_limited"
	CodeInternal               Code = "internal"
	CodeConflict               Code = "conflict" // storage-level uniqueness violation, mapped by the core
	CodeServiceUnavailable     Code = "unavailable"
)

// Error is the one error type of roster's core. Message is safe to show a client.
type Error struct {
	Code     Code
	Message  string
	Problems []Problem // only for CodeInvalid
	Err      error     // internal cause, never shown to a client
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return string(e.Code) + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an Error with a client-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, CodeInternal for anything that is not a roster Error.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrNotFound is what stores return when a row does not exist (or is not visible).
var ErrNotFound = &Error{Code: CodeNotFound, Message: "not found"}

// ErrConflict is what stores return on a uniqueness violation.
var ErrConflict = &Error{Code: CodeConflict, Message: "conflict"}

// Problem is one item of a validation failure, as FastAPI reports it.
type Problem struct {
	Loc  []any           `json:"loc"`
	Msg  string          `json:"msg"`
	Type string          `json:"type"`
	Ctx  *ProblemContext `json:"ctx,omitempty"`
}

// ProblemContext is a problem's "ctx": what FastAPI adds to some types (the parser's reason
// for a json_invalid).
type ProblemContext struct {
	Error string `json:"error"`
}

// Param renders the location as Lead Bank's parameter name: "entity_ids[3]".
func (p Problem) Param() string {
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

// Problems collects validation problems so that all of them are reported at once.
type Problems []Problem

// Add records one problem.
func (ps *Problems) Add(typ, msg string, loc ...any) {
	*ps = append(*ps, Problem{Loc: loc, Msg: msg, Type: typ})
}

// Err returns nil when nothing was recorded, else a CodeInvalid error carrying every problem.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return &Error{Code: CodeInvalid, Message: "validation failed", Problems: ps}
}

// Invalid is a shorthand for a single-problem validation error.
func Invalid(typ, msg string, loc ...any) error {
	var ps Problems
	ps.Add(typ, msg, loc...)
	return ps.Err()
}
