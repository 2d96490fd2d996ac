package introspect

import (
	"net/http"
	"strings"

	"github.com/bulwark-go/bulwark/auth"
)

// bearerToken extracts the token from the Authorization header (RFC 6750
// §2.1). The scheme name is case-insensitive; the token must be a non-empty
// token68 no longer than limit.
func bearerToken(r *http.Request, limit int) (string, error) {
	vals := r.Header.Values("Authorization")
	if len(vals) == 0 {
		return "", auth.ErrNoCredentials
	}
	if len(vals) > 1 {
		return "", auth.Malformed("several Authorization headers")
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", auth.ErrNoCredentials // another scheme: not ours
	}
	tok = strings.TrimLeft(tok, " ")
	if tok == "" {
		return "", auth.Malformed("empty bearer token")
	}
	if len(tok) > limit {
		return "", auth.Invalid("token too long", nil)
	}
	if !isToken68(tok) {
		return "", auth.Invalid("token is not token68", nil)
	}
	return tok, nil
}

// isToken68 reports whether s matches RFC 9110 token68:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// looksLikeJWT reports whether tok has the JWS compact shape: three
// non-empty base64url segments.
func looksLikeJWT(tok string) bool {
	parts := 0
	seg := 0
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case c == '.':
			if seg == 0 {
				return false
			}
			parts++
			seg = 0
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
			seg++
		default:
			return false
		}
	}
	return parts == 2 && seg > 0
}
