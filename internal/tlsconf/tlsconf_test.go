package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/auth"
)

type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T, name string) *ca {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &ca{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns PEM cert and key for a leaf signed by c.
func (c *ca) issue(t *testing.T, serial int64, cn string, client bool, notAfter time.Time) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn, Organization: []string{"bulwark tests"}},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// serveTLS serves h with cfg on a loopback listener.
func serveTLS(t *testing.T, cfg *tls.Config, h http.Handler) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func servedSerial(t *testing.T, addr string, roots *x509.CertPool) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

func TestCertificateReload(t *testing.T) {
	root := newCA(t, "test root")
	roots := x509.NewCertPool()
	roots.AddCert(root.cert)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	c1, k1 := root.issue(t, 101, "api", false, time.Now().Add(time.Hour))
	write(t, certFile, c1)
	write(t, keyFile, k1)

	clk := &fakeClock{now: time.Now()}
	var logged []string
	var logMu sync.Mutex
	cfg, err := New(Options{CertFile: certFile, KeyFile: keyFile, Now: clk.Now, Logf: func(f string, a ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		logged = append(logged, f)
	}})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, cfg.TLS, http.NotFoundHandler())
	if s := servedSerial(t, addr, roots); s != 101 {
		t.Fatalf("serial %d, want 101", s)
	}

	// Rotation: new files are picked up without a restart.
	c2, k2 := root.issue(t, 102, "api", false, time.Now().Add(time.Hour))
	write(t, certFile, c2)
	write(t, keyFile, k2)
	if s := servedSerial(t, addr, roots); s != 101 {
		t.Errorf("reloaded before ReloadEvery: serial %d", s)
	}
	clk.Advance(11 * time.Second)
	if s := servedSerial(t, addr, roots); s != 102 {
		t.Errorf("after rotation: serial %d, want 102", s)
	}

	// Certificate file replaced with garbage while serving: the old
	// certificate is kept and the error reported.
	write(t, certFile, []byte("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n"))
	clk.Advance(11 * time.Second)
	if s := servedSerial(t, addr, roots); s != 102 {
		t.Errorf("after garbage: serial %d, want the previous 102", s)
	}
	if err := cfg.Reload(); err == nil {
		t.Error("Reload with a garbage certificate returned no error")
	}
	logMu.Lock()
	if len(logged) == 0 {
		t.Error("garbage certificate was not reported")
	}
	logMu.Unlock()
}

func TestProtocolSettings(t *testing.T) {
	root := newCA(t, "test root")
	dir := t.TempDir()
	c, k := root.issue(t, 1, "api", false, time.Now().Add(time.Hour))
	write(t, filepath.Join(dir, "c.pem"), c)
	write(t, filepath.Join(dir, "k.pem"), k)
	cfg, err := New(Options{CertFile: filepath.Join(dir, "c.pem"), KeyFile: filepath.Join(dir, "k.pem")})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, cfg.TLS, http.NotFoundHandler())
	roots := x509.NewCertPool()
	roots.AddCert(root.cert)
	for _, tc := range []struct {
		name string
		cfg  *tls.Config
		ok   bool
	}{
		{"TLS 1.1 refused", &tls.Config{RootCAs: roots, MaxVersion: tls.VersionTLS11}, false},
		{"TLS 1.2 CBC suite refused", &tls.Config{RootCAs: roots, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}, false},
		{"TLS 1.2 GCM accepted", &tls.Config{RootCAs: roots, MaxVersion: tls.VersionTLS12}, true},
		{"TLS 1.3 preferred", &tls.Config{RootCAs: roots, NextProtos: []string{"h2"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := tls.Dial("tcp", addr, tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("handshake err = %v, want ok=%v", err, tc.ok)
			}
			if err == nil {
				st := conn.ConnectionState()
				if tc.cfg.MaxVersion == 0 && (st.Version != tls.VersionTLS13 || st.NegotiatedProtocol != "h2") {
					t.Errorf("version %x proto %q, want TLS 1.3 with h2", st.Version, st.NegotiatedProtocol)
				}
				conn.Close()
			}
		})
	}
}

func TestMutualTLS(t *testing.T) {
	root := newCA(t, "server root")
	clients := newCA(t, "client root")
	other := newCA(t, "another root")
	dir := t.TempDir()
	c, k := root.issue(t, 1, "api", false, time.Now().Add(time.Hour))
	write(t, filepath.Join(dir, "c.pem"), c)
	write(t, filepath.Join(dir, "k.pem"), k)
	write(t, filepath.Join(dir, "clients.pem"), clients.pem)
	cfg, err := New(Options{CertFile: filepath.Join(dir, "c.pem"), KeyFile: filepath.Join(dir, "k.pem"), ClientCAFile: filepath.Join(dir, "clients.pem")})
	if err != nil {
		t.Fatal(err)
	}
	authn, err := auth.New(auth.Config{Authenticators: []auth.Authenticator{ClientCertAuthenticator{}}})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, cfg.TLS, authn.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFromContext(r.Context())
		_, _ = w.Write([]byte(p.Subject + " via " + p.Method))
	})))
	roots := x509.NewCertPool()
	roots.AddCert(root.cert)

	pair := func(ca *ca, notAfter time.Time) []tls.Certificate {
		cp, kp := ca.issue(t, 7, "batch-job", true, notAfter)
		cert, err := tls.X509KeyPair(cp, kp)
		if err != nil {
			t.Fatal(err)
		}
		return []tls.Certificate{cert}
	}
	get := func(certs []tls.Certificate) (int, string, error) {
		tc := &tls.Config{RootCAs: roots}
		if certs != nil {
			// Send the certificate even when it does not match the CAs the
			// server asks for, as an attacker's client would.
			tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &certs[0], nil }
		}
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
		defer client.CloseIdleConnections()
		resp, err := client.Get("https://" + addr + "/")
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 512)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		return resp.StatusCode, b.String(), nil
	}

	if code, body, err := get(pair(clients, time.Now().Add(time.Hour))); err != nil || code != 200 || !strings.Contains(body, "CN=batch-job") || !strings.HasSuffix(body, "via mtls") {
		t.Errorf("valid client certificate: %d %q %v", code, body, err)
	}
	if code, _, err := get(nil); err != nil || code != 401 {
		t.Errorf("no client certificate: %d %v, want 401 from auth", code, err)
	}
	if _, _, err := get(pair(clients, time.Now().Add(-time.Hour))); err == nil {
		t.Error("expired client certificate was accepted")
	}
	if _, _, err := get(pair(other, time.Now().Add(time.Hour))); err == nil {
		t.Error("client certificate from another CA was accepted")
	}
}

func TestOptionsErrors(t *testing.T) {
	for _, o := range []Options{
		{},
		{CertFile: "a", KeyFile: "b", ACME: &ACME{Domains: []string{"x.example"}, CacheDir: "d"}},
		{ACME: &ACME{}},
		{CertFile: "/nonexistent/c.pem", KeyFile: "/nonexistent/k.pem"},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
}
