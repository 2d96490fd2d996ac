package canonical_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/bulwark-go/bulwark/canonical"
	"github.com/bulwark-go/bulwark/secevent"
)

func TestRequestHeaders(t *testing.T) {
	c := mustNew(t, canonical.Config{
		StripHeaders:      []string{"X-Bulwark-Subject"},
		UnderscoreHeaders: []string{"X_Tenant_ID"},
	})
	tests := []struct {
		name   string
		header string // as the client spelled it
		kept   bool
		spoof  bool
	}{
		{"identity header spoofing", "X-Bulwark-Subject", false, true},
		{"identity header spoofing in lower case", "x-bulwark-subject", false, true},
		{"identity header spoofing with underscores (CGI, WSGI, Rack, PHP)", "X_Bulwark_Subject", false, true},
		{"identity header spoofing, mixed separators", "x-bulwark_SUBJECT", false, true},
		{"method override", "X-HTTP-Method-Override", false, false},
		{"method override, other spellings", "X-Http-Method", false, false},
		{"method override, underscores", "X_Method_Override", false, false},
		{"URL override", "X-Original-URL", false, false},
		{"URL rewrite", "x-rewrite-url", false, false},
		{"any underscore header", "X_Custom", false, false},
		{"an underscore header the operator lists", "x_tenant_id", true, false},
		{"an ordinary header", "X-Custom", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/x", nil)
			r.Header[tc.header] = []string{"admin"} // as the server's parser stores it, spelling and all
			r.Header.Set("Accept", "application/json")
			var events []secevent.Event
			ctx := secevent.NewContext(context.Background(), secevent.RecorderFunc(func(_ context.Context, e secevent.Event) { events = append(events, e) }))
			r = r.WithContext(ctx)
			got, err := c.Request(r)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := got.Header[tc.header]; ok != tc.kept {
				t.Errorf("header %q kept = %v, want %v", tc.header, ok, tc.kept)
			}
			if got.Header.Get("Accept") != "application/json" {
				t.Errorf("other headers lost: %v", got.Header)
			}
			if _, ok := r.Header[tc.header]; !ok {
				t.Errorf("the incoming request's header map was changed")
			}
			if spoofed := slices.ContainsFunc(events, func(e secevent.Event) bool { return e.Name == secevent.MaliciousExtraneous }); spoofed != tc.spoof {
				t.Errorf("spoofing event = %v, want %v (%v)", spoofed, tc.spoof, events)
			}
		})
	}
}

func TestKeepOverrideHeaders(t *testing.T) {
	c := mustNew(t, canonical.Config{DangerouslyKeepOverrideHeaders: true})
	r := httptest.NewRequest("POST", "/x", nil)
	r.Header.Set("X-HTTP-Method-Override", "PATCH")
	if got, _ := c.Request(r); got.Header.Get("X-HTTP-Method-Override") != "PATCH" {
		t.Errorf("DangerouslyKeepOverrideHeaders removed the header")
	}
}

func TestConfigErrors(t *testing.T) {
	_, err := canonical.New(canonical.Config{
		StripHeaders:      []string{"X-Bulwark-Subject", "bad header"},
		UnderscoreHeaders: []string{"X_Bulwark_Subject", "X-No-Underscore", "x_http_method"},
	})
	var ce *canonical.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("New = %v, want *ConfigError", err)
	}
	n := 0
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		if errors.As(e, &ce) {
			n++
		}
	}
	if n != 4 {
		t.Errorf("New reported %d problems, want 4: %v", n, err)
	}
}

func BenchmarkRequest(b *testing.B) {
	c := mustNew(b, canonical.Config{StripHeaders: []string{"X-Bulwark-Subject", "X-Bulwark-Scopes", "X-Bulwark-Auth-Method"}})
	for _, bc := range []struct{ name, target string }{
		{"canonical", "/v1/orders/42?expand=items"},
		{"dot-segments", "/v1/./orders/../orders/42"},
	} {
		r := httptest.NewRequest("GET", bc.target, nil)
		for _, h := range []string{"Accept", "User-Agent", "Authorization", "Content-Type", "X-Request-Id", "Accept-Encoding"} {
			r.Header.Set(h, "x")
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = c.Request(r)
			}
		})
	}
	_ = http.MethodGet
}
