package gateway

import (
	"context"
	"maps"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bulwark-go/bulwark/secevent"
)

// metrics are the gateway's Prometheus metrics, on a registry of its own
// (no global state).
//
// The HTTP series follow the OpenTelemetry HTTP semantic conventions as
// Prometheus exposes them (http.server.request.duration is
// http_server_request_duration_seconds, attributes become labels with "_"
// for "."), so that dashboards built for any OTel-instrumented server
// work; bulwark's own series are bulwark_*.
type metrics struct {
	reg            *prometheus.Registry
	serverDuration *prometheus.HistogramVec // http.server.request.duration
	active         *prometheus.GaugeVec     // http.server.active_requests
	clientDuration *prometheus.HistogramVec // http.client.request.duration: calls to upstream targets
	events         *prometheus.CounterVec   // security events by name and reason: denials by package and why
	decisions      *prometheus.CounterVec   // rate-limit decisions by policy and outcome
	store          *prometheus.HistogramVec // rate-limit store latency by outcome
	fallback       prometheus.Gauge         // 1 while the rate limiter runs on its local fallback
	jwks           *prometheus.CounterVec   // JWKS fetches by issuer and result

	targetHealthy *prometheus.GaugeVec   // by service and target: 0 after a failed active health check
	ejections     *prometheus.CounterVec // targets taken out of the rotation after consecutive failures
	retries       *prometheus.CounterVec // requests sent to another target after a connection failure
	reloads       *prometheus.CounterVec // configuration reloads by result
	revocation    *revocationMetrics     // revocation channels, deny-list, back-channel logout

	live liveServices // for the requests in flight per target

	// The series a request lands in, by their label values.
	activeBy   handles[string, prometheus.Gauge]
	durationBy handles[serverSeries, prometheus.Observer]
}

// serverSeries are the labels of one http_server_request_duration_seconds
// series.
type serverSeries struct {
	method  string
	code    int
	route   string
	service string
}

// handles caches the children of a metric vector by their label values,
// so that a request finds its series in one map read, without the
// vector's hashing and comparing of every label value under its lock or
// formatting the status code. The map is replaced, never changed, when a
// series is added: reads take no lock. Nothing is removed, as the vectors
// never remove a child either, so it holds no more series than /metrics
// shows.
type handles[K comparable, M any] struct {
	mu sync.Mutex
	m  atomic.Pointer[map[K]M]
}

// get returns the handle of k, if there is one yet.
func (h *handles[K, M]) get(k K) (M, bool) {
	if m := h.m.Load(); m != nil {
		v, ok := (*m)[k]
		return v, ok
	}
	var zero M
	return zero, false
}

// add keeps v as the handle of k, unless another request added one first:
// then that one is returned.
func (h *handles[K, M]) add(k K, v M) M {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.m.Load()
	next := map[K]M{}
	if old != nil {
		if cur, ok := (*old)[k]; ok {
			return cur
		}
		next = maps.Clone(*old)
	}
	next[k] = v
	h.m.Store(&next)
	return v
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
		serverDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_server_request_duration_seconds", Help: "Duration of HTTP server requests (OTel http.server.request.duration).",
			Buckets: otelBuckets,
		}, []string{"http_request_method", "http_response_status_code", "http_route", "bulwark_service"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "http_server_active_requests", Help: "Active HTTP server requests (OTel http.server.active_requests).",
		}, []string{"http_request_method"}),
		clientDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_client_request_duration_seconds", Help: "Duration of calls to upstream targets, one per attempt (OTel http.client.request.duration).",
			Buckets: otelBuckets,
		}, []string{"http_request_method", "http_response_status_code", "server_address", "bulwark_service", "error_type"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_ratelimit_decisions_total", Help: "Rate-limit decisions by policy and outcome.",
		}, []string{"policy", "outcome"}),
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
			Name: "bulwark_jwks_fetches_total", Help: "Fetches of an issuer's keys (JWKS, discovery) by result.",
		}, []string{"issuer", "result"}),
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
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bulwark_build_info", Help: "1, labelled with the version and VCS revision the binary was built from.",
	}, []string{"version", "revision", "goversion"})
	v, rev := buildVersion()
	build.WithLabelValues(v, rev, runtime.Version()).Set(1)
	m.revocation = newRevocationMetrics(m.reg)
	m.reg.MustRegister(m.serverDuration, m.active, m.clientDuration, m.decisions, m.events, m.store, m.fallback, m.jwks, build,
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
		method := otelMethod(r.Method)
		active, ok := m.activeBy.get(method)
		if !ok {
			active = m.activeBy.add(method, m.active.WithLabelValues(method))
		}
		active.Inc()
		defer active.Dec()
		prev, _ := secevent.FromContext(r.Context())
		r = r.WithContext(secevent.NewContext(r.Context(), teeRecorder{m: m, next: prev}))
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		name, svc := route(r)
		k := serverSeries{method, sw.code, name, svc}
		o, ok := m.durationBy.get(k)
		if !ok {
			o = m.durationBy.add(k, m.serverDuration.WithLabelValues(method, strconv.Itoa(sw.code), name, svc))
		}
		o.Observe(time.Since(start).Seconds())
	})
}

// otelBuckets are OpenTelemetry's default duration buckets, with finer
// ones below 5 ms where a gateway's own time is.
var otelBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// otelMethod is the method as OTel labels it: a known one, or _OTHER (a
// label must not take unbounded values from clients).
func otelMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace, "QUERY":
		return m
	}
	return "_OTHER"
}

// buildVersion is the module version and VCS revision of the binary.
func buildVersion() (version, revision string) {
	version, revision = "(devel)", "unknown"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	if bi.Main.Version != "" {
		version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			revision = s.Value
		}
	}
	return
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
