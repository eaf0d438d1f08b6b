package roster

import (
	"errors"
	"fmt"
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
	msg := string(e.Code) + ": " + e.Message
	for i, p := range e.Problems {
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		msg += sep + fmt.Sprint(p.Loc) + " " + p.Msg
	}
	return msg
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
	// omitted counts, on the last item of a capped list (TooManyProblems), the problems that
	// were not recorded.
	omitted int
}

// ProblemContext is a problem's "ctx": what FastAPI adds to some types (the parser's reason
// for a json_invalid).
type ProblemContext struct {
	Error string `json:"error"`
}

// Problems collects validation problems so that all of them are reported at once, up to
// MaxProblems: past that, one last item of type TooManyProblems counts the rest, so that no
// body can make an error response large (SPEC §10; FastAPI has no such cap).
type Problems []Problem

// MaxProblems is the most problems one error reports; MaxLocText is the most characters of a
// string in a loc (a key name the client chose) that it echoes.
const (
	MaxProblems = 100
	MaxLocText  = 100
)

// TooManyProblems is the type of the item that ends a capped list of problems.
const TooManyProblems = "too_many_problems"

// Add records one problem. Past MaxProblems it only counts it; a string of loc longer than
// MaxLocText characters is cut to them and an ellipsis.
func (ps *Problems) Add(typ, msg string, loc ...any) {
	ps.add(Problem{Loc: loc, Msg: msg, Type: typ})
}

func (ps *Problems) add(p Problem) {
	weight := 1 // the problems p stands for: a TooManyProblems item stands for those it counts
	if p.Type == TooManyProblems {
		weight = p.omitted
	}
	n := len(*ps)
	if n > 0 && (*ps)[n-1].Type == TooManyProblems {
		(*ps)[n-1].omitted += weight
		return
	}
	if n >= MaxProblems || p.Type == TooManyProblems {
		root := any("body")
		if len(p.Loc) > 0 {
			root = p.Loc[0]
		}
		*ps = append(*ps, Problem{Loc: []any{root}, Type: TooManyProblems, omitted: weight})
		return
	}
	for i, part := range p.Loc {
		if s, ok := part.(string); ok && len(s) > MaxLocText && StrLen(s) > MaxLocText {
			loc := append([]any(nil), p.Loc...)
			loc[i] = cutText(s, MaxLocText)
			p.Loc = loc
		}
	}
	*ps = append(*ps, p)
}

// cutText keeps the first n characters of s and marks the cut with an ellipsis.
func cutText(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i] + "…"
		}
		n--
	}
	return s
}

// Join records every problem of more after those already recorded, within the cap.
func (ps *Problems) Join(more Problems) {
	for _, p := range more {
		ps.add(p)
	}
}

// Absorb takes the problems of a validation error into ps and returns nil, so that they are
// reported with the rest; any other error, nil included, it returns as it is.
func (ps *Problems) Absorb(err error) error {
	if e, ok := err.(*Error); ok && e.Code == CodeInvalid && e.Problems != nil {
		ps.Join(e.Problems)
		return nil
	}
	return err
}

// Err returns nil when nothing was recorded, else a CodeInvalid error carrying every problem.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	if last := &ps[len(ps)-1]; last.Type == TooManyProblems {
		last.Msg = fmt.Sprintf("%d more problem%s not reported (at most %d are)", last.omitted, pluralWere(last.omitted), MaxProblems)
	}
	return &Error{Code: CodeInvalid, Message: "validation failed", Problems: ps}
}

func pluralWere(n int) string {
	if n == 1 {
		return " was"
	}
	return "s were"
}

// Invalid is a shorthand for a single-problem validation error.
func Invalid(typ, msg string, loc ...any) error {
	var ps Problems
	ps.Add(typ, msg, loc...)
	return ps.Err()
}
