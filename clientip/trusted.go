package clientip

import (
	"errors"
	"net/http"
	"net/netip"
)

// Trusted is a validated set of proxy address prefixes. The zero value
// trusts no one. Other packages (headers, for X-Forwarded-Proto) use it to
// apply the same trust rule as the [Resolver].
type Trusted struct {
	prefixes []netip.Prefix
	v4       []v4prefix // the IPv4 prefixes as masks, for a branch-light check
	v6       []netip.Prefix
}

type v4prefix struct{ base, mask uint32 }

// NewTrusted validates prefixes and returns them as a [Trusted] set.
// Prefixes are masked and IPv4-mapped IPv6 prefixes are converted to IPv4.
// A prefix of length 0 is refused: trusting every peer lets any client write
// the header.
func NewTrusted(prefixes []netip.Prefix) (Trusted, error) {
	return newTrusted("TrustedProxies", prefixes)
}

func newTrusted(field string, prefixes []netip.Prefix) (Trusted, error) {
	var errs []error
	out := make([]netip.Prefix, 0, len(prefixes))
	for _, p := range prefixes {
		if !p.IsValid() {
			errs = append(errs, &ConfigError{Field: field, Value: p.String(), Reason: "not a valid prefix"})
			continue
		}
		a := p.Addr()
		bits := p.Bits()
		if a.Is4In6() {
			if bits < 96 {
				errs = append(errs, &ConfigError{Field: field, Value: p.String(), Reason: "IPv4-mapped prefix shorter than /96"})
				continue
			}
			a, bits = a.Unmap(), bits-96
		}
		if a.Zone() != "" {
			errs = append(errs, &ConfigError{Field: field, Value: p.String(), Reason: "prefix has a zone"})
			continue
		}
		if bits == 0 {
			errs = append(errs, &ConfigError{Field: field, Value: p.String(), Reason: "trusting every address lets any client choose its own address"})
			continue
		}
		out = append(out, netip.PrefixFrom(a, bits).Masked())
	}
	if len(errs) > 0 {
		return Trusted{}, errors.Join(errs...)
	}
	t := Trusted{prefixes: out}
	for _, p := range out {
		if p.Addr().Is4() {
			mask := ^uint32(0) << (32 - p.Bits())
			t.v4 = append(t.v4, v4prefix{base: be32(p.Addr()), mask: mask})
		} else {
			t.v6 = append(t.v6, p)
		}
	}
	return t, nil
}

func be32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// Contains reports whether a (normalized) is inside one of the prefixes.
func (t Trusted) Contains(a netip.Addr) bool {
	a = normalize(a)
	if a.Is4() {
		x := be32(a)
		for _, p := range t.v4 {
			if x&p.mask == p.base {
				return true
			}
		}
		return false
	}
	for _, p := range t.v6 {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Empty reports whether the set trusts no one.
func (t Trusted) Empty() bool { return len(t.prefixes) == 0 }

// Prefixes returns a copy of the normalized prefixes.
func (t Trusted) Prefixes() []netip.Prefix {
	return append([]netip.Prefix(nil), t.prefixes...)
}

// PeerTrusted reports whether the immediate peer of r (its RemoteAddr) is
// inside the set. An unparseable RemoteAddr is never trusted.
func (t Trusted) PeerTrusted(r *http.Request) bool {
	a, ok := RemoteAddr(r)
	return ok && t.Contains(a)
}

// RemoteAddr parses r.RemoteAddr ("ip:port", or a bare IP as some test
// harnesses set it) into a normalized address.
func RemoteAddr(r *http.Request) (netip.Addr, bool) {
	return parseNode(r.RemoteAddr)
}

// normalize converts IPv4-mapped IPv6 to IPv4 and drops any zone, so that
// one host has one spelling.
func normalize(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}

// Aggregate returns the prefix a client address is keyed by: an IPv4
// address as a /32, an IPv6 address masked to ipv6Bits (64 when
// ipv6Bits <= 0 or > 128), since a single subscriber is typically handed a
// whole /64 and can rotate through it freely. It does not allocate.
func Aggregate(a netip.Addr, ipv6Bits int) netip.Prefix {
	a = normalize(a)
	if !a.IsValid() {
		return netip.Prefix{}
	}
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	if ipv6Bits <= 0 || ipv6Bits > 128 {
		ipv6Bits = 64
	}
	p, _ := a.Prefix(ipv6Bits) // cannot fail: valid address, bits in range
	return p
}
