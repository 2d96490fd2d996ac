package gateway

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// backend is a target that says who it is and what it received.
type backend struct {
	*httptest.Server
	name string
	hits atomic.Int64
}

func newBackend(t *testing.T, name string, h http.HandlerFunc) *backend {
	t.Helper()
	b := &backend{name: name}
	handler := func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != "bulwark-health-check" {
			b.hits.Add(1) // requests, not health checks
		}
		if h != nil {
			h(w, r)
			return
		}
		fmt.Fprintf(w, "%s %s", name, r.URL.RequestURI())
	}
	b.Server = httptest.NewServer(http.HandlerFunc(handler))
	t.Cleanup(b.Close)
	return b
}

// closedAddr is an address nothing listens on: connections are refused.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func buildWith(t *testing.T, yaml string, o Options) *Gateway {
	t.Helper()
	cfg, err := Parse([]byte(yaml), t.TempDir())
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if o.AuditWriter == nil {
		o.AuditWriter = io.Discard
	}
	if o.Logf == nil {
		o.Logf = t.Logf
	}
	g, err := Build(cfg, o)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(func() { _ = g.Close() })
	return g
}

func get(h http.Handler, host, target string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", target, nil)
	r.Host = host
	r.RemoteAddr = "203.0.113.9:41000"
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// writeCA writes the certificate of a TLS test server as a CA bundle.
func writeCA(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The configuration: three services, one over https with a
// private CA, host routes, strip_prefix and rewrite_prefix, health checks.
func TestThreeServicesHostRoutesAndPrefixes(t *testing.T) {
	o1, o2, o3 := newBackend(t, "orders-1", nil), newBackend(t, "orders-2", nil), newBackend(t, "orders-3", nil)
	billing := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "billing %s tls=%v", r.URL.RequestURI(), r.TLS != nil)
	}))
	t.Cleanup(billing.Close)
	ca := writeCA(t, billing)
	adminB := newBackend(t, "admin", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			return
		}
		fmt.Fprintf(w, "admin %s", r.URL.RequestURI())
	})
	g := buildWith(t, `
services:
  orders:
    targets: [`+o1.URL+`, `+o2.URL+`, `+o3.URL+`]
    health: {path: /, interval: 10s, timeout: 1s}
  billing:
    targets: [`+billing.URL+`]
    ca_file: `+ca+`
    lb: least_requests
  backoffice:
    targets: [`+adminB.URL+`]
    health: {path: /healthz, healthy_status: [200, 204]}
routes:
  - {path: /v1/, host: api.example.com, service: orders, strip_prefix: true, auth: none}
  - {path: /v1/, host: "*.tenants.example.com", service: billing, rewrite_prefix: /internal/v1/, auth: none}
  - {path: /admin, service: backoffice, auth: none}
  - {path: /, service: orders, auth: none}
`, Options{})
	h := g.Handler()
	for _, tc := range []struct {
		host, target, want string
	}{
		{"api.example.com", "/v1/orders/7?x=1", "/orders/7?x=1"},
		{"API.example.com:443", "/v1/", "/"},
		{"acme.tenants.example.com", "/v1/invoices", "billing /internal/v1/invoices tls=true"},
		{"a.b.tenants.example.com", "/v1/invoices", "/v1/invoices"}, // one label only: the catch-all
		{"other.example", "/admin/x", "admin /admin/x"},
		{"other.example", "/v1/x", "/v1/x"}, // no host route: the catch-all, unstripped
	} {
		rec := get(h, tc.host, tc.target)
		if rec.Code != 200 || !strings.HasSuffix(rec.Body.String(), tc.want) {
			t.Errorf("%s%s: %d %q, want …%q", tc.host, tc.target, rec.Code, rec.Body, tc.want)
		}
	}
	// Round robin over three targets.
	before := [3]int64{o1.hits.Load(), o2.hits.Load(), o3.hits.Load()}
	for range 30 {
		if rec := get(h, "api.example.com", "/v1/x"); rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
	}
	for i, b := range []*backend{o1, o2, o3} {
		if n := b.hits.Load() - before[i]; n != 10 {
			t.Errorf("%s got %d of 30 requests, want 10", b.name, n)
		}
	}
	// Health checks judge each target.
	for _, s := range g.services {
		if s.health != nil {
			s.checkRound(context.Background())
		}
	}
	if n := g.services["backoffice"].healthy(); n != 1 {
		t.Errorf("backoffice has %d healthy targets, want 1", n)
	}
	// The audit record and the metrics name the service.
	rec := do(g.AdminHandler(), "GET", "/metrics", nil, "")
	if !strings.Contains(rec.Body.String(), `bulwark_service="billing"`) || !strings.Contains(rec.Body.String(), `http_client_request_duration_seconds_count{bulwark_service="billing"`) {
		t.Errorf("metrics do not name the service")
	}
}

func TestRouteHostAndServiceInAudit(t *testing.T) {
	b := newBackend(t, "orders", nil)
	logs := &syncBuffer{}
	g := buildWith(t, "services: {orders: {targets: ["+b.URL+"]}}\nroutes: [{path: /, service: orders, auth: none}]\n", Options{AuditWriter: logs})
	get(g.Handler(), "api.example", "/x")
	recs := logs.records(t)
	if len(recs) != 1 || recs[0]["bulwark.service"] != "orders" {
		t.Errorf("audit records %v, want bulwark.service orders", recs)
	}
}

func TestLeastRequests(t *testing.T) {
	release := make(chan struct{})
	busy := newBackend(t, "busy", func(w http.ResponseWriter, r *http.Request) {
		<-release
		_, _ = io.WriteString(w, "busy")
	})
	idle := newBackend(t, "idle", nil)
	g := buildWith(t, "services: {s: {targets: ["+busy.URL+", "+idle.URL+"], lb: least_requests}}\nroutes: [{path: /, service: s, auth: none}]\n", Options{})
	h := g.Handler()
	// Occupy the busy target with one request, then the rest go to the idle one.
	var wg sync.WaitGroup
	for busy.hits.Load() == 0 {
		done := make(chan struct{})
		wg.Go(func() { get(h, "x", "/slow"); close(done) })
		for busy.hits.Load() == 0 && idle.hits.Load() == 0 {
			time.Sleep(time.Millisecond) // until the request reached a target
		}
		if idle.hits.Load() > 0 && busy.hits.Load() == 0 {
			// It went to the idle one: let it finish, so that the idle
			// target counts no request in flight (else the two tie and a
			// request may go to the busy one), and try again.
			<-done
			idle.hits.Store(0)
		}
	}
	for range 10 {
		if rec := get(h, "x", "/fast"); rec.Body.String() != "idle /fast" {
			t.Errorf("with the other target busy, a request went to %q", rec.Body)
		}
	}
	close(release)
	wg.Wait()
}

func TestIPHashKeepsClientsOnTheirTarget(t *testing.T) {
	bs := []*backend{newBackend(t, "a", nil), newBackend(t, "b", nil), newBackend(t, "c", nil)}
	g := buildWith(t, "services: {s: {targets: ["+bs[0].URL+", "+bs[1].URL+", "+bs[2].URL+"], lb: ip_hash}}\nroutes: [{path: /, service: s, auth: none}]\n", Options{})
	h := g.Handler()
	where := func(ip string) string {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = ip + ":5000"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		name, _, _ := strings.Cut(rec.Body.String(), " ")
		return name
	}
	first := map[string]string{}
	used := map[string]bool{}
	for i := range 30 {
		ip := fmt.Sprintf("198.51.100.%d", i)
		first[ip] = where(ip)
		used[first[ip]] = true
	}
	if len(used) != 3 {
		t.Errorf("30 clients used %d targets, want all 3", len(used))
	}
	for ip, name := range first {
		if got := where(ip); got != name {
			t.Errorf("client %s moved from %s to %s", ip, name, got)
		}
	}
	// Taking one target out moves only its clients.
	svc := g.services["s"]
	svc.targets[0].down.Store(true)
	for ip, name := range first {
		got := where(ip)
		if name != "a" && got != name {
			t.Errorf("client %s of %s moved to %s when a left", ip, name, got)
		}
		if got == "a" {
			t.Errorf("client %s still sent to the target out of the rotation", ip)
		}
	}
}

// A dead target: connection failures are retried on another target (GET)
// and, after eject_after in a row, the target leaves the rotation until
// eject_for has passed.
func TestPassiveHealthEjectsAndReadmits(t *testing.T) {
	alive := newBackend(t, "alive", nil)
	dead := closedAddr(t)
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	g := buildWith(t, "services: {s: {targets: ["+dead+", "+alive.URL+"], eject_after: 3, eject_for: 30s, retries: 1}}\nroutes: [{path: /, service: s, auth: none}]\n", Options{Now: clock.Now})
	h := g.Handler()
	svc := g.services["s"]
	for i := range 20 {
		if rec := get(h, "x", "/"); rec.Code != 200 {
			t.Fatalf("request %d: %d — a refused connection must be retried on the other target", i, rec.Code)
		}
	}
	if n := svc.healthy(); n != 1 {
		t.Fatalf("%d targets in the rotation after the dead one failed, want 1", n)
	}
	clock.Add(31 * time.Second)
	if n := svc.healthy(); n != 2 {
		t.Errorf("%d targets in the rotation after eject_for, want 2 (re-admitted)", n)
	}
	rec := do(g.AdminHandler(), "GET", "/metrics", nil, "")
	if !strings.Contains(rec.Body.String(), `bulwark_upstream_ejections_total{service="s",target="`+dead+`"} 1`) ||
		!strings.Contains(rec.Body.String(), `bulwark_upstream_retries_total{service="s"}`) {
		t.Errorf("ejection and retries not counted:\n%s", grepLines(rec.Body.String(), "upstream"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestActiveHealthCheck(t *testing.T) {
	var healthy atomic.Bool
	b := newBackend(t, "b", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" && !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	g := buildWith(t, "services: {s: {targets: ["+b.URL+"], health: {path: /healthz, interval: 1h}}}\nroutes: [{path: /, service: s, auth: none}]\nadmin: {listen: 127.0.0.1:0}\n", Options{})
	svc := g.services["s"]
	svc.checkRound(context.Background())
	if rec := get(g.Handler(), "x", "/"); rec.Code != 503 {
		t.Errorf("the only target failed its health check: %d, want 503", rec.Code)
	}
	ready := do(g.AdminHandler(), "GET", "/readyz", nil, "")
	if ready.Code != 503 || !strings.Contains(ready.Body.String(), `"service s":"unavailable"`) {
		t.Errorf("/readyz = %d %s, want 503 naming service s", ready.Code, ready.Body)
	}
	healthy.Store(true)
	svc.checkRound(context.Background())
	if rec := get(g.Handler(), "x", "/"); rec.Code != 200 {
		t.Errorf("after a passing health check: %d, want 200", rec.Code)
	}
}

func TestUpstreamFaults(t *testing.T) {
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	silent := newBackend(t, "silent", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})
	resetter := resettingTarget(t)
	for _, tc := range []struct {
		name, service string
		status        int
	}{
		{"a target that accepts and never answers", "{targets: [" + silent.URL + "], timeouts: {response_header: 100ms}}", 504},
		{"a target that resets connections", "{targets: [" + resetter + "], retries: 0}", 502},
		{"all targets down", "{targets: [" + closedAddr(t) + ", " + closedAddr(t) + "], eject_after: 1}", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := buildWith(t, "services: {s: "+tc.service+"}\nroutes: [{path: /, service: s, auth: none}]\n", Options{})
			rec := get(g.Handler(), "x", "/")
			if tc.status != 0 && rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
			if rec.Header().Get("Content-Type") != "application/problem+json" || strings.Contains(rec.Body.String(), "127.0.0.1") {
				t.Errorf("not a problem that keeps the target to itself: %q %s", rec.Header().Get("Content-Type"), rec.Body)
			}
			if tc.status == 0 {
				// Both refused the connection and were ejected: the next
				// request is a 503 without trying, and readiness says which
				// service.
				if rec := get(g.Handler(), "x", "/"); rec.Code != 503 {
					t.Errorf("with every target ejected: %d, want 503", rec.Code)
				}
				if r := do(g.AdminHandler(), "GET", "/readyz", nil, ""); r.Code != 503 || !strings.Contains(r.Body.String(), `"service s":"unavailable"`) {
					t.Errorf("/readyz = %d %s", r.Code, r.Body)
				}
			}
		})
	}
}

// resettingTarget accepts connections, reads the request and resets.
func resettingTarget(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			_, _ = c.Read(buf)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // RST, not FIN
			}
			c.Close()
		}
	}()
	return "http://" + ln.Addr().String()
}

// A retry never repeats a request that may have done work: a POST whose
// connection was refused is a 502, a GET goes to the other target.
func TestRetryNeverRepeatsPOST(t *testing.T) {
	alive := newBackend(t, "alive", nil)
	g := buildWith(t, "services: {s: {targets: ["+closedAddr(t)+", "+alive.URL+"], eject_after: 0, retries: 2}}\nroutes: [{path: /, service: s, auth: none}]\n", Options{})
	h := g.Handler()
	ok, failed := 0, 0
	for range 10 {
		rec := do(h, "POST", "/orders", map[string]string{"Content-Type": "application/json"}, `{"qty":1}`)
		switch rec.Code {
		case 200:
			ok++
		case 502:
			failed++
		default:
			t.Fatalf("POST: %d", rec.Code)
		}
	}
	if failed == 0 || int64(ok) != alive.hits.Load() {
		t.Errorf("POST: %d ok, %d failed, the live target saw %d: a refused POST must not be retried", ok, failed, alive.hits.Load())
	}
	for range 10 {
		if rec := get(h, "x", "/"); rec.Code != 200 {
			t.Errorf("GET after a refused connection: %d, want 200 from the other target", rec.Code)
		}
	}
}

// The retry budget: with every target refusing, retries never more than
// double the attempts.
func TestRetryBudget(t *testing.T) {
	var b retryBudget
	retries := 0
	for range 1000 {
		b.deposit()
		for range 5 { // five retries wanted per request
			if b.withdraw() {
				retries++
			}
		}
	}
	if retries > 1000 {
		t.Errorf("%d retries for 1000 requests: more than double the load", retries)
	}
}

// strip_prefix works on the canonical path: a traversal cannot turn the
// stripped path into one that climbs out or lands elsewhere unchecked.
func TestStripPrefixWithCanonicalPathAttack(t *testing.T) {
	b := newBackend(t, "api", nil)
	g := buildWith(t, `
services: {api: {targets: [`+b.URL+`]}}
auth: {api_keys: {store: memory}}
routes:
  - {path: /v1/, service: api, strip_prefix: true, auth: none}
  - {path: /admin/, service: api, auth: required}
`, Options{})
	for _, tc := range []struct {
		target string
		status int
		path   string
	}{
		{"/v1/a/../b", 200, "/b"},
		{"/v1/%2e%2e/admin/x", 401, ""}, // canonical /admin/x: its own route
		{"/v1/..%2fadmin/x", 400, ""},
		{"/v1/x/../../admin/x", 401, ""},
		{"/v1/%3Bx", 200, "/%3Bx"},
		{"/v1/caf%C3%A9", 200, "/caf%C3%A9"},
	} {
		hits := b.hits.Load()
		rec := httptest.NewRecorder()
		g.Handler().ServeHTTP(rec, rawRequest("GET", tc.target, nil))
		if rec.Code != tc.status {
			t.Errorf("%s: %d, want %d", tc.target, rec.Code, tc.status)
		}
		if tc.path == "" && b.hits.Load() != hits {
			t.Errorf("%s reached the upstream", tc.target)
		}
		if tc.path != "" && rec.Body.String() != "api "+tc.path {
			t.Errorf("%s reached the upstream as %q, want %q", tc.target, rec.Body, tc.path)
		}
	}
}

func TestShadowedRouteWarned(t *testing.T) {
	cfg, err := Parse([]byte(`
routes:
  - {path: /v1/, auth: none}
  - {path: /v1/admin/, auth: none}
  - {path: /v1/x, host: api.example.com, auth: none}
  - {path: /v2, host: "*.example.com", auth: none}
  - {path: /v2/y, host: a.example.com, auth: none}
  - {path: /v2/z, host: "*.example.org", auth: none}
`), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range cfg.Warnings() {
		got = append(got, w.Key)
	}
	if strings.Join(got, " ") != "routes[1] routes[2] routes[4]" {
		t.Errorf("warnings for %v, want routes[1] routes[2] routes[4]: %v", got, cfg.Warnings())
	}
}

func TestServiceConfigErrors(t *testing.T) {
	_, err := Parse([]byte(`
upstream: http://127.0.0.1:9000
services:
  default: {targets: [http://127.0.0.1:9001]}
  Bad: {targets: []}
  api:
    targets: [ftp://x, "http://127.0.0.1:1/path", http://127.0.0.1:2, http://127.0.0.1:2]
    lb: random
    retries: 9
    health: {path: healthz, interval: 1s, timeout: 2s, healthy_status: [700]}
    ca_file: missing.pem
routes:
  - {path: /, service: nope, auth: none}
  - {path: /a/, strip_prefix: true, rewrite_prefix: /b/, host: "Bad Host", auth: none}
  - {path: /c/, rewrite_prefix: /d, auth: none}
`), t.TempDir())
	if err == nil {
		t.Fatal("Parse accepted a broken configuration")
	}
	for _, want := range []string{
		"upstream: is the short form of services.default",
		"services.Bad: a service name must be lower case",
		"services.Bad.targets: required",
		"services.api.targets[0]: must be an http(s) URL",
		"services.api.targets[1]: must be scheme://host:port only",
		"services.api.targets[3]: http://127.0.0.1:2 is listed twice",
		"services.api.lb: must be round_robin, least_requests or ip_hash",
		"services.api.retries: must be between 0 and 5",
		"services.api.health.path: required",
		"services.api.health.timeout: must be shorter than the interval",
		"services.api.health.healthy_status[0]: 700 is not an HTTP status",
		"services.api: ca_file, client_cert_file, client_key_file and server_name need https targets",
		"services.api.ca_file: cannot read missing.pem",
		`routes[0].service: no service named "nope"`,
		"routes[1].rewrite_prefix: strip_prefix and rewrite_prefix exclude each other",
		"routes[1].host: must be a lower-case host name",
		"routes[2].rewrite_prefix: must end with / exactly when path does",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}
