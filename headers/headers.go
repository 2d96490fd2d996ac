package headers

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/bulwark-go/bulwark/clientip"
	"github.com/bulwark-go/bulwark/internal/forwarded"
	"github.com/bulwark-go/bulwark/internal/reqctx"
	"github.com/bulwark-go/bulwark/problem"
	"github.com/bulwark-go/bulwark/secevent"
)

// hdr indexes the headers this package manages.
type hdr uint8

const (
	hHSTS hdr = iota
	hCSP
	hXContentTypeOptions
	hXFrameOptions
	hReferrerPolicy
	hCOOP
	hCORP
	hCOEP
	hXPermittedCrossDomainPolicies
	hPermissionsPolicy
	numHdr
)

// hdrName returns the canonical name of managed header i.
func hdrName(i hdr) string {
	switch i {
	case hHSTS:
		return "Strict-Transport-Security"
	case hCSP:
		return "Content-Security-Policy"
	case hXContentTypeOptions:
		return "X-Content-Type-Options"
	case hXFrameOptions:
		return "X-Frame-Options"
	case hReferrerPolicy:
		return "Referrer-Policy"
	case hCOOP:
		return "Cross-Origin-Opener-Policy"
	case hCORP:
		return "Cross-Origin-Resource-Policy"
	case hCOEP:
		return "Cross-Origin-Embedder-Policy"
	case hXPermittedCrossDomainPolicies:
		return "X-Permitted-Cross-Domain-Policies"
	case hPermissionsPolicy:
		return "Permissions-Policy"
	}
	return ""
}

// managedIndex returns the index of a managed header name, in any case.
func managedIndex(name string) (hdr, bool) {
	c := http.CanonicalHeaderKey(name)
	for i := range numHdr {
		if hdrName(i) == c {
			return i, true
		}
	}
	return 0, false
}

// value is a precomputed header value. A value containing [NonceSource]
// is kept split around it so that the nonce is spliced in per response.
type value struct {
	s     string
	parts []string // s split at NonceSource; nil when s has none
}

func newValue(s string) value {
	v := value{s: s}
	// Only a whole source token is the placeholder: a path such as
	// https://a.example/'nonce' is left alone.
	const ph = string(NonceSource)
	start := 0
	for i := 0; i+len(ph) <= len(s); {
		j := strings.Index(s[i:], ph)
		if j < 0 {
			break
		}
		j += i
		end := j + len(ph)
		if j > 0 && s[j-1] == ' ' && (end == len(s) || s[end] == ' ' || s[end] == ';') {
			v.parts = append(v.parts, s[start:j])
			start = end
		}
		i = end
	}
	if v.parts != nil {
		v.parts = append(v.parts, s[start:])
	}
	return v
}

// profile holds the values of one response profile; an empty value is not
// sent.
type profile [numHdr]value

// Headers is the security-headers middleware. Build one with [New]; it is
// immutable and safe for concurrent use.
type Headers struct {
	api, html    profile
	names        [numHdr]string
	strip        []string
	stripAll     []string // strip, and strip as trailers (http.TrailerPrefix+name)
	hosts        hostMatcher
	trusted      clientip.Trusted
	proxy        string
	requireHTTPS bool
	redirect     bool
	errh         problem.ErrorHandler
}

// New checks cfg and returns the middleware. Every problem found is
// returned, joined; each is a [*ConfigError]. All header values are
// computed here, once.
func New(cfg Config) (*Headers, error) {
	errs := cfg.validate()
	trusted, err := clientip.NewTrusted(cfg.TrustedProxies)
	if err != nil {
		errs = append(errs, &ConfigError{Field: "TrustedProxies", Reason: "invalid prefix", Err: err})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	h := &Headers{
		trusted:      trusted,
		proxy:        cfg.ProxyHeader,
		requireHTTPS: cfg.RequireHTTPS,
		redirect:     cfg.RedirectHTTP,
		errh:         problem.Or(cfg.ErrorHandler),
	}
	for i := range numHdr {
		h.names[i] = hdrName(i)
	}
	for _, p := range cfg.AllowedHosts {
		hp, _ := parseHostPattern(p) // validated above
		h.hosts.patterns = append(h.hosts.patterns, hp)
	}
	for _, s := range append(DefaultStripHeaders(), cfg.StripHeaders...) {
		k := http.CanonicalHeaderKey(s)
		h.strip = append(h.strip, k)
		h.stripAll = append(h.stripAll, k, http.TrailerPrefix+k)
	}

	common := profile{}
	if !cfg.InsecureDisableHSTS {
		maxAge := cfg.HSTSMaxAge
		if maxAge == 0 {
			maxAge = DefaultHSTSMaxAge
		}
		s := "max-age=" + strconv.FormatInt(int64(maxAge.Seconds()), 10)
		if !cfg.InsecureHSTSOmitSubDomains {
			s += "; includeSubDomains"
		}
		if cfg.HSTSPreload {
			s += "; preload"
		}
		common[hHSTS] = newValue(s)
	}
	common[hXContentTypeOptions] = newValue("nosniff")
	common[hXFrameOptions] = newValue("DENY")
	common[hReferrerPolicy] = newValue(or(cfg.ReferrerPolicy, DefaultReferrerPolicy))
	common[hCOOP] = newValue(or(cfg.CrossOriginOpenerPolicy, "same-origin"))
	common[hCORP] = newValue(or(cfg.CrossOriginResourcePolicy, "same-origin"))
	if cfg.CrossOriginEmbedderPolicy != "" {
		common[hCOEP] = newValue(cfg.CrossOriginEmbedderPolicy)
	}
	common[hXPermittedCrossDomainPolicies] = newValue("none")

	h.api, h.html = common, common
	apiCSP, _ := ParseCSP(or(cfg.CSP, DefaultCSP)) // validated above
	h.api[hCSP] = newValue(apiCSP.String())
	htmlCSP, _ := ParseCSP(or(cfg.HTMLCSP, DefaultHTMLCSP))
	h.html[hCSP] = newValue(htmlCSP.String())
	h.html[hPermissionsPolicy] = newValue(or(cfg.PermissionsPolicy, DefaultPermissionsPolicy))
	return h, nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Secure reports whether r arrived over HTTPS: over a TLS connection, or
// from a trusted proxy whose [Config.ProxyHeader] says https. A proxy
// header from any other peer is ignored.
func (h *Headers) Secure(r *http.Request) bool {
	return h.secure(r, h.peerTrusted(r))
}

// peerTrusted reports whether r's proxy headers are to be read.
func (h *Headers) peerTrusted(r *http.Request) bool {
	return h.proxy != "" && h.trusted.PeerTrusted(r)
}

func (h *Headers) secure(r *http.Request, peerTrusted bool) bool {
	if peerTrusted {
		switch h.proxy {
		case XForwardedProto:
			if p, ok := lastListElement(r.Header["X-Forwarded-Proto"]); ok {
				return asciiEqualFold(p, "https")
			}
		case Forwarded:
			if e, ok := forwarded.Last(r.Header["Forwarded"]); ok {
				if !e.Valid {
					return false // garbage from a trusted hop: fail closed
				}
				if e.Proto != "" {
					return asciiEqualFold(e.Proto, "https")
				}
			}
		}
	}
	return r.TLS != nil
}

// host returns the host the client asked for: the trusted proxy's
// forwarded host when there is one, else r.Host.
func (h *Headers) host(r *http.Request, peerTrusted bool) (host string, fromProxy bool) {
	if !peerTrusted {
		return r.Host, false
	}
	switch h.proxy {
	case XForwardedProto:
		if v, ok := lastListElement(r.Header["X-Forwarded-Host"]); ok {
			return v, true
		}
	case Forwarded:
		if e, ok := forwarded.Last(r.Header["Forwarded"]); ok && (e.Host != "" || !e.Valid) {
			return e.Host, true // an invalid element gives "", which no pattern allows
		}
	}
	return r.Host, false
}

// checkHosts checks every host the request names against the allow-list:
// r.Host, which the handler reads, and, from a trusted proxy, every element
// of X-Forwarded-Host and every host= of Forwarded, whichever ProxyHeader
// names. A forwarded host does not stand in for r.Host, and the last
// element does not stand in for the others: the next hop may read any of
// them (frameworks take the first X-Forwarded-Host, others the last), and
// a proxy that passes one through from the client lets the client choose
// it. An invalid Forwarded element is refused.
func (h *Headers) checkHosts(r *http.Request, peerTrusted bool) *HostError {
	if !h.hosts.match(r.Host) {
		return hostError(r.Host, false)
	}
	if !peerTrusted {
		return nil
	}
	for _, v := range r.Header["X-Forwarded-Host"] {
		for e := range strings.SplitSeq(v, ",") {
			if e = strings.TrimSpace(e); e != "" && !h.hosts.match(e) {
				return hostError(e, true)
			}
		}
	}
	var bad *HostError
	forwarded.Walk(r.Header["Forwarded"], func(e forwarded.Element) bool {
		if !e.Valid || e.Host != "" && !h.hosts.match(e.Host) {
			bad = hostError(e.Host, true) // "" for an invalid element
			return false
		}
		return true
	})
	return bad
}

func hostError(host string, fwd bool) *HostError {
	if len(host) > 255 {
		host = host[:255]
	}
	return &HostError{Host: host, Forwarded: fwd}
}

// lastListElement returns the last non-empty element of a comma-separated
// header list: the one the nearest proxy wrote.
func lastListElement(values []string) (string, bool) {
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for v != "" {
			j := strings.LastIndexByte(v, ',')
			if e := strings.TrimSpace(v[j+1:]); e != "" {
				return e, true
			}
			if j < 0 {
				break
			}
			v = v[:j]
		}
	}
	return "", false
}

// Check decides whether r may be served: nil, a [*HostError] when its host
// is not allowed, or an [*InsecureError] when HTTPS is required and r did
// not use it (with a Location to redirect to in browser mode). It does not
// write anything and does not allocate when r is allowed.
func (h *Headers) Check(r *http.Request) error {
	pt := h.peerTrusted(r)
	return h.check(r, pt, h.secure(r, pt))
}

func (h *Headers) check(r *http.Request, peerTrusted, secure bool) error {
	if len(h.hosts.patterns) > 0 {
		if he := h.checkHosts(r, peerTrusted); he != nil {
			return he
		}
	}
	if h.requireHTTPS && !secure {
		if h.redirect && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			host, _ := h.host(r, peerTrusted) // allowed by the check above
			return &InsecureError{Location: "https://" + splitHostPort(host) + r.URL.RequestURI()}
		}
		return &InsecureError{}
	}
	return nil
}

// Handler returns middleware that refuses requests [Headers.Check] refuses
// (through [Config.ErrorHandler]) and applies the security headers to
// every response, refusals included, when it is written.
func (h *Headers) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pt := h.peerTrusted(r)
		secure := h.secure(r, pt)
		st := &state{w: w, h: h, secure: secure}
		r2 := r
		if s := reqctx.From(r.Context()); s == nil || !s.SetHeaders(st) {
			st.ctx.Init(r.Context(), s)
			st.ctx.ForceHeaders(st)
			r2 = r.WithContext(&st.ctx)
		}
		if err := h.check(r, pt, secure); err != nil {
			h.refuse(st, r2, err)
			st.finish()
			return
		}
		next.ServeHTTP(st, r2)
		st.finish()
	})
}

func (h *Headers) refuse(w *state, r *http.Request, err error) {
	var ie *InsecureError
	if errors.As(err, &ie) && ie.Location != "" {
		w.Header().Set("Location", ie.Location)
		w.WriteHeader(http.StatusPermanentRedirect)
		return
	}
	ev := secevent.Event{Name: secevent.InputValidationFail}
	if ie != nil {
		ev.Reason = "plain-HTTP request refused"
		ev.Attrs = []slog.Attr{slog.String("check", "https"), slog.String("method", boundedMethod(r.Method))}
	} else {
		ev.Reason = "host not allowed"
		ev.Attrs = []slog.Attr{slog.String("check", "host")}
	}
	secevent.Emit(r.Context(), ev)
	h.errh(w, r, err)
}

// boundedMethod returns a standard method name as is and "other" for
// anything else, so that events never carry unbounded input.
func boundedMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// isHTML reports whether a Content-Type value is an HTML document type.
func isHTML(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(mt)
	return asciiEqualFold(mt, "text/html") || asciiEqualFold(mt, "application/xhtml+xml")
}

// apply writes the security headers into the response header map. It
// runs once per response, just before the status line is written.
func (s *state) apply() {
	s.applied = true
	s.stripFingerprints()
	h := s.w.Header()
	if tr := h["Trailer"]; len(tr) > 0 {
		if a := s.h.announced(tr); len(a) > 0 {
			h["Trailer"] = a
		} else {
			delete(h, "Trailer")
		}
	}
	prof := &s.h.api
	if ct := h["Content-Type"]; len(ct) > 0 && isHTML(ct[0]) {
		prof = &s.h.html
	}
	ov := s.override
	n := 0
	for i := range numHdr {
		v := prof[i]
		if ov != nil {
			if ov.drop[i] {
				delete(h, s.h.names[i])
				continue
			}
			if ov.set[i].s != "" {
				v = ov.set[i]
			}
		}
		if v.s == "" || (i == hHSTS && !s.secure) {
			continue
		}
		str := v.s
		if v.parts != nil {
			str = joinNonce(v.parts, s.Nonce())
		}
		s.vals[n] = str
		h[s.h.names[i]] = s.vals[n : n+1 : n+1]
		n++
	}
	if len(h["Cache-Control"]) == 0 {
		s.vals[n] = "no-store"
		h["Cache-Control"] = s.vals[n : n+1 : n+1]
	}
}

func joinNonce(parts []string, nonce string) string {
	var b strings.Builder
	b.Grow(len(parts)*(len(nonce)+9) + 64)
	for i, p := range parts {
		if i > 0 {
			b.WriteString("'nonce-")
			b.WriteString(nonce)
			b.WriteByte('\'')
		}
		b.WriteString(p)
	}
	return b.String()
}

// announced returns a Trailer header's values without the fingerprint
// headers: a trailer not announced is not sent by net/http.
func (h *Headers) announced(values []string) []string {
	var out []string
	for _, v := range values {
		for name := range strings.SplitSeq(v, ",") {
			name = strings.TrimSpace(name)
			if name != "" && !slices.Contains(h.strip, http.CanonicalHeaderKey(name)) {
				out = append(out, name)
			}
		}
	}
	return out
}
