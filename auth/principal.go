package auth

import (
	"context"
	"maps"
	"slices"
	"time"
)

// Principal is an authenticated caller. Authenticators build it from
// verified data only. The authenticators of this module hand each request
// its own copy ([Principal.Clone]) of what they cached, so a handler that
// changes it changes it for itself alone; still, treat it as read-only:
// what it says was verified, what a handler writes was not.
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
	// Binding says how the credential was tied to the client that
	// presented it on this request: [BoundDPoP], [BoundMTLS] (both,
	// space-separated, for a token bound both ways), or empty for a
	// bearer credential. [Auth.RequireBinding] judges routes by it.
	Binding string
}

// Clone returns a deep copy of p: its own Scopes, Roles and Claims, down
// to every nested map and slice of the claims (the shapes JSON decoding
// produces, and map[string]string and []string; past 64 levels, which no
// decoded claim reaches, values are shared), so nothing written to the copy
// reaches p. Other values in Claims are shared. Clone of nil is nil.
func (p *Principal) Clone() *Principal {
	if p == nil {
		return nil
	}
	c := *p
	c.Scopes = slices.Clone(p.Scopes)
	c.Roles = slices.Clone(p.Roles)
	if p.Claims != nil {
		c.Claims = cloneMap(p.Claims, 0)
	}
	return &c
}

// maxCloneDepth bounds Clone's descent, so that a claims map that holds
// itself (which no decoder makes) cannot recurse without end.
const maxCloneDepth = 64

// cloneMap copies m with maps.Clone (a copy of the map's memory, no
// rehashing), then replaces only the nested containers.
func cloneMap(m map[string]any, depth int) map[string]any {
	out := maps.Clone(m)
	for k, v := range out {
		switch v.(type) {
		case map[string]any, []any, []string, map[string]string:
			out[k] = cloneValue(v, depth+1)
		}
	}
	return out
}

func cloneValue(v any, depth int) any {
	if depth > maxCloneDepth {
		return v
	}
	switch v := v.(type) {
	case map[string]any:
		return cloneMap(v, depth)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = cloneValue(e, depth+1)
		}
		return out
	case []string:
		return slices.Clone(v)
	case map[string]string:
		return maps.Clone(v)
	}
	return v
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
