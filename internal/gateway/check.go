package gateway

import (
	"errors"
	"time"

	"fmt"
	"github.com/bulwark-go/bulwark/cors"
	"github.com/bulwark-go/bulwark/headers"
	"github.com/bulwark-go/bulwark/ratelimit"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

var (
	routeMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
	policyName   = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
	serviceName  = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)
	hostLabel    = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// DefaultService is the service routes use when they name none; the
// top-level upstream key is its short form.
const DefaultService = "default"

// problem records a semantic problem at key, unless that key (or one it is
// part of) was already reported as unknown or of the wrong type.
func (c *Config) problem(errs *[]error, key, format string, args ...any) {
	for k := key; k != ""; k = parentKey(k) {
		if c.reported[k] {
			return
		}
	}
	*errs = append(*errs, &ConfigError{Line: c.line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// warn records a finding that does not stop the gateway.
func (c *Config) warn(key, format string, args ...any) {
	c.warnings = append(c.warnings, &ConfigError{Line: c.line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// line is the line of key, or of the nearest key it is part of.
func (c *Config) line(key string) int {
	for k := key; k != ""; k = parentKey(k) {
		if l := c.lines[k]; l > 0 {
			return l
		}
	}
	return 0
}

// parentKey is "routes[1]" for "routes[1].path" and "routes" for
// "routes[1]".
func parentKey(k string) string {
	i := strings.LastIndexAny(k, ".[")
	if i < 0 {
		return ""
	}
	return k[:i]
}

func idx(key string, i int) string { return key + "[" + strconv.Itoa(i) + "]" }

// check finds every semantic problem that can be found without building
// the packages; the packages' own New functions find the rest.
func (c *Config) check() []error {
	var errs []error
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			c.problem(&errs, "listen", "must be host:port, e.g. 127.0.0.1:8080")
		}
	}
	if c.Upstream != "" {
		if err := checkTarget(c.Upstream); err != nil {
			c.problem(&errs, "upstream", "%v", err)
		}
		if _, ok := c.Services[DefaultService]; ok {
			c.problem(&errs, "upstream", "is the short form of services.default, which is also defined: keep one")
		}
	}
	c.checkServices(&errs)
	for i, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				c.problem(&errs, idx("trusted_proxies", i), "%q is not an address or CIDR prefix", p)
			}
		}
	}
	if c.TLS != nil {
		c.checkTLS(&errs)
	}
	if c.Headers != nil {
		switch c.Headers.RequireHTTPS {
		case "", "off", "api", "browser":
		default:
			c.problem(&errs, "headers.require_https", "must be off, api or browser")
		}
	}
	if c.CORS != nil && len(c.CORS.AllowedOrigins) == 0 {
		c.problem(&errs, "cors.allowed_origins", "required when cors is present: an empty list would allow no one (remove cors to send no CORS headers)")
	}
	for i, j := range c.Auth.JWT {
		key := idx("auth.jwt", i)
		if j.Issuer == "" {
			c.problem(&errs, key+".issuer", "required")
		} else if err := checkHTTPS(j.Issuer); err != nil {
			c.problem(&errs, key+".issuer", "%v", err)
		}
		if j.Audience == "" {
			c.problem(&errs, key+".audience", "required: without it a token for any other API of this issuer would be accepted")
		}
		if j.JWKSURL != "" {
			if err := checkHTTPS(j.JWKSURL); err != nil {
				c.problem(&errs, key+".jwks_url", "%v", err)
			}
		}
		for k, a := range j.Algorithms {
			if strings.HasPrefix(a, "HS") {
				c.problem(&errs, idx(key+".algorithms", k), "%s is an HMAC algorithm: its key is a shared secret, and a JWKS is public; use an asymmetric one (RS256, PS256, ES256, EdDSA)", a)
			}
		}
	}
	if k := c.Auth.APIKeys; k != nil && k.Store != "" && k.Store != "memory" &&
		!strings.HasPrefix(k.Store, "sqlite://") && !strings.HasPrefix(k.Store, "postgres://") && !strings.HasPrefix(k.Store, "postgresql://") {
		c.problem(&errs, "auth.api_keys.store", "must be memory, sqlite://PATH or postgres://…")
	}
	policies := map[string]bool{}
	for i, p := range c.RateLimit.Policies {
		key := idx("ratelimit.policies", i)
		if !policyName.MatchString(p.Name) {
			c.problem(&errs, key+".name", "must be a short lower-case name")
		} else if policies[p.Name] {
			c.problem(&errs, key+".name", "%q is defined twice", p.Name)
		}
		policies[p.Name] = true
		switch {
		case p.Key == "ip", p.Key == "subject", p.Key == "api_key", p.Key == "route":
		case strings.HasPrefix(p.Key, "header:") && len(p.Key) > len("header:"):
		default:
			c.problem(&errs, key+".key", "must be ip, subject, api_key, route or header:NAME")
		}
		if p.Limit <= 0 {
			c.problem(&errs, key+".limit", "must be positive")
		}
		if p.Period <= 0 {
			c.problem(&errs, key+".period", "required, e.g. 1m")
		}
		if p.Burst < 0 {
			c.problem(&errs, key+".burst", "must not be negative (default: limit)")
		}
	}
	if s := c.RateLimit.Store; s != "" && s != "memory" && !strings.HasPrefix(s, "redis://") && !strings.HasPrefix(s, "rediss://") {
		c.problem(&errs, "ratelimit.store", "must be memory or redis://host:port/db")
	}
	for i, name := range c.RateLimit.Default {
		if !policies[name] {
			c.problem(&errs, idx("ratelimit.default", i), "no policy named %q", name)
		}
	}
	c.checkOpenAPI(&errs)
	if len(c.Routes) == 0 && len(c.derived) == 0 {
		c.problem(&errs, "routes", "required: every path not under a route gets 404, so a gateway without routes serves nothing")
	}
	for i, r := range c.Routes {
		c.checkRoute(&errs, i, r, policies)
	}
	c.checkBinding(&errs) // binding.go
	c.checkShadowed()
	for i, h := range c.ForwardUnderscoreHeaders {
		if !strings.Contains(h, "_") {
			c.problem(&errs, idx("forward_underscore_headers", i), "%q has no underscore: only headers with one are dropped", h)
		} else if isGatewayHeader(h) {
			c.problem(&errs, idx("forward_underscore_headers", i), "%q reads as a header the gateway owns (CGI, WSGI, Rack and PHP read _ as -)", h)
		}
	}
	if c.Admin != nil {
		if _, _, err := net.SplitHostPort(c.Admin.Listen); err != nil {
			c.problem(&errs, "admin.listen", "must be host:port, e.g. 127.0.0.1:9090")
		} else if clash(c.Admin.Listen, c.listen()) {
			c.problem(&errs, "admin.listen", "%s clashes with listen (%s): the admin endpoints must have a listener of their own", c.Admin.Listen, c.listen())
		}
	}
	if c.ShutdownDelay != nil && *c.ShutdownDelay < 0 {
		c.problem(&errs, "shutdown_delay", "must not be negative")
	}
	c.checkAudit(&errs)
	switch c.Log.Format {
	case "", "text", "json":
	default:
		c.problem(&errs, "log.format", "must be text or json")
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
		c.problem(&errs, "log.level", "must be debug, info, warn or error")
	}
	// What only the packages know (a public-suffix CORS origin, an
	// unsupported algorithm, a policy too fast to count): asked for each
	// section the gateway's own checks passed, so that nothing is reported
	// twice and every section is checked in the same pass.
	return append(errs, c.checkPackages(errs)...)
}

// clean reports whether no error in errs, and nothing already reported
// while decoding, is at a key under one of the prefixes.
func (c *Config) clean(errs []error, prefixes ...string) bool {
	for k := range c.reported {
		for _, p := range prefixes {
			if k == p || strings.HasPrefix(k, p+".") || strings.HasPrefix(k, p+"[") {
				return false
			}
		}
	}
	for _, err := range errs {
		var ce *ConfigError
		if !errors.As(err, &ce) {
			continue
		}
		for _, p := range prefixes {
			if ce.Key == p || strings.HasPrefix(ce.Key, p+".") || strings.HasPrefix(ce.Key, p+"[") {
				return false
			}
		}
	}
	return true
}

// listen is the public address, the default filled in.
func (c *Config) listen() string {
	if c.Listen == "" {
		return "127.0.0.1:8080"
	}
	return c.Listen
}

// clash reports whether two listen addresses would take the same port on
// a shared address ("0.0.0.0:8080" and "127.0.0.1:8080" do).
func clash(a, b string) bool {
	ha, pa, err1 := net.SplitHostPort(a)
	hb, pb, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil || pa != pb || pa == "0" {
		return false
	}
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || wild(ha) || wild(hb)
}

// checkPackages asks the packages' own checks, without building anything
// that does I/O, and reports in YAML terms.
func (c *Config) checkPackages(found []error) []error {
	var errs []error
	if c.CORS != nil && c.clean(found, "cors") {
		_, err := cors.New(corsConfig(c))
		errs = append(errs, c.packageErrors("cors", err, nil)...)
	}
	trusted, _ := parsePrefixes(c.TrustedProxies)
	var err error
	if c.clean(found, "headers", "hosts", "trusted_proxies") {
		_, err = headers.New(headersConfig(c, trusted))
	}
	errs = append(errs, c.packageErrors("headers", err, func(f string) string {
		switch {
		case strings.HasPrefix(f, "AllowedHosts"):
			return "hosts"
		case strings.HasPrefix(f, "TrustedProxies"):
			return "trusted_proxies"
		}
		return "headers"
	})...)
	if len(c.Auth.JWT) > 0 && c.clean(found, "auth.jwt") {
		err := jwtConfig(c, nil).Check()
		errs = append(errs, c.packageErrors("auth.jwt", err, func(f string) string {
			m := issuerFieldRE.FindStringSubmatch(f)
			if m == nil {
				return "auth.jwt"
			}
			base := "auth.jwt[" + m[1] + "]"
			return strings.Replace(yamlKey("auth.jwt", m[2]), "auth.jwt", base, 1) // auth.jwt[0].algorithms
		})...)
	}
	for i, p := range c.RateLimit.Policies {
		if !c.clean(found, idx("ratelimit.policies", i)) {
			continue
		}
		_, err := ratelimit.New(ratelimit.Config{Policies: []ratelimit.Policy{{
			Name: p.Name, Quota: int64(p.Limit), Period: time.Duration(p.Period), Burst: int64(p.Burst),
			Key: []ratelimit.KeyPart{ratelimit.ClientIP()},
		}}})
		key := idx("ratelimit.policies", i)
		errs = append(errs, c.packageErrors(key, err, func(f string) string {
			return strings.Replace(yamlKey("ratelimit.policies", strings.TrimPrefix(f, "Policies[0].")), "ratelimit.policies", key, 1)
		})...)
	}
	return errs
}

var issuerFieldRE = regexp.MustCompile(`^Issuers\[(\d+)\]\.(.*)$`)

// checkTarget checks an upstream URL: http or https, a host, no
// credentials, no path, query or fragment.
func checkTarget(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return errors.New("must be an http(s) URL without credentials, e.g. http://127.0.0.1:9000")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("must be scheme://host:port only: use a route's rewrite_prefix for a path")
	}
	return nil
}

func (c *Config) checkServices(errs *[]error) {
	names := make([]string, 0, len(c.Services))
	for name := range c.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := c.Services[name]
		key := "services." + name
		if !serviceName.MatchString(name) {
			c.problem(errs, key, "a service name must be lower case: letters, digits, - and _")
		}
		if len(s.Targets) == 0 {
			c.problem(errs, key+".targets", "required: at least one http(s)://host:port")
		}
		seen := map[string]bool{}
		https := false
		for i, t := range s.Targets {
			if err := checkTarget(t); err != nil {
				c.problem(errs, idx(key+".targets", i), "%v", err)
			} else if seen[t] {
				c.problem(errs, idx(key+".targets", i), "%s is listed twice", t)
			}
			seen[t] = true
			https = https || strings.HasPrefix(t, "https://")
		}
		switch s.LB {
		case "", "round_robin", "least_requests", "ip_hash":
		default:
			c.problem(errs, key+".lb", "must be round_robin, least_requests or ip_hash")
		}
		for _, d := range []struct {
			k string
			v Duration
		}{{"timeouts.connect", s.Timeouts.Connect}, {"timeouts.response_header", s.Timeouts.ResponseHeader}, {"timeouts.idle", s.Timeouts.Idle}, {"eject_for", s.EjectFor}} {
			if d.v < 0 {
				c.problem(errs, key+"."+d.k, "must not be negative")
			}
		}
		if s.Retries != nil && (*s.Retries < 0 || *s.Retries > 5) {
			c.problem(errs, key+".retries", "must be between 0 and 5")
		}
		if s.EjectAfter != nil && *s.EjectAfter < 0 {
			c.problem(errs, key+".eject_after", "must not be negative (0 turns passive health off)")
		}
		if h := s.Health; h != nil {
			if !strings.HasPrefix(h.Path, "/") {
				c.problem(errs, key+".health.path", "required, starting with /")
			}
			if h.Interval < 0 || h.Timeout < 0 {
				c.problem(errs, key+".health", "interval and timeout must not be negative")
			} else if h.Interval.or(defaultHealthInterval) <= h.Timeout.or(defaultHealthTimeout) {
				c.problem(errs, key+".health.timeout", "must be shorter than the interval")
			}
			for i, st := range h.HealthyStatus {
				if st < 100 || st > 599 {
					c.problem(errs, idx(key+".health.healthy_status", i), "%d is not an HTTP status", st)
				}
			}
		}
		tlsSet := s.CAFile != "" || s.ClientCertFile != "" || s.ClientKeyFile != "" || s.ServerName != ""
		if tlsSet && !https {
			c.problem(errs, key, "ca_file, client_cert_file, client_key_file and server_name need https targets")
		}
		if (s.ClientCertFile == "") != (s.ClientKeyFile == "") {
			c.problem(errs, key+".client_cert_file", "client_cert_file and client_key_file go together")
		}
		for _, f := range []struct{ k, p string }{{"ca_file", s.CAFile}, {"client_cert_file", s.ClientCertFile}, {"client_key_file", s.ClientKeyFile}} {
			if f.p != "" {
				if _, err := os.Stat(c.Path(f.p)); err != nil {
					c.problem(errs, key+"."+f.k, "cannot read %s", f.p)
				}
			}
		}
	}
}

// serviceOf is the service a route uses.
func (r Route) serviceOf() string {
	if r.Service == "" {
		return DefaultService
	}
	return r.Service
}

// hasService reports whether name is configured (default also by upstream).
func (c *Config) hasService(name string) bool {
	_, ok := c.Services[name]
	return ok || (name == DefaultService && c.Upstream != "")
}

// demo reports whether the gateway serves its built-in demo API: no
// upstream and no services at all.
func (c *Config) demo() bool { return c.Upstream == "" && len(c.Services) == 0 }

func (c *Config) checkTLS(errs *[]error) {
	t := c.TLS
	files := t.CertFile != "" || t.KeyFile != ""
	switch {
	case files && t.ACME != nil:
		c.problem(errs, "tls", "set either cert_file/key_file or acme, not both")
	case files && (t.CertFile == "" || t.KeyFile == ""):
		c.problem(errs, "tls", "cert_file and key_file go together")
	case !files && t.ACME == nil:
		c.problem(errs, "tls", "needs cert_file and key_file, or acme")
	}
	for _, f := range []struct{ key, path string }{{"tls.cert_file", t.CertFile}, {"tls.key_file", t.KeyFile}, {"tls.client_ca_file", t.ClientCAFile}} {
		if f.path != "" {
			if _, err := os.Stat(c.Path(f.path)); err != nil {
				c.problem(errs, f.key, "cannot read %s", f.path)
			}
		}
	}
	if a := t.ACME; a != nil {
		if len(a.Domains) == 0 {
			c.problem(errs, "tls.acme.domains", "required")
		}
		for i, d := range a.Domains {
			if !strings.Contains(d, ".") || strings.ContainsAny(d, "/:* ") {
				c.problem(errs, idx("tls.acme.domains", i), "%q is not a fully qualified host name", d)
			}
		}
		if a.CacheDir == "" {
			c.problem(errs, "tls.acme.cache_dir", "required: without a cache every restart asks for a new certificate and hits rate limits")
		}
		if a.DirectoryURL != "" {
			if u, err := url.Parse(a.DirectoryURL); err != nil || u.Scheme != "https" {
				c.problem(errs, "tls.acme.directory_url", "must be an https URL")
			}
		}
	}
}

func (c *Config) checkRoute(errs *[]error, i int, r Route, policies map[string]bool) {
	key := idx("routes", i)
	if !strings.HasPrefix(r.Path, "/") {
		c.problem(errs, key+".path", "must start with /")
	} else if _, canon, err := canonicalPath(r.Path); err != nil || canon != r.Path {
		// Requests are matched in canonical form; any other route path
		// could never match.
		c.problem(errs, key+".path", "must be a canonical path (no dot-segments, repeated slashes or escapes)")
	}
	if r.Host != "" && !validHostPattern(r.Host) {
		c.problem(errs, key+".host", "must be a lower-case host name, or *.example.com for any one label")
	}
	if !c.demo() && !c.hasService(r.serviceOf()) {
		if r.Service == "" {
			c.problem(errs, key+".service", "required: there is no upstream or services.default")
		} else {
			c.problem(errs, key+".service", "no service named %q", r.Service)
		}
	}
	if c.demo() && r.Service != "" {
		c.problem(errs, key+".service", "no service named %q (no services are configured)", r.Service)
	}
	if r.StripPrefix && r.RewritePrefix != "" {
		c.problem(errs, key+".rewrite_prefix", "strip_prefix and rewrite_prefix exclude each other (rewrite_prefix: / strips)")
	}
	if r.RewritePrefix != "" {
		if _, canon, err := canonicalPath(r.RewritePrefix); err != nil || canon != r.RewritePrefix {
			c.problem(errs, key+".rewrite_prefix", "must be a canonical path starting with /")
		} else if strings.HasSuffix(r.Path, "/") != strings.HasSuffix(r.RewritePrefix, "/") {
			c.problem(errs, key+".rewrite_prefix", "must end with / exactly when path does, so that the rest of the path joins cleanly")
		}
	}
	switch r.Auth {
	case "", "required", "none":
	default:
		c.problem(errs, key+".auth", "must be required or none")
	}
	if r.Auth == "none" && r.Scopes != "" {
		c.problem(errs, key+".scopes", "scopes on an auth: none route would never be checked")
	}
	if r.Auth != "none" && len(c.Auth.JWT) == 0 && c.Auth.APIKeys == nil && (r.Auth == "required" || c.openAPIFile(r) == "") {
		c.problem(errs, key+".auth", "requires authentication but auth configures no jwt or api_keys")
	}
	for j, m := range r.Methods {
		if !slices.Contains(routeMethods, m) {
			c.problem(errs, idx(key+".methods", j), "%q is not one of %s", m, strings.Join(routeMethods, ", "))
		}
	}
	switch r.Cache {
	case "", "upstream":
	default:
		c.problem(errs, key+".cache", "must be upstream (keep the upstream's Cache-Control) or absent")
	}
	if r.MaxBody < 0 {
		c.problem(errs, key+".max_body", "must not be negative")
	}
	if r.Schema != "" {
		if _, err := os.Stat(c.Path(r.Schema)); err != nil {
			c.problem(errs, key+".schema", "cannot read %s", r.Schema)
		}
		if !r.JSON {
			c.problem(errs, key+".schema", "needs json: true")
		}
	}
	for j, name := range r.RateLimit {
		if !policies[name] {
			c.problem(errs, idx(key+".ratelimit", j), "no policy named %q", name)
		}
	}
}

// validHostPattern: a lower-case host name, or "*." and one.
func validHostPattern(h string) bool {
	h = strings.TrimPrefix(h, "*.")
	if h == "" || len(h) > 253 {
		return false
	}
	for l := range strings.SplitSeq(h, ".") {
		if !hostLabel.MatchString(l) {
			return false
		}
	}
	return true
}

// hostCovers reports whether every host route pattern b matches is also
// matched by a ("" matches every host).
func hostCovers(a, b string) bool {
	switch {
	case a == "" || a == b:
		return true
	case b == "":
		return false
	case strings.HasPrefix(a, "*."):
		return !strings.HasPrefix(b, "*.") && matchHost(a, b)
	}
	return false
}

// checkShadowed warns of a route an earlier one always matches first: the
// first match wins, so it can never be reached.
func (c *Config) checkShadowed() {
	for j, later := range c.Routes {
		for i, earlier := range c.Routes[:j] {
			if hostCovers(earlier.Host, later.Host) && matchPrefix(earlier.Path, later.Path) {
				c.warn(idx("routes", j), "never matches: routes[%d] (%s) comes first and matches every request it would (the first match wins)", i, earlier.Path)
				break
			}
		}
	}
}

func checkHTTPS(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return errors.New("not an absolute URL")
	}
	if u.Scheme == "https" {
		return nil
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); u.Scheme == "http" && (host == "localhost" || (err == nil && a.IsLoopback())) {
		return nil
	}
	return errors.New("must be https (http only on loopback)")
}
