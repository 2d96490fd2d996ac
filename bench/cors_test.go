package bench

import (
	"net/http"
	"testing"

	"github.com/bulwark-go/bulwark/cors"
	jub0bs "github.com/jub0bs/cors"
	rscors "github.com/rs/cors"
)

// The same policy for every CORS middleware: one exact origin and one
// subdomain wildcard, credentials, three methods, two request headers, a
// 600 s preflight cache.
var (
	corsOrigins = []string{"https://app.example.com", "https://*.example.net"}
	corsMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut}
	corsHeaders = []string{"Content-Type", "X-Token"}
)

func corsMiddlewares(b *testing.B) []struct {
	name string
	wrap func(http.Handler) http.Handler
} {
	bw, err := cors.New(cors.Config{
		Origins: corsOrigins, AllowCredentials: true,
		Methods: corsMethods, Headers: corsHeaders, MaxAge: 600e9,
	})
	if err != nil {
		b.Fatal(err)
	}
	bwCSRF, err := cors.New(cors.Config{
		Origins: corsOrigins, AllowCredentials: true,
		Methods: corsMethods, Headers: corsHeaders, MaxAge: 600e9,
		CrossOriginProtection: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	rs := rscors.New(rscors.Options{
		AllowedOrigins: corsOrigins, AllowCredentials: true,
		AllowedMethods: corsMethods, AllowedHeaders: corsHeaders, MaxAge: 600,
	})
	jb, err := jub0bs.NewMiddleware(jub0bs.Config{
		Origins: corsOrigins, Credentialed: true,
		Methods: corsMethods, RequestHeaders: corsHeaders, MaxAgeInSeconds: 600,
	})
	if err != nil {
		b.Fatal(err)
	}
	return []struct {
		name string
		wrap func(http.Handler) http.Handler
	}{
		{"bulwark", bw.Handler},
		{"bulwark+csrf", bwCSRF.Handler},
		{"rs-cors", rs.Handler},
		{"jub0bs-cors", jb.Wrap},
	}
}

// serveStatus is serve for handlers that answer with another status than
// 200 (preflights).
func serveStatus(b *testing.B, h http.Handler, r *http.Request, want int) {
	b.Helper()
	w := newDiscardWriter()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, r)
	}
	b.StopTimer()
	if w.status != want {
		b.Fatalf("status %d, want %d", w.status, want)
	}
}

// BenchmarkCORS measures each middleware over the bare JSON handler:
// a cross-origin GET from a listed origin, from a wildcard-matched origin,
// from a refused origin, a same-origin request without Origin, and a
// preflight for PUT with two request headers.
func BenchmarkCORS(b *testing.B) {
	simple := func(origin string) *http.Request {
		r := newRequest()
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		return r
	}
	preflight := newRequest()
	preflight.Method = http.MethodOptions
	preflight.Header.Set("Origin", "https://app.example.com")
	preflight.Header.Set("Access-Control-Request-Method", http.MethodPut)
	preflight.Header.Set("Access-Control-Request-Headers", "content-type,x-token")

	for _, m := range corsMiddlewares(b) {
		h := m.wrap(jsonHandler)
		b.Run("case=simple/impl="+m.name, func(b *testing.B) { serve(b, h, simple("https://app.example.com")) })
		b.Run("case=wildcard/impl="+m.name, func(b *testing.B) { serve(b, h, simple("https://a.b.example.net")) })
		b.Run("case=refused/impl="+m.name, func(b *testing.B) { serve(b, h, simple("https://evil.example")) })
		b.Run("case=no-origin/impl="+m.name, func(b *testing.B) { serve(b, h, simple("")) })
		b.Run("case=preflight/impl="+m.name, func(b *testing.B) { serveStatus(b, h, preflight, http.StatusNoContent) })
	}
}

// BenchmarkCORSPaired runs the bare handler, bulwark's CORS and raw
// rs/cors with the same allow-list, on an allowed simple request and an
// allowed preflight, in alternating batches of 500 (rlPaired), and
// reports each one's lower-quartile time and the ratios of total and added
// time (the target: bulwark ≤ 1.0× rs/cors).
func BenchmarkCORSPaired(b *testing.B) {
	ms := corsMiddlewares(b)
	bw, rs := ms[0].wrap(jsonHandler), ms[2].wrap(jsonHandler)
	simple := newRequest()
	simple.Header.Set("Origin", "https://app.example.com")
	preflight := newRequest()
	preflight.Method = http.MethodOptions
	preflight.Header.Set("Origin", "https://app.example.com")
	preflight.Header.Set("Access-Control-Request-Method", http.MethodPut)
	preflight.Header.Set("Access-Control-Request-Headers", "content-type,x-token")
	w := newDiscardWriter()
	one := func(h http.Handler, r *http.Request) func() { return func() { w.reset(); h.ServeHTTP(w, r) } }
	names := []string{"baseline", "bulwark-simple", "rscors-simple", "bulwark-preflight", "rscors-preflight"}
	ops := []func(){one(jsonHandler, simple), one(bw, simple), one(rs, simple), one(bw, preflight), one(rs, preflight)}
	q := rlPairedQuartiles(b, names, ops)
	b.ReportMetric(q[1]/q[2], "simple-ratio")
	b.ReportMetric((q[1]-q[0])/(q[2]-q[0]), "simple-added-ratio")
	b.ReportMetric(q[3]/q[4], "preflight-ratio")
}
