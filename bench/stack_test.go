package bench

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"testing"
	"time"

	jwtmw "github.com/auth0/go-jwt-middleware/v2"
	"github.com/go-chi/httprate"
	rscors "github.com/rs/cors"
	"github.com/unrolled/secure"

	"github.com/bulwark-go/bulwark/audit"
	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/clientip"
	"github.com/bulwark-go/bulwark/cors"
	"github.com/bulwark-go/bulwark/headers"
	"github.com/bulwark-go/bulwark/ratelimit"
)

// The whole stack, both ways, configured alike:
//
//   - bulwark, in the documented order: clientip (no trusted proxies: the
//     peer address) → audit (slog JSON to io.Discard) → headers (zero
//     Config: the JSON API profile) → cors → ratelimit (per client IP,
//     1e9/s, memory store) → auth (JWT RS256 with a static key, cold or
//     cached; or an API key from the memory store) → the bare JSON handler;
//   - the peer stack users assemble today: a slog JSON access log →
//     unrolled/secure (the same headers as bulwark's profile) → rs/cors
//     (the same policy) → go-chi/httprate (per RemoteAddr IP, 1e9/s) →
//     auth0/go-jwt-middleware v2 (RS256, same issuer/audience checks) →
//     the same handler.
//
// The "nojwt" variants leave out the authentication layer on both sides
// (the DESIGN.md target: bulwark adds at most half of the peer stack's
// time, with fewer allocations).

// stackVariant is one handler of the comparison.
type stackVariant struct {
	name  string
	h     http.Handler
	r     *http.Request
	batch int // requests per timed batch in the paired benchmark
}

// stackRequest is a cross-origin GET from the allowed origin that arrived
// over TLS (so both header layers send HSTS), with a User-Agent to log.
func stackRequest(authz string) *http.Request {
	r := newRequest()
	r.TLS = &tls.ConnectionState{HandshakeComplete: true}
	r.Header.Set("Origin", "https://app.example.com")
	r.Header.Set("User-Agent", "bench/1.0")
	if authz != "" {
		r.Header.Set("Authorization", authz)
	}
	return r
}

// must turns a constructor's (value, error) into a function that fails
// the benchmark on the error: must(x.New(cfg))(b).
func must[T any](v T, err error) func(*testing.B) T {
	return func(b *testing.B) T {
		b.Helper()
		if err != nil {
			b.Fatal(err)
		}
		return v
	}
}

// bulwarkStack wraps app (already authenticated or not) in clientip →
// audit → headers → cors → ratelimit.
func bulwarkStack(b *testing.B, app http.Handler) http.Handler {
	b.Helper()
	ips := must(clientip.New(clientip.Config{}))(b)
	aud := must(audit.New(audit.Config{Handler: audit.NewJSONHandler(io.Discard, nil)}))(b)
	b.Cleanup(func() { _ = aud.Close() })
	hdr := must(headers.New(headers.Config{}))(b)
	c := must(cors.New(cors.Config{
		Origins: corsOrigins, AllowCredentials: true,
		Methods: corsMethods, Headers: append([]string{"Authorization"}, corsHeaders...), MaxAge: 600e9,
	}))(b)
	rl := must(ratelimit.New(ratelimit.Config{
		Policies: []ratelimit.Policy{{Name: "per-ip", Quota: rlRate, Period: time.Second, Key: []ratelimit.KeyPart{ratelimit.ClientIP()}}},
	}))(b)
	return ips.Handler(aud.Handler(hdr.Handler(c.Handler(rl.Handler(app)))))
}

// peerStack wraps app in a slog access log → unrolled/secure → rs/cors →
// httprate.
func peerStack(app http.Handler) http.Handler {
	sec := secure.New(secure.Options{
		STSSeconds: 63072000, STSIncludeSubdomains: true,
		ContentSecurityPolicy: "default-src 'none'; frame-ancestors 'none'",
		ContentTypeNosniff:    true, FrameDeny: true, ReferrerPolicy: "no-referrer",
		CrossOriginOpenerPolicy: "same-origin", CrossOriginResourcePolicy: "same-origin",
		XPermittedCrossDomainPolicies: "none",
	})
	rs := rscors.New(rscors.Options{
		AllowedOrigins: corsOrigins, AllowCredentials: true,
		AllowedMethods: corsMethods, AllowedHeaders: append([]string{"Authorization"}, corsHeaders...), MaxAge: 600,
	})
	hr := httprate.LimitBy(rlRate, time.Second, func(r *http.Request) (string, error) {
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		return httprate.CanonicalizeIP(ip), nil
	})
	access := slogAccessLog(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	return access(sec.Handler(rs.Handler(hr(app))))
}

// stackVariants builds every handler of the comparison and checks, once,
// that each answers 200 with every layer's mark on the response, and that
// the authenticating ones refuse a request without credentials.
func stackVariants(b *testing.B) []stackVariant {
	b.Helper()
	var rs256 *jwtFixture
	for _, f := range jwtSetup(b) {
		if f.alg == "RS256" {
			rs256 = f
		}
	}
	bearer := "Bearer " + rs256.tok
	authWith := func(a auth.Authenticator) http.Handler {
		return must(auth.New(auth.Config{Authenticators: []auth.Authenticator{a}}))(b).Handler(jsonHandler)
	}
	keys, key := apiKeys(b, apikey.NewMemoryStore(), 0)
	vs := []stackVariant{
		{name: "baseline", h: jsonHandler, r: stackRequest(""), batch: 256},
		{name: "bulwark-nojwt", h: bulwarkStack(b, jsonHandler), r: stackRequest(""), batch: 256},
		{name: "peer-nojwt", h: peerStack(jsonHandler), r: stackRequest(""), batch: 256},
		{name: "bulwark-apikey", h: bulwarkStack(b, authWith(keys)), r: stackRequest("Bearer " + key), batch: 256},
		{name: "bulwark-jwt-cached", h: bulwarkStack(b, authWith(bulwarkVerifier(b, rs256, 0))), r: stackRequest(bearer), batch: 256},
		{name: "bulwark-jwt", h: bulwarkStack(b, authWith(bulwarkVerifier(b, rs256, -1))), r: stackRequest(bearer), batch: 8},
		{name: "peer-jwt", h: peerStack(jwtmw.New(auth0Validator(b, rs256).ValidateToken).CheckJWT(jsonHandler)), r: stackRequest(bearer), batch: 8},
	}
	for _, v := range vs {
		w := httptest.NewRecorder()
		v.h.ServeHTTP(w, v.r)
		if w.Code != http.StatusOK {
			b.Fatalf("%s: status %d, want 200", v.name, w.Code)
		}
		if v.name == "baseline" {
			continue
		}
		for _, h := range []string{"Strict-Transport-Security", "Content-Security-Policy", "Access-Control-Allow-Origin"} {
			if w.Header().Get(h) == "" {
				b.Fatalf("%s: no %s in the response: a layer is missing", v.name, h)
			}
		}
		if w.Header().Get("RateLimit") == "" && w.Header().Get("X-RateLimit-Limit") == "" {
			b.Fatalf("%s: no rate-limit header in the response", v.name)
		}
		if v.r.Header.Get("Authorization") != "" {
			w := httptest.NewRecorder()
			v.h.ServeHTTP(w, stackRequest(""))
			// bulwark answers 401; auth0's middleware 400 for a missing token.
			if w.Code != http.StatusUnauthorized && w.Code != http.StatusBadRequest {
				b.Fatalf("%s without credentials: status %d, want 401 or 400", v.name, w.Code)
			}
		}
	}
	return vs
}

// BenchmarkStack is each whole stack alone over the bare JSON handler, for
// ns/op, B/op and allocs/op per request.
func BenchmarkStack(b *testing.B) {
	for _, v := range stackVariants(b) {
		b.Run(v.name, func(b *testing.B) { serve(b, v.h, v.r) })
	}
}

// allocsPerRequest returns the heap allocations and bytes per request of
// op, averaged over n calls (one warm-up call first).
func allocsPerRequest(op func(), n int) (allocs, bytes float64) {
	op()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		op()
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(n), float64(after.TotalAlloc-before.TotalAlloc) / float64(n)
}

// BenchmarkStackPaired runs every variant in alternating batches (256
// requests each; 8 for uncached JWT verification) and compares
// lower-quartile batch times, so that load from other processes on a
// shared machine hits all variants alike. Metrics, per request: the time
// each stack adds over the bare handler (…-added-ns), its allocations
// (…-allocs, measured apart from the timing), and the ratios the targets
// are stated in: nojwt-added-ratio = bulwark's added time / the peer
// stack's, without JWT (target ≤ 0.5); jwt-added-ratio the same with
// uncached RS256 on both sides. B/op and allocs/op of the benchmark line
// itself are per round of all batches.
func BenchmarkStackPaired(b *testing.B) {
	vs := stackVariants(b)
	w := newDiscardWriter()
	ops := make([]func(), len(vs))
	allocs, bytes := make([]float64, len(vs)), make([]float64, len(vs))
	for i, v := range vs {
		ops[i] = func() { w.reset(); v.h.ServeHTTP(w, v.r) }
		n := 200
		if v.batch < 64 {
			n = 20
		}
		allocs[i], bytes[i] = allocsPerRequest(ops[i], n)
	}
	samples := make([][]float64, len(vs))
	b.ReportAllocs()
	for b.Loop() {
		for i, v := range vs {
			op := ops[i]
			start := time.Now()
			for range v.batch {
				op()
			}
			samples[i] = append(samples[i], float64(time.Since(start).Nanoseconds())/float64(v.batch))
		}
	}
	q := make(map[string]float64, len(vs))
	for i, v := range vs {
		slices.Sort(samples[i])
		q[v.name] = samples[i][len(samples[i])/4]
	}
	base := q["baseline"]
	b.ReportMetric(base, "baseline-ns")
	b.ReportMetric(allocs[0], "baseline-allocs")
	for i, v := range vs[1:] {
		b.ReportMetric(q[v.name]-base, v.name+"-added-ns")
		b.ReportMetric(allocs[i+1], v.name+"-allocs")
		b.ReportMetric(bytes[i+1], v.name+"-B")
	}
	b.ReportMetric((q["bulwark-nojwt"]-base)/(q["peer-nojwt"]-base), "nojwt-added-ratio")
	b.ReportMetric((q["bulwark-jwt"]-base)/(q["peer-jwt"]-base), "jwt-added-ratio")
	b.ReportMetric((q["bulwark-jwt-cached"]-base)/(q["peer-jwt"]-base), "jwt-cached-added-ratio")
}
