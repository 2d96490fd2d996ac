package clientip

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzParseNodeMatchesBefore: the one-pass reading of "a.b.c.d[:port]"
// accepts and refuses exactly what the earlier two-scan reading did, and
// reads the same address, for RemoteAddr and Forwarded nodes alike.
func FuzzParseNodeMatchesBefore(f *testing.F) {
	for _, s := range []string{"203.0.113.7:51234", "203.0.113.7", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:_x",
		"01.2.3.4", "1.2.3.256", "1.2.3.1234", "1.2.3", "1.2.3.4.5", "[2001:db8::1]:443", "2001:db8::1",
		"::ffff:1.2.3.4", "1.2.3.4:5:6", "1.2.3.4%eth0", "", ":", "0.0.0.0:0", "255.255.255.255:65535"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, obf bool) {
		a, ok := parseNodeObf(s, obf)
		b, okb := parseNodeBefore(s, obf)
		if ok != okb || a != b {
			t.Fatalf("parseNodeObf(%q, %v) = %v, %v; before %v, %v", s, obf, a, ok, b, okb)
		}
	})
}

// The reading before the one-pass parser, kept as the oracle.

func parseNodeBefore(s string, obf bool) (netip.Addr, bool) {
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
	i := strings.IndexByte(s, ':')
	switch {
	case i < 0: // no colon: IPv4 or nothing
		return parseIPv4Before(s)
	case strings.IndexByte(s[i+1:], ':') < 0: // one colon: "a.b.c.d:port"
		if !validPort(s[i+1:], obf) {
			return netip.Addr{}, false
		}
		return parseIPv4Before(s[:i])
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return normalize(a), true
}

func parseIPv4Before(s string) (netip.Addr, bool) {
	var ip [4]byte
	field, val, digits := 0, 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			if digits == 1 && val == 0 { // leading zero
				return netip.Addr{}, false
			}
			val = val*10 + int(c-'0')
			digits++
			if val > 255 {
				return netip.Addr{}, false
			}
		case c == '.' && digits > 0 && field < 3:
			ip[field] = byte(val) // #nosec G115 -- val <= 255 is checked as each digit is read
			field, val, digits = field+1, 0, 0
		default:
			return netip.Addr{}, false
		}
	}
	if field != 3 || digits == 0 {
		return netip.Addr{}, false
	}
	ip[3] = byte(val) // #nosec G115 -- val <= 255 is checked as each digit is read
	return netip.AddrFrom4(ip), true
}
