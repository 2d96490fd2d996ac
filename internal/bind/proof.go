package bind

import (
	"bytes"
	"errors"
	"strings"
	"time"

	"github.com/bulwark-go/bulwark/internal/claims"
)

// MaxProofSize bounds a DPoP header, checked before any decoding. A proof
// with an RSA-4096 key is under 2.5 KiB.
const MaxProofSize = 4 << 10

// maxJTILen bounds a proof's jti (a UUID is 36 characters).
const maxJTILen = 256

// maxHTULen bounds a proof's htu.
const maxHTULen = 4 << 10

// Reasons a proof is refused before its signature is looked at.
var (
	errProofTooLarge = errors.New("DPoP proof too large")
	errProofShape    = errors.New("DPoP proof is not a compact JWS")
	errProofHeader   = errors.New("DPoP proof header invalid")
	errProofTyp      = errors.New("DPoP proof typ is not dpop+jwt")
	errProofClaims   = errors.New("DPoP proof claims invalid")
)

// proof is a DPoP proof after shape checks and strict decoding, before
// any check of what it says. Its byte fields point into one buffer, the
// decoded proof.
type proof struct {
	signingInput []byte
	sig          []byte
	alg          string
	key          pubKey
	jti, htm     []byte
	htu          []byte
	iat          time.Time
	ath          []byte
	hasAth       bool
	nonce        []byte
	hasNonce     bool
}

// proofHeader holds the JSON text of the header members a proof's checks
// read; the others are checked by the decoder and ignored.
type proofHeader struct {
	typ, alg, jwk         []byte
	hasCrit, hasB64       bool
	hasTyp, hasAlg, isJWK bool
}

// proofClaims holds the JSON text of the claims a proof's checks read.
type proofClaims struct {
	jti, htm, htu, iat, ath, nonce []byte
}

// parseProof checks the compact serialization and decodes header and
// claims exactly once, with the strict decoder (duplicate and case-variant
// members refused at every depth) and without building a map: only the
// members the checks read are taken, as text. The key comes from the
// header's jwk only (never jku, x5u, x5c or kid); algs is the allow-list,
// checked before the key is parsed.
func parseProof(s string, algs map[string]bool) (*proof, error) {
	if len(s) > MaxProofSize {
		return nil, errProofTooLarge
	}
	d1 := strings.IndexByte(s, '.')
	if d1 <= 0 {
		return nil, errProofShape
	}
	d2 := strings.IndexByte(s[d1+1:], '.')
	if d2 <= 0 {
		return nil, errProofShape
	}
	d2 += d1 + 1
	if d2 == len(s)-1 {
		return nil, errProofShape // no signature: alg none
	}
	for i := 0; i < len(s); i++ {
		if i != d1 && i != d2 && !isB64URL(s[i]) {
			return nil, errProofShape
		}
	}
	// One buffer: the proof as sent (its first part the signing input),
	// then the decoded header, claims and signature.
	buf := make([]byte, len(s)+b64.DecodedLen(d1)+b64.DecodedLen(d2-d1-1)+b64.DecodedLen(len(s)-d2-1))
	raw := buf[:len(s):len(s)]
	copy(raw, s)
	hdrJSON, rest, err := decodeInto(buf[len(s):], raw[:d1])
	if err != nil {
		return nil, errProofShape
	}
	payload, rest, err := decodeInto(rest, raw[d1+1:d2])
	if err != nil {
		return nil, errProofShape
	}
	sig, _, err := decodeInto(rest, raw[d2+1:])
	if err != nil {
		return nil, errProofShape
	}
	var h proofHeader
	err = claims.Walk(hdrJSON, func(name string, v []byte) {
		switch name {
		case "typ":
			h.typ, h.hasTyp = claims.String(v)
		case "alg":
			h.alg, h.hasAlg = claims.String(v)
		case "jwk":
			h.jwk, h.isJWK = v, v[0] == '{'
		case "crit":
			h.hasCrit = true
		case "b64":
			h.hasB64 = true
		}
	})
	if err != nil {
		return nil, errProofHeader
	}
	p := &proof{signingInput: raw[:d2:d2], sig: sig}
	if !h.hasTyp || !bytes.EqualFold(h.typ, []byte("dpop+jwt")) && !bytes.EqualFold(h.typ, []byte("application/dpop+jwt")) {
		return nil, errProofTyp
	}
	alg, known := algName(h.alg)
	if !h.hasAlg || !known || !algs[alg] {
		return nil, errAlgNotAllowed
	}
	p.alg = alg
	// RFC 7515 §4.1.11: an extension this verifier does not understand is
	// refused; b64 (RFC 7797) would change what is signed.
	if h.hasCrit || h.hasB64 {
		return nil, errProofHeader
	}
	if !h.isJWK {
		return nil, errJWKShape
	}
	if p.key, err = parseJWK(h.jwk, alg); err != nil {
		return nil, err
	}
	var c proofClaims
	err = claims.Walk(payload, func(name string, v []byte) {
		switch name {
		case "jti":
			c.jti = v
		case "htm":
			c.htm = v
		case "htu":
			c.htu = v
		case "iat":
			c.iat = v
		case "ath":
			c.ath = v
		case "nonce":
			c.nonce = v
		}
	})
	if err != nil {
		return nil, errProofClaims
	}
	var okJTI, okHTM, okHTU, okIat bool
	p.jti, okJTI = claims.String(c.jti)
	p.htm, okHTM = claims.String(c.htm)
	p.htu, okHTU = claims.String(c.htu)
	if f, ok := claims.Number(c.iat); ok {
		p.iat, okIat = claims.NumericDate(f)
	}
	if !okJTI || len(p.jti) == 0 || len(p.jti) > maxJTILen || !okHTM || !okHTU || len(p.htu) > maxHTULen || !okIat {
		return nil, errProofClaims
	}
	if c.ath != nil {
		if p.ath, p.hasAth = claims.String(c.ath); !p.hasAth {
			return nil, errProofClaims
		}
	}
	if c.nonce != nil {
		if p.nonce, p.hasNonce = claims.String(c.nonce); !p.hasNonce {
			return nil, errProofClaims
		}
	}
	return p, nil
}

// algName returns the constant name of an asymmetric algorithm, without
// building a string from b.
func algName(b []byte) (string, bool) {
	switch string(b) {
	case "ES256":
		return "ES256", true
	case "ES384":
		return "ES384", true
	case "ES512":
		return "ES512", true
	case "EdDSA":
		return "EdDSA", true
	case "Ed25519":
		return "Ed25519", true
	case "RS256":
		return "RS256", true
	case "RS384":
		return "RS384", true
	case "RS512":
		return "RS512", true
	case "PS256":
		return "PS256", true
	case "PS384":
		return "PS384", true
	case "PS512":
		return "PS512", true
	}
	return "", false
}

var errAlgNotAllowed = errors.New("DPoP proof algorithm not allowed")

// decodeInto decodes unpadded base64url src strictly into the front of dst.
func decodeInto(dst, src []byte) (out, rest []byte, err error) {
	n, err := b64.Decode(dst, src)
	return dst[:n:n], dst[n:], err
}
