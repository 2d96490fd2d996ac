// Package canonical puts a request into the one form every later hop will
// read, before anything routes, authorizes, limits or logs it: the path
// after RFC 3986 percent-decoding and dot-segment removal, and request
// headers without the spellings a next hop would read differently.
//
// # What it protects against
//
// A check is only as good as the agreement between what it looked at and
// what the handler or upstream then acts on. A gateway that routes on the
// raw path "/public/../admin/x" applies the rules of "/public/", and an
// upstream that resolves the dot-segments (nginx, most frameworks) serves
// "/admin/x": an authentication bypass. The same differential hides in
// "%2e%2e", "..%2f", "..\", "%00", overlong UTF-8 ("%c0%ae") and double
// encodings ("%252e"), and in header names: CGI, WSGI, Rack and PHP read a
// client's "X_Bulwark_Subject" as the "X-Bulwark-Subject" a proxy writes
// for its upstream. [Canonicalizer.Request] removes the differential:
//
//   - Percent-encoded unreserved characters are decoded ("%41" is "A",
//     "%2E" is "."), other escapes are kept with upper-case hex, and
//     characters that must be escaped are escaped. The result decodes to
//     the same bytes in every conforming parser.
//   - Dot-segments are removed (RFC 3986 §5.2.4) and repeated slashes
//     merged (as nginx's and Envoy's merge_slashes do, unless
//     [Config.KeepRepeatedSlashes]).
//   - Refused with 400, because no form of them means the same thing to
//     every hop: an encoded slash ("%2F") or backslash ("%5C"), a raw
//     backslash, NUL or any other control character, invalid or overlong
//     UTF-8, a double encoding (a path that decodes differently a second
//     time, e.g. "%252e"), a dot-segment with parameters ("..;", which
//     Tomcat and Spring resolve as ".."), and dot-segments that climb above
//     "/".
//   - Request headers whose name contains "_" are removed (nginx's
//     underscores_in_headers off) unless listed in
//     [Config.UnderscoreHeaders]; the method and URL override headers
//     (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override,
//     X-Original-URL, X-Rewrite-URL) are removed, since frameworks that
//     honour them run another method or path than the one every check
//     saw; headers named in [Config.StripHeaders] — the identity headers a
//     proxy writes — are removed in every spelling (any case, "_" for "-")
//     and their arrival is reported as a security event.
//
// The request handed on has URL.Path and URL.RawPath consistent with each
// other, and RequestURI rebuilt from them, so a reverse proxy forwards
// exactly the path that was checked. A request that is already canonical
// (nearly every request) is passed on as it is, without allocating.
//
// # What it does not do
//
// It does not fold case ("/ADMIN" and "/admin" stay two paths) or apply
// Unicode normalization: routes are matched byte for byte, and an upstream
// that is case-insensitive or normalizes Unicode needs its routes declared
// to match. It does not look at the query string or the body.
//
// # Where it sits
//
// First after clientip: everything later, audit included, should see the
// canonical request. Refusals emit a [secevent] input_validation_fail
// event; to have it recorded, an audit middleware must be further out, and
// then records the path as it arrived (which is also what an operator
// investigating the attempt wants to see). bulwark serve does both: it
// canonicalizes before the audit layer and sends a refused request through
// an audited chain of its own.
package canonical
