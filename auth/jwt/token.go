package jwt

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/bulwark-go/bulwark/internal/claims"
)

// Errors from the token parser, each wrapped by a refusal whose reason
// names the check. They are for errors.Is in tests and logs.
var (
	ErrTokenTooLarge = errors.New("jwt: token too large")
	ErrTokenShape    = errors.New("jwt: not a compact JWS")
	ErrHeader        = errors.New("jwt: invalid JOSE header")
	ErrClaims        = errors.New("jwt: invalid claims")
)

// parsed is a token after shape checks and strict decoding, before any
// signature or claim check.
type parsed struct {
	signingInput []byte // header "." payload, as sent
	sig          []byte
	alg, kid     string
	typ          string
	hasTyp       bool
	claims       map[string]any
	iss          string
}

// maxKidLen bounds the kid used as a lookup and negative-cache key.
const maxKidLen = 256

// parseToken checks the compact serialization and decodes header and
// claims exactly once. It never looks at jku, x5u, jwk or x5c: keys come
// from configuration only.
func parseToken(tok string, maxSize int) (*parsed, string, error) {
	if len(tok) > maxSize {
		return nil, "token too large", ErrTokenTooLarge
	}
	// Shape: three non-empty base64url segments (no padding, no other
	// characters), so that nothing else reaches a decoder.
	d1 := strings.IndexByte(tok, '.')
	if d1 <= 0 {
		return nil, "not a compact JWS", ErrTokenShape
	}
	d2 := strings.IndexByte(tok[d1+1:], '.')
	if d2 <= 0 {
		return nil, "not a compact JWS", ErrTokenShape
	}
	d2 += d1 + 1
	if d2 == len(tok)-1 {
		return nil, "missing signature", ErrTokenShape
	}
	for i := 0; i < len(tok); i++ {
		if i == d1 || i == d2 {
			continue
		}
		if !isB64URL(tok[i]) {
			return nil, "not a compact JWS", ErrTokenShape
		}
	}
	// One copy of the token serves as the signing input, and one buffer
	// takes all three decoded segments.
	raw := []byte(tok)
	enc := base64.RawURLEncoding.Strict()
	buf := make([]byte, enc.DecodedLen(d1)+enc.DecodedLen(d2-d1-1)+enc.DecodedLen(len(tok)-d2-1))
	hdrJSON, rest, err := b64(buf, raw[:d1])
	if err != nil {
		return nil, "bad base64 in header", ErrTokenShape
	}
	payload, rest, err := b64(rest, raw[d1+1:d2])
	if err != nil {
		return nil, "bad base64 in payload", ErrTokenShape
	}
	sig, _, err := b64(rest, raw[d2+1:])
	if err != nil {
		return nil, "bad base64 in signature", ErrTokenShape
	}

	// The header is read for a few members, as text, without a map.
	var h struct {
		alg, kid, typ, cty              []byte
		hasKid, hasTyp, hasCrit, hasB64 bool
	}
	err = claims.Walk(hdrJSON, func(name string, v []byte) {
		switch name {
		case "alg":
			h.alg = v
		case "kid":
			h.kid, h.hasKid = v, true
		case "typ":
			h.typ, h.hasTyp = v, true
		case "crit":
			h.hasCrit = true
		case "b64":
			h.hasB64 = true
		case "cty":
			h.cty = v
		}
	})
	if err != nil {
		return nil, "invalid JOSE header JSON", errors.Join(ErrHeader, err)
	}
	p := &parsed{signingInput: raw[:d2], sig: sig}
	alg, ok := claims.String(h.alg)
	if !ok {
		return nil, "missing alg", ErrHeader
	}
	p.alg = string(alg)
	if h.hasKid {
		kid, ok := claims.String(h.kid)
		if !ok || len(kid) == 0 || len(kid) > maxKidLen {
			return nil, "invalid kid", ErrHeader
		}
		p.kid = string(kid)
	}
	if h.hasTyp {
		typ, ok := claims.String(h.typ)
		if !ok {
			return nil, "invalid typ", ErrHeader
		}
		p.typ, p.hasTyp = string(typ), true
	}
	// RFC 7515 §4.1.11: a recipient must refuse a crit it does not
	// understand, and this verifier understands no extension. "b64"
	// (RFC 7797) would change what is signed; it is refused even without
	// crit.
	if h.hasCrit {
		return nil, "unsupported crit header", ErrHeader
	}
	if h.hasB64 {
		return nil, "unsupported b64 header", ErrHeader
	}
	// An encrypted token (JWE) has five segments and never gets here; a
	// nested JWT ("cty": "JWT") is not an access token.
	if h.cty != nil {
		if s, ok := claims.String(h.cty); !ok || bytes.EqualFold(s, []byte("JWT")) {
			return nil, "nested JWT", ErrHeader
		}
	}

	c, err := claims.Decode(payload)
	if err != nil {
		return nil, "invalid claims JSON", errors.Join(ErrClaims, err)
	}
	p.claims = c
	iss, ok := c["iss"].(string)
	if !ok || iss == "" {
		return nil, "missing iss", ErrClaims
	}
	p.iss = iss
	return p, "", nil
}

func isB64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// b64 decodes unpadded base64url src strictly into the front of dst and
// returns the decoded bytes and the rest of dst. Strict: the unused bits of
// the last character must be zero, so each token has one encoding only.
func b64(dst, src []byte) (out, rest []byte, err error) {
	n, err := base64.RawURLEncoding.Strict().Decode(dst, src)
	return dst[:n:n], dst[n:], err
}

// numericDate reads an optional NumericDate claim (RFC 7519 §2).
func numericDate(c map[string]any, name string) (time.Time, bool, error) {
	v, present := c[name]
	if !present {
		return time.Time{}, false, nil
	}
	t, ok := claims.NumericDate(v)
	if !ok {
		return time.Time{}, true, ErrClaims
	}
	return t, true, nil
}
