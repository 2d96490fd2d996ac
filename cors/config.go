package cors

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-go/bulwark/problem"
)

// Defaults and limits applied by [New].
const (
	// DefaultMaxAge is the Access-Control-Max-Age sent when [Config.MaxAge]
	// is zero.
	DefaultMaxAge = 600 * time.Second
	// MaxMaxAge is the largest accepted [Config.MaxAge]. Chromium caps
	// preflight results at two hours anyway; longer values only delay a fix.
	MaxMaxAge = 24 * time.Hour
	// MaxRequestHeadersBytes bounds the total length of a preflight's
	// Access-Control-Request-Headers. A longer value is refused before it is
	// parsed.
	MaxRequestHeadersBytes = 1024
)

// Config configures [New]. The zero value is not usable: at least one origin
// (or the explicit [Config.DangerouslyAllowAllOrigins]) is required. New
// copies the Config; changing it afterwards has no effect.
type Config struct {
	// Origins lists the origins whose pages may read responses, each as a
	// browser serializes it in the Origin header: "https://app.example.com",
	// "http://localhost:5173", "https://[2001:db8::1]:8443". Lower case, no
	// trailing slash, no path, no default port.
	//
	// "https://*.example.com" allows every subdomain of example.com, at any
	// depth, on a label boundary, but not example.com itself and not another
	// port. A wildcard must not cover a public suffix ("https://*.com",
	// "https://*.co.uk", "https://*.github.io") and may only be the whole
	// leftmost label.
	//
	// Required: an empty list is an error, never "allow all". "null" is
	// always refused: it is the origin of sandboxed iframes, file: pages
	// and redirected requests, which any site can produce.
	Origins []string

	// DangerouslyAllowAllOrigins answers every origin with
	// "Access-Control-Allow-Origin: *": any page on the web can read the
	// responses. Use it only for public, unauthenticated data. It cannot be
	// combined with Origins or AllowCredentials. Default false.
	DangerouslyAllowAllOrigins bool

	// AllowCredentials lets allowed origins send cookies, TLS client
	// certificates and HTTP authentication, and read the answers
	// ("Access-Control-Allow-Credentials: true"). Every allowed origin can
	// then act as the signed-in user, so New refuses http:// origins with
	// it (a network attacker can inject script into them). Default false.
	AllowCredentials bool

	// InsecureAllowLoopbackHTTP accepts http:// origins on loopback hosts
	// (localhost, *.localhost, 127.0.0.0/8, [::1]) together with
	// AllowCredentials, for local development. Other http:// origins are
	// still refused with credentials. Default false.
	InsecureAllowLoopbackHTTP bool

	// Methods lists the methods allowed in cross-origin requests, compared
	// case-sensitively. Default: GET, HEAD and POST. CONNECT, TRACE and
	// TRACK are refused; "*" is refused.
	Methods []string

	// Headers lists the request header names scripts on allowed origins may
	// send (beyond the CORS-safelisted ones), in any case: they are matched
	// against the lower-case, sorted, comma-separated list browsers send in
	// Access-Control-Request-Headers, and any other form is refused.
	// Default: none. List "Content-Type" to allow JSON bodies. Forbidden
	// header names (Cookie, Host, Origin, Sec-*, Proxy-*, …) and "*" are
	// refused.
	Headers []string

	// ExposedHeaders lists response header names scripts may read beyond
	// the CORS-safelisted ones. Default: none. Set-Cookie and "*" are
	// refused.
	ExposedHeaders []string

	// MaxAge is how long a browser may cache a preflight result, in whole
	// seconds. Zero means [DefaultMaxAge] (600 s); a negative value sends
	// "Access-Control-Max-Age: 0" (no caching); more than [MaxMaxAge] is an
	// error.
	MaxAge time.Duration

	// RejectRefusedPreflights answers a refused preflight through
	// ErrorHandler (by default 403 Forbidden as problem+json) instead of
	// 204 No Content without CORS headers. The browser blocks the request
	// either way; the 403 makes the refusal visible in its network panel.
	// Refused non-preflight requests always continue, without CORS headers.
	// Default false.
	RejectRefusedPreflights bool

	// CrossOriginProtection adds CSRF protection with Go's
	// [http.CrossOriginProtection]: a request with an unsafe method (POST,
	// PUT, PATCH, DELETE, …) sent by a browser from another origin is
	// refused with ErrorHandler (403) unless its origin is in Origins. This
	// stops the form posts and text/plain fetches that CORS never sees,
	// because they need no preflight. Strongly recommended together with
	// AllowCredentials or cookie sessions. Default false.
	CrossOriginProtection bool

	// ErrorHandler writes the response for a refused request that is
	// answered (see RejectRefusedPreflights and CrossOriginProtection). The
	// error is a [*RequestError]. Default [problem.WriteError]: 403 as
	// application/problem+json, echoing nothing from the request.
	ErrorHandler problem.ErrorHandler
}

// forbiddenRequestHeader reports whether lower is one of the Fetch
// standard's forbidden request-header names: a script can never set them, so
// allowing them is a mistake.
func forbiddenRequestHeader(lower string) bool {
	switch lower {
	case "accept-charset", "accept-encoding", "access-control-request-headers",
		"access-control-request-method", "access-control-request-private-network",
		"connection", "content-length", "cookie", "cookie2", "date", "dnt",
		"expect", "host", "keep-alive", "origin", "referer", "set-cookie", "te",
		"trailer", "transfer-encoding", "upgrade", "via":
		return true
	}
	return strings.HasPrefix(lower, "proxy-") || strings.HasPrefix(lower, "sec-")
}

// settings is a validated Config, ready for New.
type settings struct {
	patterns []pattern
	methods  []string
	headers  []string // lower case, sorted, unique
	exposed  []string
	maxAge   int // seconds; -1 for "0"
}

// validate checks every field and returns all problems.
func (c *Config) validate() (settings, []error) {
	var s settings
	var errs []error
	add := func(field, value string, err error) {
		errs = append(errs, &ConfigError{Field: field, Value: value, Err: err})
	}

	switch {
	case c.DangerouslyAllowAllOrigins && len(c.Origins) > 0:
		add("DangerouslyAllowAllOrigins", "", ErrAllowAllWithOrigins)
	case !c.DangerouslyAllowAllOrigins && len(c.Origins) == 0:
		add("Origins", "", ErrNoOrigins)
	}
	if c.DangerouslyAllowAllOrigins && c.AllowCredentials {
		add("DangerouslyAllowAllOrigins", "", ErrAllowAllWithCredentials)
	}
	seen := make(map[string]bool, len(c.Origins))
	for i, o := range c.Origins {
		field := "Origins[" + strconv.Itoa(i) + "]"
		p, err := parsePattern(o)
		switch {
		case err != nil:
			add(field, o, err)
			continue
		case seen[o]:
			add(field, o, ErrDuplicate)
			continue
		case c.AllowCredentials && p.scheme == "http" &&
			!(c.InsecureAllowLoopbackHTTP && !p.wildcard() && isLoopback(p.host)):
			add(field, o, ErrInsecureWithCredentials)
			continue
		}
		seen[o] = true
		s.patterns = append(s.patterns, p)
	}

	s.methods = []string{http.MethodGet, http.MethodHead, http.MethodPost}
	if len(c.Methods) > 0 {
		s.methods = nil
		for i, m := range c.Methods {
			field := "Methods[" + strconv.Itoa(i) + "]"
			if err := checkMethod(m); err != nil {
				add(field, m, err)
			} else if slices.Contains(s.methods, m) {
				add(field, m, ErrDuplicate)
			} else {
				s.methods = append(s.methods, m)
			}
		}
	}

	for i, h := range c.Headers {
		field := "Headers[" + strconv.Itoa(i) + "]"
		lower := strings.ToLower(h)
		if err := checkRequestHeader(h, lower); err != nil {
			add(field, h, err)
		} else if slices.Contains(s.headers, lower) {
			add(field, h, ErrDuplicate)
		} else {
			s.headers = append(s.headers, lower)
		}
	}
	slices.Sort(s.headers)

	for i, h := range c.ExposedHeaders {
		field := "ExposedHeaders[" + strconv.Itoa(i) + "]"
		canon := http.CanonicalHeaderKey(h)
		switch {
		case h == "*":
			add(field, h, ErrHeaderWildcard)
		case !isToken(h):
			add(field, h, ErrInvalidHeaderName)
		case canon == "Set-Cookie" || canon == "Set-Cookie2":
			add(field, h, ErrForbiddenHeader)
		case slices.Contains(s.exposed, canon):
			add(field, h, ErrDuplicate)
		default:
			s.exposed = append(s.exposed, canon)
		}
	}

	switch {
	case c.MaxAge == 0:
		s.maxAge = int(DefaultMaxAge / time.Second)
	case c.MaxAge < 0:
		s.maxAge = -1
	case c.MaxAge > MaxMaxAge || c.MaxAge%time.Second != 0:
		add("MaxAge", c.MaxAge.String(), ErrMaxAgeRange)
	default:
		s.maxAge = int(c.MaxAge / time.Second)
	}
	return s, errs
}

func checkMethod(m string) error {
	if m == "*" {
		return ErrMethodWildcard
	}
	if !isToken(m) {
		return ErrInvalidMethod
	}
	switch up := strings.ToUpper(m); up {
	case "CONNECT", "TRACE", "TRACK":
		return ErrForbiddenMethod
	case "DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT":
		if up != m {
			return ErrMethodNotNormalized
		}
	}
	return nil
}

func checkRequestHeader(h, lower string) error {
	switch {
	case h == "*":
		return ErrHeaderWildcard
	case !isToken(h):
		return ErrInvalidHeaderName
	case forbiddenRequestHeader(lower):
		return ErrForbiddenHeader
	}
	return nil
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
