package ratelimit_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/ratelimit"
)

// FuzzKeyConstruction builds composite keys from arbitrary header values,
// identities and addresses. It checks that construction never panics, is
// deterministic, and that the length prefixes keep part boundaries: moving
// bytes from one part to the next changes the key.
func FuzzKeyConstruction(f *testing.F) {
	seeds := []struct{ a, b, remote string }{
		{"tenant", "alice", "192.0.2.1:1"},
		{"", "", "[2001:db8::1]:443"},
		{"ab", "c", "not an address"},
		{strings.Repeat("x", 65), strings.Repeat("y", 300), "10.0.0.1:80"},
		{"\x00\x01", "\xff", "[::ffff:192.0.2.1]:9"},
	}
	for _, s := range seeds {
		f.Add(s.a, s.b, s.remote)
	}
	sk := ratelimit.NewSipKey(1, 2)
	id := ratelimit.IdentityFunc(func(r *http.Request) (string, bool) {
		v := r.Header.Get("X-Id")
		return v, v != ""
	})
	parts := []ratelimit.KeyPart{ratelimit.Header("X-A"), ratelimit.Principal(id), ratelimit.ClientIP()}
	build := func(a, b, remote string) (uint64, bool) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		r.Header["X-A"] = []string{a}
		if b != "" {
			r.Header["X-Id"] = []string{b}
		}
		k, missing := ratelimit.SubjectKey(sk, parts, r)
		return k, missing == nil
	}
	f.Fuzz(func(t *testing.T, a, b, remote string) {
		k1, ok1 := build(a, b, remote)
		k2, ok2 := build(a, b, remote)
		if k1 != k2 || ok1 != ok2 {
			t.Fatalf("key construction is not deterministic: %x %v / %x %v", k1, ok1, k2, ok2)
		}
		if !ok1 || len(a) == 0 {
			return
		}
		// Shift the last byte of a onto b: a different split of the same
		// bytes must be a different key.
		if k3, ok3 := build(a[:len(a)-1], a[len(a)-1:]+b, remote); ok3 && k3 == k1 {
			t.Fatalf("parts (%q,%q) and (%q,%q) collide", a, b, a[:len(a)-1], a[len(a)-1:]+b)
		}
	})
}

// FuzzHeaderFormatting formats RateLimit-Policy and RateLimit members from
// arbitrary names and numbers and parses them back with a strict RFC 9651
// list parser (test-only): the output is always one valid member whose
// String round-trips the printable part of the name.
func FuzzHeaderFormatting(f *testing.F) {
	f.Add("burst", int64(100), int64(60), int64(50), int64(30*time.Second))
	f.Add(`we"ird\name`, int64(1), int64(1), int64(-5), int64(-1))
	f.Add("\x00\x7f\xff", int64(1<<62), int64(86400), int64(0), int64(1))
	f.Fuzz(func(t *testing.T, name string, q, w, r, reset int64) {
		if q < 0 || w < 0 {
			return // New never produces negative quotas or windows
		}
		var want strings.Builder
		for i := 0; i < len(name); i++ {
			if c := name[i]; c >= 0x20 && c <= 0x7e {
				want.WriteByte(c)
			}
		}
		for _, item := range []string{
			string(ratelimit.AppendPolicyItem(nil, name, q, w)),
			string(ratelimit.AppendLimitItem(nil, name, r, time.Duration(reset))),
		} {
			s, params, err := parseSFItem(item)
			if err != nil {
				t.Fatalf("%q: %v", item, err)
			}
			if s != want.String() {
				t.Fatalf("%q: name %q, want %q", item, s, want.String())
			}
			for k, v := range params {
				if v < 0 {
					t.Fatalf("%q: parameter %s=%d is negative", item, k, v)
				}
			}
		}
	})
}

// parseSFItem parses `"string";k=int;k=int` strictly per RFC 9651.
func parseSFItem(s string) (string, map[string]int64, error) {
	if len(s) < 2 || s[0] != '"' {
		return "", nil, errSF("no opening quote")
	}
	var b strings.Builder
	i := 1
	for ; i < len(s); i++ {
		c := s[i]
		if c == '\\' {
			i++
			if i >= len(s) || (s[i] != '"' && s[i] != '\\') {
				return "", nil, errSF("bad escape")
			}
			b.WriteByte(s[i])
			continue
		}
		if c == '"' {
			break
		}
		if c < 0x20 || c > 0x7e {
			return "", nil, errSF("non-printable in string")
		}
		b.WriteByte(c)
	}
	if i >= len(s) {
		return "", nil, errSF("unterminated string")
	}
	params := map[string]int64{}
	rest := s[i+1:]
	for rest != "" {
		if rest[0] != ';' {
			return "", nil, errSF("expected ;")
		}
		rest = rest[1:]
		eq := strings.IndexByte(rest, '=')
		if eq < 1 {
			return "", nil, errSF("bad parameter")
		}
		key := rest[:eq]
		for j := 0; j < len(key); j++ {
			if c := key[j]; !(c >= 'a' && c <= 'z') {
				return "", nil, errSF("bad key")
			}
		}
		rest = rest[eq+1:]
		end := strings.IndexByte(rest, ';')
		if end < 0 {
			end = len(rest)
		}
		num := rest[:end]
		if len(num) == 0 || len(num) > 15 {
			return "", nil, errSF("bad integer")
		}
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil || num[0] == '+' {
			return "", nil, errSF("bad integer")
		}
		params[key] = v
		rest = rest[end:]
	}
	return b.String(), params, nil
}

type errSF string

func (e errSF) Error() string { return "structured field: " + string(e) }

// FuzzSipSumIP holds the straight-line hash of a ClientIP key to the
// streaming hash of the same 18 bytes.
func FuzzSipSumIP(f *testing.F) {
	f.Add(uint64(1), uint64(2), byte(1), []byte("0123456789abcdef"), byte(0xa0))
	f.Add(uint64(0), uint64(0), byte(0), make([]byte, 16), byte(0))
	f.Fuzz(func(t *testing.T, k0, k1 uint64, c byte, addr []byte, bits byte) {
		if len(addr) < 16 {
			return
		}
		a16 := [16]byte(addr[:16])
		if got, want := ratelimit.SipSumIP(k0, k1, c, a16, bits), ratelimit.SipSumIPStream(k0, k1, c, a16, bits); got != want {
			t.Fatalf("sumIP = %#x, stream = %#x", got, want)
		}
	})
}
