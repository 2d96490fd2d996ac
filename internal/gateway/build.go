package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bulwark-go/bulwark/audit"
	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/auth/jwt"
	"github.com/bulwark-go/bulwark/clientip"
	"github.com/bulwark-go/bulwark/cors"
	"github.com/bulwark-go/bulwark/headers"
	"github.com/bulwark-go/bulwark/internal/tlsconf"
	"github.com/bulwark-go/bulwark/ratelimit"
)

// Options are the parts of the gateway that do not come from the YAML.
type Options struct {
	// Logf receives progress and errors in plain words. Default: stderr.
	Logf func(format string, args ...any)
	// AuditWriter, when set, receives the audit log instead of
	// audit.output (tests).
	AuditWriter io.Writer
	// Transport, when set, carries requests to the upstream (tests).
	Transport http.RoundTripper
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// CheckOnly builds everything but opens nothing that would write: the
	// audit output is not opened (its folder must exist) and an SQL key
	// store is not opened (its settings are checked against an in-memory
	// store). For `serve -check`, which must leave every file as it was.
	CheckOnly bool
}

// Gateway is a built, runnable gateway.
type Gateway struct {
	cfg     *Config
	handler http.Handler
	admin   http.Handler
	metrics *metrics
	tls     *tlsconf.Config
	logf    func(string, ...any)
	closers []func() error
	checks  []readyCheck
	keys    *apikey.Keys // the API keys, when configured
	apiKey  string       // the demo key: printed once, never logged
}

type readyCheck struct {
	name string
	fn   func(context.Context) error
}

// Handler returns the public handler (every protection stacked).
func (g *Gateway) Handler() http.Handler { return g.handler }

// AdminHandler returns the operations handler: /healthz, /readyz, /metrics.
func (g *Gateway) AdminHandler() http.Handler { return g.admin }

// DemoKey returns the API key created for the default configuration, if any.
func (g *Gateway) DemoKey() string { return g.apiKey }

// Close releases background work (JWKS refresh, stores, the audit log).
func (g *Gateway) Close() error {
	var errs []error
	for i := len(g.closers) - 1; i >= 0; i-- {
		errs = append(errs, g.closers[i]())
	}
	return errors.Join(errs...)
}

// Build assembles the gateway from a checked configuration: clientip →
// canonical path (or refusal) → audit → metrics → header hygiene → headers
// → cors → router, and per route: rate limits by
// client → authentication → authorization → rate limits by principal →
// body rules → upstream (or the demo API). Every package's own New checks
// its part; all problems are returned together.
func Build(cfg *Config, o Options) (_ *Gateway, err error) {
	if o.Logf == nil {
		o.Logf = func(f string, a ...any) { fmt.Fprintf(os.Stderr, "bulwark: "+f+"\n", a...) }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	g := &Gateway{cfg: cfg, logf: o.Logf, metrics: newMetrics()}
	defer func() {
		if err != nil {
			_ = g.Close() // release what was opened before the failure
		}
	}()
	var errs []error
	fail := func(part string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", part, err))
		}
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
		g.tls, err = tlsconf.New(tlsOptions(cfg, o.Logf))
		fail("tls", err)
	}

	hdr, err := headers.New(headersConfig(cfg, trusted))
	fail("headers", err)

	var corsMW *cors.CORS
	if cfg.CORS != nil {
		corsMW, err = cors.New(cors.Config{
			Origins:               cfg.CORS.AllowedOrigins,
			Methods:               cfg.CORS.AllowedMethods,
			Headers:               cfg.CORS.AllowedHeaders,
			AllowCredentials:      cfg.CORS.AllowCredentials,
			CrossOriginProtection: true,
		})
		fail("cors", err)
	}

	authn, apiKeyHeader, err := g.buildAuth(cfg, o)
	fail("auth", err)

	limits, err := g.buildRateLimits(cfg, o)
	fail("ratelimit", err)

	canon, err := newCanonicalizer(cfg)
	fail("forward_underscore_headers", err)

	var upstream http.Handler
	if cfg.Upstream != "" {
		u, err := url.Parse(cfg.Upstream)
		fail("upstream", err)
		if err == nil {
			upstream = newProxy(proxyOptions{
				upstream:        u,
				apiKeyHeader:    apiKeyHeader,
				requestID:       audit.RequestIDFromContext,
				isHTTPS:         hdr.Secure, // TLS, or a trusted proxy's X-Forwarded-Proto
				logf:            o.Logf,
				responseTimeout: 30 * time.Second,
				transport:       o.Transport,
			})
		}
	} else {
		upstream = demoAPI(o.Now)
	}

	rt := &router{}
	for i, r := range cfg.Routes {
		if limits == nil {
			break // the store failed; its error is already listed
		}
		route, err := g.buildRoute(cfg, r, authn, limits, upstream)
		fail(fmt.Sprintf("routes.%d", i), err)
		if route != nil {
			rt.routes = append(rt.routes, route)
		}
	}

	// A request whose path was refused matched no route.
	routeName := func(r *http.Request) string {
		if refusal(r.Context()) != nil {
			return "unmatched"
		}
		return rt.routeName(r)
	}
	auditor, err := g.buildAudit(cfg, o, routeName)
	fail("audit", err)

	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	var h http.Handler = rt
	if corsMW != nil {
		h = corsMW.Handler(h)
	}
	h = hdr.Handler(h)
	h = headerHygiene(canon, h)
	h = g.metrics.instrument(routeName, h)
	h = auditor.Handler(h)
	refused := auditor.Handler(g.metrics.instrument(routeName, hdr.Handler(refuser(canon))))
	h = canonicalFront(canon, h, refused)
	h = ips.Handler(h)
	g.handler = h
	g.admin = g.adminHandler()
	return g, nil
}

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

// buildAuth builds the authenticators: JWT issuers and API keys.
func (g *Gateway) buildAuth(cfg *Config, o Options) (*auth.Auth, string, error) {
	var list []auth.Authenticator
	var errs []error
	if len(cfg.Auth.JWT) > 0 {
		jc := jwt.Config{Now: o.Now}
		for _, j := range cfg.Auth.JWT {
			iss := jwt.Issuer{
				Issuer:     j.Issuer,
				Audiences:  []string{j.Audience},
				Algorithms: j.Algorithms,
				JWKSURL:    j.JWKSURL,
				Discovery:  j.JWKSURL == "",
				// require_typ: false is the operator's explicit choice for a
				// provider that does not send typ at+jwt.
				DangerouslySkipTypeCheck: j.RequireTyp != nil && !*j.RequireTyp,
			}
			if len(iss.Algorithms) == 0 {
				iss.Algorithms = []string{"RS256", "ES256", "EdDSA"}
			}
			jc.Issuers = append(jc.Issuers, iss)
		}
		v, err := jwt.New(jc)
		if err != nil {
			errs = append(errs, err)
		} else {
			list = append(list, v)
			g.closers = append(g.closers, v.Close)
			g.checks = append(g.checks, readyCheck{"jwks", func(context.Context) error { return v.Ready() }})
		}
	}
	header := ""
	if cfg.Auth.APIKeys != nil {
		a, h, err := g.buildAPIKeys(cfg, o)
		if err != nil {
			errs = append(errs, err)
		} else {
			list = append(list, a)
			header = h
		}
	}
	if g.tls != nil && cfg.TLS.ClientCAFile != "" {
		list = append(list, tlsconf.ClientCertAuthenticator{})
	}
	if len(errs) > 0 {
		return nil, "", errors.Join(errs...)
	}
	if len(list) == 0 {
		return nil, "", nil // no route may require auth; config.check made sure
	}
	a, err := auth.New(auth.Config{Authenticators: list})
	return a, header, err
}

// limitSet holds the policies by name and the store they share.
type limitSet struct {
	policies map[string]RateLimitPolicy
	store    ratelimit.Store
	shared   bool // a fleet-wide store: fall back to local limits when it fails
	hashKey  []byte
	now      func() time.Time
	hooks    ratelimit.Hooks
}

func (g *Gateway) buildRateLimits(cfg *Config, o Options) (*limitSet, error) {
	m := g.metrics
	ls := &limitSet{policies: map[string]RateLimitPolicy{}, now: o.Now, hooks: ratelimit.Hooks{
		OnStoreLatency: func(d time.Duration, err error) {
			result := "ok"
			if err != nil {
				result = "error"
			}
			m.store.WithLabelValues(result).Observe(d.Seconds())
		},
		OnDecision: func(_ string, o ratelimit.Outcome) {
			switch o {
			case ratelimit.FailedLocal:
				m.fallback.Set(1)
			case ratelimit.Allowed, ratelimit.Denied:
				m.fallback.Set(0)
			}
		},
	}}
	for _, p := range cfg.RateLimit.Policies {
		ls.policies[p.Name] = p
	}
	store := cfg.RateLimit.Store
	switch {
	case store == "" || store == "memory":
		ms, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
		if err != nil {
			return nil, err
		}
		ls.store = ms
		ls.hashKey = make([]byte, 16)
		_, _ = rand.Read(ls.hashKey)
	default:
		s, closeFn, ping, err := newRedisStore(store)
		if err != nil {
			return nil, err
		}
		ls.store, ls.shared = s, true
		g.closers = append(g.closers, closeFn)
		g.checks = append(g.checks, readyCheck{"ratelimit store", ping})
		// Instances sharing Redis must share the key that spreads request
		// keys over buckets. It is derived from the store URL, which holds
		// the Redis credentials when there are any.
		sum := sha256.Sum256([]byte("bulwark ratelimit hash key\x00" + store))
		ls.hashKey = sum[:16]
	}
	return ls, nil
}

// limiters builds the route's two limiters: policies keyed by the client
// (before authentication) and by the principal (after it).
func (ls *limitSet) limiters(names []string, authenticates bool, route string) (before, after *ratelimit.Limiter, err error) {
	var pre, post []ratelimit.Policy
	for _, n := range names {
		p := ls.policies[n]
		rp := ratelimit.Policy{Name: p.Name, Quota: int64(p.Limit), Period: time.Duration(p.Period), Burst: int64(p.Burst)}
		if ls.shared {
			// Redis down: keep limiting, per instance, rather than refusing
			// every request (FailClosed) or none (FailOpen).
			rp.OnStoreError = ratelimit.FailLocal
		}
		switch {
		case p.Key == "ip":
			rp.Key = []ratelimit.KeyPart{ratelimit.ClientIPPrefix(64)}
			pre = append(pre, rp)
		case strings.HasPrefix(p.Key, "header:"):
			rp.Key = []ratelimit.KeyPart{ratelimit.Header(strings.TrimPrefix(p.Key, "header:"))}
			pre = append(pre, rp)
		case p.Key == "route":
			// The configured route, never the raw path: a client must not be
			// able to mint new buckets by varying the URL.
			rp.Key = []ratelimit.KeyPart{ratelimit.Func(func(*http.Request) (string, bool) { return route, true })}
			pre = append(pre, rp)
		case p.Key == "subject" || p.Key == "api_key":
			if !authenticates {
				continue // no principal on an auth: none route
			}
			rp.Key = []ratelimit.KeyPart{ratelimit.Principal(subjectIdentity{})}
			post = append(post, rp)
		}
	}
	mk := func(ps []ratelimit.Policy) (*ratelimit.Limiter, error) {
		if len(ps) == 0 {
			return nil, nil
		}
		return ratelimit.New(ratelimit.Config{Policies: ps, Store: ls.store, HashKey: ls.hashKey, Now: ls.now, Hooks: ls.hooks})
	}
	if before, err = mk(pre); err != nil {
		return nil, nil, err
	}
	after, err = mk(post)
	return before, after, err
}

// subjectIdentity reads the authenticated subject for per-principal limits.
type subjectIdentity struct{}

func (subjectIdentity) RateLimitID(r *http.Request) (string, bool) { return auth.Subject(r.Context()) }

func (g *Gateway) buildRoute(cfg *Config, r Route, authn *auth.Auth, ls *limitSet, upstream http.Handler) (*compiledRoute, error) {
	authenticates := r.Auth != "none"
	ri := &routeInfo{authenticates: authenticates, forwardCredentials: r.ForwardCredentials, cacheUpstream: r.Cache == "upstream"}
	body, err := newBodyPolicy(r, cfg.Path(r.Schema))
	if err != nil {
		return nil, err
	}
	names := r.RateLimit
	if len(names) == 0 {
		names = cfg.RateLimit.Default
	}
	before, after, err := ls.limiters(names, authenticates, r.Path)
	if err != nil {
		return nil, err
	}
	h := body.wrap(upstream)
	if after != nil {
		h = after.Handler(h)
	}
	if authenticates {
		if authn == nil {
			return nil, errors.New("auth: required, but no authenticator is configured")
		}
		if r.Scopes != "" {
			pol, err := auth.Compile(r.Scopes)
			if err != nil {
				return nil, err
			}
			h = authn.Require(pol)(h)
		}
		h = authn.Handler(h)
	}
	if before != nil {
		h = before.Handler(h)
	}
	next := h
	h = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		next.ServeHTTP(w, req.WithContext(withRoute(req.Context(), ri)))
	})
	methods := r.Methods
	if slices.Contains(methods, http.MethodGet) && !slices.Contains(methods, http.MethodHead) {
		methods = append(slices.Clone(methods), http.MethodHead) // HEAD is GET without the body (RFC 9110 §9.3.2)
	}
	return &compiledRoute{name: r.Path, prefix: r.Path, methods: methods, allow: strings.Join(methods, ", "), handler: h}, nil
}

// buildAudit opens the audit output and, with hmac_key_file, chains it.
func (g *Gateway) buildAudit(cfg *Config, o Options, route func(*http.Request) string) (*audit.Auditor, error) {
	w := o.AuditWriter
	if o.CheckOnly {
		if out := cfg.Audit.Output; out != "" && out != "stdout" && out != "stderr" {
			if _, err := os.Stat(filepath.Dir(cfg.Path(out))); err != nil {
				return nil, fmt.Errorf("output: the folder of %s does not exist", out)
			}
		}
		w = io.Discard
	}
	if w == nil {
		switch out := cfg.Audit.Output; out {
		case "", "stdout":
			w = os.Stdout
		case "stderr":
			w = os.Stderr
		default:
			f, err := os.OpenFile(cfg.Path(out), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600) // #nosec G304 -- the operator names the log file
			if err != nil {
				return nil, err
			}
			g.closers = append(g.closers, f.Close)
			w = f
		}
	}
	var h slog.Handler = slog.NewJSONHandler(w, nil)
	if cfg.Audit.HMACKeyFile != "" {
		raw, err := os.ReadFile(cfg.Path(cfg.Audit.HMACKeyFile)) // #nosec G304 -- the operator names the key file
		if err != nil {
			return nil, err
		}
		key, err := audit.ParseKey(strings.TrimSpace(string(raw)))
		if err != nil {
			return nil, err
		}
		chain, err := audit.NewChain(w, audit.ChainConfig{Key: key, Now: o.Now})
		if err != nil {
			return nil, err
		}
		g.closers = append(g.closers, chain.Close)
		h = chain
	}
	a, err := audit.New(audit.Config{Handler: h, Route: route, Now: o.Now})
	if err != nil {
		return nil, err
	}
	g.closers = append(g.closers, a.Close)
	return a, nil
}
