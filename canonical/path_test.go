package canonical_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/canonical"
)

func mustNew(t testing.TB, cfg canonical.Config) *canonical.Canonicalizer {
	t.Helper()
	c, err := canonical.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pathCases are escaped paths as they arrive on the request line, with the
// canonical escaped and decoded forms, or the refusal.
var pathCases = []struct {
	name, in, escaped, decoded string
	err                        error
}{
	{"already canonical", "/v1/orders/42", "/v1/orders/42", "/v1/orders/42", nil},
	{"root", "/", "/", "/", nil},
	{"trailing slash kept", "/v1/", "/v1/", "/v1/", nil},
	{"sub-delims and colon kept", "/a:b@c;d=e,f!$&'()*+", "/a:b@c;d=e,f!$&'()*+", "/a:b@c;d=e,f!$&'()*+", nil},
	{"dot-segment bypass of an auth: none prefix", "/public/../v1/secret", "/v1/secret", "/v1/secret", nil},
	{"encoded dot-segment bypass", "/public/%2e%2e/v1/x", "/v1/x", "/v1/x", nil},
	{"upper-case encoded dot-segment", "/public/%2E%2E/v1/x", "/v1/x", "/v1/x", nil},
	{"mixed encoded dot-segment", "/public/.%2e/v1/x", "/v1/x", "/v1/x", nil},
	{"scope escape to a sibling route", "/v1/../admin/x", "/admin/x", "/admin/x", nil},
	{"single dot", "/a/./b", "/a/b", "/a/b", nil},
	{"final dot keeps the slash", "/a/b/.", "/a/b/", "/a/b/", nil},
	{"final dot-dot keeps the slash", "/a/b/..", "/a/", "/a/", nil},
	{"dot-dot to the root", "/a/..", "/", "/", nil},
	{"repeated slashes merged", "//admin//x", "/admin/x", "/admin/x", nil},
	{"repeated trailing slash merged", "/a//", "/a/", "/a/", nil},
	{"unreserved escapes decoded", "/%41%62%7e%2D_", "/Ab~-_", "/Ab~-_", nil},
	{"reserved escape kept, hex upper-cased", "/a%3bb%3F", "/a%3Bb%3F", "/a;b?", nil},
	{"escape of a space", "/a%20b", "/a%20b", "/a b", nil},
	{"raw character that needs escaping", "/a\"b", "/a%22b", "/a\"b", nil},
	{"valid UTF-8, raw", "/caf\xc3\xa9", "/caf%C3%A9", "/café", nil},
	{"valid UTF-8, escaped", "/caf%c3%a9", "/caf%C3%A9", "/café", nil},
	{"a percent sign itself", "/100%25", "/100%25", "/100%", nil},
	{"dots that are not a segment", "/a..b/.c/..d", "/a..b/.c/..d", "/a..b/.c/..d", nil},
	{"three dots are a name", "/a/...", "/a/...", "/a/...", nil},
	{"parameter after a name", "/a;x/b", "/a;x/b", "/a;x/b", nil},

	{"encoded slash", "/public/..%2fv1/x", "", "", canonical.ErrEncodedSlash},
	{"encoded slash, upper case", "/a%2Fb", "", "", canonical.ErrEncodedSlash},
	{"encoded backslash", "/public/..%5cv1/x", "", "", canonical.ErrBackslash},
	{"raw backslash", "/public/..\\v1/x", "", "", canonical.ErrBackslash},
	{"encoded NUL", "/public/%00/../v1", "", "", canonical.ErrControl},
	{"encoded control character", "/a%0d%0aX-Injected:%201", "", "", canonical.ErrControl},
	{"encoded DEL", "/a%7f", "", "", canonical.ErrControl},
	{"overlong UTF-8 dot", "/public/%c0%ae%c0%ae/v1", "", "", canonical.ErrInvalidUTF8},
	{"overlong UTF-8 slash", "/public/..%c0%afv1", "", "", canonical.ErrInvalidUTF8},
	{"invalid UTF-8, raw", "/\xff", "", "", canonical.ErrInvalidUTF8},
	{"double-encoded dot", "/public/%252e%252e/v1", "", "", canonical.ErrDoubleEncoding},
	{"double-encoded slash", "/public/..%252fv1", "", "", canonical.ErrDoubleEncoding},
	{"double encoding spelled out", "/a/%25%32%65", "", "", canonical.ErrDoubleEncoding},
	{"Tomcat path parameter dot-segment", "/public/..;/admin/x", "", "", canonical.ErrDotSegmentParameter},
	{"path parameter on a single dot", "/public/.;x/admin", "", "", canonical.ErrDotSegmentParameter},
	{"encoded parameter on a dot-segment", "/public/..%3b/admin", "", "", canonical.ErrDotSegmentParameter},
	{"climb above the root", "/../etc/passwd", "", "", canonical.ErrAboveRoot},
	{"climb above the root later", "/a/../../b", "", "", canonical.ErrAboveRoot},
	{"truncated escape", "/a%2", "", "", canonical.ErrInvalidEscape},
	{"non-hex escape", "/a%zz", "", "", canonical.ErrInvalidEscape},
	{"empty", "", "", "", canonical.ErrNotOriginForm},
	{"asterisk form", "*", "", "", canonical.ErrNotOriginForm},
	{"relative", "a/b", "", "", canonical.ErrNotOriginForm},
}

func TestPath(t *testing.T) {
	c := mustNew(t, canonical.Config{})
	for _, tc := range pathCases {
		t.Run(tc.name, func(t *testing.T) {
			esc, dec, err := c.Path(tc.in)
			if tc.err != nil {
				var pe *canonical.PathError
				if !errors.Is(err, tc.err) || !errors.As(err, &pe) {
					t.Fatalf("Path(%q) = %q, %q, %v; want %v", tc.in, esc, dec, err, tc.err)
				}
				return
			}
			if err != nil || esc != tc.escaped || dec != tc.decoded {
				t.Fatalf("Path(%q) = %q, %q, %v; want %q, %q", tc.in, esc, dec, err, tc.escaped, tc.decoded)
			}
			// The escaped form decodes to the decoded form in Go's own
			// parser, so the next hop reads what was checked.
			if u, err := url.PathUnescape(esc); err != nil || u != dec {
				t.Errorf("url.PathUnescape(%q) = %q, %v; want %q", esc, u, err, dec)
			}
			// Canonical forms are fixed points.
			if e2, d2, err := c.Path(esc); err != nil || e2 != esc || d2 != dec {
				t.Errorf("Path(%q) = %q, %q, %v; not idempotent", esc, e2, d2, err)
			}
		})
	}
}

func TestKeepRepeatedSlashes(t *testing.T) {
	c := mustNew(t, canonical.Config{KeepRepeatedSlashes: true})
	for in, want := range map[string]string{
		"//a//b":     "//a//b",
		"/a//":       "/a//",
		"/a//../b":   "/a/b",
		"/a/./../b/": "/b/",
	} {
		if got, _, err := c.Path(in); err != nil || got != want {
			t.Errorf("Path(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// The request a next hop receives carries the canonical path in every
// field a proxy or framework may read.
func TestRequestPath(t *testing.T) {
	c := mustNew(t, canonical.Config{})
	tests := []struct {
		target, path, rawPath, requestURI string
	}{
		{"/public/%2e%2e/v1/x?a=1", "/v1/x", "", "/v1/x?a=1"},
		{"/public/../v1/x", "/v1/x", "", "/v1/x"},
		{"/a/%3b/../b%3B", "/a/b;", "/a/b%3B", "/a/b%3B"},
		{"http://api.example/a/../b", "/b", "", "/b"},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", tc.target, nil)
		before := *r.URL
		got, err := c.RequestPath(r)
		if err != nil {
			t.Fatalf("RequestPath(%q): %v", tc.target, err)
		}
		if got.URL.Path != tc.path || got.URL.RawPath != tc.rawPath || got.RequestURI != tc.requestURI {
			t.Errorf("RequestPath(%q) = path %q raw %q uri %q; want %q %q %q", tc.target,
				got.URL.Path, got.URL.RawPath, got.RequestURI, tc.path, tc.rawPath, tc.requestURI)
		}
		if *r.URL != before {
			t.Errorf("RequestPath(%q) changed the incoming request's URL", tc.target)
		}
	}
	// Already canonical: the very same request, nothing allocated.
	r := httptest.NewRequest("GET", "/v1/orders/42?x=1", nil)
	if got, err := c.RequestPath(r); err != nil || got != r {
		t.Errorf("RequestPath of a canonical request = %p, %v; want the request itself", got, err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = c.Request(r) }); n != 0 {
		t.Errorf("Request on a canonical request allocates %v times", n)
	}
}

func TestHandlerRefusesWithProblem(t *testing.T) {
	c := mustNew(t, canonical.Config{})
	reached := false
	h := c.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
	for _, target := range []string{"/public/..%2fv1/x", "/public/%252e%252e/v1", "/../x"} {
		reached = false
		r := httptest.NewRequest("GET", target, nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != 400 || rec.Header().Get("Content-Type") != "application/problem+json" || reached {
			t.Errorf("%q: status %d, type %q, handler reached %v; want a 400 problem", target, rec.Code, rec.Header().Get("Content-Type"), reached)
		}
		if strings.Contains(rec.Body.String(), "v1") {
			t.Errorf("%q: the problem echoes the path: %s", target, rec.Body)
		}
	}
}
