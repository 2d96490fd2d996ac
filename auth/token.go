package auth

import (
	"net/http"
	"strings"
)

// TokenExtractor finds a bearer token in a request, for the authenticators
// that take one (auth/jwt, auth/introspect) when the token is not where
// RFC 6750 puts it: a custom header, a cookie, a WebSocket subprotocol. It
// returns the token; an error wrapping [ErrNoCredentials] when the request
// carries none; or a [*CredentialError] ([Malformed]) when it carries one
// in a malformed way, which ends the request. It must be cheap and free of
// side effects: a chain may call it more than once per request.
type TokenExtractor func(r *http.Request) (string, error)

// BearerToken is the [TokenExtractor] of RFC 6750 §2.1, the default: the
// Authorization header with the Bearer scheme (the scheme name in any
// case). Another scheme is no credential; several Authorization headers,
// or Bearer without a token, are a malformed request.
func BearerToken(r *http.Request) (string, error) {
	h := r.Header["Authorization"]
	switch {
	case len(h) == 0:
		return "", ErrNoCredentials
	case len(h) > 1:
		return "", errSeveralAuthorization
	}
	scheme, rest, _ := strings.Cut(h[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", ErrNoCredentials // another scheme: another authenticator's
	}
	tok := strings.TrimLeft(rest, " ")
	if tok == "" {
		return "", errEmptyBearer
	}
	return tok, nil
}

// Built once: extracting allocates nothing.
var (
	errSeveralAuthorization = Malformed("several Authorization headers")
	errEmptyBearer          = Malformed("empty bearer token")
)

var _ TokenExtractor = BearerToken
