package headers

import (
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/bulwark-go/bulwark/problem"
)

// Proxy headers [Config.ProxyHeader] accepts.
const (
	// XForwardedProto reads the scheme from X-Forwarded-Proto and the
	// original host from X-Forwarded-Host.
	XForwardedProto = "X-Forwarded-Proto"
	// Forwarded reads proto= and host= from the last element of the RFC
	// 7239 Forwarded header.
	Forwarded = "Forwarded"
)

// Defaults. Each is what the zero value of the matching [Config] field
// means.
const (
	// DefaultHSTSMaxAge is two years, the value the HSTS preload list
	// recommends.
	DefaultHSTSMaxAge = 2 * 365 * 24 * time.Hour

	// DefaultCSP is the API profile's policy: nothing may load, nothing may
	// frame the response.
	DefaultCSP = "default-src 'none'; frame-ancestors 'none'"

	// DefaultHTMLCSP is the HTML profile's policy: same-origin resources,
	// scripts and styles only from this origin or carrying the request's
	// nonce, no plugins, no <base> rewriting, no framing.
	DefaultHTMLCSP = "default-src 'self'; script-src 'self' 'nonce'; style-src 'self' 'nonce'; " +
		"img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

	// DefaultPermissionsPolicy is the HTML profile's Permissions-Policy:
	// powerful features off for the page and everything it embeds.
	DefaultPermissionsPolicy = "accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), " +
		"magnetometer=(), microphone=(), midi=(), payment=(), usb=()"

	// DefaultReferrerPolicy sends no Referer at all.
	DefaultReferrerPolicy = "no-referrer"

	// minPreloadMaxAge is the preload list's minimum max-age: one year.
	minPreloadMaxAge = 365 * 24 * time.Hour
)

// DefaultStripHeaders returns the response headers removed from every
// response because they only tell an attacker what software to target.
// [Config.StripHeaders] adds to this list.
func DefaultStripHeaders() []string {
	return []string{"Server", "X-Powered-By", "X-AspNet-Version", "X-AspNetMvc-Version", "X-Generator", "X-Runtime"}
}

// Config configures [Headers]. The zero value is a complete, safe JSON API
// profile: HSTS over HTTPS, a deny-all CSP, nosniff, no framing, no
// referrer, same-origin COOP and CORP, and no-store caching unless the
// handler chose its own. [New] copies the Config.
type Config struct {
	// HSTSMaxAge is the Strict-Transport-Security max-age, in whole
	// seconds. Default (zero) [DefaultHSTSMaxAge]. Negative is refused.
	// HSTS is sent only on responses to requests that arrived over HTTPS
	// (directly, or through a trusted proxy that says so): browsers ignore
	// it over HTTP, and sending it there would advertise a downgrade.
	HSTSMaxAge time.Duration

	// InsecureHSTSOmitSubDomains drops includeSubDomains from HSTS, leaving
	// subdomains open to a downgrade and to cookie injection over HTTP.
	// Default false.
	InsecureHSTSOmitSubDomains bool

	// HSTSPreload adds preload to HSTS, asking browsers to ship the domain
	// in their built-in list. Hard to undo, hence opt-in; [New] refuses it
	// unless max-age is at least a year and includeSubDomains is kept.
	HSTSPreload bool

	// InsecureDisableHSTS sends no Strict-Transport-Security header. Default
	// false. Contradicts HSTSPreload.
	InsecureDisableHSTS bool

	// RequireHTTPS refuses requests that did not arrive over HTTPS with 403
	// and a problem response (API mode): there is no redirect, because the
	// credentials in that first request have already crossed the network
	// in clear (ASVS 5.0 4.1.2). Default false: plain HTTP is served, with
	// no HSTS.
	RequireHTTPS bool

	// RedirectHTTP switches RequireHTTPS to browser mode: GET and HEAD over
	// HTTP are redirected with 308 to https on the same host and path,
	// other methods are still refused. Requires RequireHTTPS, and
	// AllowedHosts so that the redirect cannot point at a host the client
	// chose.
	RedirectHTTP bool

	// TrustedProxies are the peers whose ProxyHeader is believed, for the
	// request scheme (HSTS, RequireHTTPS) and the original host
	// (AllowedHosts, RedirectHTTP). Required when ProxyHeader is set, must
	// be empty when it is not; a /0 prefix is refused. Requests from any
	// other peer are judged by their own connection only.
	TrustedProxies []netip.Prefix

	// ProxyHeader is [XForwardedProto] or [Forwarded]: which header the
	// trusted proxies report the original scheme and host in. Default
	// empty: no proxy header is read.
	ProxyHeader string

	// AllowedHosts lists the host names this server answers for: exact
	// names ("api.example.com"), single-label wildcards ("*.example.com"
	// matches "a.example.com" but neither "example.com" nor
	// "a.b.example.com"), or IP literals. Matching ignores case, a
	// trailing dot and the port. Other hosts get 421 Misdirected Request,
	// which stops DNS rebinding and Host-header poisoning of generated
	// links. Every host a request names is checked: the Host header (what
	// the handler reads as r.Host) and, from a trusted proxy, every element
	// of X-Forwarded-Host and every host= of Forwarded. Behind a proxy that
	// rewrites Host to its upstream's name, list that name too (or have the
	// proxy pass the original Host). Default empty: every host is served.
	AllowedHosts []string

	// CSP is the API profile's Content-Security-Policy, checked by
	// [ParseCSP]. Default [DefaultCSP].
	CSP string

	// HTMLCSP is the HTML profile's Content-Security-Policy, checked by
	// [ParseCSP]; [NonceSource] in it becomes the request's nonce. Build one
	// with [CSPBuilder]. Default [DefaultHTMLCSP].
	HTMLCSP string

	// PermissionsPolicy is the HTML profile's Permissions-Policy. Default
	// [DefaultPermissionsPolicy].
	PermissionsPolicy string

	// ReferrerPolicy is the Referrer-Policy of both profiles: one or more
	// comma-separated policy tokens. "unsafe-url" and
	// "no-referrer-when-downgrade" are refused: they send full URLs, query
	// strings included, to other sites. Default [DefaultReferrerPolicy].
	ReferrerPolicy string

	// CrossOriginResourcePolicy is "same-origin" (default), "same-site" or
	// "cross-origin" (for resources other sites embed without CORS).
	CrossOriginResourcePolicy string

	// CrossOriginOpenerPolicy is "same-origin" (default),
	// "same-origin-allow-popups", "noopener-allow-popups" or "unsafe-none".
	CrossOriginOpenerPolicy string

	// CrossOriginEmbedderPolicy is "require-corp" or "credentialless" to
	// send COEP. Default empty: no COEP, which would break pages embedding
	// third-party resources.
	CrossOriginEmbedderPolicy string

	// StripHeaders adds header names to [DefaultStripHeaders]: response
	// headers removed whether the handler or a proxied upstream set them.
	StripHeaders []string

	// ErrorHandler writes refusals: [*HostError] (421) and
	// [*InsecureError] (403). The response still carries the security
	// headers. Default [problem.WriteError].
	ErrorHandler problem.ErrorHandler
}

// validate checks cfg and returns its problems as [*ConfigError]s.
func (cfg *Config) validate() []error {
	var errs []error
	add := func(field, value, reason string, err error) {
		errs = append(errs, &ConfigError{Field: field, Value: value, Reason: reason, Err: err})
	}
	if cfg.HSTSMaxAge < 0 {
		add("HSTSMaxAge", cfg.HSTSMaxAge.String(), "must not be negative", nil)
	} else if cfg.HSTSMaxAge > 0 && cfg.HSTSMaxAge < time.Second {
		add("HSTSMaxAge", cfg.HSTSMaxAge.String(), "below one second; max-age is in whole seconds", nil)
	}
	if cfg.HSTSPreload {
		if cfg.InsecureDisableHSTS {
			add("HSTSPreload", "", "contradicts InsecureDisableHSTS", nil)
		}
		if cfg.InsecureHSTSOmitSubDomains {
			add("HSTSPreload", "", "the preload list requires includeSubDomains; contradicts InsecureHSTSOmitSubDomains", nil)
		}
		if cfg.HSTSMaxAge != 0 && cfg.HSTSMaxAge < minPreloadMaxAge {
			add("HSTSPreload", "", "the preload list requires HSTSMaxAge of at least one year", nil)
		}
	}
	if cfg.RedirectHTTP {
		if !cfg.RequireHTTPS {
			add("RedirectHTTP", "", "set without RequireHTTPS: nothing would be redirected", nil)
		}
		if len(cfg.AllowedHosts) == 0 {
			add("RedirectHTTP", "", "requires AllowedHosts: the redirect would go to whatever host the client named", nil)
		}
	}
	switch cfg.ProxyHeader {
	case "":
		if len(cfg.TrustedProxies) > 0 {
			add("TrustedProxies", "", "set without ProxyHeader: no header would be read", nil)
		}
	case XForwardedProto, Forwarded:
		if len(cfg.TrustedProxies) == 0 {
			add("TrustedProxies", "", "required when ProxyHeader is set: without it any client could claim HTTPS", nil)
		}
	default:
		add("ProxyHeader", cfg.ProxyHeader, `must be "X-Forwarded-Proto" or "Forwarded"`, nil)
	}
	for _, p := range cfg.AllowedHosts {
		if _, reason := parseHostPattern(p); reason != "" {
			add("AllowedHosts", p, reason, nil)
		}
	}
	for _, c := range []struct{ field, value string }{{"CSP", cfg.CSP}, {"HTMLCSP", cfg.HTMLCSP}} {
		if c.value == "" {
			continue
		}
		if _, err := ParseCSP(c.value); err != nil {
			add(c.field, c.value, "not a valid Content-Security-Policy", err)
		}
	}
	if reason := checkValue(hPermissionsPolicy, cfg.PermissionsPolicy); cfg.PermissionsPolicy != "" && reason != "" {
		add("PermissionsPolicy", cfg.PermissionsPolicy, reason, nil)
	}
	if reason := checkValue(hReferrerPolicy, cfg.ReferrerPolicy); cfg.ReferrerPolicy != "" && reason != "" {
		add("ReferrerPolicy", cfg.ReferrerPolicy, reason, nil)
	}
	if reason := checkValue(hCORP, cfg.CrossOriginResourcePolicy); cfg.CrossOriginResourcePolicy != "" && reason != "" {
		add("CrossOriginResourcePolicy", cfg.CrossOriginResourcePolicy, reason, nil)
	}
	if reason := checkValue(hCOOP, cfg.CrossOriginOpenerPolicy); cfg.CrossOriginOpenerPolicy != "" && reason != "" {
		add("CrossOriginOpenerPolicy", cfg.CrossOriginOpenerPolicy, reason, nil)
	}
	if reason := checkValue(hCOEP, cfg.CrossOriginEmbedderPolicy); cfg.CrossOriginEmbedderPolicy != "" && reason != "" {
		add("CrossOriginEmbedderPolicy", cfg.CrossOriginEmbedderPolicy, reason, nil)
	}
	for _, name := range cfg.StripHeaders {
		if !isToken(name) {
			add("StripHeaders", name, "not a valid header name", nil)
			continue
		}
		if _, managed := managedIndex(name); managed || http.CanonicalHeaderKey(name) == "Cache-Control" {
			add("StripHeaders", name, "is a header this package sets", nil)
		}
	}
	return errs
}

// checkValue validates the value of managed header i, returning a reason
// when it is refused.
func checkValue(i hdr, v string) string {
	if v == "" {
		return "empty value"
	}
	for j := 0; j < len(v); j++ {
		if c := v[j]; c < ' ' || c >= 0x7f {
			return "contains a control or non-ASCII character"
		}
	}
	oneOf := func(allowed ...string) string {
		for _, a := range allowed {
			if v == a {
				return ""
			}
		}
		return "must be one of " + strings.Join(allowed, ", ")
	}
	switch i {
	case hCSP:
		if _, err := ParseCSP(v); err != nil {
			return err.Error()
		}
	case hXContentTypeOptions:
		return oneOf("nosniff")
	case hXFrameOptions:
		return oneOf("DENY", "SAMEORIGIN")
	case hReferrerPolicy:
		for tok := range strings.SplitSeq(v, ",") {
			switch tok = strings.TrimSpace(tok); tok {
			case "no-referrer", "origin", "origin-when-cross-origin", "same-origin", "strict-origin",
				"strict-origin-when-cross-origin":
			case "unsafe-url", "no-referrer-when-downgrade":
				return "sends full URLs, query strings included, to other sites"
			default:
				return "not a Referrer-Policy token"
			}
		}
	case hCOOP:
		return oneOf("same-origin", "same-origin-allow-popups", "noopener-allow-popups", "unsafe-none")
	case hCORP:
		return oneOf("same-origin", "same-site", "cross-origin")
	case hCOEP:
		return oneOf("require-corp", "credentialless", "unsafe-none")
	case hXPermittedCrossDomainPolicies:
		return oneOf("none", "master-only", "by-content-type", "by-ftp-filename", "all")
	case hPermissionsPolicy:
		return checkPermissionsPolicy(v)
	case hHSTS:
		return "Strict-Transport-Security applies to the whole host; set it in Config"
	}
	return ""
}

// checkPermissionsPolicy checks the shape of a Permissions-Policy
// structured-field dictionary: comma-separated feature=allowlist members
// with lower-case feature names.
func checkPermissionsPolicy(v string) string {
	seen := map[string]bool{}
	for member := range strings.SplitSeq(v, ",") {
		name, allow, ok := strings.Cut(strings.TrimSpace(member), "=")
		if !ok || allow == "" {
			return "each member must be feature=allowlist, as in camera=()"
		}
		for i := 0; i < len(name); i++ {
			if c := name[i]; !('a' <= c && c <= 'z') && !isDigit(c) && c != '-' {
				return "feature names are lower-case letters, digits and hyphens"
			}
		}
		if name == "" || seen[name] {
			return "empty or repeated feature"
		}
		seen[name] = true
		if allow[0] == '(' && allow[len(allow)-1] != ')' {
			return "unterminated allowlist"
		}
	}
	return ""
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !isDigit(c) && !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return s != ""
}
