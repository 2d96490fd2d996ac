// Package introspect authenticates opaque OAuth 2.0 access tokens by asking
// the authorization server about them (RFC 7662 token introspection).
//
// An [Introspector] is an auth.Authenticator: it takes the access token from
// the Authorization header (scheme Bearer or DPoP), posts it to the introspection endpoint with the
// resource server's own client credentials, and builds an auth.Principal
// from an "active": true answer. Answers are cached by the SHA-256 of the
// token — never the token itself — for at most [Config.CacheTTL] and never
// past the token's "exp"; "active": false answers are cached briefly
// ([Config.NegativeTTL]) so that a flood of one bad token costs one request;
// concurrent requests for the same token share one call (single-flight).
//
// # Threat model
//
//   - Forged or revoked tokens: only the authorization server's answer
//     counts; a revoked token stops working within CacheTTL (default 60 s).
//     Choose a shorter TTL when revocation must be faster; 0 disables the
//     positive cache.
//   - Token substitution across resources: set [Config.Audience] so that a
//     token issued for another API is refused even though it is active.
//   - Endpoint outages: the request is refused with 503, never let through;
//     cached answers keep serving while they are fresh.
//   - Endpoint abuse: tokens are size-capped (8 KiB by default, the JWT
//     verifier's limit too) and shape-checked before any call, the response
//     body is capped, and calls time out.
//   - Parser differentials: the answer is decoded once, by the same strict
//     decoder as auth/jwt's claims. An answer with duplicate members, or
//     members equal under case folding ({"active":false,"ACTIVE":true}),
//     invalid UTF-8 or trailing data is refused (503, not cached); the map
//     that was checked is the one the principal is built from and handlers
//     get as auth.Principal.Claims, with numbers as float64, as auth/jwt
//     types them.
//   - Leaks: the token is sent only in the POST body to the configured
//     endpoint (https, or http on loopback), never logged, and never used as
//     a cache key in the clear.
//   - Stolen tokens: an answer whose cnf binds the token (jkt, RFC 9449
//     §6.2; x5t#S256, RFC 8705 §3.2) is accepted only with a DPoP proof
//     signed by that key (Authorization: DPoP) or over a connection with
//     that client certificate, by the same checks as auth/jwt's;
//     [Config.Binding] refuses bearer tokens altogether. The cnf is
//     cached with the answer, so every request proves possession anew.
//
// Tokens shaped like a JWT can be handed to a JWT verifier instead
// ([Config.JWT]), so one API can accept both kinds without an
// introspection round trip for self-contained tokens.
package introspect
