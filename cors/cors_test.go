package cors_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/cors"
	"github.com/bulwark-go/bulwark/problem"
	"github.com/bulwark-go/bulwark/secevent"
	rscors "github.com/rs/cors"
)

const (
	listed   = "https://app.example.com"
	unlisted = "https://evil.example"
)

// recorder collects security events.
type recorder struct {
	mu     sync.Mutex
	events []secevent.Event
}

func (r *recorder) Record(_ context.Context, e secevent.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) attr(i int, key string) string {
	for _, a := range r.events[i].Attrs {
		if a.Key == key {
			return a.Value.String()
		}
	}
	return ""
}

// app records whether it ran.
type app struct{ called bool }

func (a *app) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	a.called = true
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}`))
}

func mustNew(t testing.TB, cfg cors.Config) *cors.CORS {
	t.Helper()
	c, err := cors.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// do sends r through c's handler with a recorder in the context.
func do(c *cors.CORS, r *http.Request) (*httptest.ResponseRecorder, *app, *recorder) {
	rec := &recorder{}
	a := &app{}
	r = r.WithContext(secevent.NewContext(r.Context(), rec))
	w := httptest.NewRecorder()
	c.Handler(a).ServeHTTP(w, r)
	return w, a, rec
}

func request(method, origin string, headers ...string) *http.Request {
	r := httptest.NewRequest(method, "https://api.example.com/v1/items", nil)
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

func preflight(origin, method string, headers ...string) *http.Request {
	return request(http.MethodOptions, origin, append([]string{"Access-Control-Request-Method", method}, headers...)...)
}

var apiConfig = cors.Config{
	Origins:          []string{listed, "https://*.example.net"},
	AllowCredentials: true,
	Methods:          []string{"GET", "POST", "PUT"},
	Headers:          []string{"Content-Type", "X-Token"},
	ExposedHeaders:   []string{"ETag"},
}

func TestActualRequest(t *testing.T) {
	c := mustNew(t, apiConfig)
	tests := []struct {
		name       string
		req        *http.Request
		wantACAO   string
		wantCreds  string
		wantEvents int
	}{
		{"listed origin", request("GET", listed), listed, "true", 0},
		{"wildcard origin", request("GET", "https://a.example.net"), "https://a.example.net", "true", 0},
		{"no origin", request("GET", ""), "", "", 0},
		{"unlisted origin", request("GET", unlisted), "", "", 1},
		{"null origin", request("GET", "null"), "", "", 1},
		{"upper-case origin is not folded", request("GET", "https://APP.example.com"), "", "", 1},
		{"two Origin headers", request("GET", listed, "Origin", unlisted), "", "", 1},
		{"same-origin POST is not CORS", request("POST", "https://api.example.com", "Sec-Fetch-Site", "same-origin"), "", "", 0},
		{"same-origin POST from an old browser", request("POST", "https://api.example.com"), "", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, a, rec := do(c, tc.req)
			h := w.Result().Header
			if !a.called {
				t.Errorf("next handler not called; a refused actual request must continue")
			}
			if got := h.Get("Access-Control-Allow-Origin"); got != tc.wantACAO {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tc.wantACAO)
			}
			if got := h.Get("Access-Control-Allow-Credentials"); got != tc.wantCreds {
				t.Errorf("Access-Control-Allow-Credentials = %q, want %q", got, tc.wantCreds)
			}
			if got := h.Values("Vary"); len(got) != 1 || got[0] != "Origin" {
				t.Errorf("Vary = %q, want [Origin]", got)
			}
			if len(rec.events) != tc.wantEvents {
				t.Fatalf("events = %+v, want %d", rec.events, tc.wantEvents)
			}
			if tc.wantEvents > 0 && rec.events[0].Name != secevent.MaliciousCORS {
				t.Errorf("event name = %q, want %q", rec.events[0].Name, secevent.MaliciousCORS)
			}
			if tc.wantACAO != "" && h.Get("Access-Control-Expose-Headers") != "Etag" {
				t.Errorf("Access-Control-Expose-Headers = %q, want Etag", h.Get("Access-Control-Expose-Headers"))
			}
		})
	}
}

func TestRefusedOriginEvent(t *testing.T) {
	c := mustNew(t, apiConfig)
	long := "https://" + strings.Repeat("a", 5000) + ".evil"
	_, _, rec := do(c, request("GET", long))
	if len(rec.events) != 1 {
		t.Fatalf("events = %d, want 1", len(rec.events))
	}
	e := rec.events[0]
	if e.Name != secevent.MaliciousCORS || e.Reason != "origin not allowed" {
		t.Errorf("event = %q/%q, want %q/%q", e.Name, e.Reason, secevent.MaliciousCORS, "origin not allowed")
	}
	if got := rec.attr(0, "origin"); len(got) != 256 || !strings.HasPrefix(long, got) {
		t.Errorf("origin attr has %d bytes, want the first 256 of the Origin", len(got))
	}
}

func TestVaryKeepsEarlierValues(t *testing.T) {
	c := mustNew(t, apiConfig)
	for _, origin := range []string{listed, unlisted, ""} {
		w := httptest.NewRecorder()
		w.Header().Set("Vary", "Accept-Encoding")
		c.Handler(&app{}).ServeHTTP(w, request("GET", origin))
		got := w.Result().Header.Values("Vary")
		if len(got) != 2 || got[0] != "Accept-Encoding" || got[1] != "Origin" {
			t.Errorf("origin %q: Vary = %q, want [Accept-Encoding Origin]", origin, got)
		}
	}
}

func TestPreflight(t *testing.T) {
	const preflightVary = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
	tests := []struct {
		name       string
		cfg        cors.Config
		req        *http.Request
		wantStatus int
		wantACAO   string
		wantACAH   string
		wantErr    error
	}{
		{"PUT with custom headers", apiConfig, preflight(listed, "PUT", "Access-Control-Request-Headers", "content-type,x-token"), 204, listed, "content-type,x-token", nil},
		{"GET without headers", apiConfig, preflight(listed, "GET"), 204, listed, "", nil},
		{"wildcard origin", apiConfig, preflight("https://x.y.example.net", "PUT"), 204, "https://x.y.example.net", "", nil},
		{"method not listed", apiConfig, preflight(listed, "DELETE"), 204, "", "", cors.ErrMethodNotAllowed},
		{"method case differs", apiConfig, preflight(listed, "put"), 204, "", "", cors.ErrMethodNotAllowed},
		{"header not listed", apiConfig, preflight(listed, "PUT", "Access-Control-Request-Headers", "x-other"), 204, "", "", cors.ErrHeadersNotAllowed},
		{"headers out of order", apiConfig, preflight(listed, "PUT", "Access-Control-Request-Headers", "x-token,content-type"), 204, "", "", cors.ErrHeadersNotAllowed},
		{"empty header element", apiConfig, preflight(listed, "PUT", "Access-Control-Request-Headers", ",x-token"), 204, "", "", cors.ErrHeadersNotAllowed},
		{"trailing comma", apiConfig, preflight(listed, "PUT", "Access-Control-Request-Headers", "content-type,"), 204, "", "", cors.ErrHeadersNotAllowed},
		{"no headers configured", cors.Config{Origins: []string{listed}}, preflight(listed, "POST", "Access-Control-Request-Headers", "content-type"), 204, "", "", cors.ErrHeadersNotAllowed},
		{"more names than allowed", apiConfig, preflight(listed, "PUT", "Access-Control-Request-Headers", "a,b,c"), 204, "", "", cors.ErrHeadersNotAllowed},
		{"refused origin", apiConfig, preflight(unlisted, "PUT"), 204, "", "", cors.ErrOriginNotAllowed},
		{"refused origin answered 403", func() cors.Config { c := apiConfig; c.RejectRefusedPreflights = true; return c }(), preflight(unlisted, "PUT"), 403, "", "", cors.ErrOriginNotAllowed},
		{"refused header answered 403", func() cors.Config { c := apiConfig; c.RejectRefusedPreflights = true; return c }(), preflight(listed, "PUT", "Access-Control-Request-Headers", "x-other"), 403, "", "", cors.ErrHeadersNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustNew(t, tc.cfg)
			if err := c.Check(tc.req); !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Errorf("Check = %v, want %v", err, tc.wantErr)
			}
			w, a, _ := do(c, tc.req)
			h := w.Result().Header
			if a.called {
				t.Errorf("next handler called for a preflight")
			}
			if w.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", w.Code, tc.wantStatus)
			}
			if got := h.Get("Access-Control-Allow-Origin"); got != tc.wantACAO {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tc.wantACAO)
			}
			if got := h.Get("Access-Control-Allow-Headers"); got != tc.wantACAH {
				t.Errorf("Access-Control-Allow-Headers = %q, want %q", got, tc.wantACAH)
			}
			if got := h.Values("Vary"); len(got) != 1 || got[0] != preflightVary {
				t.Errorf("Vary = %q, want [%s]", got, preflightVary)
			}
			if tc.wantACAO != "" {
				if got := h.Get("Access-Control-Max-Age"); got != "600" {
					t.Errorf("Access-Control-Max-Age = %q, want 600", got)
				}
				if got := h.Get("Access-Control-Allow-Methods"); got != tc.req.Header.Get("Access-Control-Request-Method") {
					t.Errorf("Access-Control-Allow-Methods = %q", got)
				}
			}
			if tc.wantStatus == 403 {
				if ct := h.Get("Content-Type"); ct != problem.MediaType {
					t.Errorf("Content-Type = %q, want %q", ct, problem.MediaType)
				}
				if strings.Contains(w.Body.String(), "evil") || strings.Contains(w.Body.String(), "x-other") {
					t.Errorf("problem body echoes request input: %s", w.Body)
				}
			}
		})
	}
}

func TestMaxAge(t *testing.T) {
	tests := []struct {
		name string
		cfg  cors.Config
		want string
	}{
		{"default", cors.Config{Origins: []string{listed}}, "600"},
		{"a day", cors.Config{Origins: []string{listed}, MaxAge: 86400e9}, "86400"},
		{"no caching", cors.Config{Origins: []string{listed}, MaxAge: -1}, "0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, _, _ := do(mustNew(t, tc.cfg), preflight(listed, "GET"))
			if got := w.Result().Header.Get("Access-Control-Max-Age"); got != tc.want {
				t.Errorf("Access-Control-Max-Age = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAllowAllOrigins(t *testing.T) {
	c := mustNew(t, cors.Config{DangerouslyAllowAllOrigins: true})
	w, _, rec := do(c, request("GET", "https://anyone.example"))
	h := w.Result().Header
	if h.Get("Access-Control-Allow-Origin") != "*" || h.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("headers = %v, want ACAO * without credentials", h)
	}
	if len(rec.events) != 0 {
		t.Errorf("events = %v, want none", rec.events)
	}
}

// TestOversizedRequestHeadersPreflight: a preflight with a huge
// Access-Control-Request-Headers is refused before parsing and reported.
func TestOversizedRequestHeadersPreflight(t *testing.T) {
	c := mustNew(t, apiConfig)
	tests := []struct {
		name string
		req  *http.Request
	}{
		{"over 1 KiB", preflight(listed, "PUT", "Access-Control-Request-Headers", strings.Repeat(" ", 1025)+"x-token")},
		{"1 MiB", preflight(listed, "PUT", "Access-Control-Request-Headers", strings.Repeat("x-token,", 1<<17))},
		{"repeated header lines", preflight(listed, "PUT", "Access-Control-Request-Headers", "content-type", "Access-Control-Request-Headers", "x-token")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.Check(tc.req); !errors.Is(err, cors.ErrHeadersTooLarge) {
				t.Fatalf("Check = %v, want %v", err, cors.ErrHeadersTooLarge)
			}
			w, _, rec := do(c, tc.req)
			if w.Result().Header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("preflight allowed")
			}
			if len(rec.events) != 1 || rec.events[0].Name != secevent.MaliciousCORS {
				t.Errorf("events = %+v, want one %s", rec.events, secevent.MaliciousCORS)
			}
		})
	}
}

// TestPreflightFloodBoundedAllocations: the cost of a refused preflight does
// not grow with the size of what the attacker sends.
func TestPreflightFloodBoundedAllocations(t *testing.T) {
	c := mustNew(t, apiConfig)
	h := c.Handler(&app{})
	w := &headerWriter{h: http.Header{}}
	measure := func(r *http.Request) float64 {
		return testing.AllocsPerRun(100, func() {
			clear(w.h)
			h.ServeHTTP(w, r)
		})
	}
	allowed := measure(preflight(listed, "PUT", "Access-Control-Request-Headers", "content-type,x-token"))
	floods := []struct {
		name string
		req  *http.Request
	}{
		{"1 KiB of names", preflight(listed, "PUT", "Access-Control-Request-Headers", strings.Repeat("a,", 512))},
		{"2 MiB of names", preflight(listed, "PUT", "Access-Control-Request-Headers", strings.Repeat("a,", 1<<20))},
		{"1000 repeated lines", preflight(listed, "PUT", repeated("Access-Control-Request-Headers", "x-token", 1000)...)},
		{"refused origin", preflight(unlisted, "PUT", "Access-Control-Request-Headers", strings.Repeat("a,", 1<<20))},
	}
	for _, f := range floods {
		got := measure(f.req)
		t.Logf("%s: %.0f allocs (allowed preflight: %.0f)", f.name, got, allowed)
		if got > allowed {
			t.Errorf("%s: %.0f allocs per refused preflight, want at most %.0f (an allowed preflight)", f.name, got, allowed)
		}
	}
}

func repeated(name, value string, n int) []string {
	kv := make([]string, 0, 2*n)
	for range n {
		kv = append(kv, name, value)
	}
	return kv
}

// headerWriter is a ResponseWriter that keeps only headers and allocates
// nothing itself.
type headerWriter struct{ h http.Header }

func (w *headerWriter) Header() http.Header         { return w.h }
func (w *headerWriter) WriteHeader(int)             {}
func (w *headerWriter) Write(p []byte) (int, error) { return len(p), nil }

// TestMultipleOriginHeadersNotReflected: rs/cors would reflect every Origin
// value into Access-Control-Allow-Origin; bulwark refuses the request.
func TestMultipleOriginHeadersNotReflected(t *testing.T) {
	c := mustNew(t, apiConfig)
	for _, r := range []*http.Request{
		request("GET", listed, "Origin", listed),
		preflight(listed, "GET", "Origin", unlisted),
	} {
		if err := c.Check(r); !errors.Is(err, cors.ErrOriginNotAllowed) {
			t.Errorf("Check = %v, want %v", err, cors.ErrOriginNotAllowed)
		}
		w, _, _ := do(c, r)
		if got := w.Result().Header.Values("Access-Control-Allow-Origin"); len(got) != 0 {
			t.Errorf("Access-Control-Allow-Origin = %q, want none", got)
		}
	}
}

// TestRsCorsPitfallsRefused shows two behaviours of raw rs/cors that bulwark
// does not inherit: a pattern like "h*" reflects almost any origin with
// credentials (rs/cors#197), and origins are case-folded before comparison.
func TestRsCorsPitfallsRefused(t *testing.T) {
	raw := rscors.New(rscors.Options{AllowedOrigins: []string{"h*"}, AllowCredentials: true})
	if !raw.OriginAllowed(request("GET", "https://evil.example")) {
		t.Log("rs/cors no longer matches h* against any origin; the bulwark check below still matters")
	}
	if _, err := cors.New(cors.Config{Origins: []string{"h*"}, AllowCredentials: true}); err == nil {
		t.Errorf(`New(Origins: ["h*"]) = nil error, want refusal`)
	}

	rawFold := rscors.New(rscors.Options{AllowedOrigins: []string{listed}})
	upper := request("GET", "https://APP.example.com")
	if !rawFold.OriginAllowed(upper) {
		t.Log("rs/cors no longer folds case")
	}
	c := mustNew(t, cors.Config{Origins: []string{listed}})
	if c.Allows("https://APP.example.com") || c.Check(upper) == nil {
		t.Errorf("upper-case Origin allowed; want byte-exact comparison")
	}
}

// FuzzPreflightRequestHeaders feeds arbitrary Access-Control-Request-Headers
// values to Check. It must never panic, and it may accept a value only when
// it is at most 1 KiB of allowed names, lower case, sorted and unique.
func FuzzPreflightRequestHeaders(f *testing.F) {
	for _, s := range []string{
		"content-type,x-token", "content-type, x-token", "x-token,content-type", ",x-token",
		"x-other", "content-type,x-token,x-token", "", " ", "X-Token", "content-type,,x-token",
		strings.Repeat("a,", 600), "content-type\t,\tx-token",
	} {
		f.Add(s)
	}
	c := mustNew(f, apiConfig)
	allowed := map[string]bool{"content-type": true, "x-token": true}
	f.Fuzz(func(t *testing.T, acrh string) {
		err := c.Check(preflight(listed, "PUT", "Access-Control-Request-Headers", acrh))
		if err != nil {
			if !errors.Is(err, cors.ErrHeadersNotAllowed) && !errors.Is(err, cors.ErrHeadersTooLarge) {
				t.Fatalf("Check(%q) = %v, want a header refusal", acrh, err)
			}
			return
		}
		if len(acrh) > cors.MaxRequestHeadersBytes {
			t.Fatalf("Check accepted %d bytes", len(acrh))
		}
		prev := ""
		for name := range strings.SplitSeq(acrh, ",") {
			name = strings.Trim(name, " \t")
			if strings.TrimSpace(acrh) == "" {
				break
			}
			if !allowed[name] || name <= prev {
				t.Fatalf("Check(%q) = nil, but %q is not allowed or out of order", acrh, name)
			}
			prev = name
		}
	})
}

// TestSameHeadersAsRsCors: the policy is served without rs/cors, so for
// every request it allows, the answer (status, headers, whether the next
// handler ran) must be the one rs/cors gives for the same policy, byte for
// byte. rs/cors is the oracle here, told "yes" for exactly the origins
// bulwark allows.
func TestSameHeadersAsRsCors(t *testing.T) {
	configs := []cors.Config{
		{Origins: []string{"https://app.example.com", "https://*.example.net"}, AllowCredentials: true,
			Methods: []string{"GET", "POST", "PUT"}, Headers: []string{"Content-Type", "X-Token"}, ExposedHeaders: []string{"x-request-id", "ETag"}, MaxAge: 600 * time.Second},
		{Origins: []string{"https://app.example.com"}},
		{Origins: []string{"https://app.example.com"}, MaxAge: -1},
		{DangerouslyAllowAllOrigins: true, Methods: []string{"GET", "DELETE"}, Headers: []string{"Authorization"}},
	}
	type req struct {
		method string
		hdr    map[string]string
	}
	reqs := []req{
		{"GET", map[string]string{"Origin": "https://app.example.com"}},
		{"POST", map[string]string{"Origin": "https://a.b.example.net"}},
		{"DELETE", map[string]string{"Origin": "https://app.example.com"}}, // a method outside the list
		{"PUT", map[string]string{"Origin": "https://app.example.com"}},
		{"GET", nil},
		{"OPTIONS", map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-type,x-token"}},
		{"OPTIONS", map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"}},
		{"OPTIONS", map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "DELETE", "Access-Control-Request-Headers": "authorization"}},
		{"OPTIONS", map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": ""}},
		{"OPTIONS", map[string]string{"Origin": "https://app.example.com"}}, // not a preflight
	}
	compared := 0
	for ci, cfg := range configs {
		c, err := cors.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		methods := cfg.Methods
		if len(methods) == 0 {
			methods = []string{"GET", "HEAD", "POST"}
		}
		opts := rscors.Options{AllowedMethods: methods, AllowedHeaders: []string{"*"}, ExposedHeaders: cfg.ExposedHeaders,
			AllowCredentials: cfg.AllowCredentials, OptionsSuccessStatus: http.StatusNoContent, AllowOriginFunc: c.Allows}
		switch {
		case cfg.MaxAge > 0:
			opts.MaxAge = int(cfg.MaxAge / time.Second)
		case cfg.MaxAge < 0:
			opts.MaxAge = -1
		default:
			opts.MaxAge = int(cors.DefaultMaxAge / time.Second)
		}
		if cfg.DangerouslyAllowAllOrigins {
			opts.AllowOriginFunc, opts.AllowedOrigins = nil, []string{"*"}
		}
		rs := rscors.New(opts)
		for ri, rq := range reqs {
			r := httptest.NewRequest(rq.method, "https://api.example.com/x", nil)
			for k, v := range rq.hdr {
				r.Header.Set(k, v)
			}
			if c.Check(r) != nil {
				continue // refusals are bulwark's own; rs/cors would allow some
			}
			serve := func(h func(http.Handler) http.Handler) (*httptest.ResponseRecorder, bool) {
				ran := false
				w := httptest.NewRecorder()
				h(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true })).ServeHTTP(w, r)
				return w, ran
			}
			got, gotRan := serve(c.Handler)
			want, wantRan := serve(rs.Handler)
			if got.Code != want.Code || gotRan != wantRan || !reflect.DeepEqual(got.Header(), want.Header()) {
				t.Errorf("config %d, request %d (%s %v):\n bulwark %d %v next=%v\n rs/cors %d %v next=%v",
					ci, ri, rq.method, rq.hdr, got.Code, got.Header(), gotRan, want.Code, want.Header(), wantRan)
			}
			compared++
		}
	}
	if compared < 20 {
		t.Fatalf("only %d requests compared", compared)
	}
}
