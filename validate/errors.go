package validate

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/bulwark-go/bulwark/problem"
	"github.com/bulwark-go/bulwark/secevent"
)

// Sentinel errors, matched with [errors.Is] against the error returned by a
// decoder. Each refusal wraps exactly one of them in an [*InputError].
var (
	// ErrUnsupportedMediaType: Content-Type is not application/json or
	// application/*+json with a UTF-8 (or absent) charset. Status 415.
	ErrUnsupportedMediaType = errors.New("validate: unsupported media type")
	// ErrUnsupportedEncoding: a Content-Encoding that is not allowed. Status 415.
	ErrUnsupportedEncoding = errors.New("validate: unsupported content encoding")
	// ErrTooLarge: the body (as sent or decoded) exceeds MaxBodyBytes. Status 413.
	ErrTooLarge = errors.New("validate: body too large")
	// ErrTimeout: the body was not read before the read deadline. Status 408.
	ErrTimeout = errors.New("validate: body read timed out")
	// ErrRead: the body could not be read (connection error, bad coding). Status 400.
	ErrRead = errors.New("validate: body unreadable")

	// ErrSyntax: the body is not JSON. Status 400.
	ErrSyntax = errors.New("validate: malformed JSON")
	// ErrEmpty: the body is empty. Status 400.
	ErrEmpty = errors.New("validate: empty body")
	// ErrNullBody: the document is the literal null. Status 400.
	ErrNullBody = errors.New("validate: null body")
	// ErrTrailingData: something other than whitespace follows the document. Status 400.
	ErrTrailingData = errors.New("validate: trailing data after JSON document")
	// ErrInvalidUTF8: a string holds invalid UTF-8 or an unpaired surrogate escape. Status 400.
	ErrInvalidUTF8 = errors.New("validate: invalid UTF-8")
	// ErrDuplicateKey: an object names the same member twice. Status 400.
	ErrDuplicateKey = errors.New("validate: duplicate key")
	// ErrCaseVariantKey: a key matches a field only case-insensitively
	// (including Unicode folding, e.g. "ſkip" for "skip"). Status 400.
	ErrCaseVariantKey = errors.New("validate: key differs from field name in case")
	// ErrUnknownField: a key names no field of the target type. Status 400.
	ErrUnknownField = errors.New("validate: unknown field")
	// ErrTooDeep: nesting deeper than MaxDepth. Status 400.
	ErrTooDeep = errors.New("validate: nesting too deep")
	// ErrTooManyValues: more than MaxValues values. Status 400.
	ErrTooManyValues = errors.New("validate: too many values")
	// ErrTooManyKeys: an object with more than MaxObjectKeys members. Status 400.
	ErrTooManyKeys = errors.New("validate: too many keys in object")
	// ErrStringTooLong: a string or key longer than MaxStringBytes. Status 400.
	ErrStringTooLong = errors.New("validate: string too long")
	// ErrType: a value of the wrong JSON type for its field, or an
	// unparseable query or path parameter. Status 400.
	ErrType = errors.New("validate: wrong type")
	// ErrRules: the decoded value breaks one or more validation rules. Status 422.
	ErrRules = errors.New("validate: validation failed")
)

// FieldError describes one offending field, as listed in the problem
// body's "errors" member. It never carries the submitted value.
type FieldError struct {
	// Pointer is the RFC 6901 JSON Pointer of the field in the body ("" for
	// the whole document). Map keys and unknown keys come from the client,
	// so a pointer stops at the object that holds them.
	Pointer string `json:"pointer,omitempty"`
	// Parameter names the query or path parameter, for [NewQueryDecoder].
	Parameter string `json:"parameter,omitempty"`
	// Rule is the broken rule: a validator tag ("required", "min", …) or one
	// of the strict-decoding rules ("duplicate_key", "case_variant_key",
	// "unknown_field", "type").
	Rule string `json:"rule"`
	// Message says in fixed wording what the rule wants.
	Message string `json:"message"`
}

// InputError is the error for every refused request. Err is one of the
// package's sentinels; Fields lists the offending fields, if known.
type InputError struct {
	Status int
	Err    error
	Fields []FieldError
}

func (e *InputError) Error() string { return e.Err.Error() }

// Unwrap returns the sentinel.
func (e *InputError) Unwrap() error { return e.Err }

// Problem returns the problem+json details: status, a fixed detail per
// sentinel and, when fields are known, an "errors" extension.
func (e *InputError) Problem() *problem.Details {
	d := problem.New(e.Status, detailFor(e.Err))
	if len(e.Fields) > 0 {
		d = d.With("errors", e.Fields)
	}
	return d
}

func detailFor(err error) string {
	switch err {
	case ErrRules:
		return "The request does not satisfy the validation rules."
	case ErrUnsupportedMediaType:
		return "The request body must be application/json in UTF-8."
	case ErrUnsupportedEncoding:
		return "The request body's content coding is not accepted."
	case ErrTooLarge:
		return "The request body is too large."
	case ErrTimeout:
		return "The request body was not received in time."
	}
	// The sentinel's text is fixed wording chosen here, never input.
	return "The request body is not acceptable: " + err.Error()[len("validate: "):] + "."
}

func inputErr(status int, sentinel error, fields ...FieldError) *InputError {
	return &InputError{Status: status, Err: sentinel, Fields: fields}
}

func badRequest(sentinel error, fields ...FieldError) *InputError {
	return inputErr(http.StatusBadRequest, sentinel, fields...)
}

// maxEventPointers bounds the pointer list carried by a security event.
const maxEventPointers = 16

// emit records an input_validation_fail event for err.
func emit(ctx context.Context, err *InputError) {
	attrs := []slog.Attr{slog.Int("status", err.Status)}
	if len(err.Fields) > 0 {
		n := min(len(err.Fields), maxEventPointers)
		ptrs := make([]string, 0, n)
		for _, f := range err.Fields[:n] {
			if f.Parameter != "" {
				ptrs = append(ptrs, "?"+f.Parameter)
				continue
			}
			ptrs = append(ptrs, f.Pointer)
		}
		attrs = append(attrs, slog.Any("pointers", ptrs))
	}
	secevent.Emit(ctx, secevent.Event{
		Name:   secevent.InputValidationFail,
		Reason: err.Err.Error(),
		Attrs:  attrs,
	})
}

var _ problem.Problem = (*InputError)(nil)
var _ problem.Problem = (*ConfigError)(nil)
