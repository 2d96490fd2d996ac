package auth

import (
	"net/http"
	"strings"
	"time"
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

// Authentication schemes of the Authorization header that carry an access
// token, as [AuthorizationToken] names them.
const (
	SchemeBearer = "Bearer"
	SchemeDPoP   = "DPoP" // RFC 9449 §7.1: a DPoP-bound token, with a proof in the DPoP header
)

// AuthorizationToken reads an access token from the Authorization header
// with the Bearer or the DPoP scheme (the scheme name in any case), and
// returns the scheme as [SchemeBearer] or [SchemeDPoP]. Another scheme is
// no credential; several Authorization headers, or a scheme without a
// token, are a malformed request.
func AuthorizationToken(r *http.Request) (scheme, token string, err error) {
	h := r.Header["Authorization"]
	switch {
	case len(h) == 0:
		return "", "", ErrNoCredentials
	case len(h) > 1:
		return "", "", errSeveralAuthorization
	}
	name, rest, _ := strings.Cut(h[0], " ")
	switch {
	case strings.EqualFold(name, SchemeBearer):
		scheme = SchemeBearer
	case strings.EqualFold(name, SchemeDPoP):
		scheme = SchemeDPoP
	default:
		return "", "", ErrNoCredentials
	}
	tok := strings.TrimLeft(rest, " ")
	if tok == "" {
		return "", "", errEmptyBearer
	}
	return scheme, tok, nil
}

// TokenID identifies an accepted access token for a revocation check (a
// deny-list by jti, session or subject; see auth/denylist), as auth/jwt's
// Config.Revoked hook is given it.
type TokenID struct {
	Issuer   string
	Subject  string
	JTI      string    // "jti", if present
	SID      string    // "sid" (session id), if present
	IssuedAt time.Time // "iat", if present; zero otherwise
}

// Built once: extracting allocates nothing.
var (
	errSeveralAuthorization = Malformed("several Authorization headers")
	errEmptyBearer          = Malformed("empty bearer token")
)

var _ TokenExtractor = BearerToken
