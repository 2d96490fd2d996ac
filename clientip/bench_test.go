package clientip_test

import (
	"net/netip"
	"testing"

	"github.com/bulwark-go/bulwark/clientip"
)

// BenchmarkResolve measures resolution through three trusted hops (the peer
// and two proxies written into the header). Target: 0 allocs, under 300 ns.
func BenchmarkResolve(b *testing.B) {
	cases := []struct {
		name, header, value string
	}{
		{"XForwardedFor", clientip.XForwardedFor, "203.0.113.9, 10.0.0.3, 10.0.0.2"},
		{"Forwarded", clientip.Forwarded, `for=203.0.113.9, for="10.0.0.3:80", for=10.0.0.2;proto=https`},
		{"XRealIP", "X-Real-IP", "203.0.113.9"},
		{"RemoteAddrOnly", "", ""},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			cfg := clientip.Config{Header: bc.header}
			if bc.header != "" {
				cfg.TrustedProxies = proxies
			}
			res := mustNew(b, cfg)
			req := request("10.0.0.1:5000", bc.header, bc.value)
			if bc.header == "" {
				req = request("203.0.113.9:5000", "")
			}
			want := netip.MustParseAddr("203.0.113.9")
			b.ReportAllocs()
			for b.Loop() {
				got, err := res.Resolve(req)
				if err != nil || got != want {
					b.Fatalf("Resolve = %v, %v; want %v", got, err, want)
				}
			}
		})
	}
}
