package bench

import (
	"context"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/httprate"
	"github.com/sethvargo/go-limiter/memorystore"
	"github.com/throttled/throttled/v2"
	"github.com/throttled/throttled/v2/store/memstore"
	"golang.org/x/time/rate"

	"github.com/bulwark-go/bulwark/ratelimit"
)

// All limiters are configured alike: a GCRA or token bucket of 1e9 per
// second with a burst of 1e9, so every decision is an allowed one (the
// path that writes state), and bounded to 1 << 20 keys where the library
// can be bounded (bulwark, throttled; x/time/rate+map, go-limiter and
// httprate cannot).
const (
	rlRate    = 1_000_000_000
	rlMaxKeys = 1 << 20
	rlLive    = 1_000_000
)

// rlDecider is one limiter's bare decision for a string key.
type rlDecider struct {
	name  string
	new   func(b *testing.B) (decide func(key string) bool, closeFn func())
	bytes bool // report B/key at 1M live keys
}

// rlMap is the x/time/rate idiom most services hand-roll: a map of
// limiters behind a mutex.
type rlMap struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func (m *rlMap) allow(key string) bool {
	m.mu.Lock()
	l, ok := m.m[key]
	if !ok {
		l = rate.NewLimiter(rlRate, rlRate)
		m.m[key] = l
	}
	m.mu.Unlock()
	return l.Allow()
}

func rlDeciders() []rlDecider {
	return []rlDecider{
		{name: "bulwark", bytes: true, new: func(b *testing.B) (func(string) bool, func()) {
			l, err := ratelimit.New(ratelimit.Config{
				Policies: []ratelimit.Policy{{Name: "p", Quota: rlRate, Period: time.Second, Key: []ratelimit.KeyPart{ratelimit.ClientIP()}}},
				Memory:   ratelimit.MemoryConfig{MaxKeys: rlMaxKeys},
			})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			return func(k string) bool { _, err := l.TakeKey(ctx, k, 1); return err == nil }, func() {}
		}},
		{name: "xtimerate-map", bytes: true, new: func(b *testing.B) (func(string) bool, func()) {
			m := &rlMap{m: make(map[string]*rate.Limiter)}
			return m.allow, func() {}
		}},
		{name: "throttled", bytes: true, new: func(b *testing.B) (func(string) bool, func()) {
			st, err := memstore.NewCtx(rlMaxKeys)
			if err != nil {
				b.Fatal(err)
			}
			l, err := throttled.NewGCRARateLimiterCtx(st, throttled.RateQuota{MaxRate: throttled.PerSec(rlRate), MaxBurst: rlRate})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			return func(k string) bool { limited, _, err := l.RateLimitCtx(ctx, k, 1); return err == nil && !limited }, func() {}
		}},
		{name: "go-limiter", bytes: true, new: func(b *testing.B) (func(string) bool, func()) {
			st, err := memorystore.New(&memorystore.Config{Tokens: rlRate, Interval: time.Second})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			return func(k string) bool { _, _, _, ok, err := st.Take(ctx, k); return err == nil && ok },
				func() { _ = st.Close(ctx) }
		}},
		{name: "httprate", bytes: true, new: func(b *testing.B) (func(string) bool, func()) {
			l := httprate.NewRateLimiter(rlRate, time.Second)
			r := newRequest()
			// OnLimit is httprate's decision; it also writes its headers,
			// into a writer per goroutine.
			writers := sync.Pool{New: func() any { return newDiscardWriter() }}
			return func(k string) bool {
				w := writers.Get().(*discardWriter)
				w.reset()
				ok := !l.OnLimit(w, r, k)
				writers.Put(w)
				return ok
			}, func() {}
		}},
	}
}

func rlKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "198.51." + strconv.Itoa(i>>8) + "." + strconv.Itoa(i&0xff)
	}
	return keys
}

// BenchmarkRateLimitHotKey is one decision on one key. "clock" is one
// time.Now call, which every limiter makes per decision (slow on loaded
// VMs); "bulwark-store-noclock" is bulwark's decision proper, the store's
// Take with a precomputed key and a counter for the clock.
func BenchmarkRateLimitHotKey(b *testing.B) {
	b.Run("clock", func(b *testing.B) {
		var t time.Time
		b.ReportAllocs()
		for b.Loop() {
			t = time.Now()
		}
		runtime.KeepAlive(t)
	})
	s, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{MaxKeys: rlMaxKeys})
	if err != nil {
		b.Fatal(err)
	}
	ls := []ratelimit.Limit{{Key: 12345, Policy: 1, Interval: 1, Burst: rlRate}}
	out := make([]ratelimit.Result, 1)
	ctx := context.Background()
	b.Run("bulwark-store-noclock", func(b *testing.B) {
		t0 := time.Now()
		i := time.Duration(0)
		b.ReportAllocs()
		for b.Loop() {
			i++
			if ok, _ := s.Take(ctx, t0.Add(i), 1, ls, out); !ok {
				b.Fatal("refused")
			}
		}
	})
	b.Run("bulwark-store", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if ok, _ := s.Take(ctx, time.Now(), 1, ls, out); !ok {
				b.Fatal("refused")
			}
		}
	})
	for _, d := range rlDeciders() {
		b.Run(d.name, func(b *testing.B) {
			decide, closeFn := d.new(b)
			defer closeFn()
			b.ReportAllocs()
			for b.Loop() {
				decide("203.0.113.7") // go-limiter refuses most: its refill is 1 token per tick
			}
		})
	}
}

// BenchmarkRateLimit1MKeys spreads decisions over 1 million live keys and
// reports the heap each limiter holds per key (B/key).
// "bulwark-store-noclock" is the store's decision proper over 1M
// precomputed hashed keys, without the clock read.
func BenchmarkRateLimit1MKeys(b *testing.B) {
	keys := rlKeys(rlLive)
	b.Run("bulwark-store-noclock", func(b *testing.B) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{MaxKeys: rlMaxKeys})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		ls := []ratelimit.Limit{{Policy: 1, Interval: 1, Burst: rlRate}}
		out := make([]ratelimit.Result, 1)
		t0 := time.Now()
		for i := range uint64(rlLive) {
			ls[0].Key = i * 0x9e3779b97f4a7c15
			_, _ = s.Take(ctx, t0, 1, ls, out)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if n := s.Len(); n < rlLive*999/1000 {
			b.Fatalf("%d live keys, want about %d", n, rlLive)
		}
		b.ReportAllocs()
		b.ResetTimer()
		i := uint64(0)
		for b.Loop() {
			i = i*6364136223846793005 + 1442695040888963407
			ls[0].Key = ((i >> 32) % rlLive) * 0x9e3779b97f4a7c15
			t0 = t0.Add(1)
			_, _ = s.Take(ctx, t0, 1, ls, out)
		}
		b.StopTimer()
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/rlLive, "B/key")
	})
	for _, d := range rlDeciders() {
		b.Run(d.name, func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			decide, closeFn := d.new(b)
			defer closeFn()
			for _, k := range keys {
				decide(k)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			perKey := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / rlLive
			b.ReportAllocs()
			b.ResetTimer()
			i := uint64(0)
			for b.Loop() {
				i = i*6364136223846793005 + 1442695040888963407
				decide(keys[(i>>32)%rlLive])
			}
			b.StopTimer()
			b.ReportMetric(perKey, "B/key")
			runtime.KeepAlive(decide)
		})
	}
}

// BenchmarkRateLimitParallel spreads decisions over 65 536 keys from all
// cores; run with -cpu 1,2 to compare parallel throughput with one core.
func BenchmarkRateLimitParallel(b *testing.B) {
	keys := rlKeys(1 << 16)
	for _, d := range rlDeciders() {
		b.Run(d.name, func(b *testing.B) {
			decide, closeFn := d.new(b)
			defer closeFn()
			var seed atomic.Uint64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := seed.Add(0x9e3779b97f4a7c15)
				for pb.Next() {
					i = i*6364136223846793005 + 1442695040888963407
					decide(keys[(i>>32)&(1<<16-1)])
				}
			})
		})
	}
}

// BenchmarkRateLimitMiddleware is the full middleware per IP over the bare
// JSON handler: bulwark (decision, RateLimit-Policy and RateLimit headers)
// beside httprate's LimitBy keyed on RemoteAddr the way its docs show
// (X-RateLimit-* headers).
func BenchmarkRateLimitMiddleware(b *testing.B) {
	b.Run("baseline", func(b *testing.B) { serve(b, jsonHandler, newRequest()) })
	b.Run("bulwark", func(b *testing.B) {
		l, err := ratelimit.New(ratelimit.Config{
			Policies: []ratelimit.Policy{{Name: "ip", Quota: rlRate, Period: time.Second, Key: []ratelimit.KeyPart{ratelimit.ClientIP()}}},
		})
		if err != nil {
			b.Fatal(err)
		}
		serve(b, l.Handler(jsonHandler), newRequest())
	})
	b.Run("httprate", func(b *testing.B) {
		mw := httprate.LimitBy(rlRate, time.Second, func(r *http.Request) (string, error) {
			ip, _, err := net.SplitHostPort(r.RemoteAddr)
			if err != nil {
				ip = r.RemoteAddr
			}
			return httprate.CanonicalizeIP(ip), nil
		})
		serve(b, mw(jsonHandler), newRequest())
	})
}

// BenchmarkRateLimitPaired runs, in alternating batches of 500 so that load
// from other processes hits all alike, the bare JSON handler, bulwark's
// middleware, httprate's middleware, bulwark's bare decision through the
// Limiter (TakeKey: clock, key hash, store) and the store's decision alone
// (precomputed key, clock read included), then time.Now alone and the
// store's decision without the clock read. It reports lower-quartile batch
// times per request and the ratios the targets are stated in. B/op and
// allocs/op are per round of 3 500 operations.
func BenchmarkRateLimitPaired(b *testing.B) {
	bl, err := ratelimit.New(ratelimit.Config{
		Policies: []ratelimit.Policy{{Name: "ip", Quota: rlRate, Period: time.Second, Key: []ratelimit.KeyPart{ratelimit.ClientIP()}}},
	})
	if err != nil {
		b.Fatal(err)
	}
	hr := httprate.LimitBy(rlRate, time.Second, func(r *http.Request) (string, error) {
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		return httprate.CanonicalizeIP(ip), nil
	})
	st, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	if err != nil {
		b.Fatal(err)
	}
	ls := []ratelimit.Limit{{Key: 12345, Policy: 1, Interval: 1, Burst: rlRate}}
	out := make([]ratelimit.Result, 1)
	ctx := context.Background()
	r := newRequest()
	w := newDiscardWriter()
	serveOne := func(h http.Handler) func() { return func() { w.reset(); h.ServeHTTP(w, r) } }
	t0 := time.Now()
	var tick time.Duration
	var clock time.Time
	ops := []func(){
		serveOne(jsonHandler),
		serveOne(bl.Handler(jsonHandler)),
		serveOne(hr(jsonHandler)),
		func() { _, _ = bl.TakeKey(ctx, "203.0.113.7", 1) },
		func() { _, _ = st.Take(ctx, time.Now(), 1, ls, out) },
		func() { clock = time.Now() },
		func() { tick++; _, _ = st.Take(ctx, t0.Add(tick), 1, ls, out) },
	}
	const batch = 500
	samples := make([][]float64, len(ops))
	b.ReportAllocs()
	for b.Loop() {
		for i, op := range ops {
			start := time.Now()
			for range batch {
				op()
			}
			samples[i] = append(samples[i], float64(time.Since(start).Nanoseconds())/batch)
		}
	}
	q := func(s []float64) float64 {
		slices.Sort(s)
		return s[len(s)/4]
	}
	base, ours, theirs, decision, store := q(samples[0]), q(samples[1]), q(samples[2]), q(samples[3]), q(samples[4])
	runtime.KeepAlive(clock)
	b.ReportMetric(q(samples[5]), "clock-ns")
	b.ReportMetric(q(samples[6]), "store-noclock-ns")
	b.ReportMetric(store, "store-ns")
	b.ReportMetric(decision, "decision-ns")
	b.ReportMetric(ours-base, "bulwark-added-ns")
	b.ReportMetric(theirs-base, "httprate-added-ns")
	b.ReportMetric((ours-base)/(theirs-base), "added-ratio")
	b.ReportMetric((ours-base)/decision, "mw-over-decision")
}

// rlPaired runs ops in alternating batches of 500, so that load from
// other processes hits all alike, and reports each op's lower-quartile
// batch time per operation under its name.
func rlPaired(b *testing.B, names []string, ops []func()) { rlPairedQuartiles(b, names, ops) }

// rlPairedQuartiles is rlPaired that also returns the lower quartiles.
func rlPairedQuartiles(b *testing.B, names []string, ops []func()) []float64 {
	const batch = 500
	samples := make([][]float64, len(ops))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for j, op := range ops {
			start := time.Now()
			for range batch {
				op()
			}
			samples[j] = append(samples[j], float64(time.Since(start).Nanoseconds())/batch)
		}
	}
	q := make([]float64, len(samples))
	for j, s := range samples {
		slices.Sort(s)
		q[j] = s[len(s)/4]
		b.ReportMetric(q[j], names[j]+"-ns")
	}
	return q
}

// BenchmarkRateLimitHotKeyPaired: one decision on one hot key, every
// limiter in alternating batches.
func BenchmarkRateLimitHotKeyPaired(b *testing.B) {
	var names []string
	var ops []func()
	for _, d := range rlDeciders() {
		decide, closeFn := d.new(b)
		defer closeFn()
		names = append(names, d.name)
		ops = append(ops, func() { decide("203.0.113.7") })
	}
	rlPaired(b, names, ops)
}

// BenchmarkRateLimit1MKeysPaired: decisions spread over 1 million live
// keys, every limiter in alternating batches, plus bulwark's store alone
// (precomputed hashed keys, no clock read).
func BenchmarkRateLimit1MKeysPaired(b *testing.B) {
	keys := rlKeys(rlLive)
	st, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{MaxKeys: rlMaxKeys})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	ls := []ratelimit.Limit{{Policy: 1, Interval: 1, Burst: rlRate}}
	out := make([]ratelimit.Result, 1)
	t0 := time.Now()
	for i := range uint64(rlLive) {
		ls[0].Key = i * 0x9e3779b97f4a7c15
		_, _ = st.Take(ctx, t0, 1, ls, out)
	}
	var i uint64
	next := func() uint64 {
		i = i*6364136223846793005 + 1442695040888963407
		return (i >> 32) % rlLive
	}
	var tick time.Duration
	names := []string{"bulwark-store-noclock"}
	ops := []func(){func() {
		tick++
		ls[0].Key = next() * 0x9e3779b97f4a7c15
		_, _ = st.Take(ctx, t0.Add(tick), 1, ls, out)
	}}
	for _, d := range rlDeciders() {
		decide, closeFn := d.new(b)
		defer closeFn()
		for _, k := range keys {
			decide(k)
		}
		names = append(names, d.name)
		ops = append(ops, func() { decide(keys[next()]) })
	}
	rlPaired(b, names, ops)
}
