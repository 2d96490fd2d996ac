package gateway

import (
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// routes has protections of every kind side by side: the layout that the
// traversal bypasses attacked.
const routes = `
shutdown_delay: 0s
auth:
  api_keys: {store: "sqlite://keys.db"}
ratelimit:
  policies: [{name: generous, key: ip, limit: 1000000, period: 1h}]
routes:
  - {path: /public/, auth: none, methods: [GET, POST]}
  - {path: /limited/, auth: none, ratelimit: [generous]}
  - {path: /admin/, auth: required, scopes: admin}
  - {path: /v1/, auth: required, scopes: "orders:read", methods: [GET, POST]}
audit: {output: audit.log}
`

var servedRE = regexp.MustCompile(`^location=(\w+) uri=(\S*) request_uri=(\S*) subject=(.*)\n$`)

// served parses nginx's answer: which location served the request, the
// path as nginx resolved it, and the path as nginx received it.
type served struct{ location, uri, requestURI, subject string }

func parseServed(body string) (served, bool) {
	m := servedRE.FindStringSubmatch(body)
	if m == nil {
		return served{}, false
	}
	return served{m[1], m[2], m[3], m[4]}, true
}

// spellings is the traversal and encoding corpus of ffuf's lists, mixed
// between every route prefix and every other route's path.
func spellings() []string {
	prefixes := []string{"/public/", "/limited/", "/v1/", "/admin/", "/", "//public/"}
	tricks := []string{"..", ".", "%2e%2e", "%2E%2E", ".%2e", "%2e.", "..%2f", "..%2F", "..%5c", "..\\", "%2e%2e%2f",
		"..%00", "%00", "%252e%252e", "%252e%252e%252f", "%c0%ae%c0%ae", "%c0%af", "..;", ";", "", "x", "%2e", "..%c0%af"}
	targets := []string{"v1/x", "admin/x", "limited/x", "public/x", "v1/../admin/x"}
	var out []string
	for _, p := range prefixes {
		for _, a := range tricks {
			for _, b := range []string{"..", "%2e%2e", "", "x"} {
				for _, tg := range targets {
					out = append(out, p+a+"/"+b+"/"+tg)
				}
			}
			out = append(out, p+a+"/v1/x", p+a+"//admin/x")
		}
	}
	return out
}

// TestNginxServesWhatBulwarkRouted: with curl --path-as-is spellings, a
// request either is refused by bulwark, or nginx receives a path it does
// not need to resolve any further, and serves it from the location whose
// protections bulwark applied: never /v1/ without a key, never /admin/
// with a key that lacks the admin scope.
func TestNginxServesWhatBulwarkRouted(t *testing.T) {
	nginx := startNginx(t)
	g, keys := startGateway(t, "listen: 127.0.0.1:0\nupstream: http://"+nginx+"\n"+routes, "orders:read")
	ordersKey := keys[0]

	// The reproductions first: each one reached nginx's /v1/ or
	// /admin/ handler before.
	for _, tc := range []struct {
		target, key string
	}{
		{"/public/../v1/x", ""},
		{"/public/%2e%2e/v1/x", ""},
		{"/public/..%2fv1/x", ""},
		{"/public/..%5cv1/x", ""},
		{"/public/%00/../v1/x", ""},
		{"/v1/../admin/x", ordersKey},
		{"/public/..;/admin/x", ordersKey},
	} {
		hdr := []string{}
		if tc.key != "" {
			hdr = append(hdr, "X-API-Key", tc.key)
		}
		res, body := get(t, g.addr, "GET", tc.target, hdr...)
		if s, ok := parseServed(body); ok && (s.location == "v1" && tc.key == "" || s.location == "admin") {
			t.Errorf("%s reached nginx's %s handler (%d): %s", tc.target, s.location, res.StatusCode, body)
		}
		if res.StatusCode < 400 || res.StatusCode > 499 {
			t.Errorf("%s: status %d, want a 4xx refusal", tc.target, res.StatusCode)
		}
	}

	corpus := spellings()
	if len(corpus) < 2000 {
		t.Fatalf("%d spellings, want at least 2000", len(corpus))
	}
	counts := map[string]int{}
	for _, target := range corpus {
		for _, key := range []string{"", ordersKey} {
			hdr := []string{}
			if key != "" {
				hdr = append(hdr, "X-API-Key", key)
			}
			res, body := get(t, g.addr, "GET", target, hdr...)
			s, ok := parseServed(body)
			if !ok {
				if res.StatusCode < 400 || res.StatusCode > 499 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") && res.StatusCode != 400 {
					t.Errorf("%q: %d %q: %s", target, res.StatusCode, res.Header.Get("Content-Type"), body)
				}
				counts["refused"]++
				continue
			}
			counts[s.location]++
			// nginx got a path its own resolution leaves as it is: what it
			// serves is what bulwark routed.
			if dec, err := url.PathUnescape(s.requestURI); err != nil || dec != s.uri {
				t.Errorf("%q reached nginx as %q, which nginx resolved to %q", target, s.requestURI, s.uri)
			}
			switch s.location {
			case "admin":
				t.Errorf("%q reached nginx's admin handler as %q", target, s.requestURI)
			case "v1":
				if key == "" || !strings.HasPrefix(s.subject, "apikey:") || strings.Contains(s.subject, ",") {
					t.Errorf("%q reached nginx's v1 handler as %q with subject %q", target, s.requestURI, s.subject)
				}
			case "limited":
				if res.Header.Get("RateLimit-Policy") == "" {
					t.Errorf("%q reached nginx's limited handler without its rate limit", target)
				}
			}
		}
	}
	t.Logf("%d spellings × 2 through bulwark to nginx: %v", len(corpus), counts)
	if counts["refused"] == 0 || counts["v1"] == 0 || counts["public"] == 0 {
		t.Errorf("the corpus did not exercise every outcome: %v", counts)
	}
}

// TestNginxUpstreamHeaders: nginx's own CORS headers never reach a
// refused origin, an allowed origin gets exactly one
// Access-Control-Allow-Origin; HEAD works where GET does; a malformed
// chunked body is the client's 4xx; SIGHUP leaves bulwark serving.
func TestNginxUpstreamHeaders(t *testing.T) {
	nginx := startNginx(t)
	g, _ := startGateway(t, "listen: 127.0.0.1:0\nupstream: http://"+nginx+"\n"+
		"cors: {allowed_origins: [https://app.example], allowed_methods: [GET]}\n"+routes)

	res, _ := get(t, g.addr, "GET", "/public/x", "Origin", "https://evil.example")
	for k := range res.Header {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Errorf("a refused origin got %s: %v", k, res.Header[k])
		}
	}
	if res.Header.Get("X-Powered-By") != "" || res.Header.Get("Server") != "" {
		t.Errorf("fingerprints passed: %v", res.Header)
	}
	res, _ = get(t, g.addr, "GET", "/public/x", "Origin", "https://app.example")
	if v := res.Header.Values("Access-Control-Allow-Origin"); !slices.Equal(v, []string{"https://app.example"}) {
		t.Errorf("an allowed origin got Access-Control-Allow-Origin %q, want exactly one", v)
	}
	if v := res.Header.Get("Access-Control-Allow-Credentials"); v != "" {
		t.Errorf("nginx's Access-Control-Allow-Credentials reached the client: %q", v)
	}

	res, _ = get(t, g.addr, "HEAD", "/public/x")
	if res.StatusCode != 200 {
		t.Errorf("HEAD on a GET route: %d, want 200", res.StatusCode)
	}

	res, _ = raw(t, g.addr, "POST /public/x HTTP/1.1\r\nHost: api.example\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nbody\r\n0\r\n\r\n")
	if res.StatusCode != 400 {
		t.Errorf("a malformed chunked body: %d, want 400", res.StatusCode)
	}

	if err := g.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(g.stderr.String(), "SIGHUP") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // waiting for the process to log the signal
	}
	res, body := get(t, g.addr, "GET", "/public/after-sighup")
	if s, ok := parseServed(body); !ok || s.location != "public" || res.StatusCode != 200 {
		t.Errorf("after SIGHUP: %d %s\n%s", res.StatusCode, body, g.stderr)
	}
	if strings.Contains(g.stderr.String(), "upstream") {
		t.Errorf("a client's fault was logged as the upstream's:\n%s", g.stderr)
	}
}

// TestWSGINeverSeesSpoofedHeaders: the WSGI app reads X_Bulwark_Subject as
// HTTP_X_BULWARK_SUBJECT, exactly like the gateway's X-Bulwark-Subject
// (shown directly first, so the test can fail), and honours override
// headers; through bulwark, neither reaches environ.
func TestWSGINeverSeesSpoofedHeaders(t *testing.T) {
	app := startWSGI(t)
	g, keys := startGateway(t, "listen: 127.0.0.1:0\nupstream: http://"+app+"\nforward_underscore_headers: [X_Tenant]\n"+routes, "orders:read")
	spoof := []string{
		"X_Bulwark_Subject", "admin",
		"X_Bulwark_Scopes", "admin",
		"X-Bulwark_Auth-Method", "mtls",
		"X-HTTP-Method-Override", "DELETE",
		"X-HTTP-Method", "DELETE",
		"X-Method-Override", "DELETE",
		"X-Original-URL", "/admin/x",
		"X-Rewrite-URL", "/admin/x",
		"X_Original_URL", "/admin/x",
		"X_Tenant", "t1",
	}
	environ := func(addr string, hdr ...string) map[string]string {
		res, body := get(t, addr, "GET", "/v1/x", hdr...)
		var env map[string]string
		if err := json.Unmarshal([]byte(body), &env); err != nil {
			t.Fatalf("%d %q: %v", res.StatusCode, body, err)
		}
		return env
	}

	// The control: straight to the app, the spoofed spelling is the
	// gateway's header.
	if env := environ(app, spoof...); env["HTTP_X_BULWARK_SUBJECT"] != "admin" || env["HTTP_X_HTTP_METHOD_OVERRIDE"] != "DELETE" {
		t.Fatalf("the WSGI app does not fold header names as expected: %v", env)
	}

	for _, tc := range []struct {
		name string
		hdr  []string
	}{
		{"public route", nil},
		{"beside a real API key", []string{"X-API-Key", keys[0]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/public/x"
			if tc.hdr != nil {
				path = "/v1/x"
			}
			res, body := get(t, g.addr, "GET", path, append(slices.Clone(spoof), tc.hdr...)...)
			var env map[string]string
			if err := json.Unmarshal([]byte(body), &env); err != nil {
				t.Fatalf("%d %q: %v", res.StatusCode, body, err)
			}
			for k, v := range env {
				switch {
				case k == "HTTP_X_BULWARK_SUBJECT":
					if tc.hdr == nil || !strings.HasPrefix(v, "apikey:") || strings.Contains(v, ",") {
						t.Errorf("environ %s = %q", k, v)
					}
				case k == "HTTP_X_BULWARK_SCOPES":
					if tc.hdr == nil || v != "orders:read" {
						t.Errorf("environ %s = %q", k, v)
					}
				case k == "HTTP_X_BULWARK_AUTH_METHOD":
					if tc.hdr == nil || v != "api_key" {
						t.Errorf("environ %s = %q", k, v)
					}
				case strings.Contains(k, "OVERRIDE"), strings.Contains(k, "ORIGINAL_URL"), strings.Contains(k, "REWRITE_URL"), k == "HTTP_X_HTTP_METHOD":
					t.Errorf("environ %s = %q reached the app", k, v)
				}
			}
			if env["HTTP_X_TENANT"] != "t1" {
				t.Errorf("the operator's forward_underscore_headers entry was dropped: %v", env)
			}
			if env["REQUEST_METHOD"] != "GET" {
				t.Errorf("REQUEST_METHOD = %q", env["REQUEST_METHOD"])
			}
		})
	}
}
