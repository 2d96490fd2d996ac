package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of a service's settings.
const (
	defaultConnectTimeout  = 5 * time.Second
	defaultResponseTimeout = 30 * time.Second
	defaultIdleTimeout     = 90 * time.Second
	defaultRetries         = 1
	defaultEjectAfter      = 5
	defaultEjectFor        = 30 * time.Second
	defaultHealthInterval  = 10 * time.Second
	defaultHealthTimeout   = 2 * time.Second
	retryBudgetCap         = 100
)

// errNoTarget is the answer when every target of a service is out of the
// rotation: a 503, without trying any.
var errNoTarget = errors.New("no healthy target")

// service is one upstream service: an http.RoundTripper that picks a
// target per request (the balancing policy, among the targets that are
// in the rotation), retries a connection failure on another target when
// that cannot repeat work, and judges each target's health passively
// (consecutive failures eject it for a while) and, optionally, actively.
// It is shared by the gateways of successive reloads while its
// configuration stays the same, so that health state survives.
type service struct {
	name       string
	targets    []*target
	pick       balancer
	retries    int
	budget     retryBudget
	ejectAfter int32
	ejectFor   time.Duration
	transport  http.RoundTripper
	now        func() time.Time
	log        logger
	m          *metrics

	health *HealthCheck
	stop   context.CancelFunc
	done   chan struct{}
}

// target is one address of a service and its health.
type target struct {
	url          *url.URL
	name         string       // scheme://host:port, for logs and metrics
	inflight     atomic.Int64 // requests sent and not yet answered in full
	fails        atomic.Int32 // consecutive failures
	ejectedUntil atomic.Int64 // unix nanoseconds; 0: in the rotation
	down         atomic.Bool  // the last active health check failed

	durationBy handles[clientSeries, prometheus.Observer] // its http_client_request_duration_seconds
}

// clientSeries are the labels of one target's
// http_client_request_duration_seconds series besides its own.
type clientSeries struct {
	method  string
	code    int // 0: no response
	errType string
}

// available reports whether t may be given requests now.
func (t *target) available(now int64) bool {
	return !t.down.Load() && now >= t.ejectedUntil.Load()
}

// newService builds a service from its configuration. base, when set,
// carries every request instead of the service's own transport (tests).
func newService(name string, sc Service, cfg *Config, base http.RoundTripper, m *metrics, now func() time.Time, log logger) (*service, error) {
	s := &service{
		name: name, now: now, log: log, m: m,
		retries:    defaultRetries,
		ejectAfter: defaultEjectAfter,
		ejectFor:   sc.EjectFor.or(defaultEjectFor),
		health:     sc.Health,
	}
	if sc.Retries != nil {
		s.retries = *sc.Retries
	}
	if sc.EjectAfter != nil {
		s.ejectAfter = int32(min(*sc.EjectAfter, 1<<20)) // #nosec G115 -- bounded
	}
	for _, t := range sc.Targets {
		u, err := url.Parse(t)
		if err != nil {
			return nil, fmt.Errorf("target %q: %w", t, err)
		}
		s.targets = append(s.targets, &target{url: &url.URL{Scheme: u.Scheme, Host: u.Host}, name: u.Scheme + "://" + u.Host})
	}
	var err error
	if s.pick, err = newBalancer(sc.LB); err != nil {
		return nil, err
	}
	s.transport = base
	if base == nil {
		tc, err := serviceTLS(sc, cfg)
		if err != nil {
			return nil, err
		}
		connect := sc.Timeouts.Connect.or(defaultConnectTimeout)
		s.transport = &http.Transport{
			Proxy:                 nil, // never route upstream traffic through an environment proxy
			DialContext:           (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:       tc,
			TLSHandshakeTimeout:   connect,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       sc.Timeouts.Idle.or(defaultIdleTimeout),
			ResponseHeaderTimeout: sc.Timeouts.ResponseHeader.or(defaultResponseTimeout),
			ForceAttemptHTTP2:     true,
		}
	}
	for _, t := range s.targets {
		m.targetHealthy.WithLabelValues(name, t.name).Set(1)
	}
	m.live.add(s)
	return s, nil
}

// serviceTLS is the TLS configuration for https targets: TLS 1.2 or
// later, the service's CA bundle (default the system's), its client
// certificate, its server name.
func serviceTLS(sc Service, cfg *Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: sc.ServerName}
	if sc.CAFile != "" {
		pem, err := os.ReadFile(cfg.Path(sc.CAFile)) // #nosec G304 -- the operator names the CA file
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate", sc.CAFile)
		}
		tc.RootCAs = pool
	}
	if sc.ClientCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Path(sc.ClientCertFile), cfg.Path(sc.ClientKeyFile))
		if err != nil {
			return nil, fmt.Errorf("client_cert_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// start begins the active health checks, if any.
func (s *service) start() {
	if s.health == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop, s.done = cancel, make(chan struct{})
	go s.checkHealth(ctx)
}

// Close stops the health checks and closes idle connections.
func (s *service) Close() error {
	s.m.live.remove(s)
	if s.stop != nil {
		s.stop()
		<-s.done
	}
	if t, ok := s.transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
	return nil
}

// healthy reports how many targets are in the rotation.
func (s *service) healthy() int {
	now := s.now().UnixNano()
	n := 0
	for _, t := range s.targets {
		if t.available(now) {
			n++
		}
	}
	return n
}

// RoundTrip sends req to a target. A connection that could not be made is
// retried on another target when the request is idempotent, has no body
// and the retry budget allows: retries never more than double the load.
func (s *service) RoundTrip(req *http.Request) (*http.Response, error) {
	s.budget.deposit()
	var (
		tried   []*target
		lastErr error
	)
	for attempt := 0; ; attempt++ {
		t := s.pick(req, s.targets, tried, s.now().UnixNano())
		if t == nil {
			if lastErr != nil {
				return nil, lastErr // every target in the rotation was tried
			}
			return nil, errNoTarget
		}
		out := req.WithContext(req.Context()) // a shallow copy: RoundTrip must not change req
		u := *req.URL
		u.Scheme, u.Host = t.url.Scheme, t.url.Host
		out.URL = &u
		t.inflight.Add(1)
		start := time.Now()
		resp, err := s.transport.RoundTrip(out)
		s.observe(req.Method, t, resp, err, time.Since(start))
		if err != nil {
			t.inflight.Add(-1)
			s.failed(t)
			if attempt < s.retries && retriable(req, err) && s.budget.withdraw() {
				s.m.retries.WithLabelValues(s.name).Inc()
				tried, lastErr = append(tried, t), err
				continue
			}
			return nil, err
		}
		switch resp.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			s.failed(t)
		default:
			t.fails.Store(0)
		}
		resp.Body = &doneBody{ReadCloser: resp.Body, t: t}
		return resp, nil
	}
}

// doneBody counts a request as in flight until its answer is read or
// closed, for least_requests.
type doneBody struct {
	io.ReadCloser
	t    *target
	once sync.Once
}

func (b *doneBody) Close() error {
	b.once.Do(func() { b.t.inflight.Add(-1) })
	return b.ReadCloser.Close()
}

// failed counts a failure of t, and ejects it after ejectAfter in a row.
func (s *service) failed(t *target) {
	if s.ejectAfter == 0 {
		return
	}
	if t.fails.Add(1) < s.ejectAfter {
		return
	}
	t.fails.Store(0)
	t.ejectedUntil.Store(s.now().Add(s.ejectFor).UnixNano())
	s.m.ejections.WithLabelValues(s.name, t.name).Inc()
	s.log.Warn("target ejected: out of the rotation", "service", s.name, "target", t.name, "for", s.ejectFor.String(), "failures", s.ejectAfter)
}

// retriable reports whether a failed attempt may go to another target: the
// connection could not be made (so the target did nothing), the method is
// idempotent and there is no body that the attempt may have consumed.
func retriable(req *http.Request, err error) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
	default:
		return false
	}
	if req.Body != nil && req.Body != http.NoBody {
		return false
	}
	return isDialError(err) && req.Context().Err() == nil
}

// retryBudget holds one token per request (up to a cap); a retry spends
// one. Over any stretch of time there are at most as many retries as
// requests.
type retryBudget struct{ tokens atomic.Int64 }

func (b *retryBudget) deposit() {
	if b.tokens.Add(1) > retryBudgetCap {
		b.tokens.Add(-1)
	}
}

func (b *retryBudget) withdraw() bool {
	if b.tokens.Add(-1) < 0 {
		b.tokens.Add(1)
		return false
	}
	return true
}

// checkHealth runs the active health checks until ctx is done: each
// target is asked for the health path every interval; a failed check
// takes it out of the rotation, a passing one puts it back (also ending a
// passive ejection).
func (s *service) checkHealth(ctx context.Context) {
	defer close(s.done)
	tick := time.NewTicker(s.health.Interval.or(defaultHealthInterval))
	defer tick.Stop()
	for {
		s.checkRound(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// checkRound asks every target once, in parallel, and waits for the
// verdicts.
func (s *service) checkRound(ctx context.Context) {
	h := s.health
	statuses := h.HealthyStatus
	if len(statuses) == 0 {
		statuses = []int{http.StatusOK}
	}
	client := &http.Client{
		Transport:     s.transport,
		Timeout:       h.Timeout.or(defaultHealthTimeout),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	var wg sync.WaitGroup
	for _, t := range s.targets {
		wg.Go(func() { s.probe(ctx, client, t, statuses) })
	}
	wg.Wait()
}

func (s *service) probe(ctx context.Context, client *http.Client, t *target, statuses []int) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.name+s.health.Path, nil)
	if err != nil {
		return
	}
	req.Header.Set("User-Agent", "bulwark-health-check")
	ok := false
	if resp, err := client.Do(req); err == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		for _, st := range statuses {
			ok = ok || resp.StatusCode == st
		}
	}
	if ctx.Err() != nil {
		return // shutting down: no verdict
	}
	was := !t.down.Load()
	t.down.Store(!ok)
	if ok {
		t.ejectedUntil.Store(0)
		t.fails.Store(0)
	}
	if was != ok {
		if ok {
			s.log.Info("target passed its health check: back in the rotation", "service", s.name, "target", t.name)
		} else {
			s.log.Warn("target failed its health check: out of the rotation", "service", s.name, "target", t.name)
		}
	}
	v := 0.0
	if ok {
		v = 1
	}
	s.m.targetHealthy.WithLabelValues(s.name, t.name).Set(v)
}

// observe records one attempt in http_client_request_duration_seconds
// (until the response headers: the body streams to the client).
func (s *service) observe(method string, t *target, resp *http.Response, err error, d time.Duration) {
	k := clientSeries{method: otelMethod(method)}
	if resp != nil {
		k.code = resp.StatusCode
	}
	if err != nil {
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			k.errType = "timeout"
		case isDialError(err):
			k.errType = "connection"
		default:
			k.errType = "other"
		}
	}
	o, ok := t.durationBy.get(k)
	if !ok {
		code := ""
		if k.code != 0 {
			code = strconv.Itoa(k.code)
		}
		o = t.durationBy.add(k, s.m.clientDuration.WithLabelValues(k.method, code, t.url.Host, s.name, k.errType))
	}
	o.Observe(d.Seconds())
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
