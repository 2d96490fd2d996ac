package cors

import (
	"errors"
	"strconv"

	"github.com/bulwark-go/bulwark/problem"
)

// Reasons a [Config] is refused by [New]. Each one is wrapped in a
// [*ConfigError] naming the field and value; match them with errors.Is.
var (
	ErrNoOrigins                = errors.New("cors: no allowed origins configured (an empty list does not mean \"allow all\")")
	ErrNullOrigin               = errors.New("cors: the \"null\" origin is shared by sandboxed documents, local files and redirects and must not be trusted")
	ErrAllowAllWithOrigins      = errors.New("cors: DangerouslyAllowAllOrigins contradicts a non-empty Origins list")
	ErrAllowAllWithCredentials  = errors.New("cors: allowing every origin together with credentials lets any site act as the user")
	ErrWildcardOrigin           = errors.New("cors: \"*\" is not an origin pattern; set DangerouslyAllowAllOrigins to allow every origin")
	ErrStrayWildcard            = errors.New("cors: a wildcard is allowed only as the whole leftmost label, as in https://*.example.com")
	ErrPublicSuffixWildcard     = errors.New("cors: a wildcard must not cover a registrable domain or public suffix")
	ErrIPWildcard               = errors.New("cors: a wildcard cannot be used with an IP address")
	ErrScheme                   = errors.New("cors: an origin's scheme must be http or https")
	ErrPath                     = errors.New("cors: an origin has no path, query or fragment")
	ErrUserinfo                 = errors.New("cors: an origin has no userinfo")
	ErrHost                     = errors.New("cors: an origin needs a valid host (lower-case ASCII; IDNs in punycode)")
	ErrTrailingDot              = errors.New("cors: a host with a trailing dot is a different origin; list the host without it")
	ErrPort                     = errors.New("cors: an origin's port must be 1-65535 without leading zeros")
	ErrDefaultPort              = errors.New("cors: browsers omit the scheme's default port from the Origin header; list the origin without it")
	ErrNotSerialized            = errors.New("cors: origins are compared byte for byte with what browsers send: lower case, no trailing slash")
	ErrInsecureWithCredentials  = errors.New("cors: an http:// origin with credentials lets any network attacker act as the user")
	ErrDuplicate                = errors.New("cors: listed twice")
	ErrInvalidMethod            = errors.New("cors: not a valid method token")
	ErrForbiddenMethod          = errors.New("cors: browsers never send this method cross-origin")
	ErrMethodNotNormalized      = errors.New("cors: browsers upper-case this method; list it in upper case")
	ErrMethodWildcard           = errors.New("cors: list methods explicitly; \"*\" is not accepted")
	ErrInvalidHeaderName        = errors.New("cors: not a valid header name")
	ErrForbiddenHeader          = errors.New("cors: a forbidden header name that scripts cannot set or read")
	ErrHeaderWildcard           = errors.New("cors: list header names explicitly; \"*\" is not accepted")
	ErrMaxAgeRange              = errors.New("cors: MaxAge must be between -1s and 24h, in whole seconds")
	ErrCrossOriginProtectionSet = errors.New("cors: the origin cannot be trusted by net/http.CrossOriginProtection")
)

// Reasons [CORS.Check] refuses a request. They come wrapped in a
// [*RequestError]; match them with errors.Is.
var (
	// ErrOriginNotAllowed: the Origin header matches no allowed origin, or
	// the request carries more than one Origin header.
	ErrOriginNotAllowed = errors.New("cors: origin not allowed")
	// ErrMethodNotAllowed: a preflight asks for a method not in
	// [Config.Methods].
	ErrMethodNotAllowed = errors.New("cors: preflight method not allowed")
	// ErrHeadersNotAllowed: a preflight asks for a header name not in
	// [Config.Headers], lists more names than Config.Headers has (refused
	// without parsing), or lists names in a form no browser sends.
	ErrHeadersNotAllowed = errors.New("cors: preflight headers not allowed")
	// ErrHeadersTooLarge: Access-Control-Request-Headers is longer than
	// [MaxRequestHeadersBytes] or sent more than once; it is refused before
	// it is parsed.
	ErrHeadersTooLarge = errors.New("cors: preflight Access-Control-Request-Headers over limit")
	// ErrCrossOriginRequest: the CSRF protection refused an unsafe-method
	// request from another site (see [Config.CrossOriginProtection]).
	ErrCrossOriginRequest = errors.New("cors: cross-origin request refused by CSRF protection")
)

// ConfigError is one problem [New] found in a [Config]. New returns all of
// them joined with errors.Join.
type ConfigError struct {
	// Field is the Config field, with an index for list entries
	// ("Origins[2]").
	Field string
	// Value is the offending value as configured ("" for field-level
	// problems).
	Value string
	// Err is the reason, one of the package's Err… sentinels.
	Err error
}

// Error describes the problem, quoting the value.
func (e *ConfigError) Error() string {
	s := "cors: " + e.Field
	if e.Value != "" {
		s += " " + strconv.Quote(e.Value)
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the reason, so errors.Is(err, ErrNullOrigin) works.
func (e *ConfigError) Unwrap() error { return e.Err }

// RequestError is returned by [CORS.Check] for a refused request. It carries
// only the reason: the Origin and header values go to the security event, not
// into errors that may reach a response.
// A [CORS] hands out the same *RequestError for every refusal of one kind;
// treat it as read-only.
type RequestError struct {
	// Err is the reason, one of ErrOriginNotAllowed, ErrMethodNotAllowed,
	// ErrHeadersNotAllowed, ErrHeadersTooLarge or ErrCrossOriginRequest.
	Err error
	// Preflight reports whether the refused request was a CORS preflight.
	Preflight bool
}

// Error returns the reason's text.
func (e *RequestError) Error() string { return e.Err.Error() }

// Unwrap returns the reason.
func (e *RequestError) Unwrap() error { return e.Err }

// Problem answers every refusal with 403 Forbidden and a fixed detail that
// echoes nothing from the request.
func (e *RequestError) Problem() *problem.Details {
	if e.Err == ErrCrossOriginRequest {
		return problem.Forbidden("Cross-origin requests with this method are not accepted.")
	}
	return problem.Forbidden("This cross-origin request is not allowed.")
}

var _ problem.Problem = (*RequestError)(nil)
