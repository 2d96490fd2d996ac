package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/internal/tlsconf"
)

// BenchmarkTLSHandshake compares a full TLS handshake against the gateway's
// TLS configuration (internal/tlsconf: TLS 1.2+, AEAD suites, certificate
// reload check on each handshake) with a bare tls.Config serving the same
// certificate. Each iteration dials a new connection and completes the
// handshake.
func BenchmarkTLSHandshake(b *testing.B) {
	dir := b.TempDir()
	certFile, keyFile, pool := selfSigned(b, dir)
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		b.Fatal(err)
	}
	gw, err := tlsconf.New(tlsconf.Options{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		cfg  *tls.Config
	}{
		{"bare-tls", &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}},
		{"bulwark-serve", gw.TLS},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ln, err := tls.Listen("tcp", "127.0.0.1:0", bc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						_ = c.(*tls.Conn).Handshake()
						_ = c.Close()
					}()
				}
			}()
			client := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
			b.ReportAllocs()
			for b.Loop() {
				c, err := tls.Dial("tcp", ln.Addr().String(), client)
				if err != nil {
					b.Fatal(err)
				}
				_ = c.Close()
			}
		})
	}
}

func selfSigned(b *testing.B, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	b.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		b.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
