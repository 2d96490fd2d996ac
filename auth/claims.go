package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/bulwark-go/bulwark/internal/claims"
)

// Errors of [ClaimsAs] and [Principal.DecodeClaims].
var (
	// ErrNoClaims means there are no verified claims to decode: no
	// principal in the context, or a principal without claims.
	ErrNoClaims = errors.New("auth: no verified claims")
	// ErrClaimsType means the claims do not decode into the type asked
	// for: a type mismatch, or a member whose name matches a field only by
	// case ("Tenant" for `json:"tenant"`), refused because every check
	// made of the claims went by exact name.
	ErrClaimsType = errors.New("auth: claims do not fit the type")
)

// DecodeClaims decodes p's claims into dst, a non-nil pointer to a type of
// the caller's (a struct with json tags, typically), as encoding/json would
// decode the claims' JSON, except that member names must match field names
// exactly: a member that matches a field only by case is refused rather
// than taken. Numbers decode into any numeric field they fit.
func (p *Principal) DecodeClaims(dst any) error {
	if p == nil || p.Claims == nil {
		return ErrNoClaims
	}
	if err := claims.Into(p.Claims, dst); err != nil {
		return fmt.Errorf("%w: %w", ErrClaimsType, err)
	}
	return nil
}

// ClaimsAs decodes the claims of the authenticated principal in ctx into a
// new T, by the rules of [Principal.DecodeClaims]: what go-oidc's
// IDToken.Claims and go-jwt-middleware's custom claims offer, with the
// exact-name rule the strict decoder keeps everywhere. It returns
// [ErrNoClaims] without a principal.
//
//	type orderClaims struct {
//		Tenant string   `json:"tenant"`
//		Groups []string `json:"groups"`
//	}
//	c, err := auth.ClaimsAs[orderClaims](r.Context())
func ClaimsAs[T any](ctx context.Context) (T, error) {
	var v T
	p, ok := PrincipalFromContext(ctx)
	if !ok {
		return v, ErrNoClaims
	}
	err := p.DecodeClaims(&v)
	return v, err
}
