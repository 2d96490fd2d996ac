package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// `bulwark serve` with tls: HTTPS with HTTP/2 and HSTS, no plain HTTP on
// the port, and the API profile refuses nothing it should not.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	_ = os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)

	cfg, err := Parse([]byte("listen: 127.0.0.1:0\ntls: {cert_file: cert.pem, key_file: key.pem}\nroutes: [{path: /public/, auth: none}]\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Build(cfg, Options{AuditWriter: &syncBuffer{}, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx, func(pub, _ net.Addr) { addrc <- pub }) }()
	addr := (<-addrc).String()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://" + addr + "/public/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Errorf("HTTPS: %d over HTTP/%d, want 200 over HTTP/2", resp.StatusCode, resp.ProtoMajor)
	}
	if resp.Header.Get("Strict-Transport-Security") != "max-age=63072000; includeSubDomains" {
		t.Errorf("HSTS = %q", resp.Header.Get("Strict-Transport-Security"))
	}
	// Plain HTTP on the same port gets no HTTP answer (Go's TLS server
	// replies with a 400 naming the problem, never the API).
	plain := &http.Client{Timeout: 5 * time.Second}
	if resp, err := plain.Get("http://" + addr + "/public/health"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP reached the API on the TLS port")
		}
	}
}

// testCA is a private CA for upstream TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a certificate and key signed by c, for a server name or a
// client.
func (c *testCA) issue(t *testing.T, serial int64, dns string, client bool) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: dns},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, DNSNames: []string{dns},
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func writePEM(t *testing.T, dir, name string, blocks ...*pem.Block) string {
	t.Helper()
	var b []byte
	for _, bl := range blocks {
		b = append(b, pem.EncodeToMemory(bl)...)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// An https service with a private CA, a server name other than the
// target's address, and mutual TLS: without the client certificate the
// upstream refuses the handshake; with it, it serves.
func TestServiceMutualTLS(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "client "+r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	up.TLS = &tls.Config{
		Certificates: []tls.Certificate{ca.issue(t, 2, "billing.internal", false)},
		ClientAuth:   tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12,
	}
	up.StartTLS()
	t.Cleanup(up.Close)
	client := ca.issue(t, 3, "gateway", true)
	keyDER, _ := x509.MarshalECPrivateKey(client.PrivateKey.(*ecdsa.PrivateKey))
	caFile := writePEM(t, dir, "ca.pem", &pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
	certFile := writePEM(t, dir, "gw.pem", &pem.Block{Type: "CERTIFICATE", Bytes: client.Certificate[0]})
	keyFile := writePEM(t, dir, "gw-key.pem", &pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	for _, tc := range []struct {
		name, extra string
		status      int
	}{
		{"with the client certificate", "client_cert_file: " + certFile + "\n    client_key_file: " + keyFile, 200},
		{"without it", "", 502},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := buildWith(t, "services:\n  billing:\n    targets: ["+up.URL+"]\n    ca_file: "+caFile+"\n    server_name: billing.internal\n    "+tc.extra+"\nroutes: [{path: /, service: billing, auth: none}]\n", Options{})
			rec := get(g.Handler(), "x", "/")
			if rec.Code != tc.status {
				t.Errorf("status %d %s, want %d", rec.Code, rec.Body, tc.status)
			}
			if tc.status == 200 && rec.Body.String() != "client gateway" {
				t.Errorf("the upstream saw %q", rec.Body)
			}
		})
	}
}
