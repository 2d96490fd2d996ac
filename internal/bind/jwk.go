package bind

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"math/big"
)

// Errors of the embedded key, each a fixed reason for the log.
var (
	errJWKShape   = errors.New("DPoP proof jwk is not a valid public key")
	errJWKPrivate = errors.New("DPoP proof jwk holds private key material")
	errJWKAlg     = errors.New("DPoP proof alg does not fit its jwk")
)

// privateMembers are the JWK members of private and symmetric keys (RFC
// 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). A proof's jwk must be public:
// a client that sends its private key has leaked it, and the proof proves
// nothing.
var privateMembers = [...]string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// Limits on RSA proof keys.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// pubKey is a proof's key: the crypto key, and its RFC 7638 thumbprint.
type pubKey struct {
	key any
	jkt string
}

// parseJWK reads a proof's public key from its jwk header member, checks
// that it fits alg, and computes its thumbprint from the members exactly
// as sent (each checked to be canonical, so one key has one thumbprint).
func parseJWK(v any, alg string) (pubKey, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return pubKey{}, errJWKShape
	}
	for _, name := range privateMembers {
		if _, present := m[name]; present {
			return pubKey{}, errJWKPrivate
		}
	}
	kty, _ := m["kty"].(string)
	switch kty {
	case "EC":
		crv, _ := m["crv"].(string)
		var curve elliptic.Curve
		var want string
		switch crv {
		case "P-256":
			curve, want = elliptic.P256(), "ES256"
		case "P-384":
			curve, want = elliptic.P384(), "ES384"
		case "P-521":
			curve, want = elliptic.P521(), "ES512"
		default:
			return pubKey{}, errJWKShape
		}
		if alg != want {
			return pubKey{}, errJWKAlg
		}
		size := (curve.Params().BitSize + 7) / 8
		xs, x, ok1 := coord(m["x"], size)
		ys, y, ok2 := coord(m["y"], size)
		if !ok1 || !ok2 {
			return pubKey{}, errJWKShape
		}
		point := make([]byte, 0, 1+2*size)
		point = append(append(append(point, 4), x...), y...)
		k, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return pubKey{}, errJWKShape // not on the curve
		}
		return pubKey{key: k, jkt: thumb(`{"crv":"` + crv + `","kty":"EC","x":"` + xs + `","y":"` + ys + `"}`)}, nil
	case "OKP":
		if crv, _ := m["crv"].(string); crv != "Ed25519" {
			return pubKey{}, errJWKShape
		}
		if alg != "EdDSA" && alg != "Ed25519" {
			return pubKey{}, errJWKAlg
		}
		xs, x, ok := coord(m["x"], ed25519.PublicKeySize)
		if !ok {
			return pubKey{}, errJWKShape
		}
		return pubKey{key: ed25519.PublicKey(x), jkt: thumb(`{"crv":"Ed25519","kty":"OKP","x":"` + xs + `"}`)}, nil
	case "RSA":
		if len(alg) != 5 || (alg[:2] != "RS" && alg[:2] != "PS") {
			return pubKey{}, errJWKAlg
		}
		ns, n, ok1 := unsigned(m["n"], maxRSABits/8)
		es, e, ok2 := unsigned(m["e"], 4)
		if !ok1 || !ok2 {
			return pubKey{}, errJWKShape
		}
		bn := new(big.Int).SetBytes(n)
		var ev int
		for _, b := range e {
			ev = ev<<8 | int(b)
		}
		if bn.BitLen() < minRSABits || ev < 3 || ev&1 == 0 || ev > 1<<31-1 {
			return pubKey{}, errJWKShape
		}
		return pubKey{key: &rsa.PublicKey{N: bn, E: ev}, jkt: thumb(`{"e":"` + es + `","kty":"RSA","n":"` + ns + `"}`)}, nil
	}
	return pubKey{}, errJWKShape // "oct" (a shared secret) and anything else
}

var b64 = base64.RawURLEncoding.Strict()

// coord decodes a fixed-size member (an EC coordinate, an Ed25519 key).
func coord(v any, size int) (string, []byte, bool) {
	s, ok := v.(string)
	if !ok || len(s) != b64.EncodedLen(size) {
		return "", nil, false
	}
	b, err := b64.DecodeString(s)
	if err != nil || len(b) != size {
		return "", nil, false
	}
	return s, b, true
}

// unsigned decodes an RSA integer member: big-endian, without leading
// zero octets (RFC 7518 §6.3.1), at most max bytes.
func unsigned(v any, max int) (string, []byte, bool) {
	s, ok := v.(string)
	if !ok || s == "" || len(s) > b64.EncodedLen(max) {
		return "", nil, false
	}
	b, err := b64.DecodeString(s)
	if err != nil || len(b) == 0 || b[0] == 0 {
		return "", nil, false
	}
	return s, b, true
}

// thumb is the RFC 7638 thumbprint of the canonical JSON of a key: its
// required members, in lexicographic order, without whitespace. The
// values are base64url or fixed names, which need no JSON escaping.
func thumb(canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of a public JWK
// given as decoded JSON (for tests and for issuers that bind tokens), or
// an error if it is not a public key that a proof signed with alg could
// carry.
func Thumbprint(jwk map[string]any, alg string) (string, error) {
	k, err := parseJWK(jwk, alg)
	return k.jkt, err
}
