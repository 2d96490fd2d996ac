package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"time"

	"github.com/bulwark-go/bulwark/audit"
	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/auth/denylist"
	"github.com/bulwark-go/bulwark/auth/jwt"
	"github.com/bulwark-go/bulwark/clientip"
	"github.com/bulwark-go/bulwark/cors"
	"github.com/bulwark-go/bulwark/headers"
	"github.com/bulwark-go/bulwark/internal/tlsconf"
)

// Options are the parts of the gateway that do not come from the YAML.
type Options struct {
	// Logger is the operational log. Default: Logf's, or text on
	// standard error.
	Logger *slog.Logger
	// Logf, when Logger is nil, receives the operational log in plain
	// words (tests).
	Logf func(format string, args ...any)
	// LogLevel, when set, is set to the configuration's log.level by every
	// build, so that a reload changes the level of the Logger over it.
	LogLevel *slog.LevelVar
	// AuditWriter, when set, receives the audit log instead of
	// audit.output (tests).
	AuditWriter io.Writer
	// Stdout is where audit.output: stdout goes. Default os.Stdout.
	Stdout io.Writer
	// Transport, when set, carries requests to every service's targets
	// (tests).
	Transport http.RoundTripper
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// CheckOnly builds everything but opens nothing that would write: the
	// audit output is not opened (its folder must exist) and an SQL key
	// store is not opened (its settings are checked against an in-memory
	// store); no health checks start. For `serve -check`, which must leave
	// every file as it was.
	CheckOnly bool
	// Previous is the gateway serving now, when this build is a reload:
	// the parts whose configuration did not change are taken from it (see
	// parts.go) instead of being built anew.
	Previous *Gateway
}

// Gateway is a built, runnable gateway: one configuration's handler and
// everything it owns. A reload builds a new one beside it.
type Gateway struct {
	cfg      *Config
	handler  http.Handler
	metrics  *metrics
	tls      *tlsconf.Config
	log      logger
	parts    parts
	deps     []dependency // what /readyz checks (ready.go)
	needs    []routeNeeds // what each route needs of them
	authDeps []string     // the authenticators, as dependencies: a route that authenticates needs one
	services map[string]*service
	keys     *apikey.Keys               // the API keys, when configured
	jwt      *jwt.Verifier              // the JWT verifier, when configured
	deny     *denylist.List             // the JWT deny-list, when configured (binding.go)
	secure   func(r *http.Request) bool // whether r came over HTTPS (TLS, or a trusted proxy's word)

	reopenAudit func() error // the audit file's Reopen, when it is a file
}

// ReopenAudit reopens the audit file at its path (SIGUSR1, after
// logrotate renamed it): a chained file ends its chain in the old file and
// starts a linked one in the new. Nothing happens when the audit log is
// not a file.
func (g *Gateway) ReopenAudit() error {
	if g.reopenAudit == nil {
		return nil
	}
	return g.reopenAudit()
}

// Handler returns the public handler (every protection stacked).
func (g *Gateway) Handler() http.Handler { return g.handler }

// AdminHandler returns the operations handler of this gateway alone:
// /healthz, /readyz, /metrics. A [Server] serves its own, which also
// reloads.
func (g *Gateway) AdminHandler() http.Handler {
	return adminMux(func() *Gateway { return g }, nil, nil)
}

// Config returns the configuration the gateway was built from.
func (g *Gateway) Config() *Config { return g.cfg }

// Close releases what the gateway still owns (JWKS refresh, stores, health
// checks, the audit log): everything a later gateway did not take over.
func (g *Gateway) Close() error { return g.parts.closeAll() }

// Build assembles the gateway from a checked configuration. The request
// path, outermost first:
//
//	clientip → canonical path (a path with none: 400, audited)
//	→ audit → metrics → header hygiene → headers (HTTPS, Host) → cors
//	→ router (host, then the first route whose prefix matches)
//	→ per route: rate limits by client → authentication → authorization
//	  → rate limits by principal → body rules
//	→ the route's service (balancing, health, retries; proxy.go) or the
//	  demo API
//
// Every package's own New checks its part; all problems are returned
// together.
func Build(cfg *Config, o Options) (_ *Gateway, err error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	g := &Gateway{cfg: cfg, log: newLogger(o), services: map[string]*service{}}
	if o.LogLevel != nil {
		l, _ := parseLevel(cfg.Log.Level)
		o.LogLevel.Set(l)
	}
	var prev *parts
	if o.Previous != nil {
		prev = &o.Previous.parts
	}
	if m, ok := g.parts.take(prev, "metrics", ""); ok {
		g.metrics = m.(*metrics)
	} else {
		g.metrics = newMetrics()
		g.parts.add("metrics", "", g.metrics, nil)
	}
	defer func() {
		if err != nil {
			_ = g.parts.abandon() // give back what was taken, release what was opened
		}
	}()
	var errs []error
	fail := func(part string, err error) {
		errs = append(errs, cfg.packageErrors(part, err, nil)...)
	}

	trusted, err := parsePrefixes(cfg.TrustedProxies)
	fail("trusted_proxies", err)

	ipCfg := clientip.Config{}
	if len(trusted) > 0 {
		ipCfg = clientip.Config{TrustedProxies: trusted, Header: clientip.XForwardedFor}
	}
	ips, err := clientip.New(ipCfg)
	fail("trusted_proxies", err)

	if cfg.TLS != nil {
		g.tls, err = tlsconf.New(tlsOptions(cfg, g.log.warnf))
		fail("tls", err)
	}

	hdr, err := headers.New(headersConfig(cfg, trusted))
	fail("headers", err)
	if hdr != nil {
		g.secure = hdr.Secure // DPoP proofs name the URL the client used
	}

	var corsMW *cors.CORS
	if cfg.CORS != nil {
		corsMW, err = cors.New(corsConfig(cfg))
		fail("cors", err)
	}

	authn, apiKeyHeader, authErr := g.buildAuth(cfg, o, prev)
	fail("auth", authErr)

	limits, err := g.buildRateLimits(cfg, o, prev)
	fail("ratelimit", err)

	canon, err := newCanonicalizer(cfg)
	fail("forward_underscore_headers", err)

	upstreams, err := g.buildServices(cfg, o, prev, proxyOptions{
		apiKeyHeader: apiKeyHeader,
		requestID:    audit.RequestIDFromContext,
		isHTTPS:      hdr.Secure, // TLS, or a trusted proxy's X-Forwarded-Proto
		log:          g.log,
	})
	fail("services", err)

	rt := &router{}
	for i, r := range cfg.Routes {
		if limits == nil || upstreams == nil || (authErr != nil) {
			break // a part the routes need failed; its error is already listed
		}
		route, err := g.buildRoute(cfg, r, authn, limits, upstreams)
		fail(idx("routes", i), err)
		if route != nil {
			rt.routes = append(rt.routes, route)
		}
	}
	for _, d := range cfg.derived {
		if limits == nil || upstreams == nil || (authErr != nil) {
			break
		}
		route, err := g.buildRoute(cfg, d.route, authn, limits, upstreams)
		fail(d.key, err)
		if route != nil {
			rt.routes = append(rt.routes, route)
		}
	}

	// A request whose path was refused matched no route.
	routeOf := func(r *http.Request) (string, string) {
		if refusal(r.Context()) != nil {
			return "unmatched", ""
		}
		if r.URL.Path == BackchannelLogoutPath && cfg.acceptsLogout() {
			return BackchannelLogoutPath, "" // the gateway's own endpoint (backchannel.go)
		}
		return rt.routeOf(r)
	}
	auditor, err := g.buildAudit(cfg, o, prev, routeOf)
	fail("audit", err)

	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	var h http.Handler = g.backchannel(cfg, rt) // POST /backchannel-logout, when configured
	if corsMW != nil {
		h = corsMW.Handler(h)
	}
	h = hdr.Handler(h)
	h = headerHygiene(canon, h)
	h = g.metrics.instrument(routeOf, h)
	h = auditor.Handler(h)
	refused := auditor.Handler(g.metrics.instrument(routeOf, hdr.Handler(refuser(canon))))
	h = canonicalFront(canon, h, refused)
	h = ips.Handler(h)
	g.handler = h
	if !o.CheckOnly {
		for _, s := range g.services {
			s.start() // a service taken over is running already
		}
	}
	return g, nil
}

// buildServices returns the handler of every service routes can name:
// the configured services (upstream is services.default), each a reverse
// proxy over its targets, or the demo API when there are none.
func (g *Gateway) buildServices(cfg *Config, o Options, prev *parts, po proxyOptions) (map[string]http.Handler, error) {
	out := map[string]http.Handler{}
	if cfg.demo() {
		out[demoService] = demoAPI(o.Now)
		return out, nil
	}
	services := map[string]Service{}
	for name, s := range cfg.Services {
		services[name] = s
	}
	if cfg.Upstream != "" {
		services[DefaultService] = Service{Targets: []string{cfg.Upstream}}
	}
	names := make([]string, 0, len(services))
	for name := range services {
		names = append(names, name)
	}
	sort.Strings(names)
	var errs []error
	for _, name := range names {
		sc := services[name]
		key := fingerprint(name, sc, cfg.dir, fileContent(cfg.Path(sc.CAFile)), fileContent(cfg.Path(sc.ClientCertFile)), fileContent(cfg.Path(sc.ClientKeyFile)))
		var svc *service
		if v, ok := g.parts.take(prev, "service", key); ok {
			svc = v.(*service)
		} else {
			s, err := newService(name, sc, cfg, o.Transport, g.metrics, o.Now, g.log)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				continue
			}
			svc = s
			g.parts.add("service", key, svc, svc.Close)
		}
		g.services[name] = svc
		g.addDependency(dependency{name: "service " + name, check: func(context.Context) error {
			if svc.healthy() == 0 {
				return errNoTarget
			}
			return nil
		}})
		po := po
		po.upstream = &url.URL{Scheme: "http", Host: name} // the service picks the target
		po.transport = svc
		out[name] = newProxy(po)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// demoService names the built-in demo API in metrics and the audit log.
const demoService = "demo"

func parsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p)
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%q is not an address or prefix", s))
			continue
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, errors.Join(errs...)
}

func tlsOptions(cfg *Config, logf func(string, ...any)) tlsconf.Options {
	t := cfg.TLS
	o := tlsconf.Options{
		CertFile:     cfg.Path(t.CertFile),
		KeyFile:      cfg.Path(t.KeyFile),
		ClientCAFile: cfg.Path(t.ClientCAFile),
		Logf:         logf,
	}
	if a := t.ACME; a != nil {
		o.ACME = &tlsconf.ACME{Domains: a.Domains, Email: a.Email, CacheDir: cfg.Path(a.CacheDir), DirectoryURL: a.DirectoryURL}
	}
	return o
}

// corsConfig maps the cors section.
func corsConfig(cfg *Config) cors.Config {
	return cors.Config{
		Origins:               cfg.CORS.AllowedOrigins,
		Methods:               cfg.CORS.AllowedMethods,
		Headers:               cfg.CORS.AllowedHeaders,
		AllowCredentials:      cfg.CORS.AllowCredentials,
		CrossOriginProtection: true,
	}
}

// headersConfig maps headers.require_https: absent means api when TLS is
// on and off otherwise.
func headersConfig(cfg *Config, trusted []netip.Prefix) headers.Config {
	mode := "off"
	if cfg.TLS != nil {
		mode = "api"
	}
	if cfg.Headers != nil && cfg.Headers.RequireHTTPS != "" {
		mode = cfg.Headers.RequireHTTPS
	}
	hc := headers.Config{AllowedHosts: cfg.Hosts}
	switch mode {
	case "api":
		hc.RequireHTTPS = true
	case "browser":
		hc.RequireHTTPS, hc.RedirectHTTP = true, true
	}
	if len(trusted) > 0 {
		hc.TrustedProxies = trusted
		hc.ProxyHeader = headers.XForwardedProto
	}
	return hc
}
