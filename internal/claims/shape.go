package claims

// IsCompactJOSE reports whether s has the shape of a JOSE compact
// serialization: a JWS (three segments; the last, the signature, may be
// empty) or a JWE (five), separated by '.', each of unpadded base64url
// characters, the first (the protected header) not empty. It decodes
// nothing and allocates nothing: it tells whose credential a bearer value
// is, not whether it is valid. A random opaque token has no dots and so is
// never taken for one.
func IsCompactJOSE(s string) bool {
	dots, seg := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if dots == 0 && seg == 0 {
				return false
			}
			dots++
			seg = 0
		case isB64URL(c):
			seg++
		default:
			return false
		}
	}
	return (dots == 2 || dots == 4) && len(s) > 0
}

func isB64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}
