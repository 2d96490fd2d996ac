// Package bind checks that an access token is used by the client it was
// issued to: DPoP proofs (RFC 9449) for tokens whose cnf.jkt names a key,
// the TLS client certificate (RFC 8705) for tokens whose cnf.x5t#S256
// names one, and the binding policy of the issuer or introspector
// ([auth.BindingPolicy]). auth/jwt and auth/introspect share it, so that a
// JWT and an introspected token are held to their binding by one set of
// rules.
//
// Every refusal is an *auth.CredentialError with a fixed reason; those
// about DPoP challenge for the DPoP scheme (RFC 9449 §7.1).
package bind
