// Package jwt verifies OAuth 2.0 JWT access tokens (RFC 9068) and OpenID
// Connect-issued bearer tokens, strictly and once, and plugs into the auth
// middleware as an [auth.Authenticator].
//
//	v, err := jwt.New(jwt.Config{Issuers: []jwt.Issuer{{
//		Issuer:     "https://idp.example",
//		Audiences:  []string{"https://orders.example"},
//		Algorithms: []string{"RS256"},
//		Discovery:  true,
//	}}})
//	defer v.Close()
//	authn, err := auth.New(auth.Config{Authenticators: []auth.Authenticator{v}})
//	mux.Handle("/", authn.Handler(app))
//
// # Threat model
//
// The attacker can send any bytes as a token, knows the issuer's public
// keys, may hold valid tokens for other APIs or other issuers (or ID tokens
// from the same issuer), and can make a victim API fetch URLs if it is
// careless. The verifier defends as follows.
//
//   - Algorithm confusion. The algorithm is taken from the key record (a
//     configured [Key], or a JWK's "alg"), never from the token: the token's
//     "alg" must equal it and be in the issuer's required allow-list.
//     "none" cannot be configured; an HMAC algorithm is never verified with
//     an RSA, EC or Ed25519 key, and HMAC secrets come only from
//     configuration, never from a JWK Set.
//
//   - Key injection. "jku", "x5u", "jwk" and "x5c" are never used to find
//     keys; keys come from the configured source only, chosen by "kid".
//     An unknown "crit" is refused (RFC 7515 §4.1.11), and so is "b64".
//
//   - Parser differentials. The token's size (8 KiB by default) and shape
//     (three unpadded base64url segments, canonical encoding) are checked
//     before any decoding. Header and claims are decoded once, by a strict
//     decoder that refuses duplicate member names, names equal under
//     Unicode case folding ("iss" and "ISS"), invalid UTF-8 and lone
//     surrogates; the very map that was checked is what handlers get in
//     [auth.Principal.Claims].
//
//   - Token substitution. "iss" must name a configured issuer exactly and
//     is then judged only with that issuer's keys, audiences and rules;
//     "aud" must name one of this API's audiences; "exp" is required by
//     default; "nbf" and "iat" are checked with a small leeway (60 s); an
//     optional maximum lifetime and required claims narrow it further.
//
//   - ID tokens as access tokens. The RFC 9068 profile is on by default:
//     the JOSE "typ" must be "at+jwt" (or "application/at+jwt"). It can be
//     switched off per issuer ([Issuer.DangerouslySkipTypeCheck]) for
//     providers that do not send it.
//
//   - Key source redirection (SSRF). Keys are fetched only from the hosts
//     the configuration names: the discovery document's jwks_uri must be
//     https when the issuer is, and on the issuer's host unless
//     [Issuer.AllowedJWKSHosts] lists its host; redirects are followed
//     only within those hosts and never from https to http, and the rule
//     holds for a caller's own [Config.HTTPClient] too.
//
//   - Denial of service through the key source. A token naming an unknown
//     kid refreshes the JWK Set at most once per
//     [Config.UnknownKeyRefresh] (30 s) or, when the set is older than its
//     own Cache-Control max-age, once per max-age (so a flood of random
//     kids neither hammers the provider nor delays a genuinely new key
//     past that max-age), one fetch at a time whatever the number of
//     requests waiting, and a kid still unknown afterwards is refused from
//     a negative cache. Fetches have a timeout and a body
//     cap. A set is replaced whole, so a key the provider removed stops
//     working; a failed fetch keeps the last good set.
//
//   - Repeated verification cost. A verified token is cached by the SHA-256
//     of its bytes, bounded, for no longer than its "exp", and dropped when
//     the key set it was verified with is replaced.
//
//   - Stolen tokens. A token whose cnf claim binds it to a client is
//     accepted only from that client (see "Sender-constrained tokens").
//
// What it does not do: it does not decrypt JWE tokens (they are refused),
// and cannot know a token was revoked unless [Config.Revoked] says so (a
// deny-list by jti, session or subject, fed by back-channel logout: see
// auth/denylist). It does not check object-level authorization (see the
// auth package).
//
// # Sender-constrained tokens
//
// A bearer token works for whoever holds it. A DPoP-bound token (RFC 9449;
// cnf.jkt, the thumbprint of the client's key) comes as Authorization:
// DPoP with a DPoP proof, a JWT the client signs per request with that
// key; a certificate-bound token (RFC 8705; cnf.x5t#S256) comes over a
// TLS connection with the client certificate it names (or, behind a
// TLS-terminating proxy listed in [auth.MTLSOptions.TrustedProxies], with
// that proxy's RFC 9440 Client-Cert header). Such a token is always held
// to its binding, whatever [Issuer.Binding] says; Binding narrows what an
// issuer's tokens must be (dpop, mtls, any). The principal's Binding says
// what was proven.
//
// A proof is checked as RFC 9449 §4.3 says, with these choices: typ
// dpop+jwt; alg from [auth.DPoPOptions.Algorithms] (asymmetric only, so
// "none" and HMAC never pass) and fitting the key; the key from the
// header's jwk only, which must be a public key (a jwk with private
// members is refused), on its curve, RSA of 2048 to 8192 bits; htm the
// request's method; htu the request's URL, scheme and host compared
// case-insensitively without the default port, paths compared in the
// canonical form the gateway routes by (so /a/../b is /b, and %2F is not
// /), query and fragment ignored; iat within the proof window (60 s) of
// now; ath the hash of the very token presented; the key's thumbprint
// cnf.jkt; the server's nonce when [auth.DPoPOptions.NonceSecret] is set;
// and the signature last among the checks but one: the jti is recorded in
// the replay store only once everything else passed, keyed by the key's
// thumbprint too, until the proof's window ends. A DPoP-bound token
// presented as Bearer is refused (no downgrade), and so is the DPoP
// scheme with a token not bound to a key. Proofs are bounded at 4 KiB
// before any decoding. Refusals challenge with WWW-Authenticate: DPoP and
// RFC 9449's error codes (invalid_dpop_proof, use_dpop_nonce with a
// DPoP-Nonce).
//
// The default replay store is in memory and per instance: a fleet behind
// a load balancer shares one ([auth.DPoPOptions.Replay], auth/redisreplay),
// or a proof replayed to another instance is accepted there once.
//
// # Token profile
//
// Accepted: a compact JWS with "alg" from the allow-list, optional "kid",
// "typ" "at+jwt" (unless switched off); claims "iss", "aud" (string or
// array), "sub", "exp" (unless [Issuer.DangerouslyAllowMissingExp]),
// optional "nbf" and "iat", optional "cnf" (jkt or x5t#S256). The
// principal's Scopes are the space-separated "scope" claim (RFC 9068 §2.2.3) followed by "scp" (an array, or a
// space-separated string as some providers send); Roles are the "roles"
// claim (RFC 9068 §2.2.3.1), an array or a single string. "jti", "sid" and
// "iat" are offered to the revocation hook. [auth.Principal.Claims] holds every
// claim as encoding/json would decode it into an any (numbers are float64,
// as auth/introspect has them too); each request gets its own copy of the
// cached principal, so a handler that writes to it cannot change what later
// requests with the same token see. [ClaimsAs] decodes the claims into a
// type of the caller's, member names matched exactly (a "Tenant" claim
// never fills a field tagged "tenant").
//
// # Where the token comes from
//
// The Authorization header with the Bearer scheme (RFC 6750 §2.1) only, by
// default. [Config.Cookie] adds a cookie; [Config.DangerouslyAllowQueryToken]
// the access_token query parameter. A token in two places, or two
// Authorization headers, is a malformed request. A bearer value that is not
// shaped like a JOSE compact serialization (a JWS, or a JWE, which is
// refused) is not the verifier's: it answers auth.ErrNotMine, and the auth
// middleware gives the value to another authenticator (an API key, an
// opaque token for introspection) or refuses it if none takes it.
//
// # The 401/403 contract
//
// The verifier only judges; the auth middleware answers, exactly as the
// auth package documents: no token, 401 with a bare Bearer challenge; a
// malformed presentation, 400 invalid_request; a token refused for any
// reason, 401 error="invalid_token"; keys not to be had (provider down and
// no key ever fetched) or a failing revocation hook, 503 without a
// challenge — fail closed; a valid token without the route's scopes, 403
// insufficient_scope. The reason a token was refused ("expired", "unknown
// key id", "typ is not at+jwt", …) is a fixed phrase carried in the
// [auth.CredentialError] and emitted as an authn_token_invalid security
// event. What the client may act on reaches it as a fixed RFC 6750
// error_description from the auth package's closed set ("token expired",
// "wrong audience", "typ must be at+jwt"); a bad signature, an unknown key
// id or a malformed token get none.
//
// # Dependencies
//
// Signatures are verified by github.com/lestrrat-go/jwx/v3 (its jwsbb
// building blocks, over the standard library's crypto). v3, not v2: v2 is
// marked deprecated and unmaintained by its author, and advisory
// GHSA-4cf7-xm37-g63h is fixed only in v3.3.0 and later. Key sets are
// parsed by jwx's jwk package; refreshes are rate-limited with
// golang.org/x/time/rate.
package jwt
