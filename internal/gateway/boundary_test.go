package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/canonical"
)

// seen is what a recording upstream received: the request line's target
// and the headers, per request ID.
type seen struct {
	mu   sync.Mutex
	reqs map[string]seenRequest
}

type seenRequest struct {
	target string
	header http.Header
}

// recordingUpstream answers 200 to everything and remembers each request
// by the X-Request-ID the gateway sent.
func recordingUpstream(t *testing.T) (*httptest.Server, *seen) {
	t.Helper()
	s := &seen{reqs: map[string]seenRequest{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.reqs[r.Header.Get("X-Request-Id")] = seenRequest{target: r.RequestURI, header: r.Header.Clone()}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "upstream")
	}))
	t.Cleanup(srv.Close)
	return srv, s
}

func (s *seen) get(id string) (seenRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reqs[id]
	return r, ok
}

// boundaryConfig has routes with different protections side by side: the
// layout that the traversal bypasses attacked.
func boundaryConfig(upstream string) string {
	return `
upstream: ` + upstream + `
auth:
  api_keys: {store: memory}
ratelimit:
  policies: [{name: generous, key: ip, limit: 1000000, period: 1h}]
routes:
  - {path: /public/, auth: none}
  - {path: /limited/, auth: none, ratelimit: [generous]}
  - {path: /admin/, auth: required, scopes: admin}
  - {path: /v1/, auth: required, scopes: "orders:read"}
`
}

// rawRequest parses a request line as the server does (curl
// --path-as-is): nil when net/http itself would refuse it.
func rawRequest(method, target string, hdr map[string]string) *http.Request {
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: api.example\r\n")
	for k, v := range hdr {
		b.WriteString(k + ": " + v + "\r\n")
	}
	b.WriteString("\r\n")
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(b.String())))
	if err != nil {
		return nil
	}
	r.RemoteAddr = "203.0.113.9:41000"
	return r
}

// pathCorpus is every mix of the traversal and encoding tricks of the
// ffuf lists, between each route prefix and each other route's path.
func pathCorpus() []string {
	prefixes := []string{"/public/", "/limited/", "/v1/", "/admin/", "/", "//public/"}
	tricks := []string{"..", ".", "%2e%2e", "%2E%2E", ".%2e", "%2e.", "..%2f", "..%2F", "..%5c", "..\\", "%2e%2e%2f",
		"..%00", "%00", "%252e%252e", "%252e%252e%252f", "%c0%ae%c0%ae", "%c0%af", "..;", ";", "", "x", "%2e", "...", "%u002e"}
	targets := []string{"v1/x", "admin/x", "limited/x", "public/x", "v1/../admin/x", "%61dmin/x"}
	var out []string
	for _, p := range prefixes {
		for _, a := range tricks {
			for _, b := range []string{"..", "%2e%2e", "", "x"} {
				for _, tg := range targets {
					out = append(out, p+a+"/"+b+"/"+tg)
				}
			}
			out = append(out, p+a+"/v1/x", p+a+"//admin/x", p+a)
		}
	}
	return out
}

// TestPathTraversalDifferential: for every spelling, either the client
// gets a 4xx problem, or the upstream receives a path that is already
// canonical, lies under the route that checked it, and that route's
// authentication, scopes and limits were applied.
func TestPathTraversalDifferential(t *testing.T) {
	up, got := recordingUpstream(t)
	g, logs := build(t, boundaryConfig(up.URL))
	ordersKey, _, err := g.keys.Create(context.Background(), apikey.Spec{Name: "orders", Owner: "t", Scopes: []string{"orders:read"}})
	if err != nil {
		t.Fatal(err)
	}
	canon, _ := canonical.New(canonical.Config{})
	corpus := pathCorpus()
	if len(corpus) < 2000 {
		t.Fatalf("corpus has %d spellings, want at least 2000", len(corpus))
	}
	routes := map[string]string{} // request ID -> audit http.route
	h := g.Handler()
	forwarded, refused, unparsable := 0, 0, 0
	for _, target := range corpus {
		for _, hdr := range []map[string]string{nil, {"X-API-Key": ordersKey}} {
			r := rawRequest("GET", target, hdr)
			if r == nil {
				unparsable++ // net/http answers 400 before any handler
				continue
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			id := rec.Header().Get("X-Request-Id")
			up, reached := got.get(id)
			if !reached {
				if rec.Code < 400 || rec.Code > 499 || rec.Header().Get("Content-Type") != "application/problem+json" {
					t.Errorf("%q: status %d %q without reaching the upstream; want a 4xx problem", target, rec.Code, rec.Header().Get("Content-Type"))
				}
				refused++
				continue
			}
			forwarded++
			if rec.Code != 200 {
				t.Errorf("%q: upstream reached, but the client got %d", target, rec.Code)
			}
			path, _, _ := strings.Cut(up.target, "?")
			if esc, _, err := canon.Path(path); err != nil || esc != path {
				t.Errorf("%q reached the upstream as %q, which is not canonical (%q, %v)", target, path, esc, err)
			}
			routes[id] = ""
			rp := routeForPath(path)
			subject := up.header.Get(HeaderSubject)
			switch rp {
			case "/admin/":
				t.Errorf("%q reached the admin handler as %q with scope orders:read at most", target, path)
			case "/v1/":
				if !strings.HasPrefix(subject, "apikey:") {
					t.Errorf("%q reached /v1/ as %q without authentication", target, path)
				}
			case "/limited/":
				if rec.Header().Get("RateLimit-Policy") == "" {
					t.Errorf("%q reached /limited/ as %q without its rate limit", target, path)
				}
			case "/public/":
			default:
				t.Errorf("%q reached the upstream as %q, under no route", target, path)
			}
		}
	}
	// The audit record names the route that checked each forwarded
	// request, and that route is the one whose prefix the path has.
	for _, rec := range logs.records(t) {
		id, _ := rec["request_id"].(string)
		if _, ok := routes[id]; !ok {
			continue
		}
		up, _ := got.get(id)
		path, _, _ := strings.Cut(up.target, "?")
		if route, _ := rec["http.route"].(string); route != routeForPath(path) || rec["url.path"] != path {
			t.Errorf("audit says route %q path %v for a request the upstream got as %q", route, rec["url.path"], path)
		}
	}
	t.Logf("%d spellings × 2: %d forwarded, %d refused with a problem, %d refused by net/http", len(corpus), forwarded, refused, unparsable)
	if forwarded == 0 || refused == 0 {
		t.Fatalf("the corpus exercised only one outcome")
	}
}

// routeForPath is the route a canonical path belongs to in boundaryConfig.
func routeForPath(p string) string {
	for _, r := range []string{"/public/", "/limited/", "/admin/", "/v1/"} {
		if strings.HasPrefix(p, r) {
			return r
		}
	}
	return ""
}

// The reproductions of the issue, one by one: none reaches a protected
// upstream handler.
func TestPathBypassReproductions(t *testing.T) {
	up, got := recordingUpstream(t)
	g, logs := build(t, boundaryConfig(up.URL))
	ordersKey, _, _ := g.keys.Create(context.Background(), apikey.Spec{Name: "orders", Owner: "t", Scopes: []string{"orders:read"}})
	tests := []struct {
		name, target string
		key          bool
		status       int
		upstreamPath string // "" when the upstream must not be reached
	}{
		{"dot-segment escape from an auth: none route", "/public/../v1/secret", false, 401, ""},
		{"encoded dot-segment escape", "/public/%2e%2e/v1/x", false, 401, ""},
		{"encoded slash escape", "/public/..%2fv1/x", false, 400, ""},
		{"backslash escape", "/public/..\\v1/x", false, 400, ""},
		{"encoded backslash escape", "/public/..%5cv1/x", false, 400, ""},
		{"NUL escape", "/public/%00/../v1/x", false, 400, ""},
		{"overlong UTF-8 escape", "/public/%c0%ae%c0%ae/v1/x", false, 400, ""},
		{"double-encoding escape", "/public/%252e%252e/v1/x", false, 400, ""},
		{"Tomcat path-parameter escape", "/public/..;/v1/x", false, 400, ""},
		{"scope escape to a sibling route", "/v1/../admin/x", true, 403, ""},
		{"rate-limit escape", "/public/../limited/x", false, 200, "/limited/x"},
		{"repeated slashes", "//v1//x", true, 200, "/v1/x"},
		{"climb above the root", "/public/../../v1/x", false, 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hdr map[string]string
			if tc.key {
				hdr = map[string]string{"X-API-Key": ordersKey}
			}
			rec := httptest.NewRecorder()
			g.Handler().ServeHTTP(rec, rawRequest("GET", tc.target, hdr))
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			up, reached := got.get(rec.Header().Get("X-Request-Id"))
			switch {
			case tc.upstreamPath == "" && reached:
				t.Errorf("the upstream was reached, as %q", up.target)
			case tc.upstreamPath != "" && up.target != tc.upstreamPath:
				t.Errorf("the upstream got %q, want %q", up.target, tc.upstreamPath)
			}
			if tc.status == 200 && tc.upstreamPath == "/limited/x" && rec.Header().Get("RateLimit-Policy") == "" {
				t.Errorf("the rate limit of /limited/ was not applied")
			}
		})
	}
	// A refusal is recorded with the attempt: the path as it arrived and
	// the event.
	found := false
	for _, rec := range logs.records(t) {
		if rec["http.response.status_code"] == float64(400) && strings.Contains(rec["url.path"].(string), "v1") {
			ev, _ := json.Marshal(rec["events"])
			if strings.Contains(string(ev), "input_validation_fail") && strings.Contains(string(ev), "path not canonical") && rec["http.route"] == "unmatched" {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("no audit record shows a refused path with its event")
	}
}

// TestUpstreamSeesCleanHeaders: underscore spellings of the identity
// headers, and the method and URL override headers, never reach the
// upstream; an operator-listed underscore header does.
func TestUpstreamSeesCleanHeaders(t *testing.T) {
	up, got := recordingUpstream(t)
	g, logs := build(t, `
upstream: `+up.URL+`
forward_underscore_headers: [X_Tenant]
auth:
  api_keys: {store: memory}
routes:
  - {path: /public/, auth: none}
  - {path: /v1/, auth: required, methods: [GET]}
`)
	key, _ := g.CreateDemoKey(context.Background())
	spoof := map[string]string{
		"X_Bulwark_Subject":      "admin",
		"x_bulwark_scopes":       "admin",
		"X-Bulwark_Auth_Method":  "mtls",
		"X-HTTP-Method-Override": "DELETE",
		"X-HTTP-Method":          "DELETE",
		"X-Method-Override":      "DELETE",
		"X-Original-URL":         "/admin/x",
		"X-Rewrite-URL":          "/admin/x",
		"X_Original_URL":         "/admin/x",
		"X-Real-IP":              "10.0.0.1",
		"X_Forwarded_For":        "10.0.0.1",
		"X_Tenant":               "t1",
		// Other gateways' identity headers, which upstreams written for
		// oauth2-proxy, nginx auth_request or IAP believe (found by the
		// probe's spoof.identity-header).
		"X-Forwarded-User":                "admin",
		"Remote-User":                     "admin",
		"X-Auth-Request-Email":            "admin@example.com",
		"X-Goog-Authenticated-User-Email": "admin@example.com",
	}
	for _, tc := range []struct{ name, path, key string }{{"public route", "/public/x", ""}, {"beside a real credential", "/v1/x", key}} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			for k, v := range spoof {
				hdr[k] = v
			}
			if tc.key != "" {
				hdr["X-API-Key"] = tc.key
			}
			rec := httptest.NewRecorder()
			g.Handler().ServeHTTP(rec, rawRequest("GET", tc.path, hdr))
			up, ok := got.get(rec.Header().Get("X-Request-Id"))
			if !ok {
				t.Fatalf("status %d, upstream not reached", rec.Code)
			}
			for k := range up.header {
				folded := strings.ToLower(strings.ReplaceAll(k, "_", "-"))
				switch {
				case k == "X_tenant":
				case strings.Contains(k, "_"):
					t.Errorf("the upstream got %s", k)
				case strings.Contains(folded, "override"), strings.Contains(folded, "original-url"), strings.Contains(folded, "rewrite-url"), folded == "x-http-method", folded == "x-real-ip",
					strings.Contains(folded, "user") && folded != "user-agent", strings.Contains(folded, "email"):
					t.Errorf("the upstream got %s: %v", k, up.header[k])
				}
			}
			if up.header.Get("X_tenant") != "t1" {
				t.Errorf("the listed underscore header was dropped: %v", up.header)
			}
			if s := up.header.Values(HeaderSubject); tc.key == "" && len(s) != 0 || tc.key != "" && (len(s) != 1 || !strings.HasPrefix(s[0], "apikey:")) {
				t.Errorf("the upstream got subject %q", s)
			}
			if s := up.header.Get(HeaderAuthMethod); tc.key != "" && s != "api_key" || tc.key == "" && s != "" {
				t.Errorf("the upstream got auth method %q", s)
			}
		})
	}
	// The spoofing attempt is in the audit log.
	n := 0
	for _, rec := range logs.records(t) {
		ev, _ := json.Marshal(rec["events"])
		if strings.Contains(string(ev), "malicious_extraneous") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d audit records show the identity-header spoofing, want 2", n)
	}
}

func TestForwardUnderscoreHeadersChecked(t *testing.T) {
	_, err := Parse([]byte("forward_underscore_headers: [X_Bulwark_Subject, X-Plain, X_Forwarded_For]\nroutes: [{path: /, auth: none}]\n"), t.TempDir())
	if err == nil || strings.Count(err.Error(), "forward_underscore_headers") != 3 {
		t.Errorf("Parse = %v, want three forward_underscore_headers problems", err)
	}
}

// TestGatewayOwnsResponseHeaders: an upstream's CORS headers never reach a
// refused origin, an allowed origin gets exactly one
// Access-Control-Allow-Origin, and an authenticated answer is not left to
// shared caches by the upstream.
func TestGatewayOwnsResponseHeaders(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		w.Header().Set("Access-Control-Expose-Headers", "X-Secret")
		if cc := r.URL.Query().Get("cc"); cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		w.Header().Set("X-Request-Id", "upstream-id")
		_, _ = io.WriteString(w, "{}")
	}))
	t.Cleanup(up.Close)
	conf := `
upstream: ` + up.URL + `
auth:
  api_keys: {store: memory}
routes:
  - {path: /public/, auth: none}
  - {path: /cached/, auth: required, cache: upstream}
  - {path: /v1/, auth: required}
`
	withCORS := conf + "cors: {allowed_origins: [https://app.example], allowed_methods: [GET]}\n"
	for _, tc := range []struct {
		name, conf, origin, wantACAO string
	}{
		{"refused origin", withCORS, "https://evil.example", ""},
		{"allowed origin", withCORS, "https://app.example", "https://app.example"},
		{"no cors configured", conf, "https://app.example", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := build(t, tc.conf)
			rec := do(g.Handler(), "GET", "/public/x", map[string]string{"Origin": tc.origin}, "")
			acao := rec.Header().Values("Access-Control-Allow-Origin")
			if tc.wantACAO == "" && len(acao) != 0 || tc.wantACAO != "" && !slices.Equal(acao, []string{tc.wantACAO}) {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", acao, tc.wantACAO)
			}
			for k := range rec.Header() {
				if strings.HasPrefix(k, "Access-Control-") && k != "Access-Control-Allow-Origin" {
					t.Errorf("%s from the upstream reached the client", k)
				}
			}
			if ids := rec.Header().Values("X-Request-Id"); len(ids) != 1 || ids[0] == "upstream-id" {
				t.Errorf("X-Request-Id = %q, want the gateway's only", ids)
			}
		})
	}
	g, _ := build(t, conf)
	key, _ := g.CreateDemoKey(context.Background())
	for _, tc := range []struct{ path, cc, want string }{
		{"/v1/x", "public, max-age=600", "private, no-store"},
		{"/v1/x", "s-maxage=600", "private, no-store"},
		{"/v1/x", "max-age=600", "private, no-store"},
		{"/v1/x", "private, max-age=60", "private, max-age=60"},
		{"/v1/x", "no-store", "no-store"},
		{"/v1/x", "", "no-store"},
		{"/cached/x", "public, max-age=600", "public, max-age=600"},
		{"/public/x", "public, max-age=600", "public, max-age=600"},
	} {
		rec := do(g.Handler(), "GET", tc.path+"?cc="+strings.ReplaceAll(tc.cc, " ", "%20"), map[string]string{"X-API-Key": key}, "")
		if got := strings.Join(rec.Header().Values("Cache-Control"), ", "); rec.Code != 200 || got != tc.want {
			t.Errorf("%s with upstream Cache-Control %q: %d, Cache-Control %q, want %q", tc.path, tc.cc, rec.Code, got, tc.want)
		}
	}
}

// TestClientFaultsAreTheClients: HEAD is served wherever GET is, and a
// request body the client botched is a 4xx, not an upstream failure.
func TestClientFaultsAreTheClients(t *testing.T) {
	up, _ := recordingUpstream(t)
	var opLog strings.Builder
	var mu sync.Mutex
	cfg, err := Parse([]byte(`
upstream: `+up.URL+`
routes:
  - {path: /get/, auth: none, methods: [GET]}
  - {path: /json/, auth: none, methods: [POST], json: true}
  - {path: /raw/, auth: none, methods: [POST]}
`), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	g, err := Build(cfg, Options{AuditWriter: logs, Logf: func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		opLog.WriteString(f + "\n")
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)

	res, err := http.Head(srv.URL + "/get/x")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("HEAD on a GET route: %d, want 200", res.StatusCode)
	}
	if rec := do(g.Handler(), "DELETE", "/get/x", nil, ""); rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("Allow = %q", rec.Header().Get("Allow"))
	}

	for _, path := range []string{"/raw/x", "/json/x"} {
		for name, body := range map[string]string{
			"malformed chunk size":                          "zz\r\n{}\r\n0\r\n\r\n",
			"chunk longer than sent, then the client stops": "ff\r\n{\"a\":1}",
		} {
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.WriteString(conn, "POST "+path+" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"+body)
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			conn.Close()
			if err != nil {
				t.Fatalf("%s %s: %v", path, name, err)
			}
			res.Body.Close()
			if res.StatusCode != 400 {
				t.Errorf("%s %s: status %d, want 400", path, name, res.StatusCode)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(opLog.String(), "upstream") {
		t.Errorf("a client's fault was logged as the upstream's:\n%s", opLog.String())
	}
}

// TestSmuggledRequestNeverReachesTheUpstream: CL.TE and TE.CL with a
// second request after the body. net/http reads the chunked body and
// would answer the second request on the same connection; the gateway
// answers once and closes it (RFC 9112 §6.1), so whatever a hop in front
// made of the framing, nothing rides along.
func TestSmuggledRequestNeverReachesTheUpstream(t *testing.T) {
	up, seen := recordingUpstream(t)
	cfg, err := Parse([]byte("upstream: "+up.URL+"\nroutes:\n  - {path: /, auth: none, methods: [GET, POST]}\n"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	g, err := Build(cfg, Options{AuditWriter: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	for name, framing := range map[string]string{
		"CL.TE": "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
		"TE.CL": "Transfer-Encoding: chunked\r\nContent-Length: 40\r\n",
	} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(conn, "POST /a HTTP/1.1\r\nHost: x\r\n"+framing+"\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\nX-Probe-ID: smuggled\r\n\r\n")
		out, _ := io.ReadAll(conn)
		conn.Close()
		if n := strings.Count(string(out), "HTTP/1.1 "); n != 1 {
			t.Errorf("%s: %d answers on one connection, want 1", name, n)
		}
		seen.mu.Lock()
		for _, r := range seen.reqs {
			if r.target == "/smuggled" {
				t.Errorf("%s: the smuggled request reached the upstream", name)
			}
		}
		seen.mu.Unlock()
	}
}
