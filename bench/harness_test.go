package bench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// jsonHandler is the bare application every benchmark wraps: a small JSON
// response, as an API handler would write.
var jsonHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"ok":true}`)
})

// discardWriter is a ResponseWriter that keeps headers but drops the body,
// so benchmarks measure middleware rather than recorder bookkeeping.
type discardWriter struct {
	h      http.Header
	status int
}

func newDiscardWriter() *discardWriter { return &discardWriter{h: make(http.Header, 16)} }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(code int)        { d.status = code }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) reset() {
	clear(d.h)
	d.status = 0
}

// newRequest returns a GET request as a server would hand it to a handler:
// RemoteAddr set, TLS off, a JSON Accept header.
func newRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://api.example.com/v1/items", nil)
	r.RemoteAddr = "203.0.113.7:51234"
	r.Header.Set("Accept", "application/json")
	return r
}

// serve runs h b.N times against the same request with a reused writer,
// failing the benchmark if the handler does not answer 200.
func serve(b *testing.B, h http.Handler, r *http.Request) {
	b.Helper()
	w := newDiscardWriter()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, r)
	}
	b.StopTimer()
	if w.status != 0 && w.status != http.StatusOK {
		b.Fatalf("status %d, want 200", w.status)
	}
}

// BenchmarkBaseline is the bare handler: the figure every middleware's added
// cost is measured against.
func BenchmarkBaseline(b *testing.B) {
	serve(b, jsonHandler, newRequest())
}
