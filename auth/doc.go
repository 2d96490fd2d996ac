// Package auth decides who is calling and whether they may: the
// authenticate-then-authorize middleware that the token and key packages
// plug into.
//
// # Threat model
//
// Broken authentication and broken authorization are the top OWASP API
// risks (API2, API5). This package fails closed: a request passes only when
// one of the configured [Authenticator]s vouches for it, and a credential
// that is present but wrong is refused outright — a later authenticator is
// never asked to second-guess it, so an invalid token cannot fall through to
// a weaker method. Authorization is checked per route from the verified
// [Principal] only, never from request input.
//
// What it does not do: it cannot decide whether this principal may touch
// this object (OWASP API1, object-level authorization); handlers must check
// ownership themselves, with the [Principal] this package puts in the
// context.
//
// # Whose credential it is
//
// Several authenticators can share one header: JWT access tokens, opaque
// tokens and API keys all arrive as Authorization: Bearer. Each credential
// goes to its owner by its shape, whatever the order of the chain: an
// authenticator that implements [Recognizer] (auth/jwt: a compact JWS;
// auth/apikey: a key of its format) is asked alone when it recognizes the
// credential; one that does not (auth/introspect, for which any bearer value
// may be an opaque token) is asked only when nobody recognizes it. So a JWT
// or an API key is never posted to an introspection endpoint, and a
// credential nobody takes is refused rather than ignored. An authenticator
// says "not mine" with [ErrNotMine] ([NotMine]) to pass a credential on.
//
// # The 401/403 contract (RFC 6750 §3)
//
//   - No credential at all: 401 with a bare challenge,
//     WWW-Authenticate: Bearer realm="…" (no error code, as RFC 6750 asks);
//     or, with [Config.CredentialsOptional], the request goes on without a
//     principal, and routes behind [Auth.Require] answer it 401.
//   - A malformed request (two credentials, a token in two places,
//     credentials of two kinds at once): 400, error="invalid_request".
//   - A credential that fails verification (bad signature, expired, wrong
//     audience, unknown or revoked key), or that no authenticator of the
//     chain takes: 401, error="invalid_token".
//   - A valid credential without the scopes or roles the route needs: 403,
//     error="insufficient_scope", scope="…" listing what the route accepts.
//
// Every refusal carries an RFC 9457 problem body with a fixed text. The
// reason (which check failed) goes to a security event
// (secevent.AuthnTokenInvalid, secevent.AuthzFail) that the audit log
// records. Where the client can act on it, the challenge also carries an
// RFC 6750 error_description: a fixed phrase from a closed set kept in
// this package ("token expired", "wrong audience", "typ must be at+jwt",
// "several Authorization headers"), never text from the request, the token
// or an authenticator; a reason outside the set (a bad signature, an
// unknown key, a malformed token, any third-party authenticator's) gets
// none. When [Config.ResourceMetadata] is set, challenges carry
// resource_metadata= (RFC 9728) so clients can discover the authorization
// server; [ProtectedResourceMetadata] serves that document.
//
// # Where it sits
//
// After clientip, audit, headers, cors and a per-IP rate limit (so that
// floods of bad tokens are cut off before signature checks), before the
// per-principal rate limit and validation:
//
//	authn, err := auth.New(auth.Config{Authenticators: []auth.Authenticator{jwtVerifier, apiKeys}})
//	mux.Handle("GET /orders", authn.Handler(authn.Require(readOrders)(listOrders)))
//
// (JWTs and API keys may both come as Authorization: Bearer; see
// ExampleNew_chain.)
//
// Handlers read the caller from [PrincipalFromContext], and its verified
// claims as a type of their own with [ClaimsAs] (member names matched
// exactly, as the strict decoder of auth/jwt and auth/introspect read
// them).
//
// Authenticators live in subpackages: auth/jwt (OAuth 2.0 / OIDC access
// tokens), auth/introspect (opaque tokens, RFC 7662) and auth/apikey.
package auth
