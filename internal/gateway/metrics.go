package gateway

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bulwark-go/bulwark/secevent"
)

// metrics are the gateway's Prometheus metrics, on a registry of its own
// (no global state).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec   // by route and status code
	latency  *prometheus.HistogramVec // by route
	events   *prometheus.CounterVec   // security events by name and reason: denials by package and why
	store    *prometheus.HistogramVec // rate-limit store latency by outcome
	fallback prometheus.Gauge         // 1 while the rate limiter runs on its local fallback
	jwks     *prometheus.CounterVec   // JWKS refreshes by result

	targetHealthy *prometheus.GaugeVec   // by service and target: 0 after a failed active health check
	ejections     *prometheus.CounterVec // targets taken out of the rotation after consecutive failures
	retries       *prometheus.CounterVec // requests sent to another target after a connection failure
	reloads       *prometheus.CounterVec // configuration reloads by result

	live liveServices // for the requests in flight per target
}

// liveServices are the services of every gateway not yet closed (during
// a reload, the old and the new one).
type liveServices struct {
	mu  sync.Mutex
	set map[*service]bool
}

func (l *liveServices) add(s *service) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.set == nil {
		l.set = map[*service]bool{}
	}
	l.set[s] = true
}

func (l *liveServices) remove(s *service) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.set, s)
}

var activeDesc = prometheus.NewDesc("bulwark_upstream_active_requests",
	"Requests sent to a target and not yet answered in full.", []string{"service", "target"}, nil)

// activeCollector reports the requests in flight per target, summed over
// the live services.
type activeCollector struct{ l *liveServices }

func (c activeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- activeDesc }

func (c activeCollector) Collect(ch chan<- prometheus.Metric) {
	type key struct{ service, target string }
	sums := map[key]int64{}
	c.l.mu.Lock()
	for s := range c.l.set {
		for _, t := range s.targets {
			sums[key{s.name, t.name}] += t.inflight.Load()
		}
	}
	c.l.mu.Unlock()
	for k, v := range sums {
		ch <- prometheus.MustNewConstMetric(activeDesc, prometheus.GaugeValue, float64(v), k.service, k.target)
	}
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_requests_total", Help: "Requests answered, by route, service and status code.",
		}, []string{"route", "service", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bulwark_request_duration_seconds", Help: "Time to answer, by route and service.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"route", "service"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_security_events_total", Help: "Security events (refusals and notices) by OWASP name and reason.",
		}, []string{"event", "reason"}),
		store: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bulwark_ratelimit_store_seconds", Help: "Rate-limit store decision latency.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16),
		}, []string{"result"}),
		fallback: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bulwark_ratelimit_fallback", Help: "1 while the rate limiter decides locally because its store failed.",
		}),
		jwks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_jwks_refresh_total", Help: "JWKS refreshes by result.",
		}, []string{"result"}),
		targetHealthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bulwark_upstream_target_healthy", Help: "1 while a target passes its active health check (or has none), 0 after it failed one.",
		}, []string{"service", "target"}),
		ejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_upstream_ejections_total", Help: "Targets taken out of the rotation after consecutive failures.",
		}, []string{"service", "target"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_upstream_retries_total", Help: "Requests sent to another target after a connection failure.",
		}, []string{"service"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_config_reloads_total", Help: "Configuration reloads by result (ok, error).",
		}, []string{"result"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.events, m.store, m.fallback, m.jwks,
		m.targetHealthy, m.ejections, m.retries, m.reloads, activeCollector{&m.live},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// teeRecorder counts every security event, then hands it to the recorder
// that was in the context before (audit's), identities included.
type teeRecorder struct {
	m    *metrics
	next secevent.Recorder
}

func (t teeRecorder) Record(ctx context.Context, e secevent.Event) {
	reason := e.Reason
	if len(reason) > 64 {
		reason = reason[:64] // reasons are fixed phrases; cap the label anyway
	}
	t.m.events.WithLabelValues(e.Name, reason).Inc()
	if t.next != nil {
		t.next.Record(ctx, e)
	}
}

func (t teeRecorder) Identify(ctx context.Context, id secevent.Identity) {
	if i, ok := t.next.(secevent.Identifier); ok {
		i.Identify(ctx, id)
	}
}

// instrument counts requests and events. It sits inside audit, so that the
// events reach both.
func (m *metrics) instrument(route func(*http.Request) (name, service string), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		prev, _ := secevent.FromContext(r.Context())
		r = r.WithContext(secevent.NewContext(r.Context(), teeRecorder{m: m, next: prev}))
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		name, svc := route(r)
		m.requests.WithLabelValues(name, svc, strconv.Itoa(sw.code)).Inc()
		m.latency.WithLabelValues(name, svc).Observe(time.Since(start).Seconds())
	})
}

// statusWriter remembers the status code.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote && code >= 200 {
		s.code, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(p)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
