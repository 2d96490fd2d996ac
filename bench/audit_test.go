package bench

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/audit"
)

// statusWriter is what a hand-written access log wraps the writer with.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(c int) { w.status = c; w.ResponseWriter.WriteHeader(c) }
func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += n
	return n, err
}

// slogAccessLog is the plain access log applications write: one slog JSON
// record per request with method, path, status, bytes, duration, remote
// address and user agent; no request ID, redaction, escaping or events.
func slogAccessLog(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w}
			next.ServeHTTP(sw, r)
			log.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", sw.status),
				slog.Int("bytes", sw.bytes),
				slog.Duration("duration", time.Since(start)),
				slog.String("remote_addr", r.RemoteAddr),
				slog.String("user_agent", r.UserAgent()),
			)
		})
	}
}

func newAuditor(b *testing.B, h slog.Handler) *audit.Auditor {
	a, err := audit.New(audit.Config{Handler: h})
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// BenchmarkAudit: the audit record with no events beside the plain slog
// JSON access log, both writing to io.Discard; and with the HMAC chain.
func BenchmarkAudit(b *testing.B) {
	chain, err := audit.NewChain(io.Discard, audit.ChainConfig{Key: bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name string
		h    http.Handler
	}{
		{"baseline", jsonHandler},
		{"slog-access-log", slogAccessLog(slog.New(slog.NewJSONHandler(io.Discard, nil)))(jsonHandler)},
		{"bulwark-audit", newAuditor(b, slog.NewJSONHandler(io.Discard, nil)).Handler(jsonHandler)},
		{"bulwark-audit-chain", newAuditor(b, chain).Handler(jsonHandler)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			r := newRequest()
			r.Header.Set("User-Agent", "bench/1.0")
			serve(b, c.h, r)
		})
	}
}

// BenchmarkAuditChainRecord is the HMAC chain's cost per record: the same
// record through slog's JSON handler alone and through the chain.
func BenchmarkAuditChainRecord(b *testing.B) {
	rec := slog.NewRecord(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), slog.LevelInfo, "http.request", 0)
	rec.AddAttrs(slog.String("request_id", "0123456789abcdef0123456789abcdef"), slog.String("http.request.method", "GET"),
		slog.String("url.path", "/v1/items"), slog.Int("http.response.status_code", 200),
		slog.Int("http.response.body.size", 11), slog.Float64("http.server.request.duration", 0.000123),
		slog.String("client.address", "203.0.113.7"), slog.String("user_agent.original", "bench/1.0"))
	chain, err := audit.NewChain(io.Discard, audit.ChainConfig{Key: bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		h    slog.Handler
	}{
		{"json", slog.NewJSONHandler(io.Discard, nil)},
		{"json+chain", chain},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := c.h.Handle(ctx, rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAuditPaired runs the plain slog access log and the audit
// middleware (no events, JSON to io.Discard) in alternating batches and
// compares lower-quartile batch times, so that load from other processes
// on a shared machine hits both alike. Metrics: ns per request of each,
// both over the bare handler, and audit-ratio = audit / slog (target ≤ 1.5).
func BenchmarkAuditPaired(b *testing.B) {
	const batch = 256
	handlers := []http.Handler{
		jsonHandler,
		slogAccessLog(slog.New(slog.NewJSONHandler(io.Discard, nil)))(jsonHandler),
		newAuditor(b, slog.NewJSONHandler(io.Discard, nil)).Handler(jsonHandler),
		newAuditor(b, audit.NewJSONHandler(io.Discard, nil)).Handler(jsonHandler), // the default: JSON lines appended directly
	}
	r := newRequest()
	r.Header.Set("User-Agent", "bench/1.0")
	w := newDiscardWriter()
	times := make([][]time.Duration, len(handlers))
	b.ReportAllocs()
	for b.Loop() {
		for i, h := range handlers {
			start := time.Now()
			for range batch {
				w.reset()
				h.ServeHTTP(w, r)
			}
			times[i] = append(times[i], time.Since(start))
		}
	}
	q := make([]float64, len(handlers))
	for i, ts := range times {
		slices.Sort(ts)
		q[i] = float64(ts[len(ts)/4]) / batch
	}
	b.ReportMetric(q[1], "slog-ns/req")
	b.ReportMetric(q[2], "audit-ns/req")
	b.ReportMetric(q[2]/q[1], "audit-ratio")
	b.ReportMetric((q[2]-q[0])/(q[1]-q[0]), "added-ratio")
	b.ReportMetric(q[3], "audit-jsonline-ns/req")
	b.ReportMetric(q[3]/q[1], "audit-jsonline-ratio")
	b.ReportMetric((q[3]-q[0])/(q[1]-q[0]), "jsonline-added-ratio")
}

// BenchmarkAuditChainPaired alternates batches of the same record through
// slog's JSON handler alone and through the HMAC chain, and reports the
// chain's added cost per record from lower-quartile batch times.
func BenchmarkAuditChainPaired(b *testing.B) {
	const batch = 256
	rec := slog.NewRecord(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), slog.LevelInfo, "http.request", 0)
	rec.AddAttrs(slog.String("request_id", "0123456789abcdef0123456789abcdef"), slog.String("url.path", "/v1/items"),
		slog.Int("http.response.status_code", 200), slog.String("client.address", "203.0.113.7"))
	chain, err := audit.NewChain(io.Discard, audit.ChainConfig{Key: bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		b.Fatal(err)
	}
	handlers := []slog.Handler{slog.NewJSONHandler(io.Discard, nil), chain}
	times := make([][]time.Duration, len(handlers))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		for i, h := range handlers {
			start := time.Now()
			for range batch {
				_ = h.Handle(ctx, rec)
			}
			times[i] = append(times[i], time.Since(start))
		}
	}
	q := make([]float64, len(handlers))
	for i, ts := range times {
		slices.Sort(ts)
		q[i] = float64(ts[len(ts)/4]) / batch
	}
	b.ReportMetric(q[0], "json-ns/record")
	b.ReportMetric(q[1], "chain-ns/record")
	b.ReportMetric(q[1]-q[0], "chain-added-ns/record")
}
