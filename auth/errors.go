package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/bulwark-go/bulwark/problem"
)

// Token size limits shared by the bearer-token authenticators (auth/jwt,
// auth/introspect), so that one token is never judged by two limits.
const (
	// DefaultMaxTokenSize is the longest bearer token accepted by default,
	// in bytes, checked before any decoding or remote call.
	DefaultMaxTokenSize = 8 << 10
	// MaxTokenSizeLimit is the largest limit that can be configured.
	MaxTokenSizeLimit = 64 << 10
)

// Sentinel errors. Authenticators wrap the last three; the middleware maps
// them to statuses and challenges with errors.Is.
var (
	// ErrNoCredentials means the request carries no credential of the kind
	// an authenticator handles. The middleware then asks the next one.
	ErrNoCredentials = errors.New("auth: no credentials")
	// ErrNotMine means the request carries a credential where an
	// authenticator looks, but not of its kind: a bearer value that is not
	// a JWT, for the JWT verifier. The middleware then asks the next
	// authenticator; a credential that no authenticator of the chain takes
	// is refused as an invalid token. It deliberately does not match
	// ErrNoCredentials, so code that treats "no credentials" as anonymous
	// still refuses a credential nobody understood.
	ErrNotMine = errors.New("auth: credential of another kind")
	// ErrInvalidRequest means the credential is presented in a malformed
	// way (RFC 6750 invalid_request): 400.
	ErrInvalidRequest = errors.New("auth: invalid request")
	// ErrInvalidToken means a credential was presented and failed
	// verification (RFC 6750 invalid_token): 401.
	ErrInvalidToken = errors.New("auth: invalid token")
	// ErrInsufficientScope means the principal lacks what the route
	// requires (RFC 6750 insufficient_scope): 403.
	ErrInsufficientScope = errors.New("auth: insufficient scope")
	// ErrUnavailable means the authenticator could not reach what it needs
	// (JWKS, introspection endpoint) and has no cached answer: 503. The
	// request is refused, never let through.
	ErrUnavailable = errors.New("auth: authentication temporarily unavailable")
)

// CredentialError is a refused credential. Reason is a fixed, non-secret
// phrase for the log ("expired", "unknown key id"); it never reaches the
// client as it is: a reason the client can act on is sent as a fixed
// RFC 6750 error_description from the package's closed set ("expired" as
// "token expired"), any other as nothing. Kind is one of the sentinels
// above.
type CredentialError struct {
	Kind   error  // ErrNoCredentials, ErrNotMine, ErrInvalidRequest, ErrInvalidToken or ErrUnavailable
	Reason string // for the security event and the log; see above for the client
	Err    error  // the underlying error, if any; for the log only

	// Scheme is the authentication scheme the refusal challenges for:
	// empty for Bearer, "DPoP" for a refused DPoP proof or a DPoP-bound
	// token (RFC 9449 §7.1).
	Scheme string
	// Code replaces the error code of the challenge (RFC 9449 §12.2:
	// invalid_dpop_proof, use_dpop_nonce). Empty: the code of Kind.
	Code string
	// Nonce, when set, is sent as DPoP-Nonce with the refusal (RFC 9449
	// §8), for the client to put in its next proof.
	Nonce string
}

func (e *CredentialError) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.Error())
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns both the kind and the cause, so errors.Is matches either.
func (e *CredentialError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// Problem describes the refusal with a fixed text.
func (e *CredentialError) Problem() *problem.Details {
	switch {
	case e.Code == CodeUseDPoPNonce:
		return problem.Unauthorized("The DPoP proof must carry the nonce this server provides.")
	case e.Code == CodeInvalidDPoPProof:
		return problem.Unauthorized("The DPoP proof is invalid.")
	case errors.Is(e.Kind, ErrInvalidRequest):
		return problem.BadRequest("The request's credentials are malformed.")
	case errors.Is(e.Kind, ErrUnavailable):
		return problem.ServiceUnavailable("Authentication is temporarily unavailable.")
	case errors.Is(e.Kind, ErrNoCredentials):
		return problem.Unauthorized("Authentication is required.")
	default:
		return problem.Unauthorized("The access token is invalid.")
	}
}

// Error codes of RFC 9449 §12.2, for [CredentialError.Code].
const (
	CodeInvalidDPoPProof = "invalid_dpop_proof"
	CodeUseDPoPNonce     = "use_dpop_nonce"
)

// Invalid returns a [CredentialError] of kind [ErrInvalidToken].
func Invalid(reason string, err error) error {
	return &CredentialError{Kind: ErrInvalidToken, Reason: reason, Err: err}
}

// NotMine returns a [CredentialError] of kind [ErrNotMine]: a credential is
// present, but not of this authenticator's kind. reason says what it is not
// ("not a compact JWS"); it becomes the reason of the refusal when no
// authenticator of the chain takes the credential.
func NotMine(reason string) error {
	return &CredentialError{Kind: ErrNotMine, Reason: reason}
}

// Malformed returns a [CredentialError] of kind [ErrInvalidRequest].
func Malformed(reason string) error {
	return &CredentialError{Kind: ErrInvalidRequest, Reason: reason}
}

// Unavailable returns a [CredentialError] of kind [ErrUnavailable].
func Unavailable(reason string, err error) error {
	return &CredentialError{Kind: ErrUnavailable, Reason: reason, Err: err}
}

// ScopeError is an authorization refusal: the principal is authenticated
// but the route's policy does not allow it.
type ScopeError struct {
	Policy string   // the policy as written, for the log
	Scopes []string // the scopes the route accepts, for the challenge
}

func (e *ScopeError) Error() string {
	return fmt.Sprintf("auth: insufficient scope for %q", e.Policy)
}

// Unwrap returns [ErrInsufficientScope].
func (e *ScopeError) Unwrap() error { return ErrInsufficientScope }

// Problem describes the refusal with a fixed text.
func (e *ScopeError) Problem() *problem.Details {
	return problem.Forbidden("The access token does not grant access to this resource.")
}

// StatusCode returns the HTTP status the middleware answers err with.
func StatusCode(err error) int {
	switch {
	case errors.Is(err, ErrInsufficientScope):
		return http.StatusForbidden
	case errors.Is(err, ErrInvalidRequest):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	default:
		return http.StatusUnauthorized
	}
}

// ConfigError describes one problem with a configuration. Constructors
// return all of them joined with errors.Join.
type ConfigError struct {
	Field  string
	Value  string
	Reason string
}

func (e *ConfigError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("auth: %s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("auth: %s %q: %s", e.Field, e.Value, e.Reason)
}
