package bind

import "errors"

// Confirmation is what a token's cnf claim (RFC 7800), or an introspection
// answer's cnf member, binds it to.
type Confirmation struct {
	// JKT is the base64url SHA-256 thumbprint of the DPoP key (RFC 9449
	// §6), when the token is DPoP-bound.
	JKT string
	// X5T is the base64url SHA-256 of the client certificate (RFC 8705
	// §3.1, "x5t#S256"), when the token is certificate-bound.
	X5T string
	// Other is true when cnf names only confirmation methods this package
	// does not know (jwk, jku, kid, …): such a token cannot be checked,
	// and is refused rather than taken for a bearer token.
	Other bool
}

// Bound reports whether c binds the token in any way.
func (c Confirmation) Bound() bool { return c.JKT != "" || c.X5T != "" || c.Other }

// ErrConfirmation means a cnf member is malformed.
var ErrConfirmation = errors.New("bind: invalid cnf")

// ParseConfirmation reads the cnf member of verified claims. Absent, it
// is the zero Confirmation; present, it must be an object whose jkt and
// x5t#S256, when there, are SHA-256 values in unpadded base64url.
func ParseConfirmation(claims map[string]any) (Confirmation, error) {
	v, present := claims["cnf"]
	if !present {
		return Confirmation{}, nil
	}
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return Confirmation{}, ErrConfirmation
	}
	var c Confirmation
	for name, val := range m {
		switch name {
		case "jkt":
			s, ok := val.(string)
			if !ok || !isSHA256B64(s) {
				return Confirmation{}, ErrConfirmation
			}
			c.JKT = s
		case "x5t#S256":
			s, ok := val.(string)
			if !ok || !isSHA256B64(s) {
				return Confirmation{}, ErrConfirmation
			}
			c.X5T = s
		default:
			c.Other = true
		}
	}
	if c.JKT != "" || c.X5T != "" {
		c.Other = false // a method we check is there; the others add nothing we could
	}
	return c, nil
}

// isSHA256B64 reports whether s is 32 bytes in canonical unpadded
// base64url: 43 characters, the last of which carries 2 zero bits.
func isSHA256B64(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isB64URL(s[i]) {
			return false
		}
	}
	// 256 bits in 43 characters: the last encodes 4 bits and 2 zero bits.
	return b64val(s[42])&0x03 == 0
}

func isB64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

func b64val(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c - 'A'
	case c >= 'a' && c <= 'z':
		return c - 'a' + 26
	case c >= '0' && c <= '9':
		return c - '0' + 52
	case c == '-':
		return 62
	}
	return 63
}
