package problem

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/bulwark-go/bulwark/internal/jsonstr"
)

// MediaType is the media type of a problem details document (RFC 9457 §3).
const MediaType = "application/problem+json"

// Details is an RFC 9457 problem details object. The zero value is a valid
// but uninformative problem; use [New] or one of the status constructors.
//
// Details never includes request input unless a caller puts it there: every
// member is set explicitly by the code that creates it.
type Details struct {
	// Type is a URI reference identifying the problem type. Empty means
	// "about:blank" (RFC 9457 §4.2.1), in which case Title should be the
	// HTTP status phrase.
	Type string
	// Title is a short, human-readable summary of the problem type. It
	// should not change from occurrence to occurrence.
	Title string
	// Status is the HTTP status code. [Write] uses it as the response status;
	// zero is written as 500.
	Status int
	// Detail is a human-readable explanation specific to this occurrence.
	// It must not contain secrets, internal error text or unescaped input.
	Detail string
	// Instance is a URI reference identifying this occurrence (for example a
	// request ID as "urn:uuid:…"). Optional.
	Instance string
	// Extensions are additional members, marshaled with encoding/json.
	// Members whose names collide with the standard ones are ignored.
	Extensions map[string]any
}

// New returns a problem for status with the standard status phrase as Title
// and the given detail.
func New(status int, detail string) *Details {
	return &Details{Title: http.StatusText(status), Status: status, Detail: detail}
}

// BadRequest returns a 400 Bad Request problem.
func BadRequest(detail string) *Details { return New(http.StatusBadRequest, detail) }

// Unauthorized returns a 401 Unauthorized problem. The caller sets the
// WWW-Authenticate header.
func Unauthorized(detail string) *Details { return New(http.StatusUnauthorized, detail) }

// Forbidden returns a 403 Forbidden problem.
func Forbidden(detail string) *Details { return New(http.StatusForbidden, detail) }

// NotFound returns a 404 Not Found problem.
func NotFound(detail string) *Details { return New(http.StatusNotFound, detail) }

// MethodNotAllowed returns a 405 Method Not Allowed problem. The caller sets
// the Allow header.
func MethodNotAllowed(detail string) *Details { return New(http.StatusMethodNotAllowed, detail) }

// ContentTooLarge returns a 413 Content Too Large problem.
func ContentTooLarge(detail string) *Details {
	return New(http.StatusRequestEntityTooLarge, detail)
}

// UnsupportedMediaType returns a 415 Unsupported Media Type problem.
func UnsupportedMediaType(detail string) *Details {
	return New(http.StatusUnsupportedMediaType, detail)
}

// MisdirectedRequest returns a 421 Misdirected Request problem.
func MisdirectedRequest(detail string) *Details {
	return New(http.StatusMisdirectedRequest, detail)
}

// UnprocessableContent returns a 422 Unprocessable Content problem.
func UnprocessableContent(detail string) *Details {
	return New(http.StatusUnprocessableEntity, detail)
}

// TooManyRequests returns a 429 Too Many Requests problem. The caller sets
// Retry-After.
func TooManyRequests(detail string) *Details { return New(http.StatusTooManyRequests, detail) }

// InternalServerError returns a 500 Internal Server Error problem.
func InternalServerError(detail string) *Details {
	return New(http.StatusInternalServerError, detail)
}

// ServiceUnavailable returns a 503 Service Unavailable problem. The caller
// sets Retry-After when it knows one.
func ServiceUnavailable(detail string) *Details {
	return New(http.StatusServiceUnavailable, detail)
}

// With returns a copy of d with the extension member name set to value.
// It does not modify d.
func (d *Details) With(name string, value any) *Details {
	c := *d
	c.Extensions = make(map[string]any, len(d.Extensions)+1)
	for k, v := range d.Extensions {
		c.Extensions[k] = v
	}
	c.Extensions[name] = value
	return &c
}

// StatusCode returns d.Status, or 500 when it is not a valid error status.
func (d *Details) StatusCode() int {
	if d == nil || d.Status < 400 || d.Status > 599 {
		return http.StatusInternalServerError
	}
	return d.Status
}

// Problem returns d itself, so that a *Details is also a [Problem].
func (d *Details) Problem() *Details { return d }

// MarshalJSON encodes d as an RFC 9457 JSON object. Standard members come
// first, in the order of the RFC; extension members follow in encoding/json's
// map order (sorted by name). Strings are escaped so that the body is safe to
// render even if a client sniffs it as HTML.
func (d *Details) MarshalJSON() ([]byte, error) {
	return d.appendJSON(make([]byte, 0, 128))
}

func (d *Details) appendJSON(b []byte) ([]byte, error) {
	typ := d.Type
	if typ == "" {
		typ = "about:blank"
	}
	b = append(b, `{"type":`...)
	b = jsonstr.Append(b, typ)
	if d.Title != "" {
		b = append(b, `,"title":`...)
		b = jsonstr.Append(b, d.Title)
	}
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(d.StatusCode()), 10)
	if d.Detail != "" {
		b = append(b, `,"detail":`...)
		b = jsonstr.Append(b, d.Detail)
	}
	if d.Instance != "" {
		b = append(b, `,"instance":`...)
		b = jsonstr.Append(b, d.Instance)
	}
	if len(d.Extensions) > 0 {
		ext := make(map[string]any, len(d.Extensions))
		for k, v := range d.Extensions {
			switch k {
			case "type", "title", "status", "detail", "instance":
				continue
			}
			ext[k] = v
		}
		if len(ext) > 0 {
			eb, err := json.Marshal(ext)
			if err != nil {
				return nil, err
			}
			// eb is a JSON object "{...}": splice its members into ours.
			b = append(b, ',')
			b = append(b, eb[1:len(eb)-1]...)
		}
	}
	return append(b, '}'), nil
}

// Write writes d to w as application/problem+json with the status d.Status
// (500 when unset), X-Content-Type-Options: nosniff and Cache-Control:
// no-store. Headers the caller set before (Retry-After, WWW-Authenticate,
// Allow) are kept; a Content-Length set earlier is removed. If extension
// members cannot be marshaled, a problem without them is written.
func Write(w http.ResponseWriter, d *Details) {
	if d == nil {
		d = InternalServerError("")
	}
	body, err := d.appendJSON(make([]byte, 0, 160))
	if err != nil {
		plain := *d
		plain.Extensions = nil
		body, _ = plain.appendJSON(make([]byte, 0, 160)) // cannot fail without extensions
	}
	h := w.Header()
	h.Del("Content-Length")
	h.Del("Content-Encoding")
	h["Content-Type"] = []string{MediaType}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	h["Cache-Control"] = []string{"no-store"}
	w.WriteHeader(d.StatusCode())
	_, _ = w.Write(body) // the client may have gone; nothing useful to do
}

// Problem is implemented by errors that describe how they are reported to a
// client. Feature packages' error types implement it, so that [WriteError]
// can answer for any of them without knowing the package.
type Problem interface {
	Problem() *Details
}

// ErrorHandler is the signature every bulwark package accepts to answer a
// rejected request. It is called instead of the next handler; it must write
// a response. err is the package's error value, suitable for errors.Is and
// errors.As, and for logging — never for the response body.
type ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

// WriteError is the default [ErrorHandler]. It writes the [Details] of the
// first error in err's tree that implements [Problem], and otherwise a bare
// 500 Internal Server Error. It never writes err.Error().
func WriteError(w http.ResponseWriter, _ *http.Request, err error) {
	var p Problem
	if errors.As(err, &p) {
		if d := p.Problem(); d != nil {
			Write(w, d)
			return
		}
	}
	Write(w, InternalServerError(""))
}

// Or returns h, or [WriteError] when h is nil. Packages use it to apply the
// default error handler.
func Or(h ErrorHandler) ErrorHandler {
	if h == nil {
		return WriteError
	}
	return h
}

var _ Problem = (*Details)(nil)
