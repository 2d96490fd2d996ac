package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/go-chi/httprate"
	rscors "github.com/rs/cors"
	"github.com/unrolled/secure"

	"github.com/bulwark-go/bulwark/audit"
	"github.com/bulwark-go/bulwark/clientip"
	"github.com/bulwark-go/bulwark/cors"
	"github.com/bulwark-go/bulwark/headers"
	"github.com/bulwark-go/bulwark/ratelimit"
)

// The end-to-end middleware phase: three loopback servers answering the
// bench's bare JSON body, one bare, one behind bulwark's stack without JWT
// (clientip → audit → headers → cors → ratelimit, as in stack_test.go) and
// one behind the peer stack without JWT (slog access log → unrolled/secure
// → rs/cors → httprate), configured alike. DESIGN.md: bulwark's keeps ≥ 0.8×
// the bare server's requests per second (the peer stack was measured at
// 0.59×).

var (
	stackOrigins = []string{"https://app.example.com", "https://*.example.net"}
	stackMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut}
	stackHeaders = []string{"Authorization", "Content-Type", "X-Token"}
)

const stackRate = 1_000_000_000 // per second: every decision allowed

var bareJSON = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, upstreamBody)
})

// bulwarkStack is clientip → audit → headers → cors → ratelimit around h.
func bulwarkStack(h http.Handler) (http.Handler, func(), error) {
	ips, err1 := clientip.New(clientip.Config{})
	aud, err2 := audit.New(audit.Config{Handler: slog.NewJSONHandler(io.Discard, nil)})
	hdr, err3 := headers.New(headers.Config{})
	c, err4 := cors.New(cors.Config{Origins: stackOrigins, AllowCredentials: true, Methods: stackMethods, Headers: stackHeaders, MaxAge: 10 * time.Minute})
	rl, err5 := ratelimit.New(ratelimit.Config{
		Policies: []ratelimit.Policy{{Name: "per-ip", Quota: stackRate, Period: time.Second, Key: []ratelimit.KeyPart{ratelimit.ClientIP()}}},
	})
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return nil, nil, err
	}
	return ips.Handler(aud.Handler(hdr.Handler(c.Handler(rl.Handler(h))))), func() { _ = aud.Close() }, nil
}

// peerStack is a slog access log → unrolled/secure → rs/cors → httprate
// around h.
func peerStack(h http.Handler) http.Handler {
	sec := secure.New(secure.Options{
		STSSeconds: 63072000, STSIncludeSubdomains: true,
		ContentSecurityPolicy: "default-src 'none'; frame-ancestors 'none'",
		ContentTypeNosniff:    true, FrameDeny: true, ReferrerPolicy: "no-referrer",
		CrossOriginOpenerPolicy: "same-origin", CrossOriginResourcePolicy: "same-origin",
		XPermittedCrossDomainPolicies: "none",
	})
	rs := rscors.New(rscors.Options{AllowedOrigins: stackOrigins, AllowCredentials: true, AllowedMethods: stackMethods, AllowedHeaders: stackHeaders, MaxAge: 600})
	hr := httprate.LimitBy(stackRate, time.Second, func(r *http.Request) (string, error) {
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		return httprate.CanonicalizeIP(ip), nil
	})
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	inner := sec.Handler(rs.Handler(hr(h)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		inner.ServeHTTP(sw, r)
		log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", sw.status), slog.Int("bytes", sw.bytes),
			slog.Duration("duration", time.Since(start)),
			slog.String("remote_addr", r.RemoteAddr), slog.String("user_agent", r.UserAgent()))
	})
}

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

// stackPhase serves the three handlers on loopback and compares them.
func stackPhase(ctx context.Context, o options) error {
	bw, closeFn, err := bulwarkStack(bareJSON)
	if err != nil {
		return err
	}
	defer closeFn()
	var targets []target
	for _, s := range []struct {
		name string
		h    http.Handler
	}{{"server", bareJSON}, {"bulwark", bw}, {"peer", peerStack(bareJSON)}} {
		addr, err := listen(ctx, s.h)
		if err != nil {
			return err
		}
		targets = append(targets, target{s.name, "http://" + addr + "/v1/items"})
	}
	hdr := http.Header{"Accept": {"application/json"}, "Origin": {"https://app.example.com"}}
	for _, t := range targets {
		if _, err := attack(staticTargets(t.url, hdr), o.workers, min(time.Second, o.duration+time.Millisecond), 2000, http.StatusOK); err != nil {
			return err
		}
	}
	so := o
	so.rounds = o.stackRnds
	return throughput(so, "end to end, middleware without JWT around the bare handler", targets, hdr,
		"DESIGN target for bulwark ≥ 0.8 (peer measured at 0.59)")
}
