package headers

import (
	"errors"
	"fmt"

	"github.com/bulwark-go/bulwark/problem"
)

// Sentinel errors, for errors.Is.
var (
	// ErrHostNotAllowed: the request's Host, or a host a trusted proxy
	// forwarded, is not in [Config.AllowedHosts]. Answered with 421
	// Misdirected Request.
	ErrHostNotAllowed = errors.New("headers: host not allowed")

	// ErrInsecureRequest: [Config.RequireHTTPS] is set and the request did
	// not arrive over HTTPS. Answered with 403, or a 308 redirect for GET
	// and HEAD when [Config.RedirectHTTP] is set.
	ErrInsecureRequest = errors.New("headers: request not made over HTTPS")

	// ErrInvalidCSP: a Content-Security-Policy failed to parse or validate.
	ErrInvalidCSP = errors.New("headers: invalid Content-Security-Policy")
)

// ConfigError describes one problem with a [Config] or [OverrideConfig].
// [New] and [NewOverride] return all of them joined with errors.Join.
type ConfigError struct {
	Field  string // the field, e.g. "AllowedHosts"
	Value  string // the offending value, as written; may be empty
	Reason string
	Err    error // the underlying error, e.g. a [*CSPError]; may be nil
}

func (e *ConfigError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("headers: %s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("headers: %s %q: %s", e.Field, e.Value, e.Reason)
}

// Unwrap returns the underlying error.
func (e *ConfigError) Unwrap() error { return e.Err }

// CSPError describes why a policy was refused by [ParseCSP] or
// [CSPBuilder.Build]. It matches [ErrInvalidCSP].
type CSPError struct {
	Directive string // the directive, as written
	Value     string // the offending value; empty when the directive itself is wrong
	Reason    string
}

func (e *CSPError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("headers: CSP directive %q: %s", e.Directive, e.Reason)
	}
	return fmt.Sprintf("headers: CSP directive %q value %q: %s", e.Directive, e.Value, e.Reason)
}

// Unwrap returns [ErrInvalidCSP].
func (e *CSPError) Unwrap() error { return ErrInvalidCSP }

// HostError is returned by [Headers.Check] for a host that is not allowed.
// It matches [ErrHostNotAllowed]. Its Problem is a 421 that does not repeat
// the host.
type HostError struct {
	// Host is the refused host as the request gave it, cut to 255 bytes.
	// It is for the log, never for the response.
	Host string
	// Forwarded is true when Host came from a trusted proxy's
	// X-Forwarded-Host or Forwarded host= rather than the Host header.
	Forwarded bool
}

func (e *HostError) Error() string { return ErrHostNotAllowed.Error() }

// Unwrap returns [ErrHostNotAllowed].
func (e *HostError) Unwrap() error { return ErrHostNotAllowed }

// Problem returns a 421 Misdirected Request.
func (e *HostError) Problem() *problem.Details {
	return problem.MisdirectedRequest("This server does not serve the requested host.")
}

// InsecureError is returned by [Headers.Check] for a request that did not
// arrive over HTTPS when [Config.RequireHTTPS] is set. It matches
// [ErrInsecureRequest].
type InsecureError struct {
	// Location is the https URL a browser-mode GET or HEAD is redirected to
	// with 308; empty when the request is refused instead.
	Location string
}

func (e *InsecureError) Error() string { return ErrInsecureRequest.Error() }

// Unwrap returns [ErrInsecureRequest].
func (e *InsecureError) Unwrap() error { return ErrInsecureRequest }

// Problem returns a 403 Forbidden. A redirect is not a refusal and is not
// written through the error handler.
func (e *InsecureError) Problem() *problem.Details {
	return problem.Forbidden("This API is served over HTTPS only. Credentials sent in this request should be considered exposed.")
}

var (
	_ problem.Problem = (*HostError)(nil)
	_ problem.Problem = (*InsecureError)(nil)
)
