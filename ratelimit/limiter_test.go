package ratelimit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/clientip"
	"github.com/bulwark-go/bulwark/ratelimit"
	"github.com/bulwark-go/bulwark/secevent"
)

// clock is a fake clock for Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, "ok")
})

func mustNew(t testing.TB, cfg ratelimit.Config) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return l
}

func get(h http.Handler, remote string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/v1/items", nil)
	r.RemoteAddr = remote
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func perIP(name string, quota int64, period time.Duration, burst int64) ratelimit.Policy {
	return ratelimit.Policy{Name: name, Quota: quota, Period: period, Burst: burst, Key: []ratelimit.KeyPart{ratelimit.ClientIP()}}
}

func TestNewRejectsBadConfig(t *testing.T) {
	ok := perIP("ok", 10, time.Second, 0)
	tests := []struct {
		name   string
		cfg    ratelimit.Config
		fields []string
	}{
		{"no limits at all", ratelimit.Config{}, []string{"Policies"}},
		{"unnamed", ratelimit.Config{Policies: []ratelimit.Policy{perIP("", 1, time.Second, 0)}}, []string{"Policies[0].Name"}},
		{"name needing escapes", ratelimit.Config{Policies: []ratelimit.Policy{perIP(`a"b`, 1, time.Second, 0)}}, []string{"Policies[0].Name"}},
		{"duplicate names", ratelimit.Config{Policies: []ratelimit.Policy{ok, ok}}, []string{"Policies[1].Name"}},
		{"zero quota", ratelimit.Config{Policies: []ratelimit.Policy{perIP("a", 0, time.Second, 0)}}, []string{"Policies[0].Quota"}},
		{"sub-second period", ratelimit.Config{Policies: []ratelimit.Policy{perIP("a", 1, 1500*time.Millisecond, 0)}}, []string{"Policies[0].Period"}},
		{"negative burst", ratelimit.Config{Policies: []ratelimit.Policy{perIP("a", 1, time.Second, -1)}}, []string{"Policies[0].Burst"}},
		{"huge burst", ratelimit.Config{Policies: []ratelimit.Policy{perIP("a", 1, 24*time.Hour, 1<<40)}}, []string{"Policies[0].Burst"}},
		{"no key: no silent shared bucket", ratelimit.Config{Policies: []ratelimit.Policy{{Name: "a", Quota: 1, Period: time.Second}}}, []string{"Policies[0].Key"}},
		{"zero key part", ratelimit.Config{Policies: []ratelimit.Policy{{Name: "a", Quota: 1, Period: time.Second, Key: []ratelimit.KeyPart{{}}}}}, []string{"Policies[0].Key[0]"}},
		{"principal without source", ratelimit.Config{Policies: []ratelimit.Policy{{Name: "a", Quota: 1, Period: time.Second, Key: []ratelimit.KeyPart{ratelimit.Principal(nil)}}}}, []string{"Policies[0].Key[0]"}},
		{"bad IPv6 prefix", ratelimit.Config{Policies: []ratelimit.Policy{{Name: "a", Quota: 1, Period: time.Second, Key: []ratelimit.KeyPart{ratelimit.ClientIPPrefix(0)}}}}, []string{"Policies[0].Key[0]"}},
		{"exempt everyone", ratelimit.Config{Policies: []ratelimit.Policy{ok}, ExemptPrefixes: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}, []string{"ExemptPrefixes"}},
		{"short hash key", ratelimit.Config{Policies: []ratelimit.Policy{ok}, HashKey: []byte("short")}, []string{"HashKey"}},
		{"per-key in-flight without key", ratelimit.Config{MaxInFlightPerKey: 2}, []string{"InFlightKey"}},
		{"several problems at once", ratelimit.Config{Policies: []ratelimit.Policy{perIP("", 0, 0, 0)}, HashKey: []byte("x")},
			[]string{"HashKey", "Policies[0].Name", "Policies[0].Quota"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := ratelimit.New(tc.cfg)
			if err == nil || l != nil {
				t.Fatalf("New = %v, %v; want an error", l, err)
			}
			for _, f := range tc.fields {
				found := false
				for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
					var ce *ratelimit.ConfigError
					if errors.As(e, &ce) && ce.Field == f {
						found = true
					}
				}
				if !found {
					t.Errorf("New error %q lacks a ConfigError for %s", err, f)
				}
			}
		})
	}
}

func TestNewCopiesConfig(t *testing.T) {
	ps := []ratelimit.Policy{perIP("ip", 1, time.Hour, 0)}
	l := mustNew(t, ratelimit.Config{Policies: ps})
	ps[0].Quota, ps[0].Name = 1000, "changed"
	h := l.Handler(okHandler)
	get(h, "192.0.2.1:1")
	if w := get(h, "192.0.2.1:1"); w.Code != http.StatusTooManyRequests {
		t.Errorf("after changing the caller's Config: status %d, want 429", w.Code)
	}
}

func TestHandlerHeadersAndRefusal(t *testing.T) {
	c := newClock()
	var events []secevent.Event
	rec := secevent.RecorderFunc(func(_ context.Context, e secevent.Event) { events = append(events, e) })
	l := mustNew(t, ratelimit.Config{
		Policies: []ratelimit.Policy{
			perIP("burst", 100, time.Minute, 2),
			perIP("daily", 1000, 24*time.Hour, 0),
		},
		Now: c.Now,
	})
	h := l.Handler(okHandler)
	do := func() *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "198.51.100.9:4000"
		r = r.WithContext(secevent.NewContext(r.Context(), rec))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	wantPolicy := `"burst";q=100;w=60, "daily";q=1000;w=86400`
	tests := []struct {
		advance   time.Duration
		status    int
		rateLimit string
		retry     string
	}{
		{0, 200, `"burst";r=1;t=1, "daily";r=999;t=87`, ""},
		{0, 200, `"burst";r=0;t=2, "daily";r=998;t=173`, ""},
		// Refused: 0.6 s to wait, sent as 1 (rounded up, never early).
		{0, 429, `"burst";r=0;t=2, "daily";r=998;t=173`, "1"},
		{599 * time.Millisecond, 429, `"burst";r=0;t=1, "daily";r=998;t=173`, "1"},
		{time.Millisecond, 200, `"burst";r=0;t=2, "daily";r=997;t=259`, ""},
	}
	for i, tc := range tests {
		c.Advance(tc.advance)
		w := do()
		if w.Code != tc.status || w.Header().Get("RateLimit-Policy") != wantPolicy || w.Header().Get("RateLimit") != tc.rateLimit || w.Header().Get("Retry-After") != tc.retry {
			t.Errorf("request %d: %d RateLimit-Policy=%q RateLimit=%q Retry-After=%q; want %d %q %q %q", i, w.Code,
				w.Header().Get("RateLimit-Policy"), w.Header().Get("RateLimit"), w.Header().Get("Retry-After"),
				tc.status, wantPolicy, tc.rateLimit, tc.retry)
		}
		if w.Code == 429 {
			var body map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if body["policy"] != "burst" || body["status"] != float64(429) || w.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("request %d: body %s, want a 429 problem naming policy burst", i, w.Body)
			}
			if strings.Contains(w.Body.String(), "198.51.100") {
				t.Errorf("request %d: body echoes the client address: %s", i, w.Body)
			}
		}
	}
	if len(events) != 2 || events[0].Name != secevent.ExcessRateLimitExceeded {
		t.Errorf("events = %+v, want 2 excess_rate_limit_exceeded", events)
	}
}

func TestLegacyHeaders(t *testing.T) {
	l := mustNew(t, ratelimit.Config{Policies: []ratelimit.Policy{perIP("a", 10, time.Second, 0), perIP("b", 3, time.Second, 0)}, LegacyHeaders: true, Now: newClock().Now})
	w := get(l.Handler(okHandler), "192.0.2.1:1")
	if got := [3]string{w.Header().Get("X-RateLimit-Limit"), w.Header().Get("X-RateLimit-Remaining"), w.Header().Get("X-RateLimit-Reset")}; got != [3]string{"3", "2", "1"} {
		t.Errorf("X-RateLimit-* = %q, want the tightest policy [3 2 1]", got)
	}
}

// TestXForwardedForRotationFromUntrustedPeer: a client writing a new
// X-Forwarded-For per request must not get a new bucket; the limiter keys
// on clientip.FromRequest, which believes the header only from trusted
// proxies.
func TestXForwardedForRotationFromUntrustedPeer(t *testing.T) {
	l := mustNew(t, ratelimit.Config{Policies: []ratelimit.Policy{perIP("ip", 3, time.Hour, 0)}, Now: newClock().Now})
	res, err := clientip.New(clientip.Config{Header: clientip.XForwardedFor, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	h := res.Handler(l.Handler(okHandler))
	allowed := 0
	for i := range 20 {
		xff := netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}).String()
		if get(h, "192.0.2.77:5555", "X-Forwarded-For", xff).Code == 200 {
			allowed++
		}
	}
	if allowed != 3 {
		t.Errorf("rotating X-Forwarded-For from an untrusted peer: %d allowed, want 3", allowed)
	}
	// Through the trusted proxy, the header does identify clients.
	for i := range 3 {
		xff := netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}).String()
		if w := get(h, "10.1.1.1:443", "X-Forwarded-For", xff); w.Code != 200 {
			t.Errorf("distinct client %s behind the trusted proxy: %d, want 200", xff, w.Code)
		}
	}
}

// TestIPv6RotationWithinSlash64: addresses of one /64 share a bucket.
func TestIPv6RotationWithinSlash64(t *testing.T) {
	l := mustNew(t, ratelimit.Config{Policies: []ratelimit.Policy{perIP("ip", 2, time.Hour, 0)}, Now: newClock().Now})
	h := l.Handler(okHandler)
	allowed := 0
	for i := range 50 {
		a := netip.MustParseAddr("2001:db8:1:2::").As16()
		a[15], a[10] = byte(i), byte(i*7)
		if get(h, netip.AddrPortFrom(netip.AddrFrom16(a), 443).String()).Code == 200 {
			allowed++
		}
	}
	if allowed != 2 {
		t.Errorf("rotating within one /64: %d allowed, want 2", allowed)
	}
	if w := get(h, "[2001:db8:1:3::1]:443"); w.Code != 200 {
		t.Errorf("another /64: %d, want 200", w.Code)
	}
}

func TestCostLargerThanBurstRefusedOutright(t *testing.T) {
	l := mustNew(t, ratelimit.Config{
		Policies: []ratelimit.Policy{perIP("ip", 10, time.Second, 5)},
		Cost:     func(*http.Request) int64 { return 6 },
		Now:      newClock().Now,
	})
	w := get(l.Handler(okHandler), "192.0.2.1:1")
	if w.Code != 429 || w.Header().Get("Retry-After") != "" {
		t.Errorf("cost 6 > burst 5: %d Retry-After=%q; want 429 without Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	_, err := l.Check(httptest.NewRequest("GET", "/", nil))
	if !errors.Is(err, ratelimit.ErrCostTooHigh) || !errors.Is(err, ratelimit.ErrLimited) {
		t.Errorf("Check = %v, want ErrCostTooHigh and ErrLimited", err)
	}
}

// failingStore fails every call.
type failingStore struct{}

var errDown = errors.New("store down")

func (failingStore) Take(context.Context, time.Time, int64, []ratelimit.Limit, []ratelimit.Result) (bool, error) {
	return false, errDown
}

func TestStoreFailureModes(t *testing.T) {
	pol := func(m ratelimit.FailMode) ratelimit.Policy {
		p := perIP("p", 2, time.Hour, 0)
		p.OnStoreError = m
		return p
	}
	tests := []struct {
		name  string
		mode  ratelimit.FailMode
		codes []int
	}{
		{"FailClosed answers 503", ratelimit.FailClosed, []int{503, 503, 503}},
		{"FailOpen lets everything through", ratelimit.FailOpen, []int{200, 200, 200}},
		{"FailLocal limits in process", ratelimit.FailLocal, []int{200, 200, 429}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var outcomes []ratelimit.Outcome
			var latencies int
			l := mustNew(t, ratelimit.Config{Policies: []ratelimit.Policy{pol(tc.mode)}, Store: failingStore{}, Now: newClock().Now,
				Hooks: ratelimit.Hooks{
					OnDecision:     func(_ string, o ratelimit.Outcome) { outcomes = append(outcomes, o) },
					OnStoreLatency: func(_ time.Duration, err error) { latencies++ },
				}})
			h := l.Handler(okHandler)
			for i, want := range tc.codes {
				w := get(h, "192.0.2.1:1")
				if w.Code != want {
					t.Errorf("request %d: %d, want %d", i, w.Code, want)
				}
				if w.Code == 503 && (w.Header().Get("Retry-After") != "1" || strings.Contains(w.Body.String(), "store down")) {
					t.Errorf("503 without Retry-After or leaking the store error: %q %s", w.Header().Get("Retry-After"), w.Body)
				}
			}
			if latencies == 0 || len(outcomes) < len(tc.codes) {
				t.Errorf("hooks: %d latencies, outcomes %v", latencies, outcomes)
			}
			_, err := l.Check(httptest.NewRequest("GET", "/", nil))
			if tc.mode == ratelimit.FailClosed && (!errors.Is(err, ratelimit.ErrUnavailable) || !errors.Is(err, errDown)) {
				t.Errorf("Check = %v, want ErrUnavailable wrapping the store error", err)
			}
		})
	}
}

func TestShadowPolicyOnlyCounts(t *testing.T) {
	var shadowDenied int
	var events []secevent.Event
	shadow := perIP("new-tier", 1, time.Hour, 0)
	shadow.Shadow = true
	l := mustNew(t, ratelimit.Config{
		Policies: []ratelimit.Policy{perIP("ip", 100, time.Hour, 0), shadow},
		Now:      newClock().Now,
		Hooks: ratelimit.Hooks{OnDecision: func(p string, o ratelimit.Outcome) {
			if p == "new-tier" && o == ratelimit.ShadowDenied {
				shadowDenied++
			}
		}},
	})
	h := l.Handler(okHandler)
	for i := range 5 {
		r := httptest.NewRequest("GET", "/", nil)
		r = r.WithContext(secevent.NewContext(r.Context(), secevent.RecorderFunc(func(_ context.Context, e secevent.Event) { events = append(events, e) })))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 || strings.Contains(w.Header().Get("RateLimit-Policy"), "new-tier") {
			t.Errorf("request %d: %d, RateLimit-Policy %q; shadow policies never refuse nor show", i, w.Code, w.Header().Get("RateLimit-Policy"))
		}
	}
	if shadowDenied != 4 || len(events) != 4 {
		t.Errorf("shadow denials %d, events %d; want 4 and 4", shadowDenied, len(events))
	}
}

func TestExemptions(t *testing.T) {
	l := mustNew(t, ratelimit.Config{
		Policies:       []ratelimit.Policy{perIP("ip", 1, time.Hour, 0)},
		ExemptPrefixes: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")},
		Exempt:         func(r *http.Request) bool { return r.Header.Get("X-Test-Exempt") == "yes" },
		Now:            newClock().Now,
	})
	h := l.Handler(okHandler)
	for i := range 3 {
		if w := get(h, "10.9.1.1:1"); w.Code != 200 || w.Header().Get("RateLimit") != "" {
			t.Errorf("exempt prefix, request %d: %d %q", i, w.Code, w.Header().Get("RateLimit"))
		}
		if w := get(h, "192.0.2.1:1", "X-Test-Exempt", "yes"); w.Code != 200 {
			t.Errorf("exempt func, request %d: %d", i, w.Code)
		}
	}
	get(h, "192.0.2.1:1")
	if w := get(h, "192.0.2.1:1"); w.Code != 429 {
		t.Errorf("non-exempt: %d, want 429", w.Code)
	}
}

// TestConcurrentRequestsRacingOnOneKey: through the middleware, with two
// policies, racing requests of one client let exactly the smaller burst
// through.
func TestConcurrentRequestsRacingOnOneKey(t *testing.T) {
	l := mustNew(t, ratelimit.Config{
		Policies: []ratelimit.Policy{perIP("burst", 10, time.Second, 40), perIP("hourly", 100, time.Hour, 0)},
		Now:      newClock().Now,
	})
	h := l.Handler(okHandler)
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 10 {
				c := get(h, "192.0.2.50:1").Code
				mu.Lock()
				codes[c]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if codes[200] != 40 || codes[429] != 120 {
		t.Errorf("160 racing requests: %v, want exactly 40 allowed", codes)
	}
}

func TestSipHashVector(t *testing.T) {
	// The reference vector of the SipHash paper (Aumasson, Bernstein):
	// key 00 01 … 0f, message 00 01 … 0e.
	msg := make([]byte, 15)
	for i := range msg {
		msg[i] = byte(i)
	}
	const k0, k1 = 0x0706050403020100, 0x0f0e0d0c0b0a0908
	if got := ratelimit.SipSum64(k0, k1, msg); got != 0xa129ca6149be45e5 {
		t.Errorf("SipHash-2-4 = %#x, want 0xa129ca6149be45e5", got)
	}
	if got := ratelimit.SipSumString(k0, k1, string(msg)); got != 0xa129ca6149be45e5 {
		t.Errorf("sumString = %#x, want 0xa129ca6149be45e5", got)
	}
	// Streamed in pieces, at every alignment, the hash is the same.
	long := strings.Repeat("0123456789abcdef", 5)
	want := ratelimit.SipSum64(k0, k1, []byte(long))
	for i := range len(long) {
		for j := i; j < len(long); j += 7 {
			if got := ratelimit.SipSumPieces(k0, k1, long[:i], long[i:j], long[j:]); got != want {
				t.Fatalf("pieces split at %d,%d: %#x, want %#x", i, j, got, want)
			}
		}
	}
}

// A limiter before authentication (per IP) and one after it (per
// principal) both report their policies on the same response.
func TestStackedLimitersBothReport(t *testing.T) {
	ipLim, err := ratelimit.New(ratelimit.Config{Policies: []ratelimit.Policy{
		{Name: "per-ip", Quota: 100, Period: time.Minute, Key: []ratelimit.KeyPart{ratelimit.ClientIP()}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	userLim, err := ratelimit.New(ratelimit.Config{Policies: []ratelimit.Policy{
		{Name: "per-user", Quota: 10, Period: time.Hour, Key: []ratelimit.KeyPart{ratelimit.Header("X-User")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	h := ipLim.Handler(userLim.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-User", "u1")
	for range 2 { // the second response reuses nothing from the first
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		pol := strings.Join(rec.Header().Values(ratelimit.HeaderPolicy), ", ")
		lim := strings.Join(rec.Header().Values(ratelimit.HeaderRateLimit), ", ")
		if !strings.Contains(pol, `"per-ip";q=100;w=60`) || !strings.Contains(pol, `"per-user";q=10;w=3600`) {
			t.Errorf("RateLimit-Policy = %q, want both policies", pol)
		}
		if !strings.Contains(lim, `"per-ip";r=`) || !strings.Contains(lim, `"per-user";r=`) {
			t.Errorf("RateLimit = %q, want both policies", lim)
		}
	}
}

// headerWriter keeps headers and drops the body.
type headerWriter struct{ h http.Header }

func (w *headerWriter) Header() http.Header         { return w.h }
func (w *headerWriter) WriteHeader(int)             {}
func (w *headerWriter) Write(p []byte) (int, error) { return len(p), nil }

// TestMiddlewareAllocatesNothing: an allowed request through the
// middleware costs no allocation once its RateLimit value has been built:
// the value is shared from the limiter's cache, not formatted per request.
func TestMiddlewareAllocatesNothing(t *testing.T) {
	l, err := ratelimit.New(ratelimit.Config{Policies: []ratelimit.Policy{
		{Name: "ip", Quota: 1_000_000_000, Period: time.Second, Key: []ratelimit.KeyPart{ratelimit.ClientIP()}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	h := l.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "203.0.113.7:1234"
	w := &headerWriter{h: make(http.Header, 4)}
	if n := testing.AllocsPerRun(1000, func() { clear(w.h); h.ServeHTTP(w, r) }); n != 0 {
		t.Errorf("%v allocations per request", n)
	}
}

// TestRateLimitValuesFromTheCache: values built for one decision are
// never served for another, however the cache's slots are shared.
func TestRateLimitValuesFromTheCache(t *testing.T) {
	clock := time.Unix(1_700_000_000, 0)
	l, err := ratelimit.New(ratelimit.Config{Now: func() time.Time { return clock }, Policies: []ratelimit.Policy{
		{Name: "ip", Quota: 5000, Period: time.Hour, Burst: 5000, Key: []ratelimit.KeyPart{ratelimit.ClientIP()}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	h := l.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for i := range 4999 {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = fmt.Sprintf("203.0.113.%d:1234", i%3)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		want := fmt.Sprintf(`"ip";r=%d;t=`, 4999-i/3)
		if got := w.Header().Get("RateLimit"); !strings.HasPrefix(got, want) {
			t.Fatalf("request %d: RateLimit %q, want %s…", i, got, want)
		}
	}
}
