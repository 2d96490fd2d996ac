package cors

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/bulwark-go/bulwark/problem"
	"github.com/bulwark-go/bulwark/secevent"
)

// CORS is a checked CORS policy. Create it with [New]; it is immutable and
// safe for concurrent use.
type CORS struct {
	allowAll    bool
	match       matcher
	methods     []string
	headers     []string // lower case, sorted, unique
	credentials bool
	reject      bool
	csrf        *http.CrossOriginProtection
	onError     problem.ErrorHandler

	// The response header values, built once in New and shared by every
	// response (read-only: a later append by another layer copies).
	allowOriginAll, allowCredentials, exposed, maxAge []string

	varyActual    []string
	varyPreflight []string

	// Refusals are answered with these preallocated errors, so that a
	// flood of refused requests allocates nothing for them.
	errOrigin, errOriginPreflight, errMethod, errHeaders, errHeadersTooLarge, errCSRF *RequestError
}

var _ interface {
	Handler(http.Handler) http.Handler
	Check(*http.Request) error
} = (*CORS)(nil)

// New checks cfg and returns the policy, or every problem found joined with
// errors.Join, each a [*ConfigError].
func New(cfg Config) (*CORS, error) {
	s, errs := cfg.validate()
	var csrf *http.CrossOriginProtection
	if cfg.CrossOriginProtection {
		csrf = http.NewCrossOriginProtection()
		for _, p := range s.patterns {
			if p.wildcard() {
				continue // matched by the allow-list before csrf runs
			}
			if err := csrf.AddTrustedOrigin(p.exact); err != nil {
				errs = append(errs, &ConfigError{Field: "Origins", Value: p.exact, Err: ErrCrossOriginProtectionSet})
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c := &CORS{
		allowAll:      cfg.DangerouslyAllowAllOrigins,
		match:         newMatcher(s.patterns),
		methods:       s.methods,
		headers:       s.headers,
		credentials:   cfg.AllowCredentials,
		reject:        cfg.RejectRefusedPreflights,
		csrf:          csrf,
		onError:       problem.Or(cfg.ErrorHandler),
		varyActual:    []string{"Origin"},
		varyPreflight: []string{"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"},

		errOrigin:          &RequestError{Err: ErrOriginNotAllowed},
		errOriginPreflight: &RequestError{Err: ErrOriginNotAllowed, Preflight: true},
		errMethod:          &RequestError{Err: ErrMethodNotAllowed, Preflight: true},
		errHeaders:         &RequestError{Err: ErrHeadersNotAllowed, Preflight: true},
		errHeadersTooLarge: &RequestError{Err: ErrHeadersTooLarge, Preflight: true},
		errCSRF:            &RequestError{Err: ErrCrossOriginRequest},
	}
	c.allowOriginAll, c.allowCredentials = []string{"*"}, []string{"true"}
	if len(s.exposed) > 0 {
		c.exposed = []string{strings.Join(s.exposed, ", ")}
	}
	switch {
	case s.maxAge > 0:
		c.maxAge = []string{strconv.Itoa(s.maxAge)}
	case s.maxAge < 0:
		c.maxAge = []string{"0"}
	}
	return c, nil
}

// Allows reports whether a page on origin (an Origin header value) may read
// responses. The comparison is byte for byte: browsers send origins in lower
// case, and anything else does not match.
func (c *CORS) Allows(origin string) bool {
	return c.allowAll || c.match.match(origin)
}

// kind classifies a request for the handler.
type kind uint8

const (
	kindOther     kind = iota // no Origin, or a same-origin request
	kindActual                // a cross-origin request that is not a preflight
	kindPreflight             // OPTIONS with Origin and Access-Control-Request-Method
)

// Check decides a request without writing anything. It returns nil for a
// request that is not cross-origin and for an allowed one; otherwise a
// [*RequestError] whose Err is ErrOriginNotAllowed, ErrMethodNotAllowed,
// ErrHeadersNotAllowed, ErrHeadersTooLarge or ErrCrossOriginRequest.
func (c *CORS) Check(r *http.Request) error {
	_, err := c.check(r)
	return err
}

func (c *CORS) check(r *http.Request) (kind, error) {
	origins := r.Header["Origin"]
	if len(origins) == 0 {
		return kindOther, c.checkCSRF(r, false)
	}
	if r.Method == http.MethodOptions {
		if acrm := r.Header["Access-Control-Request-Method"]; len(acrm) > 0 {
			return kindPreflight, c.checkPreflight(r, origins, acrm)
		}
	}
	if len(origins) != 1 || !c.Allows(origins[0]) {
		if len(origins) == 1 && sameOrigin(r, origins[0]) {
			return kindOther, c.checkCSRF(r, false)
		}
		if err := c.checkCSRF(r, false); err != nil {
			return kindActual, err
		}
		return kindActual, c.errOrigin
	}
	// Origins in the list are trusted for unsafe methods too; allowing every
	// origin to read is not trusting every origin to write.
	return kindActual, c.checkCSRF(r, !c.allowAll)
}

// checkCSRF applies CrossOriginProtection; trusted means the origin matched
// the allow-list (wildcards included).
func (c *CORS) checkCSRF(r *http.Request, trusted bool) error {
	if c.csrf == nil || trusted {
		return nil
	}
	if c.csrf.Check(r) != nil {
		return c.errCSRF
	}
	return nil
}

func (c *CORS) checkPreflight(r *http.Request, origins, acrm []string) error {
	if len(origins) != 1 || !c.Allows(origins[0]) {
		return c.errOriginPreflight
	}
	if len(acrm) != 1 || !methodIn(c.methods, acrm[0]) {
		return c.errMethod
	}
	acrh := r.Header["Access-Control-Request-Headers"]
	switch len(acrh) {
	case 0:
		return nil
	case 1:
	default:
		// Browsers send one line; repeats only multiply parsing work.
		return c.errHeadersTooLarge
	}
	v := acrh[0]
	if len(v) > MaxRequestHeadersBytes {
		return c.errHeadersTooLarge
	}
	if strings.Count(v, ",") >= len(c.headers) && strings.TrimLeft(v, " \t") != "" {
		// More names than are allowed cannot all be allowed: refused
		// without parsing.
		return c.errHeaders
	}
	if !c.headersAllowed(v) {
		return c.errHeaders
	}
	return nil
}

func methodIn(methods []string, m string) bool {
	for _, x := range methods {
		if x == m {
			return true
		}
	}
	return false
}

// headersAllowed parses an Access-Control-Request-Headers value the way the
// Fetch standard produces it (lower-case names, sorted, unique, separated by
// commas with optional whitespace) and reports whether every name is
// allowed. The caller has bounded its length.
func (c *CORS) headersAllowed(v string) bool {
	last := -1
	for more := v != ""; more; {
		var name string
		name, v, more = strings.Cut(v, ",")
		name = strings.Trim(name, " \t")
		if name == "" {
			return false // an empty element, leading, doubled or trailing
		}
		i := indexOf(c.headers, name)
		if i <= last {
			return false // unknown, repeated or out of order
		}
		last = i
	}
	return true
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// sameOrigin reports whether origin names the request's own host. Browsers
// send Origin on same-origin POSTs too; those are not CORS requests and must
// not be reported as refused. The scheme is not compared (the Host header
// carries none), which matters only for the security event.
func sameOrigin(r *http.Request, origin string) bool {
	if site := r.Header["Sec-Fetch-Site"]; len(site) > 0 {
		return site[0] == "same-origin"
	}
	_, host, ok := strings.Cut(origin, "://")
	return ok && host != "" && host == r.Host
}

// Handler returns next wrapped in the CORS policy:
//
//   - every response gets Vary: Origin (preflights also name the
//     Access-Control-Request-* headers), refused or not, so caches never serve
//     one origin's answer to another;
//   - an allowed request gets the Access-Control-* headers rs/cors would
//     write for the same policy (a differential test holds the two to the
//     same bytes), and an allowed preflight is answered with 204 without
//     calling next;
//   - a refused preflight is answered with 204 and no CORS headers, or through
//     ErrorHandler when RejectRefusedPreflights is set;
//   - a refused non-preflight request continues to next without CORS headers
//     (the browser keeps the response from the page), unless
//     CrossOriginProtection refuses it, which goes to ErrorHandler.
//
// Refusals of an origin and oversized preflights are reported as a
// [secevent.MaliciousCORS] event.
//
// The request has been checked in full before anything is written, so the
// headers are written from values built in New, with no second parse of
// the request (which is what made the wrapper over rs/cors slower than
// rs/cors alone).
func (c *CORS) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, err := c.check(r)
		if err == nil {
			switch k {
			case kindPreflight:
				c.allowPreflight(w.Header(), r)
				w.WriteHeader(http.StatusNoContent)
				return
			case kindActual:
				c.allowActual(w.Header(), r)
			default:
				addVary(w.Header(), c.varyActual)
			}
			next.ServeHTTP(w, r)
			return
		}
		c.report(r, err)
		if k == kindPreflight {
			addVary(w.Header(), c.varyPreflight)
			if c.reject {
				c.onError(w, r, err)
				return
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		addVary(w.Header(), c.varyActual)
		if err == c.errCSRF {
			c.onError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// allowActual writes the headers of an allowed cross-origin request. As
// in rs/cors, a method outside Methods gets none (only Vary): the Fetch
// standard lets a server decline any method.
func (c *CORS) allowActual(h http.Header, r *http.Request) {
	addVary(h, c.varyActual)
	if r.Method != http.MethodOptions && !methodIn(c.methods, r.Method) {
		return
	}
	c.allowOrigin(h, r)
	if c.exposed != nil {
		h["Access-Control-Expose-Headers"] = c.exposed
	}
}

// allowOrigin writes the headers every allowed answer carries: the origin
// (or *) and, with credentials, Access-Control-Allow-Credentials.
func (c *CORS) allowOrigin(h http.Header, r *http.Request) {
	if c.allowAll {
		h["Access-Control-Allow-Origin"] = c.allowOriginAll
	} else {
		h["Access-Control-Allow-Origin"] = r.Header["Origin"]
	}
	if c.credentials {
		h["Access-Control-Allow-Credentials"] = c.allowCredentials
	}
}

// allowPreflight writes the answer to an allowed preflight: the method and
// headers it asked for (check has accepted both), as the Fetch standard
// allows.
func (c *CORS) allowPreflight(h http.Header, r *http.Request) {
	addVary(h, c.varyPreflight)
	c.allowOrigin(h, r)
	h["Access-Control-Allow-Methods"] = r.Header["Access-Control-Request-Method"]
	if acrh := r.Header["Access-Control-Request-Headers"]; len(acrh) > 0 && acrh[0] != "" {
		h["Access-Control-Allow-Headers"] = acrh
	}
	if c.maxAge != nil {
		h["Access-Control-Max-Age"] = c.maxAge
	}
}

func addVary(h http.Header, v []string) {
	if old, ok := h["Vary"]; ok {
		h["Vary"] = append(old, v[0])
		return
	}
	h["Vary"] = v
}

// maxEventOrigin bounds the Origin value copied into a security event.
const maxEventOrigin = 256

// report emits the security event for a refusal. Method and header
// mismatches from an allowed origin are configuration drift, not attacks,
// and are not reported.
func (c *CORS) report(r *http.Request, err error) {
	var reason string
	switch {
	case errors.Is(err, ErrOriginNotAllowed):
		reason = "origin not allowed"
	case errors.Is(err, ErrHeadersTooLarge):
		reason = "preflight request headers over limit"
	case errors.Is(err, ErrCrossOriginRequest):
		reason = "cross-origin unsafe request refused"
	default:
		return
	}
	ctx := r.Context()
	if _, ok := secevent.FromContext(ctx); !ok {
		return // nobody records events: build nothing
	}
	origin := ""
	if o := r.Header["Origin"]; len(o) > 0 {
		origin = o[0]
		if len(origin) > maxEventOrigin {
			origin = origin[:maxEventOrigin]
		}
	}
	secevent.Emit(ctx, secevent.Event{
		Name:   secevent.MaliciousCORS,
		Reason: reason,
		Attrs: []slog.Attr{
			slog.String("origin", origin),
			slog.Int("origins", len(r.Header["Origin"])),
			slog.Bool("preflight", r.Method == http.MethodOptions && len(r.Header["Access-Control-Request-Method"]) > 0),
		},
	})
}
