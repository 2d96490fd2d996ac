package introspect_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/introspect"
)

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// proofKey is a client's DPoP key, with its RFC 7638 thumbprint.
type proofKey struct {
	priv *ecdsa.PrivateKey
	jwk  map[string]any
	jkt  string
}

func newProofKey(t *testing.T) *proofKey {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pt, _ := priv.PublicKey.Bytes()
	x, y := b64u(pt[1:33]), b64u(pt[33:])
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	return &proofKey{priv: priv, jwk: map[string]any{"kty": "EC", "crv": "P-256", "x": x, "y": y}, jkt: b64u(sum[:])}
}

func (k *proofKey) proof(t *testing.T, method, htu, token, jti string) string {
	ath := sha256.Sum256([]byte(token))
	h, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": k.jwk})
	c, _ := json.Marshal(map[string]any{"jti": jti, "htm": method, "htu": htu, "iat": t0.Unix(), "ath": b64u(ath[:])})
	in := b64u(h) + "." + b64u(c)
	sig, err := jwsbb.Sign(k.priv, "ES256", []byte(in), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + b64u(sig)
}

// TestAttackStolenDPoPBoundOpaqueToken: an opaque token whose
// introspection answer carries cnf.jkt (RFC 9449 §6.2) works only with a
// proof signed by that key; as Bearer, with a proof from another key, or
// a replayed proof, it is refused.
func TestAttackStolenDPoPBoundOpaqueToken(t *testing.T) {
	k, thief := newProofKey(t), newProofKey(t)
	in, ep, _ := setup(t, nil)
	ep.answers["bound"] = map[string]any{"active": true, "sub": "alice", "token_type": "DPoP", "aud": "https://api.example",
		"exp": t0.Add(time.Hour).Unix(), "cnf": map[string]any{"jkt": k.jkt}}
	const url = "https://api.example/orders"
	req := func(scheme, proof string) *http.Request {
		r := httptest.NewRequest("GET", url, nil)
		r.Header.Set("Authorization", scheme+" bound")
		if proof != "" {
			r.Header.Set("DPoP", proof)
		}
		return r
	}
	good := k.proof(t, "GET", url, "bound", "j1")
	p, err := in.Authenticate(req("DPoP", good))
	if err != nil || p.Binding != auth.BoundDPoP || p.Subject != "alice" {
		t.Fatalf("with its proof: %+v, %v", p, err)
	}
	for _, tc := range []struct {
		name string
		r    *http.Request
	}{
		{"as Bearer", req("Bearer", k.proof(t, "GET", url, "bound", "j2"))},
		{"proof from the thief's key", req("DPoP", thief.proof(t, "GET", url, "bound", "j3"))},
		{"replayed proof", req("DPoP", good)},
		{"no proof", req("DPoP", "")},
	} {
		var ce *auth.CredentialError
		if _, err := in.Authenticate(tc.r); !errors.As(err, &ce) || ce.Scheme != auth.SchemeDPoP {
			t.Errorf("%s: %v, want a DPoP refusal", tc.name, err)
		}
	}
	if _, err := in.Introspect(t.Context(), "bound"); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("Introspect(bound) without its request = %v, want refused", err)
	}
	if ep.calls.Load() != 1 {
		t.Errorf("%d introspection calls, want 1: the bound answer is cached with its cnf", ep.calls.Load())
	}
}

// TestIntrospectBindingPolicy: Binding: mtls refuses bearer tokens and
// accepts a token whose cnf.x5t#S256 names the connection's certificate.
func TestIntrospectBindingPolicy(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: bigOne(), NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	sum := sha256.Sum256(der)
	in, ep, _ := setup(t, func(c *introspect.Config) { c.Binding = auth.BindingMTLS })
	ep.answers["cert-bound"] = map[string]any{"active": true, "sub": "svc", "aud": "https://api.example", "cnf": map[string]any{"x5t#S256": b64u(sum[:])}}
	r := bearerRequest("cert-bound")
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
	if p, err := in.Authenticate(r); err != nil || p.Binding != auth.BoundMTLS {
		t.Fatalf("certificate-bound token over its certificate: %+v, %v", p, err)
	}
	if _, err := in.Authenticate(bearerRequest("good")); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("bearer token with Binding mtls = %v, want refused", err)
	}
	if in.Scheme() != "Bearer" {
		t.Errorf("Scheme = %q with Binding mtls", in.Scheme())
	}
}

func bigOne() *big.Int { return big.NewInt(1) }
