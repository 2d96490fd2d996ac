package bind

import (
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
// any check of what it says.
type proof struct {
	signingInput []byte
	sig          []byte
	alg          string
	key          pubKey
	jti, htm     string
	htu          string
	iat          time.Time
	ath          string
	hasAth       bool
	nonce        string
	hasNonce     bool
}

// parseProof checks the compact serialization and decodes header and
// claims exactly once. The key comes from the header's jwk only (never
// jku, x5u, x5c or kid); algs is the allow-list, checked before the key
// is parsed.
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
	raw := []byte(s)
	buf := make([]byte, b64.DecodedLen(d1)+b64.DecodedLen(d2-d1-1)+b64.DecodedLen(len(s)-d2-1))
	hdrJSON, rest, err := decodeInto(buf, raw[:d1])
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
	hdr, err := claims.Decode(hdrJSON)
	if err != nil {
		return nil, errProofHeader
	}
	p := &proof{signingInput: raw[:d2], sig: sig}
	typ, _ := hdr["typ"].(string)
	if !strings.EqualFold(typ, "dpop+jwt") && !strings.EqualFold(typ, "application/dpop+jwt") {
		return nil, errProofTyp
	}
	alg, ok := hdr["alg"].(string)
	if !ok || !algs[alg] {
		return nil, errAlgNotAllowed
	}
	p.alg = alg
	// RFC 7515 §4.1.11: an extension this verifier does not understand is
	// refused; b64 (RFC 7797) would change what is signed.
	if _, present := hdr["crit"]; present {
		return nil, errProofHeader
	}
	if _, present := hdr["b64"]; present {
		return nil, errProofHeader
	}
	if p.key, err = parseJWK(hdr["jwk"], alg); err != nil {
		return nil, err
	}
	c, err := claims.Decode(payload)
	if err != nil {
		return nil, errProofClaims
	}
	var okJTI, okHTM, okHTU, okIat bool
	p.jti, okJTI = c["jti"].(string)
	p.htm, okHTM = c["htm"].(string)
	p.htu, okHTU = c["htu"].(string)
	p.iat, okIat = claims.NumericDate(c["iat"])
	if !okJTI || p.jti == "" || len(p.jti) > maxJTILen || !okHTM || !okHTU || len(p.htu) > maxHTULen || !okIat {
		return nil, errProofClaims
	}
	if v, present := c["ath"]; present {
		if p.ath, p.hasAth = v.(string); !p.hasAth {
			return nil, errProofClaims
		}
	}
	if v, present := c["nonce"]; present {
		if p.nonce, p.hasNonce = v.(string); !p.hasNonce {
			return nil, errProofClaims
		}
	}
	return p, nil
}

var errAlgNotAllowed = errors.New("DPoP proof algorithm not allowed")

// decodeInto decodes unpadded base64url src strictly into the front of dst.
func decodeInto(dst, src []byte) (out, rest []byte, err error) {
	n, err := b64.Decode(dst, src)
	return dst[:n:n], dst[n:], err
}
