package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/probe"
)

// probeJSON runs `bulwark probe ... --json` and returns the exit status
// and the status of each check.
func probeJSON(t *testing.T, args ...string) (int, map[string]string, string) {
	t.Helper()
	var out, errs lockedBuffer
	code := probeMain(context.Background(), append(args, "--json", "-rate", "500"), &out, &errs)
	var rep struct {
		Results []struct{ ID, Status, Evidence string }
	}
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
		t.Fatalf("exit %d, not a JSON report (%v):\n%s\n%s", code, err, out.String(), errs.String())
	}
	status := map[string]string{}
	var text strings.Builder
	for _, r := range rep.Results {
		status[r.ID] = r.Status
		text.WriteString(r.Status + " " + r.ID + ": " + r.Evidence + "\n")
	}
	return code, status, text.String()
}

// TestProbeQuickStart: the Done-when of the probe issue, against the
// gateway `bulwark serve` runs without a configuration and its demo key.
func TestProbeQuickStart(t *testing.T) {
	base, _, stderr := startServe(t, "")
	key := regexp.MustCompile(`bwk_live_\w+`).FindString(stderr.String())
	if key == "" {
		t.Fatalf("no demo key:\n%s", stderr)
	}
	// Without options: the general checks, exit 0.
	var out, errs lockedBuffer
	if code := probeMain(context.Background(), []string{"-target", base}, &out, &errs); code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", code, out.String(), errs.String())
	}
	if !strings.Contains(out.String(), "STATUS  SEVERITY") || !strings.Contains(out.String(), "score 100/100") {
		t.Errorf("table:\n%s", out.String())
	}
	// With the key: the API key checks too. The quick start's per-IP
	// limit (burst 20) paces the probe; the API key checks fit in it.
	t.Setenv("BULWARK_PROBE_API_KEY", key)
	code, status, text := probeJSON(t, "-target", base, "-protected", "/v1/hello", "-public", "/public/health", "-only", "apikey.", "-only", "authn.")
	if code != 0 || status["apikey.truncated"] != "pass" || status["authn.required"] != "pass" {
		t.Errorf("exit %d:\n%s", code, text)
	}
	if strings.Contains(text, key) {
		t.Error("the report shows the API key")
	}
}

// gatewayWithJWT writes a configuration close to a production one: a JWT
// issuer (a local identity provider), CORS for one origin, the demo API,
// limits high enough for the probe's pace.
func gatewayWithJWT(t *testing.T) (base string, idp *jwksServer, keyFile string) {
	idp = newJWKS(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bulwark.yaml")
	writeFile(t, cfg, `
listen: 127.0.0.1:8080
auth:
  jwt: [{issuer: `+idp.URL+`, audience: api, jwks_url: `+idp.URL+`/jwks, algorithms: [RS256]}]
cors: {allowed_origins: [https://app.example.com]}
ratelimit:
  policies: [{name: per-ip, key: ip, limit: 3000, period: 1m, burst: 1000}]
  default: [per-ip]
routes:
  - {path: /public/, auth: none, methods: [GET]}
  - {path: /v1/, auth: required, methods: [GET, POST], json: true, max_body: 64KiB}
`)
	der, err := x509.MarshalPKCS8PrivateKey(idp.key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile = filepath.Join(dir, "idp-key.pem")
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	base, _, _ = startServe(t, cfg)
	return base, idp, keyFile
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestProbeGatewayPassesEverything: with an issuer, its signing key, a
// token, an origin and a JSON path, every check that applies over plain
// HTTP passes against bulwark serve.
func TestProbeGatewayPassesEverything(t *testing.T) {
	base, idp, keyFile := gatewayWithJWT(t)
	tok := idp.token(t, "api", "orders:read")
	t.Setenv("BULWARK_PROBE_TOKEN", tok)
	code, status, text := probeJSON(t, "-target", base, "-protected", "/v1/hello", "-public", "/public/health",
		"-issuer", idp.URL, "-jwks-url", idp.URL+"/jwks", "-audience", "api", "-signing-key", keyFile, "-signing-key-id", "k1",
		"-allowed-origin", "https://app.example.com", "-json-path", "/v1/echo", "-fail-on", "info")
	if code != 0 {
		t.Errorf("exit %d", code)
	}
	for id, s := range status {
		// HTTPS is TestProbeOverTLS's; API keys TestProbeQuickStart's.
		if s != "pass" && !strings.HasPrefix(id, "https.") && id != "headers.hsts" && !strings.HasPrefix(id, "apikey.") {
			t.Errorf("%s: %s", id, s)
		}
	}
	if t.Failed() || strings.Contains(text, tok) {
		t.Logf("report:\n%s", text)
	}
	if strings.Contains(text, tok) {
		t.Error("the report shows the token")
	}
}

// TestProbeBareProxyFails: the same API behind a bare
// httputil.ReverseProxy, the usual hand-rolled gateway. The suite must
// tell the two apart: exit 1, and the failures a bare proxy has.
func TestProbeBareProxyFails(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A typical upstream: trusts the gateway to have authenticated,
		// reads the user its proxy names, announces itself.
		w.Header().Set("Server", "gunicorn/21.2.0")
		w.Header().Set("X-Powered-By", "Flask")
		switch {
		case r.URL.Path == "/v1/hello" || r.URL.Path == "/public/health":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"hello":"`+r.Header.Get("X-Forwarded-User")+`"}`)
		case r.URL.Path == "/v1/echo" && r.Method == http.MethodPost:
			var v any
			if err := json.NewDecoder(r.Body).Decode(&v); err != nil {
				http.Error(w, "Traceback (most recent call last):\n  File \"/app/api.py\", line 42, in echo", http.StatusInternalServerError)
				return
			}
			_ = json.NewEncoder(w).Encode(v)
		default:
			http.Error(w, "<center>nginx/1.22.1</center> upstream 10.0.3.7:8080", http.StatusNotFound)
		}
	}))
	t.Cleanup(app.Close)
	u, _ := url.Parse(app.URL)
	proxy := httptest.NewServer(httputil.NewSingleHostReverseProxy(u))
	t.Cleanup(proxy.Close)

	code, status, text := probeJSON(t, "-target", proxy.URL, "-protected", "/v1/hello", "-public", "/public/health", "-json-path", "/v1/echo")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, id := range []string{"authn.required", "spoof.identity-header", "smuggling.cl-te", "smuggling.te-cl",
		"headers.nosniff", "headers.fingerprint", "input.duplicate-keys", "input.trailing-data", "leak.error-details",
		"leak.internal-address", "leak.version-in-body", "ratelimit.signalled"} {
		if status[id] != "fail" {
			t.Errorf("%s: %s, want fail", id, status[id])
		}
	}
	if t.Failed() {
		t.Logf("report:\n%s", text)
	}
}

func TestProbeUsage(t *testing.T) {
	var out, errs lockedBuffer
	if code := probeMain(context.Background(), []string{"-h"}, &out, &errs); code != 0 || !strings.Contains(out.String(), "bulwark probe -target URL") {
		t.Errorf("-h: exit %d\n%s", code, out.String())
	}
	if code := probeMain(context.Background(), nil, &out, &errs); code != 2 {
		t.Errorf("no target: exit %d", code)
	}
	if code := probeMain(context.Background(), []string{"-target", "http://x", "-fail-on", "severe"}, &out, &errs); code != 2 {
		t.Errorf("bad -fail-on: exit %d", code)
	}
	out = lockedBuffer{}
	if code := probeMain(context.Background(), []string{"-list"}, &out, &errs); code != 0 || !strings.Contains(out.String(), "path.dot-segment-bypass") {
		t.Errorf("-list: exit %d\n%s", code, out.String())
	}
}

// TestProbeDerivesFromServeConfig: -config with a bulwark serve file
// gives the target, the routes, the origin and the issuer.
func TestProbeDerivesFromServeConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bulwark.yaml")
	writeFile(t, cfg, `
listen: 0.0.0.0:9443
upstream: http://127.0.0.1:9
auth:
  api_keys: {store: memory, header: X-Key, prefix: bwk_live}
cors: {allowed_origins: [https://app.example.com]}
routes:
  - {path: /public/, auth: none, methods: [GET]}
  - {path: /v1/, methods: [GET]}
`)
	o := probeOptionsFor(t, cfg)
	if o.Target != "http://127.0.0.1:9443" || len(o.Protected) != 1 || o.Protected[0] != "/v1/" || o.Public[0] != "/public/" ||
		o.AllowedOrigin != "https://app.example.com" || o.APIKeyHeader != "X-Key" {
		t.Errorf("%+v", o)
	}
	pf := filepath.Join(dir, "probe.yaml")
	writeFile(t, pf, "target: https://api.example.com\nprotected: [/v1/orders]\nrate: 5\n")
	o = probeOptionsFor(t, pf)
	if o.Target != "https://api.example.com" || o.Protected[0] != "/v1/orders" || o.Rate != 5 {
		t.Errorf("%+v", o)
	}
	writeFile(t, pf, "target: https://api.example.com\ntoken: secret\n")
	if err := probeConfig(pf, new(probeOptions), map[string]bool{}); err == nil || !strings.Contains(err.Error(), "token") {
		t.Errorf("a probe file with a credential: %v", err)
	}
}

type probeOptions = probe.Options

func probeOptionsFor(t *testing.T, path string) probe.Options {
	t.Helper()
	o := probe.Options{Rate: 20}
	if err := probeConfig(path, &o, map[string]bool{}); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestProbeOverTLS: bulwark serve with its own certificate refuses plain
// HTTP on its port, TLS 1.0/1.1, RSA key exchange and CBC suites, and
// sends HSTS.
func TestProbeOverTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := selfSigned(t, dir)
	cfg := filepath.Join(dir, "bulwark.yaml")
	writeFile(t, cfg, `
listen: 127.0.0.1:8443
tls: {cert_file: `+certFile+`, key_file: `+keyFile+`}
auth:
  api_keys: {store: memory}
routes:
  - {path: /public/, auth: none, methods: [GET]}
  - {path: /v1/, methods: [GET]}
`)
	base, _, _ := startServe(t, cfg)
	base = "https://" + strings.TrimPrefix(base, "http://")
	code, status, text := probeJSON(t, "-target", base, "-public", "/public/health", "-insecure-skip-verify", "-only", "https.", "-only", "headers.hsts")
	for _, id := range []string{"https.plain-http", "https.old-tls", "https.weak-ciphers", "headers.hsts"} {
		if status[id] != "pass" {
			t.Errorf("%s: %s", id, status[id])
		}
	}
	if code != 0 || t.Failed() {
		t.Errorf("exit %d:\n%s", code, text)
	}
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(k)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})))
	return certFile, keyFile
}
