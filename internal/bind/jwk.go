package bind

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"

	"github.com/bulwark-go/bulwark/internal/claims"
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

// pubKey is a proof's key: the crypto key, and its RFC 7638 thumbprint
// (base64url, unpadded).
type pubKey struct {
	key any
	jkt [43]byte
}

// jwkMembers holds the JSON text of the members of a jwk that a public
// key of a supported type has, and whether any private member is there.
type jwkMembers struct {
	kty, crv, x, y, n, e []byte
	private              bool
}

// parseJWK reads a proof's public key from the JSON text of its jwk header
// member (an object, already checked by the strict decoder), checks that
// it fits alg, and computes its thumbprint from the members exactly as
// sent (each checked to be canonical, so one key has one thumbprint).
func parseJWK(text []byte, alg string) (pubKey, error) {
	var m jwkMembers
	err := claims.Walk(text, func(name string, v []byte) {
		switch name {
		case "kty":
			m.kty = v
		case "crv":
			m.crv = v
		case "x":
			m.x = v
		case "y":
			m.y = v
		case "n":
			m.n = v
		case "e":
			m.e = v
		default:
			for _, p := range privateMembers {
				if name == p {
					m.private = true
				}
			}
		}
	})
	if err != nil {
		return pubKey{}, errJWKShape
	}
	if m.private {
		return pubKey{}, errJWKPrivate
	}
	kty, _ := claims.String(m.kty)
	crv, _ := claims.String(m.crv)
	switch string(kty) {
	case "EC":
		var curve elliptic.Curve
		var want, name string
		switch string(crv) {
		case "P-256":
			curve, want, name = elliptic.P256(), "ES256", "P-256"
		case "P-384":
			curve, want, name = elliptic.P384(), "ES384", "P-384"
		case "P-521":
			curve, want, name = elliptic.P521(), "ES512", "P-521"
		default:
			return pubKey{}, errJWKShape
		}
		if alg != want {
			return pubKey{}, errJWKAlg
		}
		size := (curve.Params().BitSize + 7) / 8
		var point [1 + 2*66]byte
		point[0] = 4
		xs, ok1 := coord(point[1:1+size], m.x)
		ys, ok2 := coord(point[1+size:1+2*size], m.y)
		if !ok1 || !ok2 {
			return pubKey{}, errJWKShape
		}
		k, err := ecdsa.ParseUncompressedPublicKey(curve, point[:1+2*size])
		if err != nil {
			return pubKey{}, errJWKShape // not on the curve
		}
		var j [256]byte
		c := append(append(append(append(append(append(append(j[:0], `{"crv":"`...), name...), `","kty":"EC","x":"`...), xs...), `","y":"`...), ys...), `"}`...)
		return pubKey{key: k, jkt: thumb(c)}, nil
	case "OKP":
		if string(crv) != "Ed25519" {
			return pubKey{}, errJWKShape
		}
		if alg != "EdDSA" && alg != "Ed25519" {
			return pubKey{}, errJWKAlg
		}
		x := make(ed25519.PublicKey, ed25519.PublicKeySize)
		xs, ok := coord(x, m.x)
		if !ok {
			return pubKey{}, errJWKShape
		}
		var j [96]byte
		c := append(append(append(j[:0], `{"crv":"Ed25519","kty":"OKP","x":"`...), xs...), `"}`...)
		return pubKey{key: x, jkt: thumb(c)}, nil
	case "RSA":
		if len(alg) != 5 || (alg[:2] != "RS" && alg[:2] != "PS") {
			return pubKey{}, errJWKAlg
		}
		ns, n, ok1 := unsigned(m.n, maxRSABits/8)
		es, e, ok2 := unsigned(m.e, 4)
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
		c := make([]byte, 0, len(es)+len(ns)+32)
		c = append(append(append(append(append(c, `{"e":"`...), es...), `","kty":"RSA","n":"`...), ns...), `"}`...)
		return pubKey{key: &rsa.PublicKey{N: bn, E: ev}, jkt: thumb(c)}, nil
	}
	return pubKey{}, errJWKShape // "oct" (a shared secret) and anything else
}

var b64 = base64.RawURLEncoding.Strict()

// coord decodes a fixed-size member (an EC coordinate, an Ed25519 key)
// into dst, which is its size, and returns the member as sent.
func coord(dst, v []byte) ([]byte, bool) {
	s, ok := claims.String(v)
	if !ok || len(s) != b64.EncodedLen(len(dst)) {
		return nil, false
	}
	n, err := b64.Decode(dst, s)
	return s, err == nil && n == len(dst)
}

// unsigned decodes an RSA integer member: big-endian, without leading
// zero octets (RFC 7518 §6.3.1), at most max bytes.
func unsigned(v []byte, max int) ([]byte, []byte, bool) {
	s, ok := claims.String(v)
	if !ok || len(s) == 0 || len(s) > b64.EncodedLen(max) {
		return nil, nil, false
	}
	b := make([]byte, b64.DecodedLen(len(s)))
	n, err := b64.Decode(b, s)
	if err != nil || n == 0 || b[0] == 0 {
		return nil, nil, false
	}
	return s, b[:n], true
}

// thumb is the RFC 7638 thumbprint of the canonical JSON of a key: its
// required members, in lexicographic order, without whitespace. The
// values are base64url or fixed names, which need no JSON escaping.
func thumb(canonical []byte) [43]byte {
	sum := sha256.Sum256(canonical)
	var t [43]byte
	base64.RawURLEncoding.Encode(t[:], sum[:])
	return t
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of a public JWK
// given as decoded JSON (for tests and for issuers that bind tokens), or
// an error if it is not a public key that a proof signed with alg could
// carry.
func Thumbprint(jwk map[string]any, alg string) (string, error) {
	text, err := json.Marshal(jwk)
	if err != nil {
		return "", errJWKShape
	}
	k, err := parseJWK(text, alg)
	if err != nil {
		return "", err
	}
	return string(k.jkt[:]), nil
}
