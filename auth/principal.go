package auth

import (
	"context"
	"slices"
	"time"
)

// Principal is an authenticated caller. Authenticators build it from
// verified data only. It must be treated as read-only once placed in a
// context: the same value may be shared by concurrent requests (the token
// cache returns one Principal per token).
type Principal struct {
	// Subject identifies the caller within its issuer ("sub"; "apikey:<id>" for an API key).
	Subject string
	// Issuer is who vouched for the subject: a token issuer URL, or a
	// fixed name such as "apikey".
	Issuer string
	// Method says how the caller authenticated: "jwt", "introspection",
	// "api_key", "mtls".
	Method string
	// Scopes granted to the caller (OAuth 2.0 scope values).
	Scopes []string
	// Roles of the caller (RFC 9068 §7.2 "roles", or the key's roles).
	Roles []string
	// Claims are the verified claims, as decoded once by the authenticator.
	// Nil for methods without claims.
	Claims map[string]any
	// ExpiresAt is when the credential stops being valid; zero if never.
	ExpiresAt time.Time
}

// HasScope reports whether p was granted scope s.
func (p *Principal) HasScope(s string) bool { return p != nil && slices.Contains(p.Scopes, s) }

// HasRole reports whether p has role r.
func (p *Principal) HasRole(r string) bool { return p != nil && slices.Contains(p.Roles, r) }

type principalKey struct{}

// NewContext returns a copy of ctx carrying p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFromContext returns the authenticated principal, if the auth
// middleware ran and accepted the request.
func PrincipalFromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

// Subject returns the subject of the authenticated principal in ctx, and
// whether there is one. It has the shape other packages (ratelimit keys,
// for instance) accept as a plain function, so they need not import auth.
func Subject(ctx context.Context) (string, bool) {
	p, ok := PrincipalFromContext(ctx)
	if !ok {
		return "", false
	}
	return p.Subject, true
}
