package probe

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"strings"
	"time"
)

// Tokens the JWT checks send, built by hand: the point is to send what a
// JOSE library would refuse to make.

var b64 = base64.RawURLEncoding

// compact joins a header and a payload (raw JSON, so that duplicate and
// case-variant members survive) with a signature made by sign.
func compact(header, payload string, sign func([]byte) []byte) string {
	in := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	var sig []byte
	if sign != nil {
		sig = sign([]byte(in))
	}
	return in + "." + b64.EncodeToString(sig)
}

// hs256 signs with a shared secret.
func hs256(secret []byte) func([]byte) []byte {
	return func(in []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write(in)
		return m.Sum(nil)
	}
}

// attacker is a key pair the probe makes for itself: what a token signed
// by anyone but the issuer is signed with.
type attacker struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	jwk  string // the public key as a JWK
	ec   *ecdsa.PrivateKey
	cert []byte // a self-signed certificate of ec, DER
}

func newAttacker() *attacker {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	a := &attacker{priv: priv, pub: pub}
	a.jwk = `{"kty":"OKP","crv":"Ed25519","x":"` + b64.EncodeToString(pub) + `"}`
	a.ec, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bulwark probe"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	a.cert, _ = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &a.ec.PublicKey, a.ec)
	return a
}

func (a *attacker) eddsa(in []byte) []byte { return ed25519.Sign(a.priv, in) }

func (a *attacker) es256(in []byte) []byte {
	h := sha256.Sum256(in)
	r, s, _ := ecdsa.Sign(rand.Reader, a.ec, h[:])
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out
}

// signer signs with the user's key for the issuer, in its algorithm.
func signer(key crypto.Signer, alg string) (func([]byte) []byte, error) {
	switch alg {
	case "EdDSA":
		return func(in []byte) []byte { s, _ := key.Sign(rand.Reader, in, crypto.Hash(0)); return s }, nil
	case "RS256":
		return func(in []byte) []byte {
			h := sha256.Sum256(in)
			s, _ := key.Sign(rand.Reader, h[:], crypto.SHA256)
			return s
		}, nil
	case "ES256":
		ec, ok := key.(*ecdsa.PrivateKey)
		if !ok {
			return nil, errors.New("ES256 needs an *ecdsa.PrivateKey")
		}
		return func(in []byte) []byte {
			h := sha256.Sum256(in)
			r, s, _ := ecdsa.Sign(rand.Reader, ec, h[:])
			out := make([]byte, 64)
			r.FillBytes(out[:32])
			s.FillBytes(out[32:])
			return out
		}, nil
	}
	return nil, errors.New("SigningAlg must be RS256, ES256 or EdDSA")
}

// claimsOf reads the payload of a compact JWT without verifying it: the
// forged tokens copy the real one's issuer, audience and subject.
func claimsOf(tok string) map[string]any {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil
	}
	raw, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m
}

// isJWT reports whether tok has the shape of a compact JWS.
func isJWT(tok string) bool { return claimsOf(tok) != nil }

// publicKeyMaterial fetches the issuer's JWKS and returns every form of
// each public key an HMAC key-confusion bug might have used as the
// secret: PEM (with and without the final newline) and DER.
func (r *run) publicKeyMaterial() (kids []string, secrets [][]byte, err error) {
	jwks := r.o.JWKSURL
	if jwks == "" && r.o.Issuer != "" {
		var doc struct {
			JWKSURI string `json:"jwks_uri"`
		}
		if err := r.getJSON(strings.TrimSuffix(r.o.Issuer, "/")+"/.well-known/openid-configuration", &doc); err != nil {
			return nil, nil, err
		}
		jwks = doc.JWKSURI
	}
	if jwks == "" {
		return nil, nil, errors.New("no issuer or JWKS URL")
	}
	var set struct {
		Keys []struct {
			Kid, Kty, N, E, Crv, X, Y string
		} `json:"keys"`
	}
	if err := r.getJSON(jwks, &set); err != nil {
		return nil, nil, err
	}
	for _, k := range set.Keys {
		var pub any
		switch k.Kty {
		case "RSA":
			n, err1 := b64.DecodeString(k.N)
			e, err2 := b64.DecodeString(k.E)
			if err1 != nil || err2 != nil {
				continue
			}
			pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		case "OKP":
			x, err := b64.DecodeString(k.X)
			if err != nil || len(x) != ed25519.PublicKeySize {
				continue
			}
			pub = ed25519.PublicKey(x)
		case "EC":
			curve := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}[k.Crv]
			x, err1 := b64.DecodeString(k.X)
			y, err2 := b64.DecodeString(k.Y)
			if curve == nil || err1 != nil || err2 != nil {
				continue
			}
			ec, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
			if err != nil {
				continue
			}
			pub = ec
		default:
			continue
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			continue
		}
		p := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		kids = append(kids, k.Kid, k.Kid, k.Kid)
		secrets = append(secrets, p, []byte(strings.TrimSuffix(string(p), "\n")), der)
		if rk, ok := pub.(*rsa.PublicKey); ok {
			pk := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(rk)})
			kids = append(kids, k.Kid)
			secrets = append(secrets, pk)
		}
	}
	if len(secrets) == 0 {
		return nil, nil, errors.New("the key set has no RSA, EC or Ed25519 key")
	}
	return kids, secrets, nil
}

// getJSON fetches a public document of the issuer (not the target: the
// issuer's own URL, given by the user).
func (r *run) getJSON(u string, v any) error {
	req, err := http.NewRequestWithContext(r.ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	res, err := r.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return errors.New(u + ": " + res.Status)
	}
	return json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(v)
}
