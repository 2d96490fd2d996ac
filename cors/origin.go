package cors

import (
	"net/netip"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// pattern is one parsed entry of [Config.Origins]: an exact serialized origin,
// or a subdomain wildcard split around its "*".
type pattern struct {
	// exact is the whole origin for an exact pattern; empty for a wildcard.
	exact string
	// prefix is "scheme://" and suffix ".domain[:port]" for a wildcard.
	prefix, suffix string
	// scheme and host are kept for the checks that need them (credentials).
	scheme, host string
}

func (p pattern) wildcard() bool { return p.exact == "" }

// parsePattern parses one allowed-origin pattern. It accepts only what a
// browser could send byte for byte in an Origin header (lower-case scheme
// and host, no default port, no path), plus the single form of wildcard
// "scheme://*.registrable.domain[:port]". It never panics.
func parsePattern(s string) (pattern, error) {
	switch s {
	case "null":
		return pattern{}, ErrNullOrigin
	case "*":
		return pattern{}, ErrWildcardOrigin
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return pattern{}, ErrScheme
	}
	switch scheme {
	case "http", "https":
	case "HTTP", "HTTPS", "Http", "Https":
		return pattern{}, ErrNotSerialized
	default:
		return pattern{}, ErrScheme
	}
	if strings.ContainsRune(rest, '@') {
		return pattern{}, ErrUserinfo
	}
	if i := strings.IndexAny(rest, "/?#\\"); i >= 0 {
		if rest[i:] == "/" {
			return pattern{}, ErrNotSerialized
		}
		return pattern{}, ErrPath
	}
	host, port, err := splitHostPort(rest)
	if err != nil {
		return pattern{}, err
	}
	if port != "" {
		if strings.IndexByte(port, '*') >= 0 {
			return pattern{}, ErrStrayWildcard
		}
		if !validPort(port) {
			return pattern{}, ErrPort
		}
		if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
			return pattern{}, ErrDefaultPort
		}
	}
	p := pattern{scheme: scheme, host: host}
	if strings.IndexByte(host, '*') >= 0 {
		domain, ok := strings.CutPrefix(host, "*.")
		if !ok || strings.IndexByte(domain, '*') >= 0 {
			return pattern{}, ErrStrayWildcard
		}
		if strings.HasPrefix(domain, "[") || isIPv4Like(domain) {
			return pattern{}, ErrIPWildcard
		}
		if err := checkHostname(domain); err != nil {
			return pattern{}, err
		}
		// PublicSuffix applies the list's default rule ("*") to unknown
		// TLDs, so "*.localhost" and "*.internal" are refused too.
		if ps, _ := publicsuffix.PublicSuffix(domain); ps == domain {
			return pattern{}, ErrPublicSuffixWildcard
		}
		p.prefix = scheme + "://"
		p.suffix = "." + domain
		if port != "" {
			p.suffix += ":" + port
		}
		return p, nil
	}
	if err := checkHost(host); err != nil {
		return pattern{}, err
	}
	p.exact = s
	return p, nil
}

// splitHostPort splits "host[:port]" and "[v6][:port]". It reports ErrHost
// for an empty host and ErrPort for an empty port after a colon.
func splitHostPort(s string) (host, port string, err error) {
	if strings.HasPrefix(s, "[") {
		i := strings.IndexByte(s, ']')
		if i < 0 {
			return "", "", ErrHost
		}
		host, rest := s[:i+1], s[i+1:]
		if rest == "" {
			return host, "", nil
		}
		if rest[0] != ':' {
			return "", "", ErrHost
		}
		if rest == ":" {
			return "", "", ErrPort
		}
		return host, rest[1:], nil
	}
	host, port, found := strings.Cut(s, ":")
	if host == "" {
		return "", "", ErrHost
	}
	if found && port == "" {
		return "", "", ErrPort
	}
	return host, port, nil
}

func validPort(p string) bool {
	if p == "" || len(p) > 5 || p[0] == '0' {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n >= 1 && n <= 65535
}

// checkHost validates an exact origin's host: an IPv6 literal in brackets,
// an IPv4 address, or a DNS name, each in the form a browser serializes.
func checkHost(h string) error {
	if strings.HasPrefix(h, "[") {
		inner, ok := strings.CutSuffix(h[1:], "]")
		if !ok {
			return ErrHost
		}
		a, err := netip.ParseAddr(inner)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return ErrHost
		}
		// Browsers serialize IPv6 compressed and lower case (RFC 5952),
		// and IPv4-mapped addresses in hex, unlike netip.
		if a.Is4In6() || a.String() != inner {
			return ErrNotSerialized
		}
		return nil
	}
	if isIPv4Like(h) {
		a, err := netip.ParseAddr(h)
		if err != nil || !a.Is4() {
			return ErrHost
		}
		return nil
	}
	return checkHostname(h)
}

// isIPv4Like reports whether the URL standard would parse h as an IPv4
// address: its last label is a number (decimal, or hex with 0x).
func isIPv4Like(h string) bool {
	h = strings.TrimSuffix(h, ".")
	last := h[strings.LastIndexByte(h, '.')+1:]
	if last == "" {
		return false
	}
	if strings.HasPrefix(last, "0x") {
		return true
	}
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			return false
		}
	}
	return true
}

// checkHostname validates a lower-case ASCII DNS name.
func checkHostname(h string) error {
	if strings.HasSuffix(h, ".") {
		return ErrTrailingDot
	}
	if h == "" || len(h) > 253 {
		return ErrHost
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return ErrHost
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			case 'A' <= c && c <= 'Z':
				return ErrNotSerialized
			default:
				return ErrHost
			}
		}
	}
	return nil
}

// isLoopback reports whether an origin's host is a loopback address or the
// name localhost, which browsers resolve to loopback only.
func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}

// matcher decides whether an Origin header value is allowed. It compares
// bytes exactly, as the Fetch standard does; browsers send origins lower
// case, and an upper-case or otherwise unusual value simply does not match.
type matcher struct {
	exact []string
	set   map[string]struct{} // exact, when the list is long
	wild  []pattern
}

// mapThreshold is the list length from which a map beats a linear scan.
const mapThreshold = 8

func newMatcher(ps []pattern) matcher {
	var m matcher
	for _, p := range ps {
		if p.wildcard() {
			m.wild = append(m.wild, p)
		} else {
			m.exact = append(m.exact, p.exact)
		}
	}
	if len(m.exact) > mapThreshold {
		m.set = make(map[string]struct{}, len(m.exact))
		for _, o := range m.exact {
			m.set[o] = struct{}{}
		}
	}
	return m
}

func (m *matcher) match(origin string) bool {
	if m.set != nil {
		if _, ok := m.set[origin]; ok {
			return true
		}
	} else {
		for _, o := range m.exact {
			if o == origin {
				return true
			}
		}
	}
	for i := range m.wild {
		w := &m.wild[i]
		if len(origin) > len(w.prefix)+len(w.suffix) &&
			strings.HasPrefix(origin, w.prefix) &&
			strings.HasSuffix(origin, w.suffix) &&
			validSubdomains(origin[len(w.prefix):len(origin)-len(w.suffix)]) {
			return true
		}
	}
	return false
}

// validSubdomains reports whether s is one or more non-empty dot-separated
// labels of lower-case letters, digits, '-' and '_': what a browser puts in
// front of the wildcard's domain. Anything else (a ':', '/', '@', an empty
// label, upper case) cannot be a subdomain and is refused.
func validSubdomains(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	prevDot := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			prevDot = false
		case c == '.':
			if prevDot {
				return false
			}
			prevDot = true
		default:
			return false
		}
	}
	return true
}
