package headers_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/bulwark-go/bulwark/headers"
	"github.com/bulwark-go/bulwark/problem"
	"github.com/bulwark-go/bulwark/secevent"
)

const proxyAddr = "10.0.0.5:40000"

// recorder collects the security events of one request.
type recorder struct {
	mu     sync.Mutex
	events []secevent.Event
}

func (r *recorder) Record(_ context.Context, e secevent.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func withRecorder(r *http.Request) (*http.Request, *recorder) {
	rec := &recorder{}
	return r.WithContext(secevent.NewContext(r.Context(), rec)), rec
}

func TestSecure(t *testing.T) {
	xfp := mustNew(t, headers.Config{TrustedProxies: prefixes("10.0.0.0/8"), ProxyHeader: headers.XForwardedProto})
	fwd := mustNew(t, headers.Config{TrustedProxies: prefixes("10.0.0.0/8"), ProxyHeader: headers.Forwarded})
	none := mustNew(t, headers.Config{})
	for _, tc := range []struct {
		name   string
		h      *headers.Headers
		remote string
		tls    bool
		hdr    map[string][]string
		want   bool
	}{
		{"TLS", none, "203.0.113.7:1", true, nil, true},
		{"plain", none, "203.0.113.7:1", false, nil, false},
		{"spoofed X-Forwarded-Proto without proxy config", none, "203.0.113.7:1", false, map[string][]string{"X-Forwarded-Proto": {"https"}}, false},
		{"spoofed X-Forwarded-Proto from untrusted peer", xfp, "203.0.113.7:1", false, map[string][]string{"X-Forwarded-Proto": {"https"}}, false},
		{"spoofed Forwarded from untrusted peer", fwd, "203.0.113.7:1", false, map[string][]string{"Forwarded": {"proto=https"}}, false},
		{"trusted proxy says https", xfp, proxyAddr, false, map[string][]string{"X-Forwarded-Proto": {"https"}}, true},
		{"trusted proxy says HTTPS", xfp, proxyAddr, false, map[string][]string{"X-Forwarded-Proto": {"HTTPS"}}, true},
		{"trusted proxy says http over its TLS hop", xfp, proxyAddr, true, map[string][]string{"X-Forwarded-Proto": {"http"}}, false},
		{"appended list: nearest proxy wins", xfp, proxyAddr, false, map[string][]string{"X-Forwarded-Proto": {"https, http"}}, false},
		{"appended list: client's https ignored", xfp, proxyAddr, false, map[string][]string{"X-Forwarded-Proto": {"https", "http"}}, false},
		{"trusted proxy, no header, plain hop", xfp, proxyAddr, false, nil, false},
		{"trusted proxy, no header, TLS hop", xfp, proxyAddr, true, nil, true},
		{"Forwarded proto=https", fwd, proxyAddr, false, map[string][]string{"Forwarded": {`for=192.0.2.1;proto=https`}}, true},
		{"Forwarded last element http", fwd, proxyAddr, false, map[string][]string{"Forwarded": {`proto=https, proto=http`}}, false},
		{"Forwarded garbage fails closed", fwd, proxyAddr, true, map[string][]string{"Forwarded": {`proto=https;proto=https`}}, false},
		{"Forwarded ignored in X-Forwarded-Proto mode", xfp, proxyAddr, false, map[string][]string{"Forwarded": {"proto=https"}}, false},
		{"X-Forwarded-Proto ignored in Forwarded mode", fwd, proxyAddr, false, map[string][]string{"X-Forwarded-Proto": {"https"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := request("GET", "/", tc.tls)
			r.RemoteAddr = tc.remote
			for k, v := range tc.hdr {
				r.Header[k] = v
			}
			if got := tc.h.Secure(r); got != tc.want {
				t.Errorf("Secure() = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSpoofedXForwardedProtoGetsNoHSTS: a client claiming https over plain
// HTTP is not believed.
func TestSpoofedXForwardedProtoGetsNoHSTS(t *testing.T) {
	h := mustNew(t, headers.Config{TrustedProxies: prefixes("10.0.0.0/8"), ProxyHeader: headers.XForwardedProto})
	r := request("GET", "/", false)
	r.Header.Set("X-Forwarded-Proto", "https")
	if v := do(h, jsonApp, r).Header.Get("Strict-Transport-Security"); v != "" {
		t.Errorf("HSTS = %q on a spoofed https claim, want none", v)
	}
	r.RemoteAddr = proxyAddr
	if v := do(h, jsonApp, r).Header.Get("Strict-Transport-Security"); v == "" {
		t.Error("no HSTS when the trusted proxy says https")
	}
}

// TestSpoofedXForwardedProtoRefusedInAPIMode: with HTTPS required, the
// spoofed claim gets a 403 problem response, not the API.
func TestSpoofedXForwardedProtoRefusedInAPIMode(t *testing.T) {
	h := mustNew(t, headers.Config{RequireHTTPS: true, TrustedProxies: prefixes("10.0.0.0/8"), ProxyHeader: headers.XForwardedProto})
	r := request("POST", "/v1/login", false)
	r.Header.Set("X-Forwarded-Proto", "https")
	r, events := withRecorder(r)
	called := false
	res := do(h, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }), r)
	if called {
		t.Error("handler ran for a refused request")
	}
	checkProblem(t, res, http.StatusForbidden)
	if loc := res.Header.Get("Location"); loc != "" {
		t.Errorf("Location = %q: API mode must not redirect", loc)
	}
	if len(events.events) != 1 || events.events[0].Name != secevent.InputValidationFail {
		t.Errorf("events = %+v, want one %s", events.events, secevent.InputValidationFail)
	}
}

func checkProblem(t *testing.T, res *http.Response, status int) {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("status %d, want %d", res.StatusCode, status)
	}
	if ct := res.Header.Get("Content-Type"); ct != problem.MediaType {
		t.Errorf("Content-Type = %q, want %q", ct, problem.MediaType)
	}
	var body struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || body.Status != status {
		t.Errorf("problem body status %d, err %v; want %d", body.Status, err, status)
	}
	// Refusals carry the security headers too.
	if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("Content-Security-Policy") != headers.DefaultCSP {
		t.Errorf("refusal lacks security headers: %v", res.Header)
	}
}

func TestHTTPSEnforcement(t *testing.T) {
	api := mustNew(t, headers.Config{RequireHTTPS: true})
	browser := mustNew(t, headers.Config{RequireHTTPS: true, RedirectHTTP: true, AllowedHosts: []string{"www.example.com"}})
	for _, tc := range []struct {
		name     string
		h        *headers.Headers
		method   string
		target   string
		tls      bool
		status   int
		location string
	}{
		{"API mode over TLS", api, "GET", "https://www.example.com/a", true, 200, ""},
		{"API mode GET over HTTP refused", api, "GET", "http://www.example.com/a", false, 403, ""},
		{"API mode POST over HTTP refused", api, "POST", "http://www.example.com/a", false, 403, ""},
		{"browser mode GET redirected", browser, "GET", "http://www.example.com/a/b?c=d", false, 308, "https://www.example.com/a/b?c=d"},
		{"browser mode HEAD redirected, port dropped", browser, "HEAD", "http://WWW.example.com:8080/", false, 308, "https://WWW.example.com/"},
		{"browser mode POST refused", browser, "POST", "http://www.example.com/a", false, 403, ""},
		{"browser mode over TLS", browser, "GET", "https://www.example.com/a", true, 200, ""},
		{"browser mode never redirects to another host", browser, "GET", "http://evil.example/a", false, 421, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := do(tc.h, jsonApp, request(tc.method, tc.target, tc.tls))
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			if got := res.Header.Get("Location"); got != tc.location {
				t.Errorf("Location = %q, want %q", got, tc.location)
			}
			if tc.status >= 400 {
				checkProblem(t, res, tc.status)
			}
		})
	}
}

func TestCheckErrors(t *testing.T) {
	h := mustNew(t, headers.Config{RequireHTTPS: true, AllowedHosts: []string{"api.example.com"}})
	for _, tc := range []struct {
		name   string
		target string
		tls    bool
		want   error
	}{
		{"allowed", "https://api.example.com/", true, nil},
		{"wrong host", "https://evil.example/", true, headers.ErrHostNotAllowed},
		{"plain HTTP", "http://api.example.com/", false, headers.ErrInsecureRequest},
		{"host checked first", "http://evil.example/", false, headers.ErrHostNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := h.Check(request("GET", tc.target, tc.tls))
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("Check(%q) = %v, want %v", tc.target, err, tc.want)
			}
			var p problem.Problem
			if err != nil && (!errors.As(err, &p) || strings.Contains(p.Problem().Detail, "evil")) {
				t.Errorf("Check(%q) error %v has no safe Problem", tc.target, err)
			}
		})
	}
}

// TestHostHeaderPoisoningRefused: Host: evil.example gets 421, through the
// ErrorHandler, with an event, and without echoing the host.
func TestHostHeaderPoisoningRefused(t *testing.T) {
	var handled error
	h := mustNew(t, headers.Config{
		AllowedHosts: []string{"api.example.com"},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			handled = err
			problem.WriteError(w, r, err)
		},
	})
	r := request("GET", "https://api.example.com/reset-password", true)
	r.Host = "evil.example"
	r, events := withRecorder(r)
	rec := httptest.NewRecorder()
	h.Handler(jsonApp).ServeHTTP(rec, r)
	res := rec.Result()
	if strings.Contains(rec.Body.String(), "evil") {
		t.Errorf("body echoes the host: %s", rec.Body)
	}
	checkProblem(t, res, http.StatusMisdirectedRequest)
	var he *headers.HostError
	if !errors.As(handled, &he) || he.Host != "evil.example" || he.Forwarded {
		t.Errorf("ErrorHandler got %#v, want *HostError for evil.example", handled)
	}
	if len(events.events) != 1 || events.events[0].Name != secevent.InputValidationFail {
		t.Errorf("events = %+v", events.events)
	}
}

// TestDNSRebindingRefused: a browser tricked into sending requests for an
// attacker's name to this server's address is refused, with or without a
// port; the forwarded host of a trusted proxy is checked too.
func TestDNSRebindingRefused(t *testing.T) {
	h := mustNew(t, headers.Config{
		AllowedHosts:   []string{"api.example.com", "*.tenants.example.com", "127.0.0.1", "[::1]"},
		TrustedProxies: prefixes("10.0.0.0/8"), ProxyHeader: headers.XForwardedProto,
	})
	fh := mustNew(t, headers.Config{
		AllowedHosts:   []string{"api.example.com"},
		TrustedProxies: prefixes("10.0.0.0/8"), ProxyHeader: headers.Forwarded,
	})
	for _, tc := range []struct {
		name   string
		h      *headers.Headers
		host   string
		remote string
		hdr    map[string]string
		ok     bool
	}{
		{"listed", h, "api.example.com", "", nil, true},
		{"case and port", h, "API.Example.COM:8443", "", nil, true},
		{"trailing dot", h, "api.example.com.", "", nil, true},
		{"rebinding name", h, "attacker.example:8080", "", nil, false},
		{"suffix trick", h, "api.example.com.attacker.example", "", nil, false},
		{"prefix trick", h, "evilapi.example.com", "", nil, false},
		{"wildcard one label", h, "acme.tenants.example.com", "", nil, true},
		{"wildcard two labels", h, "a.b.tenants.example.com", "", nil, false},
		{"wildcard bare", h, "tenants.example.com", "", nil, false},
		{"wildcard empty label", h, ".tenants.example.com", "", nil, false},
		{"IPv4 literal", h, "127.0.0.1:8080", "", nil, true},
		{"IPv6 literal", h, "[::1]:8080", "", nil, true},
		{"other IP", h, "192.168.1.10", "", nil, false},
		{"empty host", h, "", "", nil, false},
		{"userinfo after IPv6", h, "[::1]@evil.example", "", nil, false},
		{"junk after port", h, "api.example.com:443@evil.example", "", nil, false},
		{"empty port", h, "api.example.com:", "", nil, true},
		{"long port", h, "api.example.com:1234567", "", nil, false},
		{"Kelvin sign", h, "api.example.\u212aom", "", nil, false},
		{"X-Forwarded-Host from untrusted peer ignored", h, "api.example.com", "", map[string]string{"X-Forwarded-Host": "evil.example"}, true},
		{"X-Forwarded-Host from trusted proxy checked", h, "api.example.com", proxyAddr, map[string]string{"X-Forwarded-Host": "evil.example"}, false},
		{"X-Forwarded-Host from trusted proxy allowed", h, "api.example.com", proxyAddr, map[string]string{"X-Forwarded-Host": "api.example.com"}, true},
		{"X-Forwarded-Host from trusted proxy, unlisted Host", h, "backend:8080", proxyAddr, map[string]string{"X-Forwarded-Host": "api.example.com"}, false},
		{"Forwarded host from trusted proxy", fh, "api.example.com", proxyAddr, map[string]string{"Forwarded": `host=api.example.com;proto=https`}, true},
		{"Forwarded host from trusted proxy, unlisted Host", fh, "backend:8080", proxyAddr, map[string]string{"Forwarded": `host=api.example.com;proto=https`}, false},
		{"Forwarded evil host from trusted proxy", fh, "api.example.com", proxyAddr, map[string]string{"Forwarded": `host=evil.example`}, false},
		{"Forwarded garbage from trusted proxy", fh, "api.example.com", proxyAddr, map[string]string{"Forwarded": `host="api.example.com`}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := request("GET", "https://x/", true)
			r.Host = tc.host
			if tc.remote != "" {
				r.RemoteAddr = tc.remote
			}
			for k, v := range tc.hdr {
				r.Header.Set(k, v)
			}
			err := tc.h.Check(r)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, headers.ErrHostNotAllowed)) {
				t.Errorf("Check(Host %q) = %v, want ok=%v", tc.host, err, tc.ok)
			}
		})
	}
}

// TestUpstreamFingerprintStripped: an X-Powered-By sent by a reverse-proxied
// upstream does not reach the client.
func TestUpstreamFingerprintStripped(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Powered-By", "Express")
		w.Header().Set("Server", "gunicorn/20.0")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer upstream.Close()
	u, _ := url.Parse(upstream.URL)
	h := mustNew(t, headers.Config{})
	front := httptest.NewServer(h.Handler(httputil.NewSingleHostReverseProxy(u)))
	defer front.Close()
	res, err := front.Client().Get(front.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	for _, k := range []string{"X-Powered-By", "Server"} {
		if v := res.Header.Get(k); v != "" {
			t.Errorf("%s = %q reached the client", k, v)
		}
	}
	if res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("proxied response lacks the security headers")
	}
}

// TestHostPoisoningBehindTrustedProxy: behind a trusted proxy, every host
// the request names must be allowed, the Host the handler reads (r.Host)
// as much as the proxy's forwarded host, and every element of a forwarded
// list, not only the last: frameworks read the first X-Forwarded-Host, the
// handler reads r.Host, and a proxy that passes either through from the
// client lets the client choose it. Only the forwarded host used to be
// checked, so Host: evil.example with X-Forwarded-Host: api.example.com
// reached the handler with r.Host = "evil.example".
func TestHostPoisoningBehindTrustedProxy(t *testing.T) {
	xfh := mustNew(t, headers.Config{
		AllowedHosts:   []string{"api.example.com", "lb.internal"},
		TrustedProxies: prefixes("10.0.0.0/8"), ProxyHeader: headers.XForwardedProto,
	})
	fwd := mustNew(t, headers.Config{
		AllowedHosts:   []string{"api.example.com", "lb.internal"},
		TrustedProxies: prefixes("10.0.0.0/8"), ProxyHeader: headers.Forwarded,
	})
	for _, tc := range []struct {
		name   string
		h      *headers.Headers
		host   string
		header string
		values []string
		ok     bool
	}{
		{"Host chosen by the client, forwarded host allowed", xfh, "evil.example", "X-Forwarded-Host", []string{"api.example.com"}, false},
		{"first of a forwarded list", xfh, "api.example.com", "X-Forwarded-Host", []string{"evil.example, api.example.com"}, false},
		{"first of two forwarded lines", xfh, "api.example.com", "X-Forwarded-Host", []string{"evil.example", "api.example.com"}, false},
		{"every element allowed", xfh, "api.example.com", "X-Forwarded-Host", []string{"api.example.com, lb.internal"}, true},
		{"Host and forwarded host allowed", xfh, "lb.internal:8080", "X-Forwarded-Host", []string{"api.example.com"}, true},
		{"X-Forwarded-Host beside Forwarded", fwd, "api.example.com", "X-Forwarded-Host", []string{"evil.example"}, false},
		{"Forwarded: Host chosen by the client", fwd, "evil.example", "Forwarded", []string{"host=api.example.com;proto=https"}, false},
		{"Forwarded: first element's host", fwd, "api.example.com", "Forwarded", []string{"host=evil.example, for=10.1.1.1;host=api.example.com"}, false},
		{"Forwarded: garbage in an earlier element", fwd, "api.example.com", "Forwarded", []string{`host="evil, host=api.example.com`}, false},
		{"Forwarded: every element allowed", fwd, "api.example.com", "Forwarded", []string{"for=192.0.2.1;host=api.example.com, for=10.1.1.1;host=lb.internal"}, true},
		{"Forwarded beside X-Forwarded-Proto", xfh, "api.example.com", "Forwarded", []string{"host=evil.example"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := request("GET", "https://x/", true)
			r.Host = tc.host
			r.RemoteAddr = proxyAddr
			r.Header[tc.header] = tc.values
			var sawHost string
			res := do(tc.h, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { sawHost = r.Host }), r)
			if got := res.StatusCode != http.StatusMisdirectedRequest; got != tc.ok {
				t.Errorf("Host %q, %s %q: status %d (the handler saw Host %q), want allowed=%v", tc.host, tc.header, tc.values, res.StatusCode, sawHost, tc.ok)
			}
			if err := tc.h.Check(r); (err == nil) != tc.ok || (err != nil && !errors.Is(err, headers.ErrHostNotAllowed)) {
				t.Errorf("Check = %v, want allowed=%v", err, tc.ok)
			}
		})
	}
}
