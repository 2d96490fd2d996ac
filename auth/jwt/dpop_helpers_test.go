package jwt_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
)

// dpopKey is a client's DPoP key pair, with its public JWK as a client
// library would send it and its RFC 7638 thumbprint, computed here from
// the RFC's rules (not by the code under test).
type dpopKey struct {
	alg  string
	priv crypto.Signer
	jwk  map[string]any
	jkt  string
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func newDPoPKey(t testing.TB, alg string) *dpopKey {
	t.Helper()
	k := &dpopKey{alg: alg}
	var canon string
	switch alg {
	case "ES256":
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := priv.PublicKey.Bytes() // 0x04 || X || Y
		if err != nil {
			t.Fatal(err)
		}
		x, y := b64u(pt[1:33]), b64u(pt[33:])
		k.priv, k.jwk = priv, map[string]any{"kty": "EC", "crv": "P-256", "x": x, "y": y}
		canon = `{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`
	case "EdDSA":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		x := b64u(pub)
		k.priv, k.jwk = priv, map[string]any{"kty": "OKP", "crv": "Ed25519", "x": x}
		canon = `{"crv":"Ed25519","kty":"OKP","x":"` + x + `"}`
	case "RS256", "PS256":
		priv := keys(t).evil // any 2048-bit key will do; generation is slow
		n, e := b64u(priv.N.Bytes()), b64u(big.NewInt(int64(priv.E)).Bytes())
		k.priv, k.jwk = priv, map[string]any{"kty": "RSA", "n": n, "e": e}
		canon = `{"e":"` + e + `","kty":"RSA","n":"` + n + `"}`
	default:
		t.Fatalf("no DPoP key for %s", alg)
	}
	sum := sha256.Sum256([]byte(canon))
	k.jkt = b64u(sum[:])
	return k
}

var proofSeq atomic.Int64

// proof is a DPoP proof for method and htu bound to token, at the test
// clock's t0, with claim overrides (nil deletes) and header overrides.
func (k *dpopKey) proof(t testing.TB, method, htu, token string, over, hdrOver map[string]any) string {
	t.Helper()
	ath := sha256.Sum256([]byte(token))
	c := map[string]any{
		"jti": "proof-" + strconv.FormatInt(proofSeq.Add(1), 10),
		"htm": method,
		"htu": htu,
		"iat": t0.Unix(),
		"ath": b64u(ath[:]),
	}
	for n, v := range over {
		if v == nil {
			delete(c, n)
		} else {
			c[n] = v
		}
	}
	h := map[string]any{"typ": "dpop+jwt", "alg": k.alg, "jwk": k.jwk}
	for n, v := range hdrOver {
		if v == nil {
			delete(h, n)
		} else {
			h[n] = v
		}
	}
	hb, _ := json.Marshal(h)
	cb, _ := json.Marshal(c)
	signer := any(k.priv)
	if rk, ok := k.priv.(*rsa.PrivateKey); ok {
		signer = rk
	}
	return signRaw(t, k.alg, signer, string(hb), string(cb))
}

// boundToken is an access token bound to k (cnf.jkt), with overrides.
func boundToken(t testing.TB, k *dpopKey, over map[string]any) string {
	t.Helper()
	c := map[string]any{"cnf": map[string]any{"jkt": k.jkt}}
	for n, v := range over {
		c[n] = v
	}
	return token(t, "ec1", c)
}

// dpopRequest is a request with Authorization: DPoP and a DPoP header
// (none when proof is empty).
func dpopRequest(method, url, token, proof string) *http.Request {
	r := httptest.NewRequest(method, url, nil)
	r.Header.Set("Authorization", "DPoP "+token)
	if proof != "" {
		r.Header.Set("DPoP", proof)
	}
	return r
}
