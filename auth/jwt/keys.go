package jwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// Key is a verification key given in configuration.
type Key struct {
	// ID is the key id ("kid") tokens name. Optional when the issuer has a
	// single key; required to tell several keys apart.
	ID string
	// Algorithm is the one JWS algorithm this key verifies ("RS256",
	// "ES256", "EdDSA", "HS256", …). Required, and it must be in the
	// issuer's [Issuer.Algorithms]. A token is verified with the key's
	// algorithm, never with one the token asks for.
	Algorithm string
	// Key is the public key: *rsa.PublicKey (at least 2048 bits),
	// *ecdsa.PublicKey on the curve the algorithm names,
	// ed25519.PublicKey, or a jwk.Key holding one of these; for HS256,
	// HS384 and HS512 a []byte secret at least as long as the hash output.
	Key any
}

// algorithm families.
type family uint8

const (
	famRSA family = iota + 1
	famEC
	famEd
	famHMAC
)

type algInfo struct {
	fam   family
	curve elliptic.Curve // famEC only
	min   int            // famHMAC: minimum secret length in bytes
}

// algs is the closed set of algorithms the verifier knows. "none" is not
// in it and cannot be configured.
var algs = map[string]algInfo{
	"RS256": {fam: famRSA}, "RS384": {fam: famRSA}, "RS512": {fam: famRSA},
	"PS256": {fam: famRSA}, "PS384": {fam: famRSA}, "PS512": {fam: famRSA},
	"ES256": {fam: famEC, curve: elliptic.P256()},
	"ES384": {fam: famEC, curve: elliptic.P384()},
	"ES512": {fam: famEC, curve: elliptic.P521()},
	"EdDSA": {fam: famEd},
	"HS256": {fam: famHMAC, min: 32}, "HS384": {fam: famHMAC, min: 48}, "HS512": {fam: famHMAC, min: 64},
}

const minRSABits = 2048

// verKey is one usable key: the raw key and the single algorithm it
// verifies.
type verKey struct {
	kid string
	alg string
	key any
}

// keySet is an immutable set of keys, replaced whole.
type keySet struct {
	byID map[string]*verKey // kid + "\x00" + alg
	keys []*verKey
}

func newKeySet(keys []*verKey) *keySet {
	s := &keySet{byID: make(map[string]*verKey, len(keys))}
	for _, k := range keys {
		id := k.kid + "\x00" + k.alg
		if _, dup := s.byID[id]; dup {
			continue // the first of two identical (kid, alg) wins; never try both
		}
		s.byID[id] = k
		s.keys = append(s.keys, k)
	}
	return s
}

// find returns the key for (kid, alg). A token without kid matches only
// when the set holds exactly one key.
func (s *keySet) find(kid, alg string) *verKey {
	if s == nil {
		return nil
	}
	if kid == "" {
		if len(s.keys) == 1 && s.keys[0].alg == alg {
			return s.keys[0]
		}
		return nil
	}
	// The concatenation for the map index does not allocate.
	return s.byID[kid+"\x00"+alg]
}

// checkKey checks that raw is a public key (or secret) fit for alg and
// returns it in the form the verifier uses.
func checkKey(alg string, raw any) (any, error) {
	info, ok := algs[alg]
	if !ok {
		return nil, errors.New("unsupported algorithm")
	}
	if jk, ok := raw.(jwk.Key); ok {
		if info.fam != famHMAC {
			pk, err := jk.PublicKey()
			if err != nil {
				return nil, fmt.Errorf("jwk: %w", err)
			}
			jk = pk
		}
		var out any
		if err := jwk.Export(jk, &out); err != nil {
			return nil, fmt.Errorf("jwk: %w", err)
		}
		raw = out
	}
	switch info.fam {
	case famRSA:
		k, ok := raw.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%s needs an *rsa.PublicKey, got %T", alg, raw)
		}
		if k.N == nil || k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key shorter than %d bits", minRSABits)
		}
		return k, nil
	case famEC:
		k, ok := raw.(*ecdsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%s needs an *ecdsa.PublicKey, got %T", alg, raw)
		}
		if k.Curve != info.curve {
			return nil, fmt.Errorf("%s needs a key on %s", alg, info.curve.Params().Name)
		}
		return k, nil
	case famEd:
		k, ok := raw.(ed25519.PublicKey)
		if !ok || len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("EdDSA needs an ed25519.PublicKey, got %T", raw)
		}
		return k, nil
	default: // famHMAC
		k, ok := raw.([]byte)
		if !ok {
			// An asymmetric key never verifies an HMAC: that is the
			// "HS256 signed with the RSA public key" confusion.
			return nil, fmt.Errorf("%s needs a []byte secret, got %T", alg, raw)
		}
		if len(k) < info.min {
			return nil, fmt.Errorf("%s secret shorter than %d bytes", alg, info.min)
		}
		return append([]byte(nil), k...), nil
	}
}

// keysFromJWKS turns a fetched JWK Set into usable keys. Keys that cannot
// be used safely are left out rather than failing the whole set:
// symmetric keys (a JWKS is public, so a secret in it is no secret),
// keys whose "use" is not "sig" or whose "key_ops" lacks "verify", keys
// whose "alg" is not allowed, and keys without "alg" unless exactly one
// allowed algorithm fits them.
func keysFromJWKS(body []byte, allowed []string) ([]*verKey, error) {
	set, err := jwk.Parse(body)
	if err != nil {
		return nil, err
	}
	var out []*verKey
	for i := range set.Len() {
		k, ok := set.Key(i)
		if !ok {
			continue
		}
		if k.KeyType().String() == "oct" {
			continue
		}
		if use, ok := k.KeyUsage(); ok && use != "sig" {
			continue
		}
		if ops, ok := k.KeyOps(); ok && !hasOp(ops, "verify") {
			continue
		}
		kid, _ := k.KeyID()
		var alg string
		if a, ok := k.Algorithm(); ok {
			alg = a.String()
			if !contains(allowed, alg) {
				continue
			}
		} else {
			for _, a := range allowed {
				if _, err := checkKey(a, k); err == nil {
					if alg != "" {
						alg = "" // ambiguous: the record must say
						break
					}
					alg = a
				}
			}
			if alg == "" {
				continue
			}
		}
		raw, err := checkKey(alg, k)
		if err != nil {
			continue
		}
		out = append(out, &verKey{kid: kid, alg: alg, key: raw})
	}
	if len(out) == 0 {
		return nil, errors.New("no usable signature verification key in the set")
	}
	return out, nil
}

func hasOp(ops jwk.KeyOperationList, op string) bool {
	for _, o := range ops {
		if string(o) == op {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
