package headers_test

import (
	"crypto/tls"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"

	"github.com/bulwark-go/bulwark/headers"
)

// With a zero Config every response carries the JSON API profile.
func Example() {
	h, err := headers.New(headers.Config{})
	if err != nil {
		panic(err)
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Server", "my-app/1.2") // stripped
		_, _ = io.WriteString(w, `{"ok":true}`)
	})

	r := httptest.NewRequest("GET", "https://api.example.com/v1/items", nil)
	r.TLS = &tls.ConnectionState{} // as if served over TLS
	rec := httptest.NewRecorder()
	h.Handler(api).ServeHTTP(rec, r)

	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range rec.Header() {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Printf("%s: %s\n", k, rec.Header().Get(k))
	}
	// Output:
	// Cache-Control: no-store
	// Content-Security-Policy: default-src 'none'; frame-ancestors 'none'
	// Content-Type: application/json
	// Cross-Origin-Opener-Policy: same-origin
	// Cross-Origin-Resource-Policy: same-origin
	// Referrer-Policy: no-referrer
	// Strict-Transport-Security: max-age=63072000; includeSubDomains
	// X-Content-Type-Options: nosniff
	// X-Frame-Options: DENY
	// X-Permitted-Cross-Domain-Policies: none
}

// An HTML page served by the same API gets the HTML profile, with the
// request's nonce in its policy.
func ExampleNonce() {
	h, _ := headers.New(headers.Config{})
	page := template.Must(template.New("").Parse(`<script nonce="{{.}}">start()</script>`))
	docs := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = page.Execute(w, headers.Nonce(r.Context()))
	})

	rec := httptest.NewRecorder()
	h.Handler(docs).ServeHTTP(rec, httptest.NewRequest("GET", "/docs", nil))

	_, rest, _ := strings.Cut(rec.Body.String(), `nonce="`)
	nonce, _, _ := strings.Cut(rest, `"`)
	csp := rec.Header().Get("Content-Security-Policy")
	fmt.Println(strings.Contains(csp, "script-src 'self' 'nonce-"+nonce+"'"))
	fmt.Println(rec.Header().Get("Permissions-Policy") != "")
	// Output:
	// true
	// true
}

func ExampleCSPBuilder() {
	var b headers.CSPBuilder
	b.Set(headers.DefaultSrc, headers.Self).
		Set(headers.ScriptSrc, headers.NonceSource, headers.StrictDynamic).
		Set(headers.ImgSrc, headers.Self, "https://images.example.com").
		Set(headers.ObjectSrc, headers.None).
		Set(headers.BaseURI, headers.None).
		Set(headers.FrameAncestors, headers.None)
	csp, err := b.Build()
	if err != nil {
		panic(err)
	}
	cfg := headers.Config{HTMLCSP: csp.String()}
	fmt.Println(cfg.HTMLCSP)
	// Output:
	// default-src 'self'; script-src 'nonce' 'strict-dynamic'; img-src 'self' https://images.example.com; object-src 'none'; base-uri 'none'; frame-ancestors 'none'
}

func ExampleParseCSP() {
	_, err := headers.ParseCSP("default-src self; script-src 'self'")
	fmt.Println(err)
	// Output:
	// headers: CSP directive "default-src" value "self": keyword must be quoted, as in 'self'
}

// A documentation route loads scripts from a CDN and may be framed by the
// site itself; every other route keeps the default profile. One Headers
// middleware serves both.
func ExampleNewOverride() {
	h, _ := headers.New(headers.Config{})
	docs, err := headers.NewOverride(headers.OverrideConfig{
		CSP: "default-src 'self'; script-src 'nonce' https://cdn.example.com; frame-ancestors 'self'",
		Set: map[string]string{"X-Frame-Options": "SAMEORIGIN"},
	})
	if err != nil {
		panic(err)
	}
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<h1>API docs</h1>")
	})
	mux := http.NewServeMux()
	mux.Handle("/docs/", docs.Handler(page))
	mux.Handle("/v1/", page)
	stack := h.Handler(mux)

	for _, path := range []string{"/docs/", "/v1/"} {
		rec := httptest.NewRecorder()
		stack.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		fmt.Println(path, rec.Header().Get("X-Frame-Options"))
	}
	// Output:
	// /docs/ SAMEORIGIN
	// /v1/ DENY
}

// Behind a TLS-terminating proxy, name the proxy: its X-Forwarded-Proto is
// then believed, and nobody else's.
func ExampleConfig_trustedProxy() {
	h, err := headers.New(headers.Config{
		RequireHTTPS:   true,
		AllowedHosts:   []string{"api.example.com"},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		ProxyHeader:    headers.XForwardedProto,
	})
	if err != nil {
		panic(err)
	}
	for _, remote := range []string{"10.1.2.3:5000", "203.0.113.9:5000"} {
		r := httptest.NewRequest("GET", "http://api.example.com/v1", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-Proto", "https")
		fmt.Println(remote, h.Check(r))
	}
	// Output:
	// 10.1.2.3:5000 <nil>
	// 203.0.113.9:5000 headers: request not made over HTTPS
}

// The wrong way: asking for proxy headers without saying whose. Any client
// could then claim HTTPS; New refuses.
func ExampleNew_incorrect() {
	_, err := headers.New(headers.Config{
		RequireHTTPS: true,
		ProxyHeader:  headers.XForwardedProto,
	})
	fmt.Println(err)
	// Output:
	// headers: TrustedProxies: required when ProxyHeader is set: without it any client could claim HTTPS
}
