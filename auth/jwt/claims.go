package jwt

import (
	"context"
	"fmt"

	"github.com/bulwark-go/bulwark/auth"
)

// Method is [auth.Principal.Method] for principals this package verified.
const Method = "jwt"

// ClaimsAs decodes the verified claims of the JWT that authenticated the
// request in ctx into a new T, as [auth.ClaimsAs] does (member names
// matched exactly, never by case folding), and returns [auth.ErrNoClaims]
// when the request was not authenticated by a JWT (anonymous, or an API
// key).
func ClaimsAs[T any](ctx context.Context) (T, error) {
	var v T
	p, ok := auth.PrincipalFromContext(ctx)
	if !ok || p.Method != Method {
		return v, fmt.Errorf("%w: not authenticated by a JWT", auth.ErrNoClaims)
	}
	err := p.DecodeClaims(&v)
	return v, err
}
