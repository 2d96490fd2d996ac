// Package bulwark is a set of net/http middleware that put the API-security
// practices of OWASP and the IETF into code. Each protection is its own
// package; an application imports the ones it wants and stacks them around
// its router (http.ServeMux, chi, gorilla/mux) with each package's Handler
// method, which has the standard func(http.Handler) http.Handler shape.
//
// The foundation, imported by every feature package:
//
//   - [github.com/bulwark-go/bulwark/problem]: RFC 9457 problem responses,
//     the one way every package says "no".
//   - [github.com/bulwark-go/bulwark/clientip]: the client's address, taken
//     from forwarding headers only when the peer is a trusted proxy.
//   - [github.com/bulwark-go/bulwark/secevent]: security events, emitted by
//     feature packages and recorded by the audit log.
//   - [github.com/bulwark-go/bulwark/canonical]: the request in the one form
//     every later hop reads (a canonical path, no header names a CGI-style
//     upstream would read as others), for routers and reverse proxies.
//
// The features: headers (security response headers, HTTPS, Host
// allow-list), cors (CORS and CSRF), ratelimit (rate, quota, in-flight and
// body-size limits), auth (bearer tokens, API keys, authorization), validate
// (strict JSON input), audit (the access and security-event log) and seal
// (encryption of sensitive values at rest). Which of them exist in this
// version is listed in README.md.
//
// # Order
//
// Stack outermost first:
//
//	clientip  → who is asking (everything after keys and logs by it)
//	audit     → one record per request, including refusals below
//	headers   → HTTPS and Host checks; response headers even on refusals
//	canonical → one path and one set of header names for every later layer
//	cors      → preflights answered before authentication (they carry no credentials)
//	ratelimit → per client IP: a budget before any costly authentication
//	auth      → who the principal is, then whether it may call this route
//	ratelimit → per principal: tiers and quotas
//	validate  → body size and strict JSON before the handler
//	handler
//
// A refusal at any layer is answered there with a problem response, and the
// request goes no further.
//
// Every package follows one shape: New(Config) (*T, error) checks the whole
// configuration and reports every problem at once; the zero value of each
// field is the safe choice; a setting that weakens security says so in its
// name (Dangerously…, Insecure…); the decision is a plain method usable
// without HTTP, and Handler is a thin layer over it.
package bulwark
