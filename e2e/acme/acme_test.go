package acme

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"

	"github.com/bulwark-go/bulwark/internal/tlsconf"
)

// startPebble runs Pebble's ACME front end and management API on loopback
// and returns the directory URL, an HTTP client that trusts Pebble's own
// TLS certificate, and Pebble's issuing root.
func startPebble(t *testing.T) (dir string, client *http.Client, root *x509.CertPool) {
	t.Helper()
	// Validation always succeeds (nothing can reach example.test from
	// Pebble), without the artificial delays and bad-nonce injection.
	t.Setenv("PEBBLE_VA_ALWAYS_VALID", "1")
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")

	logger := log.New(io.Discard, "", 0)
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "default"}})
	validator := va.New(logger, 5002, 5001, false, "", store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 3, 5)

	acmeSrv := httptest.NewTLSServer(front.Handler())
	t.Cleanup(acmeSrv.Close)
	mgmt := httptest.NewTLSServer(front.ManagementHandler())
	t.Cleanup(mgmt.Close)

	resp, err := mgmt.Client().Get(mgmt.URL + "/roots/0")
	if err != nil {
		t.Fatalf("fetching Pebble's root: %v", err)
	}
	defer resp.Body.Close()
	pemRoot, _ := io.ReadAll(resp.Body)
	root = x509.NewCertPool()
	if !root.AppendCertsFromPEM(pemRoot) {
		t.Fatalf("Pebble's root is not PEM: %q", pemRoot)
	}
	return acmeSrv.URL + "/dir", acmeSrv.Client(), root
}

func TestACMEObtainsAndServesCertificate(t *testing.T) {
	dirURL, pebbleClient, root := startPebble(t)
	const domain = "api.example.test" // autocert refuses single-label names such as localhost

	cfg, err := tlsconf.New(tlsconf.Options{ACME: &tlsconf.ACME{
		Domains:      []string{domain},
		Email:        "ops@example.test",
		CacheDir:     t.TempDir(),
		DirectoryURL: dirURL,
		HTTPClient:   pebbleClient,
	}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg.TLS)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "served over ACME TLS")
		}),
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	// The client trusts only Pebble's root and asks for the configured name.
	addr := ln.Addr().String()
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: root, ServerName: domain},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	resp, err := client.Get("https://" + domain + "/")
	if err != nil {
		t.Fatalf("GET over the ACME certificate: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "served over ACME TLS" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	leaf := resp.TLS.PeerCertificates[0]
	if err := leaf.VerifyHostname(domain); err != nil {
		t.Errorf("certificate does not name %s: %v", domain, err)
	}
	if leaf.NotAfter.Before(time.Now().Add(24 * time.Hour)) {
		t.Errorf("certificate expires too soon: %v", leaf.NotAfter)
	}

	// A host outside the allow-list gets no certificate (autocert's host
	// policy), so nobody can make the server order certificates for names
	// of their choosing.
	bad := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: root, ServerName: "evil.example.test"},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	if _, err := bad.Get("https://evil.example.test/"); err == nil {
		t.Error("a host outside the ACME domains got a certificate")
	}
}
