package headers_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/bulwark-go/bulwark/headers"
)

// cspCases are shared with FuzzParseCSP as its seed corpus.
var cspCases = []struct {
	in   string
	want string // canonical form; "" when ParseCSP must refuse
}{
	{"default-src 'none'; frame-ancestors 'none'", "default-src 'none'; frame-ancestors 'none'"},
	{"  DEFAULT-SRC   'SELF'  ;;  img-src 'self' data: https://*.cdn.example.com:443/img/ ;", "default-src 'self'; img-src 'self' data: https://*.cdn.example.com:443/img/"},
	{"script-src 'nonce' 'strict-dynamic'; object-src 'none'; base-uri 'none'", "script-src 'nonce' 'strict-dynamic'; object-src 'none'; base-uri 'none'"},
	{"script-src 'NONCE-abcdefghijklmnop123=' 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='", "script-src 'nonce-abcdefghijklmnop123=' 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"},
	{"upgrade-insecure-requests; default-src https:", "upgrade-insecure-requests; default-src https:"},
	{"sandbox; report-uri /csp https://r.example/x; report-to csp-endpoint", "sandbox; report-uri /csp https://r.example/x; report-to csp-endpoint"},
	{"connect-src * wss://ws.example.com:*", "connect-src * wss://ws.example.com:*"},
	{"require-trusted-types-for 'script'; trusted-types default", "require-trusted-types-for 'script'; trusted-types default"},
	{"", ""},
	{"default-src self", ""},                  // unquoted keyword
	{"script-src 'self' unsafe-inline", ""},   // unquoted keyword
	{"defualt-src 'self'", ""},                // typo
	{"default-src 'self'; default-src *", ""}, // repeated
	{"default-src 'none' 'self'", ""},         // 'none' with others
	{"default-src", ""},                       // empty list
	{"frame-ancestors 'unsafe-inline'", ""},   // not for frame-ancestors
	{"script-src 'nonce-short'", ""},          // weak nonce
	{"script-src 'sha1-abc='", ""},            // unknown hash
	{"script-src 'unsafe-everything'", ""},    // unknown keyword
	{"script-src 'self", ""},                  // unterminated quote
	{"img-src https://a,b.example", ""},       // comma
	{"img-src exa\x01mple.com", ""},           // control character
	{"img-src ex\u00e4mple.com", ""},          // non-ASCII
	{"upgrade-insecure-requests 1", ""},       // takes no value
	{"report-uri", ""},                        // needs a URI
	{"img-src https://", ""},                  // empty host
	{"img-src https://a..b", ""},              // empty label
	{"img-src http://a.example:x", ""},        // bad port
	{"default_src 'self'", ""},                // bad name
	{"img-src *.", ""},                        // empty wildcard suffix
}

func TestParseCSP(t *testing.T) {
	for _, tc := range cspCases {
		t.Run(tc.in, func(t *testing.T) {
			c, err := headers.ParseCSP(tc.in)
			if tc.want == "" && tc.in != "" {
				var ce *headers.CSPError
				if err == nil || !errors.Is(err, headers.ErrInvalidCSP) || !errors.As(err, &ce) {
					t.Fatalf("ParseCSP(%q) = %q, %v; want a *CSPError", tc.in, c, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCSP(%q) = %v", tc.in, err)
			}
			if got := c.String(); got != tc.want {
				t.Errorf("ParseCSP(%q).String() = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestCSPBuilder(t *testing.T) {
	var b headers.CSPBuilder
	b.Set(headers.DefaultSrc, headers.Self).
		Set(headers.ScriptSrc, headers.Self, headers.NonceSource).
		Set(headers.ImgSrc, headers.Self, "https://img.example.com").
		Set(headers.DefaultSrc, headers.None). // replaces, keeps position
		Set(headers.FrameAncestors, headers.None)
	c, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	want := "default-src 'none'; script-src 'self' 'nonce'; img-src 'self' https://img.example.com; frame-ancestors 'none'"
	if c.String() != want {
		t.Errorf("Build().String() = %q, want %q", c, want)
	}
	if v, ok := c.Lookup(headers.ScriptSrc); !ok || !slices.Equal(v, []headers.CSPSource{headers.Self, headers.NonceSource}) {
		t.Errorf("Lookup(script-src) = %v, %v", v, ok)
	}
	if _, ok := c.Lookup(headers.StyleSrc); ok {
		t.Error("Lookup(style-src) found a directive that is not there")
	}
	ds := c.Directives()
	ds[0].Values[0] = headers.UnsafeInline
	if c.String() != want {
		t.Error("Directives() exposed the policy's storage")
	}

	var bad headers.CSPBuilder
	bad.Set(headers.ScriptSrc, "self")
	if _, err := bad.Build(); !errors.Is(err, headers.ErrInvalidCSP) {
		t.Errorf("Build() with unquoted self = %v, want ErrInvalidCSP", err)
	}
	var typo headers.CSPBuilder
	typo.Set("script-sr", headers.Self)
	if _, err := typo.Build(); !errors.Is(err, headers.ErrInvalidCSP) {
		t.Errorf("Build() with unknown directive = %v, want ErrInvalidCSP", err)
	}
}
