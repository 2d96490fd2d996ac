// Package cors lets chosen web origins read an API's responses
// (Cross-Origin Resource Sharing), with the policy checked before anything
// is served, and optionally refuses cross-site state-changing requests
// (CSRF) with the same allow-list.
//
// # What it protects against
//
// A browser keeps a page on one origin from reading responses from another
// unless the server says otherwise with Access-Control-* headers. Getting
// those headers wrong hands the signed-in user's data to other sites: the
// commonest mistakes are reflecting any Origin, trusting "null", suffix or
// prefix matches ("https://evil-example.com" for "example.com"), wildcards
// over a public suffix, and plain-http origins trusted with credentials.
// [New] refuses all of these with a typed [*ConfigError]: an empty origin
// list is an error (github.com/rs/cors would allow everything), a pattern
// such as "h*" is an error (rs/cors would reflect almost any origin,
// rs/cors#197), and allowing every
// origin exists only as [Config.DangerouslyAllowAllOrigins], which is refused
// together with credentials.
//
// Origins are compared byte for byte, as the Fetch standard does; browsers
// send them lower case, so "https://EXAMPLE.com", "https://example.com." and
// "https://example.com:444" simply do not match "https://example.com".
// Preflights whose Access-Control-Request-Headers is longer than 1 KiB,
// repeated, or lists more names than are allowed are refused before they are
// parsed, so a preflight flood costs a bounded, small amount per request.
//
// The checked policy is served by this package itself, with the response
// headers rs/cors writes for the same policy (a differential test holds
// the two to the same bytes, and the browser tests in e2e/ to what
// Chromium accepts): the request is parsed once, the header values are
// built in New, and an allowed request or preflight costs no allocation.
//
// A refused origin continues without CORS headers (the browser then keeps the
// response from the page) and is reported as a [secevent.MaliciousCORS]
// event. Every response carries Vary: Origin, refused or not.
//
// # What it does not protect against: CORS is not CSRF protection
//
// CORS governs whether a page may read a response, not whether the request
// is sent. A cross-site HTML form post, or a fetch with a CORS-safelisted
// content type (text/plain, application/x-www-form-urlencoded,
// multipart/form-data), is sent without a preflight, with the user's cookies;
// the server acts on it before any CORS decision could matter. An API that
// accepts cookies or other ambient credentials needs CSRF protection as
// well. Set [Config.CrossOriginProtection]: it runs Go's
// [http.CrossOriginProtection] (Sec-Fetch-Site, then Origin against Host) and
// trusts exactly the origins of the allow-list, so a POST, PUT, PATCH or
// DELETE from any other site is refused with 403 whether or not it was
// preflighted. Bearer tokens sent by script in an Authorization header are not
// ambient and are not exposed to CSRF; cookies are.
//
// # Where it sits in the stack
//
// Put cors outside (before) authentication:
//
//	c, err := cors.New(cors.Config{Origins: []string{"https://app.example.com"}})
//	...
//	a, err := auth.New(auth.Config{...})
//	...
//	mux.Handle("/", c.Handler(a.Handler(app)))
//
// A preflight (OPTIONS with Access-Control-Request-Method) never carries
// credentials: the browser sends no cookies and no Authorization header with
// it. If authentication ran first it would refuse every preflight with 401 and
// the browser would then never send the real request. [CORS.Handler] answers
// every preflight itself, without calling the next handler, so nothing behind
// it ever sees one. Keep clientip and audit outside cors, so that its security
// events carry the client address and are recorded.
//
// [CORS.Check] makes the same decision without writing a response, and
// [CORS.Allows] matches a single origin; both are usable without HTTP.
package cors
