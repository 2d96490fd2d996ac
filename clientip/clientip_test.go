package clientip_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/clientip"
)

var proxies = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("2001:db8:ffff::/48"),
}

func mustNew(t testing.TB, cfg clientip.Config) *clientip.Resolver {
	t.Helper()
	r, err := clientip.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v) = %v", cfg, err)
	}
	return r
}

func request(remote string, header string, values ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = remote
	for _, v := range values {
		r.Header.Add(header, v)
	}
	return r
}

func TestResolve(t *testing.T) {
	huge := strings.Repeat("6.6.6.6, ", 100<<10/9) + "203.0.113.9"
	hugeTrusted := strings.Repeat("10.9.9.9, ", 100<<10/10) + "10.0.0.2"
	tests := []struct {
		name   string
		header string // Config.Header
		remote string
		values []string
		want   string
	}{
		// Attacks: the attacker must never choose the address.
		{"leftmost XFF spoofing", clientip.XForwardedFor, "10.0.0.1:5000", []string{"1.1.1.1, 203.0.113.9"}, "203.0.113.9"},
		{"XFF from an untrusted peer", clientip.XForwardedFor, "198.51.100.5:5000", []string{"10.0.0.2"}, "198.51.100.5"},
		{"garbage hop stops the walk at the last trusted address", clientip.XForwardedFor, "10.0.0.1:5000", []string{"6.6.6.6, garbage, 10.0.0.2"}, "10.0.0.2"},
		{"garbage as the nearest hop falls back to the peer", clientip.XForwardedFor, "10.0.0.1:5000", []string{"6.6.6.6, not-an-ip"}, "10.0.0.1"},
		{"100 KB header of spoofed hops", clientip.XForwardedFor, "10.0.0.1:5000", []string{huge}, "203.0.113.9"},
		{"100 KB header of trusted hops stops at MaxHops on a trusted address", clientip.XForwardedFor, "10.0.0.1:5000", []string{hugeTrusted}, "10.9.9.9"},
		{"spoofed line before the proxy's line", clientip.XForwardedFor, "10.0.0.1:5000", []string{"6.6.6.6", "203.0.113.9, 10.0.0.2"}, "203.0.113.9"},
		{"repeated header lines merged in order", clientip.XForwardedFor, "10.0.0.1:5000", []string{"203.0.113.9", "10.0.0.2"}, "203.0.113.9"},
		{"all hops trusted answers the leftmost", clientip.XForwardedFor, "10.0.0.1:5000", []string{"10.0.0.3, 10.0.0.2"}, "10.0.0.3"},
		{"empty list elements are skipped", clientip.XForwardedFor, "10.0.0.1:5000", []string{"203.0.113.9, , 10.0.0.2,"}, "203.0.113.9"},
		{"no header from a trusted peer", clientip.XForwardedFor, "10.0.0.1:5000", nil, "10.0.0.1"},
		{"XFF ignored when not configured", "", "198.51.100.5:5000", []string{"1.1.1.1"}, "198.51.100.5"},
		{"entry with a port", clientip.XForwardedFor, "10.0.0.1:5000", []string{"203.0.113.9:443"}, "203.0.113.9"},
		{"bracketed IPv6 with a port", clientip.XForwardedFor, "10.0.0.1:5000", []string{"[2001:db8::7]:443"}, "2001:db8::7"},
		{"IPv6 zone dropped", clientip.XForwardedFor, "10.0.0.1:5000", []string{"fe80::1%eth0"}, "fe80::1"},
		{"IPv4-mapped IPv6 normalized", clientip.XForwardedFor, "10.0.0.1:5000", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		{"IPv4-mapped trusted peer", clientip.XForwardedFor, "[::ffff:10.0.0.1]:5000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"mapped address inside a trusted prefix is trusted", clientip.XForwardedFor, "10.0.0.1:5000", []string{"203.0.113.9, ::ffff:10.0.0.2"}, "203.0.113.9"},
		{"IPv6 trusted proxy", clientip.XForwardedFor, "[2001:db8:ffff::1]:5000", []string{"2001:db8:1::5"}, "2001:db8:1::5"},
		{"port out of range is garbage", clientip.XForwardedFor, "10.0.0.1:5000", []string{"6.6.6.6, 203.0.113.9:999999"}, "10.0.0.1"},
		{"five-digit port above 65535 is garbage", clientip.XForwardedFor, "10.0.0.1:5000", []string{"0.0.0.0:70000"}, "10.0.0.1"},
		{"port with leading zeros reads as net/netip reads it", clientip.XForwardedFor, "10.0.0.1:5000", []string{"0.0.0.0:000000"}, "0.0.0.0"},
		{"leading zeros do not hide a port above 65535", clientip.XForwardedFor, "10.0.0.1:5000", []string{"203.0.113.9:0000065536"}, "10.0.0.1"},
		{"many leading zeros", clientip.XForwardedFor, "10.0.0.1:5000", []string{"203.0.113.9:" + strings.Repeat("0", 40) + "443"}, "203.0.113.9"},
		{"obfuscated port is not X-Forwarded-For syntax", clientip.XForwardedFor, "10.0.0.1:5000", []string{"203.0.113.9:_p1"}, "10.0.0.1"},
		{"tabs and spaces", clientip.XForwardedFor, "10.0.0.1:5000", []string{"\t203.0.113.9 ,\t10.0.0.2 "}, "203.0.113.9"},

		{"RFC 7239 example", clientip.Forwarded, "10.0.0.1:5000", []string{"for=192.0.2.60;proto=http;by=203.0.113.43"}, "192.0.2.60"},
		{"Forwarded quoted IPv6 with port", clientip.Forwarded, "10.0.0.1:5000", []string{`for="[2001:db8:cafe::17]:4711"`}, "2001:db8:cafe::17"},
		{"Forwarded spoofed leftmost element", clientip.Forwarded, "10.0.0.1:5000", []string{"for=6.6.6.6, for=203.0.113.9"}, "203.0.113.9"},
		{"Forwarded from an untrusted peer", clientip.Forwarded, "198.51.100.5:5000", []string{"for=6.6.6.6"}, "198.51.100.5"},
		{"Forwarded unknown stops the walk", clientip.Forwarded, "10.0.0.1:5000", []string{"for=6.6.6.6, for=unknown, for=10.0.0.2"}, "10.0.0.2"},
		{"Forwarded obfuscated identifier stops the walk", clientip.Forwarded, "10.0.0.1:5000", []string{"for=_hidden"}, "10.0.0.1"},
		{"Forwarded parameter names are case-insensitive", clientip.Forwarded, "10.0.0.1:5000", []string{"For=203.0.113.9"}, "203.0.113.9"},
		{"Forwarded duplicate for= is invalid", clientip.Forwarded, "10.0.0.1:5000", []string{"for=203.0.113.9;for=6.6.6.6"}, "10.0.0.1"},
		{"Forwarded unterminated quote swallows the rest of its line only", clientip.Forwarded, "10.0.0.1:5000", []string{`for="6.6.6.6, for=203.0.113.9`}, "10.0.0.1"},
		{"Forwarded separate line from the proxy survives a broken client line", clientip.Forwarded, "10.0.0.1:5000", []string{`for="6.6.6.6`, "for=203.0.113.9"}, "203.0.113.9"},
		{"Forwarded quoted-pair is refused", clientip.Forwarded, "10.0.0.1:5000", []string{`for="203.0.113\.9"`}, "10.0.0.1"},
		{"Forwarded element without for", clientip.Forwarded, "10.0.0.1:5000", []string{"for=6.6.6.6, proto=https"}, "10.0.0.1"},
		{"Forwarded unquoted IPv6 is not a token", clientip.Forwarded, "10.0.0.1:5000", []string{"for=2001:db8::1"}, "10.0.0.1"},
		{"Forwarded quoted IPv6 zone dropped", clientip.Forwarded, "10.0.0.1:5000", []string{`for="[fe80::1%25eth0]"`}, "fe80::1"},
		{"Forwarded obfuscated port", clientip.Forwarded, "10.0.0.1:5000", []string{`for="203.0.113.9:_p1"`}, "203.0.113.9"},

		{"X-Real-IP from a trusted proxy", "X-Real-IP", "10.0.0.1:5000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"X-Real-IP from an untrusted peer", "X-Real-IP", "198.51.100.5:5000", []string{"6.6.6.6"}, "198.51.100.5"},
		{"X-Real-IP repeated is ambiguous", "X-Real-IP", "10.0.0.1:5000", []string{"6.6.6.6", "203.0.113.9"}, "10.0.0.1"},
		{"X-Real-IP garbage", "X-Real-IP", "10.0.0.1:5000", []string{"6.6.6.6, 203.0.113.9"}, "10.0.0.1"},

		{"bare RemoteAddr", "", "203.0.113.9", nil, "203.0.113.9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := clientip.Config{Header: tc.header}
			if tc.header != "" {
				cfg.TrustedProxies = proxies
			}
			res := mustNew(t, cfg)
			h := tc.header
			if h == "" {
				h = clientip.XForwardedFor
			}
			got, err := res.Resolve(request(tc.remote, h, tc.values...))
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if got != netip.MustParseAddr(tc.want) {
				t.Errorf("Resolve(%q from %s) = %v, want %s", tc.values, tc.remote, got, tc.want)
			}
		})
	}
}

func TestNoAddress(t *testing.T) {
	res := mustNew(t, clientip.Config{})
	for _, remote := range []string{"", "@", "/run/app.sock", "example.com:80"} {
		_, err := res.Resolve(request(remote, ""))
		if !errors.Is(err, clientip.ErrNoAddress) {
			t.Errorf("Resolve(RemoteAddr %q) error = %v, want ErrNoAddress", remote, err)
		}
	}

	called := false
	h := res.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, request("@", ""))
	if called || rec.Code != http.StatusInternalServerError || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("handler: called=%v status=%d type=%q, want not called, 500 problem", called, rec.Code, rec.Header().Get("Content-Type"))
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		cfg    clientip.Config
		fields []string
	}{
		{"header without proxies", clientip.Config{Header: clientip.XForwardedFor}, []string{"TrustedProxies"}},
		{"proxies without header", clientip.Config{TrustedProxies: proxies}, []string{"TrustedProxies"}},
		{"trust everyone", clientip.Config{Header: "Forwarded", TrustedProxies: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}, []string{"TrustedProxies"}},
		{"trust everyone, IPv4-mapped", clientip.Config{Header: "Forwarded", TrustedProxies: []netip.Prefix{netip.MustParsePrefix("::ffff:0.0.0.0/96")}}, []string{"TrustedProxies"}},
		{"invalid prefix", clientip.Config{Header: "Forwarded", TrustedProxies: []netip.Prefix{{}}}, []string{"TrustedProxies"}},
		{"bad header name", clientip.Config{Header: "X Real IP", TrustedProxies: proxies}, []string{"Header"}},
		{"MaxHops out of range", clientip.Config{MaxHops: 65}, []string{"MaxHops"}},
		{"every problem at once", clientip.Config{Header: "bad header", TrustedProxies: []netip.Prefix{netip.MustParsePrefix("::/0")}, MaxHops: -1}, []string{"TrustedProxies", "Header", "MaxHops"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := clientip.New(tc.cfg)
			if err == nil || r != nil {
				t.Fatalf("New(%+v) = %v, %v; want an error", tc.cfg, r, err)
			}
			var got []string
			for _, e := range flatten(err) {
				var ce *clientip.ConfigError
				if !errors.As(e, &ce) {
					t.Errorf("error %v is not a *ConfigError", e)
					continue
				}
				got = append(got, ce.Field)
			}
			if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Errorf("fields = %v, want %v (%v)", got, tc.fields, err)
			}
		})
	}
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

func TestConfigCopied(t *testing.T) {
	ps := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	res := mustNew(t, clientip.Config{Header: clientip.XForwardedFor, TrustedProxies: ps})
	ps[0] = netip.MustParsePrefix("198.51.100.0/24")
	got, _ := res.Resolve(request("198.51.100.5:1", clientip.XForwardedFor, "6.6.6.6"))
	if got != netip.MustParseAddr("198.51.100.5") {
		t.Errorf("changing the caller's slice after New changed trust: got %v", got)
	}
}

func TestMiddlewareAndFromRequest(t *testing.T) {
	res := mustNew(t, clientip.Config{Header: clientip.XForwardedFor, TrustedProxies: proxies})
	var got netip.Addr
	var inCtx bool
	h := res.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = clientip.FromRequest(r)
		_, inCtx = clientip.FromContext(r.Context())
	}))
	req := request("10.0.0.1:5000", clientip.XForwardedFor, "203.0.113.9")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got != netip.MustParseAddr("203.0.113.9") || !inCtx {
		t.Errorf("in handler FromRequest = %v (in context %v), want 203.0.113.9", got, inCtx)
	}
	if _, ok := clientip.FromContext(req.Context()); ok {
		t.Error("middleware mutated the incoming request's context")
	}
	// Without the middleware, FromRequest never reads the header.
	if got := clientip.FromRequest(req); got != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("FromRequest without middleware = %v, want RemoteAddr 10.0.0.1", got)
	}
	if got := clientip.FromRequest(request("garbage", "")); got.IsValid() {
		t.Errorf("FromRequest(garbage RemoteAddr) = %v, want invalid", got)
	}
}

// IPv6 address rotation within one /64 must land on one key.
func TestAggregate(t *testing.T) {
	tests := []struct {
		in   string
		bits int
		want string
	}{
		{"203.0.113.9", 64, "203.0.113.9/32"},
		{"::ffff:203.0.113.9", 64, "203.0.113.9/32"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", 0, "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", 64, "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", 56, "2001:db8:1::/56"},
		{"2001:db8:1:2:ffff::1", 128, "2001:db8:1:2:ffff::1/128"},
		{"fe80::1%eth0", 64, "fe80::/64"},
		{"2001:db8::1", 200, "2001:db8::/64"},
	}
	for _, tc := range tests {
		if got := clientip.Aggregate(netip.MustParseAddr(tc.in), tc.bits); got != netip.MustParsePrefix(tc.want) {
			t.Errorf("Aggregate(%s, %d) = %v, want %s", tc.in, tc.bits, got, tc.want)
		}
	}
	if got := clientip.Aggregate(netip.Addr{}, 64); got.IsValid() {
		t.Errorf("Aggregate(invalid) = %v, want invalid", got)
	}
}

func TestTrusted(t *testing.T) {
	tr, err := clientip.NewTrusted([]netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")})
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Contains(netip.MustParseAddr("10.1.2.3")) || !tr.PeerTrusted(request("[::ffff:10.1.2.3]:80", "")) {
		t.Error("IPv4-mapped prefix did not trust its IPv4 addresses")
	}
	if tr.PeerTrusted(request("nonsense", "")) || tr.Contains(netip.MustParseAddr("11.0.0.1")) {
		t.Error("trusted an address outside the set")
	}
	var zero clientip.Trusted
	if !zero.Empty() || zero.Contains(netip.MustParseAddr("10.0.0.1")) {
		t.Error("zero Trusted must trust no one")
	}
}

func TestResolveAllocs(t *testing.T) {
	res := mustNew(t, clientip.Config{Header: clientip.XForwardedFor, TrustedProxies: proxies})
	req := request("10.0.0.1:5000", clientip.XForwardedFor, "203.0.113.9, 10.0.0.3, 10.0.0.2")
	fwd := mustNew(t, clientip.Config{Header: clientip.Forwarded, TrustedProxies: proxies})
	freq := request("10.0.0.1:5000", clientip.Forwarded, `for=203.0.113.9, for="10.0.0.3:80", for=10.0.0.2;proto=https`)
	for name, f := range map[string]func(){
		"X-Forwarded-For": func() { _, _ = res.Resolve(req) },
		"Forwarded":       func() { _, _ = fwd.Resolve(freq) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: Resolve through 3 trusted hops allocates %v times, want 0", name, n)
		}
	}
}
