package secevent

import "context"

// Identity is the non-secret identity of an authenticated caller, as the
// auth packages report it for the log: never a token, key or password.
type Identity struct {
	Subject string // the principal's subject ("sub", API key id)
	Issuer  string // who vouched for it (token issuer, "apikey"); optional
	Method  string // how it authenticated: "jwt", "introspection", "api_key", "mtls"
}

// Identifier is implemented by recorders that attach the caller's identity
// to the request's record. The audit package's recorder implements it.
type Identifier interface {
	Identify(ctx context.Context, id Identity)
}

// Identify reports the authenticated caller to the recorder in ctx, if it
// implements [Identifier]. Authentication middleware calls it after a
// successful authentication, so that the access log names the principal
// without the log package importing the auth package. Without such a
// recorder it does nothing beyond a context lookup.
func Identify(ctx context.Context, id Identity) {
	if r, ok := FromContext(ctx); ok {
		if i, ok := r.(Identifier); ok {
			i.Identify(ctx, id)
		}
	}
}
