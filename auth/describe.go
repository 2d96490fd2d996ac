package auth

// description is the RFC 6750 error_description sent with a refusal whose
// reason is reason ([CredentialError.Reason]), or "" for none. It is a
// fixed phrase from this closed set, never text from the request, the
// token or an authenticator: a reason not listed here (a third-party
// authenticator's, a new one) gets no description. The set covers what a
// legitimate client can act on (a token expired, meant for another API,
// of the wrong type); a forger learns nothing from it: a bad signature, an
// unknown key id, an unknown or mistyped API key, and a token of the wrong
// shape (which parser stage refused it would guide a parser-differential
// probe) get no description.
func description(reason string) string {
	switch reason {
	// auth/jwt and auth/introspect: the token's lifetime.
	case "expired":
		return "token expired"
	case "not yet valid":
		return "token not yet valid"
	case "issued in the future":
		return "token issued in the future"
	case "missing exp":
		return "token has no exp"
	case "lifetime unknown":
		return "token has no iat or exp"
	case "lifetime too long":
		return "token lifetime too long"
	case "invalid exp", "invalid nbf", "invalid iat":
		return "invalid exp, nbf or iat"
	// Whom and what the token is for.
	case "wrong audience":
		return "wrong audience"
	case "missing or invalid aud":
		return "missing or invalid aud"
	case "unknown issuer", "wrong issuer", "missing iss":
		return "unknown issuer"
	case "missing or invalid sub", "no subject":
		return "missing or invalid sub"
	case "required claim missing":
		return "required claim missing"
	case "required claim mismatch":
		return "required claim mismatch"
	case "invalid scope", "invalid roles":
		return "invalid scope or roles"
	case "not an access token":
		return "not an access token"
	case "typ is not at+jwt":
		return "typ must be at+jwt"
	case "algorithm not allowed", "algorithm not allowed for issuer":
		return "algorithm not allowed"
	// The token's state.
	case "revoked":
		return "token revoked"
	case "inactive token", "inactive token (cached)":
		return "token not active"
	// How the credential was presented (invalid_request).
	case "several Authorization headers":
		return "several Authorization headers"
	case "empty bearer token":
		return "empty bearer token"
	case "several token cookies", "several access_token parameters", "token presented in several places":
		return "token presented in several places"
	case "key in several places":
		return "API key presented in several places"
	case "key in query string, which is not allowed":
		return "API key in the query string is not allowed"
	case "credentials of several kinds":
		return "credentials of several kinds"
	// auth/apikey: what the key's holder can act on.
	case "expired key":
		return "key expired"
	case "key replaced by rotation":
		return "key replaced by rotation"
	case "revoked key":
		return "key revoked"
	}
	return ""
}

// descriptionParam is `, error_description="…"` for err's reason, or "".
func descriptionParam(err error) string {
	var ce *CredentialError
	d := description(reasonOf(err, ce))
	if d == "" {
		return ""
	}
	return `, error_description="` + d + `"`
}
