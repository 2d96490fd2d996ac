package jwt_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/jwt"
)

func selfSigned(t *testing.T, cn string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func x5t(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func withCert(r *http.Request, c *x509.Certificate) *http.Request {
	r.TLS = &tls.ConnectionState{HandshakeComplete: true}
	if c != nil {
		r.TLS.PeerCertificates = []*x509.Certificate{c}
	}
	return r
}

// TestAttackCertificateBoundToken: a token bound to a client certificate
// (RFC 8705) works only over a connection with that certificate; a thief
// with another certificate, or none, is refused, and a certificate header
// is believed only from a trusted TLS-terminating proxy.
func TestAttackCertificateBoundToken(t *testing.T) {
	client, thief := selfSigned(t, "client"), selfSigned(t, "thief")
	at := token(t, "ec1", map[string]any{"cnf": map[string]any{"x5t#S256": x5t(client)}})
	proxy := netip.MustParsePrefix("10.0.0.0/8")
	iss := staticIssuer(t)
	iss.Binding = auth.BindingMTLS
	v := newVerifier(t, jwt.Config{Issuers: []jwt.Issuer{iss}, MTLS: auth.MTLSOptions{CertificateHeader: "Client-Cert", TrustedProxies: []netip.Prefix{proxy}}})
	header := func(c *x509.Certificate) string { return ":" + base64.StdEncoding.EncodeToString(c.Raw) + ":" }

	p, err := v.Authenticate(withCert(bearer(at), client))
	if err != nil || p.Binding != auth.BoundMTLS {
		t.Fatalf("the certificate's own client: %v, binding %q; want accepted, mtls", p, err)
	}
	fromProxy := bearer(at)
	fromProxy.RemoteAddr = "10.1.2.3:4567"
	fromProxy.Header.Set("Client-Cert", header(client))
	if _, err := v.Authenticate(fromProxy); err != nil {
		t.Fatalf("through the trusted proxy: %v", err)
	}

	for _, tc := range []struct {
		name   string
		req    func() *http.Request
		reason string
	}{
		{"another certificate", func() *http.Request { return withCert(bearer(at), thief) }, "client certificate does not match the token's cnf.x5t#S256"},
		{"no certificate", func() *http.Request { return withCert(bearer(at), nil) }, "certificate-bound token without a client certificate"},
		{"plain HTTP", func() *http.Request { return bearer(at) }, "certificate-bound token without a client certificate"},
		{"certificate header from an untrusted peer", func() *http.Request {
			r := withCert(bearer(at), thief)
			r.RemoteAddr = "192.0.2.1:1234"
			r.Header.Set("Client-Cert", header(client))
			return r
		}, "client certificate does not match the token's cnf.x5t#S256"},
		{"trusted proxy forwarding the thief's certificate", func() *http.Request {
			r := bearer(at)
			r.RemoteAddr = "10.1.2.3:4567"
			r.Header.Set("Client-Cert", header(thief))
			return r
		}, "client certificate does not match the token's cnf.x5t#S256"},
		{"trusted proxy, two certificate headers", func() *http.Request {
			r := bearer(at)
			r.RemoteAddr = "10.1.2.3:4567"
			r.Header.Add("Client-Cert", header(client))
			r.Header.Add("Client-Cert", header(thief))
			return r
		}, "client certificate header malformed"},
		{"trusted proxy, garbage header", func() *http.Request {
			r := bearer(at)
			r.RemoteAddr = "10.1.2.3:4567"
			r.Header.Set("Client-Cert", "not:base64")
			return r
		}, "client certificate header malformed"},
		{"a bearer token on an mtls issuer", func() *http.Request { return withCert(bearer(token(t, "ec1", nil)), client) }, "issuer requires certificate-bound tokens"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkRefused(t, v, tc.req(), `Bearer error="invalid_token"`, tc.reason)
		})
	}
}
