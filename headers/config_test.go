package headers_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/headers"
)

func TestNewRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    headers.Config
		fields []string // ConfigError.Field of every problem, in order
	}{
		{"negative HSTS max-age", headers.Config{HSTSMaxAge: -time.Second}, []string{"HSTSMaxAge"}},
		{"sub-second HSTS max-age", headers.Config{HSTSMaxAge: time.Millisecond}, []string{"HSTSMaxAge"}},
		{"preload with short max-age", headers.Config{HSTSPreload: true, HSTSMaxAge: 180 * 24 * time.Hour}, []string{"HSTSPreload"}},
		{"preload without includeSubDomains", headers.Config{HSTSPreload: true, InsecureHSTSOmitSubDomains: true}, []string{"HSTSPreload"}},
		{"preload with HSTS disabled", headers.Config{HSTSPreload: true, InsecureDisableHSTS: true}, []string{"HSTSPreload"}},
		{"redirect without RequireHTTPS", headers.Config{RedirectHTTP: true, AllowedHosts: []string{"a.example"}}, []string{"RedirectHTTP"}},
		{"redirect without AllowedHosts", headers.Config{RequireHTTPS: true, RedirectHTTP: true}, []string{"RedirectHTTP"}},
		{"proxy header without proxies", headers.Config{ProxyHeader: headers.XForwardedProto}, []string{"TrustedProxies"}},
		{"proxies without header", headers.Config{TrustedProxies: prefixes("10.0.0.0/8")}, []string{"TrustedProxies"}},
		{"unknown proxy header", headers.Config{ProxyHeader: "X-Real-IP", TrustedProxies: prefixes("10.0.0.0/8")}, []string{"ProxyHeader"}},
		{"trust everyone", headers.Config{ProxyHeader: headers.Forwarded, TrustedProxies: prefixes("0.0.0.0/0")}, []string{"TrustedProxies"}},
		{"invalid prefix", headers.Config{ProxyHeader: headers.Forwarded, TrustedProxies: []netip.Prefix{{}}}, []string{"TrustedProxies"}},
		{"host with port", headers.Config{AllowedHosts: []string{"api.example.com:443"}}, []string{"AllowedHosts"}},
		{"host with path", headers.Config{AllowedHosts: []string{"api.example.com/x"}}, []string{"AllowedHosts"}},
		{"URL as host", headers.Config{AllowedHosts: []string{"https://api.example.com"}}, []string{"AllowedHosts"}},
		{"inner wildcard", headers.Config{AllowedHosts: []string{"api.*.example.com"}}, []string{"AllowedHosts"}},
		{"partial wildcard", headers.Config{AllowedHosts: []string{"*api.example.com"}}, []string{"AllowedHosts"}},
		{"TLD wildcard", headers.Config{AllowedHosts: []string{"*.com"}}, []string{"AllowedHosts"}},
		{"bare star", headers.Config{AllowedHosts: []string{"*"}}, []string{"AllowedHosts"}},
		{"empty host", headers.Config{AllowedHosts: []string{""}}, []string{"AllowedHosts"}},
		{"underscore", headers.Config{AllowedHosts: []string{"a_b.example.com"}}, []string{"AllowedHosts"}},
		{"numeric TLD", headers.Config{AllowedHosts: []string{"example.123"}}, []string{"AllowedHosts"}},
		{"long label", headers.Config{AllowedHosts: []string{strings.Repeat("a", 64) + ".example"}}, []string{"AllowedHosts"}},
		{"zone", headers.Config{AllowedHosts: []string{"fe80::1%eth0"}}, []string{"AllowedHosts"}},
		{"CSP that fails to parse", headers.Config{CSP: "default-src self"}, []string{"CSP"}},
		{"HTML CSP typo", headers.Config{HTMLCSP: "defualt-src 'self'"}, []string{"HTMLCSP"}},
		{"unsafe referrer policy", headers.Config{ReferrerPolicy: "unsafe-url"}, []string{"ReferrerPolicy"}},
		{"unknown referrer policy", headers.Config{ReferrerPolicy: "never"}, []string{"ReferrerPolicy"}},
		{"CORP typo", headers.Config{CrossOriginResourcePolicy: "same_origin"}, []string{"CrossOriginResourcePolicy"}},
		{"COOP typo", headers.Config{CrossOriginOpenerPolicy: "same"}, []string{"CrossOriginOpenerPolicy"}},
		{"COEP typo", headers.Config{CrossOriginEmbedderPolicy: "require"}, []string{"CrossOriginEmbedderPolicy"}},
		{"permissions policy shape", headers.Config{PermissionsPolicy: "camera"}, []string{"PermissionsPolicy"}},
		{"header injection", headers.Config{PermissionsPolicy: "camera=()\r\nSet-Cookie: a=b"}, []string{"PermissionsPolicy"}},
		{"strip a managed header", headers.Config{StripHeaders: []string{"content-security-policy"}}, []string{"StripHeaders"}},
		{"strip a bad name", headers.Config{StripHeaders: []string{"X Bad"}}, []string{"StripHeaders"}},
		{"all problems joined", headers.Config{HSTSMaxAge: -1, CSP: "script-src 'none' 'self'", AllowedHosts: []string{"*"}},
			[]string{"HSTSMaxAge", "AllowedHosts", "CSP"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := headers.New(tc.cfg)
			if h != nil || err == nil {
				t.Fatalf("New() = %v, %v; want an error", h, err)
			}
			var got []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var ce *headers.ConfigError
				if !errors.As(e, &ce) {
					t.Fatalf("error %v is not a *ConfigError", e)
				}
				got = append(got, ce.Field)
			}
			if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Errorf("New() problems in %v, want %v (%v)", got, tc.fields, err)
			}
		})
	}
}

func TestNewCSPErrorUnwraps(t *testing.T) {
	_, err := headers.New(headers.Config{CSP: "default-src 'self' 'none'"})
	var ce *headers.CSPError
	if !errors.Is(err, headers.ErrInvalidCSP) || !errors.As(err, &ce) || ce.Directive != "default-src" {
		t.Errorf("New() = %v, want a *CSPError for default-src", err)
	}
}

func TestNewAccepts(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  headers.Config
		hsts string
	}{
		{"zero", headers.Config{}, "max-age=63072000; includeSubDomains"},
		{"preload at one year", headers.Config{HSTSPreload: true, HSTSMaxAge: 365 * 24 * time.Hour}, "max-age=31536000; includeSubDomains; preload"},
		{"preload with default max-age", headers.Config{HSTSPreload: true}, "max-age=63072000; includeSubDomains; preload"},
		{"short max-age, no subdomains", headers.Config{HSTSMaxAge: 90 * time.Second, InsecureHSTSOmitSubDomains: true}, "max-age=90"},
		{"HSTS off", headers.Config{InsecureDisableHSTS: true}, ""},
		{"everything", headers.Config{
			RequireHTTPS: true, RedirectHTTP: true,
			AllowedHosts:   []string{"api.example.com", "*.example.org", "192.0.2.1", "2001:db8::1", "[2001:db8::2]", "Example.NET."},
			TrustedProxies: prefixes("10.0.0.0/8", "::ffff:192.168.0.0/112"), ProxyHeader: headers.Forwarded,
			CSP: "default-src 'none'", HTMLCSP: "default-src 'self'; script-src 'nonce' 'strict-dynamic'",
			PermissionsPolicy: `camera=(self "https://a.example"), geolocation=*`, ReferrerPolicy: "no-referrer, strict-origin-when-cross-origin",
			CrossOriginResourcePolicy: "cross-origin", CrossOriginOpenerPolicy: "same-origin-allow-popups",
			CrossOriginEmbedderPolicy: "require-corp", StripHeaders: []string{"X-Upstream"},
		}, "max-age=63072000; includeSubDomains"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := mustNew(t, tc.cfg)
			r := request("GET", "https://api.example.com/", true)
			r.RemoteAddr = "192.0.2.9:1"
			if got := do(h, jsonApp, r).Header.Get("Strict-Transport-Security"); got != tc.hsts {
				t.Errorf("HSTS = %q, want %q", got, tc.hsts)
			}
		})
	}
}

// TestConfigCopied: changing the caller's slices after New changes nothing.
func TestConfigCopied(t *testing.T) {
	cfg := headers.Config{AllowedHosts: []string{"api.example.com"}, StripHeaders: []string{"X-Secret-Backend"}}
	h := mustNew(t, cfg)
	cfg.AllowedHosts[0] = "evil.example"
	cfg.StripHeaders[0] = "X-Other"
	r := request("GET", "https://api.example.com/", true)
	if err := h.Check(r); err != nil {
		t.Errorf("Check after caller mutation = %v, want nil", err)
	}
}
