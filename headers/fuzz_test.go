package headers_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/headers"
)

// FuzzParseCSP: ParseCSP never panics, accepts its own output, and its
// canonical form is a fixed point; what it accepts never carries a
// character that could split or inject a header.
func FuzzParseCSP(f *testing.F) {
	for _, tc := range cspCases {
		f.Add(tc.in)
	}
	f.Add(headers.DefaultCSP)
	f.Add(headers.DefaultHTMLCSP)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := headers.ParseCSP(s)
		if err != nil {
			if !errors.Is(err, headers.ErrInvalidCSP) {
				t.Fatalf("ParseCSP(%q) error %v is not ErrInvalidCSP", s, err)
			}
			return
		}
		out := c.String()
		if strings.ContainsAny(out, "\r\n\x00,") {
			t.Fatalf("ParseCSP(%q) accepted a policy serializing to %q", s, out)
		}
		c2, err := headers.ParseCSP(out)
		if err != nil {
			t.Fatalf("ParseCSP(%q) rejects its own output %q: %v", s, out, err)
		}
		if c2.String() != out {
			t.Fatalf("canonical form not stable: %q then %q", out, c2.String())
		}
		// What parses is accepted by New and sent unchanged.
		if out != "" {
			h, err := headers.New(headers.Config{CSP: out})
			if err != nil {
				t.Fatalf("New rejects a policy ParseCSP accepts: %q: %v", out, err)
			}
			got := do(h, jsonApp, request("GET", "/", true)).Header.Get("Content-Security-Policy")
			if strings.Contains(out, "'nonce'") {
				if _, err := headers.ParseCSP(got); err != nil || strings.Contains(got, "'nonce'") {
					t.Fatalf("sent %q for %q: placeholder left or unparsable (%v)", got, out, err)
				}
				got = nonceRE.ReplaceAllString(got, "'nonce'")
			}
			if got != out {
				t.Fatalf("sent %q, want %q", got, out)
			}
		}
	})
}

// FuzzCSPBuilder: whatever the builder accepts round-trips through ParseCSP.
func FuzzCSPBuilder(f *testing.F) {
	f.Add("script-src", "'self' 'nonce' https://cdn.example.com", "img-src", "data: 'self'")
	f.Add("default-src", "self", "frame-ancestors", "'none'")
	f.Add("sandbox", "", "upgrade-insecure-requests", "")
	f.Add("report-uri", "/csp;x", "default-src", "'none' 'self'")
	f.Fuzz(func(t *testing.T, d1, v1, d2, v2 string) {
		var b headers.CSPBuilder
		b.Set(headers.CSPDirective(d1), sources(v1)...).Set(headers.CSPDirective(d2), sources(v2)...)
		c, err := b.Build()
		if err != nil {
			if !errors.Is(err, headers.ErrInvalidCSP) {
				t.Fatalf("Build error %v is not ErrInvalidCSP", err)
			}
			return
		}
		p, err := headers.ParseCSP(c.String())
		if err != nil || p.String() != c.String() {
			t.Fatalf("built %q; ParseCSP gives %q, %v", c, p, err)
		}
	})
}

func sources(s string) []headers.CSPSource {
	var out []headers.CSPSource
	for _, f := range strings.Split(s, " ") {
		if f != "" {
			out = append(out, headers.CSPSource(f))
		}
	}
	return out
}

// FuzzAllowedHosts: the host matcher never panics; a pattern New accepts
// matches itself in any case and with a port, and a wildcard never matches
// its own bare suffix or a name two labels deeper.
func FuzzAllowedHosts(f *testing.F) {
	for _, s := range [][2]string{
		{"api.example.com", "api.example.com"},
		{"api.example.com", "API.EXAMPLE.COM:443"},
		{"*.example.com", "a.example.com"},
		{"*.example.com", "a.b.example.com"},
		{"127.0.0.1", "127.0.0.1:80"},
		{"[::1]", "[::1]:8080"},
		{"api.example.com", "api.example.\u212aom"},
		{"*.com", "x.com"},
		{"example.com", "[example.com]"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, host string) {
		h, err := headers.New(headers.Config{AllowedHosts: []string{pattern}})
		if err != nil {
			return
		}
		check := func(host string) error {
			r := request("GET", "/", true)
			r.Host = host
			return h.Check(r)
		}
		_ = check(host) // must not panic
		if !strings.HasPrefix(pattern, "*.") {
			self := pattern
			if strings.Contains(pattern, ":") && !strings.HasPrefix(pattern, "[") {
				self = "[" + pattern + "]" // a bare IPv6 pattern; a Host brackets it
			}
			if err := check(self); err != nil {
				t.Fatalf("pattern %q does not match itself: %v", pattern, err)
			}
			if err := check(strings.ToUpper(self) + ":8443"); err != nil {
				t.Fatalf("pattern %q does not match its upper case with a port: %v", pattern, err)
			}
			return
		}
		suffix := strings.TrimPrefix(pattern, "*.")
		if err := check("x." + suffix); err != nil {
			t.Fatalf("pattern %q does not match x.%s: %v", pattern, suffix, err)
		}
		for _, bad := range []string{suffix, "a.b." + suffix, "." + suffix} {
			if err := check(bad); !errors.Is(err, headers.ErrHostNotAllowed) {
				t.Fatalf("pattern %q matches %q", pattern, bad)
			}
		}
		if err := check(host); err == nil {
			if !strings.HasSuffix(strings.ToLower(strings.TrimSuffix(splitPort(host), ".")), "."+strings.ToLower(strings.TrimSuffix(suffix, "."))) {
				t.Fatalf("pattern %q matched unrelated host %q", pattern, host)
			}
		}
	})
}

func splitPort(h string) string {
	if i := strings.IndexByte(h, ':'); i >= 0 {
		return h[:i]
	}
	return h
}

var nonceRE = regexp.MustCompile(`'nonce-[A-Z2-7]{26}'`)

// FuzzForwardedHosts: behind a trusted proxy, a request passes only if its
// Host and every element of its X-Forwarded-Host would pass as a Host on
// their own, whatever the proxy headers hold, and Check never panics.
func FuzzForwardedHosts(f *testing.F) {
	for _, s := range [][3]string{
		{"api.example.com", "api.example.com", ""},
		{"evil.example", "api.example.com", ""},
		{"api.example.com", "evil.example, api.example.com", ""},
		{"api.example.com", " ,api.example.com,, a.tenants.example.com ", "host=api.example.com"},
		{"api.example.com", "", `for=192.0.2.1;host="api.example.com", host=evil.example`},
		{"api.example.com", "", `host="unterminated`},
	} {
		f.Add(s[0], s[1], s[2])
	}
	h, err := headers.New(headers.Config{
		AllowedHosts:   []string{"api.example.com", "*.tenants.example.com"},
		TrustedProxies: prefixes("10.0.0.0/8"), ProxyHeader: headers.XForwardedProto,
	})
	if err != nil {
		f.Fatal(err)
	}
	alone := func(host string) bool {
		r := request("GET", "/", true)
		r.Host = host
		return h.Check(r) == nil
	}
	f.Fuzz(func(t *testing.T, host, xfh, fwd string) {
		r := request("GET", "/", true)
		r.RemoteAddr = proxyAddr
		r.Host = host
		r.Header["X-Forwarded-Host"] = []string{xfh}
		r.Header["Forwarded"] = []string{fwd}
		if h.Check(r) != nil {
			return
		}
		if !alone(host) {
			t.Fatalf("Host %q passed behind the proxy but not alone", host)
		}
		for e := range strings.SplitSeq(xfh, ",") {
			if e = strings.TrimSpace(e); e != "" && !alone(e) {
				t.Fatalf("X-Forwarded-Host %q passed with element %q, which does not pass alone", xfh, e)
			}
		}
	})
}
