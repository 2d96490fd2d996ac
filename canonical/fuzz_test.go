package canonical_test

import (
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/canonical"
)

// FuzzPath holds the canonical form to its promises for any input: it is a
// fixed point, it decodes (in Go's own parser) to the decoded form, it
// never holds a dot-segment, a backslash, a NUL or an empty segment, and it
// never climbs above the root.
func FuzzPath(f *testing.F) {
	for _, tc := range pathCases {
		f.Add(tc.in)
	}
	for _, s := range []string{"/a/b/../../..", "/%2e/%2E%2e/", "/;/..;/", "//..//", "/a%25%25/b"} {
		f.Add(s)
	}
	c := mustNew(f, canonical.Config{})
	f.Fuzz(func(t *testing.T, in string) {
		esc, dec, err := c.Path(in)
		if err != nil {
			return
		}
		if e2, d2, err := c.Path(esc); err != nil || e2 != esc || d2 != dec {
			t.Fatalf("Path(%q) = %q; Path(%q) = %q, %q, %v: not idempotent", in, esc, esc, e2, d2, err)
		}
		if u, err := url.PathUnescape(esc); err != nil || u != dec {
			t.Fatalf("Path(%q) = %q, which decodes to %q (%v), not %q", in, esc, u, err, dec)
		}
		if !strings.HasPrefix(esc, "/") || !strings.HasPrefix(dec, "/") {
			t.Fatalf("Path(%q) = %q, %q: not absolute", in, esc, dec)
		}
		for _, p := range []string{esc, dec} {
			for _, bad := range []string{"/./", "/../", "\\", "\x00", "//"} {
				if strings.Contains(p, bad) {
					t.Fatalf("Path(%q) = %q, which contains %q", in, p, bad)
				}
			}
			if strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..") {
				t.Fatalf("Path(%q) = %q, which ends in a dot-segment", in, p)
			}
		}
		// For input without escapes, the result is what path.Clean makes
		// of it (up to the trailing slash, which RFC 3986 keeps), and it
		// was accepted only if no ".." climbed above the root.
		if strings.IndexFunc(in, func(r rune) bool { return r == '%' || r < 0x21 || r > 0x7e }) < 0 {
			if strings.TrimSuffix(dec, "/") != strings.TrimSuffix(path.Clean(in), "/") {
				t.Fatalf("Path(%q) = %q; path.Clean gives %q", in, dec, path.Clean(in))
			}
			if climbs(in) {
				t.Fatalf("Path(%q) = %q, but the input climbs above the root", in, dec)
			}
		}
	})
}

// climbs reports whether resolving p's dot-segments goes above the root.
func climbs(p string) bool {
	depth := 0
	for _, seg := range strings.Split(p, "/")[1:] {
		switch seg {
		case "..":
			if depth == 0 {
				return true
			}
			depth--
		case ".", "":
		default:
			depth++
		}
	}
	return false
}
