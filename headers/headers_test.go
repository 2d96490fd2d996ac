package headers_test

import (
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/headers"
)

// apiProfile is the exact header set the issue specifies for a zero Config.
var apiProfile = map[string]string{
	"Content-Type":                      "application/json",
	"Strict-Transport-Security":         "max-age=63072000; includeSubDomains",
	"Content-Security-Policy":           "default-src 'none'; frame-ancestors 'none'",
	"X-Content-Type-Options":            "nosniff",
	"X-Frame-Options":                   "DENY",
	"Referrer-Policy":                   "no-referrer",
	"Cross-Origin-Opener-Policy":        "same-origin",
	"Cross-Origin-Resource-Policy":      "same-origin",
	"X-Permitted-Cross-Domain-Policies": "none",
	"Cache-Control":                     "no-store",
}

func flatten(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = strings.Join(v, "\n")
	}
	return out
}

func TestZeroConfigAPIProfile(t *testing.T) {
	h := mustNew(t, headers.Config{})
	for _, tc := range []struct {
		name string
		tls  bool
		want map[string]string
	}{
		{"over TLS", true, apiProfile},
		{"over plain HTTP: no HSTS", false, func() map[string]string {
			m := maps.Clone(apiProfile)
			delete(m, "Strict-Transport-Security")
			return m
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := do(h, jsonApp, request("GET", "https://api.example.com/v1", tc.tls))
			if res.StatusCode != 200 {
				t.Fatalf("status %d, want 200", res.StatusCode)
			}
			got := flatten(res.Header)
			if !maps.Equal(got, tc.want) {
				for _, k := range slices.Sorted(maps.Keys(got)) {
					if got[k] != tc.want[k] {
						t.Errorf("%s = %q, want %q", k, got[k], tc.want[k])
					}
				}
				for k, v := range tc.want {
					if _, ok := got[k]; !ok {
						t.Errorf("%s missing, want %q", k, v)
					}
				}
			}
			for _, k := range []string{"X-Xss-Protection", "Cross-Origin-Embedder-Policy", "Permissions-Policy"} {
				if v, ok := res.Header[k]; ok {
					t.Errorf("%s = %q, want absent", k, v)
				}
			}
		})
	}
}

func TestCacheControlOnlyWhenHandlerSetNone(t *testing.T) {
	h := mustNew(t, headers.Config{})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		_, _ = io.WriteString(w, "x")
	})
	res := do(h, app, request("GET", "/", true))
	if got := res.Header.Values("Cache-Control"); !slices.Equal(got, []string{"public, max-age=60"}) {
		t.Errorf("Cache-Control = %q, want the handler's own", got)
	}
}

// TestHeadersAppliedWhenWritten checks every way a response can start.
func TestHeadersAppliedWhenWritten(t *testing.T) {
	h := mustNew(t, headers.Config{})
	for _, tc := range []struct {
		name string
		app  http.HandlerFunc
		code int
	}{
		{"WriteHeader", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) }, 201},
		{"Write", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("x")) }, 200},
		{"implicit 200", func(w http.ResponseWriter, r *http.Request) {}, 200},
		{"Flush", func(w http.ResponseWriter, r *http.Request) { w.(http.Flusher).Flush() }, 200},
		{"ResponseController.Flush", func(w http.ResponseWriter, r *http.Request) {
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
		}, 200},
		{"ReadFrom", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(w, strings.NewReader("body"))
		}, 200},
		{"error status", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "nope", http.StatusNotFound)
		}, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.Handler(tc.app).ServeHTTP(rec, request("GET", "/", true))
			res := rec.Result()
			if res.StatusCode != tc.code {
				t.Errorf("status %d, want %d", res.StatusCode, tc.code)
			}
			for _, k := range []string{"Strict-Transport-Security", "Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Cache-Control"} {
				if res.Header.Get(k) == "" {
					t.Errorf("%s missing", k)
				}
			}
		})
	}
}

// TestHandlerCannotUndoHeaders: a handler that deletes or weakens a managed
// header before writing still sends the configured value.
func TestHandlerCannotUndoHeaders(t *testing.T) {
	h := mustNew(t, headers.Config{})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Del("X-Frame-Options")
		w.Header().Set("Content-Security-Policy", "default-src *")
		w.Header().Add("X-Content-Type-Options", "sniff-away")
		_, _ = io.WriteString(w, "x")
	})
	res := do(h, app, request("GET", "/", true))
	for k, want := range map[string]string{
		"X-Frame-Options":         "DENY",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		"X-Content-Type-Options":  "nosniff",
	} {
		if got := res.Header.Values(k); !slices.Equal(got, []string{want}) {
			t.Errorf("%s = %q, want [%q]", k, got, want)
		}
	}
}

// TestFingerprintingHeadersStripped: headers that name the server software
// are removed, whoever set them.
func TestFingerprintingHeadersStripped(t *testing.T) {
	h := mustNew(t, headers.Config{StripHeaders: []string{"X-Backend-Host"}})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "nginx")
		w.Header().Set("X-Powered-By", "PHP/5.4")
		w.Header().Set("X-AspNet-Version", "4.0.30319")
		w.Header().Set("X-AspNetMvc-Version", "5.2")
		w.Header().Set("X-Generator", "Drupal 7")
		w.Header().Set("X-Runtime", "0.0123")
		w.Header().Set("X-Backend-Host", "db-7.internal")
		w.Header().Set("X-Request-Id", "keep-me")
		w.WriteHeader(200)
	})
	res := do(h, app, request("GET", "/", true))
	for _, k := range []string{"Server", "X-Powered-By", "X-Aspnet-Version", "X-Aspnetmvc-Version", "X-Generator", "X-Runtime", "X-Backend-Host"} {
		if v := res.Header.Values(k); len(v) > 0 {
			t.Errorf("%s = %q, want stripped", k, v)
		}
	}
	if got := res.Header.Get("X-Request-Id"); got != "keep-me" {
		t.Errorf("X-Request-Id = %q, want kept", got)
	}
}

func TestHTMLProfileChosenByContentType(t *testing.T) {
	h := mustNew(t, headers.Config{})
	var nonce string
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nonce = headers.Nonce(r.Context())
		if again := headers.Nonce(r.Context()); again != nonce {
			t.Errorf("Nonce changed within a request: %q then %q", nonce, again)
		}
		w.Header().Set("Content-Type", r.URL.Query().Get("ct"))
		_, _ = io.WriteString(w, "<p>hi</p>")
	})
	for _, tc := range []struct {
		ct   string
		html bool
	}{
		{"text/html; charset=utf-8", true},
		{"TEXT/HTML", true},
		{"application/xhtml+xml", true},
		{"application/json", false},
		{"application/problem+json", false},
		{"text/plain", false},
		{"text/htmlx", false},
		{"", false},
	} {
		t.Run(tc.ct, func(t *testing.T) {
			res := do(h, app, request("GET", "/?ct="+url.QueryEscape(tc.ct), true))
			csp := res.Header.Get("Content-Security-Policy")
			pp := res.Header.Get("Permissions-Policy")
			if !tc.html {
				if csp != headers.DefaultCSP || pp != "" {
					t.Errorf("CSP %q, Permissions-Policy %q; want the API profile", csp, pp)
				}
				return
			}
			want := strings.ReplaceAll(headers.DefaultHTMLCSP, "'nonce'", "'nonce-"+nonce+"'")
			if csp != want {
				t.Errorf("CSP = %q, want %q", csp, want)
			}
			if pp != headers.DefaultPermissionsPolicy {
				t.Errorf("Permissions-Policy = %q, want %q", pp, headers.DefaultPermissionsPolicy)
			}
			if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("HTML profile lacks the common headers: %v", res.Header)
			}
		})
	}
}

func TestNonce(t *testing.T) {
	h := mustNew(t, headers.Config{})
	seen := map[string]bool{}
	for range 50 {
		res := do(h, htmlApp, request("GET", "/", true))
		body, _ := io.ReadAll(res.Body)
		_, rest, _ := strings.Cut(string(body), `nonce="`)
		n, _, _ := strings.Cut(rest, `"`)
		if len(n) < 22 {
			t.Fatalf("nonce %q shorter than 128 bits", n)
		}
		if seen[n] {
			t.Fatalf("nonce %q repeated across requests", n)
		}
		seen[n] = true
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "'nonce-"+n+"'") {
			t.Errorf("CSP %q does not carry the page's nonce %q", csp, n)
		}
		if _, err := headers.ParseCSP(res.Header.Get("Content-Security-Policy")); err != nil {
			t.Errorf("sent CSP does not parse: %v", err)
		}
	}
	t.Run("HTML without asking for a nonce still gets one", func(t *testing.T) {
		app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(200)
			if n := headers.Nonce(r.Context()); n == "" {
				t.Error("Nonce after the headers were written is empty")
			}
		})
		res := do(h, app, request("GET", "/", true))
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "'nonce-") || strings.Contains(csp, "'nonce'") {
			t.Errorf("CSP = %q, want a real nonce", csp)
		}
	})
	t.Run("outside the middleware", func(t *testing.T) {
		if n := headers.Nonce(t.Context()); n != "" {
			t.Errorf("Nonce = %q, want empty", n)
		}
	})
}

// TestResponseControllerReachesServer: through a real server, the
// ResponseController features behind Unwrap keep working.
func TestResponseControllerReachesServer(t *testing.T) {
	h := mustNew(t, headers.Config{})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.EnableFullDuplex(); err != nil {
			t.Errorf("EnableFullDuplex: %v", err)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: 1\n\n")
		if err := rc.Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		if u, ok := w.(interface{ Unwrap() http.ResponseWriter }); !ok || u.Unwrap() == nil {
			t.Error("writer has no Unwrap")
		}
	})
	srv := httptest.NewServer(h.Handler(app))
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers missing on a flushed stream: %v", res.Header)
	}
}

// TestEarlyHintsPassThrough: a 103 goes out as is; the final response
// carries the headers.
func TestEarlyHintsPassThrough(t *testing.T) {
	h := mustNew(t, headers.Config{})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("Server", "upstream/1.0")
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(h.Handler(app))
	defer srv.Close()
	var got1xx []int
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
			got1xx = append(got1xx, code)
			return nil
		},
	}), "GET", srv.URL, nil)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if !slices.Equal(got1xx, []int{103}) || res.StatusCode != 204 {
		t.Errorf("got 1xx %v then %d, want [103] then 204", got1xx, res.StatusCode)
	}
	if res.Header.Get("X-Frame-Options") != "DENY" || res.Header.Get("Server") != "" {
		t.Errorf("final response headers = %v", res.Header)
	}
}

// TestFingerprintsStrippedFromEarlyHintsAndTrailers: an upstream's 103
// Early Hints and its trailers cannot carry Server or X-Powered-By past
// the stripping (seen through a reverse proxy, whose 1xx and trailers a
// handler relays as they are).
func TestFingerprintsStrippedFromEarlyHintsAndTrailers(t *testing.T) {
	h := mustNew(t, headers.Config{})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.Header().Set("Server", "upstream/1.0")
		w.Header().Set("X-Powered-By", "PHP/8.3")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("Trailer", "Server, X-Checksum, X-Powered-By")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "body")
		w.Header().Set("Server", "upstream/1.0")               // a declared trailer
		w.Header().Set("X-Checksum", "abc")                    // a declared trailer that is not a fingerprint
		w.Header().Set(http.TrailerPrefix+"X-Runtime", "0.03") // an undeclared one
	})
	srv := httptest.NewServer(h.Handler(app))
	defer srv.Close()
	var hints []textproto.MIMEHeader
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, hdr textproto.MIMEHeader) error {
			hints = append(hints, hdr)
			return nil
		},
	}), "GET", srv.URL, nil)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if len(hints) != 1 || hints[0].Get("Link") == "" {
		t.Fatalf("early hints = %v, want one with Link", hints)
	}
	for _, k := range []string{"Server", "X-Powered-By"} {
		if hints[0].Get(k) != "" {
			t.Errorf("103 Early Hints carried %s: %v", k, hints[0])
		}
	}
	for _, k := range []string{"Server", "X-Powered-By", "X-Runtime"} {
		if v := res.Trailer.Get(k); v != "" {
			t.Errorf("trailer %s = %q reached the client", k, v)
		}
	}
	if res.Trailer.Get("X-Checksum") != "abc" {
		t.Errorf("the other trailer was lost: %v", res.Trailer)
	}
}
