package main

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// flood sends requests from o.flood distinct client addresses
// (100.64.0.0 + i, X-Forwarded-For from the trusted proxy) and samples the
// heap (after a GC) every o.sample requests.
func flood(o options, gwh http.Handler, gwURL string, hdr http.Header) error {
	h := hdr.Clone()
	want := http.StatusOK
	if !o.floodAuth {
		h.Del("X-Api-Key")
		want = http.StatusUnauthorized
	}
	var i atomic.Uint32
	base := uint32(100)<<24 | uint32(64)<<16
	tr := func(t *vegeta.Target) error {
		n := i.Add(1) - 1
		a := base + n
		th := h.Clone()
		th.Set("X-Forwarded-For", strconv.Itoa(int(a>>24))+"."+strconv.Itoa(int(a>>16&255))+"."+strconv.Itoa(int(a>>8&255))+"."+strconv.Itoa(int(a&255)))
		*t = vegeta.Target{Method: http.MethodGet, URL: gwURL, Header: th}
		return nil
	}
	heap := func() (uint64, uint64) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse, rss()
	}
	fmt.Fprintf(o.out, "\nflood (%s): up to %d distinct client addresses via the trusted proxy, at most %s, %d workers, expecting %d\n", o.floodVia, o.flood, o.floodTime, o.workers, want)
	fmt.Fprintf(o.out, "%10s %12s %12s %10s\n", "requests", "HeapInuse", "RSS", "elapsed")
	start := time.Now()
	h0, r0 := heap()
	fmt.Fprintf(o.out, "%10d %12s %12s %10s\n", 0, mib(h0), mib(r0), "0s")
	var samples []uint64
	each := func(n int) {
		if n%o.sample == 0 {
			hi, ri := heap()
			samples = append(samples, hi)
			fmt.Fprintf(o.out, "%10d %12s %12s %10s\n", n, mib(hi), mib(ri), time.Since(start).Round(time.Second))
		}
	}
	var m *vegeta.Metrics
	var err error
	switch o.floodVia {
	case "http":
		m, err = attackEach(tr, o.workers, o.floodTime, o.flood, want, each)
	case "handler":
		m, err = serveEach(gwh, limitTargets(tr, o.flood), o.workers, o.floodTime, want, each)
	default:
		err = fmt.Errorf("-flood-via %q: want http or handler", o.floodVia)
	}
	if err != nil {
		return fmt.Errorf("flood: %w", err)
	}
	h1, r1 := heap()
	fmt.Fprintf(o.out, "%10d %12s %12s %10s   (end; %.0f req/s, p50 %s, p99 %s)\n", m.Requests, mib(h1), mib(r1),
		time.Since(start).Round(time.Second), m.Rate, m.Latencies.P50.Round(time.Microsecond), m.Latencies.P99.Round(time.Microsecond))
	if len(samples) > 1 {
		lo, hi := slices.Min(samples[1:]), slices.Max(samples[1:])
		fmt.Fprintf(o.out, "  heap from the 2nd sample on: %s – %s (spread %s); before the flood %s, after %s\n",
			mib(lo), mib(hi), mib(hi-lo), mib(h0), mib(h1))
	}
	if m.Requests < uint64(max(o.flood, 0)) {
		fmt.Fprintf(o.out, "  note: the time bound stopped the flood at %d of %d addresses (raise -flood-time)\n", m.Requests, o.flood)
	}
	return nil
}

// serveEach calls h.ServeHTTP from workers goroutines with the requests
// tr describes, as the gateway's server would hand them over (RemoteAddr
// 127.0.0.1, the trusted proxy), until tr runs out or d passes. Only the
// status and the latency are kept; each is called from this goroutine.
func serveEach(h http.Handler, tr vegeta.Targeter, workers int, d time.Duration, want int, each func(n int)) (*vegeta.Metrics, error) {
	results := make(chan *vegeta.Result, 4*workers)
	deadline := time.Now().Add(d)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rw := &discard{h: make(http.Header, 16)}
			for n := 0; ; n++ {
				var t vegeta.Target
				if tr(&t) != nil || time.Now().After(deadline) {
					return
				}
				r, err := t.Request()
				if err != nil {
					results <- &vegeta.Result{Error: err.Error(), Timestamp: time.Now()}
					continue
				}
				r.RemoteAddr = "127.0.0.1:" + strconv.Itoa(40000+w)
				r.RequestURI = r.URL.RequestURI()
				clear(rw.h)
				rw.code = 0
				start := time.Now()
				h.ServeHTTP(rw, r)
				if rw.code == 0 {
					rw.code = http.StatusOK
				}
				results <- &vegeta.Result{Code: uint16(rw.code), Timestamp: start, Latency: time.Since(start)} // #nosec G115 -- an HTTP status fits
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	go func() { <-done; close(results) }()
	var m vegeta.Metrics
	bad, n := 0, 0
	var firstBad int
	for res := range results {
		m.Add(res)
		if int(res.Code) != want {
			if bad == 0 {
				firstBad = int(res.Code)
			}
			bad++
		}
		n++
		each(n)
	}
	m.Close()
	if bad > 0 {
		return &m, fmt.Errorf("%d of %d answers were not %d; first: %d", bad, n, want, firstBad)
	}
	return &m, nil
}

// discard is a ResponseWriter that keeps the status and drops the body.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header { return d.h }
func (d *discard) WriteHeader(c int) {
	if d.code == 0 {
		d.code = c
	}
}
func (d *discard) Write(p []byte) (int, error) {
	if d.code == 0 {
		d.code = http.StatusOK
	}
	return len(p), nil
}

// rss is the resident set size from /proc/self/status (0 elsewhere).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
