package gateway

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"syscall"
	"testing"
	"time"
)

// throughputYAML is bench/load's configuration: every protection on, the
// load generator as the trusted proxy asserting HTTPS.
const throughputYAML = `
listen: 127.0.0.1:0
upstream: %s
trusted_proxies: [127.0.0.1/32]
hosts: [127.0.0.1]
headers: {require_https: api}
cors: {allowed_origins: [https://app.example.com], allowed_methods: [GET, POST], allowed_headers: [X-API-Key, Content-Type]}
auth:
  api_keys: {store: memory, header: X-API-Key, prefix: bwk_live}
ratelimit:
  store: memory
  policies:
    - {name: per-ip, key: ip, limit: 1000000000, period: 1s}
    - {name: per-key, key: subject, limit: 1000000000, period: 1s}
  default: [per-ip]
routes:
  - {path: /v1/, auth: required, scopes: demo, methods: [GET, POST], json: true, max_body: 64KiB, ratelimit: [per-ip, per-key]}
audit: {output: stdout}
`

// throughputUpstream answers as bench/load's upstream does.
func throughputUpstream(b *testing.B) *httptest.Server {
	b.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	b.Cleanup(up.Close)
	return up
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkServeLoopback sends GETs over loopback through a bare
// httputil.ReverseProxy and through the gateway of bench/load's
// configuration, to the same upstream, from 32 keep-alive connections:
// the request path of `bulwark serve` end to end, for -cpuprofile. Besides
// ns/op (wall time, shared with whatever else the machine runs) it
// reports cpu-ns/op, the process's CPU time per request (client, proxy and
// upstream together), which is what bench/load's CPU-bound estimate
// compares.
func BenchmarkServeLoopback(b *testing.B) {
	up := throughputUpstream(b)
	upURL, _ := url.Parse(up.URL)
	bare := httptest.NewServer(&httputil.ReverseProxy{
		Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second},
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(upURL); pr.SetXForwarded() },
	})
	b.Cleanup(bare.Close)

	cfg, err := Parse(fmt.Appendf(nil, throughputYAML, up.URL), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	g, err := Build(cfg, Options{AuditWriter: io.Discard, Logf: func(string, ...any) {}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = g.Close() })
	key, err := g.CreateDemoKey(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = g.Run(ctx, func(public, _ net.Addr) { addrc <- public.String() })
	}()
	b.Cleanup(func() { cancel(); <-done })
	gw := "http://" + <-addrc

	hdr := http.Header{
		"Accept":            {"application/json"},
		"Origin":            {"https://app.example.com"},
		"X-Forwarded-Proto": {"https"},
		"X-Api-Key":         {key},
	}
	for _, side := range []struct{ name, url string }{{"bare", bare.URL}, {"gateway", gw}} {
		b.Run(side.name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}}
			defer client.CloseIdleConnections()
			get := func() error {
				req, _ := http.NewRequest(http.MethodGet, side.url+"/v1/items", nil)
				req.Header = hdr.Clone()
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("GET %s: status %d", side.url, resp.StatusCode)
				}
				return nil
			}
			if err := get(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetParallelism(16) // 32 connections on 2 cores, as bench/load's workers
			cpu0 := cpuTime()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := get(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// The proxy writes the identity headers into the upstream request's map
// directly, under these keys: they must be what Header.Set would use.
func TestIdentityHeaderKeysAreCanonical(t *testing.T) {
	for _, k := range []string{HeaderSubject, HeaderScopes, HeaderAuthMethod, keyRequestID, "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		if c := http.CanonicalHeaderKey(k); c != k {
			t.Errorf("CanonicalHeaderKey(%q) = %q, want it unchanged", k, c)
		}
	}
	if c := http.CanonicalHeaderKey(HeaderRequestID); c != keyRequestID {
		t.Errorf("CanonicalHeaderKey(%q) = %q, want %q", HeaderRequestID, c, keyRequestID)
	}
}
