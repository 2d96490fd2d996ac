// Package headers sets the security response headers of an HTTP API,
// enforces HTTPS and restricts the hosts a server answers for. It is right
// with a zero [Config].
//
// # What it protects against
//
//   - Downgrade and man-in-the-middle attacks: Strict-Transport-Security on
//     every response that arrived over HTTPS; with [Config.RequireHTTPS],
//     plain-HTTP requests are refused with 403 rather than redirected, since
//     the credentials in them have already crossed the network in clear
//     (browser mode, [Config.RedirectHTTP], redirects GET and HEAD with 308).
//   - A client claiming HTTPS: X-Forwarded-Proto and Forwarded proto= are
//     believed only from [Config.TrustedProxies]; a spoofed header from
//     anyone else earns no HSTS and, when HTTPS is required, a refusal.
//   - Browser-side attacks on API responses: MIME sniffing
//     (X-Content-Type-Options), framing and clickjacking (CSP
//     frame-ancestors, X-Frame-Options), script execution in a response a
//     browser renders as a page (CSP default-src 'none'), referrer leaks
//     (Referrer-Policy), cross-origin window and resource access
//     (Cross-Origin-Opener-Policy, Cross-Origin-Resource-Policy), Flash and
//     PDF cross-domain policies, and caching of private responses by shared
//     caches (Cache-Control: no-store unless the handler chose a policy).
//   - Fingerprinting: Server, X-Powered-By and similar headers are removed,
//     whether the handler or a reverse-proxied upstream set them.
//   - DNS rebinding and Host-header poisoning: with [Config.AllowedHosts],
//     other hosts get 421 Misdirected Request. Every host a request names
//     is checked, the Host header and each host a trusted proxy forwarded,
//     so that whichever one the handler or a framework reads was allowed.
//
// # Two profiles, chosen per response
//
// A response whose Content-Type is text/html or application/xhtml+xml gets
// the HTML profile: a Content-Security-Policy built with [CSPBuilder] or
// checked by [ParseCSP], carrying a per-request nonce ([Nonce]) in place of
// [NonceSource], and a Permissions-Policy. Every other response gets the
// API profile, the stricter one: a response without a Content-Type (which
// net/http may later sniff as HTML) is treated as API. The choice is made
// when the response is written, so an API that serves one documentation
// page gets both right without per-route setup. A route that needs
// something else ([Override]) changes or drops headers through the one
// middleware instance.
//
// The headers are applied when the response is written — at WriteHeader,
// the first Write, a Flush, or the implicit 200 when the handler writes
// nothing — so a handler cannot remove them by accident; the writer
// implements Unwrap for [net/http.ResponseController].
//
// # What it does not do
//
// It does not make HTML safe: a page that interpolates untrusted input
// still needs contextual escaping (html/template); CSP is the second line.
// It does not set CORS headers (bulwark's cors package does), does not
// terminate TLS, and cannot tell whether a trusted proxy was itself fooled.
// X-XSS-Protection is not sent (the auditor it controlled is gone and could
// be abused); Cross-Origin-Embedder-Policy is opt-in.
//
// # Where it sits
//
// After clientip (it does not need the client address, but refusals are
// then logged with it) and before cors, rate limits, authentication and the
// application, so that every response — refusals by later middleware
// included — carries the headers, and a refused host or plain-HTTP request
// costs nothing further. Refusals go through [Config.ErrorHandler] as RFC
// 9457 problem responses and are reported with secevent.
package headers
