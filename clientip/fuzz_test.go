package clientip_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/clientip"
)

// refXFF is a deliberately simple X-Forwarded-For walk (split, trim, parse
// with the standard library) that the optimized walk must agree with.
func refXFF(t *testing.T, peer netip.Addr, values []string) netip.Addr {
	var entries []string
	for _, v := range values {
		entries = append(entries, strings.Split(v, ",")...)
	}
	trusted, err := clientip.NewTrusted(proxies)
	if err != nil {
		t.Fatal(err)
	}
	cand, hops := peer, 0
	for i := len(entries) - 1; i >= 0; i-- {
		e := strings.Trim(entries[i], " \t")
		if e == "" {
			continue
		}
		a, ok := refNode(e)
		if !ok {
			return cand
		}
		if !trusted.Contains(a) {
			return a
		}
		cand = a
		if hops++; hops >= 16 {
			return cand
		}
	}
	return cand
}

func refNode(s string) (netip.Addr, bool) {
	if strings.HasPrefix(s, "[") && strings.Count(s, "]") != 1 {
		// The first "]" closes a bracketed address: a zone never holds one
		// (RFC 6874), though net/netip would read "[::%]]" as "::%]".
		return netip.Addr{}, false
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if a := ap.Addr(); a.Is4() || strings.HasPrefix(s, "[") {
			return a.Unmap().WithZone(""), true
		}
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
		if a, err := netip.ParseAddr(s); err == nil && a.Is6() {
			return a.Unmap().WithZone(""), true
		}
		return netip.Addr{}, false
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

func FuzzXForwardedFor(f *testing.F) {
	for _, s := range []string{
		"1.1.1.1, 203.0.113.9", "6.6.6.6, garbage, 10.0.0.2", "203.0.113.9, , 10.0.0.2,",
		"[2001:db8::7]:443", "fe80::1%eth0", "::ffff:10.0.0.2", "010.0.0.1", "1.2.3.4:", "[::1]x",
		"10.0.0.2:80, 10.0.0.3:65535", "\t203.0.113.9 ,\t10.0.0.2 ", "1.2.3.4.5", "[1.2.3.4]:80",
		"0.0.0.0:70000", "203.0.113.9:_p1", "[::1]:65536",
	} {
		f.Add(s, "10.0.0.9")
	}
	res, err := clientip.New(clientip.Config{Header: clientip.XForwardedFor, TrustedProxies: proxies})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, first, second string) {
		values := []string{first, second}
		req := request("10.0.0.1:5000", clientip.XForwardedFor, values...)
		got, err := res.Resolve(req)
		if err != nil {
			t.Fatal(err)
		}
		want := refXFF(t, netip.MustParseAddr("10.0.0.1"), req.Header.Values(clientip.XForwardedFor))
		if got != want {
			t.Fatalf("Resolve(%q) = %v, reference walk = %v", values, got, want)
		}
	})
}

func FuzzForwarded(f *testing.F) {
	for _, s := range []string{
		"for=192.0.2.60;proto=http;by=203.0.113.43", `for="[2001:db8:cafe::17]:4711"`,
		"for=6.6.6.6, for=unknown, for=10.0.0.2", `for="6.6.6.6, for=203.0.113.9`, "For=203.0.113.9",
		"for=203.0.113.9;for=6.6.6.6", `for="203.0.113\.9"`, "for=_hidden", ";;,,", `for=""`,
	} {
		f.Add(s)
	}
	res, err := clientip.New(clientip.Config{Header: clientip.Forwarded, TrustedProxies: proxies})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) {
		// The attacker writes v; the trusted proxy appends its own line.
		req := request("10.0.0.1:5000", clientip.Forwarded, v, "for=10.0.0.2")
		got, err := res.Resolve(req)
		if err != nil {
			t.Fatal(err)
		}
		if !got.IsValid() {
			t.Fatalf("Resolve(%q) returned an invalid address", v)
		}
		// The answer is a trusted address, or an address the attacker wrote
		// (the attacker is the client, so that is the right answer), never
		// something made up.
		if !strings.HasPrefix(got.String(), "10.") && !strings.Contains(v, got.String()) &&
			!containsAddr(v, got) {
			t.Fatalf("Resolve(%q) = %v, which appears nowhere in the header", v, got)
		}
	})
}

// containsAddr reports whether some spelling of a appears in s (IPv6 can be
// written many ways; IPv4-mapped addresses are normalized).
func containsAddr(s string, a netip.Addr) bool {
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(`"[]=;, `, r) }) {
		if n, ok := refNode(f); ok && n == a {
			return true
		}
		if i := strings.LastIndexByte(f, ':'); i > 0 {
			if n, ok := refNode(f[:i]); ok && n == a {
				return true
			}
		}
	}
	return false
}
