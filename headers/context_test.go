package headers_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/clientip"
	"github.com/bulwark-go/bulwark/headers"
)

// TestRequestContextPreserved: the context the handler sees still carries
// the outer values and the server's cancellation.
func TestRequestContextPreserved(t *testing.T) {
	h := mustNew(t, headers.Config{})
	addr := netip.MustParseAddr("192.0.2.44")
	parent, cancel := context.WithCancelCause(clientip.NewContext(t.Context(), addr))
	ran := false
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran = true
		if got, ok := clientip.FromContext(r.Context()); !ok || got != addr {
			t.Errorf("clientip.FromContext = %v, %v; want %v", got, ok, addr)
		}
		child, stop := context.WithCancel(r.Context())
		defer stop()
		cancel(context.Canceled)
		<-child.Done() // cancellation reaches contexts derived inside the handler
		if r.Context().Err() == nil {
			t.Error("request context not cancelled")
		}
	})
	do(h, app, request("GET", "/", true).WithContext(parent))
	if !ran {
		t.Fatal("handler did not run")
	}
}

func TestCheckDoesNotAllocate(t *testing.T) {
	for _, tc := range []struct{ proxyHeader, header, value string }{
		{headers.Forwarded, "Forwarded", "for=192.0.2.1;host=x.example.com;proto=https"},
		{headers.XForwardedProto, "X-Forwarded-Host", "a.example, x.example.com"},
	} {
		h := mustNew(t, headers.Config{
			RequireHTTPS: true, AllowedHosts: []string{"a.example", "*.example.com"},
			TrustedProxies: prefixes("10.0.0.0/8"), ProxyHeader: tc.proxyHeader,
		})
		r := request("GET", "http://x.example.com/", false)
		r.RemoteAddr = proxyAddr
		r.Header.Set(tc.header, tc.value)
		r.Header.Set("X-Forwarded-Proto", "https")
		if err := h.Check(r); err != nil {
			t.Fatalf("%s: Check = %v", tc.header, err)
		}
		if n := testing.AllocsPerRun(100, func() { _ = h.Check(r) }); n != 0 {
			t.Errorf("%s: Check allocates %v times, want 0", tc.header, n)
		}
	}
}

// TestNonceConcurrent: goroutines of one request share one nonce.
func TestNonceConcurrent(t *testing.T) {
	h := mustNew(t, headers.Config{})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := make(chan string, 8)
		for range 8 {
			go func() { got <- headers.Nonce(r.Context()) }()
		}
		first := <-got
		for range 7 {
			if n := <-got; n != first || n == "" {
				t.Errorf("nonces %q and %q in one request", first, n)
			}
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(200)
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "'nonce-"+first+"'") {
			t.Errorf("CSP %q lacks the nonce %q", csp, first)
		}
	})
	do(h, app, request("GET", "/", true))
}

// TestHijackThroughUnwrap: http.ResponseController reaches the server's
// Hijacker through the wrapper.
func TestHijackThroughUnwrap(t *testing.T) {
	h := mustNew(t, headers.Config{})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
		_ = buf.Flush()
	})
	srv := httptest.NewServer(h.Handler(app))
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "hi" {
		t.Errorf("body %q, want hi", body)
	}
}
