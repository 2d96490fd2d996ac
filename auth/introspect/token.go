package introspect

import (
	"net/http"
	"strings"

	"github.com/bulwark-go/bulwark/auth"
)

// bearerToken extracts the token from the Authorization header (RFC 6750
// §2.1). The scheme name is case-insensitive; the token must not be empty.
// Its size and syntax are the caller's to check.
func bearerToken(r *http.Request) (string, error) {
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
