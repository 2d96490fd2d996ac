// Package claims is what auth/jwt and auth/introspect share about verified
// claims, so that a JWT and an introspection answer mean the same thing by
// the same rules: one strict JSON decoder ([Decode]: duplicate and
// case-variant member names refused), one reading of the registered claims
// ([NumericDate], [StringList]) and one way into a caller's own type
// ([Into]: member names matched exactly, never by case folding).
//
// It is internal: the public faces are auth.Principal.Claims,
// auth.ClaimsAs and jwt.ClaimsAs.
package claims
