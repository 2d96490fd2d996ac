package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/auth/apikey"
)

// seen is what the test upstream reports about the request it received.
type seen struct {
	Path, Subject, Scopes, Method, RequestID, XFF, Authorization, APIKey, Body string
	Underscored                                                                string // names of headers with "_", which WSGI, CGI, Rack and PHP read as "-"
}

// fixture is the example's proxy in front of a real upstream server, with
// two keys and a stopped clock so that rate limits are exact.
type fixture struct {
	h              http.Handler
	log            *bytes.Buffer
	hits           *atomic.Int64 // requests that reached the upstream
	reader, writer string        // API keys: orders:read, and orders:read + orders:write
	readerID       string
}

func upstreamServer(t *testing.T, hits *atomic.Int64) *url.URL {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Server", "Apache/2.4.1 (Unix)")
		w.Header().Set("X-Powered-By", "PHP/5.6")
		if r.URL.Path == "/api/boom" {
			http.Error(w, "panic: nil map at /srv/app/orders.go:42\ngoroutine 1 [running]", http.StatusInternalServerError)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var underscored []string
		for k := range r.Header {
			if strings.Contains(k, "_") {
				underscored = append(underscored, k)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(seen{
			Path: r.URL.Path, Subject: r.Header.Get("X-Bulwark-Subject"), Scopes: r.Header.Get("X-Bulwark-Scopes"),
			Method: r.Header.Get("X-Bulwark-Auth-Method"), RequestID: r.Header.Get("X-Request-ID"),
			XFF: strings.Join(r.Header.Values("X-Forwarded-For"), ","), Authorization: r.Header.Get("Authorization"),
			APIKey: r.Header.Get("X-API-Key"), Body: string(body), Underscored: strings.Join(underscored, ","),
		})
	}))
	t.Cleanup(up.Close)
	u, err := url.Parse(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func setupWith(t *testing.T, upstream *url.URL, hits *atomic.Int64) *fixture {
	t.Helper()
	keys, err := apikey.New(apikey.Config{
		Store: apikey.NewMemoryStore(), Prefix: "demo_test", Header: "X-API-Key",
		Pepper: []byte("test-only-pepper-0123456789abcdef"), LastUsedInterval: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	reader, rec, err := keys.Create(ctx, apikey.Spec{Scopes: []string{"orders:read"}})
	if err != nil {
		t.Fatal(err)
	}
	writer, _, err := keys.Create(ctx, apikey.Spec{Scopes: []string{"orders:read", "orders:write"}})
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var log bytes.Buffer
	h, closeAll, err := newHandler(upstream, keys, &log, func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := closeAll(); err != nil {
			t.Error(err)
		}
	})
	return &fixture{h: h, log: &log, hits: hits, reader: reader, writer: writer, readerID: rec.ID}
}

func setup(t *testing.T) *fixture {
	hits := new(atomic.Int64)
	return setupWith(t, upstreamServer(t, hits), hits)
}

// do serves one request from client address ip with the given headers.
func (f *fixture) do(ip, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = ip + ":40000"
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

func decodeSeen(t *testing.T, w *httptest.ResponseRecorder) seen {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", w.Code, w.Body)
	}
	var s seen
	if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil {
		t.Fatalf("upstream answer %s: %v", w.Body, err)
	}
	return s
}

// TestIdentityHeaderSpoofing: identity headers from the client never reach
// the upstream; the verified caller does, and the API key does not.
func TestIdentityHeaderSpoofing(t *testing.T) {
	f := setup(t)
	tests := []struct {
		name string
		hdr  []string
	}{
		{"plain headers", []string{"X-Bulwark-Subject", "admin", "X-Bulwark-Scopes", "orders:admin", "X-Bulwark-Auth-Method", "jwt"}},
		{"repeated headers", []string{"X-Bulwark-Subject", "admin", "X-Bulwark-Subject", "root"}},
		{"hop-by-hop smuggling", []string{"Connection", "X-Bulwark-Subject, X-Bulwark-Scopes", "X-Bulwark-Subject", "admin"}},
		{"forged client address", []string{"X-Forwarded-For", "10.0.0.1", "Forwarded", "for=10.0.0.1"}},
		{"credentials for the upstream", []string{"Authorization", "Bearer stolen", "X-Request-ID", "req-1"}},
		{"underscore spellings", []string{"X_Bulwark_Subject", "admin", "x_bulwark_scopes", "orders:admin", "X-Bulwark_Auth-Method", "jwt"}},
		{"method and URL overrides", []string{"X-HTTP-Method-Override", "DELETE", "X-Original-URL", "/api/admin"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := decodeSeen(t, f.do("192.0.2.10", "GET", "/api/orders/42", "", append([]string{"X-API-Key", f.reader}, tc.hdr...)...))
			want := seen{Path: "/api/orders/42", Subject: "apikey:" + f.readerID, Scopes: "orders:read", Method: "api_key", XFF: "192.0.2.10"}
			if s.RequestID == "" || s.RequestID == "req-1" && tc.name != "credentials for the upstream" {
				t.Errorf("upstream got request ID %q, want the audit log's", s.RequestID)
			}
			s.RequestID = ""
			if s != want {
				t.Errorf("upstream saw %+v, want %+v", s, want)
			}
		})
	}
}

// TestIdentityHeaderSpoofingOnPublicRoute: on a route without
// authentication the upstream gets no identity at all, whatever the client
// sends.
func TestIdentityHeaderSpoofingOnPublicRoute(t *testing.T) {
	f := setup(t)
	s := decodeSeen(t, f.do("192.0.2.10", "GET", "/api/catalog/1", "",
		"X-Bulwark-Subject", "admin", "X-Bulwark-Scopes", "orders:write", "X-Bulwark-Auth-Method", "jwt"))
	if s.Subject != "" || s.Scopes != "" || s.Method != "" || s.Path != "/api/catalog/1" {
		t.Errorf("upstream saw %+v, want no identity", s)
	}
}

func TestStack(t *testing.T) {
	f := setup(t)
	const jsonCT = "application/json"
	tests := []struct {
		name         string
		method, path string
		body         string
		hdr          []string
		want         int
		forwarded    bool // whether the request may reach the upstream
	}{
		{"local health check", "GET", "/healthz", "", nil, 200, false},
		{"no key", "GET", "/api/orders/42", "", nil, 401, false},
		{"forged key", "GET", "/api/orders/42", "", []string{"X-API-Key", "demo_test_0000000000000000000000000000000000000"}, 401, false},
		{"missing scope", "POST", "/api/orders", `{"item":"lamp","qty":1}`, []string{"X-API-Key", f.reader, "Content-Type", jsonCT}, 403, false},
		{"duplicate key smuggling", "POST", "/api/orders", `{"item":"lamp","qty":2,"qty":99}`, []string{"X-API-Key", f.writer, "Content-Type", jsonCT}, 400, false},
		{"mass assignment: unknown field", "POST", "/api/orders", `{"item":"lamp","qty":2,"price":0}`, []string{"X-API-Key", f.writer, "Content-Type", jsonCT}, 400, false},
		{"rule broken", "POST", "/api/orders", `{"item":"lamp","qty":0}`, []string{"X-API-Key", f.writer, "Content-Type", jsonCT}, 422, false},
		{"not JSON", "POST", "/api/orders", `item=lamp`, []string{"X-API-Key", f.writer, "Content-Type", "text/plain"}, 415, false},
		{"method not allowed", "DELETE", "/api/orders/42", "", []string{"X-API-Key", f.writer}, 405, false},
		{"unlisted path", "GET", "/internal/metrics", "", nil, 404, false},
		{"CORS preflight answered before auth", "OPTIONS", "/api/orders", "", []string{
			"Origin", "https://app.example.com", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type,x-api-key"}, 204, false},
		{"upstream stack trace hidden", "GET", "/api/boom", "", []string{"X-API-Key", f.reader}, 502, true},
		{"allowed read", "GET", "/api/orders/42", "", []string{"X-API-Key", f.reader}, 200, true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.hits.Load()
			w := f.do(fmt.Sprintf("192.0.2.%d", i+10), tc.method, tc.path, tc.body, tc.hdr...)
			if w.Code != tc.want {
				t.Fatalf("%s %s = %d, want %d; body %s", tc.method, tc.path, w.Code, tc.want, w.Body)
			}
			if reached := f.hits.Load() > before; reached != tc.forwarded {
				t.Errorf("reached upstream = %v, want %v", reached, tc.forwarded)
			}
			for _, h := range []string{"X-Content-Type-Options", "Content-Security-Policy", "X-Request-Id"} {
				if w.Header().Get(h) == "" {
					t.Errorf("response lacks %s", h)
				}
			}
			for _, h := range []string{"Server", "X-Powered-By"} {
				if v := w.Header().Get(h); v != "" {
					t.Errorf("upstream fingerprint %s: %s reached the client", h, v)
				}
			}
			// ServeMux's own 404 and 405 are plain text (and 405 has Allow).
			if w.Code >= 400 && w.Code != 404 && w.Code != 405 && w.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("refusal Content-Type %q, want application/problem+json", w.Header().Get("Content-Type"))
			}
			if strings.Contains(w.Body.String(), "goroutine") || strings.Contains(w.Body.String(), "lamp") {
				t.Errorf("response leaks upstream or input text: %s", w.Body)
			}
		})
	}
}

// TestValidatedBodyIsForwarded: the upstream receives the checked document,
// encoded again, not the client's bytes.
func TestValidatedBodyIsForwarded(t *testing.T) {
	f := setup(t)
	s := decodeSeen(t, f.do("192.0.2.1", "POST", "/api/orders", "{ \"qty\" : 2,\n \"item\": \"l\\u0061mp\" }",
		"X-API-Key", f.writer, "Content-Type", "application/json"))
	if s.Body != `{"item":"lamp","qty":2}` || s.Path != "/api/orders" {
		t.Errorf("upstream got body %q at %s, want the re-encoded order", s.Body, s.Path)
	}
}

// TestKeyGuessingIsLimitedPerIP: a client trying keys is stopped by the
// per-IP budget (burst 20) before authentication.
func TestKeyGuessingIsLimitedPerIP(t *testing.T) {
	f := setup(t)
	for i := range 20 {
		if w := f.do("198.51.100.7", "GET", "/api/orders/1", "", "X-API-Key", "guess"); w.Code != 401 {
			t.Fatalf("guess %d = %d, want 401", i, w.Code)
		}
	}
	if w := f.do("198.51.100.7", "GET", "/api/orders/1", "", "X-API-Key", f.reader); w.Code != 429 {
		t.Fatalf("request 21 = %d, want 429 even with a valid key", w.Code)
	}
}

// TestOneKeyFromManyAddressesIsLimited: the per-key budget (burst 10)
// protects the upstream from one key spread over many addresses.
func TestOneKeyFromManyAddressesIsLimited(t *testing.T) {
	f := setup(t)
	for i := range 10 {
		if w := f.do(fmt.Sprintf("203.0.113.%d", i+1), "GET", "/api/orders/1", "", "X-API-Key", f.reader); w.Code != 200 {
			t.Fatalf("request %d = %d, want 200", i, w.Code)
		}
	}
	before := f.hits.Load()
	w := f.do("203.0.113.99", "GET", "/api/orders/1", "", "X-API-Key", f.reader)
	if w.Code != 429 || w.Header().Get("Retry-After") == "" || f.hits.Load() != before {
		t.Fatalf("request 11 = %d (Retry-After %q), upstream hits +%d; want 429 not forwarded",
			w.Code, w.Header().Get("Retry-After"), f.hits.Load()-before)
	}
}

// TestUpstreamDown: a dead upstream is a 502 problem, not a transport
// error text.
func TestUpstreamDown(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	u, _ := url.Parse(dead.URL)
	dead.Close()
	f := setupWith(t, u, new(atomic.Int64))
	w := f.do("192.0.2.1", "GET", "/api/orders/1", "", "X-API-Key", f.reader)
	if w.Code != http.StatusBadGateway || w.Header().Get("Content-Type") != "application/problem+json" ||
		strings.Contains(w.Body.String(), "127.0.0.1") || strings.Contains(w.Body.String(), "refused") {
		t.Fatalf("dead upstream: %d %q %s, want a bare 502 problem", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
}

// TestAuditRecords: the route pattern, the caller and the request ID the
// upstream got are in the log; the key is not.
func TestAuditRecords(t *testing.T) {
	f := setup(t)
	s := decodeSeen(t, f.do("192.0.2.1", "GET", "/api/orders/7", "", "X-API-Key", f.reader))
	var rec map[string]any
	if err := json.Unmarshal(f.log.Bytes(), &rec); err != nil {
		t.Fatalf("audit log %q: %v", f.log, err)
	}
	if rec["http.route"] != "GET /api/" || rec["user.id"] != "apikey:"+f.readerID || rec["request_id"] != s.RequestID {
		t.Errorf("audit record %v, want route GET /api/, user apikey:%s, request_id %s", rec, f.readerID, s.RequestID)
	}
	if strings.Contains(f.log.String(), f.reader) {
		t.Error("the audit log contains an API key")
	}
}

// TestPepperFromEnvironment: BULWARK_PEPPER is used as given; without it
// every process gets a fresh random development pepper.
func TestPepperFromEnvironment(t *testing.T) {
	t.Setenv("BULWARK_PEPPER", "")
	a, b := pepper(), pepper()
	if len(a) != 32 || bytes.Equal(a, b) {
		t.Errorf("development peppers %x and %x, want two different 32-byte values", a, b)
	}
	t.Setenv("BULWARK_PEPPER", "from-the-secret-manager-0123456789")
	if got := string(pepper()); got != "from-the-secret-manager-0123456789" {
		t.Errorf("pepper() = %q, want the environment's", got)
	}
}

// TestPathTraversal: the mux, the policies and the upstream read one
// canonical path, so a public prefix cannot lead to a protected handler.
func TestPathTraversal(t *testing.T) {
	f := setup(t)
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/api/catalog/%2e%2e/orders/42", http.StatusUnauthorized}, // canonical: /api/orders/42, which needs a key
		{"/api/catalog/..%2forders/42", http.StatusBadRequest},
		{"/api/catalog/%252e%252e/orders/42", http.StatusBadRequest},
		{"/api/catalog/..;/orders/42", http.StatusBadRequest},
	} {
		before := f.hits.Load()
		if w := f.do("192.0.2.10", "GET", tc.path, ""); w.Code != tc.status || f.hits.Load() != before {
			t.Errorf("GET %s: %d (upstream reached: %v), want %d", tc.path, w.Code, f.hits.Load() != before, tc.status)
		}
	}
	s := decodeSeen(t, f.do("192.0.2.10", "GET", "/api/catalog/x/%2e%2e/1", ""))
	if s.Path != "/api/catalog/1" {
		t.Errorf("upstream got %q, want the canonical /api/catalog/1", s.Path)
	}
}
