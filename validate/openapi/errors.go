package openapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/bulwark-go/bulwark/problem"
	"github.com/bulwark-go/bulwark/secevent"
)

// Sentinel errors, matched with [errors.Is] against the error from
// [Spec.Check]. Each refusal wraps one of them in an [*Error]; a body that
// validate's strict reading refuses outright (413, 415 for its coding, 408)
// is returned as validate's own [*validate.InputError].
var (
	// ErrNoOperation: no path of the document matches. Status 404.
	ErrNoOperation = errors.New("openapi: no such operation")
	// ErrMethodNotAllowed: the path exists without this method. Status 405.
	ErrMethodNotAllowed = errors.New("openapi: method not allowed")
	// ErrUnsupportedMediaType: a body whose Content-Type the operation does
	// not list. Status 415.
	ErrUnsupportedMediaType = errors.New("openapi: unsupported media type")
	// ErrInvalid: parameters or body break the document. Status 400 when
	// something could not be read as the document says (unknown, repeated,
	// missing or mistyped parameters, a body where none is allowed, a body
	// refused by the strict JSON rules), 422 when everything was read but
	// breaks a schema.
	ErrInvalid = errors.New("openapi: request does not match the document")
	// ErrResponse: a response that breaks the document, replaced under
	// [ResponsesEnforce]. Status 502.
	ErrResponse = errors.New("openapi: response does not match the document")
)

// Violation is one way a request breaks the document. It never carries the
// submitted value.
type Violation struct {
	// Pointer is the RFC 6901 JSON Pointer into the body, for body
	// violations ("" is the whole body). It stops before a key the client
	// made up.
	Pointer string `json:"pointer,omitempty"`
	// Parameter names the parameter, for parameter violations.
	Parameter string `json:"parameter,omitempty"`
	// In is where the parameter is: "path", "query", "header" or "cookie".
	In string `json:"in,omitempty"`
	// Rule is the broken rule: a JSON Schema keyword ("type", "maximum",
	// "required", "additionalProperties") or one of "unknown", "repeated",
	// "missing", "malformed", "no_body", "read_only", "case_variant_key" and
	// validate's strict-JSON rules.
	Rule string `json:"rule"`
	// Message says in fixed wording what the rule wants.
	Message string `json:"message"`
}

// Error is the error for every refusal a [Spec] makes itself.
type Error struct {
	Status     int
	Err        error
	Violations []Violation
	// Allow lists the methods of the path, for [ErrMethodNotAllowed].
	Allow string
}

func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }

// Problem returns the problem+json details: a fixed detail per sentinel and
// an "errors" member listing the violations.
func (e *Error) Problem() *problem.Details {
	var d *problem.Details
	switch e.Err {
	case ErrNoOperation:
		d = problem.NotFound("No operation of the API matches this path.")
	case ErrMethodNotAllowed:
		d = problem.MethodNotAllowed("The path does not accept this method.")
	case ErrUnsupportedMediaType:
		d = problem.UnsupportedMediaType("The operation does not accept this content type.")
	case ErrResponse:
		d = problem.New(http.StatusBadGateway, "The upstream response does not match the API description.")
	default:
		d = problem.New(e.Status, "The request does not match the API description.")
	}
	if len(e.Violations) > 0 {
		d = d.With("errors", e.Violations)
	}
	return d
}

// maxViolations bounds the violations listed for one request.
const maxViolations = 50

// maxEventPointers bounds the pointers carried by a security event.
const maxEventPointers = 16

func emit(ctx context.Context, e *Error) {
	attrs := []slog.Attr{slog.Int("status", e.Status)}
	if len(e.Violations) > 0 {
		n := min(len(e.Violations), maxEventPointers)
		ptrs := make([]string, 0, n)
		for _, v := range e.Violations[:n] {
			if v.Parameter != "" {
				ptrs = append(ptrs, v.In+":"+v.Parameter)
				continue
			}
			ptrs = append(ptrs, v.Pointer)
		}
		attrs = append(attrs, slog.Any("pointers", ptrs))
	}
	secevent.Emit(ctx, secevent.Event{
		Name:   secevent.InputValidationFail,
		Reason: e.Err.Error(),
		Attrs:  attrs,
	})
}

var (
	_ problem.Problem = (*Error)(nil)
)
