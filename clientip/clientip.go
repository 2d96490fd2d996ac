package clientip

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"

	"github.com/bulwark-go/bulwark/internal/forwarded"
	"github.com/bulwark-go/bulwark/internal/reqctx"
	"github.com/bulwark-go/bulwark/problem"
)

// Header names with special list semantics. Any other non-empty
// [Config.Header] is read as a single address set by the trusted proxy.
const (
	XForwardedFor = "X-Forwarded-For"
	Forwarded     = "Forwarded"
)

const (
	defaultMaxHops = 16
	maxMaxHops     = 64
)

// Config configures a [Resolver]. The zero value uses RemoteAddr only and
// reads no header, which is the safe choice for a server facing clients
// directly.
type Config struct {
	// TrustedProxies are the address prefixes of proxies allowed to report
	// the client address. Required when Header is set; must be empty when
	// it is not. A /0 prefix is refused.
	TrustedProxies []netip.Prefix

	// Header is the header the trusted proxies write the client address
	// into: [XForwardedFor], [Forwarded] (RFC 7239), or the name of a
	// single-address header such as "X-Real-IP" or "CF-Connecting-IP",
	// which is honoured only when it appears exactly once. Empty (the
	// default) reads no header.
	Header string

	// MaxHops is how many trusted proxies the walk passes at most before it
	// stops and answers with the last trusted address. Default 16, at most
	// 64. It bounds the work an oversized header can cause.
	MaxHops int

	// ErrorHandler answers requests whose RemoteAddr is not an IP address
	// ([ErrNoAddress]). Default: [problem.WriteError] (500).
	ErrorHandler problem.ErrorHandler
}

type mode uint8

const (
	modeNone mode = iota
	modeXFF
	modeForwarded
	modeSingle
)

// Resolver resolves client addresses. It is safe for concurrent use.
type Resolver struct {
	trusted Trusted
	header  string
	mode    mode
	maxHops int
	errh    problem.ErrorHandler
}

// New checks cfg and returns a [Resolver]. Every problem found is returned,
// joined; each is a [*ConfigError].
func New(cfg Config) (*Resolver, error) {
	var errs []error
	t, err := newTrusted("TrustedProxies", cfg.TrustedProxies)
	if err != nil {
		errs = append(errs, err)
	}
	r := &Resolver{trusted: t, maxHops: cfg.MaxHops, errh: problem.Or(cfg.ErrorHandler)}
	switch h := http.CanonicalHeaderKey(strings.TrimSpace(cfg.Header)); {
	case h == "":
		r.mode = modeNone
		if len(cfg.TrustedProxies) > 0 {
			errs = append(errs, &ConfigError{Field: "TrustedProxies", Reason: "set without Header: no header would be read"})
		}
	case !validHeaderName(h):
		errs = append(errs, &ConfigError{Field: "Header", Value: cfg.Header, Reason: "not a valid header name"})
	default:
		r.header = h
		switch h {
		case XForwardedFor:
			r.mode = modeXFF
		case Forwarded:
			r.mode = modeForwarded
		default:
			r.mode = modeSingle
		}
		if len(cfg.TrustedProxies) == 0 {
			errs = append(errs, &ConfigError{Field: "TrustedProxies", Reason: "required when Header is set: without it any client could write " + h})
		}
	}
	switch {
	case cfg.MaxHops == 0:
		r.maxHops = defaultMaxHops
	case cfg.MaxHops < 0 || cfg.MaxHops > maxMaxHops:
		errs = append(errs, &ConfigError{Field: "MaxHops", Reason: "must be between 1 and 64"})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

func validHeaderName(h string) bool {
	for i := 0; i < len(h); i++ {
		if !isTchar(h[i]) {
			return false
		}
	}
	return h != ""
}

// Trusted returns the resolver's trusted proxy set.
func (r *Resolver) Trusted() Trusted { return r.trusted }

// Resolve returns the client address of req. It allocates nothing. The only
// error is [ErrNoAddress].
func (r *Resolver) Resolve(req *http.Request) (netip.Addr, error) {
	peer, ok := RemoteAddr(req)
	if !ok {
		return netip.Addr{}, noAddressError{}
	}
	if r.mode == modeNone || !r.trusted.Contains(peer) {
		return peer, nil
	}
	values := req.Header[r.header]
	switch r.mode {
	case modeXFF:
		return r.walkXFF(peer, values), nil
	case modeForwarded:
		return r.walkForwarded(peer, values), nil
	default:
		if len(values) != 1 {
			return peer, nil // absent, or appended to rather than set: ambiguous
		}
		if a, ok := parseNode(trimOWS(values[0])); ok {
			return a, nil
		}
		return peer, nil
	}
}

// walkXFF walks X-Forwarded-For from the right. candidate is always an
// address the walk has reason to believe: first the peer, then each hop
// written by a trusted proxy.
func (r *Resolver) walkXFF(candidate netip.Addr, values []string) netip.Addr {
	hops := 0
	for vi := len(values) - 1; vi >= 0; vi-- {
		v := values[vi]
		for end := len(v); end >= 0; {
			start := strings.LastIndexByte(v[:end], ',') + 1
			entry := trimOWS(v[start:end])
			end = start - 1
			if entry == "" {
				continue // empty list element
			}
			a, ok := parseNode(entry)
			if !ok {
				return candidate
			}
			if !r.trusted.Contains(a) {
				return a
			}
			candidate = a
			if hops++; hops >= r.maxHops {
				return candidate
			}
		}
	}
	return candidate
}

// walkForwarded walks RFC 7239 elements from the right. Elements are parsed
// left to right (quoted strings make a right-to-left scan unsound), keeping
// the for= values of the last maxMaxHops elements.
func (r *Resolver) walkForwarded(candidate netip.Addr, values []string) netip.Addr {
	var ring [maxMaxHops]string
	var valid [maxMaxHops]bool
	n := 0
	forwarded.Walk(values, func(e forwarded.Element) bool {
		ring[n%maxMaxHops] = e.For
		valid[n%maxMaxHops] = e.Valid
		n++
		return true
	})
	for k, hops := n-1, 0; k >= 0 && k >= n-maxMaxHops; k-- {
		if !valid[k%maxMaxHops] {
			return candidate
		}
		a, ok := parseForwardedNode(ring[k%maxMaxHops])
		if !ok {
			return candidate // "unknown", an obfuscated identifier, or garbage
		}
		if !r.trusted.Contains(a) {
			return a
		}
		candidate = a
		if hops++; hops >= r.maxHops {
			return candidate
		}
	}
	return candidate
}

// parseNode parses an address as proxies and servers write it: "1.2.3.4",
// "1.2.3.4:80", "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:80". RFC
// 7239 obfuscated ports ("_abc") are accepted; obfuscated or unknown nodes
// are not. The result is normalized.
func parseNode(s string) (netip.Addr, bool) { return parseNodeObf(s, false) }

// parseForwardedNode is parseNode with RFC 7239 obfuscated ports allowed.
func parseForwardedNode(s string) (netip.Addr, bool) { return parseNodeObf(s, true) }

func parseNodeObf(s string, obf bool) (netip.Addr, bool) {
	if s == "" {
		return netip.Addr{}, false
	}
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		a, err := netip.ParseAddr(s[1:end])
		if err != nil || !a.Is6() {
			return netip.Addr{}, false
		}
		if rest := s[end+1:]; rest != "" && (rest[0] != ':' || !validPort(rest[1:], obf)) {
			return netip.Addr{}, false
		}
		return normalize(a), true
	}
	// "a.b.c.d" or "a.b.c.d:port", read in one pass. Nothing else that
	// starts with a dotted quad is an address (IPv6 text never does).
	if a, n, ok := parseIPv4Prefix(s); ok {
		if n == len(s) || s[n] == ':' && validPort(s[n+1:], obf) {
			return a, true
		}
		return netip.Addr{}, false
	}
	if i := strings.IndexByte(s, ':'); i < 0 || strings.IndexByte(s[i+1:], ':') < 0 {
		return netip.Addr{}, false // no colon, or one: IPv4 (with a port) or nothing
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return normalize(a), true
}

// parseIPv4Prefix parses the dotted quad s starts with, by the rules of
// netip.ParseAddr (no leading zeros, no empty fields) and without its
// error allocation on failure, and returns how many bytes it took.
func parseIPv4Prefix(s string) (netip.Addr, int, bool) {
	var ip [4]byte
	i := 0
	for f := range 4 {
		if f > 0 {
			if i >= len(s) || s[i] != '.' {
				return netip.Addr{}, 0, false
			}
			i++
		}
		start, v := i, 0
		for i < len(s) && i-start < 3 {
			d := s[i] - '0'
			if d > 9 {
				break
			}
			v = v*10 + int(d)
			i++
		}
		if i == start || v > 255 || (i-start > 1 && s[start] == '0') {
			return netip.Addr{}, 0, false
		}
		ip[f] = byte(v) // #nosec G115 -- v <= 255 is checked above
	}
	return netip.AddrFrom4(ip), i, true
}

// trimOWS trims HTTP optional whitespace (spaces and tabs).
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// validPort reports whether p is a decimal port 0-65535 or, with obf, an
// RFC 7239 §6.3 obfuscated port ("_" followed by [A-Za-z0-9._-]).
func validPort(p string, obf bool) bool {
	if p == "" {
		return false
	}
	if p[0] == '_' {
		if !obf || len(p) == 1 {
			return false
		}
		for i := 1; i < len(p); i++ {
			if c := p[i]; !(isAlnum(c) || c == '.' || c == '_' || c == '-') {
				return false
			}
		}
		return true
	}
	// Decimal digits worth at most 65535, leading zeros allowed, as
	// net/netip.ParseAddrPort reads them: "000080" is port 80 to Go
	// servers and upstreams, so it is here too.
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		if n = n*10 + int(p[i]-'0'); n > 65535 {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isTchar(c byte) bool {
	if isAlnum(c) {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// Handler returns middleware that resolves the client address and stores it
// in the request context for [FromContext] and [FromRequest]. Requests whose
// RemoteAddr is not an IP address go to the ErrorHandler.
func (r *Resolver) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		a, err := r.Resolve(req)
		if err != nil {
			r.errh(w, req, err)
			return
		}
		// Into the request's shared slots when an outer layer attached
		// them and no resolver filled this one: no copy of the request.
		if s := reqctx.From(req.Context()); s != nil && s.SetAddr(a) {
			next.ServeHTTP(w, req)
			return
		}
		next.ServeHTTP(w, req.WithContext(NewContext(req.Context(), a)))
	})
}

// NewContext returns a copy of ctx carrying the client address a.
func NewContext(ctx context.Context, a netip.Addr) context.Context {
	return reqctx.NewContext(ctx, func(s *reqctx.Slots) { s.ForceAddr(a) })
}

// FromContext returns the client address stored by the middleware.
func FromContext(ctx context.Context) (netip.Addr, bool) {
	a, ok := reqctx.From(ctx).Addr()
	return a, ok && a.IsValid()
}

// FromRequest returns the client address of r: the one the middleware
// resolved when it ran, else the address in r.RemoteAddr, else the invalid
// zero Addr. It never reads a forwarding header itself.
func FromRequest(r *http.Request) netip.Addr {
	if a, ok := FromContext(r.Context()); ok {
		return a
	}
	a, _ := RemoteAddr(r)
	return a
}
