package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/auth/apikey"
)

// fixture is the example's handler with two keys and a stopped clock, so
// that rate limits are exact: nothing refills between requests.
type fixture struct {
	h              http.Handler
	log            *bytes.Buffer
	reader, writer string // API keys: orders:read, and orders:read + orders:write
	readerID       string
}

func setup(t *testing.T) *fixture {
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
	h, closeAll, err := newHandler(keys, &log, func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := closeAll(); err != nil {
			t.Error(err)
		}
	})
	return &fixture{h: h, log: &log, reader: reader, writer: writer, readerID: rec.ID}
}

// do serves one request from client address ip with the given headers.
func (f *fixture) do(ip, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = ip + ":40000"
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
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
		wantHeader   [2]string // a header that must have exactly this value
		wantInBody   string
	}{
		{"public route needs no key", "GET", "/healthz", "", nil, 200, [2]string{"Content-Type", jsonCT}, `"ok"`},
		{"valid key reads an order", "GET", "/v1/orders/42", "", []string{"X-API-Key", f.reader}, 200,
			[2]string{"Ratelimit-Policy", `"per-ip";q=100;w=60, "per-key";q=60;w=60`}, `"id":"42"`},
		{"no key", "GET", "/v1/orders/42", "", nil, 401, [2]string{"Www-Authenticate", `Bearer realm="orders"`}, ""},
		{"forged key", "GET", "/v1/orders/42", "", []string{"X-API-Key", "demo_test_0000000000000000000000000000000000000"}, 401,
			[2]string{"Www-Authenticate", `Bearer error="invalid_token", realm="orders"`}, ""},
		{"missing scope", "POST", "/v1/orders", `{"item":"lamp","qty":1}`, []string{"X-API-Key", f.reader, "Content-Type", jsonCT}, 403,
			[2]string{"Www-Authenticate", `Bearer error="insufficient_scope", scope="orders:write", realm="orders"`}, ""},
		{"valid order", "POST", "/v1/orders", `{"item":"lamp","qty":2}`, []string{"X-API-Key", f.writer, "Content-Type", jsonCT}, 201,
			[2]string{"Content-Type", jsonCT}, `"qty":2`},
		{"mass assignment: unknown field", "POST", "/v1/orders", `{"item":"lamp","qty":2,"price":0}`, []string{"X-API-Key", f.writer, "Content-Type", jsonCT}, 400,
			[2]string{"Content-Type", "application/problem+json"}, "unknown_field"},
		{"duplicate key smuggling", "POST", "/v1/orders", `{"item":"lamp","qty":2,"qty":99}`, []string{"X-API-Key", f.writer, "Content-Type", jsonCT}, 400,
			[2]string{"Content-Type", "application/problem+json"}, ""},
		{"trailing data", "POST", "/v1/orders", `{"item":"lamp","qty":2}{}`, []string{"X-API-Key", f.writer, "Content-Type", jsonCT}, 400,
			[2]string{"Content-Type", "application/problem+json"}, ""},
		{"rule broken", "POST", "/v1/orders", `{"item":"lamp","qty":1000}`, []string{"X-API-Key", f.writer, "Content-Type", jsonCT}, 422,
			[2]string{"Content-Type", "application/problem+json"}, `"/qty"`},
		{"not JSON", "POST", "/v1/orders", `item=lamp`, []string{"X-API-Key", f.writer, "Content-Type", "text/plain"}, 415,
			[2]string{"Content-Type", "application/problem+json"}, ""},
		{"unlisted path", "GET", "/admin", "", nil, 404, [2]string{"X-Content-Type-Options", "nosniff"}, ""},
		{"method not allowed", "DELETE", "/v1/orders/42", "", []string{"X-API-Key", f.writer}, 405, [2]string{"Allow", "GET, HEAD"}, ""},
		{"CORS preflight answered before auth", "OPTIONS", "/v1/orders", "", []string{
			"Origin", "https://app.example.com", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type,x-api-key"},
			204, [2]string{"Access-Control-Allow-Origin", "https://app.example.com"}, ""},
		{"CORS: other origin gets no grant", "GET", "/healthz", "", []string{"Origin", "https://evil.example"}, 200,
			[2]string{"Access-Control-Allow-Origin", ""}, ""},
		{"cross-site form post (CSRF)", "POST", "/v1/orders", `{"item":"lamp","qty":2}`, []string{
			"X-API-Key", f.writer, "Content-Type", jsonCT, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, 403,
			[2]string{"Content-Type", "application/problem+json"}, ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A fresh address per case keeps the per-IP budget out of it.
			w := f.do(fmt.Sprintf("192.0.2.%d", i+10), tc.method, tc.path, tc.body, tc.hdr...)
			if w.Code != tc.want {
				t.Fatalf("%s %s = %d, want %d; body %s", tc.method, tc.path, w.Code, tc.want, w.Body)
			}
			if got := strings.Join(w.Header().Values(tc.wantHeader[0]), ", "); got != tc.wantHeader[1] {
				t.Errorf("%s = %q, want %q", tc.wantHeader[0], got, tc.wantHeader[1])
			}
			if !strings.Contains(w.Body.String(), tc.wantInBody) {
				t.Errorf("body %s lacks %s", w.Body, tc.wantInBody)
			}
			// Every answer, refusals included, carries the security headers
			// and the request ID.
			for _, h := range []string{"X-Content-Type-Options", "Content-Security-Policy", "X-Frame-Options", "X-Request-Id"} {
				if w.Header().Get(h) == "" {
					t.Errorf("response lacks %s", h)
				}
			}
			if w.Code >= 400 && strings.Contains(w.Body.String(), "lamp") {
				t.Errorf("refusal echoes input: %s", w.Body)
			}
		})
	}
}

// TestKeyGuessingIsLimitedPerIP: a client trying keys is stopped by the
// per-IP budget (burst 20) before authentication, with 429 instead of 401.
func TestKeyGuessingIsLimitedPerIP(t *testing.T) {
	f := setup(t)
	for i := range 20 {
		if w := f.do("198.51.100.7", "GET", "/v1/orders/1", "", "X-API-Key", "guess"); w.Code != 401 {
			t.Fatalf("guess %d = %d, want 401", i, w.Code)
		}
	}
	w := f.do("198.51.100.7", "GET", "/v1/orders/1", "", "X-API-Key", "guess")
	if w.Code != 429 || w.Header().Get("Retry-After") == "" || w.Header().Get("Www-Authenticate") != "" {
		t.Fatalf("guess 21 = %d, Retry-After %q, WWW-Authenticate %q; want 429 before auth",
			w.Code, w.Header().Get("Retry-After"), w.Header().Get("Www-Authenticate"))
	}
	// Another client is unaffected.
	if w := f.do("198.51.100.8", "GET", "/v1/orders/1", "", "X-API-Key", f.reader); w.Code != 200 {
		t.Fatalf("other client = %d, want 200", w.Code)
	}
}

// TestOneKeyFromManyAddressesIsLimited: the per-key budget (burst 10)
// follows the key whatever address it comes from.
func TestOneKeyFromManyAddressesIsLimited(t *testing.T) {
	f := setup(t)
	for i := range 10 {
		if w := f.do(fmt.Sprintf("203.0.113.%d", i+1), "GET", "/v1/orders/1", "", "X-API-Key", f.reader); w.Code != 200 {
			t.Fatalf("request %d = %d, want 200", i, w.Code)
		}
	}
	w := f.do("203.0.113.99", "GET", "/v1/orders/1", "", "X-API-Key", f.reader)
	if w.Code != 429 || !strings.Contains(w.Body.String(), `"policy":"per-key"`) {
		t.Fatalf("request 11 = %d %s, want 429 naming per-key", w.Code, w.Body)
	}
	if w := f.do("203.0.113.99", "GET", "/v1/orders/1", "", "X-API-Key", f.writer); w.Code != 200 {
		t.Fatalf("another key = %d, want 200", w.Code)
	}
}

// TestAuditRecords: one JSON line per request, with the route pattern
// rather than the raw path, the caller on a 403, and the security event.
func TestAuditRecords(t *testing.T) {
	f := setup(t)
	f.do("192.0.2.1", "GET", "/v1/orders/7", "", "X-API-Key", f.reader)
	f.do("192.0.2.1", "POST", "/v1/orders", "{}", "X-API-Key", f.reader, "Content-Type", "application/json")
	var recs []map[string]any
	for line := range strings.Lines(f.log.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		recs = append(recs, m)
	}
	if len(recs) != 2 {
		t.Fatalf("got %d audit records, want 2:\n%s", len(recs), f.log)
	}
	for i, want := range []struct {
		route  string
		status float64
	}{{"GET /v1/orders/{id}", 200}, {"POST /v1/orders", 403}} {
		r := recs[i]
		if r["http.route"] != want.route || r["http.response.status_code"] != want.status ||
			r["user.id"] != "apikey:"+f.readerID || r["client.address"] != "192.0.2.1" {
			t.Errorf("record %d = %v, want route %q, status %v, user apikey:%s", i, r, want.route, want.status, f.readerID)
		}
	}
	if !strings.Contains(f.log.String(), `"authz_fail`) {
		t.Errorf("403 record lacks the authz_fail event:\n%s", f.log)
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
