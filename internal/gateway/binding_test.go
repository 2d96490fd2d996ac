package gateway

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/auth/jwt"
	"github.com/bulwark-go/bulwark/internal/redistest"
)

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// testIdP serves an Ed25519 JWKS and signs tokens with its key.
type testIdP struct {
	URL  string
	priv ed25519.PrivateKey
	seq  atomic.Int64
}

func newTestIdP(t *testing.T) *testIdP {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	body := `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","alg":"EdDSA","use":"sig","x":"` + b64u(pub) + `"}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return &testIdP{URL: srv.URL, priv: priv}
}

// sign is a compact JWS over header and claims with an Ed25519 key.
func signEd(priv ed25519.PrivateKey, header, claims map[string]any) string {
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	in := b64u(hb) + "." + b64u(cb)
	return in + "." + b64u(ed25519.Sign(priv, []byte(in)))
}

// token is an access token for audience a, with claim overrides.
func (p *testIdP) token(over map[string]any) string {
	now := time.Now()
	c := map[string]any{"iss": p.URL, "aud": "a", "sub": "user-1", "iat": now.Add(-time.Minute).Unix(),
		"exp": now.Add(5 * time.Minute).Unix(), "jti": "at-" + strconv.FormatInt(p.seq.Add(1), 10), "client_id": "c"}
	for k, v := range over {
		c[k] = v
	}
	return signEd(p.priv, map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": "k1"}, c)
}

// logoutToken is an OIDC back-channel logout token for client id aud.
func (p *testIdP) logoutToken(aud string, over map[string]any) string {
	c := map[string]any{"iss": p.URL, "aud": aud, "iat": time.Now().Unix(), "jti": "lt-" + strconv.FormatInt(p.seq.Add(1), 10),
		"sid": "session-1", "events": map[string]any{jwt.LogoutEvent: map[string]any{}}}
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return signEd(p.priv, map[string]any{"alg": "EdDSA", "typ": "logout+jwt", "kid": "k1"}, c)
}

// clientKey is a client's DPoP key (Ed25519) and its RFC 7638 thumbprint.
type clientKey struct {
	priv ed25519.PrivateKey
	jwk  map[string]any
	jkt  string
	seq  atomic.Int64
}

func newClientKey() *clientKey {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	x := b64u(pub)
	sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + x + `"}`))
	return &clientKey{priv: priv, jwk: map[string]any{"kty": "OKP", "crv": "Ed25519", "x": x}, jkt: b64u(sum[:])}
}

func (k *clientKey) proof(method, htu, token string) string {
	ath := sha256.Sum256([]byte(token))
	return signEd(k.priv, map[string]any{"typ": "dpop+jwt", "alg": "EdDSA", "jwk": k.jwk}, map[string]any{
		"jti": "p-" + strconv.FormatInt(k.seq.Add(1), 10), "htm": method, "htu": htu, "iat": time.Now().Unix(), "ath": b64u(ath[:]),
	})
}

func bindingYAML(idp, upstream, extra, routes string) string {
	return "upstream: " + upstream + "\nauth:\n  jwt: [{issuer: " + idp + ", audience: a, jwks_url: " + idp + "/jwks, algorithms: [EdDSA]" + extra + "}]\n" +
		"routes:\n" + routes
}

// call sends a request from addr with the given Authorization, DPoP and
// other headers.
func call(h http.Handler, method, target, addr string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = addr
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

const client = "198.51.100.7:5000"

// TestGatewayBinding: auth.jwt[].binding and routes[].binding reach the
// verifier; a token carrying cnf is held to it on a route without a
// binding; the attacks a thief with a copied token would try are refused
// through the whole gateway, with RFC 9449 challenges.
func TestGatewayBinding(t *testing.T) {
	idp := newTestIdP(t)
	up := newBackend(t, "up", nil)
	routes := "  - {path: /open/, auth: required}\n  - {path: /dpop/, auth: required, binding: dpop}\n"
	g := buildWith(t, bindingYAML(idp.URL, up.URL, "", routes), Options{})
	h := g.Handler()
	k, thief := newClientKey(), newClientKey()
	bound := idp.token(map[string]any{"cnf": map[string]any{"jkt": k.jkt}})
	plain := idp.token(nil)
	const base = "http://example.com"

	if rec := call(h, "GET", base+"/open/x", client, map[string]string{"Authorization": "Bearer " + plain}); rec.Code != 200 {
		t.Fatalf("bearer token on a route without binding = %d, want 200", rec.Code)
	}
	proof := k.proof("GET", base+"/open/x", bound)
	if rec := call(h, "GET", base+"/open/x", client, map[string]string{"Authorization": "DPoP " + bound, "DPoP": proof}); rec.Code != 200 {
		t.Fatalf("DPoP-bound token with its proof = %d %s, want 200", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	for _, tc := range []struct {
		name, target string
		hdr          map[string]string
		code         int
		challenge    string
	}{
		{"attack: replayed proof", "/open/x", map[string]string{"Authorization": "DPoP " + bound, "DPoP": proof}, 401, `error="invalid_dpop_proof"`},
		{"attack: bound token sent as Bearer on a route without binding", "/open/x", map[string]string{"Authorization": "Bearer " + bound}, 401, "DPoP"},
		{"attack: proof from the thief's key", "/open/x", map[string]string{"Authorization": "DPoP " + bound, "DPoP": thief.proof("GET", base+"/open/x", bound)}, 401, "DPoP"},
		{"attack: proof for another URL", "/dpop/x", map[string]string{"Authorization": "DPoP " + bound, "DPoP": k.proof("GET", base+"/open/x", bound)}, 401, `error="invalid_dpop_proof"`},
		{"attack: canonical-path trick", "/open/../dpop/x", map[string]string{"Authorization": "DPoP " + bound, "DPoP": k.proof("GET", base+"/open/x", bound)}, 401, `error="invalid_dpop_proof"`},
		{"attack: proof for another method", "/open/x", map[string]string{"Authorization": "DPoP " + bound, "DPoP": k.proof("POST", base+"/open/x", bound)}, 401, `error="invalid_dpop_proof"`},
		{"bearer token on a dpop route", "/dpop/x", map[string]string{"Authorization": "Bearer " + plain}, 401, `DPoP error="invalid_token", algs="`},
		{"bound token on a dpop route", "/dpop/x", map[string]string{"Authorization": "DPoP " + bound, "DPoP": k.proof("GET", base+"/dpop/x", bound)}, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := call(h, "GET", base+tc.target, client, tc.hdr)
			if rec.Code != tc.code {
				t.Fatalf("GET %s = %d, want %d (WWW-Authenticate %q)", tc.target, rec.Code, tc.code, rec.Header().Values("WWW-Authenticate"))
			}
			if tc.challenge != "" && !strings.Contains(strings.Join(rec.Header().Values("WWW-Authenticate"), ", "), tc.challenge) {
				t.Errorf("WWW-Authenticate = %q, want it to hold %q", rec.Header().Values("WWW-Authenticate"), tc.challenge)
			}
			if strings.Contains(rec.Body.String(), bound) {
				t.Error("the response echoes the token")
			}
		})
	}

	// The issuer's binding holds on every route.
	g2 := buildWith(t, bindingYAML(idp.URL, up.URL, ", binding: dpop", "  - {path: /, auth: required}\n"), Options{})
	if rec := call(g2.Handler(), "GET", base+"/x", client, map[string]string{"Authorization": "Bearer " + plain}); rec.Code != 401 {
		t.Errorf("bearer token of an issuer with binding: dpop = %d, want 401", rec.Code)
	}
}

// TestGatewayReplayStoreIsTheFleetsRedis: with ratelimit.store on Redis
// the DPoP replay store is that Redis, so a proof replayed to another
// instance is refused there.
func TestGatewayReplayStoreIsTheFleetsRedis(t *testing.T) {
	addr := redistest.Start(t)
	idp := newTestIdP(t)
	up := newBackend(t, "up", nil)
	yaml := bindingYAML(idp.URL, up.URL, "", "  - {path: /, auth: required}\n") +
		"ratelimit:\n  store: redis://" + addr + "/0\n  policies: [{name: p, key: ip, limit: 1000, period: 1m}]\n"
	cfg, err := Parse([]byte(yaml), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got := replayStoreURL(cfg); got != "redis://"+addr+"/0" {
		t.Fatalf("replayStoreURL = %q, want the ratelimit Redis", got)
	}
	a, b := buildWith(t, yaml, Options{}), buildWith(t, yaml, Options{})
	k := newClientKey()
	bound := idp.token(map[string]any{"cnf": map[string]any{"jkt": k.jkt}})
	hdr := map[string]string{"Authorization": "DPoP " + bound, "DPoP": k.proof("GET", "http://example.com/x", bound)}
	if rec := call(a.Handler(), "GET", "http://example.com/x", client, hdr); rec.Code != 200 {
		t.Fatalf("first use on instance A = %d, want 200", rec.Code)
	}
	if rec := call(b.Handler(), "GET", "http://example.com/x", client, hdr); rec.Code != 401 {
		t.Fatalf("attack: proof replayed to instance B = %d, want 401", rec.Code)
	}
	// Without Redis anywhere it is memory.
	cfg.RateLimit.Store = ""
	if got := replayStoreURL(cfg); got != "memory" {
		t.Errorf("replayStoreURL without Redis = %q, want memory", got)
	}
}

func clientCert(t *testing.T) *x509.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// TestGatewayCertificateBoundToken: a token bound to a client certificate
// is accepted with the connection's certificate, or with the certificate
// header of a trusted proxy, and refused with the same header from anyone
// else (a client forging the header it knows the proxy sets).
func TestGatewayCertificateBoundToken(t *testing.T) {
	idp := newTestIdP(t)
	up := newBackend(t, "up", nil)
	yaml := bindingYAML(idp.URL, up.URL, "", "  - {path: /, auth: required, binding: mtls}\n") +
		"trusted_proxies: [10.0.0.0/8]\n"
	yaml = strings.Replace(yaml, "auth:\n", "auth:\n  mtls: {certificate_header: Client-Cert}\n", 1)
	g := buildWith(t, yaml, Options{})
	h := g.Handler()
	cert, other := clientCert(t), clientCert(t)
	sum := sha256.Sum256(cert.Raw)
	bound := idp.token(map[string]any{"cnf": map[string]any{"x5t#S256": b64u(sum[:])}})
	header := ":" + base64.StdEncoding.EncodeToString(cert.Raw) + ":"
	auth := "Bearer " + bound

	r := httptest.NewRequest("GET", "https://example.com/x", nil)
	r.RemoteAddr = client
	r.Header.Set("Authorization", auth)
	r.TLS = &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: []*x509.Certificate{cert}}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != 200 {
		t.Fatalf("certificate of the connection = %d, want 200", rec.Code)
	}
	r = r.Clone(r.Context())
	r.TLS.PeerCertificates = []*x509.Certificate{other}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != 401 {
		t.Errorf("attack: bound token over a connection with another certificate = %d, want 401", rec.Code)
	}
	for _, tc := range []struct {
		name, from string
		code       int
	}{
		{"certificate header from the trusted proxy", "10.1.2.3:443", 200},
		{"attack: certificate header forged by the client", client, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := call(h, "GET", "http://example.com/x", tc.from, map[string]string{"Authorization": auth, "Client-Cert": header, "X-Forwarded-Proto": "https"})
			if rec.Code != tc.code {
				t.Errorf("GET from %s = %d, want %d", tc.from, rec.Code, tc.code)
			}
		})
	}
	if rec := call(h, "GET", "http://example.com/x", client, map[string]string{"Authorization": "Bearer " + idp.token(nil)}); rec.Code != 401 {
		t.Errorf("unbound token on a binding: mtls route = %d, want 401", rec.Code)
	}
}

func postLogout(h http.Handler, token string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "http://example.com"+BackchannelLogoutPath, strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
	r.RemoteAddr = "192.0.2.1:4000"
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// TestBackchannelLogout: a logout token from the provider ends the
// session at once for JWTs that are still unexpired; a forged, replayed
// elsewhere, or misaddressed one is refused with invalid_request and ends
// nothing.
func TestBackchannelLogout(t *testing.T) {
	idp := newTestIdP(t)
	up := newBackend(t, "up", nil)
	yaml := bindingYAML(idp.URL, up.URL, ", backchannel_logout: {client_ids: [rp-1]}", "  - {path: /, auth: required}\n")
	audit := &syncBuffer{}
	g := buildWith(t, yaml, Options{AuditWriter: audit})
	h := g.Handler()
	inSession := idp.token(map[string]any{"sid": "session-1"})
	otherSession := idp.token(map[string]any{"sid": "session-2"})
	get := func(tok string) int {
		return call(h, "GET", "http://example.com/x", client, map[string]string{"Authorization": "Bearer " + tok}).Code
	}
	if c := get(inSession); c != 200 {
		t.Fatalf("before logout = %d, want 200", c)
	}
	_, evil, _ := ed25519.GenerateKey(rand.Reader)
	forged := signEd(evil, map[string]any{"alg": "EdDSA", "typ": "logout+jwt", "kid": "k1"}, map[string]any{
		"iss": idp.URL, "aud": "rp-1", "iat": time.Now().Unix(), "jti": "x", "sid": "session-1", "events": map[string]any{jwt.LogoutEvent: map[string]any{}}})
	for _, tc := range []struct{ name, token string }{
		{"attack: forged logout token", forged},
		{"attack: logout token for another client", idp.logoutToken("rp-2", nil)},
		{"attack: an access token as logout token", inSession},
		{"attack: logout token without the event", idp.logoutToken("rp-1", map[string]any{"events": nil})},
		{"attack: old logout token replayed from a log", idp.logoutToken("rp-1", map[string]any{"iat": time.Now().Add(-time.Hour).Unix()})},
		{"garbage", "not a jwt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := postLogout(h, tc.token)
			if rec.Code != 400 || !strings.Contains(rec.Body.String(), `"invalid_request"`) {
				t.Errorf("POST %s = %d %s, want 400 invalid_request", BackchannelLogoutPath, rec.Code, rec.Body)
			}
			if get(inSession) != 200 {
				t.Error("a refused logout token ended the session")
			}
		})
	}
	if rec := call(h, "GET", "http://example.com"+BackchannelLogoutPath, client, nil); rec.Code != 405 {
		t.Errorf("GET %s = %d, want 405", BackchannelLogoutPath, rec.Code)
	}
	rec := postLogout(h, idp.logoutToken("rp-1", nil))
	if rec.Code != 200 || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("POST %s = %d (Cache-Control %q), want 200 no-store", BackchannelLogoutPath, rec.Code, rec.Header().Get("Cache-Control"))
	}
	if c := get(inSession); c != 401 {
		t.Errorf("token of the logged-out session = %d, want 401", c)
	}
	logged := false
	for _, rec := range audit.records(t) {
		if rec["url.path"] == BackchannelLogoutPath && rec["http.response.status_code"] == float64(200) {
			logged = rec["http.route"] == BackchannelLogoutPath
		}
	}
	if !logged {
		t.Errorf("no audit record of the logout with http.route %s", BackchannelLogoutPath)
	}
	if c := get(otherSession); c != 200 {
		t.Errorf("token of another session = %d, want 200", c)
	}
	// The admin listener's POST /denylist denies by jti.
	victim := idp.token(map[string]any{"jti": "leaked-1"})
	if c := get(victim); c != 200 {
		t.Fatalf("before POST /denylist = %d, want 200", c)
	}
	body := `{"kind":"jti","issuer":"` + idp.URL + `","value":"leaked-1"}`
	r := httptest.NewRequest("POST", "/denylist", strings.NewReader(body))
	arec := httptest.NewRecorder()
	g.AdminHandler().ServeHTTP(arec, r)
	if arec.Code != 200 {
		t.Fatalf("POST /denylist = %d %s, want 200", arec.Code, arec.Body)
	}
	if c := get(victim); c != 401 {
		t.Errorf("token denied by jti = %d, want 401", c)
	}
	for _, bad := range []string{`{"kind":"nope","issuer":"x","value":"y"}`, `{"kind":"jti","issuer":"","value":"y"}`, `not json`, `{"kind":"jti","issuer":"x","value":"y","extra":1}`} {
		arec := httptest.NewRecorder()
		g.AdminHandler().ServeHTTP(arec, httptest.NewRequest("POST", "/denylist", strings.NewReader(bad)))
		if arec.Code != 400 {
			t.Errorf("POST /denylist %s = %d, want 400", bad, arec.Code)
		}
	}
	m := do(g.AdminHandler(), "GET", "/metrics", nil, "").Body.String()
	for _, want := range []string{`bulwark_backchannel_logouts_total{result="ok"} 1`, `bulwark_backchannel_logouts_total{result="invalid"} 7`,
		`bulwark_denylist_added_total{source="admin"} 1`, `bulwark_denylist_added_total{source="backchannel_logout"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestBindingConfigProblems: every mistake is reported with its line and
// key path, as the loader reports the others.
func TestBindingConfigProblems(t *testing.T) {
	src := `upstream: http://127.0.0.1:1
auth:
  dpop: {replay_store: "memcached://x"}
  denylist: {store: "mysql://x", resync: 1ms}
  jwt:
    - {issuer: http://idp.example.com, audience: a, jwks_url: http://idp.example.com/jwks, binding: sometimes, backchannel_logout: {client_ids: []}}
  mtls: {certificate_header: Client-Cert}
  api_keys: {store: memory, notify: "kafka://x"}
routes:
  - {path: /a/, auth: required, binding: dpop-ish}
  - {path: /b/, auth: none, binding: dpop}
`
	_, err := Parse([]byte(src), t.TempDir())
	if err == nil {
		t.Fatal("Parse accepted a broken config")
	}
	msg := err.Error()
	for _, w := range []string{
		"line 3: auth.dpop.replay_store",
		"line 4: auth.denylist.store",
		"line 4: auth.denylist.resync",
		"line 6: auth.jwt[0].binding",
		"line 6: auth.jwt[0].backchannel_logout.client_ids",
		"line 7: auth.mtls.certificate_header: needs trusted_proxies",
		"line 8: auth.api_keys.notify",
		"line 10: routes[0].binding",
		"line 11: routes[1].binding",
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("missing %q in:\n%s", w, msg)
		}
	}
}

// TestBackchannelLogoutReachesTheFleet: a logout posted to one instance
// ends the session on another that shares the deny-list's store (one
// SQLite file) within a second.
func TestBackchannelLogoutReachesTheFleet(t *testing.T) {
	idp := newTestIdP(t)
	up := newBackend(t, "up", nil)
	yaml := strings.Replace(bindingYAML(idp.URL, up.URL, ", backchannel_logout: {client_ids: [rp-1]}", "  - {path: /, auth: required}\n"),
		"auth:\n", "auth:\n  denylist: {store: sqlite://deny.db}\n", 1)
	dir := t.TempDir()
	build := func() *Gateway {
		cfg, err := Parse([]byte(yaml), dir)
		if err != nil {
			t.Fatalf("Parse: %v\n%s", err, yaml)
		}
		g, err := Build(cfg, Options{AuditWriter: &syncBuffer{}, Logf: t.Logf})
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		t.Cleanup(func() { _ = g.Close() })
		return g
	}
	a, b := build(), build()
	tok := idp.token(map[string]any{"sid": "session-1"})
	get := func(g *Gateway) int {
		return call(g.Handler(), "GET", "http://example.com/x", client, map[string]string{"Authorization": "Bearer " + tok}).Code
	}
	if get(a) != 200 || get(b) != 200 {
		t.Fatal("token refused before the logout")
	}
	if rec := postLogout(a.Handler(), idp.logoutToken("rp-1", nil)); rec.Code != 200 {
		t.Fatalf("POST %s to instance A = %d %s", BackchannelLogoutPath, rec.Code, rec.Body)
	}
	if c := get(a); c != 401 {
		t.Errorf("instance A after the logout = %d, want 401", c)
	}
	start := time.Now()
	for get(b) != 401 {
		if time.Since(start) > time.Second {
			t.Fatal("instance B still accepts the logged-out session's token after 1 s")
		}
		time.Sleep(5 * time.Millisecond) // a real store's channel: no clock to move
	}
	t.Logf("instance B refused the session %v after the logout on A", time.Since(start))
}
