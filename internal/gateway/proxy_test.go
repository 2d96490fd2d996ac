package gateway

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/auth"
)

// echoUpstream answers with the headers it received.
func echoUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(r.Header)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func proxyTo(t *testing.T, upstream string, timeout time.Duration) http.Handler {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	return newProxy(proxyOptions{upstream: u, apiKeyHeader: "X-API-Key", responseTimeout: timeout, log: logger{slog.New(logfHandler{t.Logf})}})
}

func forward(t *testing.T, h http.Handler, r *http.Request) (int, http.Header) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	var got http.Header
	if rec.Code == 200 {
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("upstream echo: %v", err)
		}
	}
	return rec.Code, got
}

func TestForwardIdentity(t *testing.T) {
	up := echoUpstream(t)
	h := proxyTo(t, up.URL, 5*time.Second)
	tests := []struct {
		name      string
		principal *auth.Principal
		route     *routeInfo
		headers   map[string]string
		want      map[string]string // "" means absent
	}{
		{"identity header spoofing on an unauthenticated route", nil, &routeInfo{},
			map[string]string{HeaderSubject: "admin", HeaderScopes: "everything", HeaderAuthMethod: "jwt", HeaderRequestID: "forged"},
			map[string]string{HeaderSubject: "", HeaderScopes: "", HeaderAuthMethod: "", HeaderRequestID: ""}},
		{"identity header spoofing on an authenticated route", &auth.Principal{Subject: "alice", Method: "jwt", Scopes: []string{"a", "b"}}, &routeInfo{authenticates: true},
			map[string]string{HeaderSubject: "admin"},
			map[string]string{HeaderSubject: "alice", HeaderScopes: "a b", HeaderAuthMethod: "jwt"}},
		{"hop-by-hop smuggling removes only the client's copy", &auth.Principal{Subject: "alice", Method: "api_key"}, &routeInfo{authenticates: true},
			map[string]string{"Connection": "X-Bulwark-Subject, X-Bulwark-Auth-Method", HeaderSubject: "admin"},
			map[string]string{HeaderSubject: "alice", HeaderAuthMethod: "api_key", "Connection": ""}},
		{"verified credentials are not forwarded", &auth.Principal{Subject: "alice", Method: "jwt"}, &routeInfo{authenticates: true},
			map[string]string{"Authorization": "Bearer secret-token", "X-API-Key": "bwk_live_secret"},
			map[string]string{"Authorization": "", "X-API-Key": ""}},
		{"forward_credentials keeps them", &auth.Principal{Subject: "alice", Method: "jwt"}, &routeInfo{authenticates: true, forwardCredentials: true},
			map[string]string{"Authorization": "Bearer secret-token"},
			map[string]string{"Authorization": "Bearer secret-token"}},
		{"auth: none routes pass credentials unchanged", nil, &routeInfo{},
			map[string]string{"Authorization": "Basic dTpw"},
			map[string]string{"Authorization": "Basic dTpw"}},
		{"spoofed X-Forwarded-For replaced by the resolved client", nil, &routeInfo{},
			map[string]string{"X-Forwarded-For": "1.1.1.1", "Forwarded": "for=1.1.1.1"},
			map[string]string{"X-Forwarded-For": "203.0.113.9", "Forwarded": "", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "api.example"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://api.example/v1/x", nil)
			r.RemoteAddr = "203.0.113.9:5555"
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			ctx := withRoute(r.Context(), tc.route)
			if tc.principal != nil {
				ctx = auth.NewContext(ctx, tc.principal)
			}
			code, got := forward(t, h, r.WithContext(ctx))
			if code != 200 {
				t.Fatalf("status %d", code)
			}
			for k, v := range tc.want {
				if g := strings.Join(got.Values(k), ","); g != v {
					t.Errorf("upstream saw %s = %q, want %q", k, g, v)
				}
			}
		})
	}
}

func TestUpstreamFailures(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers; the gateway gives up first
	}))
	defer slow.Close()
	panicky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(500)
		_, _ = w.Write([]byte("goroutine 1 [running]: main.handler() /srv/app.go:42"))
	}))
	defer panicky.Close()

	for _, tc := range []struct {
		name   string
		url    string
		status int
	}{
		{"upstream down", down.URL, 502},
		{"upstream slow: 504", slow.URL, 504},
		{"upstream stack trace", panicky.URL, 502},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			proxyTo(t, tc.url, 200*time.Millisecond).ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
			if rec.Code != tc.status || rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("status %d type %q, want %d problem", rec.Code, rec.Header().Get("Content-Type"), tc.status)
			}
			if b := rec.Body.String(); strings.Contains(b, "127.0.0.1") || strings.Contains(b, "dial") || strings.Contains(b, "goroutine") {
				t.Errorf("problem leaks the upstream: %s", rec.Body)
			}
		})
	}
}

// The upstream is told https only when bulwark was reached over TLS or a
// trusted proxy said so (the headers package's judgement, reused).
func TestForwardedProto(t *testing.T) {
	up := upstreamEcho(t)
	g, _ := build(t, "upstream: "+up.URL+"\ntrusted_proxies: [10.0.0.0/8]\nroutes: [{path: /, auth: none}]\n")
	seen := func(r *http.Request) string {
		rec := httptest.NewRecorder()
		g.Handler().ServeHTTP(rec, r)
		var got struct{ Headers http.Header }
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("upstream answer %d %s: %v", rec.Code, rec.Body, err)
		}
		return got.Headers.Get("X-Forwarded-Proto")
	}
	for _, tc := range []struct {
		name, remote, xfp string
		want              string
	}{
		{"trusted proxy says https", "10.0.0.1:1", "https", "https"},
		{"nearest proxy's value counts", "10.0.0.1:1", "https, http", "http"},
		{"client claims https through the proxy", "10.0.0.1:1", "http", "http"},
		{"untrusted peer claims https", "198.51.100.1:1", "https", "http"},
		{"no header", "10.0.0.1:1", "", "http"},
	} {
		r := httptest.NewRequest("GET", "/x", nil)
		r.RemoteAddr = tc.remote
		if tc.xfp != "" {
			r.Header.Set("X-Forwarded-Proto", tc.xfp)
		}
		if got := seen(r); got != tc.want {
			t.Errorf("%s: upstream told %q, want %q", tc.name, got, tc.want)
		}
	}
	r := httptest.NewRequest("GET", "https://x/x", nil)
	r.RemoteAddr = "198.51.100.1:1"
	if got := seen(r); got != "https" {
		t.Errorf("a TLS request: upstream told %q, want https", got)
	}
}
