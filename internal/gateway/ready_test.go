package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func readyz(t *testing.T, h http.Handler) (int, readiness) {
	t.Helper()
	rec := do(h, "GET", "/readyz", nil, "")
	var r readiness
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatalf("/readyz body %q: %v", rec.Body, err)
	}
	return rec.Code, r
}

// jwksServer serves an Ed25519 JWKS, or 503 while down is set.
func jwksServer(t *testing.T, down *atomic.Bool) *httptest.Server {
	t.Helper()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	body := `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","alg":"EdDSA","use":"sig","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down != nil && down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// The rule: /readyz is 503 only when no route can be served (or while
// draining); the body says which dependency is down and what each route
// lacks.
func TestReadinessPerDependency(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	idp := jwksServer(t, &down)
	up := newBackend(t, "up", nil)
	jwt := "  jwt: [{issuer: " + idp.URL + ", audience: a, jwks_url: " + idp.URL + "/jwks, algorithms: [EdDSA]}]\n"
	for _, tc := range []struct {
		name   string
		yaml   string
		status int
		deps   map[string]string
		routes map[string]string
	}{
		{"JWKS down, API keys work: every route can be served", "upstream: " + up.URL + "\nauth:\n" + jwt + "  api_keys: {store: memory}\nroutes: [{path: /v1/, auth: required}]\n",
			200, map[string]string{"jwks " + idp.URL: "unavailable", "api keys": "ok", "service default": "ok"},
			map[string]string{"/v1/": "ok"}},
		{"JWKS down, JWT the only authenticator, a public route", "upstream: " + up.URL + "\nauth:\n" + jwt + "routes: [{path: /v1/, auth: required}, {path: /public/, auth: none}]\n",
			200, nil, map[string]string{"/v1/": "unavailable: jwks " + idp.URL, "/public/": "ok"}},
		{"JWKS down, nothing else to serve", "upstream: " + up.URL + "\nauth:\n" + jwt + "routes: [{path: /v1/, auth: required}]\n",
			503, nil, map[string]string{"/v1/": "unavailable: jwks " + idp.URL}},
		{"Redis down: limits kept per instance", "upstream: " + up.URL + "\nratelimit:\n  store: redis://" + closedHostPort(t) + "/0\n  policies: [{name: p, key: ip, limit: 10, period: 1m}]\nroutes: [{path: /, auth: none, ratelimit: [p]}]\n",
			200, map[string]string{"ratelimit store": "degraded: limits kept per instance"}, map[string]string{"/": "ok"}},
		{"one service down", "services: {up: {targets: [" + up.URL + "]}, gone: {targets: [" + closedAddr(t) + "], health: {path: /}}}\nroutes: [{path: /a/, service: up, auth: none}, {path: /b/, service: gone, auth: none}]\n",
			200, map[string]string{"service gone": "unavailable", "service up": "ok"}, map[string]string{"/a/": "ok", "/b/": "unavailable: service gone"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := buildWith(t, tc.yaml, Options{})
			for _, s := range g.services {
				if s.health != nil {
					s.checkRound(context.Background())
				}
			}
			code, r := readyz(t, g.AdminHandler())
			if code != tc.status || r.Ready != (tc.status == 200) {
				t.Errorf("/readyz = %d %+v, want %d", code, r, tc.status)
			}
			for k, v := range tc.deps {
				if r.Dependencies[k] != v {
					t.Errorf("dependency %q = %q, want %q (%v)", k, r.Dependencies[k], v, r.Dependencies)
				}
			}
			for k, v := range tc.routes {
				if r.Routes[k] != v {
					t.Errorf("route %q = %q, want %q (%v)", k, r.Routes[k], v, r.Routes)
				}
			}
		})
	}
}

// closedHostPort is host:port of a port nothing listens on.
func closedHostPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// After the identity provider recovers, readiness returns by itself,
// within seconds and without any JWT traffic.
func TestReadinessRecoversWithoutTraffic(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	idp := jwksServer(t, &down)
	g := buildWith(t, "auth:\n  jwt: [{issuer: "+idp.URL+", audience: a, jwks_url: "+idp.URL+"/jwks, algorithms: [EdDSA]}]\nroutes: [{path: /v1/, auth: required}]\n", Options{})
	if code, _ := readyz(t, g.AdminHandler()); code != 503 {
		t.Fatalf("with the JWKS down: %d, want 503", code)
	}
	down.Store(false)
	recovered := time.Now()
	deadline := recovered.Add(15 * time.Second)
	for {
		code, _ := readyz(t, g.AdminHandler())
		if code == 200 {
			t.Logf("ready %s after the provider recovered", time.Since(recovered).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("not ready 15 s after the provider recovered")
		}
		time.Sleep(100 * time.Millisecond) // the background fetch is on its own clock
	}
}

// SIGTERM: /readyz says 503 at once while the listener keeps serving for
// shutdown_delay; then it drains and closes.
func TestReadinessDrainsOnSIGTERM(t *testing.T) {
	up := newBackend(t, "up", nil)
	delay := 400 * time.Millisecond
	rn := &running{file: t.TempDir() + "/bulwark.yaml", logs: &syncBuffer{}, opLog: &syncBuffer{}}
	rn.write(t, "listen: 127.0.0.1:0\nadmin: {listen: 127.0.0.1:0}\nupstream: "+up.URL+"\nroutes: [{path: /, auth: none}]\n")
	srv, err := NewServer(ServerOptions{Build: Options{AuditWriter: rn.logs, Logf: t.Logf}, Load: func() (*Config, error) { return LoadFile(rn.file) }, ShutdownDelay: &delay})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan [2]net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, func(p, a net.Addr) { addrs <- [2]net.Addr{p, a} }) }()
	a := <-addrs
	public, admin := "http://"+a[0].String(), "http://"+a[1].String()
	status := func(u string) int {
		res, err := http.Get(u)
		if err != nil {
			return -1
		}
		res.Body.Close()
		return res.StatusCode
	}
	if status(admin+"/readyz") != 200 {
		t.Fatal("not ready before SIGTERM")
	}
	cancel() // what SIGTERM does
	start := time.Now()
	for status(admin+"/readyz") != 503 {
		if time.Since(start) > delay/2 {
			t.Fatal("/readyz did not turn 503 at once")
		}
	}
	if code := status(public + "/x"); code != 200 && time.Since(start) < delay {
		t.Errorf("during shutdown_delay the public listener answered %d, want 200", code)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < delay {
		t.Errorf("stopped after %s, before shutdown_delay (%s)", took, delay)
	}
	if status(public+"/x") != -1 {
		t.Errorf("still serving after the drain")
	}
}

// /metrics has the OpenTelemetry HTTP series as Prometheus names them,
// and bulwark's own.
func TestMetricsOTelNames(t *testing.T) {
	up := newBackend(t, "up", nil)
	g := buildWith(t, "upstream: "+up.URL+"\nauth: {api_keys: {store: memory}}\nratelimit:\n  policies: [{name: per-ip, key: ip, limit: 100, period: 1m}]\n  default: [per-ip]\nroutes: [{path: /public/, auth: none}, {path: /v1/, auth: required}]\n", Options{})
	get(g.Handler(), "x", "/public/a")
	get(g.Handler(), "x", "/v1/a", "X-API-Key", "bwk_live_forged") // 401: a security event
	rec := do(g.AdminHandler(), "GET", "/metrics", nil, "")
	for _, want := range []string{
		`http_server_request_duration_seconds_bucket{bulwark_service="default",http_request_method="GET",http_response_status_code="200",http_route="/public/",le="0.0005"}`,
		`http_server_request_duration_seconds_count{bulwark_service="default",http_request_method="GET",http_response_status_code="401",http_route="/v1/"} 1`,
		`http_server_active_requests{http_request_method="GET"} 0`,
		`http_client_request_duration_seconds_count{bulwark_service="default",error_type="",http_request_method="GET",http_response_status_code="200",server_address="` + strings.TrimPrefix(up.URL, "http://") + `"} 1`,
		`bulwark_security_events_total{event="authn_token_invalid"`,
		`bulwark_ratelimit_decisions_total{outcome="allowed",policy="per-ip"} 2`,
		`bulwark_build_info{goversion="` + runtime.Version() + `"`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
