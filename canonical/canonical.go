package canonical

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/bulwark-go/bulwark/internal/token"
	"github.com/bulwark-go/bulwark/problem"
	"github.com/bulwark-go/bulwark/secevent"
)

// OverrideHeaders returns the request headers that ask a framework to run
// another method or path than the request line's. [Canonicalizer.Request]
// removes them unless [Config.DangerouslyKeepOverrideHeaders] is set.
func OverrideHeaders() []string {
	return []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override", "X-Original-URL", "X-Rewrite-URL"}
}

// ProxyIdentityHeaders returns the request headers through which
// authenticating proxies (oauth2-proxy, nginx auth_request, Apache, Kong,
// Azure App Service, Google IAP, AWS ALB, Cloudflare Access) tell their
// upstream who the user is. A hop that authenticates itself lists them in
// [Config.StripHeaders]: a client's copy is an attempt to be believed by
// an upstream written for one of those proxies. bulwark serve does so, and
// package probe sends them to check that an API does.
func ProxyIdentityHeaders() []string {
	return []string{
		"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Preferred-Username", "X-Forwarded-Groups", "X-Forwarded-Access-Token",
		"X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Preferred-Username", "X-Auth-Request-Groups", "X-Auth-Request-Access-Token",
		"Remote-User", "X-Remote-User", "X-Remote-Group", "X-User", "X-User-Id", "X-Authenticated-User", "X-Authenticated-Userid",
		"X-Authenticated-Scope", "X-Consumer-Id", "X-Consumer-Username", "X-Consumer-Custom-Id", "X-Credential-Identifier", "X-Userinfo",
		"X-Ms-Client-Principal", "X-Ms-Client-Principal-Id", "X-Ms-Client-Principal-Name", "X-Ms-Client-Principal-Idp",
		"X-Goog-Authenticated-User-Email", "X-Goog-Authenticated-User-Id", "X-Goog-Iap-Jwt-Assertion",
		"X-Amzn-Oidc-Identity", "X-Amzn-Oidc-Data", "X-Amzn-Oidc-Accesstoken",
		"Cf-Access-Authenticated-User-Email", "Cf-Access-Jwt-Assertion",
	}
}

// Config configures a [Canonicalizer]. The zero value is the safe choice
// for every field. [New] copies it.
type Config struct {
	// KeepRepeatedSlashes keeps empty path segments: "/a//b" stays as it
	// is. Default false: repeated slashes are merged into one, as nginx's
	// and Envoy's merge_slashes do, so that "/admin//x" and "/admin/x" are
	// one path to every hop.
	KeepRepeatedSlashes bool

	// UnderscoreHeaders lists request header names that contain "_" and
	// are kept (matched without regard to case). Every other header whose
	// name contains "_" is removed: CGI, WSGI, Rack and PHP read "X_Foo"
	// as "X-Foo", so a client could send a header under a spelling no
	// check looked at. Default empty. A name that reads as one of the
	// removed headers is refused by [New].
	UnderscoreHeaders []string

	// StripHeaders lists more request headers to remove in every spelling
	// (any case, "_" for "-"): the identity headers a proxy writes for its
	// upstream, for instance. A copy sent by the client is an attempt to
	// speak for the proxy, and is reported as a malicious_extraneous
	// security event. Default empty.
	StripHeaders []string

	// DangerouslyKeepOverrideHeaders keeps [OverrideHeaders]. Default
	// false: they are removed in every spelling, because a framework that
	// honours X-HTTP-Method-Override: DELETE or X-Original-URL: /admin runs
	// a method or path that no route's checks saw.
	DangerouslyKeepOverrideHeaders bool

	// ErrorHandler answers a refused request. Default
	// [problem.WriteError]: a 400 problem naming the rule the path broke.
	ErrorHandler problem.ErrorHandler
}

// Canonicalizer puts requests into canonical form. Build one with [New];
// it is immutable and safe for concurrent use.
type Canonicalizer struct {
	keepSlashes bool
	underscore  []string // folded: lower case, "_" kept
	strip       []string // folded: lower case, "_" read as "-"
	spoof       []bool   // per strip entry: report its arrival
	names       []string // per strip entry: the name as configured, for events
	errh        problem.ErrorHandler
}

// New checks cfg and returns a [Canonicalizer]. Every problem found is
// returned, joined; each is a [*ConfigError].
func New(cfg Config) (*Canonicalizer, error) {
	c := &Canonicalizer{keepSlashes: cfg.KeepRepeatedSlashes, errh: problem.Or(cfg.ErrorHandler)}
	var errs []error
	add := func(list []string, spoof bool) {
		for _, n := range list {
			c.strip = append(c.strip, fold(n))
			c.spoof = append(c.spoof, spoof)
			c.names = append(c.names, http.CanonicalHeaderKey(n))
		}
	}
	for _, n := range cfg.StripHeaders {
		if !token.Valid(n) {
			errs = append(errs, &ConfigError{Field: "StripHeaders", Value: n, Reason: "not a valid header name"})
		}
	}
	add(cfg.StripHeaders, true)
	if !cfg.DangerouslyKeepOverrideHeaders {
		add(OverrideHeaders(), false)
	}
	for _, n := range cfg.UnderscoreHeaders {
		switch {
		case !token.Valid(n):
			errs = append(errs, &ConfigError{Field: "UnderscoreHeaders", Value: n, Reason: "not a valid header name"})
		case !strings.Contains(n, "_"):
			errs = append(errs, &ConfigError{Field: "UnderscoreHeaders", Value: n, Reason: "has no underscore; only such names are removed"})
		case c.stripped(n) >= 0:
			errs = append(errs, &ConfigError{Field: "UnderscoreHeaders", Value: n, Reason: "reads as a header that is always removed"})
		default:
			c.underscore = append(c.underscore, strings.ToLower(n))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// fold is a header name as a CGI-style next hop reads it: lower case, with
// "_" for "-".
func fold(n string) string {
	b := []byte(strings.ToLower(n))
	for i, c := range b {
		if c == '_' {
			b[i] = '-'
		}
	}
	return string(b)
}

// foldEqual reports whether name folds to folded.
func foldEqual(name, folded string) bool {
	if len(name) != len(folded) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_':
			c = '-'
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if c != folded[i] {
			return false
		}
	}
	return true
}

// stripped returns the index of the strip entry name reads as, or -1.
func (c *Canonicalizer) stripped(name string) int {
	for i, s := range c.strip {
		if foldEqual(name, s) {
			return i
		}
	}
	return -1
}

// Path returns the canonical form of an escaped path (as it appeared on
// the request line, without the query): the escaped form to send on and
// the decoded form to match routes against. A refused path is a
// [*PathError].
func (c *Canonicalizer) Path(escapedPath string) (escaped, decoded string, err error) {
	escaped, decoded, err = clean(escapedPath, c.keepSlashes)
	if err != nil {
		return "", "", &PathError{Err: err}
	}
	return escaped, decoded, nil
}

// wirePath is the path as the request line had it. The server's parser
// keeps it in RawPath whenever it differs from the default escaping of
// Path, valid or not; otherwise that default escaping is the wire form.
func wirePath(r *http.Request) string {
	if r.URL.RawPath != "" {
		return r.URL.RawPath
	}
	return r.URL.EscapedPath()
}

// RequestPath returns r with its path in canonical form: URL.Path decoded,
// URL.RawPath escaped (or empty when it is the default escaping),
// RequestURI rebuilt. A request whose path is already canonical is
// returned as it is. A refused path is a [*PathError], and r is returned.
// r itself is never changed.
func (c *Canonicalizer) RequestPath(r *http.Request) (*http.Request, error) {
	wire := wirePath(r)
	escaped, decoded, err := c.Path(wire)
	if err != nil {
		return r, err
	}
	if escaped == wire && decoded == r.URL.Path {
		return r, nil
	}
	r2 := r.WithContext(r.Context()) // a shallow copy
	u := *r.URL
	u.Path, u.RawPath = decoded, ""
	if escaped != decoded {
		u.RawPath = escaped
	}
	r2.URL = &u
	if r.RequestURI != "" {
		r2.RequestURI = u.RequestURI()
	}
	return r2, nil
}

// RequestHeaders returns r without the request headers the [Config] says
// to remove. A request that has none of them is returned as it is; r
// itself is never changed. A client's copy of a [Config.StripHeaders]
// header is reported as a malicious_extraneous event in r's context.
func (c *Canonicalizer) RequestHeaders(r *http.Request) *http.Request {
	dirty := false
	for k := range r.Header {
		if c.drop(k) {
			dirty = true
			break
		}
	}
	if !dirty {
		return r
	}
	r2 := r.WithContext(r.Context())
	r2.Header = make(http.Header, len(r.Header))
	var spoofed []string
	for k, v := range r.Header {
		if !c.drop(k) {
			r2.Header[k] = v
			continue
		}
		if i := c.stripped(k); i >= 0 && c.spoof[i] {
			spoofed = append(spoofed, c.names[i])
		}
	}
	for _, n := range spoofed {
		secevent.Emit(r.Context(), secevent.Event{
			Name:   secevent.MaliciousExtraneous,
			Reason: "client sent a header only the proxy may write",
			Attrs:  []slog.Attr{slog.String("header", n)},
		})
	}
	return r2
}

// drop reports whether the header named k is removed.
func (c *Canonicalizer) drop(k string) bool {
	if strings.IndexByte(k, '_') >= 0 {
		for _, u := range c.underscore {
			if len(u) == len(k) && strings.EqualFold(u, k) {
				return false
			}
		}
		return true
	}
	return c.stripped(k) >= 0
}

// Request is [Canonicalizer.RequestPath] and then
// [Canonicalizer.RequestHeaders].
func (c *Canonicalizer) Request(r *http.Request) (*http.Request, error) {
	r2, err := c.RequestPath(r)
	if err != nil {
		return r, err
	}
	return c.RequestHeaders(r2), nil
}

// Handler returns middleware that hands next the canonical request, and
// refuses a path that has no canonical form through [Config.ErrorHandler],
// after an input_validation_fail event.
func (c *Canonicalizer) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		CloseIfChunked(w, r)
		r2, err := c.Request(r)
		if err != nil {
			c.Refuse(w, r, err)
			return
		}
		next.ServeHTTP(w, r2)
	})
}

// CloseIfChunked makes the server close the connection after answering r
// when r's body is framed by Transfer-Encoding on HTTP/1.x. net/http drops
// a Content-Length sent beside Transfer-Encoding without a trace, so no
// handler can tell the two apart; RFC 9112 §6.1 says a server that reads
// such a message as chunked MUST close the connection after answering it,
// or a hop in front that framed it by Content-Length has a second request
// smuggled through on the same connection (CL.TE, TE.CL). The cost is one
// new connection after each chunked upload, which HTTP/2 never pays.
// [Canonicalizer.Handler] calls it; a stack that calls
// [Canonicalizer.Request] itself calls it first.
func CloseIfChunked(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 && len(r.TransferEncoding) > 0 {
		w.Header().Set("Connection", "close")
	}
}

// Refuse reports err, a refusal by [Canonicalizer.Request], as an
// input_validation_fail event and answers it through
// [Config.ErrorHandler]. It is for stacks that call Request themselves.
func (c *Canonicalizer) Refuse(w http.ResponseWriter, r *http.Request, err error) {
	reason := "path not canonical"
	var pe *PathError
	if errors.As(err, &pe) {
		reason = "path not canonical: " + pe.Reason()
	}
	secevent.Emit(r.Context(), secevent.Event{
		Name: secevent.InputValidationFail, Reason: reason,
		Attrs: []slog.Attr{slog.String("check", "path")},
	})
	c.errh(w, r, err)
}
