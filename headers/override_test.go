package headers_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/headers"
)

func mustOverride(t *testing.T, cfg headers.OverrideConfig) *headers.Override {
	t.Helper()
	o, err := headers.NewOverride(cfg)
	if err != nil {
		t.Fatalf("NewOverride: %v", err)
	}
	return o
}

func TestOverride(t *testing.T) {
	h := mustNew(t, headers.Config{})
	docs := mustOverride(t, headers.OverrideConfig{
		CSP: "default-src 'self'; script-src 'self' 'nonce' https://cdn.example.com; frame-ancestors 'self'",
		Set: map[string]string{"X-Frame-Options": "SAMEORIGIN", "cross-origin-resource-policy": "cross-origin"},
	})
	drop := mustOverride(t, headers.OverrideConfig{Drop: []string{"Content-Security-Policy", "Cross-Origin-Opener-Policy"}})

	mux := http.NewServeMux()
	mux.Handle("/docs", docs.Handler(htmlApp))
	mux.Handle("/api", docs.Handler(jsonApp))
	mux.Handle("/embed", drop.Handler(jsonApp))
	mux.Handle("/plain", jsonApp)
	mux.Handle("/nested", drop.Handler(docs.Handler(jsonApp)))
	stack := h.Handler(mux)

	get := func(path string) http.Header {
		rec := newRec()
		stack.ServeHTTP(rec, request("GET", "https://api.example.com"+path, true))
		return rec.Result().Header
	}
	t.Run("replace CSP on an HTML route, nonce spliced", func(t *testing.T) {
		hd := get("/docs")
		csp := hd.Get("Content-Security-Policy")
		if !strings.HasPrefix(csp, "default-src 'self'; script-src 'self' 'nonce-") || !strings.HasSuffix(csp, "' https://cdn.example.com; frame-ancestors 'self'") {
			t.Errorf("CSP = %q", csp)
		}
		if hd.Get("X-Frame-Options") != "SAMEORIGIN" || hd.Get("Cross-Origin-Resource-Policy") != "cross-origin" {
			t.Errorf("Set not applied: %v", hd)
		}
		if hd.Get("Permissions-Policy") == "" || hd.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("untouched headers lost: %v", hd)
		}
	})
	t.Run("override applies to the API profile too", func(t *testing.T) {
		if csp := get("/api").Get("Content-Security-Policy"); !strings.Contains(csp, "https://cdn.example.com") {
			t.Errorf("CSP = %q", csp)
		}
	})
	t.Run("drop", func(t *testing.T) {
		hd := get("/embed")
		if _, ok := hd["Content-Security-Policy"]; ok {
			t.Errorf("CSP sent on a route that drops it: %v", hd)
		}
		if _, ok := hd["Cross-Origin-Opener-Policy"]; ok {
			t.Errorf("COOP sent on a route that drops it")
		}
		if hd.Get("X-Frame-Options") != "DENY" {
			t.Error("X-Frame-Options lost")
		}
	})
	t.Run("other routes unaffected", func(t *testing.T) {
		if csp := get("/plain").Get("Content-Security-Policy"); csp != headers.DefaultCSP {
			t.Errorf("CSP = %q, want the default", csp)
		}
	})
	t.Run("innermost wins", func(t *testing.T) {
		hd := get("/nested")
		if hd.Get("X-Frame-Options") != "SAMEORIGIN" || hd.Get("Cross-Origin-Opener-Policy") != "same-origin" {
			t.Errorf("nested = %v", hd)
		}
	})
}

func TestNewOverrideRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    headers.OverrideConfig
		fields string
	}{
		{"bad CSP", headers.OverrideConfig{CSP: "script-src self"}, "CSP"},
		{"unmanaged header", headers.OverrideConfig{Set: map[string]string{"X-Custom": "1"}}, "Set"},
		{"CSP through Set", headers.OverrideConfig{Set: map[string]string{"Content-Security-Policy": "default-src *"}}, "Set"},
		{"HSTS per route", headers.OverrideConfig{Set: map[string]string{"Strict-Transport-Security": "max-age=0"}}, "Set"},
		{"drop HSTS", headers.OverrideConfig{Drop: []string{"strict-transport-security"}}, "Drop"},
		{"drop nosniff", headers.OverrideConfig{Drop: []string{"X-Content-Type-Options"}}, "Drop"},
		{"bad X-Frame-Options", headers.OverrideConfig{Set: map[string]string{"X-Frame-Options": "ALLOW-FROM https://a.example"}}, "Set"},
		{"set and drop", headers.OverrideConfig{Set: map[string]string{"Referrer-Policy": "same-origin"}, Drop: []string{"Referrer-Policy"}}, "Drop"},
		{"drop unknown", headers.OverrideConfig{Drop: []string{"X-Nope"}}, "Drop"},
		{"several", headers.OverrideConfig{CSP: "x", Set: map[string]string{"Referrer-Policy": "unsafe-url"}}, "CSP,Set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := headers.NewOverride(tc.cfg)
			if o != nil || err == nil {
				t.Fatalf("NewOverride() = %v, %v; want an error", o, err)
			}
			var got []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var ce *headers.ConfigError
				if !errors.As(e, &ce) {
					t.Fatalf("%v is not a *ConfigError", e)
				}
				got = append(got, ce.Field)
			}
			if strings.Join(got, ",") != tc.fields {
				t.Errorf("problems in %v, want %s (%v)", got, tc.fields, err)
			}
		})
	}
}

func TestOverrideWithoutMiddlewareIsInert(t *testing.T) {
	o := mustOverride(t, headers.OverrideConfig{Drop: []string{"Content-Security-Policy"}})
	rec := newRec()
	o.Handler(jsonApp).ServeHTTP(rec, request("GET", "/", true))
	if rec.Code != 200 || rec.Header().Get("Content-Security-Policy") != "" {
		t.Errorf("got %d %v", rec.Code, rec.Header())
	}
}
