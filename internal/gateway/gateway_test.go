package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is an io.Writer safe for the audit log's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("audit line is not JSON: %q", sc.Text())
		}
		out = append(out, m)
	}
	return out
}

func build(t *testing.T, yaml string) (*Gateway, *syncBuffer) {
	t.Helper()
	cfg, err := Parse([]byte(yaml), t.TempDir())
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	logs := &syncBuffer{}
	g, err := Build(cfg, Options{AuditWriter: logs, Logf: t.Logf})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(func() { _ = g.Close() })
	return g, logs
}

func do(h http.Handler, method, target string, hdr map[string]string, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.RemoteAddr = "203.0.113.9:41000"
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestDefaultConfiguration(t *testing.T) {
	g, logs := build(t, string(DefaultConfig()))
	key, err := g.CreateDemoKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h := g.Handler()
	tests := []struct {
		name   string
		method string
		path   string
		hdr    map[string]string
		body   string
		status int
	}{
		{"demo call with the printed key", "GET", "/v1/hello", map[string]string{"X-API-Key": key}, "", 200},
		{"no key", "GET", "/v1/hello", nil, "", 401},
		{"wrong key", "GET", "/v1/hello", map[string]string{"X-API-Key": otherLastChar(key)}, "", 401},
		{"public route", "GET", "/public/health", nil, "", 200},
		{"unlisted path", "GET", "/admin", nil, "", 404},
		{"method not allowed", "DELETE", "/public/health", nil, "", 405},
		{"strict JSON: duplicate key", "POST", "/v1/echo", map[string]string{"X-API-Key": key, "Content-Type": "application/json"}, `{"a":1,"a":2}`, 400},
		{"strict JSON: content type", "POST", "/v1/echo", map[string]string{"X-API-Key": key, "Content-Type": "text/plain"}, `{"a":1}`, 415},
		{"body over max_body", "POST", "/v1/echo", map[string]string{"X-API-Key": key, "Content-Type": "application/json"}, `{"a":"` + strings.Repeat("x", 70<<10) + `"}`, 413},
		{"valid JSON", "POST", "/v1/echo", map[string]string{"X-API-Key": key, "Content-Type": "application/json"}, `{"a":1}`, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(h, tc.method, tc.path, tc.hdr, tc.body)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			// The header profile applies to every answer, refusals included.
			if rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("Content-Security-Policy") == "" {
				t.Errorf("security headers missing on %d", rec.Code)
			}
			if tc.status >= 400 && rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("refusal %d is not problem+json: %q", rec.Code, rec.Header().Get("Content-Type"))
			}
			if tc.status == 405 && rec.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q", rec.Header().Get("Allow"))
			}
		})
	}
	// The audit log contract.
	recs := logs.records(t)
	if len(recs) != len(tests) {
		t.Fatalf("%d audit records for %d requests", len(recs), len(tests))
	}
	first := recs[0]
	for _, k := range []string{"time", "request_id", "http.request.method", "url.path", "http.route", "http.response.status_code", "client.address", "user.id"} {
		if _, ok := first[k]; !ok {
			t.Errorf("audit record lacks %q: %v", k, first)
		}
	}
	if first["http.route"] != "/v1/" || first["client.address"] != "203.0.113.9" || !strings.HasPrefix(first["user.id"].(string), "apikey:") {
		t.Errorf("audit record = %v", first)
	}
	if tm, _ := first["time"].(string); !strings.HasSuffix(tm, "Z") {
		t.Errorf("time %q is not UTC RFC 3339", tm)
	}
	bad := recs[1]
	evs, _ := bad["events"].([]any)
	if len(evs) == 0 {
		// a request without credentials is a 401 without an event; the
		// wrong key must carry one
		bad = recs[2]
		evs, _ = bad["events"].([]any)
	}
	if len(evs) == 0 {
		t.Fatalf("no events on a refused key: %v", bad)
	}
	ev := evs[0].(map[string]any)
	if _, ok := ev["reason"]; !ok || ev["name"] == "" {
		t.Errorf("event %v lacks name or reason", ev)
	}
	for _, r := range recs {
		if strings.Contains(r["url.path"].(string), key) || strings.Contains(toJSON(r), key) {
			t.Fatal("the API key reached the audit log")
		}
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// upstreamEcho records what reached the upstream.
func upstreamEcho(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow/" {
			time.Sleep(300 * time.Millisecond) // the upstream's own pace, not a test wait
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Server", "nginx/1.25")
		w.Header().Set("X-Powered-By", "PHP/8.3")
		_ = json.NewEncoder(w).Encode(map[string]any{"path": r.URL.Path, "headers": r.Header})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestProxyThroughGateway(t *testing.T) {
	up := upstreamEcho(t)
	g, _ := build(t, `
upstream: `+up.URL+`
auth:
  api_keys: {store: memory}
routes:
  - {path: /public/, auth: none}
  - {path: /v1/, auth: required}
`)
	key, _ := g.CreateDemoKey(context.Background())
	h := g.Handler()

	t.Run("identity header spoofing", func(t *testing.T) {
		rec := do(h, "GET", "/public/x", map[string]string{"X-Bulwark-Subject": "admin", "X-Bulwark-Scopes": "all"}, "")
		var got struct{ Headers http.Header }
		_ = json.Unmarshal(rec.Body.Bytes(), &got)
		if got.Headers.Get("X-Bulwark-Subject") != "" || got.Headers.Get("X-Bulwark-Scopes") != "" {
			t.Errorf("spoofed identity reached the upstream: %v", got.Headers)
		}
	})
	t.Run("hop-by-hop smuggling", func(t *testing.T) {
		rec := do(h, "GET", "/v1/x", map[string]string{"X-API-Key": key, "Connection": "X-Bulwark-Subject", "X-Bulwark-Subject": "admin"}, "")
		var got struct{ Headers http.Header }
		_ = json.Unmarshal(rec.Body.Bytes(), &got)
		if s := got.Headers.Get("X-Bulwark-Subject"); !strings.HasPrefix(s, "apikey:") {
			t.Errorf("upstream saw subject %q, want the verified one", s)
		}
		if got.Headers.Get("X-Api-Key") != "" {
			t.Error("the verified API key was forwarded")
		}
		if got.Headers.Get("X-Request-Id") == "" || got.Headers.Get("X-Bulwark-Auth-Method") != "api_key" {
			t.Errorf("forwarded headers: %v", got.Headers)
		}
	})
	t.Run("upstream fingerprint stripped", func(t *testing.T) {
		rec := do(h, "GET", "/public/x", nil, "")
		if rec.Header().Get("Server") != "" || rec.Header().Get("X-Powered-By") != "" {
			t.Errorf("fingerprint headers passed: %v", rec.Header())
		}
	})
	t.Run("upstream down", func(t *testing.T) {
		down := httptest.NewServer(http.NotFoundHandler())
		down.Close()
		g2, _ := build(t, "upstream: "+down.URL+"\nroutes: [{path: /, auth: none}]\n")
		rec := do(g2.Handler(), "GET", "/x", nil, "")
		if rec.Code != 502 || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("upstream down: %d %q", rec.Code, rec.Header().Get("Content-Type"))
		}
	})
}

// SIGTERM during load: requests that started before the shutdown finish.
func TestGracefulShutdown(t *testing.T) {
	up := upstreamEcho(t)
	g, _ := build(t, "listen: 127.0.0.1:0\nupstream: "+up.URL+"\nroutes: [{path: /, auth: none}]\n")
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx, func(pub, _ net.Addr) { addrc <- pub }) }()
	addr := (<-addrc).String()

	const n = 8
	var wg sync.WaitGroup
	codes := make(chan int, n)
	started := make(chan struct{}, n)
	for range n {
		wg.Go(func() {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				codes <- -1
				return
			}
			defer conn.Close()
			_, _ = io.WriteString(conn, "GET /slow/ HTTP/1.1\r\nHost: x\r\n\r\n")
			started <- struct{}{}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				codes <- -2
				return
			}
			codes <- resp.StatusCode
			resp.Body.Close()
		})
	}
	for range n {
		<-started
	}
	time.Sleep(50 * time.Millisecond) // let the requests reach the upstream before the signal
	cancel()                          // what SIGTERM does in runServe
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("a request in flight at shutdown got %d, want 200", c)
		}
	}
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("still accepting connections after shutdown")
	}
}

func TestAdminEndpoints(t *testing.T) {
	g, _ := build(t, string(DefaultConfig()))
	_ = do(g.Handler(), "GET", "/v1/hello", nil, "") // a 401, counted
	admin := g.AdminHandler()
	if rec := do(admin, "GET", "/healthz", nil, ""); rec.Code != 200 {
		t.Errorf("/healthz: %d", rec.Code)
	}
	if rec := do(admin, "GET", "/readyz", nil, ""); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"ready":true`) {
		t.Errorf("/readyz: %d %s", rec.Code, rec.Body)
	}
	rec := do(admin, "GET", "/metrics", nil, "")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `http_server_request_duration_seconds_count{bulwark_service="demo",http_request_method="GET",http_response_status_code="401",http_route="/v1/"} 1`) {
		t.Errorf("/metrics lacks the counted request:\n%.2000s", rec.Body)
	}

	// Not ready while an issuer has no keys: the JWKS endpoint is down.
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	g2, _ := build(t, "auth:\n  jwt: [{issuer: "+down.URL+", audience: a, jwks_url: "+down.URL+"/jwks}]\nroutes: [{path: /, auth: required}]\n")
	if rec := do(g2.AdminHandler(), "GET", "/readyz", nil, ""); rec.Code != 503 || !strings.Contains(rec.Body.String(), `:"unavailable"`) || !strings.Contains(rec.Body.String(), `"status":"not ready"`) {
		t.Errorf("/readyz with no keys: %d %s", rec.Code, rec.Body)
	}
}

// A route-keyed policy counts the configured route, not the raw path: a
// client cannot mint fresh buckets by varying the URL.
func TestRouteKeyedLimitIgnoresPath(t *testing.T) {
	g, _ := build(t, `
ratelimit:
  policies: [{name: per-route, key: route, limit: 2, period: 1h}]
routes: [{path: /public/, auth: none, ratelimit: [per-route]}]
`)
	codes := []int{}
	for _, p := range []string{"/public/health", "/public/a", "/public/b?x=1"} {
		codes = append(codes, do(g.Handler(), "GET", p, nil, "").Code)
	}
	if codes[2] != 429 {
		t.Errorf("statuses %v: the third request to the same route must be limited", codes)
	}
}

// otherLastChar changes the last character of key, always to another one
// (appending "x" to a key that ends in "x" forges nothing).
func otherLastChar(key string) string {
	if strings.HasSuffix(key, "x") {
		return key[:len(key)-1] + "y"
	}
	return key[:len(key)-1] + "x"
}
