package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/internal/gateway"
	"github.com/bulwark-go/bulwark/internal/redistest"
)

// lockedBuffer collects output written by the server goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServe runs `bulwark serve` in-process with configFile ("" for the
// default) on a free loopback port, and returns its base URL and captured
// output.
func startServe(t *testing.T, configFile string) (base string, stdout, stderr *lockedBuffer) {
	t.Helper()
	base, stdout, stderr, stop := startServeStoppable(t, configFile)
	t.Cleanup(stop)
	return base, stdout, stderr
}

// startServeStoppable is startServe with an explicit stop, which returns
// once the server has drained and exited (safe to call more than once).
func startServeStoppable(t *testing.T, configFile string) (base string, stdout, stderr *lockedBuffer, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr = &lockedBuffer{}, &lockedBuffer{}
	addrc := make(chan net.Addr, 1)
	done := make(chan int, 1)
	go func() {
		done <- serveMain(ctx, serveOptions{configFile: configFile, listen: "127.0.0.1:0", shutdownDelay: new(time.Duration), listening: func(pub, _ net.Addr) { addrc <- pub }}, stdout, stderr)
	}()
	select {
	case a := <-addrc:
		base = "http://" + a.String()
	case code := <-done:
		cancel()
		t.Fatalf("serve exited with %d before listening:\n%s", code, stderr)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("serve exited with %d:\n%s", code, stderr)
			}
		})
	}
	return base, stdout, stderr, stop
}

// The README's quick start: `bulwark serve` with no flags prints a key and
// a curl line, and that curl line gets a 200.
func TestServeDefaultQuickStart(t *testing.T) {
	// The README promises 127.0.0.1:8080; the test itself runs on a free
	// port, so that a developer's own `bulwark serve` cannot fail it.
	cfg, err := gateway.Parse(gateway.DefaultConfig(), ".")
	if err != nil || cfg.Listen != "127.0.0.1:8080" {
		t.Fatalf("the default configuration listens on %q (%v), want 127.0.0.1:8080", cfg.Listen, err)
	}
	base, _, stderr := startServe(t, "")
	curl := regexp.MustCompile(`curl -H '([^:]+): (\S+)' (\S+)`).FindStringSubmatch(stderr.String())
	if curl == nil {
		t.Fatalf("no curl line printed:\n%s", stderr)
	}
	if !strings.HasPrefix(curl[3], base) {
		t.Errorf("curl line targets %s, server is %s", curl[3], base)
	}
	req, _ := http.NewRequest("GET", curl[3], nil)
	req.Header.Set(curl[1], curl[2])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "hello") {
		t.Errorf("the printed curl line got %d %s", resp.StatusCode, body)
	}
}

// jwksServer is a local identity provider's key endpoint with one RSA key.
type jwksServer struct {
	*httptest.Server
	key *rsa.PrivateKey
}

func newJWKS(t *testing.T) *jwksServer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	jwks := fmt.Sprintf(`{"keys":[{"kty":"RSA","kid":"k1","alg":"RS256","use":"sig","n":%q,"e":%q}]}`,
		b64(key.N.Bytes()), b64(big.NewInt(int64(key.E)).Bytes()))
	s := &jwksServer{key: key}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, jwks)
	}))
	t.Cleanup(s.Close)
	return s
}

// token signs an RFC 9068 access token.
func (s *jwksServer) token(t *testing.T, aud, scope string) string {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	hdr := b64([]byte(`{"alg":"RS256","typ":"at+jwt","kid":"k1"}`))
	now := time.Now().Unix()
	claims, _ := json.Marshal(map[string]any{
		"iss": s.URL, "aud": aud, "sub": "svc-orders", "scope": scope,
		"iat": now, "exp": now + 300, "client_id": "svc-orders", "jti": fmt.Sprint(now, scope),
	})
	signing := hdr + "." + b64(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + b64(sig)
}

// The end-to-end test the gateway issue asks for: JWT against a local
// JWKS, API keys in SQLite managed by `bulwark keys`, rate limits in a real
// Redis, CORS, and a tamper-evident audit log that `bulwark audit verify`
// accepts — allow and deny paths for each.
func TestServeEndToEnd(t *testing.T) {
	redisAddr := redistest.Start(t)
	idp := newJWKS(t)
	dir := t.TempDir()
	t.Setenv("BULWARK_APIKEY_PEPPER", hex.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	auditKey := hex.EncodeToString(bytes.Repeat([]byte{9}, 32))
	if err := os.WriteFile(filepath.Join(dir, "audit.key"), []byte(auditKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"subject": r.Header.Get("X-Bulwark-Subject"), "method": r.Header.Get("X-Bulwark-Auth-Method"),
		})
	}))
	defer upstream.Close()

	cfgFile := filepath.Join(dir, "bulwark.yaml")
	cfg := fmt.Sprintf(`
listen: 127.0.0.1:0
upstream: %s
cors: {allowed_origins: [https://app.example.com], allowed_methods: [GET, POST], allowed_headers: [Authorization, Content-Type]}
auth:
  jwt: [{issuer: %s, audience: orders, jwks_url: %s/jwks, algorithms: [RS256]}]
  api_keys: {store: "sqlite://keys.db", header: X-API-Key, prefix: bwk_test}
ratelimit:
  store: redis://%s/0
  policies:
    - {name: per-ip, key: ip, limit: 100, period: 1m}
    - {name: tight, key: subject, limit: 3, period: 1h, burst: 3}
  default: [per-ip]
routes:
  - {path: /public/, auth: none}
  - {path: /v1/orders, auth: required, scopes: "orders:read", methods: [GET]}
  - {path: /v1/limited, auth: required, methods: [GET], ratelimit: [per-ip, tight]}
audit: {output: audit.log, hmac_key_file: audit.key}
`, upstream.URL, idp.URL, idp.URL, redisAddr)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	// `bulwark serve -check` validates the file without serving.
	var out, errOut bytes.Buffer
	if code := serveMain(context.Background(), serveOptions{configFile: cfgFile, check: true}, &out, &errOut); code != 0 {
		t.Fatalf("serve -check: %d\n%s", code, errOut.String())
	}
	// `bulwark keys create` on the same SQLite file the gateway uses.
	out.Reset()
	if code := run([]string{"keys", "create", "-config", cfgFile, "-name", "e2e", "-scopes", "orders:read", "--json"}, &out, &errOut); code != 0 {
		t.Fatalf("keys create: %d\n%s", code, errOut.String())
	}
	var created struct{ Key, ID string }
	if err := json.Unmarshal(out.Bytes(), &created); err != nil || created.Key == "" {
		t.Fatalf("keys create output %q: %v", out.String(), err)
	}

	base, _, stderr, stop := startServeStoppable(t, cfgFile)
	t.Cleanup(stop)
	call := func(method, path string, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

	steps := []struct {
		name   string
		method string
		path   string
		hdr    map[string]string
		status int
		check  func(*http.Response) string
	}{
		{"JWT with the scope", "GET", "/v1/orders", bearer(idp.token(t, "orders", "orders:read")), 200, nil},
		{"JWT for another audience", "GET", "/v1/orders", bearer(idp.token(t, "billing", "orders:read")), 401, nil},
		{"JWT without the scope", "GET", "/v1/orders", bearer(idp.token(t, "orders", "profile")), 403, func(r *http.Response) string {
			if !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
				return "no insufficient_scope challenge"
			}
			return ""
		}},
		{"SQLite API key", "GET", "/v1/orders", map[string]string{"X-API-Key": created.Key}, 200, nil},
		{"forged API key", "GET", "/v1/orders", map[string]string{"X-API-Key": created.Key[:len(created.Key)-2] + "zz"}, 401, nil},
		{"CORS preflight from the allowed origin", "OPTIONS", "/v1/orders", map[string]string{
			"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}, 204,
			func(r *http.Response) string {
				if r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
					return "no Access-Control-Allow-Origin"
				}
				return ""
			}},
		{"CORS preflight from another origin", "OPTIONS", "/v1/orders", map[string]string{
			"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}, 204,
			func(r *http.Response) string {
				if r.Header.Get("Access-Control-Allow-Origin") != "" {
					return "a refused origin was allowed"
				}
				return ""
			}},
	}
	for _, s := range steps {
		resp := call(s.method, s.path, s.hdr)
		if resp.StatusCode != s.status {
			t.Errorf("%s: status %d, want %d", s.name, resp.StatusCode, s.status)
			continue
		}
		if s.check != nil {
			if msg := s.check(resp); msg != "" {
				t.Errorf("%s: %s", s.name, msg)
			}
		}
	}

	// Redis rate limiting: the tight policy allows 3, then 429.
	tok := idp.token(t, "orders", "")
	for i := 1; i <= 4; i++ {
		resp := call("GET", "/v1/limited", bearer(tok))
		want := 200
		if i == 4 {
			want = 429
		}
		if resp.StatusCode != want {
			t.Errorf("limited call %d: %d, want %d", i, resp.StatusCode, want)
		}
		if !strings.Contains(resp.Header.Get("RateLimit-Policy")+strings.Join(resp.Header.Values("RateLimit-Policy"), ","), `"tight";q=3;w=3600`) {
			t.Errorf("limited call %d: RateLimit-Policy %q", i, resp.Header.Values("RateLimit-Policy"))
		}
		if i == 4 && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}

	// Revocation through `bulwark keys` takes effect on the running gateway
	// within the key cache TTL; a fresh key after revoke is refused at once
	// on a new gateway. Here: revoke, then check the CLI view.
	out.Reset()
	if code := run([]string{"keys", "revoke", "-config", cfgFile, created.ID}, &out, &errOut); code != 0 {
		t.Fatalf("keys revoke: %d\n%s", code, errOut.String())
	}
	if strings.Contains(stderr.String(), created.Key) {
		t.Error("the API key appeared on stderr")
	}

	// The gateway's audit log: the contract's fields, the principal on a
	// 403, no credential anywhere, and a chain `bulwark audit verify`
	// accepts once the gateway has stopped.
	stop()
	logFile := filepath.Join(dir, "audit.log")
	raw, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{created.Key, tok, "Bearer "} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("a credential reached the audit log: %.20q…", secret)
		}
	}
	var sawForbidden bool
	for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("audit line is not JSON: %s", line)
		}
		if rec["msg"] != "http.request" {
			continue
		}
		for _, k := range []string{"time", "request_id", "http.request.method", "url.path", "http.route", "http.response.status_code", "client.address"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("record lacks %s: %s", k, line)
			}
		}
		if rec["http.response.status_code"] == float64(403) {
			sawForbidden = true
			if rec["user.id"] != "svc-orders" {
				t.Errorf("403 record names user %v, want svc-orders", rec["user.id"])
			}
		}
	}
	if !sawForbidden {
		t.Error("no 403 record in the audit log")
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{"audit", "verify", "-key-file", filepath.Join(dir, "audit.key"), logFile}, &out, &errOut); code != 0 {
		t.Errorf("audit verify on the gateway's log: %d\n%s%s", code, out.String(), errOut.String())
	}
	// And a flipped byte is caught.
	tampered := bytes.Replace(raw, []byte(`"http.response.status_code":403`), []byte(`"http.response.status_code":200`), 1)
	tamperedFile := filepath.Join(dir, "tampered.log")
	if err := os.WriteFile(tamperedFile, tampered, 0o600); err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"audit", "verify", "-key-file", filepath.Join(dir, "audit.key"), tamperedFile}, &out, &errOut); code != 1 {
		t.Errorf("audit verify on a tampered gateway log: exit %d, want 1", code)
	}
}

// `serve -check` writes nothing: no audit record or chain start/end is
// appended, no SQLite file is created; every file is left byte-identical.
func TestServeCheckWritesNothing(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("BULWARK_APIKEY_PEPPER", hex.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	files := map[string]string{
		"audit.key": hex.EncodeToString(bytes.Repeat([]byte{9}, 32)) + "\n",
		"audit.log": `{"msg":"an earlier record"}` + "\n",
		"bulwark.yaml": `
listen: 127.0.0.1:0
auth:
  api_keys: {store: "sqlite://keys.db"}
routes: [{path: /v1/, auth: required}]
audit: {output: audit.log, hmac_key_file: audit.key}
`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	before := snapshot(t, dir)
	var out, errOut bytes.Buffer
	if code := serveMain(context.Background(), serveOptions{configFile: filepath.Join(dir, "bulwark.yaml"), check: true}, &out, &errOut); code != 0 {
		t.Fatalf("serve -check: %d\n%s", code, errOut.String())
	}
	if after := snapshot(t, dir); !maps.Equal(before, after) {
		t.Errorf("serve -check changed the folder:\nbefore %v\nafter  %v", before, after)
	}
	if !strings.Contains(out.String(), "configuration OK") {
		t.Errorf("serve -check printed %q", out.String())
	}
}

// snapshot maps every file in dir to its mode, size, modification time and
// content digest.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p) // #nosec G304 -- the test's own temp dir
		if err != nil {
			return err
		}
		out[p] = fmt.Sprintf("%v %d %v %x", info.Mode(), info.Size(), info.ModTime().UnixNano(), sha256.Sum256(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// `serve -check` warns of a route that can never match, with its line.
func TestServeCheckWarnsShadowedRoute(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "bulwark.yaml")
	if err := os.WriteFile(cfg, []byte("routes:\n  - {path: /v1/, auth: none}\n  - {path: /v1/admin/, auth: none}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := serveMain(context.Background(), serveOptions{configFile: cfg, check: true}, &out, &errOut); code != 0 {
		t.Fatalf("serve -check: %d\n%s", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), "warning") || !strings.Contains(errOut.String(), "line 3: routes[1]: never matches") {
		t.Errorf("serve -check printed no warning for the shadowed route:\n%s", errOut.String())
	}
}

// SIGHUP reloads: a changed file is served, a broken one is refused and
// the old configuration keeps serving.
func TestServeReloadOnSIGHUP(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.URL.Path) }))
	defer up.Close()
	cfg := filepath.Join(t.TempDir(), "bulwark.yaml")
	write := func(route string) {
		t.Helper()
		if err := os.WriteFile(cfg, []byte("upstream: "+up.URL+"\nroutes: [{path: "+route+", auth: none}]\naudit: {output: stderr}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("/one/")
	hup := make(chan os.Signal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan net.Addr, 1)
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- serveMain(ctx, serveOptions{configFile: cfg, listen: "127.0.0.1:0", reload: hup, shutdownDelay: new(time.Duration), listening: func(pub, _ net.Addr) { addrc <- pub }}, io.Discard, &stderr)
	}()
	base := "http://" + (<-addrc).String()
	status := func(path string) int {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	reload := func(want string) {
		t.Helper()
		hup <- syscall.SIGHUP
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(stderr.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q after SIGHUP:\n%s", want, stderr.String())
			}
			time.Sleep(10 * time.Millisecond) // the reload runs on its own goroutine
		}
	}
	write("/two/")
	reload("configuration reloaded")
	if status("/two/x") != 200 || status("/one/x") != 404 {
		t.Errorf("after SIGHUP the new routes are not served")
	}
	write("/three/ with a broken: [")
	reload("reload failed")
	if status("/two/x") != 200 {
		t.Errorf("a broken file replaced the configuration")
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve exited with %d", code)
	}
}

// log: {format: json} makes the operational log JSON lines with levels.
func TestServeLogsJSON(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "bulwark.yaml")
	if err := os.WriteFile(cfg, []byte("log: {format: json, level: info}\nroutes: [{path: /public/, auth: none}]\naudit: {output: stderr}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, stderr := startServe(t, cfg)
	found := false
	for line := range strings.SplitSeq(stderr.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["level"] == "INFO" && strings.HasPrefix(fmt.Sprint(rec["msg"]), "listening on http://") {
			found = true
		}
	}
	if !found {
		t.Errorf("no JSON log line says where it listens:\n%s", stderr)
	}
}
