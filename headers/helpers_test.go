package headers_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/bulwark-go/bulwark/headers"
)

// jsonApp is a bare API handler.
var jsonApp = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"ok":true}`)
})

// htmlApp writes a page with a nonced script.
var htmlApp = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, `<script nonce="`+headers.Nonce(r.Context())+`">1</script>`)
})

func mustNew(t testing.TB, cfg headers.Config) *headers.Headers {
	t.Helper()
	h, err := headers.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return h
}

// request builds a request as a server hands it over: over TLS when tlsOn.
func request(method, target string, tlsOn bool) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = "203.0.113.7:51234"
	if tlsOn {
		r.TLS = &tls.ConnectionState{HandshakeComplete: true}
	} else {
		r.TLS = nil
	}
	return r
}

// do runs h around app for r and returns the recorded response.
func do(h *headers.Headers, app http.Handler, r *http.Request) *http.Response {
	rec := httptest.NewRecorder()
	h.Handler(app).ServeHTTP(rec, r)
	return rec.Result()
}

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func newRec() *httptest.ResponseRecorder { return httptest.NewRecorder() }
