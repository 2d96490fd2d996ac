package headers_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/headers"
)

// observatory encodes the MDN HTTP Observatory tests that apply to an API
// response (mdn/mdn-http-observatory: content-security-policy,
// strict-transport-security, x-content-type-options, x-frame-options,
// referrer-policy, cross-origin-resource-policy), returning each test's
// result name and whether it passes. Cookies, redirection, SRI and CORS
// depend on the application and are out of scope. The CSP parsing here is
// deliberately independent of headers.ParseCSP.
func observatory(h http.Header) map[string]string {
	out := map[string]string{}

	// Content Security Policy.
	csp := map[string][]string{}
	if v := h.Values("Content-Security-Policy"); len(v) == 1 {
		for _, d := range strings.Split(v[0], ";") {
			f := strings.Fields(strings.ToLower(d))
			if len(f) > 0 {
				if _, dup := csp[f[0]]; !dup {
					csp[f[0]] = f[1:]
				}
			}
		}
	}
	src := func(name string) []string {
		if v, ok := csp[name]; ok {
			return v
		}
		return csp["default-src"]
	}
	broad := func(list []string) bool {
		for _, s := range list {
			switch s {
			case "*", "http:", "https:", "data:", "'unsafe-inline'":
				return true
			}
		}
		return false
	}
	insecure := func(list []string) bool {
		for _, s := range list {
			if s == "http:" || strings.HasPrefix(s, "http://") || s == "ftp:" {
				return true
			}
		}
		return false
	}
	script, object := src("script-src"), src("object-src")
	switch {
	case len(csp) == 0:
		out["content-security-policy"] = "csp-not-implemented"
	case broad(script) && !hasNonceOrHash(script):
		out["content-security-policy"] = "csp-implemented-with-unsafe-inline"
	case insecure(script) || insecure(object) || insecure(src("style-src")):
		out["content-security-policy"] = "csp-implemented-with-insecure-scheme"
	case slices.Contains(script, "'unsafe-eval'"):
		out["content-security-policy"] = "csp-implemented-with-unsafe-eval"
	case object == nil || broad(object):
		out["content-security-policy"] = "csp-implemented-with-unsafe-objects"
	case slices.Equal(csp["default-src"], []string{"'none'"}):
		out["content-security-policy"] = "csp-implemented-with-no-unsafe-default-src-none"
	default:
		out["content-security-policy"] = "csp-implemented-with-no-unsafe"
	}

	// Strict-Transport-Security: at least six months.
	out["strict-transport-security"] = "hsts-not-implemented"
	if v := h.Values("Strict-Transport-Security"); len(v) == 1 {
		out["strict-transport-security"] = "hsts-header-invalid"
		for _, p := range strings.Split(v[0], ";") {
			k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "max-age") {
				if n, err := strconv.Atoi(strings.Trim(val, `"`)); err == nil {
					if n >= 15768000 {
						out["strict-transport-security"] = "hsts-implemented-max-age-at-least-six-months"
					} else {
						out["strict-transport-security"] = "hsts-implemented-max-age-less-than-six-months"
					}
				}
			}
		}
	}

	// X-Content-Type-Options.
	out["x-content-type-options"] = "x-content-type-options-not-implemented"
	if v := h.Values("X-Content-Type-Options"); len(v) == 1 {
		out["x-content-type-options"] = "x-content-type-options-header-invalid"
		if strings.EqualFold(strings.TrimSpace(v[0]), "nosniff") {
			out["x-content-type-options"] = "x-content-type-options-nosniff"
		}
	}

	// X-Frame-Options, or CSP frame-ancestors (which wins).
	out["x-frame-options"] = "x-frame-options-not-implemented"
	if v := h.Values("X-Frame-Options"); len(v) == 1 {
		out["x-frame-options"] = "x-frame-options-header-invalid"
		if s := strings.ToUpper(strings.TrimSpace(v[0])); s == "DENY" || s == "SAMEORIGIN" {
			out["x-frame-options"] = "x-frame-options-sameorigin-or-deny"
		}
	}
	if fa, ok := csp["frame-ancestors"]; ok && len(fa) > 0 && !slices.Contains(fa, "*") {
		out["x-frame-options"] = "x-frame-options-implemented-via-csp"
	}

	// Referrer-Policy: the last recognised token counts.
	out["referrer-policy"] = "referrer-policy-not-implemented"
	if v := h.Values("Referrer-Policy"); len(v) > 0 {
		out["referrer-policy"] = "referrer-policy-header-invalid"
		for _, tok := range strings.Split(strings.Join(v, ","), ",") {
			switch strings.ToLower(strings.TrimSpace(tok)) {
			case "no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin":
				out["referrer-policy"] = "referrer-policy-private"
			case "origin", "origin-when-cross-origin":
				out["referrer-policy"] = "referrer-policy-no-referrer-when-downgrade"
			case "no-referrer-when-downgrade", "unsafe-url":
				out["referrer-policy"] = "referrer-policy-unsafe"
			}
		}
	}

	// Cross-Origin-Resource-Policy.
	out["cross-origin-resource-policy"] = "corp-not-implemented"
	if v := h.Values("Cross-Origin-Resource-Policy"); len(v) == 1 {
		switch strings.ToLower(strings.TrimSpace(v[0])) {
		case "same-origin":
			out["cross-origin-resource-policy"] = "corp-implemented-with-same-origin"
		case "same-site":
			out["cross-origin-resource-policy"] = "corp-implemented-with-same-site"
		case "cross-origin":
			out["cross-origin-resource-policy"] = "corp-implemented-with-universal-access"
		default:
			out["cross-origin-resource-policy"] = "corp-header-invalid"
		}
	}
	return out
}

func hasNonceOrHash(list []string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, "'nonce-") || strings.HasPrefix(s, "'sha") {
			return true
		}
	}
	return false
}

// observatoryPass lists the passing results of each test, best first.
var observatoryPass = map[string][]string{
	"content-security-policy":      {"csp-implemented-with-no-unsafe-default-src-none", "csp-implemented-with-no-unsafe"},
	"strict-transport-security":    {"hsts-implemented-max-age-at-least-six-months"},
	"x-content-type-options":       {"x-content-type-options-nosniff"},
	"x-frame-options":              {"x-frame-options-implemented-via-csp", "x-frame-options-sameorigin-or-deny"},
	"referrer-policy":              {"referrer-policy-private"},
	"cross-origin-resource-policy": {"corp-implemented-with-same-origin", "corp-implemented-with-same-site"},
}

// TestObservatoryDefaultProfile: the zero-Config API response earns the
// best result of every applicable Observatory test, and the HTML profile
// passes them all.
func TestObservatoryDefaultProfile(t *testing.T) {
	h := mustNew(t, headers.Config{})
	for _, tc := range []struct {
		name string
		app  http.Handler
		best bool
	}{
		{"API", jsonApp, true},
		{"HTML", htmlApp, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := observatory(do(h, tc.app, request("GET", "https://api.example.com/", true)).Header)
			for test, pass := range observatoryPass {
				switch {
				case tc.best && got[test] != pass[0]:
					t.Errorf("%s: %s, want %s", test, got[test], pass[0])
				case !slices.Contains(pass, got[test]):
					t.Errorf("%s: %s fails", test, got[test])
				}
			}
		})
	}
}

// TestObservatoryRulesCatchWeakHeaders proves the encoded rules can fail.
func TestObservatoryRulesCatchWeakHeaders(t *testing.T) {
	for _, tc := range []struct {
		hdr  map[string]string
		test string
		want string
	}{
		{map[string]string{}, "content-security-policy", "csp-not-implemented"},
		{map[string]string{"Content-Security-Policy": "default-src 'self' 'unsafe-inline'"}, "content-security-policy", "csp-implemented-with-unsafe-inline"},
		{map[string]string{"Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-eval'"}, "content-security-policy", "csp-implemented-with-unsafe-eval"},
		{map[string]string{"Content-Security-Policy": "default-src 'self' http://cdn.example"}, "content-security-policy", "csp-implemented-with-insecure-scheme"},
		{map[string]string{"Content-Security-Policy": "script-src 'self'"}, "content-security-policy", "csp-implemented-with-unsafe-objects"},
		{map[string]string{"Strict-Transport-Security": "max-age=86400"}, "strict-transport-security", "hsts-implemented-max-age-less-than-six-months"},
		{map[string]string{"Strict-Transport-Security": "includeSubDomains"}, "strict-transport-security", "hsts-header-invalid"},
		{map[string]string{"X-Content-Type-Options": "yes"}, "x-content-type-options", "x-content-type-options-header-invalid"},
		{map[string]string{"X-Frame-Options": "ALLOWALL"}, "x-frame-options", "x-frame-options-header-invalid"},
		{map[string]string{"Content-Security-Policy": "frame-ancestors *"}, "x-frame-options", "x-frame-options-not-implemented"},
		{map[string]string{"Referrer-Policy": "unsafe-url"}, "referrer-policy", "referrer-policy-unsafe"},
		{map[string]string{"Cross-Origin-Resource-Policy": "everyone"}, "cross-origin-resource-policy", "corp-header-invalid"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.hdr {
				h.Set(k, v)
			}
			if got := observatory(h)[tc.test]; got != tc.want || slices.Contains(observatoryPass[tc.test], got) {
				t.Errorf("observatory(%v)[%s] = %s, want failing %s", tc.hdr, tc.test, got, tc.want)
			}
		})
	}
}
