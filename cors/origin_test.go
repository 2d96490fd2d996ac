package cors_test

import (
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/cors"
)

var allowList = []string{
	"https://app.example.com",
	"https://*.example.net",
	"https://*.example.org:8443",
	"http://localhost:5173",
	"https://[2001:db8::1]",
}

// bypassTests are origins checked against allowList: each bypass named,
// next to the legitimate origins it must not break. They also seed
// FuzzOriginPattern.
var bypassTests = []struct {
	name   string
	origin string
	want   bool
}{
	{"listed origin", "https://app.example.com", true},
	{"listed IPv6 origin", "https://[2001:db8::1]", true},
	{"listed loopback origin", "http://localhost:5173", true},
	{"wildcard one level", "https://a.example.net", true},
	{"wildcard any depth", "https://a.b.c.example.net", true},
	{"wildcard with its port", "https://a.example.org:8443", true},
	{"wildcard label with digits, hyphen, underscore", "https://a-1_b.example.net", true},

	{"null origin", "null", false},
	{"empty origin", "", false},
	{"suffix trick: registered look-alike", "https://evil-app.example.com", false},
	{"suffix trick: sibling subdomain", "https://evilapp.example.com", false},
	{"suffix trick: hyphenated apex", "https://evil-example.net", false},
	{"prefix trick: attacker domain after listed host", "https://app.example.com.evil.net", false},
	{"prefix trick: wildcard domain as subdomain of attacker", "https://a.example.net.evil.com", false},
	{"wildcard never matches the apex", "https://example.net", false},
	{"wildcard empty label", "https://.example.net", false},
	{"wildcard double dot", "https://a..example.net", false},
	{"wildcard with path injected", "https://evil.com/.example.net", false},
	{"wildcard with userinfo injected", "https://evil.com@a.example.net", false},
	{"wildcard with port injected", "https://evil.com:1.example.net", false},
	{"scheme downgrade exact", "http://app.example.com", false},
	{"scheme downgrade wildcard", "http://a.example.net", false},
	{"scheme upgrade", "https://localhost:5173", false},
	{"trailing-dot host", "https://app.example.com.", false},
	{"trailing-dot wildcard host", "https://a.example.net.", false},
	{"unexpected port", "https://app.example.com:8443", false},
	{"unexpected port on wildcard", "https://a.example.net:8443", false},
	{"default port spelled out", "https://app.example.com:443", false},
	{"missing port on wildcard", "https://a.example.org", false},
	{"upper-case host", "https://APP.example.com", false},
	{"upper-case scheme", "HTTPS://app.example.com", false},
	{"upper-case wildcard label", "https://A.example.net", false},
	{"trailing slash", "https://app.example.com/", false},
	{"leading space", " https://app.example.com", false},
	{"NUL byte", "https://app.example.com\x00", false},
	{"IPv6 spelled differently", "https://[2001:0db8::1]", false},
}

// TestAllowsBypasses shows each origin-matching bypass refused.
func TestAllowsBypasses(t *testing.T) {
	c, err := cors.New(cors.Config{Origins: allowList})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range bypassTests {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.Allows(tc.origin); got != tc.want {
				t.Errorf("Allows(%q) = %v, want %v", tc.origin, got, tc.want)
			}
		})
	}
}

// TestAllowsLongList covers the map lookup used for long allow-lists.
func TestAllowsLongList(t *testing.T) {
	var list []string
	for _, h := range strings.Fields("a b c d e f g h i j k l") {
		list = append(list, "https://"+h+".example.com")
	}
	c, err := cors.New(cors.Config{Origins: list})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range list {
		if !c.Allows(o) {
			t.Errorf("Allows(%q) = false, want true", o)
		}
	}
	for _, o := range []string{"https://m.example.com", "https://A.example.com", "https://example.com"} {
		if c.Allows(o) {
			t.Errorf("Allows(%q) = true, want false", o)
		}
	}
}

// FuzzOriginPattern feeds arbitrary patterns and origins to New and Allows.
// New must never panic; an accepted pattern must match itself (when exact)
// and Allows must never accept an origin a browser could not have sent for
// the pattern: one that is not lower-case, has a path, userinfo, a different
// scheme, or does not end in the pattern's host and port.
func FuzzOriginPattern(f *testing.F) {
	seeds := [][2]string{
		{"https://app.example.com", "https://app.example.com"},
		{"https://*.example.com", "https://a.b.example.com"},
		{"https://*.example.com", "https://evil-example.com"},
		{"https://*.example.com", "https://example.com.evil.net"},
		{"https://*.example.com:8443", "https://a.example.com:8443"},
		{"https://*.com", "https://a.com"},
		{"https://*.co.uk", "https://a.co.uk"},
		{"h*", "https://anything"},
		{"null", "null"},
		{"http://[::1]:3000", "http://[::1]:3000"},
		{"https://example.com.", "https://example.com."},
		{"https://Example.com", "https://example.com"},
		{"https://user@example.com", "https://example.com"},
		{"https://example.com/path", "https://example.com"},
		{"https://example.com:0443", "https://example.com:443"},
		{"https://*.example.com", "https://A.example.com"},
		{"https://*.example.com", "https://evil.com/.example.com"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	for _, tc := range bypassTests {
		for _, p := range allowList {
			f.Add(p, tc.origin)
		}
	}
	for _, tc := range rejectTests {
		for _, o := range tc.cfg.Origins {
			f.Add(o, o)
		}
	}
	f.Fuzz(func(t *testing.T, pat, origin string) {
		c, err := cors.New(cors.Config{Origins: []string{pat}})
		if err != nil {
			if c != nil {
				t.Fatalf("New(%q) returned a policy and an error", pat)
			}
			return
		}
		_, authority, ok := strings.Cut(pat, "://")
		if !ok || strings.ContainsAny(authority, "/?#@\\ \t%") {
			t.Fatalf("New(%q) accepted a pattern with a path or userinfo", pat)
		}
		if pat == "null" || strings.ToLower(pat) != pat {
			t.Fatalf("New(%q) accepted a pattern no browser sends", pat)
		}
		wild := strings.Contains(pat, "*")
		if !wild && !c.Allows(pat) {
			t.Fatalf("New(%q): Allows(itself) = false", pat)
		}
		if !c.Allows(origin) {
			return
		}
		if !wild {
			if origin != pat {
				t.Fatalf("pattern %q allowed different origin %q", pat, origin)
			}
			return
		}
		scheme, rest, _ := strings.Cut(pat, "://")
		suffix := strings.TrimPrefix(rest, "*")
		if !strings.HasPrefix(origin, scheme+"://") || !strings.HasSuffix(origin, suffix) {
			t.Fatalf("pattern %q allowed %q: wrong scheme or host", pat, origin)
		}
		sub := strings.TrimSuffix(strings.TrimPrefix(origin, scheme+"://"), suffix)
		if sub == "" || strings.ToLower(origin) != origin || strings.ContainsAny(sub, ":/@?#\\ ") || strings.HasSuffix(sub, ".") {
			t.Fatalf("pattern %q allowed %q: bad subdomain %q", pat, origin, sub)
		}
	})
}
