package headers

import (
	"net/netip"
	"strings"
)

// hostPattern is one validated entry of [Config.AllowedHosts].
type hostPattern struct {
	name     string     // lower case, no trailing dot; for a wildcard, the suffix after "*."
	wildcard bool       // "*.name": exactly one more label in front of name
	addr     netip.Addr // an IP literal pattern
}

// hostMatcher matches request hosts against the allow-list. The lists are
// short in practice, so a linear scan without allocation beats a map.
type hostMatcher struct {
	patterns []hostPattern
}

// parseHostPattern validates an allow-list entry: a DNS name, a "*." label
// wildcard over a name of at least two labels, or an IP literal. Ports are
// not part of a pattern. It returns a reason when the entry is refused.
func parseHostPattern(s string) (hostPattern, string) {
	if s == "" {
		return hostPattern{}, "empty host"
	}
	if a, ok := parseIPHost(s); ok {
		return hostPattern{addr: a}, ""
	}
	name := strings.ToLower(strings.TrimSuffix(s, "."))
	wildcard := false
	if rest, ok := strings.CutPrefix(name, "*."); ok {
		name, wildcard = rest, true
	}
	if strings.ContainsRune(name, ':') {
		return hostPattern{}, "a host pattern has no port; the port is not checked"
	}
	if strings.Contains(name, "*") {
		return hostPattern{}, "a wildcard is allowed only as the whole first label, as in *.example.com"
	}
	if !isDNSName(name) {
		return hostPattern{}, "not a host name"
	}
	if wildcard && strings.Count(name, ".") < 1 {
		return hostPattern{}, "a wildcard needs at least two labels after it (*.example.com, not *.com)"
	}
	return hostPattern{name: name, wildcard: wildcard}, ""
}

// parseIPHost parses an IP literal as it appears in a Host: "192.0.2.1",
// "[2001:db8::1]"; the bare IPv6 form is accepted for patterns. Zones are
// refused.
func parseIPHost(s string) (netip.Addr, bool) {
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// isDNSName reports whether s is a host name: dot-separated labels of 1 to
// 63 letters, digits and hyphens, not starting or ending with a hyphen, at
// most 253 characters in all, and not all-numeric in the last label (which
// would be an IPv4 address in disguise).
func isDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if !isLabel(label) {
			return false
		}
	}
	last := s[strings.LastIndexByte(s, '.')+1:]
	for i := 0; i < len(last); i++ {
		if !isDigit(last[i]) {
			return true
		}
	}
	return false
}

func isLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		if c := l[i]; !isAlpha(c) && !isDigit(c) && c != '-' {
			return false
		}
	}
	return true
}

// splitHostPort returns the host part of a Host header value, without the
// port and without a trailing dot, or "" when what follows the host is not
// an optional ":" and decimal port. It does not allocate.
func splitHostPort(h string) string {
	host, rest := h, ""
	if strings.HasPrefix(h, "[") {
		i := strings.IndexByte(h, ']')
		if i < 0 {
			return ""
		}
		host, rest = h[:i+1], h[i+1:]
	} else if i := strings.IndexByte(h, ':'); i >= 0 {
		host, rest = h[:i], h[i:]
	}
	if rest != "" {
		if rest[0] != ':' || len(rest) > 6 {
			return ""
		}
		for i := 1; i < len(rest); i++ {
			if !isDigit(rest[i]) {
				return ""
			}
		}
	}
	return strings.TrimSuffix(host, ".")
}

// match reports whether the Host header value host (a name or IP literal,
// with an optional port) is allowed.
func (m *hostMatcher) match(host string) bool {
	host = splitHostPort(host)
	if host == "" {
		return false
	}
	if host[0] == '[' || isDigit(host[len(host)-1]) {
		if a, ok := parseIPHost(host); ok {
			for _, p := range m.patterns {
				if p.addr.IsValid() && p.addr == a {
					return true
				}
			}
			return false
		}
	}
	for _, p := range m.patterns {
		switch {
		case p.addr.IsValid():
		case !p.wildcard:
			if asciiEqualFold(host, p.name) {
				return true
			}
		case len(host) > len(p.name)+1:
			i := len(host) - len(p.name)
			if host[i-1] == '.' && asciiEqualFold(host[i:], p.name) && isLabel(host[:i-1]) {
				return true
			}
		}
	}
	return false
}

// asciiEqualFold reports whether s equals the lower-case ASCII t, ignoring
// ASCII case only. strings.EqualFold would also fold the Kelvin sign to "k"
// and the long s to "s", letting a different name pass as an allowed one.
func asciiEqualFold(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != t[i] {
			return false
		}
	}
	return true
}
