// Package probe is an attack suite a team runs against its own API: in
// `go test` against any [http.Handler] ([Handler]), and over HTTP against
// any deployed API, bulwark or not (`bulwark probe -target URL`).
//
// Each [Check] is data: an id (jwt.alg-none, cors.null-origin,
// path.dot-segment-bypass, …), a category, a severity, the OWASP API
// Security Top 10 (2023) risk and the CWE it maps to, what it sends and
// what a secure API answers. [Checks] lists them; `bulwark probe -list`
// prints them. The categories:
//
//   - jwt: alg none in four spellings; HS256 keyed with the issuer's own
//     public key from its JWKS (PEM, PEM without newline, DER, PKCS #1);
//     kid path traversal and SQL; jku and x5u naming a canary server the
//     probe runs on its loopback (any request to it fails the check: the
//     API fetched what a token told it to); jwk and x5c carrying the
//     attacker's key; the given token tampered with; and, with the
//     issuer's signing key (a test identity provider's), crit, expired,
//     nbf and iat in the future, typ JWT, duplicate and case-variant
//     claims; an oversize token.
//   - apikey: the given key truncated, extended, altered, under another
//     prefix, in the query string.
//   - cors: an arbitrary origin, with credentials, null, suffix and prefix
//     tricks on the allowed origin, its http:// twin, a preflight asking
//     for 2,000 headers.
//   - headers, https: nosniff, framing, Cache-Control on authenticated
//     answers, fingerprints, HSTS; plain HTTP, TLS 1.0/1.1, RSA key
//     exchange and CBC suites, through crypto/tls.
//   - authn, path: a protected path without credentials, the challenge;
//     the protected path reached through the public one with 21
//     dot-segment and encoding spellings, in another case, with doubled
//     slashes.
//   - spoof: identity headers (X-Forwarded-User, X_Bulwark_Subject, …),
//     method and URL override headers.
//   - smuggling: duplicate Content-Length, CL.TE, TE.CL, obfuscated
//     Transfer-Encoding, over raw connections.
//   - input: duplicate and case-variant keys, invalid UTF-8, trailing
//     data, depth and width bombs, the wrong Content-Type, an oversize
//     body.
//   - leak: stack traces, database errors, internal addresses and
//     versions in error answers.
//   - ratelimit: whether answers announce a limit, and whether rotating
//     X-Forwarded-For, X-Real-IP, Forwarded, True-Client-IP,
//     CF-Connecting-IP and X-Client-IP buys a fresh allowance (read from
//     the IETF RateLimit header's r=, or RateLimit-Remaining).
//
// A check that needs what the options do not give (a protected path, a
// token, the issuer's key, HTTPS, the network) is not applicable and says
// what it needs; none passes for lack of trying. Every check has a test
// with a deliberately vulnerable stand-in that makes it fail and a secure
// one that makes it pass.
//
// # Safe by default
//
// Requests go to the target only (the issuer's discovery document and
// JWKS are read from the issuer the user names, for the key-confusion
// attack; no environment proxy is used); at most Rate per second (20 over
// the network) and MaxRequests in all (3,000); no unsafe method reaches a
// protected path unless AllowUnsafe (the input checks POST to the JSON
// path the user names); a 429 is honoured by waiting its Retry-After, not
// counted as a refusal. Tokens are minted only for attacks and sent only
// to the target; the credentials the user passes never appear in a
// report.
//
// # Reports
//
// [Report.WriteTable] for terminals (status, severity, id, one line of
// evidence; a summary and a 0–100 score weighted by severity),
// [Report.WriteJSON], [Report.WriteJUnit] for CI test tabs,
// [Report.WriteSARIF] (2.1.0, with security-severity) for code-scanning
// UIs. [Report.Failures] is what `-fail-on` gates on: a check that could
// not run counts, since it proves nothing.
//
// # What it covers beside the usual tools
//
//	                                   jwt_tool -M at  testssl.sh  HTTP Observatory  ffuf + traversal list  bulwark probe
//	JWT forgery (none, HS/RS, kid,
//	  jwk/jku/x5u/x5c, claims)         yes             -           -                 -                      yes, with a loopback canary for jku/x5u
//	JWT claim rules (exp, nbf, typ,
//	  crit, duplicate/case claims)     partly          -           -                 -                      yes, with the issuer's test key
//	API keys (truncated, prefix,
//	  query string)                    -               -           -                 -                      yes
//	CORS misconfiguration              -               -           partly (ACAO *)   -                      yes (null, suffix, prefix, scheme, credentials, preflight DoS)
//	Security headers, fingerprints     -               partly      yes (+ CSP, SRI,  -                      the API subset (nosniff, framing, cache,
//	                                                                cookies: HTML)                           fingerprints, HSTS)
//	TLS versions and ciphers           -               yes (all)   -                 -                      versions, RSA kex, CBC (crypto/tls: no
//	                                                                                                         SSLv3, no certificate audit)
//	Path normalization bypass          -               -           -                 yes (raw 2xx)          yes, judged against RFC 3986 and the
//	                                                                                                         public prefix's own answer
//	Identity / override header spoof   -               -           -                 -                      yes
//	Client-IP spoofing vs rate limits  -               -           -                 -                      yes
//	Request smuggling                  -               -           -                 -                      CL.TE, TE.CL, duplicate CL, obfuscated TE
//	JSON input rules                   -               -           -                 -                      yes
//	Error-body leaks                   -               -           -                 -                      yes
//	In `go test`, no network           -               -           -                 -                      yes (probe.Handler)
//
// testssl.sh remains the tool for a full TLS audit (certificates, every
// protocol and cipher, known TLS vulnerabilities); jwt_tool's scan modes
// go further into token tampering with a live key; Observatory grades
// HTML pages (CSP quality, SRI, cookies) that APIs do not serve.
package probe
